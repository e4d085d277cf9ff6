import type { Logger } from "../core/log";
import { METRIC_NAMES } from "../core/metric-names";
import type { Metrics } from "../core/metrics";
import { planBatch, type SendUnit, unitBody } from "./plan";
import type { ForwardRecord, Version } from "./records";

/** What the destination answered (a network failure is thrown instead). */
export interface DestinationAnswer {
  readonly status: number;
  /** Retry-After, when the destination sent one (seconds or a date), in ms. */
  readonly retryAfterMs?: number;
  /** The start of the answer's body, for the dead letter and the log. */
  readonly message: string;
}

export interface Destination {
  send(body: Uint8Array, version: Version, signal: AbortSignal): Promise<DestinationAnswer>;
  /** Forget cached credentials (called once after a 401 or 403, before the record is given up). */
  refreshCredentials?(): void;
}

export interface DeadLetter {
  readonly record: ForwardRecord;
  /** The destination's status, absent for records that never left (poison). */
  readonly status?: number;
  /**
   * Stable identifier: `rejected`, `rejected-after-resend` (refused after an attempt whose
   * answer was lost, so possibly already stored), `snappy-corrupt`, `message-invalid`,
   * `partition-key-invalid`…
   */
  readonly reason: string;
  readonly detail: string;
}

export interface DeadLetterSink {
  send(letter: DeadLetter): Promise<void>;
}

export interface ForwardOptions {
  readonly destination: Destination;
  readonly deadLetters: DeadLetterSink;
  readonly maxRequestBytes: number;
  /** Timeout of one request. */
  readonly timeoutMs: number;
  /** Time left for this batch (Lambda: context.getRemainingTimeInMillis). */
  readonly remainingMs: () => number;
  /** Time kept back at the end for reporting (default 1 s). */
  readonly reserveMs?: number;
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  readonly sleep?: (ms: number) => Promise<void>;
  readonly log: Logger;
  readonly metrics: Metrics;
}

export interface BatchOutcome {
  /** Records the destination accepted. */
  readonly delivered: number;
  readonly requests: number;
  readonly retries: number;
  readonly deadLettered: number;
  readonly duplicates: number;
  /** The first record not handled: the batch must be retried from here. */
  readonly failed?: { readonly sequenceNumber: string; readonly reason: string };
}

export const DEFAULT_BACKOFF = { initialMs: 100, maxMs: 5_000 } as const;

const sleeper = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

type UnitResult = { done: true } | { done: false; reason: string; sequenceNumber: string };

/**
 * Delivers one batch of one shard in order. A 2xx answer is done. 5xx, 429, 401, 403 and network
 * errors are retried with exponential backoff while the batch has time left; then the
 * batch stops at the first record not delivered, which the caller retries from. Any
 * other answer (4xx) is final: a merged request is split into its records, and each
 * record refused again goes to the dead-letter sink, as does a record that cannot be
 * decoded; the shard then moves on.
 */
export async function forwardBatch(
  records: readonly ForwardRecord[],
  opts: ForwardOptions,
): Promise<BatchOutcome> {
  const plan = planBatch(records, opts.maxRequestBytes);
  const stats = { delivered: 0, requests: 0, retries: 0, deadLettered: 0 };
  const duplicates = plan.duplicates.length;
  opts.metrics.count(METRIC_NAMES.duplicateRecords, duplicates);
  const finish = (failed?: BatchOutcome["failed"]): BatchOutcome => {
    opts.metrics.count(METRIC_NAMES.forwardedRecords, stats.delivered);
    opts.metrics.count(METRIC_NAMES.forwardRequests, stats.requests);
    opts.metrics.count(METRIC_NAMES.forwardRetries, stats.retries);
    opts.metrics.count(METRIC_NAMES.deadLetters, stats.deadLettered);
    if (failed !== undefined) opts.metrics.count(METRIC_NAMES.forwardBatchFailures);
    return { ...stats, duplicates, ...(failed ? { failed } : {}) };
  };

  const deadLetter = async (letter: DeadLetter): Promise<UnitResult> => {
    try {
      await opts.deadLetters.send(letter);
    } catch (err) {
      opts.log.error("dead-letter queue unavailable; the batch will be retried", {
        sequenceNumber: letter.record.sequenceNumber,
        error: (err as Error).name,
      });
      return { done: false, reason: "dead-letter-failed", sequenceNumber: letter.record.sequenceNumber };
    }
    stats.deadLettered++;
    opts.log.warn("record dead-lettered", {
      partitionKey: letter.record.partitionKey,
      sequenceNumber: letter.record.sequenceNumber,
      shardId: letter.record.shardId,
      status: letter.status,
      reason: letter.reason,
    });
    return { done: true };
  };

  const sendUnit = async (unit: SendUnit, resentBefore = false): Promise<UnitResult> => {
    const answer = await sendWithRetry(unitBody(unit), unit.version, opts, stats);
    const first = unit.records[0]!.record;
    if (answer.kind === "delivered") {
      stats.delivered += unit.records.length;
      return { done: true };
    }
    if (answer.kind === "gave-up")
      return { done: false, reason: answer.reason, sequenceNumber: first.sequenceNumber };
    // Refused for good. Several records: find out which ones by sending each alone.
    if (unit.records.length > 1) {
      for (const record of unit.records) {
        const result = await sendUnit(
          { kind: "send", version: unit.version, records: [record] },
          resentBefore || answer.resent,
        );
        if (!result.done) return result;
      }
      return { done: true };
    }
    // Refused after an attempt whose answer was lost: possibly refused because it was stored then.
    const reason = resentBefore || answer.resent ? "rejected-after-resend" : "rejected";
    return deadLetter({ record: first, status: answer.status, reason, detail: answer.message });
  };

  for (const unit of plan.units) {
    const result =
      unit.kind === "poison"
        ? await deadLetter({
            record: unit.poison.record,
            reason: unit.poison.reason,
            detail: unit.poison.detail,
          })
        : await sendUnit(unit);
    if (!result.done) return finish({ sequenceNumber: result.sequenceNumber, reason: result.reason });
  }
  return finish();
}

type SendResult =
  | { kind: "delivered" }
  | { kind: "refused"; status: number; message: string; resent: boolean }
  | { kind: "gave-up"; reason: string };

/** Whether an answer may succeed when sent again. */
export function retryable(status: number): boolean {
  return status >= 500 || status === 429;
}

/**
 * 401 and 403 say the credentials are wrong, not the record: they are retried like 5xx
 * (the shard waits and its iterator age grows) instead of dead-lettering every record
 * while a secret or a permission is being fixed.
 */
export function authFailure(status: number): boolean {
  return status === 401 || status === 403;
}

async function sendWithRetry(
  body: Uint8Array,
  version: Version,
  opts: ForwardOptions,
  stats: { requests: number; retries: number },
): Promise<SendResult> {
  const reserve = opts.reserveMs ?? 1_000;
  const backoff = opts.backoff ?? DEFAULT_BACKOFF;
  const sleep = opts.sleep ?? sleeper;
  let refreshed = false;
  // Whether an earlier attempt may have reached the destination (its answer was lost).
  let resent = false;
  let last = "no time left";
  for (let attempt = 0; ; attempt++) {
    const budget = opts.remainingMs() - reserve;
    if (budget <= 0) return { kind: "gave-up", reason: last };
    let answer: DestinationAnswer | undefined;
    stats.requests++;
    try {
      answer = await opts.destination.send(
        body,
        version,
        AbortSignal.timeout(Math.min(opts.timeoutMs, budget)),
      );
    } catch (err) {
      last = `network-error: ${(err as Error).name}`;
      if (errorCode(err) !== "ECONNREFUSED") resent = true;
      opts.log.warn("destination unreachable", { attempt, error: describe(err) });
    }
    if (answer !== undefined) {
      if (answer.status >= 200 && answer.status < 300) return { kind: "delivered" };
      if (authFailure(answer.status) && !refreshed && opts.destination.refreshCredentials) {
        // A rotated secret: read it again and retry at once.
        refreshed = true;
        opts.destination.refreshCredentials();
        stats.retries++;
        continue;
      }
      if (!retryable(answer.status) && !authFailure(answer.status)) {
        return { kind: "refused", status: answer.status, message: answer.message, resent };
      }
      last = `status-${answer.status}`;
      opts.log.warn("destination answered a retryable status", { attempt, status: answer.status });
    }
    let delay = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempt, 20));
    if (answer?.retryAfterMs !== undefined) delay = Math.max(delay, Math.min(answer.retryAfterMs, 60_000));
    if (opts.remainingMs() - reserve <= delay) return { kind: "gave-up", reason: last };
    stats.retries++;
    await sleep(delay);
  }
}

function errorCode(err: unknown): string | undefined {
  const e = err as { code?: string; cause?: { code?: string } } | undefined;
  return e?.code ?? e?.cause?.code;
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return "unknown error";
  const code = errorCode(err);
  return code ? `${err.name} (${code})` : err.name;
}
