import { compress } from "../codec/snappy";
import {
  type CheckedRecord,
  checkRecord,
  type ForwardRecord,
  type GoodRecord,
  type PoisonRecord,
  type Version,
} from "./records";

/** One request to the destination: one record as is, or adjacent v1 records merged. */
export interface SendUnit {
  readonly kind: "send";
  readonly version: Version;
  readonly records: readonly GoodRecord[];
}

/** A record that cannot be delivered, dead-lettered in its place in the order. */
export interface PoisonUnit {
  readonly kind: "poison";
  readonly poison: PoisonRecord;
}

export type Unit = SendUnit | PoisonUnit;

export interface Plan {
  readonly units: readonly Unit[];
  /** Records dropped because a record with the same id came earlier in the batch. */
  readonly duplicates: readonly ForwardRecord[];
}

/**
 * Turns a batch (records of one shard, in order) into requests, keeping the order:
 * records whose id (the SHA-256 part of the partition key) came earlier in the batch are
 * dropped; adjacent v1 records of the same tenant are merged while their uncompressed
 * bodies together stay within `maxRequestBytes` (a concatenation of WriteRequests is a
 * WriteRequest); v2 records, which carry their own symbol tables, go one per request.
 */
export function planBatch(records: readonly ForwardRecord[], maxRequestBytes: number): Plan {
  const units: Unit[] = [];
  const duplicates: ForwardRecord[] = [];
  const seen = new Set<string>();
  let open: { records: GoodRecord[]; bytes: number; tenant: string | undefined } | undefined;
  const close = () => {
    if (open !== undefined) units.push({ kind: "send", version: "v1", records: open.records });
    open = undefined;
  };
  for (const record of records) {
    const checked: CheckedRecord = checkRecord(record);
    if (!checked.ok) {
      close();
      units.push({ kind: "poison", poison: checked });
      continue;
    }
    if (seen.has(checked.key.id)) {
      duplicates.push(record);
      continue;
    }
    seen.add(checked.key.id);
    if (checked.version === "v2") {
      close();
      units.push({ kind: "send", version: "v2", records: [checked] });
      continue;
    }
    const size = checked.body.length;
    if (open !== undefined && (open.tenant !== checked.key.tenant || open.bytes + size > maxRequestBytes))
      close();
    if (open === undefined) open = { records: [], bytes: 0, tenant: checked.key.tenant };
    open.records.push(checked);
    open.bytes += size;
  }
  close();
  return { units, duplicates };
}

/** The snappy body of a unit: a single record's data untouched, merged bodies recompressed. */
export function unitBody(unit: SendUnit): Uint8Array {
  if (unit.records.length === 1) return unit.records[0]!.record.data;
  let total = 0;
  for (const r of unit.records) total += r.body.length;
  const joined = new Uint8Array(total);
  let at = 0;
  for (const r of unit.records) {
    joined.set(r.body, at);
    at += r.body.length;
  }
  return compress(joined);
}
