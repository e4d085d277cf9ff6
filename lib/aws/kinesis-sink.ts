/**
 * The ingest path's Kinesis writer (KinesisSink below). About 540 lines: the group-commit
 * queue, the call slots, the retries and the refusal handling all act on the same pending
 * puts; split apart, one state machine would be spread over several files.
 */

import { jitteredRetryAfter } from "../core/errors";
import { errorLabel, type Logger } from "../core/log";
import { METRIC_NAMES } from "../core/metric-names";
import type { Metrics } from "../core/metrics";
import { RecordsRefusedError, StreamUnusableError, StreamWriteError } from "../ingest/errors";
import type { RecordSink } from "../ingest/sink";
import { MAX_BYTES_PER_CALL, MAX_RECORDS_PER_CALL, recordLimitBroken } from "../stream/limits";
import type { StreamRecord } from "../stream/records";
import { classifyCallError, classifyEntryError, refusedIndexes } from "./kinesis-errors";
import type { RecordPutter } from "./kinesis-records";

export type { RecordSink } from "../ingest/sink";
export { MAX_BYTES_PER_CALL, MAX_RECORDS_PER_CALL } from "../stream/limits";
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
  /** Time budget for one put() including retries, when the caller gives no deadline. */
  readonly deadlineMs: number;
  /** Retry-After (seconds) asked of the sender when the budget runs out (answered as 503); jittered up by half. */
  readonly retryAfterSeconds: number;
  /** The stream's largest record, data plus partition key (default 1 MiB, Kinesis's default). */
  readonly maxRecordBytes?: number;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
}

/** One put() in progress: its records' fate, and how its caller is answered. */
interface PendingPut {
  /** The records to send (those the stream could take), in order. */
  readonly records: readonly StreamRecord[];
  /** All the records the put was given. */
  readonly total: number;
  readonly deadline: number;
  /** Records Kinesis confirmed. */
  written: number;
  /** Records that can never be written (refused for what they are), and why. */
  refused: number;
  refusal: string;
  /** The last transient failure seen for one of its records (for the answer). */
  reason: string;
  /** Records taken from the queue into calls so far (the rest wait, in order). */
  taken: number;
  /** Of its records, how many are in a PutRecords call now in flight. */
  inFlight: number;
  settled: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** The entries of one PutRecords call and, index by index, whose they are. */
interface Call {
  entries: StreamRecord[];
  puts: PendingPut[];
}

/**
 * Writes records with PutRecords, sharing calls between concurrent put()s (group commit):
 * at most `concurrency` calls are in flight for the whole sink (a call waiting out a backoff
 * gives its slot back meanwhile, and takes the next one freed before new calls do); a put() whose records arrive
 * while every slot is busy waits in a queue, and the next free slot takes everything queued
 * then, in arrival order, into one call (up to 500 records / 5 MiB). Nothing waits on a
 * timer to gather records (on Lambda, one request per instance, every call carries one put).
 *
 * What no retry can cure never occupies a slot: a record the stream could never take (over
 * the record limit, a bad partition or hash key) is refused before it is queued; an entry
 * refused by Kinesis for what it is is not sent again; a whole call refused as invalid is
 * taken apart (the entries AWS names, else each put's entries alone, else halves) so the
 * records of the other puts in it are written and only the offending put is refused
 * (RecordsRefusedError: the sender must not resend). A refusal of the stream itself
 * (missing, access denied, KMS key unusable) fails the puts of that call at once
 * (StreamUnusableError: an operator must act). Credential refusals end the call at once too
 * (StreamWriteError: a resend may succeed once the credentials are renewed).
 *
 * Transient failures (throttling, internal failures, timeouts, transport) are retried, only
 * the failed entries, after exponential backoff with full jitter, within each put's
 * deadline. A put is answered only when each of its records is written, refused, or can no
 * longer be written: a call in flight is aborted at the earliest deadline among its puts,
 * and the put is answered once the call has ended, so none of its records lands after the
 * answer. A put with unwritten records then throws a 503 with a jittered Retry-After.
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
  private readonly maxRecordBytes: number;
  private readonly maxCallBytes: number;
  /** Puts with records not yet taken into a call, in arrival order (from `head`). */
  private queue: PendingPut[] = [];
  private head = 0;
  private inFlight = 0;
  /** Calls back from a backoff, waiting for a slot (they go before new calls). */
  private waiting: (() => void)[] = [];

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
    this.maxRecordBytes = opts.maxRecordBytes ?? 1024 * 1024;
    // a stream raised to larger records takes calls as large as one record
    this.maxCallBytes = Math.max(MAX_BYTES_PER_CALL, this.maxRecordBytes);
  }

  put(records: readonly StreamRecord[], deadline?: number): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    let sendable: readonly StreamRecord[] = records;
    let refused = 0;
    let refusal = "";
    for (let i = 0; i < records.length; i++) {
      const broken = recordLimitBroken(records[i]!, this.maxRecordBytes);
      if (broken === undefined) {
        if (refused > 0) (sendable as StreamRecord[]).push(records[i]!);
        continue;
      }
      // the first refusal: the records before it are kept, later ones added as they pass
      if (refused === 0) sendable = records.slice(0, i);
      refused++;
      refusal = broken;
    }
    if (refused > 0) {
      // a backstop: the ingest path bounds every record, so this is a bug worth an error line
      this.log.error("records over the stream's limits refused before sending", {
        refused,
        total: records.length,
        reason: refusal,
      });
    }
    return new Promise<void>((resolve, reject) => {
      const put: PendingPut = {
        records: sendable,
        total: records.length,
        deadline: deadline ?? Date.now() + this.opts.deadlineMs,
        written: 0,
        refused,
        refusal,
        reason: "",
        taken: 0,
        inFlight: 0,
        settled: false,
        timer: undefined,
        resolve,
        reject,
      };
      if (sendable.length === 0) {
        this.conclude(put);
        return;
      }
      const wait = put.deadline - Date.now();
      if (wait <= 0) {
        this.fail(put, "deadline exceeded");
        return;
      }
      // the deadline holds while the records wait in the queue or a backoff; while some ride
      // in a call, that call is aborted at this deadline and the put is answered when it ends
      put.timer = setTimeout(() => {
        if (put.inFlight === 0) this.fail(put, put.reason || "deadline exceeded");
      }, wait);
      put.timer.unref?.();
      this.queue.push(put);
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
          for (const put of call.puts) {
            put.inFlight = 0;
            this.fail(put, errorName(err));
          }
        })
        .finally(() => this.release());
    }
  }

  /** A slot back: to a call waiting after its backoff, else to the queue. */
  private release(): void {
    const next = this.waiting.shift();
    if (next !== undefined) {
      next();
      return;
    }
    this.inFlight--;
    this.pump();
  }

  /** A slot for a call back from its backoff: at once when one is free, else the next one freed. */
  private acquire(): Promise<void> {
    if (this.inFlight < this.opts.concurrency) {
      this.inFlight++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** The next call's entries: queued records in arrival order, within the call limits. */
  private take(): Call | undefined {
    let call: Call | undefined;
    let bytes = 0;
    while (this.head < this.queue.length) {
      const put = this.queue[this.head]!;
      if (!put.settled) {
        const { records } = put;
        while (put.taken < records.length) {
          const record = records[put.taken]!;
          const size = record.data.length + Buffer.byteLength(record.partitionKey);
          if (call === undefined) call = { entries: [], puts: [] };
          else if (call.entries.length === MAX_RECORDS_PER_CALL || bytes + size > this.maxCallBytes) {
            // under steady load the queue may never drain: drop the passed puts now and then
            if (this.head > 1024) {
              this.queue = this.queue.slice(this.head);
              this.head = 0;
            }
            return call;
          }
          call.entries.push(record);
          call.puts.push(put);
          bytes += size;
          put.taken++;
        }
      }
      this.queue[this.head++] = undefined as unknown as PendingPut;
    }
    this.queue.length = 0;
    this.head = 0;
    return call;
  }

  /** Sends one call's entries until each is in, refused, or its put gave up. */
  private async send(call: Call): Promise<void> {
    let { entries, puts } = call;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) {
        const delay = this.random() * Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
        const until = Date.now() + delay;
        // a put whose deadline comes before the retry gives up now, as a whole
        for (const put of puts) if (put.deadline <= until) this.fail(put, put.reason || "deadline exceeded");
        ({ entries, puts } = live(entries, puts));
        if (entries.length === 0) return;
        this.metrics.count(METRIC_NAMES.kinesisRetries, entries.length);
        // the slot is free during the backoff (other calls go on), taken again after it
        this.release();
        try {
          await this.sleep(delay);
        } finally {
          await this.acquire();
        }
        ({ entries, puts } = live(entries, puts));
        if (entries.length === 0) return;
      }
      const next = await this.attempt(entries, puts);
      if (next === undefined) return;
      if (next.retryNow) {
        // entries set apart from refused ones go again at once, without a backoff
        attempt--;
      }
      ({ entries, puts } = next.call);
      if (next.parts !== undefined) {
        for (const part of next.parts) await this.send(part);
        return;
      }
    }
  }

  /**
   * One PutRecords call. Returns what is left to send: the entries to retry (after a
   * backoff, or at once), or the parts a refused call was taken apart into.
   */
  private async attempt(
    entries: StreamRecord[],
    puts: PendingPut[],
  ): Promise<{ call: Call; retryNow?: boolean; parts?: Call[] } | undefined> {
    // aborted at the earliest deadline among its puts: each is answered at its own deadline,
    // and only once this call has ended
    let deadline = Number.POSITIVE_INFINITY;
    for (const put of puts) if (put.deadline < deadline) deadline = put.deadline;
    const remainingMs = deadline - Date.now();
    if (remainingMs <= 0) {
      for (const put of puts)
        if (put.deadline <= Date.now()) this.fail(put, put.reason || "deadline exceeded");
      const left = live(entries, puts);
      return left.entries.length === 0 ? undefined : { call: left };
    }
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new DeadlineAbort()), remainingMs);
    timer.unref?.();
    for (const put of puts) put.inFlight++;
    let answer: Awaited<ReturnType<RecordPutter["putRecords"]>> | undefined;
    let error: unknown;
    try {
      this.metrics.count(METRIC_NAMES.putRecordsCalls, 1);
      answer = await this.client.putRecords(this.opts.streamName, entries, abort.signal);
    } catch (err) {
      error = err;
    } finally {
      clearTimeout(timer);
      for (const put of puts) put.inFlight--;
    }
    if (answer === undefined) return this.callFailed(entries, puts, error, abort.signal.aborted);
    const results = answer.records;
    const retry: Call = { entries: [], puts: [] };
    let throttled = 0;
    for (let i = 0; i < entries.length; i++) {
      const put = puts[i]!;
      const result = results[i];
      const code = result?.errorCode;
      // an entry without a result is treated as failed: never assume it was written
      if (code === undefined && result?.sequenceNumber !== undefined) {
        // where it landed: the writer checks it against the shard map it packed by
        if (result.shardId !== undefined) entries[i]!.shardId = result.shardId;
        put.written++;
        this.conclude(put);
        continue;
      }
      const kind = code === undefined ? "transient" : classifyEntryError(code);
      if (kind === "refused") {
        this.refuse(put, code!);
        continue;
      }
      if (kind === "unusable") {
        this.unusable(put, code!);
        continue;
      }
      if (kind === "throttled") throttled++;
      put.reason = code ?? "missing result";
      retry.entries.push(entries[i]!);
      retry.puts.push(put);
    }
    if (throttled > 0) this.metrics.count(METRIC_NAMES.kinesisThrottled, throttled);
    this.expireOverdue(puts);
    const left = live(retry.entries, retry.puts);
    return left.entries.length === 0 ? undefined : { call: left };
  }

  /** A call that failed as a whole: refused, unusable stream, credentials, or transient. */
  private callFailed(
    entries: StreamRecord[],
    puts: PendingPut[],
    err: unknown,
    aborted: boolean,
  ): { call: Call; retryNow?: boolean; parts?: Call[] } | undefined {
    const name = aborted ? "deadline exceeded" : errorName(err);
    const kind = aborted ? "transient" : classifyCallError(name, err instanceof Error ? err.message : "");
    if (kind === "refused") {
      this.log.error("Kinesis refused a call as invalid", {
        error: name,
        records: entries.length,
        puts: new Set(puts).size,
      });
      const named = refusedIndexes(err instanceof Error ? err.message : "", entries.length);
      if (named.size > 0) {
        const rest: Call = { entries: [], puts: [] };
        for (let i = 0; i < entries.length; i++) {
          if (named.has(i)) this.refuse(puts[i]!, name);
          else {
            rest.entries.push(entries[i]!);
            rest.puts.push(puts[i]!);
          }
        }
        const left = live(rest.entries, rest.puts);
        return left.entries.length === 0 ? undefined : { call: left, retryNow: true };
      }
      if (entries.length === 1) {
        this.refuse(puts[0]!, name);
        return undefined;
      }
      return { call: { entries: [], puts: [] }, parts: split(entries, puts) };
    }
    if (kind === "unusable") {
      this.log.error("Kinesis refused the write", { error: name, stream: this.opts.streamName });
      for (const put of new Set(puts)) this.unusable(put, name);
      return undefined;
    }
    if (kind === "credentials") {
      this.log.error("Kinesis refused the credentials", { error: name });
      for (const put of new Set(puts)) this.fail(put, name);
      return undefined;
    }
    if (kind === "throttled") this.metrics.count(METRIC_NAMES.kinesisThrottled, entries.length);
    // an abort at the deadline keeps the failure that led to it as the reason
    for (const put of puts) if (!aborted || put.reason === "") put.reason = name;
    this.expireOverdue(puts);
    const left = live(entries, puts);
    return left.entries.length === 0 ? undefined : { call: left };
  }

  /** Puts whose deadline passed while their records were in flight are answered now. */
  private expireOverdue(puts: PendingPut[]): void {
    const now = Date.now();
    for (const put of puts) {
      if (!put.settled && put.inFlight === 0 && put.deadline <= now)
        this.fail(put, put.reason || "deadline exceeded");
    }
  }

  /** One record of the put can never be written: counted, the put goes on with the rest. */
  private refuse(put: PendingPut, reason: string): void {
    if (put.settled) return;
    put.refused++;
    put.refusal = reason;
    this.conclude(put);
  }

  /** Answers the put once every record is written or refused. */
  private conclude(put: PendingPut): void {
    if (put.settled || put.written + put.refused < put.total) return;
    put.settled = true;
    clearTimeout(put.timer);
    this.metrics.count(METRIC_NAMES.recordsWritten, put.written);
    if (put.refused === 0) {
      put.resolve();
      return;
    }
    this.metrics.count(METRIC_NAMES.recordsRefused, put.refused);
    this.log.error("records refused by the stream", {
      refused: put.refused,
      total: put.total,
      reason: put.refusal,
    });
    put.reject(new RecordsRefusedError(put.refused, put.total, put.refusal));
  }

  /** The stream refuses this writer: the put is answered at once; nothing of it is sent again. */
  private unusable(put: PendingPut, reason: string): void {
    if (put.settled) return;
    const unwritten = this.giveUp(put);
    this.metrics.count(METRIC_NAMES.streamUnusable, 1);
    put.reject(new StreamUnusableError(reason, unwritten, put.total));
  }

  /** Answers the put with a 503 naming its records not (yet) confirmed; none is sent again. */
  private fail(put: PendingPut, reason: string): void {
    if (put.settled) return;
    const unwritten = this.giveUp(put);
    this.log.warn("records not written to Kinesis", { unwritten, total: put.total, reason });
    put.reject(
      new StreamWriteError(
        "kinesis-unavailable",
        `Kinesis did not accept ${unwritten} of ${put.total} records (${reason}); retry later`,
        jitteredRetryAfter(this.opts.retryAfterSeconds, this.random),
      ),
    );
  }

  /** Settles a put that will not be written whole: counts what was and was not; returns the unwritten. */
  private giveUp(put: PendingPut): number {
    put.settled = true;
    clearTimeout(put.timer);
    const unwritten = put.total - put.written;
    this.metrics.count(METRIC_NAMES.recordsWritten, put.written);
    this.metrics.count(METRIC_NAMES.kinesisFailedPuts, unwritten);
    return unwritten;
  }
}

/** The abort reason of a call that reached its earliest put's deadline. */
class DeadlineAbort extends Error {
  constructor() {
    super("deadline exceeded");
    this.name = "DeadlineAbort";
  }
}

/** The entries whose puts still wait for them (the same arrays when all do). */
function live(entries: StreamRecord[], puts: PendingPut[]): Call {
  let i = 0;
  while (i < puts.length && !puts[i]!.settled) i++;
  if (i === puts.length) return { entries, puts };
  const out: Call = { entries: entries.slice(0, i), puts: puts.slice(0, i) };
  for (; i < puts.length; i++) {
    if (puts[i]!.settled) continue;
    out.entries.push(entries[i]!);
    out.puts.push(puts[i]!);
  }
  return out;
}

/** A refused call taken apart: each put's entries alone, or (one put) its halves. */
function split(entries: StreamRecord[], puts: PendingPut[]): Call[] {
  const byPut = new Map<PendingPut, Call>();
  for (let i = 0; i < entries.length; i++) {
    const put = puts[i]!;
    let part = byPut.get(put);
    if (part === undefined) {
      part = { entries: [], puts: [] };
      byPut.set(put, part);
    }
    part.entries.push(entries[i]!);
    part.puts.push(put);
  }
  if (byPut.size > 1) return [...byPut.values()];
  const half = Math.ceil(entries.length / 2);
  return [
    { entries: entries.slice(0, half), puts: puts.slice(0, half) },
    { entries: entries.slice(half), puts: puts.slice(half) },
  ];
}

function errorName(err: unknown): string {
  return errorLabel(err, 80, "unknown error");
}
