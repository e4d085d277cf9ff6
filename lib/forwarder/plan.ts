import { compress } from "../codec/snappy";
import { WireError } from "../codec/wire";
import { type ConversionCounts, convertV2ToV1, splitV1 } from "./convert";
import {
  type CheckedRecord,
  checkRecord,
  type ForwardRecord,
  type GoodRecord,
  type PoisonRecord,
  type Version,
} from "./records";

/** A record inside a request: its uncompressed body in the request's version. */
export interface UnitRecord {
  readonly record: ForwardRecord;
  readonly body: Uint8Array;
  /** Set when the record is a v2 record rewritten as 1.0: what the conversion carried and dropped. */
  readonly converted?: ConversionCounts;
}

/**
 * One request to the destination: one record as is, adjacent v1 (or converted) records
 * merged, or one part of a converted record too large for one request.
 */
export interface SendUnit {
  readonly kind: "send";
  /** The version of the request on the wire. */
  readonly version: Version;
  readonly records: readonly UnitRecord[];
  /** Index of the unit's first record in the batch's checked records (where a new plan resumes). */
  readonly from?: number;
  /** A part of one converted record: its compressed body, and which part of how many. */
  readonly part?: { readonly data: Uint8Array; readonly index: number; readonly of: number };
}

/** A record that cannot be delivered, dead-lettered in its place in the order. */
export interface PoisonUnit {
  readonly kind: "poison";
  readonly poison: PoisonRecord;
  readonly from?: number;
}

export type Unit = SendUnit | PoisonUnit;

/** A batch after decoding and dropping duplicates: what plans are made from. */
export interface CheckedBatch {
  readonly items: readonly CheckedRecord[];
  /** Records dropped because a record with the same id came earlier in the batch. */
  readonly duplicates: readonly ForwardRecord[];
}

export interface Plan {
  readonly units: readonly Unit[];
  readonly duplicates: readonly ForwardRecord[];
}

/** Decodes every record of a batch (records of one shard, in order) and drops repeated ids. */
export function checkBatch(records: readonly ForwardRecord[]): CheckedBatch {
  const items: CheckedRecord[] = [];
  const duplicates: ForwardRecord[] = [];
  const seen = new Set<string>();
  for (const record of records) {
    const checked = checkRecord(record);
    if (checked.ok) {
      if (seen.has(checked.key.id)) {
        duplicates.push(record);
        continue;
      }
      seen.add(checked.key.id);
    }
    items.push(checked);
  }
  return { items, duplicates };
}

/**
 * Turns checked records into requests, keeping the order. Adjacent v1 records of the same
 * tenant are merged while their uncompressed bodies together stay within `maxRequestBytes`
 * (a concatenation of WriteRequests is a WriteRequest). v2 records, which carry their own
 * symbol tables, go one per request as they are when `v2As` is `v2`; when it is `v1` they are
 * rewritten as 1.0 and then merge like v1 records, and one whose 1.0 form exceeds
 * `maxRequestBytes` is cut between series into several requests. `from` offsets the units'
 * positions (a plan made again for the rest of a batch).
 */
export function groupUnits(
  items: readonly CheckedRecord[],
  maxRequestBytes: number,
  v2As: Version,
  from = 0,
): Unit[] {
  const units: Unit[] = [];
  let open: { records: UnitRecord[]; bytes: number; tenant: string | undefined; from: number } | undefined;
  const close = () => {
    if (open !== undefined)
      units.push({ kind: "send", version: "v1", records: open.records, from: open.from });
    open = undefined;
  };
  for (let i = 0; i < items.length; i++) {
    const checked = items[i]!;
    const at = from + i;
    if (!checked.ok) {
      close();
      units.push({ kind: "poison", poison: checked, from: at });
      continue;
    }
    let entry: UnitRecord = checked;
    if (checked.version === "v2") {
      if (v2As === "v2") {
        close();
        units.push({ kind: "send", version: "v2", records: [checked], from: at });
        continue;
      }
      const converted = convert(checked);
      if (!converted.ok) {
        close();
        units.push({ kind: "poison", poison: converted, from: at });
        continue;
      }
      if (converted.parts !== undefined) {
        close();
        const of = converted.parts.length;
        converted.parts.forEach((body, index) => {
          units.push({
            kind: "send",
            version: "v1",
            // the conversion's counts travel with the first part only, so they are counted once
            records: [index === 0 ? converted.entry : { record: checked.record, body }],
            from: at,
            part: { data: compress(body), index, of },
          });
        });
        continue;
      }
      entry = converted.entry;
    }
    const size = entry.body.length;
    const tenant = checked.key.tenant;
    if (open !== undefined && (open.tenant !== tenant || open.bytes + size > maxRequestBytes)) close();
    if (open === undefined) open = { records: [], bytes: 0, tenant, from: at };
    open.records.push(entry);
    open.bytes += size;
  }
  close();
  return units;

  function convert(
    good: GoodRecord,
  ): { ok: true; entry: UnitRecord; parts?: Uint8Array[] } | (PoisonRecord & { ok: false }) {
    try {
      const conversion = convertV2ToV1(good.body);
      const entry = { record: good.record, body: conversion.body, converted: conversion.counts };
      if (conversion.body.length <= maxRequestBytes) return { ok: true, entry };
      return { ok: true, entry, parts: splitV1(conversion, maxRequestBytes) };
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      return {
        ok: false,
        record: good.record,
        reason: "message-invalid",
        detail: `not a Remote-Write v2 message: ${err.message}`,
      };
    }
  }
}

/**
 * Turns a batch into requests (see groupUnits): records whose id came earlier in the batch
 * are dropped, v2 records go as `v2As` (default as they are).
 */
export function planBatch(
  records: readonly ForwardRecord[],
  maxRequestBytes: number,
  v2As: Version = "v2",
): Plan {
  const checked = checkBatch(records);
  return { units: groupUnits(checked.items, maxRequestBytes, v2As), duplicates: checked.duplicates };
}

/**
 * The snappy body of a unit: a single record's data untouched when it goes in its own
 * version, a part as cut, converted or merged bodies compressed again.
 */
export function unitBody(unit: SendUnit): Uint8Array {
  if (unit.part !== undefined) return unit.part.data;
  const first = unit.records[0]!;
  if (unit.records.length === 1 && first.converted === undefined) return first.record.data;
  if (unit.records.length === 1) return compress(first.body);
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
