import type { StreamRecord } from "../stream/records";

/**
 * Where prepared records go. Resolves only when every record was accepted; otherwise
 * rejects with a StreamWriteError (./errors) saying how many were not, and when to retry.
 */
export interface RecordSink {
  put(records: readonly StreamRecord[]): Promise<void>;
}
