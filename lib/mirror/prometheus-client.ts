import { echo } from "../core/errors";
import { type MirrorError, queryRejected, storeTimeout, storeUnavailable } from "./errors";
import type { PrometheusTarget } from "./targets";

/**
 * Calls to Prometheus's HTTP API. Every call carries the request timeout (AbortSignal) and
 * every failure is classified: refused / DNS / other network errors and HTTP errors are 502,
 * a timeout is 504, and a query Prometheus itself rejects (bad_data, execution) is 400.
 */

/** One series: its labels and its points as [timestamp ms, value]. */
export interface Series {
  readonly labels: Record<string, string>;
  readonly points: Array<[number, number]>;
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

export interface ClientOptions {
  readonly fetch?: typeof fetch;
  /** Signs every call; absent for a plain Prometheus. */
  readonly signer?: RequestSigner;
  /**
   * How the connection is tested: `prometheus` asks `/-/healthy` and build info; `query-api`
   * asks `api/v1/labels` (Amazon Managed Prometheus serves only the query API).
   */
  readonly health?: "prometheus" | "query-api";
}

export class PrometheusClient {
  private readonly fetchImpl: typeof fetch;

  constructor(
    private readonly target: Pick<PrometheusTarget, "baseUrl" | "display">,
    private readonly timeoutMs: number,
    private readonly options: ClientOptions = {},
  ) {
    this.fetchImpl = options.fetch ?? fetch;
  }

  /** `expr` evaluated every `stepMs` from `startMs` to `endMs` (both inclusive). */
  async queryRange(expr: string, startMs: number, endMs: number, stepMs: number): Promise<Series[]> {
    const data = await this.api("/api/v1/query_range", {
      query: expr,
      start: seconds(startMs),
      end: seconds(endMs),
      step: seconds(stepMs),
      timeout: `${this.timeoutMs}ms`,
    });
    return parseResult(data);
  }

  /** `expr` evaluated at `timeMs`; a range selector gives the stored samples. */
  async query(expr: string, timeMs: number): Promise<Series[]> {
    const data = await this.api("/api/v1/query", {
      query: expr,
      time: seconds(timeMs),
      timeout: `${this.timeoutMs}ms`,
    });
    return parseResult(data);
  }

  async labelNames(match: string | undefined, startMs: number, endMs: number): Promise<string[]> {
    const params: Record<string, string> = { start: seconds(startMs), end: seconds(endMs) };
    if (match !== undefined) params["match[]"] = match;
    return stringList(await this.api("/api/v1/labels", params));
  }

  async labelValues(
    name: string,
    match: string | undefined,
    startMs: number,
    endMs: number,
  ): Promise<string[]> {
    const params: Record<string, string> = { start: seconds(startMs), end: seconds(endMs) };
    if (match !== undefined) params["match[]"] = match;
    return stringList(await this.api(`/api/v1/label/${encodeURIComponent(name)}/values`, params));
  }

  /** Metric family name → the types Prometheus's scrape metadata gives it. */
  async metadataTypes(): Promise<Map<string, Set<string>>> {
    const data = await this.api("/api/v1/metadata", {});
    const out = new Map<string, Set<string>>();
    if (data === null || typeof data !== "object") return out;
    for (const [name, entries] of Object.entries(data as Record<string, unknown>)) {
      if (!Array.isArray(entries)) continue;
      const types = new Set<string>();
      for (const e of entries) if (typeof e?.type === "string") types.add(e.type);
      out.set(name, types);
    }
    return out;
  }

  /**
   * Resolves when Prometheus says it is healthy and answers its build-info API; for a
   * query-API-only store, when it answers a label-names query.
   */
  async checkHealth(): Promise<string> {
    if (this.options.health === "query-api") {
      await this.api("/api/v1/labels", {});
      return "query API";
    }
    const healthy = await this.get("/-/healthy", {});
    await healthy.body?.cancel().catch(() => {}); // only the status matters
    if (!healthy.ok) throw httpStatusError("/-/healthy", healthy.status);
    const data = await this.api("/api/v1/status/buildinfo", {});
    const version = (data as { version?: unknown } | null)?.version;
    return typeof version === "string" ? version : "unknown";
  }

  private async api(path: string, params: Record<string, string>): Promise<unknown> {
    const response = await this.get(path, params);
    let body: ApiAnswer | undefined;
    try {
      body = (await response.json()) as ApiAnswer;
    } catch (err) {
      if (isTimeout(err)) throw this.timeout();
      body = undefined;
    }
    if (response.ok && body?.status === "success") return body.data;
    // Prometheus says `error`; AWS services (Amazon Managed Prometheus) say `message`
    const said = [body?.error, body?.message, body?.Message].find((m) => typeof m === "string");
    const error = typeof said === "string" ? said : undefined;
    if ((response.status === 400 || response.status === 422) && error !== undefined) {
      throw queryRejected(`${body?.errorType ?? "error"}: ${error}`);
    }
    if (response.status === 503 && body?.errorType === "timeout") throw this.timeout();
    if (response.ok) {
      throw storeUnavailable("prometheus-answer-invalid", `${path} answered without a success status`);
    }
    if (response.status >= 300 && response.status < 400) {
      throw storeUnavailable(
        "prometheus-redirect",
        `Prometheus answered HTTP ${response.status} (a redirect, not followed) for ${path}`,
      );
    }
    throw httpStatusError(path, response.status, error);
  }

  private async get(path: string, params: Record<string, string>): Promise<Response> {
    const query = encodeQuery(params);
    const url = `${this.target.baseUrl}${path}${query === "" ? "" : `?${query}`}`;
    const signed =
      this.options.signer === undefined
        ? {}
        : await this.options.signer({ method: "GET", url: new URL(url) });
    try {
      return await this.fetchImpl(url, {
        method: "GET",
        headers: { accept: "application/json", ...signed },
        redirect: "manual",
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      if (isTimeout(err)) throw this.timeout();
      throw networkError(this.target.display, err);
    }
  }

  private timeout(): MirrorError {
    return storeTimeout(`Prometheus at ${this.target.display} did not answer within ${this.timeoutMs} ms`);
  }
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

function isTimeout(err: unknown): boolean {
  return err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
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

function point(pair: unknown): [number, number] {
  const [t, v] = pair as [number, unknown];
  return [Math.round(Number(t) * 1000), sampleValue(v)];
}

/** Normalizes matrix, vector and scalar results into series. */
export function parseResult(data: unknown): Series[] {
  const { resultType, result } = (data ?? {}) as { resultType?: string; result?: unknown };
  if (resultType === "scalar" || resultType === "string") {
    return resultType === "scalar" ? [{ labels: {}, points: [point(result)] }] : [];
  }
  if (!Array.isArray(result)) {
    throw storeUnavailable("prometheus-answer-invalid", "Prometheus answered with an unexpected result");
  }
  return result.map((item: { metric?: Record<string, string>; values?: unknown[]; value?: unknown }) => ({
    labels: item.metric ?? {},
    points: resultType === "matrix" ? (item.values ?? []).map(point) : item.value ? [point(item.value)] : [],
  }));
}
