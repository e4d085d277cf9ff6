import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
} from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider, HttpRequest } from "@smithy/types";
import { echo } from "../core/errors";
import type { Logger } from "../core/log";
import type { AwsJsonService } from "./aws-endpoints";
import { NodeSha256 } from "./node-sha256";

/**
 * A small client for AWS APIs of the JSON protocol (Kinesis, Secrets Manager, DynamoDB): one
 * signed POST per call, `X-Amz-Target: <prefix>.<Operation>`, `Content-Type:
 * application/x-amz-json-1.1` (1.0 for DynamoDB, the service says which), over HTTP/1.1 keep-alive connections (local Kinesis servers
 * need HTTP/1.1). Signed with the AWS SDK's own SigV4 signer, hashing with node:crypto.
 * An error answer becomes an AwsServiceError whose `name` is the bare error code, as the
 * SDK names its exceptions; a transport failure is the Node error as it came.
 *
 * As the SDK does: a refusal for the signing time (clock skew) sets the client's clock by
 * the answer's `Date` and sends the call again at once; refused credentials are never
 * retried.
 *
 * About 420 lines: the call, its signing, its retry on a clock skew and the mapping of AWS
 * error answers are one protocol, kept together; the choice of endpoint is apart
 * (aws-endpoints.ts).
 */

// The services and their endpoints, where callers have always found them.
export {
  type AwsJsonService,
  DYNAMODB_SERVICE,
  type EndpointVariant,
  KINESIS_SERVICE,
  SECRETS_MANAGER_SERVICE,
  serviceEndpoint,
} from "./aws-endpoints";

/** Refusals that say the request's signing time was off by more than AWS allows. */
const CLOCK_SKEW_CODES = new Set(["RequestTimeTooSkewed", "RequestExpired", "RequestInTheFuture"]);
/** How Kinesis and Secrets Manager word a signature refused for its time (InvalidSignatureException). */
const SIGNATURE_TIME = /Signature expired|Signature not yet current/;
/**
 * Refusals the SDK also takes for clock skew (its CLOCK_SKEW_ERROR_CODES) when the answer's
 * `Date` is at least SKEW_THRESHOLD_MS from the clock the request was signed with.
 */
const MAYBE_CLOCK_SKEW_CODES = new Set([
  ...CLOCK_SKEW_CODES,
  "InvalidSignatureException",
  "SignatureDoesNotMatch",
  "AuthFailure",
  "AccessDeniedException",
]);
const SKEW_THRESHOLD_MS = 4 * 60_000;
/** The SDK ignores the `Date` of an answer that took longer than this. */
const MAX_DATE_AGE_MS = 15 * 60_000;

/** Refusals of the caller's credentials or signature: no retry can cure them. */
const CREDENTIAL_CODES = new Set([
  "ExpiredToken",
  "ExpiredTokenException",
  "UnrecognizedClientException",
  "InvalidClientTokenId",
  "InvalidSignatureException",
  "SignatureDoesNotMatch",
  "IncompleteSignature",
  "IncompleteSignatureException",
  "MissingAuthenticationToken",
  "MissingAuthenticationTokenException",
  "AuthFailure",
  "AccessDeniedException",
]);

/**
 * True for an error code (with its message) that says the request's signing time was off:
 * `RequestTimeTooSkewed`, `RequestExpired`, `RequestInTheFuture`, or an
 * `InvalidSignatureException` whose message says "Signature expired" (or "not yet current").
 */
export function isClockSkewError(name: string, message = ""): boolean {
  return CLOCK_SKEW_CODES.has(name) || (name === "InvalidSignatureException" && SIGNATURE_TIME.test(message));
}

/**
 * True for an error code (with its message) by which AWS refused the credentials: an expired
 * or unknown token or key, a bad or missing signature (but not one refused for its time,
 * isClockSkewError), access denied. The client never retries these.
 */
export function isCredentialError(name: string, message = ""): boolean {
  return CREDENTIAL_CODES.has(name) && !isClockSkewError(name, message);
}

/** An error answer of an AWS API. `name` is the bare error code (e.g. `ResourceNotFoundException`). */
export class AwsServiceError extends Error {
  constructor(
    name: string,
    message: string,
    readonly statusCode: number,
    readonly requestId?: string,
  ) {
    super(message);
    this.name = name;
  }
}

export interface AwsJsonClientOptions {
  readonly service: AwsJsonService;
  readonly region: string;
  /** Base URL, e.g. from serviceEndpoint(). */
  readonly endpoint: string;
  readonly credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Upper bound for one attempt, connection to last byte (default 30 s). */
  readonly timeoutMs?: number;
  /** Upper bound for opening a connection (default 2 s). */
  readonly connectTimeoutMs?: number;
  /**
   * Attempts per call (default 1). Further attempts follow a transport failure, a 5xx or
   * throttling, after a short jittered pause; never after the caller's signal aborted, nor
   * after a refusal of the credentials. A refusal for clock skew is sent again once, at
   * once, with the corrected clock, beyond this count.
   */
  readonly maxAttempts?: number;
  /** Connections kept per host (default 64). */
  readonly maxSockets?: number;
  /** Where a refusal of the credentials is logged (one line per call; never a key or a signature). */
  readonly log?: Logger;
}

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

const RETRYABLE_CODES = new Set([
  "ThrottlingException",
  "Throttling",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "ProvisionedThroughputExceededException",
  "LimitExceededException",
]);

export class AwsJsonClient {
  private readonly url: URL;
  private readonly signer: SignatureV4;
  private readonly agent: HttpAgent;
  private readonly send: typeof httpRequest;
  private readonly timeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly maxAttempts: number;
  private readonly path: string;
  private clockOffset = 0;

  constructor(private readonly opts: AwsJsonClientOptions) {
    this.url = new URL(opts.endpoint);
    if (this.url.protocol !== "https:" && this.url.protocol !== "http:") {
      throw new Error(`${opts.service.signingName} endpoint: expected an http(s) URL`);
    }
    this.path = this.url.pathname === "" ? "/" : this.url.pathname;
    const https = this.url.protocol === "https:";
    const agentOptions = { keepAlive: true, maxSockets: opts.maxSockets ?? 64 };
    this.agent = https ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
    this.send = https ? httpsRequest : httpRequest;
    this.signer = new SignatureV4({
      credentials: opts.credentials,
      region: opts.region,
      service: opts.service.signingName,
      sha256: NodeSha256,
      applyChecksum: false,
    });
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 2_000;
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? 1);
  }

  /**
   * The offset of the server's clock from this machine's, in ms (the SDK's
   * `systemClockOffset`): 0 until a refusal for clock skew set it from the answer's `Date`.
   * Every request is signed at now + offset.
   */
  get systemClockOffset(): number {
    return this.clockOffset;
  }

  /** Calls `operation` with a JSON body (already serialised) and returns the parsed answer. */
  async call(operation: string, body: string | Uint8Array, signal?: AbortSignal): Promise<unknown> {
    const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
    let attempt = 1;
    let clockCorrected = false;
    for (;;) {
      const signedWith = this.clockOffset;
      const sentAt = Date.now();
      let failure: unknown;
      try {
        const answer = await this.attempt(operation, bytes, signedWith, signal);
        if (answer.status >= 200 && answer.status < 300) return this.parse(answer, operation);
        const refused = serviceError(answer, this.opts.service.signingName, operation);
        if (!clockCorrected && !signal?.aborted && this.correctClock(refused, answer, signedWith, sentAt)) {
          clockCorrected = true; // once per call, and not one of maxAttempts
          continue;
        }
        failure = refused;
      } catch (err) {
        failure = err;
      }
      if (failure instanceof AwsServiceError && isCredentialError(failure.name, failure.message)) {
        this.opts.log?.warn("AWS refused the credentials", {
          error: failure.name,
          awsService: this.opts.service.signingName,
          operation,
          status: failure.statusCode,
          ...(failure.requestId === undefined ? {} : { requestId: failure.requestId }),
        });
        throw failure;
      }
      if (attempt >= this.maxAttempts || signal?.aborted || !retryable(failure)) throw failure;
      await pause(Math.random() * Math.min(1_000, 50 * 2 ** attempt), signal);
      attempt++;
    }
  }

  /** Closes the kept connections. */
  destroy(): void {
    this.agent.destroy();
  }

  /** One signed exchange, signed at now + `clockOffset`. */
  private async attempt(
    operation: string,
    body: Uint8Array,
    clockOffset: number,
    signal?: AbortSignal,
  ): Promise<Answer> {
    const { service } = this.opts;
    const request: HttpRequest = {
      method: "POST",
      protocol: this.url.protocol,
      hostname: this.url.hostname,
      path: this.path,
      query: {},
      headers: {
        host: this.url.host,
        "content-type": `application/x-amz-json-${service.jsonVersion ?? "1.1"}`,
        "x-amz-target": `${service.targetPrefix}.${operation}`,
      },
      body,
      ...(this.url.port === "" ? {} : { port: Number(this.url.port) }),
    };
    const signed = await this.signer.sign(request, { signingDate: new Date(Date.now() + clockOffset) });
    const headers: Record<string, string | number> = { ...signed.headers, "content-length": body.byteLength };
    return this.exchange(headers, body, signal);
  }

  private parse(answer: Answer, operation: string): unknown {
    if (answer.body.length === 0) return {};
    try {
      return JSON.parse(answer.body.toString("utf8"));
    } catch {
      // the body is not echoed: it may hold a secret
      throw new AwsServiceError(
        "InvalidResponse",
        `${this.opts.service.signingName} answered ${operation} with a body that is not JSON`,
        answer.status,
      );
    }
  }

  /**
   * After a refusal that may be for the signing time, sets the clock offset from the
   * answer's `Date` as the SDK does; true when the call should be signed and sent again. A
   * refusal that names the time (isClockSkewError) is always taken for skew; one that only
   * may be (an access or signature refusal) when the server's clock is at least 4 minutes
   * from the one the request was signed with. The `Date` of a cached answer (with `Age`) or
   * of one that took over 15 minutes is not the server's clock now, and is not used.
   */
  private correctClock(err: AwsServiceError, answer: Answer, signedWith: number, sentAt: number): boolean {
    if (!MAYBE_CLOCK_SKEW_CODES.has(err.name) || answer.headers.age !== undefined) return false;
    const serverTime = Date.parse(answer.headers.date ?? "");
    const receivedAt = Date.now();
    if (Number.isNaN(serverTime) || receivedAt - sentAt > MAX_DATE_AGE_MS) return false;
    const offset = serverTime - receivedAt;
    const named = isClockSkewError(err.name, err.message);
    if (!named && Math.abs(offset - signedWith) < SKEW_THRESHOLD_MS) return false;
    this.clockOffset = offset;
    return true;
  }

  private exchange(
    headers: Record<string, string | number>,
    body: Uint8Array,
    signal: AbortSignal | undefined,
  ): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      if (signal?.aborted) return reject(abortReason(signal));
      const req = this.send({
        protocol: this.url.protocol,
        hostname: this.url.hostname,
        port: this.url.port,
        path: this.path,
        method: "POST",
        headers,
        agent: this.agent,
      });
      let done = false;
      let connectTimer: NodeJS.Timeout | undefined;
      const finish = () => {
        done = true;
        clearTimeout(timer);
        clearTimeout(connectTimer);
        signal?.removeEventListener("abort", onAbort);
      };
      const fail = (err: Error) => {
        if (done) return;
        finish();
        req.destroy();
        reject(err);
      };
      const onAbort = () => fail(abortReason(signal!));
      const timer = setTimeout(
        () => fail(named("TimeoutError", `no answer from ${this.url.host} within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
      signal?.addEventListener("abort", onAbort, { once: true });
      req.once("socket", (socket) => {
        if (!socket.connecting) return;
        connectTimer = setTimeout(
          () =>
            fail(
              named(
                "TimeoutError",
                `could not connect to ${this.url.host} within ${this.connectTimeoutMs} ms`,
              ),
            ),
          this.connectTimeoutMs,
        );
        socket.once("connect", () => clearTimeout(connectTimer));
      });
      req.on("error", fail);
      req.on("response", (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", fail);
        res.on("close", () => {
          if (!res.complete) fail(new Error(`the connection to ${this.url.host} closed mid-answer`));
        });
        res.on("end", () => {
          if (done) return;
          finish();
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks),
          });
        });
      });
      req.end(body);
    });
  }
}

/** The error of an answer that is not 2xx, named by its error code. */
function serviceError(answer: Answer, service: string, operation: string): AwsServiceError {
  let parsed: Record<string, unknown> = {};
  try {
    const value: unknown = JSON.parse(answer.body.toString("utf8"));
    if (value !== null && typeof value === "object") parsed = value as Record<string, unknown>;
  } catch {
    // not JSON (e.g. a proxy's page): named by the status below
  }
  const header = answer.headers["x-amzn-errortype"];
  const raw = [header, parsed.code, parsed.Code, parsed.__type].find(
    (v): v is string => typeof v === "string" && v !== "",
  );
  const code = raw === undefined ? `Http${answer.status}` : errorCode(raw);
  const text = [parsed.message, parsed.Message, parsed.errorMessage].find(
    (v): v is string => typeof v === "string",
  );
  const requestId = answer.headers["x-amzn-requestid"];
  return new AwsServiceError(
    code,
    text === undefined ? `${service} answered ${operation} with HTTP ${answer.status}` : echo(text, 300),
    answer.status,
    typeof requestId === "string" ? requestId : undefined,
  );
}

/**
 * The bare code of `x-amzn-ErrorType` or `__type`: `Code:http://...` and
 * `com.amazonaws.kinesis.v20131202#Code` both become `Code`.
 */
export function errorCode(raw: string): string {
  let code = raw.split(",")[0]!.split(":")[0]!;
  const hash = code.lastIndexOf("#");
  if (hash >= 0) code = code.slice(hash + 1);
  return code.trim() || raw;
}

function retryable(err: unknown): boolean {
  if (err instanceof AwsServiceError) return err.statusCode >= 500 || RETRYABLE_CODES.has(err.name);
  return err instanceof Error && err.name !== "AbortError";
}

function named(name: string, message: string): Error {
  const err = new Error(message);
  err.name = name;
  return err;
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : named("AbortError", "the call was aborted");
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
