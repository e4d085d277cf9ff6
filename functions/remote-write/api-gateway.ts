import type {
  APIGatewayProxyEvent,
  APIGatewayProxyEventV2,
  APIGatewayProxyResult,
  APIGatewayProxyStructuredResultV2,
} from "aws-lambda";
import { type Cidr4, inRanges, parseCidr4 } from "../../lib/core/cidr";
import { type Env, readSetting } from "../../lib/core/config";
import { ENV } from "../../lib/core/env-names";
import { HttpError } from "../../lib/core/errors";
import { INGEST_ALLOWED_CIDRS } from "../../lib/ingest/config";
import type { RemoteWriteEndpoint, RequestReader, WriteAnswer } from "./endpoint";

/**
 * The API Gateway event adapter of the remote-write endpoint: REST API (payload 1.0) and
 * HTTP API (payload 2.0) proxy events in, proxy results out, without building Web Request
 * and Response objects. Headers are looked up case-insensitively (REST API keeps the
 * sender's case; several values of one header are joined with ", " as HTTP does); bodies
 * are base64 when `isBase64Encoded`, else the UTF-8 bytes of the string. Results carry
 * lower-case header names, as `multiValueHeaders` for a REST API event.
 */
export type ApiGatewayEvent = APIGatewayProxyEvent | APIGatewayProxyEventV2;
export type ApiGatewayResult = APIGatewayProxyResult | APIGatewayProxyStructuredResultV2;

/** One event's request: lower-cased headers and the still-encoded body. */
interface EventRequest {
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | undefined;
  readonly base64: boolean;
}

const eventReader: RequestReader<EventRequest> = {
  header: (req, name) => req.headers[name],
  body: async (req, maxBytes) => {
    if (!req.body) return new Uint8Array(0);
    // a body certainly over the limit is refused undecoded (base64: 4 characters per 3 bytes;
    // UTF-8: at least one byte per character)
    if ((req.base64 ? req.body.length * 0.75 - 2 : req.body.length) > maxBytes) return undefined;
    return Buffer.from(req.body, req.base64 ? "base64" : "utf8");
  },
};

function isHttpApiEvent(event: ApiGatewayEvent): event is APIGatewayProxyEventV2 {
  return "rawPath" in event && typeof event.requestContext === "object" && "http" in event.requestContext;
}

/** The event's headers under lower-case names; multi-value headers joined with ", ". */
function lowerCaseHeaders(event: ApiGatewayEvent): Record<string, string> {
  const out: Record<string, string> = {};
  const multi = "multiValueHeaders" in event ? event.multiValueHeaders : undefined;
  if (multi) {
    for (const name in multi) {
      const values = multi[name];
      if (!values || values.length === 0) continue;
      const key = name.toLowerCase();
      const joined = values.join(", ");
      out[key] = out[key] === undefined ? joined : `${out[key]}, ${joined}`;
    }
  }
  const single = event.headers;
  if (single) {
    for (const name in single) {
      const value = single[name];
      if (!value) continue;
      const key = name.toLowerCase();
      if (out[key] === undefined) out[key] = value;
    }
  }
  return out;
}

/** What the handler reads of the invocation's context. */
export interface InvocationContext {
  getRemainingTimeInMillis(): number;
}

/**
 * Time kept, before the invocation's own end, to abort a Kinesis call still in flight and
 * answer: the request's deadline is the remaining time less this.
 */
export const ANSWER_MARGIN_MS = 1_000;

/** What the handler admits before the endpoint sees a request. */
export interface ApiGatewayHandlerOptions {
  /**
   * INGEST_ALLOWED_CIDRS: only requests whose source address (API Gateway's `sourceIp`, never a
   * header) lies in one of these are answered; others get 403 before the key is checked or the
   * body read. Unset: every source.
   */
  readonly allowedSources?: readonly Cidr4[];
}

/** INGEST_ALLOWED_CIDRS, read once at cold start (a malformed entry fails it, naming the variable). */
export function handlerOptionsFromEnv(env: Env): ApiGatewayHandlerOptions {
  const cidrs = readSetting(INGEST_ALLOWED_CIDRS, env[ENV.ingestAllowedCidrs], ENV.ingestAllowedCidrs);
  if (cidrs.length === 0) return {};
  return { allowedSources: cidrs.map((cidr) => parseCidr4(ENV.ingestAllowedCidrs, cidr)) };
}

function sourceIpOf(event: ApiGatewayEvent): string | undefined {
  const ctx = event.requestContext as { http?: { sourceIp?: string }; identity?: { sourceIp?: string } };
  return ctx?.http?.sourceIp ?? ctx?.identity?.sourceIp ?? undefined;
}

/**
 * A Lambda handler answering API Gateway events through the endpoint. The request's
 * deadline (key check and stream write) ends `ANSWER_MARGIN_MS` before the invocation's.
 */
export function apiGatewayHandler(endpoint: RemoteWriteEndpoint, options: ApiGatewayHandlerOptions = {}) {
  const { allowedSources } = options;
  return async (event: ApiGatewayEvent, context?: InvocationContext): Promise<ApiGatewayResult> => {
    const remaining = context?.getRemainingTimeInMillis?.();
    const deadline =
      typeof remaining === "number" && Number.isFinite(remaining)
        ? Date.now() + remaining - ANSWER_MARGIN_MS
        : undefined;
    const v2 = isHttpApiEvent(event);
    const method = (v2 ? event.requestContext.http.method : event.httpMethod) ?? "";
    const path = (v2 ? event.rawPath : event.path) ?? "";
    const req: EventRequest = {
      headers: lowerCaseHeaders(event),
      body: event.body ?? undefined,
      base64: event.isBase64Encoded === true,
    };
    let answer: WriteAnswer;
    try {
      if (allowedSources !== undefined && !inRanges(sourceIpOf(event), allowedSources)) {
        throw new HttpError(403, "source-not-allowed", "source address not allowed");
      }
      answer = await endpoint.answer(method, path, req, eventReader, deadline);
    } catch (err) {
      answer = endpoint.errorAnswer(err);
    }
    return toResult(answer, method, "multiValueHeaders" in event && Boolean(event.multiValueHeaders));
  };
}

function toResult(answer: WriteAnswer, method: string, multiValue: boolean): ApiGatewayResult {
  const body = answer.body === null || method === "HEAD" ? "" : answer.body;
  if (multiValue) {
    const multiValueHeaders: Record<string, string[]> = {};
    for (const name in answer.headers) multiValueHeaders[name.toLowerCase()] = [answer.headers[name]!];
    return { statusCode: answer.status, multiValueHeaders, body, isBase64Encoded: false };
  }
  const headers: Record<string, string> = {};
  for (const name in answer.headers) headers[name.toLowerCase()] = answer.headers[name]!;
  return { statusCode: answer.status, headers, body, isBase64Encoded: false };
}
