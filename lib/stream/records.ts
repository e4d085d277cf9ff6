import { createHash } from "node:crypto";
import { compress } from "../codec/snappy";
import type { ShardMap } from "./shard-map";

/** Which Remote-Write message schema a record (and the request it came from) carries. */
export type ProtocolVersion = "v1" | "v2";

/** One Kinesis record, ready for PutRecords. */
export interface StreamRecord {
  readonly data: Uint8Array;
  readonly partitionKey: string;
  readonly explicitHashKey: string;
  /** The shard Kinesis wrote it to, from the PutRecords answer (set by the sink once written). */
  shardId?: string;
}

export const RECORD_FORMAT: Record<ProtocolVersion, string> = { v1: "prw1", v2: "prw2" };

/** The first field of a stream-format-2 partition key. */
export const STREAM_FORMAT_TAG = "sf2";

/**
 * The largest uncompressed record body whose snappy encoding is sure to fit in
 * `maxRecordBytes` (snappy's worst case is 32 + n + n/6 bytes).
 */
export function chunkLimit(maxRecordBytes: number): number {
  return Math.floor(((maxRecordBytes - 32) * 6) / 7);
}

/**
 * The id of a record: the first 128 bits (hex) of SHA-256 over its uncompressed body. It
 * names the content, not its encoding, so every snappy codec and version gives a body the
 * same id; a consumer can check it against `decompress(data)`.
 */
export function recordId(body: Uint8Array): string {
  return createHash("sha256").update(body).digest("hex").slice(0, 32);
}

/**
 * Compresses a record body and names it. Partition key (stream format 2):
 * `sf2:<format>:<tenant>:<first>-<last>:<id>`: the slots of the record's group, 8 hex digits
 * each (the record's ExplicitHashKey is the first one's key; every series in it has a slot in
 * that range, so a consumer can tell a record that cannot hold strays of a resharding from
 * one that may), and id, `recordId(body)`,
 * so a resent request packed by the same shard map yields the same keys, whichever codec
 * compresses it, and consumers can drop the duplicates. The body may live in a scratch
 * buffer that the caller reuses for the next one: it is hashed and compressed here, not kept.
 */
export function sealRecord(
  body: Uint8Array,
  version: ProtocolVersion,
  tenant: string | undefined,
  group: number,
  map: ShardMap,
): StreamRecord {
  const id = recordId(body);
  const data = compress(body);
  return {
    data,
    partitionKey: `${STREAM_FORMAT_TAG}:${RECORD_FORMAT[version]}:${tenant ?? ""}:${map.slotLabels[group]}:${id}`,
    explicitHashKey: map.hashKeys[group]!,
  };
}

/**
 * What a partition key says, for consumers (and the tail tool). `streamFormat` 2 keys carry
 * the record's first slot; stream format 1 keys (written before 0.2.0) a routing bucket.
 */
export interface PartitionKeyInfo {
  streamFormat: 1 | 2;
  format: string;
  tenant: string | undefined;
  /** Format 2: the first slot of the record's group (its ExplicitHashKey's slot). */
  slot: number | undefined;
  /** Format 2: the last slot of the record's group: its series' slots lie in [slot, lastSlot]. */
  lastSlot: number | undefined;
  /** Format 1: the routing bucket. */
  bucket: number | undefined;
  id: string;
}

const FORMAT = /^prw[12]$/;
const ID = /^[0-9a-f]{32}$/;

export function parsePartitionKey(key: string): PartitionKeyInfo | undefined {
  const parts = key.split(":");
  if (parts.length === 5 && parts[0] === STREAM_FORMAT_TAG) {
    const [, format, tenant, slots, id] = parts as [string, string, string, string, string];
    if (!FORMAT.test(format) || !/^[0-9a-f]{8}-[0-9a-f]{8}$/.test(slots) || !ID.test(id)) return undefined;
    const slot = Number.parseInt(slots.slice(0, 8), 16);
    const lastSlot = Number.parseInt(slots.slice(9), 16);
    if (lastSlot < slot) return undefined;
    const t = tenant === "" ? undefined : tenant;
    return { streamFormat: 2, format, tenant: t, slot, lastSlot, bucket: undefined, id };
  }
  if (parts.length !== 4) return undefined;
  const [format, tenant, bucket, id] = parts as [string, string, string, string];
  if (!FORMAT.test(format) || !/^\d+$/.test(bucket) || !ID.test(id)) return undefined;
  const t = tenant === "" ? undefined : tenant;
  return {
    streamFormat: 1,
    format,
    tenant: t,
    slot: undefined,
    lastSlot: undefined,
    bucket: Number(bucket),
    id,
  };
}
