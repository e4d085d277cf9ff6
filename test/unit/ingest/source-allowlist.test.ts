import { describe, expect, it } from "vitest";
import {
  type ApiGatewayEvent,
  apiGatewayHandler,
  handlerOptionsFromEnv,
} from "../../../functions/remote-write/api-gateway";
import type { RemoteWriteEndpoint, WriteAnswer } from "../../../functions/remote-write/endpoint";
import { HttpError } from "../../../lib/core/errors";

/** INGEST_ALLOWED_CIDRS in the Lambda front: refused before the endpoint sees the request. */

function recordingEndpoint() {
  const seen: string[] = [];
  const endpoint: RemoteWriteEndpoint = {
    answer: async (_method, path) => {
      seen.push(path);
      return { status: 204, headers: {}, body: null };
    },
    errorAnswer: (err): WriteAnswer =>
      err instanceof HttpError
        ? { status: err.status, headers: {}, body: err.message }
        : { status: 500, headers: {}, body: "internal error" },
  };
  return { endpoint, seen };
}

const httpApiEvent = (sourceIp: string, headers: Record<string, string> = {}) =>
  ({
    rawPath: "/api/v1/write",
    headers,
    body: "",
    isBase64Encoded: true,
    requestContext: { http: { method: "POST", sourceIp } },
  }) as unknown as ApiGatewayEvent;

const restApiEvent = (sourceIp: string) =>
  ({
    path: "/api/v1/write",
    httpMethod: "POST",
    headers: {},
    multiValueHeaders: {},
    body: null,
    isBase64Encoded: false,
    requestContext: { identity: { sourceIp } },
  }) as unknown as ApiGatewayEvent;

describe("INGEST_ALLOWED_CIDRS", () => {
  const options = handlerOptionsFromEnv({ INGEST_ALLOWED_CIDRS: "203.0.113.0/24, 198.51.100.7/32" });

  it.each([
    ["203.0.113.200", 204],
    ["198.51.100.7", 204],
    ["198.51.100.6", 403],
    ["2001:db8::1", 403],
    ["", 403],
  ] as const)("an HTTP API request from %s → %i", async (ip, status) => {
    const { endpoint, seen } = recordingEndpoint();
    const result = (await apiGatewayHandler(endpoint, options)(httpApiEvent(ip))) as { statusCode: number };
    expect(result.statusCode).toBe(status);
    expect(seen).toHaveLength(status === 204 ? 1 : 0);
  });

  it("reads a REST API event's source address too", async () => {
    const { endpoint } = recordingEndpoint();
    const handler = apiGatewayHandler(endpoint, options);
    expect(((await handler(restApiEvent("203.0.113.1"))) as { statusCode: number }).statusCode).toBe(204);
    expect(((await handler(restApiEvent("192.0.2.1"))) as { statusCode: number }).statusCode).toBe(403);
  });

  it("ignores X-Forwarded-For: only API Gateway's address counts", async () => {
    const { endpoint } = recordingEndpoint();
    const event = httpApiEvent("192.0.2.1", { "x-forwarded-for": "203.0.113.1" });
    const result = (await apiGatewayHandler(endpoint, options)(event)) as { statusCode: number };
    expect(result.statusCode).toBe(403);
  });

  it("unset or empty admits every source; a malformed entry fails the cold start naming the variable", async () => {
    expect(handlerOptionsFromEnv({})).toEqual({});
    expect(handlerOptionsFromEnv({ INGEST_ALLOWED_CIDRS: " " })).toEqual({});
    const { endpoint } = recordingEndpoint();
    const result = (await apiGatewayHandler(endpoint)(httpApiEvent("192.0.2.1"))) as { statusCode: number };
    expect(result.statusCode).toBe(204);
    expect(() => handlerOptionsFromEnv({ INGEST_ALLOWED_CIDRS: "10.0.0.0/8,10.1.2.3" })).toThrow(
      /INGEST_ALLOWED_CIDRS/,
    );
  });
});
