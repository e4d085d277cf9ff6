import type { StreamRecord } from "../stream/records";

/**
 * Where prepared records go. Resolves only when every record was accepted. Otherwise it
 * rejects, once each record is written or can no longer be written, with a StreamWriteError
 * (retry later), a RecordsRefusedError (some records can never be written; the rest were)
 * or a StreamUnusableError (the stream refuses this writer) from ./errors. A written record's
 * `shardId` is set to the shard the stream answered, when it names one.
 */
export interface RecordSink {
  /** `deadline`: epoch milliseconds by which the put is answered (else the sink's own budget). */
  put(records: readonly StreamRecord[], deadline?: number): Promise<void>;
}
