import type { V2Counts } from "./convert";
import type { Version } from "./records";

/**
 * The forwarder's status table: what it does with each answer of the destination. It
 * follows the Remote-Write specifications and the sender suite of prometheus/compliance
 * (remotewrite/sender): 2xx is done; 5xx and 429 are retried with backoff; 4xx is not
 * retried; a 2.0 request answered 415, or 2xx without the written counts (what a 1.0
 * receiver does with a body it cannot read), is sent again as 1.0 (docs/forwarder.md).
 */

/** The written counts a 2.0 receiver answers (`X-Prometheus-Remote-Write-*-Written`), where present. */
export interface WrittenCounts {
  readonly samples?: number;
  readonly histograms?: number;
  readonly exemplars?: number;
}

export const WRITTEN_HEADERS = {
  samples: "x-prometheus-remote-write-samples-written",
  histograms: "x-prometheus-remote-write-histograms-written",
  exemplars: "x-prometheus-remote-write-exemplars-written",
} as const;

export type Verdict =
  /**
   * The records are delivered. `partial`: the receiver says it wrote less than was sent;
   * `note`: something worth a log line.
   */
  | { readonly action: "done"; readonly partial?: string; readonly note?: string }
  /** The destination does not take 2.0: send the records again as 1.0. */
  | { readonly action: "fall-back"; readonly why: string }
  /** May succeed later: back off and send again. */
  | { readonly action: "retry" }
  /**
   * Refused for good. `split`: the answer may be about one of the records (400, 413…), so a
   * merged request is sent again record by record; otherwise (401, 403, 404, 415, 3xx) it is
   * about the endpoint or the credentials and holds for every record alike.
   */
  | { readonly action: "refuse"; readonly split: boolean };

export interface AnswerContext {
  readonly version: Version;
  /** Whether the destination's version is being negotiated (protocol `auto`). */
  readonly negotiating: boolean;
  /** What a 2.0 request held, computed only when a 2xx needs checking. */
  readonly sent?: () => V2Counts;
  /** Retry 401 and 403 like 5xx (while a secret is put in place) instead of refusing. */
  readonly retryAuthFailures: boolean;
}

export function isAuthFailure(status: number): boolean {
  return status === 401 || status === 403;
}

/** Whether the status may succeed when the same request is sent again later (5xx, 429). */
export function retryable(status: number): boolean {
  return status >= 500 || status === 429;
}

export function judge(status: number, written: WrittenCounts | undefined, ctx: AnswerContext): Verdict {
  if (status >= 200 && status < 300) return success(written, ctx);
  if (retryable(status)) return { action: "retry" };
  if (status === 415 && ctx.version === "v2" && ctx.negotiating)
    return { action: "fall-back", why: "415 to a 2.0 request" };
  if (isAuthFailure(status))
    return ctx.retryAuthFailures ? { action: "retry" } : { action: "refuse", split: false };
  if (status === 404 || status === 415 || (status >= 300 && status < 400))
    return { action: "refuse", split: false };
  if (status >= 400) return { action: "refuse", split: true };
  // 1xx or no status at all: not an answer to act on
  return { action: "retry" };
}

/**
 * A 2xx to a 1.0 request is done. To a 2.0 request, the receiver must say what it wrote: no
 * written counts at all, or counts saying nothing was written, mean a receiver that read the
 * body as something else (a 1.0 receiver ignoring Content-Type, as Prometheus 2.x does,
 * answers 204 and drops it): the records go again as 1.0. Counts that confirm part of the
 * samples or histograms sent are a partial write, as Prometheus's own sender reads them:
 * done and counted, not a reason to change versions (a 1.0 resend would not store what the
 * receiver refused); fewer exemplars only is noted. With the version forced, a 2xx is done;
 * missing counts are only noted.
 */
function success(written: WrittenCounts | undefined, ctx: AnswerContext): Verdict {
  if (ctx.version !== "v2" || ctx.sent === undefined) return { action: "done" };
  const sent = ctx.sent();
  if (sent.samples + sent.histograms + sent.exemplars === 0) return { action: "done" };
  const samples = written?.samples ?? 0;
  const histograms = written?.histograms ?? 0;
  const exemplars = written?.exemplars ?? 0;
  const said = `${samples} of ${sent.samples} samples, ${histograms} of ${sent.histograms} histograms, ${exemplars} of ${sent.exemplars} exemplars written`;
  if (written === undefined || samples + histograms + exemplars === 0) {
    const why = written === undefined ? "2xx without written counts to a 2.0 request" : `2xx saying ${said}`;
    return ctx.negotiating ? { action: "fall-back", why } : { action: "done", note: why };
  }
  if (samples < sent.samples || histograms < sent.histograms) return { action: "done", partial: said };
  // receivers drop exemplars by design (Prometheus without exemplar storage): worth a note only
  if (exemplars < sent.exemplars) return { action: "done", note: said };
  return { action: "done" };
}

/** Reads the written-count headers; undefined when none of the three is present and numeric. */
export function parseWritten(header: (name: string) => string | null | undefined): WrittenCounts | undefined {
  const read = (name: string) => {
    const v = header(name)?.trim();
    return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
  };
  const samples = read(WRITTEN_HEADERS.samples);
  const histograms = read(WRITTEN_HEADERS.histograms);
  const exemplars = read(WRITTEN_HEADERS.exemplars);
  if (samples === undefined && histograms === undefined && exemplars === undefined) return undefined;
  return {
    ...(samples !== undefined ? { samples } : {}),
    ...(histograms !== undefined ? { histograms } : {}),
    ...(exemplars !== undefined ? { exemplars } : {}),
  };
}
