import { Agent, createServer, request } from "node:http";
import { localRequestListener } from "../../functions/local/listener";
import { apiGatewayHandler } from "../../functions/remote-write/api-gateway";
import type { RemoteWriteEndpoint } from "../../functions/remote-write/endpoint";
import { REMOTE_WRITE_PATH } from "../../lib/core/routes";
import { httpApiEvent } from "../fixtures/api-gateway";
import { listenOnLoopback } from "./listen";

/**
 * The two fronts production serves remote write through, as one interface for the suites
 * that send remote-write bodies: the local server's node:http listener
 * (functions/local/listener.ts) on 127.0.0.1, and the Lambda handler
 * (functions/remote-write/api-gateway.ts) invoked with API Gateway HTTP API events. Each
 * sends one request and gives back its status, headers (lower-case names) and body.
 */

export const LISTENER = "local server listener";
export const LAMBDA = "Lambda handler (API Gateway HTTP API)";
export const FRONT_NAMES = [LISTENER, LAMBDA] as const;
export type FrontName = (typeof FRONT_NAMES)[number];

export interface FrontRequest {
  /** Default POST. */
  readonly method?: string;
  /** Default REMOTE_WRITE_PATH. */
  readonly path?: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Uint8Array;
}

export interface FrontAnswer {
  readonly status: number;
  /** Lower-case names; several values of one header joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface Front {
  readonly name: FrontName;
  send(req: FrontRequest): Promise<FrontAnswer>;
  /** Stops what the front started (the listener's server); the Lambda front has nothing to stop. */
  close(): Promise<void>;
}

export interface ListenerOptions {
  /**
   * "close": one connection per request, closed after the answer, for requests answered
   * before their body is read. Default "keep-alive": one kept-alive connection at a time.
   */
  readonly connections?: "keep-alive" | "close";
}

/** Sends requests over HTTP to a server already listening at `url` (e.g. a started local gateway). */
export function httpFront(url: string, opts: ListenerOptions = {}): Front & { readonly url: string } {
  const agent = opts.connections === "close" ? undefined : new Agent({ keepAlive: true, maxSockets: 1 });
  const base = new URL(url);
  return {
    name: LISTENER,
    url,
    send: (req) =>
      new Promise<FrontAnswer>((resolve, reject) => {
        const headers: Record<string, string> = { ...req.headers };
        const out = request(
          {
            host: base.hostname,
            port: base.port,
            method: req.method ?? "POST",
            path: req.path ?? REMOTE_WRITE_PATH,
            headers,
            agent: agent ?? false,
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("error", reject);
            res.on("end", () => {
              const answerHeaders: Record<string, string> = {};
              for (const [name, value] of Object.entries(res.headers)) {
                if (value !== undefined)
                  answerHeaders[name] = Array.isArray(value) ? value.join(", ") : value;
              }
              resolve({
                status: res.statusCode ?? 0,
                headers: answerHeaders,
                body: Buffer.concat(chunks).toString("utf8"),
              });
            });
          },
        );
        out.on("error", reject);
        out.end(
          req.body === undefined
            ? undefined
            : Buffer.from(req.body.buffer, req.body.byteOffset, req.body.length),
        );
      }),
    async close() {
      agent?.destroy();
    },
  };
}

/**
 * The local server's listener over `endpoint`, on 127.0.0.1 with a free port. Paths other
 * than the remote-write ones get the 404 the listener's fallback gives (the local server
 * hands them to the mirror and health apps, which are not remote write).
 */
export async function startListenerFront(
  endpoint: RemoteWriteEndpoint,
  opts: ListenerOptions = {},
): Promise<Front & { readonly url: string }> {
  const notFound = () => new Response("404 Not Found", { status: 404 });
  const listening = await listenOnLoopback(createServer(localRequestListener(endpoint, notFound)));
  const http = httpFront(listening.url, opts);
  return {
    ...http,
    async close() {
      await http.close();
      await listening.close();
    },
  };
}

export interface LambdaOptions {
  /** What the invocation's context says is left (default 30 s, API Gateway's longest wait). */
  readonly remainingMs?: number;
}

/**
 * The Lambda handler over `endpoint` (or an `apiGatewayHandler` already built), invoked with
 * API Gateway HTTP API (payload 2.0) events, bodies base64 as API Gateway sends binary.
 */
export function lambdaFront(
  endpoint: RemoteWriteEndpoint | ReturnType<typeof apiGatewayHandler>,
  opts: LambdaOptions = {},
): Front {
  const handler = typeof endpoint === "function" ? endpoint : apiGatewayHandler(endpoint);
  const remaining = opts.remainingMs ?? 30_000;
  return {
    name: LAMBDA,
    async send(req) {
      const path = req.path ?? REMOTE_WRITE_PATH;
      const event = httpApiEvent(
        path,
        { ...req.headers },
        req.body ?? new Uint8Array(0),
        req.method ?? "POST",
      );
      if (req.body === undefined) {
        event.body = undefined;
        event.isBase64Encoded = false;
      }
      const result = await handler(event, { getRemainingTimeInMillis: () => remaining });
      if (typeof result !== "object" || result === null || !("statusCode" in result)) {
        throw new Error(
          `the handler answered something that is not a proxy result: ${JSON.stringify(result)}`,
        );
      }
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(result.headers ?? {}))
        headers[name.toLowerCase()] = String(value);
      for (const [name, values] of Object.entries(
        (result as { multiValueHeaders?: Record<string, unknown[]> }).multiValueHeaders ?? {},
      )) {
        headers[name.toLowerCase()] = values.map(String).join(", ");
      }
      return { status: result.statusCode ?? 0, headers, body: result.body ?? "" };
    },
    async close() {},
  };
}

/** Both fronts over one endpoint: the listener started, the Lambda handler ready. */
export async function startFronts(
  endpoint: RemoteWriteEndpoint,
  opts: ListenerOptions & LambdaOptions = {},
): Promise<Front[]> {
  return [await startListenerFront(endpoint, opts), lambdaFront(endpoint, opts)];
}
