import type { Logger } from "../core/log";
import { METRIC_NAMES } from "../core/metric-names";
import type { Metrics } from "../core/metrics";
import { StreamWriteError } from "../ingest/errors";
import type { RecordSink } from "../ingest/sink";
import type { StreamRecord } from "../stream/records";
import { isCredentialError } from "./aws-json";
import type { RecordPutter } from "./kinesis-records";

export type { RecordSink } from "../ingest/sink";
export type {
  PutRecordsEntry,
  PutRecordsResult,
  PutRecordsResultEntry,
  RecordPutter,
} from "./kinesis-records";

export interface KinesisSinkOptions {
  readonly streamName: string;
  /** PutRecords calls in flight at once for the whole sink (shared by concurrent puts). */
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

/**
 * Errors after which a retry cannot help: the stream or its key is wrong, and refusals of the
 * credentials (isCredentialError: expired or unknown tokens, bad signatures, access denied).
 */
const FATAL_ERRORS = new Set([
  "ResourceNotFoundException",
  "ValidationException",
  "InvalidArgumentException",
  "KMSAccessDeniedException",
  "KMSDisabledException",
  "KMSNotFoundException",
  "KMSInvalidStateException",
]);

const THROTTLES = new Set([
  "ProvisionedThroughputExceededException",
  "LimitExceededException",
  "KMSThrottlingException",
]);

/** One put() in progress: its records' fate, and how its caller is answered. */
interface Owner {
  readonly records: readonly StreamRecord[];
  readonly deadline: number;
  /** Records Kinesis confirmed. */
  written: number;
  /** The last failure seen for one of its records (for the answer). */
  reason: string;
  /** Records taken from the queue into calls so far (the rest wait, in order). */
  taken: number;
  settled: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** The entries of one PutRecords call and, index by index, whose they are. */
interface Call {
  entries: StreamRecord[];
  owners: Owner[];
}

/**
 * Writes records with PutRecords, sharing calls between concurrent put()s (group commit):
 * at most `concurrency` calls are in flight for the whole sink; a put() whose records arrive
 * while every slot is busy waits in a queue, and the next free slot takes everything queued
 * then, in arrival order, into one call (up to 500 records / 5 MiB; more goes to the next
 * free slot). Nothing waits on a timer to gather records: with a slot free, a put's records
 * go out at once (on Lambda, one request per instance, every call carries one request).
 *
 * On a partial failure only the failed entries are sent again, by the slot that sent them,
 * after exponential backoff with full jitter, in a call of their own; a fatal error fails the
 * records of that call. Each put() has its own deadline from when it was called: if any of
 * its records is still unwritten then (or cannot be written: fatal, or its next backoff
 * would outlast it), it throws a 503 with Retry-After, so the sender retries the whole
 * request (records are deterministic: resends are duplicates a consumer can recognise by
 * partition key); its records still queued are dropped, none is sent again for it.
 *
 * Order: a put's records keep their relative order in the queue and within each call; a
 * put's records split over several calls may be written in any order between the calls, and
 * a retried entry is written after the other entries of its call. A put() resolves only after
 * all its records are written, and Prometheus sends a series' next request only after the
 * previous one was answered, so per-series order across requests is kept.
 */
export class KinesisSink implements RecordSink {
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  /** Puts with records not yet taken into a call, in arrival order (from `head`). */
  private queue: Owner[] = [];
  private head = 0;
  private inFlight = 0;

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

  put(records: readonly StreamRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const owner: Owner = {
        records,
        deadline: Date.now() + this.opts.deadlineMs,
        written: 0,
        reason: "",
        taken: 0,
        settled: false,
        timer: undefined,
        resolve,
        reject,
      };
      // the deadline holds even while the records wait in the queue or ride in a call
      // shared with later puts (whose deadlines are later)
      owner.timer = setTimeout(
        () => this.fail(owner, owner.reason || "deadline exceeded"),
        this.opts.deadlineMs,
      );
      owner.timer.unref?.();
      this.queue.push(owner);
      this.pump();
    });
  }

  /** Starts calls while a slot is free and records wait. */
  private pump(): void {
    while (this.inFlight < this.opts.concurrency) {
      const call = this.take();
      if (call === undefined) return;
      this.inFlight++;
      this.send(call)
        .catch((err: unknown) => {
          // a fault of the sink itself: the puts of this call are answered, never left waiting
          this.log.error("Kinesis write failed", { error: errorName(err) });
          for (const owner of call.owners) this.fail(owner, errorName(err));
        })
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
  }

  /** The next call's entries: queued records in arrival order, within the call limits. */
  private take(): Call | undefined {
    let call: Call | undefined;
    let bytes = 0;
    while (this.head < this.queue.length) {
      const owner = this.queue[this.head]!;
      if (!owner.settled) {
        const { records } = owner;
        while (owner.taken < records.length) {
          const record = records[owner.taken]!;
          const size = record.data.length + Buffer.byteLength(record.partitionKey);
          if (call === undefined) call = { entries: [], owners: [] };
          else if (call.entries.length === MAX_RECORDS_PER_CALL || bytes + size > MAX_BYTES_PER_CALL) {
            // under steady load the queue may never drain: drop the passed owners now and then
            if (this.head > 1024) {
              this.queue = this.queue.slice(this.head);
              this.head = 0;
            }
            return call;
          }
          call.entries.push(record);
          call.owners.push(owner);
          bytes += size;
          owner.taken++;
        }
      }
      this.queue[this.head++] = undefined as unknown as Owner;
    }
    this.queue.length = 0;
    this.head = 0;
    return call;
  }

  /** Sends one call's entries until each is in, fatally refused, or its owner gave up. */
  private async send(call: Call): Promise<void> {
    let { entries, owners } = call;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) {
        const delay = this.random() * Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
        const until = Date.now() + delay;
        // an owner whose deadline comes before the retry gives up now, as a whole
        for (const owner of owners) if (owner.deadline <= until) this.fail(owner, owner.reason);
        ({ entries, owners } = live(entries, owners));
        if (entries.length === 0) return;
        this.metrics.count(METRIC_NAMES.kinesisRetries, entries.length);
        await this.sleep(delay);
        ({ entries, owners } = live(entries, owners));
        if (entries.length === 0) return;
      }
      let deadline = 0;
      for (const owner of owners) if (owner.deadline > deadline) deadline = owner.deadline;
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) {
        for (const owner of owners) this.fail(owner, owner.reason || "deadline exceeded");
        return;
      }
      try {
        const out = await this.client.putRecords(
          this.opts.streamName,
          entries,
          AbortSignal.timeout(remainingMs),
        );
        const results = out.records;
        const retry: Call = { entries: [], owners: [] };
        let throttled = 0;
        for (let i = 0; i < entries.length; i++) {
          const owner = owners[i]!;
          const result = results[i];
          const code = result?.errorCode;
          // an entry without a result is treated as failed: never assume it was written
          if (code === undefined && result?.sequenceNumber !== undefined) {
            if (++owner.written === owner.records.length) this.succeed(owner);
            continue;
          }
          if (code !== undefined && THROTTLES.has(code)) throttled++;
          owner.reason = code ?? "missing result";
          retry.entries.push(entries[i]!);
          retry.owners.push(owner);
        }
        if (throttled > 0) this.metrics.count(METRIC_NAMES.kinesisThrottled, throttled);
        if (retry.entries.length === 0) return;
        ({ entries, owners } = retry);
      } catch (err) {
        const name = errorName(err);
        if (THROTTLES.has(name)) this.metrics.count(METRIC_NAMES.kinesisThrottled, entries.length);
        for (const owner of owners) owner.reason = name;
        if (FATAL_ERRORS.has(name) || isCredentialError(name, err instanceof Error ? err.message : "")) {
          this.log.error("Kinesis refused the write", { error: name, stream: this.opts.streamName });
          for (const owner of owners) this.fail(owner, name);
          return;
        }
      }
    }
  }

  private succeed(owner: Owner): void {
    if (owner.settled) return;
    owner.settled = true;
    clearTimeout(owner.timer);
    this.metrics.count(METRIC_NAMES.recordsWritten, owner.written);
    owner.resolve();
  }

  /** Answers the put with a 503 naming its records not (yet) confirmed; none is sent again. */
  private fail(owner: Owner, reason: string): void {
    if (owner.settled) return;
    owner.settled = true;
    clearTimeout(owner.timer);
    const total = owner.records.length;
    const unwritten = total - owner.written;
    this.metrics.count(METRIC_NAMES.recordsWritten, owner.written);
    this.metrics.count(METRIC_NAMES.kinesisFailedPuts, unwritten);
    this.log.warn("records not written to Kinesis", { unwritten, total, reason });
    owner.reject(
      new StreamWriteError(
        "kinesis-unavailable",
        `Kinesis did not accept ${unwritten} of ${total} records (${reason}); retry later`,
        this.opts.retryAfterSeconds,
      ),
    );
  }
}

/** The entries whose owners still wait for them (the same arrays when all do). */
function live(entries: StreamRecord[], owners: Owner[]): Call {
  let i = 0;
  while (i < owners.length && !owners[i]!.settled) i++;
  if (i === owners.length) return { entries, owners };
  const out: Call = { entries: entries.slice(0, i), owners: owners.slice(0, i) };
  for (; i < owners.length; i++) {
    if (owners[i]!.settled) continue;
    out.entries.push(entries[i]!);
    out.owners.push(owners[i]!);
  }
  return out;
}

function errorName(err: unknown): string {
  if (err instanceof Error) return err.name === "Error" ? err.message.slice(0, 80) : err.name;
  return "unknown error";
}
