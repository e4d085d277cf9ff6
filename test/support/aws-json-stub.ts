import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import { listenOnLoopback } from "./listen";
import {
  parseAmzDate,
  readBody,
  type SigV4Failure,
  type StandInCredentials,
  verifySigV4,
} from "./sigv4-verify";

/**
 * A local stand-in for an AWS API of the JSON protocol (Kinesis, Secrets Manager) on
 * 127.0.0.1. With `verify`, every request's SigV4 signature is checked with the AWS signing
 * library first and refused as AWS refuses it (HTTP 400, `UnrecognizedClientException` for an
 * unknown key or token, `InvalidSignatureException` otherwise; a signing time more than 5
 * minutes from the stand-in's clock is "Signature expired: …" or "Signature not yet
 * current: …", as Kinesis and Secrets Manager word it). Then `answer` decides, per call: a
 * JSON answer with any status and headers (awaited: it may forward the call to a real API), a
 * connection reset, or no answer at all. Every
 * answer carries a `Date` of the stand-in's clock, which `clockOffsetMs` can set apart from
 * this machine's. Used to inject the error shapes a real service returns but kinesis-local
 * cannot produce.
 */

export interface StubCall {
  /** `X-Amz-Target`, e.g. `Kinesis_20131202.PutRecords`. */
  readonly target: string;
  readonly contentType: string;
  // biome-ignore lint/suspicious/noExplicitAny: the parsed JSON body, read freely by tests
  readonly body: any;
  readonly accessKeyId?: string;
  /** The request's headers as they came (a stand-in that forwards the call passes them on). */
  readonly headers: IncomingHttpHeaders;
  /** Why the signature was refused, when it was. */
  readonly refused?: SigV4Failure;
  /** The error answered for a refused signature: its code and message. */
  readonly refusal?: { readonly code: string; readonly message: string };
  /** 1-based number of this call. */
  readonly n: number;
}

export type StubAnswer =
  | { readonly status?: number; readonly body?: unknown; readonly headers?: Record<string, string> }
  | "reset"
  | "hang";

export interface AwsJsonStubOptions {
  readonly answer: (call: StubCall) => StubAnswer | Promise<StubAnswer>;
  readonly verify?: {
    readonly service: string;
    readonly region: string;
    readonly credentials: readonly StandInCredentials[];
  };
  /** The stand-in's clock minus this machine's, in ms (default 0): a server whose clock is elsewhere. */
  readonly clockOffsetMs?: number;
}

export interface AwsJsonStub {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly calls: StubCall[];
  close(): Promise<void>;
}

/** AWS allows a signing time this far from its own clock, either way. */
const MAX_SKEW_MS = 5 * 60_000;

export async function startAwsJsonStub(opts: AwsJsonStubOptions): Promise<AwsJsonStub> {
  const calls: StubCall[] = [];
  const now = () => Date.now() + (opts.clockOffsetMs ?? 0);
  // the stand-in's clock, unless the answer brings its own Date
  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
    reply(res, status, body, {
      ...(Object.keys(headers).some((h) => h.toLowerCase() === "date")
        ? {}
        : { date: new Date(now()).toUTCString() }),
      ...headers,
    });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const raw = await readBody(req);
    const target = String(req.headers["x-amz-target"] ?? "");
    const contentType = String(req.headers["content-type"] ?? "");
    const body = raw.length ? JSON.parse(raw.toString("utf8")) : {};
    let accessKeyId: string | undefined;
    if (opts.verify !== undefined) {
      const verdict = await verifySigV4(req, raw, { ...opts.verify, maxSkewMs: MAX_SKEW_MS, now });
      accessKeyId = verdict.accessKeyId;
      if (!verdict.ok) {
        const unknown = verdict.failure === "unknown-key" || verdict.failure === "wrong-token";
        const refusal = {
          code: unknown ? "UnrecognizedClientException" : "InvalidSignatureException",
          message: unknown
            ? "The security token included in the request is invalid."
            : verdict.failure === "expired"
              ? signatureTimeMessage(String(req.headers["x-amz-date"]), now())
              : `Signature refused (${verdict.failure})`,
        };
        calls.push({
          target,
          contentType,
          body,
          accessKeyId,
          headers: req.headers,
          refused: verdict.failure,
          refusal,
          n: calls.length + 1,
        });
        return send(res, 400, { __type: refusal.code, message: refusal.message });
      }
    }
    const call: StubCall = {
      target,
      contentType,
      body,
      accessKeyId,
      headers: req.headers,
      n: calls.length + 1,
    };
    calls.push(call);
    const answer = await opts.answer(call);
    if (answer === "reset") return req.socket.destroy();
    if (answer === "hang") return;
    send(res, answer.status ?? 200, answer.body ?? {}, answer.headers);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(`stub failed: ${err.message}`);
    });
  });
  const { url, close } = await listenOnLoopback(server);
  return { url, calls, close };
}

/** AWS's words for a signing time (`X-Amz-Date`) outside ±5 minutes of its clock. */
function signatureTimeMessage(amzDate: string, serverNow: number): string {
  const stamp = (ms: number) => new Date(ms).toISOString().replace(/[-:]|\.\d{3}/g, "");
  const signed = parseAmzDate(amzDate)?.getTime() ?? 0;
  return signed < serverNow
    ? `Signature expired: ${amzDate} is now earlier than ${stamp(serverNow - MAX_SKEW_MS)} (${stamp(serverNow)} - 5 min.)`
    : `Signature not yet current: ${amzDate} is still later than ${stamp(serverNow + MAX_SKEW_MS)} (${stamp(serverNow)} + 5 min.)`;
}

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string>) {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/x-amz-json-1.1",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}
