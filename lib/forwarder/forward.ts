import type { Logger } from "../core/log";
import { METRIC_NAMES } from "../core/metric-names";
import type { Metrics } from "../core/metrics";
import { countV2 } from "./convert";
import { DestinationState } from "./negotiate";
import { checkBatch, groupUnits, type SendUnit, type Unit, unitBody } from "./plan";
import type { ForwardRecord } from "./records";
import { type Backoff, DEFAULT_BACKOFF, type Destination, type SendContext, sendWithRetry } from "./send";
import { dropStrays, type ShardSlotSource } from "./strays";

export type { Destination, DestinationAnswer } from "./send";
export { DEFAULT_BACKOFF } from "./send";

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
  readonly backoff?: Backoff;
  /**
   * What is known of the destination across batches: its negotiated version and any
   * Retry-After still running. Keep one per destination for the life of the process;
   * default: a fresh one per batch (protocol `auto`, nothing remembered).
   */
  readonly state?: DestinationState;
  /** Retry 401 and 403 like 5xx instead of dead-lettering (default false, as Remote-Write senders do). */
  readonly retryAuthFailures?: boolean;
  /**
   * Where the slots of each record's shard are learnt, to drop the strays of a resharding
   * (strays.ts); without it every record is forwarded whole.
   */
  readonly shards?: ShardSlotSource;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Source of the backoff's jitter, in [0, 1) (default Math.random). */
  readonly random?: () => number;
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
  /** v2 records delivered as Remote-Write 1.0. */
  readonly sentAsV1: number;
  /** Start timestamps those conversions could not carry. */
  readonly startTimestampsDropped: number;
  /** 2.0 requests answered 2xx with fewer samples or histograms written than sent. */
  readonly partialWrites: number;
  /** Series dropped as strays of a resharding (copies written again to their own shard). */
  readonly straySeries: number;
  /** Records skipped whole: every series in them was a stray. */
  readonly strayRecords: number;
  /** Stream-format-2 records forwarded whole because the slots of their shard could not be known. */
  readonly unplacedRecords: number;
  /** The first record not handled: the batch must be retried from here. */
  readonly failed?: { readonly sequenceNumber: string; readonly reason: string };
}

const sleeper = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

type UnitResult =
  | { done: true }
  | { done: false; fallBack: true; why: string }
  | { done: false; fallBack?: false; reason: string; sequenceNumber: string };

/**
 * Delivers one batch of one shard in order, answering each status as the table in
 * status.ts says: 2xx is done; 5xx, 429 and network errors are retried with backoff while
 * the batch has time left, then the batch stops at the first record not delivered, which the
 * caller retries from; a refusal (4xx) is final: a merged request refused for its content is
 * split into its records, and each record refused again goes to the dead-letter sink, as
 * does a record that cannot be decoded; the shard then moves on. When the destination turns
 * out not to take 2.0, the rest of the batch is planned again with v2 records as 1.0.
 */
export async function forwardBatch(
  records: readonly ForwardRecord[],
  opts: ForwardOptions,
): Promise<BatchOutcome> {
  const state = opts.state ?? new DestinationState();
  const decoded = checkBatch(records);
  const strays =
    opts.shards === undefined
      ? { items: decoded.items, series: 0, records: 0, unplaced: 0 }
      : await dropStrays(decoded.items, opts.shards, opts.log);
  const checked = { items: strays.items, duplicates: decoded.duplicates };
  const stats = {
    delivered: 0,
    requests: 0,
    retries: 0,
    deadLettered: 0,
    sentAsV1: 0,
    startTimestampsDropped: 0,
    partialWrites: 0,
  };
  const duplicates = checked.duplicates.length;
  opts.metrics.count(METRIC_NAMES.duplicateRecords, duplicates);
  const ctx: SendContext = {
    destination: opts.destination,
    state,
    timeoutMs: opts.timeoutMs,
    remainingMs: opts.remainingMs,
    reserveMs: opts.reserveMs ?? 1_000,
    backoff: opts.backoff ?? DEFAULT_BACKOFF,
    retryAuthFailures: opts.retryAuthFailures ?? false,
    sleep: opts.sleep ?? sleeper,
    random: opts.random ?? Math.random,
    log: opts.log,
  };
  /** Records dead-lettered in this batch (a converted record sent in parts is dead-lettered once). */
  const lettered = new Set<string>();

  const finish = (failed?: BatchOutcome["failed"]): BatchOutcome => {
    opts.metrics.count(METRIC_NAMES.forwardedRecords, stats.delivered);
    opts.metrics.count(METRIC_NAMES.forwardRequests, stats.requests);
    opts.metrics.count(METRIC_NAMES.forwardRetries, stats.retries);
    opts.metrics.count(METRIC_NAMES.deadLetters, stats.deadLettered);
    opts.metrics.count(METRIC_NAMES.recordsSentAsV1, stats.sentAsV1);
    opts.metrics.count(METRIC_NAMES.startTimestampsDropped, stats.startTimestampsDropped);
    opts.metrics.count(METRIC_NAMES.partialWrites, stats.partialWrites);
    opts.metrics.count(METRIC_NAMES.straySeriesDropped, strays.series);
    opts.metrics.count(METRIC_NAMES.strayCheckSkipped, strays.unplaced);
    if (stats.startTimestampsDropped > 0) {
      opts.log.warn("start timestamps dropped: Remote-Write 1.0 cannot carry them", {
        records: stats.sentAsV1,
        startTimestamps: stats.startTimestampsDropped,
      });
    }
    if (failed !== undefined) opts.metrics.count(METRIC_NAMES.forwardBatchFailures);
    return {
      ...stats,
      duplicates,
      straySeries: strays.series,
      strayRecords: strays.records,
      unplacedRecords: strays.unplaced,
      ...(failed ? { failed } : {}),
    };
  };

  const deadLetter = async (letter: DeadLetter): Promise<UnitResult> => {
    const seq = letter.record.sequenceNumber;
    if (lettered.has(seq)) return { done: true };
    try {
      await opts.deadLetters.send(letter);
    } catch (err) {
      opts.log.error("dead-letter queue unavailable; the batch will be retried", {
        sequenceNumber: seq,
        error: (err as Error).name,
      });
      return { done: false, reason: "dead-letter-failed", sequenceNumber: seq };
    }
    lettered.add(seq);
    stats.deadLettered++;
    opts.log.warn("record dead-lettered", {
      partitionKey: letter.record.partitionKey,
      sequenceNumber: seq,
      shardId: letter.record.shardId,
      status: letter.status,
      reason: letter.reason,
    });
    return { done: true };
  };

  const sendUnit = async (unit: SendUnit, resentBefore = false): Promise<UnitResult> => {
    const first = unit.records[0]!;
    // the rest of a converted record already dead-lettered in an earlier part goes nowhere
    if (unit.part !== undefined && lettered.has(first.record.sequenceNumber)) return { done: true };
    const sent = unit.version === "v2" ? () => countV2(first.body) : undefined;
    const answer = await sendWithRetry(unitBody(unit), unit.version, sent, ctx, stats);
    if (answer.kind === "delivered") {
      if (answer.partial !== undefined) {
        stats.partialWrites++;
        opts.log.warn("destination wrote less than it was sent", {
          sequenceNumber: first.record.sequenceNumber,
          written: answer.partial,
        });
      }
      if (answer.note !== undefined) opts.log.info("destination answered", { note: answer.note });
      if (unit.part === undefined || unit.part.index === unit.part.of - 1)
        stats.delivered += unit.records.length;
      for (const r of unit.records) {
        if (r.converted === undefined) continue;
        stats.sentAsV1++;
        stats.startTimestampsDropped += r.converted.startTimestampsDropped;
      }
      return { done: true };
    }
    if (answer.kind === "fall-back") return { done: false, fallBack: true, why: answer.why };
    if (answer.kind === "gave-up")
      return { done: false, reason: answer.reason, sequenceNumber: first.record.sequenceNumber };
    const resent = resentBefore || answer.resent;
    // Refused for its content: find out which records by sending each alone.
    if (unit.records.length > 1 && answer.split) {
      for (const record of unit.records) {
        const result = await sendUnit({ kind: "send", version: unit.version, records: [record] }, resent);
        if (!result.done) return result;
      }
      return { done: true };
    }
    // Refused after an attempt whose answer was lost: possibly refused because it was stored then.
    const reason = resent ? "rejected-after-resend" : "rejected";
    for (const r of unit.records) {
      const result = await deadLetter({
        record: r.record,
        status: answer.status,
        reason,
        detail: answer.message,
      });
      if (!result.done) return result;
    }
    return { done: true };
  };

  let units: Unit[] = groupUnits(checked.items, opts.maxRequestBytes, state.v2RecordsAs());
  for (let u = 0; u < units.length; u++) {
    const unit = units[u]!;
    const result =
      unit.kind === "poison"
        ? await deadLetter({
            record: unit.poison.record,
            reason: unit.poison.reason,
            detail: unit.poison.detail,
          })
        : await sendUnit(unit);
    if (result.done) continue;
    if (result.fallBack) {
      // The destination does not take 2.0: from this record on, v2 records go as 1.0.
      state.fellBack();
      opts.metrics.count(METRIC_NAMES.protocolFallbacks);
      opts.log.warn("destination does not take Remote-Write 2.0; sending 1.0", {
        why: result.why,
        rememberSeconds: Math.round(state.rememberMs / 1000),
      });
      const from = unit.from ?? 0;
      units = [
        ...units.slice(0, u),
        ...groupUnits(checked.items.slice(from), opts.maxRequestBytes, "v1", from),
      ];
      u--;
      continue;
    }
    return finish({ sequenceNumber: result.sequenceNumber, reason: result.reason });
  }
  return finish();
}
