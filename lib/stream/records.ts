import { createHash } from "node:crypto";
import { compress } from "../codec/snappy";

/** Which Remote-Write message schema a record (and the request it came from) carries. */
export type ProtocolVersion = "v1" | "v2";

/** One Kinesis record, ready for PutRecords. */
export interface StreamRecord {
  readonly data: Uint8Array;
  readonly partitionKey: string;
  readonly explicitHashKey: string;
}

export const RECORD_FORMAT: Record<ProtocolVersion, string> = { v1: "prw1", v2: "prw2" };

const HASH_SPACE = 1n << 128n;

/**
 * The ExplicitHashKey of routing bucket `bucket` of `buckets`: the middle of its slice of
 * Kinesis's 128-bit hash-key space. The same bucket always maps to the same key, hence to
 * the same shard (and, after a reshard, to the child shard that covers the key).
 */
export function bucketHashKey(bucket: number, buckets: number): string {
  return ((HASH_SPACE * BigInt(2 * bucket + 1)) / BigInt(2 * buckets)).toString();
}

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
 * Compresses a record body and names it. Partition key: `<format>:<tenant>:<bucket>:<id>`,
 * where id is `recordId(body)`, so a resent request yields the same keys, whichever codec
 * compresses it, and consumers can drop the duplicates. The body may live in a scratch
 * buffer that the caller reuses for the next one: it is hashed and compressed here, not kept.
 */
export function sealRecord(
  body: Uint8Array,
  version: ProtocolVersion,
  tenant: string | undefined,
  bucket: number,
  buckets: number,
  hashKeys: readonly string[],
): StreamRecord {
  const id = recordId(body);
  const data = compress(body);
  return {
    data,
    partitionKey: `${RECORD_FORMAT[version]}:${tenant ?? ""}:${bucket}:${id}`,
    explicitHashKey: hashKeys[bucket] ?? bucketHashKey(bucket, buckets),
  };
}

/** What a partition key says, for consumers (and the tail tool). */
export interface PartitionKeyInfo {
  format: string;
  tenant: string | undefined;
  bucket: number;
  id: string;
}

export function parsePartitionKey(key: string): PartitionKeyInfo | undefined {
  const parts = key.split(":");
  if (parts.length !== 4) return undefined;
  const [format, tenant, bucket, id] = parts as [string, string, string, string];
  if (!/^prw[12]$/.test(format) || !/^\d+$/.test(bucket) || !/^[0-9a-f]{32}$/.test(id)) return undefined;
  return { format, tenant: tenant === "" ? undefined : tenant, bucket: Number(bucket), id };
}
