import type { Logger } from "../core/log";
import type { V2Counts } from "./convert";
import type { DestinationState } from "./negotiate";
import type { Version } from "./records";
import { isAuthFailure, judge, type WrittenCounts } from "./status";

/** What the destination answered (a network failure is thrown instead). */
export interface DestinationAnswer {
  readonly status: number;
  /** Retry-After, when the destination sent one (seconds or a date), in ms. */
  readonly retryAfterMs?: number;
  /** The written counts of a 2.0 receiver, when it sent any. */
  readonly written?: WrittenCounts;
  /** The start of the answer's body, for the dead letter and the log. */
  readonly message: string;
}

export interface Destination {
  send(body: Uint8Array, version: Version, signal: AbortSignal): Promise<DestinationAnswer>;
  /** Forget cached credentials (called once after a 401 or 403, before the record is given up). */
  refreshCredentials?(): void;
}

export interface Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
}

/** 100 ms doubling to 5 s, each wait drawn within ±10% of that. */
export const DEFAULT_BACKOFF: Backoff = { initialMs: 100, maxMs: 5_000 };
const JITTER = 0.1;

/** What sending one request needs (a slice of ForwardOptions). */
export interface SendContext {
  readonly destination: Destination;
  readonly state: DestinationState;
  readonly timeoutMs: number;
  readonly remainingMs: () => number;
  readonly reserveMs: number;
  readonly backoff: Backoff;
  readonly retryAuthFailures: boolean;
  readonly sleep: (ms: number) => Promise<void>;
  readonly random: () => number;
  readonly log: Logger;
}

export type SendResult =
  | { readonly kind: "delivered"; readonly partial?: string; readonly note?: string }
  | { readonly kind: "fall-back"; readonly why: string }
  | {
      readonly kind: "refused";
      readonly status: number;
      readonly message: string;
      /** Whether a merged request is worth sending again record by record. */
      readonly split: boolean;
      /** Whether an earlier attempt may have reached the destination (its answer was lost). */
      readonly resent: boolean;
    }
  | { readonly kind: "gave-up"; readonly reason: string };

/** The wait before retry `attempt` (0 for the first): exponential, capped, jittered. */
export function backoffMs(attempt: number, backoff: Backoff, random: () => number): number {
  const base = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(base * (1 - JITTER + 2 * JITTER * random()));
}

/**
 * Sends one request until the status table (status.ts) says it is done, refused, or to be
 * sent as 1.0; retries with jittered exponential backoff while the batch has time left,
 * never before what a Retry-After asked (kept in `state`, so the next batch waits too).
 */
export async function sendWithRetry(
  body: Uint8Array,
  version: Version,
  sent: (() => V2Counts) | undefined,
  ctx: SendContext,
  stats: { requests: number; retries: number },
): Promise<SendResult> {
  let refreshed = false;
  let resent = false;
  let last = "no time left";
  // whether the wait before this attempt is done (after a sleep, the next step is to send)
  let waited = false;
  for (let attempt = 0; ; ) {
    const budget = ctx.remainingMs() - ctx.reserveMs;
    if (budget <= 0) return { kind: "gave-up", reason: last };
    const hold = waited ? 0 : ctx.state.holdMs();
    if (hold > 0) {
      // Retry-After: nothing goes out before the destination's time, even in a later batch.
      await ctx.sleep(Math.min(hold, budget));
      if (hold >= budget) return { kind: "gave-up", reason: `retry-after (${last})` };
      waited = true;
      continue;
    }
    waited = false;
    let answer: DestinationAnswer | undefined;
    stats.requests++;
    try {
      answer = await ctx.destination.send(
        body,
        version,
        AbortSignal.timeout(Math.min(ctx.timeoutMs, budget)),
      );
    } catch (err) {
      last = `network-error: ${(err as Error).name}`;
      if (errorCode(err) !== "ECONNREFUSED") resent = true;
      ctx.log.warn("destination unreachable", { attempt, error: describe(err) });
    }
    if (answer !== undefined) {
      if (isAuthFailure(answer.status) && !refreshed && ctx.destination.refreshCredentials) {
        // A rotated secret: read it again and send once more at once.
        refreshed = true;
        ctx.destination.refreshCredentials();
        stats.retries++;
        continue;
      }
      const verdict = judge(answer.status, answer.written, {
        version,
        negotiating: ctx.state.negotiating,
        sent,
        retryAuthFailures: ctx.retryAuthFailures,
      });
      switch (verdict.action) {
        case "done":
          return {
            kind: "delivered",
            ...(verdict.partial ? { partial: verdict.partial } : {}),
            ...(verdict.note ? { note: verdict.note } : {}),
          };
        case "fall-back":
          return { kind: "fall-back", why: verdict.why };
        case "refuse":
          // the destination's message is logged as it came (truncated), not interpreted
          ctx.log.warn("destination refused the request", {
            status: answer.status,
            message: answer.message,
          });
          return {
            kind: "refused",
            status: answer.status,
            message: answer.message,
            split: verdict.split,
            resent,
          };
        case "retry":
          last = `status-${answer.status}`;
          ctx.log.warn("destination answered a retryable status", {
            attempt,
            status: answer.status,
            message: answer.message,
          });
          if (answer.retryAfterMs !== undefined) ctx.state.holdFor(answer.retryAfterMs);
      }
    }
    const delay = Math.max(backoffMs(attempt, ctx.backoff, ctx.random), ctx.state.holdMs());
    const left = ctx.remainingMs() - ctx.reserveMs;
    if (left <= delay) {
      // A Retry-After beyond what is left: wait it out as far as this batch can, then stop.
      if (ctx.state.holdMs() > 0 && left > 0) await ctx.sleep(left);
      return { kind: "gave-up", reason: last };
    }
    stats.retries++;
    attempt++;
    await ctx.sleep(delay);
    waited = true;
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
