import { echo } from "../core/errors";
import { BodyReadError, type CappedBody, closeCutJson, readCapped, type StopAfter } from "./answer-read";
import { answerTooLarge, MirrorError, queryRejected, storeTimeout, storeUnavailable } from "./errors";
import type { PrometheusTarget } from "./targets";

/**
 * Calls to Prometheus's HTTP API. Every call carries the request timeout, which covers the
 * connection, the headers and the whole body, and every answer is read within a byte cap
 * (see answer-read.ts). Every failure is classified: refused / DNS / other network errors and
 * HTTP errors are 502, a timeout is 504, a query Prometheus itself rejects (bad_data,
 * execution) is 400, and an answer over the cap is 400 `answer-too-large` unless the caller
 * takes what fits (lists, and the series of a query known to select one series).
 *
 * About 450 lines: one method per Prometheus API call the mirror makes (health, labels,
 * values, series, query, query_range), each with its own bound and failure classification,
 * sharing the reading and classification code here.
 */

/** One series: its labels and its points, timestamps (ms) and values side by side. */
export interface Series {
  readonly labels: Record<string, string>;
  readonly times: Float64Array;
  readonly values: Float64Array;
}

/** An answer that may have been cut at the byte cap or at a `limit`: `truncated` says so. */
export interface Cut<T> {
  readonly items: T;
  /** More was there than `items` holds. */
  readonly truncated: boolean;
}

type ApiAnswer = {
  status?: string;
  data?: unknown;
  errorType?: string;
  error?: string;
  message?: string;
  Message?: string;
};

/**
 * Signs an outgoing GET (e.g. SigV4 for Amazon Managed Prometheus): given the exact URL that
 * goes on the wire, returns the headers to send with it.
 */
export type RequestSigner = (request: { method: "GET"; url: URL }) => Promise<Record<string, string>>;

/**
 * The default cap on one answer read from Prometheus (MIRROR_MAX_ANSWER_BYTES): 16 MiB. Parsing
 * an answer takes about 5 times its size in heap at its peak (docs/performance.md), so two
 * answers this large parsed at once take under 200 MB of a Lambda's 512 MB; an answer the mirror
 * can use (one series: at most 11,000 points of a range query, about 300 KB) is far smaller.
 */
export const DEFAULT_MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/**
 * How deep a cut answer is cut (see closeCutJson): the lists of series, names and values
 * and a matrix series' `values` (depth 5) are cut between elements, `[time, "value"]` pairs
 * never.
 */
const CUT_DEPTH = 5;

export interface ClientOptions {
  readonly fetch?: typeof fetch;
  /** Signs every call; absent for a plain Prometheus. */
  readonly signer?: RequestSigner;
  /**
   * How the connection is tested: `prometheus` asks `/-/healthy` and build info; `query-api`
   * asks `api/v1/labels` (Amazon Managed Prometheus serves only the query API).
   */
  readonly health?: "prometheus" | "query-api";
  /** The most bytes of one answer that are read (default DEFAULT_MAX_ANSWER_BYTES). */
  readonly maxAnswerBytes?: number;
  /**
   * Send the `limit` parameter of the series and label APIs (Prometheus 2.51 and later honour
   * it, earlier versions ignore it). Lists are cut here at the same limit either way.
   */
  readonly sendLimits?: boolean;
}

interface Read {
  readonly data: unknown;
  readonly truncated: boolean;
}

interface ReadMode {
  /** Parse what precedes a cut instead of answering answer-too-large. */
  readonly partial: boolean;
  /** End the read after this many elements of the answer's list. */
  readonly stopAfter?: StopAfter;
}

export class PrometheusClient {
  private readonly fetchImpl: typeof fetch;
  readonly maxAnswerBytes: number;

  constructor(
    private readonly target: Pick<PrometheusTarget, "baseUrl" | "display">,
    private readonly timeoutMs: number,
    private readonly options: ClientOptions = {},
  ) {
    this.fetchImpl = options.fetch ?? fetch;
    this.maxAnswerBytes = options.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES;
  }

  /**
   * `expr` evaluated every `stepMs` from `startMs` to `endMs` (both inclusive). With
   * `partial`, an answer over the cap gives the series and points before the cut
   * (`truncated`); without, it is an `answer-too-large` error.
   */
  async queryRange(
    expr: string,
    startMs: number,
    endMs: number,
    stepMs: number,
    partial = false,
  ): Promise<Cut<Series[]>> {
    const read = await this.api(
      "/api/v1/query_range",
      {
        query: expr,
        start: seconds(startMs),
        end: seconds(endMs),
        step: seconds(stepMs),
        timeout: `${this.timeoutMs}ms`,
      },
      { partial },
    );
    return { items: parseResult(read.data), truncated: read.truncated };
  }

  /** `expr` evaluated at `timeMs`; a range selector gives the stored samples. `partial` as for queryRange. */
  async query(expr: string, timeMs: number, partial = false): Promise<Cut<Series[]>> {
    const read = await this.api(
      "/api/v1/query",
      { query: expr, time: seconds(timeMs), timeout: `${this.timeoutMs}ms` },
      { partial },
    );
    return { items: parseResult(read.data), truncated: read.truncated };
  }

  /** The label sets of at most `limit` series matching `match` in the time range. */
  async series(
    match: string,
    startMs: number,
    endMs: number,
    limit: number,
  ): Promise<Cut<Array<Record<string, string>>>> {
    const params: Record<string, string> = { "match[]": match, start: seconds(startMs), end: seconds(endMs) };
    const read = await this.api("/api/v1/series", this.limited(params, limit), this.list(limit));
    const sets = Array.isArray(read.data)
      ? read.data.filter((s): s is Record<string, string> => s !== null && typeof s === "object")
      : [];
    return cut(sets, limit, read.truncated);
  }

  /** At most `limit` label names (sorted, as Prometheus answers them). */
  async labelNames(
    match: string | undefined,
    startMs: number,
    endMs: number,
    limit: number,
  ): Promise<Cut<string[]>> {
    const params: Record<string, string> = { start: seconds(startMs), end: seconds(endMs) };
    if (match !== undefined) params["match[]"] = match;
    const read = await this.api("/api/v1/labels", this.limited(params, limit), this.list(limit));
    return cut(stringList(read.data), limit, read.truncated);
  }

  /** At most `limit` values of a label (sorted, as Prometheus answers them). */
  async labelValues(
    name: string,
    match: string | undefined,
    startMs: number,
    endMs: number,
    limit: number,
  ): Promise<Cut<string[]>> {
    const params: Record<string, string> = { start: seconds(startMs), end: seconds(endMs) };
    if (match !== undefined) params["match[]"] = match;
    const path = `/api/v1/label/${encodeURIComponent(name)}/values`;
    const read = await this.api(path, this.limited(params, limit), this.list(limit));
    return cut(stringList(read.data), limit, read.truncated);
  }

  /**
   * Metric family name → the types Prometheus's scrape metadata gives it. An answer over the
   * cap gives the families before the cut (`truncated`).
   */
  async metadataTypes(): Promise<Cut<Map<string, Set<string>>>> {
    const read = await this.api("/api/v1/metadata", {}, { partial: true });
    const out = new Map<string, Set<string>>();
    const data = read.data;
    if (data !== null && typeof data === "object") {
      for (const [name, entries] of Object.entries(data as Record<string, unknown>)) {
        if (!Array.isArray(entries)) continue;
        const types = new Set<string>();
        for (const e of entries) if (typeof e?.type === "string") types.add(e.type);
        out.set(name, types);
      }
    }
    return { items: out, truncated: read.truncated };
  }

  /**
   * Resolves when Prometheus says it is healthy and answers its build-info API; for a
   * query-API-only store, when it answers a label-names query.
   */
  async checkHealth(): Promise<string> {
    if (this.options.health === "query-api") {
      await this.api("/api/v1/labels", {}, this.list(1));
      return "query API";
    }
    await this.call("/-/healthy", {}, async (response) => {
      await response.body?.cancel().catch(() => {}); // only the status matters
      if (!response.ok) throw httpStatusError("/-/healthy", response.status);
    });
    const { data } = await this.api("/api/v1/status/buildinfo", {}, { partial: false });
    const version = (data as { version?: unknown } | null)?.version;
    return typeof version === "string" ? version : "unknown";
  }

  private limited(params: Record<string, string>, limit: number): Record<string, string> {
    return this.options.sendLimits === true ? { ...params, limit: String(limit) } : params;
  }

  /** A list answer (`data` is an array): read no further than its `limit`-th element. */
  private list(limit: number): ReadMode {
    return { partial: true, stopAfter: { depth: 2, count: limit } };
  }

  /**
   * One API call: its answer read within the cap and parsed. A cut answer is an
   * `answer-too-large` error, unless `partial`: then what precedes the cut is parsed.
   */
  private async api(path: string, params: Record<string, string>, mode: ReadMode): Promise<Read> {
    const { partial } = mode;
    return this.call(path, params, async (response, signal) => {
      const body = response.body;
      let read: CappedBody;
      try {
        read = await readCapped(body, this.maxAnswerBytes, signal, {
          keepCut: partial,
          ...(mode.stopAfter !== undefined && response.ok ? { stopAfter: mode.stopAfter } : {}),
        });
      } catch (err) {
        if (err instanceof BodyReadError) throw networkError(this.target.display, err.cause);
        throw err; // the timeout (answered by call()), or a bug
      }
      if (read.truncated) {
        if (!response.ok) throw httpStatusError(path, response.status);
        const text = partial ? closeCutJson(read.bytes, CUT_DEPTH) : undefined;
        const answer = text === undefined ? undefined : (parseJson(text) as ApiAnswer | undefined);
        if (answer?.status !== "success") throw answerTooLarge(path, this.maxAnswerBytes);
        return { data: answer.data, truncated: true };
      }
      const answer = parseJson(new TextDecoder().decode(read.bytes)) as ApiAnswer | undefined;
      if (response.ok && answer?.status === "success") return { data: answer.data, truncated: false };
      if (response.status === 503 && answer?.errorType === "timeout") throw this.timeout();
      throw answerError(path, response.status, answer);
    });
  }

  /**
   * Sends a GET and hands its response to `use`, all within the request timeout: the signal
   * given to `use` aborts when the time is up, and that ends any read of the body. A network
   * failure on the way is classified; an abort by the timeout is 504.
   */
  private async call<T>(
    path: string,
    params: Record<string, string>,
    use: (response: Response, signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const query = encodeQuery(params);
    const url = `${this.target.baseUrl}${path}${query === "" ? "" : `?${query}`}`;
    const signed =
      this.options.signer === undefined
        ? {}
        : await this.options.signer({ method: "GET", url: new URL(url) });
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    try {
      let response: Response;
      try {
        response = await this.fetchImpl(url, {
          method: "GET",
          headers: { accept: "application/json", ...signed },
          redirect: "manual",
          signal: controller.signal,
        });
      } catch (err) {
        if (controller.signal.aborted) throw this.timeout();
        throw networkError(this.target.display, err);
      }
      try {
        return await use(response, controller.signal);
      } catch (err) {
        if (controller.signal.aborted && !(err instanceof MirrorError)) throw this.timeout();
        throw err;
      }
    } finally {
      clearTimeout(timer);
      // whatever was not read is not wanted: the connection goes with it
      controller.abort();
    }
  }

  private timeout(): MirrorError {
    return storeTimeout(`Prometheus at ${this.target.display} did not answer within ${this.timeoutMs} ms`);
  }
}

function cut<T>(items: T[], limit: number, truncated: boolean): Cut<T[]> {
  return items.length > limit
    ? { items: items.slice(0, limit), truncated: true }
    : { items, truncated: truncated || items.length === limit };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The error of an answer that is not a success: Prometheus's own, or its HTTP status. */
function answerError(path: string, status: number, body: ApiAnswer | undefined): MirrorError {
  // Prometheus says `error`; AWS services (Amazon Managed Prometheus) say `message`
  const said = [body?.error, body?.message, body?.Message].find((m) => typeof m === "string");
  const error = typeof said === "string" ? said : undefined;
  if ((status === 400 || status === 422) && error !== undefined) {
    return queryRejected(`${body?.errorType ?? "error"}: ${error}`);
  }
  if (status >= 200 && status < 300) {
    return storeUnavailable("prometheus-answer-invalid", `${path} answered without a success status`);
  }
  if (status >= 300 && status < 400) {
    return storeUnavailable(
      "prometheus-redirect",
      `Prometheus answered HTTP ${status} (a redirect, not followed) for ${path}`,
    );
  }
  return httpStatusError(path, status, error);
}

/**
 * A query string in RFC 3986 form (space as %20, `!'()*` escaped): the form SigV4 signs, so
 * the bytes on the wire and the signed canonical query are the same.
 */
export function encodeQuery(params: Record<string, string>): string {
  return Object.entries(params)
    .map(([k, v]) => `${rfc3986(k)}=${rfc3986(v)}`)
    .join("&");
}

function rfc3986(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

function httpStatusError(path: string, status: number, error?: string): MirrorError {
  const hint = status === 404 ? " (is pathPrefix right?)" : "";
  const extra = error === undefined ? "" : `: ${echo(error, 200)}`;
  return storeUnavailable(
    "prometheus-http-error",
    `Prometheus answered HTTP ${status} for ${path}${hint}${extra}`,
  );
}

/** Names the network failure (refused, DNS, reset, TLS) from the error's cause code. */
export function networkError(display: string, err: unknown): MirrorError {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  const code = typeof cause?.code === "string" ? cause.code : undefined;
  switch (code) {
    case "ECONNREFUSED":
      return storeUnavailable("prometheus-refused", `connection to Prometheus at ${display} was refused`);
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_NONAME":
      return storeUnavailable("prometheus-dns", `DNS lookup failed for the Prometheus host of ${display}`);
    case "ECONNRESET":
    case "UND_ERR_SOCKET":
      return storeUnavailable("prometheus-reset", `Prometheus at ${display} closed the connection`);
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return storeUnavailable("prometheus-unreachable", `Prometheus at ${display} is unreachable`);
    default: {
      const what = code ?? (typeof cause?.message === "string" ? echo(cause.message, 100) : "network error");
      return storeUnavailable("prometheus-unreachable", `could not reach Prometheus at ${display} (${what})`);
    }
  }
}

function stringList(data: unknown): string[] {
  return Array.isArray(data) ? data.filter((v): v is string => typeof v === "string") : [];
}

/** Prometheus sample values are strings: "1.5", "NaN", "+Inf", "-Inf". */
export function sampleValue(raw: unknown): number {
  if (raw === "+Inf" || raw === "Inf") return Number.POSITIVE_INFINITY;
  if (raw === "-Inf") return Number.NEGATIVE_INFINITY;
  return Number(raw);
}

/** A series from [seconds, "value"] pairs, into compact arrays (16 bytes a point). */
function seriesOf(labels: Record<string, string> | undefined, pairs: readonly unknown[]): Series {
  const times = new Float64Array(pairs.length);
  const values = new Float64Array(pairs.length);
  let n = 0;
  for (const pair of pairs) {
    if (!Array.isArray(pair)) continue;
    times[n] = Math.round(Number(pair[0]) * 1000);
    values[n] = sampleValue(pair[1]);
    n++;
  }
  return {
    labels: labels ?? {},
    times: n === pairs.length ? times : times.slice(0, n),
    values: n === pairs.length ? values : values.slice(0, n),
  };
}

/** Normalizes matrix, vector and scalar results into series. */
export function parseResult(data: unknown): Series[] {
  const { resultType, result } = (data ?? {}) as { resultType?: string; result?: unknown };
  if (resultType === "scalar" || resultType === "string") {
    return resultType === "scalar" ? [seriesOf({}, [result])] : [];
  }
  if (!Array.isArray(result)) {
    throw storeUnavailable("prometheus-answer-invalid", "Prometheus answered with an unexpected result");
  }
  return result.map((item: { metric?: Record<string, string>; values?: unknown[]; value?: unknown }) =>
    seriesOf(
      item?.metric,
      resultType === "matrix"
        ? Array.isArray(item?.values)
          ? item.values
          : []
        : item?.value
          ? [item.value]
          : [],
    ),
  );
}
