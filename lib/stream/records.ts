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

/** The stream format the gateway writes (docs/stream-format.md). */
export const STREAM_FORMAT = 3;
/** The first field of a partition key the gateway writes: its stream format. */
export const STREAM_FORMAT_TAG = "sf3";
/** The first field of the keys of the formats read besides it (format 1 keys have none). */
const FORMAT_TAGS: ReadonlyMap<string, 2 | 3> = new Map([
  ["sf2", 2],
  ["sf3", 3],
]);

/**
 * The largest uncompressed record body whose snappy encoding is sure to fit in
 * `maxRecordBytes` (snappy's worst case is 32 + n + n/6 bytes).
 */
export function chunkLimit(maxRecordBytes: number): number {
  return Math.floor(((maxRecordBytes - 32) * 6) / 7);
}

/**
 * The id of a record: the first 128 bits (hex) of SHA-256 over its data, the snappy-compressed
 * body as written to the stream. A consumer checks it against the record's data as it came.
 * The native `snappy` package (the local server) and the WebAssembly codec (the Lambda bundle)
 * encode a body to the same bytes, so both give a body the same id; the JavaScript fallback
 * codec encodes differently (docs/stream-format.md, "Partition key").
 */
export function recordId(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex").slice(0, 32);
}

/**
 * Compresses a record body and names it. Partition key (stream format 3):
 * `sf3:<format>:<tenant>:<first>-<last>:<id>`: the slots of the record's group, 8 hex digits
 * each (the record's ExplicitHashKey is the first one's key; every series in it has a slot in
 * that range, so a consumer can tell a record that cannot hold strays of a resharding from
 * one that may), and id, `recordId(data)`: the codec's output is a function of the body, so a
 * resent request packed by the same shard map yields the same keys and consumers can drop
 * the duplicates. The body may live in a scratch buffer that the caller reuses for the next
 * one: it is compressed here, not kept.
 */
export function sealRecord(
  body: Uint8Array,
  version: ProtocolVersion,
  tenant: string | undefined,
  group: number,
  map: ShardMap,
): StreamRecord {
  const data = compress(body);
  const id = recordId(data);
  return {
    data,
    partitionKey: `${STREAM_FORMAT_TAG}:${RECORD_FORMAT[version]}:${tenant ?? ""}:${map.slotLabels[group]}:${id}`,
    explicitHashKey: map.hashKeys[group]!,
  };
}

/**
 * What a partition key says, for consumers (and the tail tool). Stream format 3 and 2 keys
 * carry the record's slots (format 3 routes by the word-at-a-time hash, format 2 by FNV-1a:
 * `seriesSlotOf(streamFormat)` in ./routing); format 1 keys (development builds) a routing
 * bucket.
 */
export interface PartitionKeyInfo {
  streamFormat: 1 | 2 | 3;
  format: string;
  tenant: string | undefined;
  /** Formats 2 and 3: the first slot of the record's group (its ExplicitHashKey's slot). */
  slot: number | undefined;
  /** Formats 2 and 3: the last slot of the record's group: its series' slots lie in [slot, lastSlot]. */
  lastSlot: number | undefined;
  /** Format 1: the routing bucket. */
  bucket: number | undefined;
  id: string;
}

const FORMAT = /^prw[12]$/;
const ID = /^[0-9a-f]{32}$/;

export function parsePartitionKey(key: string): PartitionKeyInfo | undefined {
  const parts = key.split(":");
  const streamFormat = parts.length === 5 ? FORMAT_TAGS.get(parts[0]!) : undefined;
  if (streamFormat !== undefined) {
    const [, format, tenant, slots, id] = parts as [string, string, string, string, string];
    if (!FORMAT.test(format) || !/^[0-9a-f]{8}-[0-9a-f]{8}$/.test(slots) || !ID.test(id)) return undefined;
    const slot = Number.parseInt(slots.slice(0, 8), 16);
    const lastSlot = Number.parseInt(slots.slice(9), 16);
    if (lastSlot < slot) return undefined;
    const t = tenant === "" ? undefined : tenant;
    return { streamFormat, format, tenant: t, slot, lastSlot, bucket: undefined, id };
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
