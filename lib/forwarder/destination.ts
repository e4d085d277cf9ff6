import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { Version } from "./records";
import type { Destination, DestinationAnswer } from "./send";
import { parseWritten, type WrittenCounts } from "./status";

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

/**
 * What an HTTP transport returns: the status, the Retry-After header, the written counts of
 * a 2.0 receiver (absent when it sent none) and the start of the body.
 */
export interface TransportAnswer {
  readonly status: number;
  readonly retryAfter: string | null;
  readonly written?: WrittenCounts;
  readonly text: string;
}

export type Transport = (
  url: URL,
  headers: Record<string, string>,
  body: Uint8Array,
  signal: AbortSignal,
) => Promise<TransportAnswer>;

const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 16 });
const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 16 });
/** The part of an answer's body kept for logs and dead letters. */
const ANSWER_BYTES = 1024;

/**
 * POST over node:http(s) with keep-alive connections: about a third of fetch's CPU per
 * request, which is most of the forwarder's cost when records are not merged. Redirects
 * are not followed (a 3xx is an answer like any other).
 */
export const nodeTransport: Transport = (url, headers, body, signal) =>
  new Promise((resolve, reject) => {
    const https = url.protocol === "https:";
    const req = (https ? httpsRequest : httpRequest)(
      url,
      {
        method: "POST",
        agent: https ? httpsAgent : httpAgent,
        headers: { ...headers, "content-length": String(body.length) },
        signal,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        res.on("data", (chunk: Buffer) => {
          if (kept < ANSWER_BYTES) {
            chunks.push(chunk);
            kept += chunk.length;
          }
        });
        res.on("end", () => {
          const header = (name: string) => {
            const value = res.headers[name];
            return typeof value === "string" ? value : null;
          };
          const written = parseWritten(header);
          resolve({
            status: res.statusCode ?? 0,
            retryAfter: header("retry-after"),
            ...(written !== undefined ? { written } : {}),
            text: Buffer.concat(chunks).subarray(0, ANSWER_BYTES).toString("utf8"),
          });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });

/** A Remote-Write endpoint over HTTP(S). */
export class HttpDestination implements Destination {
  private readonly url: URL;

  constructor(
    url: string,
    private readonly auth: Authorizer = NO_AUTH,
    private readonly transport: Transport = nodeTransport,
  ) {
    this.url = new URL(url);
  }

  async send(body: Uint8Array, version: Version, signal: AbortSignal): Promise<DestinationAnswer> {
    const headers: Record<string, string> = { ...REMOTE_WRITE_HEADERS[version], "user-agent": USER_AGENT };
    Object.assign(headers, await this.auth.headers({ url: this.url, headers: { ...headers }, body }));
    const answer = await this.transport(this.url, headers, body, signal);
    const retryAfterMs = parseRetryAfter(answer.retryAfter);
    return {
      status: answer.status,
      message: answer.text.slice(0, 200).trim(),
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      ...(answer.written !== undefined ? { written: answer.written } : {}),
    };
  }

  refreshCredentials(): void {
    this.auth.refresh?.();
  }
}

/** Retry-After as seconds or an HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`), in ms from now. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  const text = value?.trim() ?? "";
  if (text === "") return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // a date names its month or weekday; a bare number with a dot or sign is no Retry-After
  if (!/[A-Za-z]/.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
