import type { Logger } from "../core/log";
import { METRIC_NAMES } from "../core/metric-names";
import type { Metrics } from "../core/metrics";
import { StreamWriteError } from "../ingest/errors";
import type { RecordSink } from "../ingest/sink";
import type { StreamRecord } from "../stream/records";
import type { PutRecordsEntry, RecordPutter } from "./kinesis-records";

export type { RecordSink } from "../ingest/sink";
export type {
  PutRecordsEntry,
  PutRecordsResult,
  PutRecordsResultEntry,
  RecordPutter,
} from "./kinesis-records";

export interface KinesisSinkOptions {
  readonly streamName: string;
  /** PutRecords calls in flight at once. */
  readonly concurrency: number;
  /** Time budget for one put() including retries; keep it below the function timeout. */
  readonly deadlineMs: number;
  /** Retry-After (seconds) asked of the sender when the budget runs out (answered as 503). */
  readonly retryAfterSeconds: number;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
}

/** Kinesis limits per PutRecords call. */
export const MAX_RECORDS_PER_CALL = 500;
export const MAX_BYTES_PER_CALL = 5 * 1024 * 1024;

/** Errors after which a retry cannot help (the stream or the permissions are wrong). */
const FATAL_ERRORS = new Set([
  "ResourceNotFoundException",
  "AccessDeniedException",
  "ValidationException",
  "InvalidArgumentException",
  "KMSAccessDeniedException",
  "KMSDisabledException",
  "KMSNotFoundException",
  "KMSInvalidStateException",
  "UnrecognizedClientException",
]);

const THROTTLES = new Set([
  "ProvisionedThroughputExceededException",
  "LimitExceededException",
  "KMSThrottlingException",
]);

/** Splits records into PutRecords batches within the count and size limits, in order. */
export function batchRecords(records: readonly StreamRecord[]): StreamRecord[][] {
  const batches: StreamRecord[][] = [];
  let batch: StreamRecord[] = [];
  let bytes = 0;
  for (const record of records) {
    const size = record.data.length + Buffer.byteLength(record.partitionKey);
    if (batch.length > 0 && (batch.length === MAX_RECORDS_PER_CALL || bytes + size > MAX_BYTES_PER_CALL)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(record);
    bytes += size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/**
 * Writes records with PutRecords: bounded parallel calls; on a partial failure only the
 * failed entries are sent again, after exponential backoff with full jitter; all within a
 * deadline. If anything is still unwritten then, put() throws a 503 with Retry-After, so
 * the sender retries the whole request (records are deterministic: resends are duplicates
 * a consumer can recognise by partition key).
 */
export class KinesisSink implements RecordSink {
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(
    private readonly client: RecordPutter,
    private readonly opts: KinesisSinkOptions,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
    private readonly random: () => number = Math.random,
  ) {
    this.baseDelayMs = opts.baseDelayMs ?? 50;
    this.maxDelayMs = opts.maxDelayMs ?? 2_000;
  }

  async put(records: readonly StreamRecord[]): Promise<void> {
    if (records.length === 0) return;
    const deadline = Date.now() + this.opts.deadlineMs;
    const queue = batchRecords(records);
    const failures: string[] = [];
    let unwritten = 0;
    const worker = async () => {
      for (let batch = queue.shift(); batch !== undefined; batch = queue.shift()) {
        const left = await this.putBatch(batch, deadline);
        if (left.remaining > 0) {
          unwritten += left.remaining;
          failures.push(left.reason);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.concurrency, queue.length) }, worker));
    this.metrics.count(METRIC_NAMES.recordsWritten, records.length - unwritten);
    if (unwritten > 0) {
      this.metrics.count(METRIC_NAMES.kinesisFailedPuts, unwritten);
      this.log.warn("records not written to Kinesis", {
        unwritten,
        total: records.length,
        reason: failures[0],
      });
      throw new StreamWriteError(
        "kinesis-unavailable",
        `Kinesis did not accept ${unwritten} of ${records.length} records (${failures[0]}); retry later`,
        this.opts.retryAfterSeconds,
      );
    }
  }

  /** Sends one batch until every entry is in, a fatal error, or the deadline. */
  private async putBatch(
    batch: StreamRecord[],
    deadline: number,
  ): Promise<{ remaining: number; reason: string }> {
    let pending: readonly PutRecordsEntry[] = batch;
    let reason = "";
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) {
        const delay = this.random() * Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
        if (Date.now() + delay >= deadline) return { remaining: pending.length, reason };
        this.metrics.count(METRIC_NAMES.kinesisRetries, pending.length);
        await this.sleep(delay);
      }
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) return { remaining: pending.length, reason: reason || "deadline exceeded" };
      try {
        const out = await this.client.putRecords(
          this.opts.streamName,
          pending,
          AbortSignal.timeout(remainingMs),
        );
        if (!out.failedRecordCount) return { remaining: 0, reason: "" };
        const results = out.records;
        const retry: PutRecordsEntry[] = [];
        let throttled = 0;
        pending.forEach((entry, i) => {
          const code = results[i]?.errorCode;
          // an entry without a result is treated as failed: never assume it was written
          if (code !== undefined || results[i]?.sequenceNumber === undefined) {
            retry.push(entry);
            if (code !== undefined && THROTTLES.has(code)) throttled++;
            reason = code ?? "missing result";
          }
        });
        this.metrics.count(METRIC_NAMES.kinesisThrottled, throttled);
        pending = retry;
        if (pending.length === 0) return { remaining: 0, reason: "" };
      } catch (err) {
        const name = errorName(err);
        reason = name;
        if (THROTTLES.has(name)) this.metrics.count(METRIC_NAMES.kinesisThrottled, pending.length);
        if (FATAL_ERRORS.has(name)) {
          this.log.error("Kinesis refused the write", { error: name, stream: this.opts.streamName });
          return { remaining: pending.length, reason: name };
        }
      }
    }
  }
}

function errorName(err: unknown): string {
  if (err instanceof Error) return err.name === "Error" ? err.message.slice(0, 80) : err.name;
  return "unknown error";
}
