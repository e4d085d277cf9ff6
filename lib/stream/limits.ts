import type { StreamRecord } from "./records";

/**
 * What Kinesis Data Streams takes: a record's data plus partition key within the stream's
 * record limit, partition keys of 1 to 256 characters, hash keys in 0 … 2^128 − 1, and per
 * PutRecords call at most 500 records and 5 MiB. AWS refuses a call that breaks any of
 * these as a whole (HTTP 400 `ValidationException`), so nothing that breaks them is sent.
 */

/** Records per PutRecords call. */
export const MAX_RECORDS_PER_CALL = 500;
/** Bytes (data plus partition keys) per PutRecords call. */
export const MAX_BYTES_PER_CALL = 5 * 1024 * 1024;
/** The longest partition key, in characters. */
export const MAX_PARTITION_KEY_LENGTH = 256;
/** Kinesis's default record limit, data plus partition key; a stream may be raised to 10 MiB. */
export const DEFAULT_MAX_RECORD_BYTES = 1024 * 1024;
export const LARGEST_MAX_RECORD_BYTES = 10 * 1024 * 1024;

const HASH_KEY = /^(0|[1-9]\d{0,38})$/;
/** 2^128 − 1: only a 39-digit key can pass it, and digit strings of one length compare as numbers. */
const HASH_KEY_MAX = ((1n << 128n) - 1n).toString();

/** Why Kinesis would refuse this record whatever the moment, or undefined when it fits. */
export function recordLimitBroken(record: StreamRecord, maxRecordBytes: number): string | undefined {
  const key = record.partitionKey;
  if (key.length === 0 || key.length > MAX_PARTITION_KEY_LENGTH) return "partition-key-length";
  if (record.data.length + Buffer.byteLength(key) > maxRecordBytes) return "record-too-large";
  const hash = record.explicitHashKey;
  if (
    hash !== undefined &&
    hash !== "" &&
    (!HASH_KEY.test(hash) || (hash.length === HASH_KEY_MAX.length && hash > HASH_KEY_MAX))
  ) {
    return "explicit-hash-key-invalid";
  }
  return undefined;
}
