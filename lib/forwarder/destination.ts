import type { Destination, DestinationAnswer } from "./forward";
import type { Version } from "./records";

/** The headers of a Remote-Write request, per protocol version. */
export const REMOTE_WRITE_HEADERS: Record<Version, Readonly<Record<string, string>>> = {
  v1: {
    "content-type": "application/x-protobuf",
    "content-encoding": "snappy",
    "x-prometheus-remote-write-version": "0.1.0",
  },
  v2: {
    "content-type": "application/x-protobuf;proto=io.prometheus.write.v2.Request",
    "content-encoding": "snappy",
    "x-prometheus-remote-write-version": "2.0.0",
  },
};

export const USER_AGENT = "prometheus-kinesis-gateway-forwarder/0.1";

/** A request about to be sent, which an authorizer may add headers to (or sign). */
export interface OutgoingRequest {
  readonly url: URL;
  readonly headers: Record<string, string>;
  readonly body: Uint8Array;
}

export interface Authorizer {
  /** Returns the headers to add to the request. */
  headers(request: OutgoingRequest): Promise<Record<string, string>>;
  refresh?(): void;
}

export const NO_AUTH: Authorizer = { headers: async () => ({}) };

/** A Remote-Write endpoint over HTTP(S), reached with fetch. */
export class HttpDestination implements Destination {
  private readonly url: URL;

  constructor(
    url: string,
    private readonly auth: Authorizer = NO_AUTH,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {
    this.url = new URL(url);
  }

  async send(body: Uint8Array, version: Version, signal: AbortSignal): Promise<DestinationAnswer> {
    const headers: Record<string, string> = { ...REMOTE_WRITE_HEADERS[version], "user-agent": USER_AGENT };
    Object.assign(headers, await this.auth.headers({ url: this.url, headers: { ...headers }, body }));
    const res = await this.fetchImpl(this.url, { method: "POST", headers, body, signal, redirect: "manual" });
    const text = await res.text().catch(() => "");
    const retryAfterMs = parseRetryAfter(res.headers.get("retry-after"));
    return {
      status: res.status,
      message: text.slice(0, 200).trim(),
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    };
  }

  refreshCredentials(): void {
    this.auth.refresh?.();
  }
}

/** Retry-After as seconds or an HTTP date, in ms from now. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
