import { decompress } from "../codec/snappy";
import { Reader, WIRE_LEN, WireError } from "../codec/wire";
import { type PartitionKeyInfo, parsePartitionKey } from "../stream/records";

/** One stream record as the forwarder sees it, whatever delivered it (Lambda or a poller). */
export interface ForwardRecord {
  readonly data: Uint8Array;
  readonly partitionKey: string;
  readonly sequenceNumber: string;
  readonly shardId: string;
  /** The stream's ARN, when the source names it (Lambda events do). */
  readonly streamArn?: string;
  /** The stream's name (from the ARN of a Lambda event, or the poller's stream): where its shard is listed. */
  readonly streamName?: string;
}

export type Version = "v1" | "v2";

/** A record that decoded: its body, uncompressed, and what its key says. */
export interface GoodRecord {
  readonly ok: true;
  readonly record: ForwardRecord;
  readonly key: PartitionKeyInfo;
  readonly version: Version;
  readonly body: Uint8Array;
}

/** A record that can never be delivered: it goes to the dead-letter queue as is. */
export interface PoisonRecord {
  readonly ok: false;
  readonly record: ForwardRecord;
  /** A stable identifier: `partition-key-invalid`, `snappy-corrupt`, `message-invalid`… */
  readonly reason: string;
  readonly detail: string;
}

export type CheckedRecord = GoodRecord | PoisonRecord;

/** Larger than any record the gateway writes (1 MiB compressed decodes to far less). */
export const MAX_RECORD_DECODED = 64 * 1024 * 1024;

/**
 * Decompresses a record and checks that its body is a Remote-Write message of the version
 * its partition key names: a protobuf whose top-level fields are well formed and whose
 * known fields (v1: timeseries=1, metadata=3; v2: symbols=4, timeseries=5) are
 * length-delimited. Unknown fields are skipped, as any receiver would.
 */
export function checkRecord(record: ForwardRecord): CheckedRecord {
  const key = parsePartitionKey(record.partitionKey);
  if (key === undefined) {
    return poison(
      record,
      "partition-key-invalid",
      "not a gateway partition key (sf3|sf2:prw1|prw2:tenant:first-last:id, or prw1|prw2:tenant:bucket:id)",
    );
  }
  let body: Uint8Array;
  try {
    body = decompress(record.data, MAX_RECORD_DECODED);
  } catch (err) {
    const code = (err as { code?: string }).code ?? "snappy-corrupt";
    return poison(record, code, (err as Error).message);
  }
  const version: Version = key.format === "prw1" ? "v1" : "v2";
  try {
    checkMessage(body, version);
  } catch (err) {
    if (!(err instanceof WireError)) throw err;
    return poison(record, "message-invalid", `not a Remote-Write ${version} message: ${err.message}`);
  }
  return { ok: true, record, key, version, body };
}

function poison(record: ForwardRecord, reason: string, detail: string): PoisonRecord {
  return { ok: false, record, reason, detail };
}

const KNOWN_FIELDS: Record<Version, readonly number[]> = { v1: [1, 3], v2: [4, 5] };

function checkMessage(body: Uint8Array, version: Version): void {
  const known = KNOWN_FIELDS[version];
  const r = new Reader(body);
  let fields = 0;
  while (!r.done()) {
    const tag = r.tag();
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (field === 0) throw new WireError("field number 0");
    if (known.includes(field)) {
      r.expect(wireType, WIRE_LEN, `field ${field}`);
      const end = r.lengthEnd();
      fields++;
      // Each series must itself be a well-formed message.
      if (field === (version === "v1" ? 1 : 5)) {
        const inner = new Reader(body, r.pos, end);
        while (!inner.done()) inner.skip(inner.tag() & 7);
      }
      r.pos = end;
    } else {
      r.skip(wireType);
    }
  }
  if (fields === 0) throw new WireError(`none of the fields of a ${version} message`);
}
