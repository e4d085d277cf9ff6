import { afterEach, describe, expect, it, vi } from "vitest";
import { MIRROR_PATHS } from "../../../lib/core/routes";

/** The Lambda entry: configuration from the environment at cold start, the app behind hono/aws-lambda. */

const event = (body: unknown) => ({
  version: "2.0",
  routeKey: "POST /api/metric",
  rawPath: MIRROR_PATHS.metric,
  rawQueryString: "",
  headers: { "content-type": "application/json", host: "mirror.example" },
  body: Buffer.from(JSON.stringify(body)).toString("base64"),
  isBase64Encoded: true,
  requestContext: {
    accountId: "123456789012",
    apiId: "api",
    domainName: "mirror.example",
    domainPrefix: "mirror",
    http: {
      method: "POST",
      path: MIRROR_PATHS.metric,
      protocol: "HTTP/1.1",
      sourceIp: "203.0.113.1",
      userAgent: "test",
    },
    requestId: "r1",
    routeKey: "POST /api/metric",
    stage: "$default",
    time: "01/Jan/2026:00:00:00 +0000",
    timeEpoch: 0,
  },
});

describe("mirror Lambda handler", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
    vi.restoreAllMocks();
  });

  it("answers through API Gateway events with the key from MIRROR_API_KEY", async () => {
    vi.stubEnv("MIRROR_API_KEY", "lambda-key");
    vi.stubEnv("MIRROR_ALLOWED_TARGETS", "allowed.example:9090");
    vi.stubEnv("LOG_LEVEL", "error");
    vi.spyOn(process.stdout, "write").mockImplementation(() => true); // EMF lines
    const { handler } = await import("../../../functions/mirror/handler");
    const res = (await handler(
      event({
        connectionDetails: { host: "elsewhere.example", port: 9090 },
        query: { conditions: [], startTime: 0, endTime: 1, limit: 1 },
      }) as never,
      {} as never,
    )) as { statusCode: number; headers: Record<string, string>; body: string };
    expect(res.statusCode).toBe(403);
    expect(res.headers["x-mirror-api-key"]).toBe("lambda-key");
    expect(JSON.parse(res.body)).toMatchObject({ _type: "RemoteMirrorError", summary: "Target not allowed" });
  });

  it("writes each invocation's metrics once, when it ends", async () => {
    vi.stubEnv("MIRROR_API_KEY", "lambda-key");
    vi.stubEnv("MIRROR_ALLOWED_TARGETS", "allowed.example:9090");
    vi.stubEnv("LOG_LEVEL", "error");
    const stdout: string[] = [];
    vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      stdout.push(String(chunk));
      return true;
    });
    // the EMF metrics the handler builds at cold start, with their flushes counted
    let flushes = 0;
    vi.doMock("../../../lib/aws/emf-metrics", async (importOriginal) => {
      const real = await importOriginal<typeof import("../../../lib/aws/emf-metrics")>();
      return {
        ...real,
        createEmfMetrics: (...args: Parameters<typeof real.createEmfMetrics>) => {
          const emf = real.createEmfMetrics(...args);
          return {
            count: emf.count,
            flush: () => {
              flushes++;
              emf.flush();
            },
          };
        },
      };
    });
    try {
      const { handler } = await import("../../../functions/mirror/handler");
      const query = {
        connectionDetails: { host: "elsewhere.example", port: 9090 },
        query: { conditions: [], startTime: 0, endTime: 1, limit: 1 },
      };
      for (let n = 1; n <= 2; n++) {
        const res = (await handler(event(query) as never, {} as never)) as { statusCode: number };
        expect(res.statusCode).toBe(403);
        expect(flushes).toBe(n);
      }
      const requests = stdout
        .flatMap((chunk) => chunk.split("\n"))
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((doc) => doc.MirrorRequests !== undefined);
      // one EMF document per invocation, each with that invocation's one request
      expect(requests.map((doc) => doc.MirrorRequests)).toEqual([1, 1]);
    } finally {
      vi.doUnmock("../../../lib/aws/emf-metrics");
    }
  });

  it("refuses to start without any key", async () => {
    vi.stubEnv("MIRROR_API_KEY", "");
    vi.stubEnv("API_KEY", "");
    vi.stubEnv("MIRROR_API_KEY_SECRET_ARN", "");
    await expect(import("../../../functions/mirror/handler")).rejects.toThrow("MIRROR_API_KEY");
  });

  it("refuses to start with a malformed variable, naming it", async () => {
    vi.stubEnv("MIRROR_API_KEY", "k");
    vi.stubEnv("MIRROR_COUNTER_WINDOW", "soon");
    await expect(import("../../../functions/mirror/handler")).rejects.toThrow("MIRROR_COUNTER_WINDOW");
  });

  it("refuses to start with an unknown MIRROR_ERROR_STATUS, naming it", async () => {
    vi.stubEnv("MIRROR_API_KEY", "k");
    vi.stubEnv("MIRROR_ERROR_STATUS", "400");
    await expect(import("../../../functions/mirror/handler")).rejects.toThrow("MIRROR_ERROR_STATUS");
  });

  it("MIRROR_ERROR_STATUS=500 answers a refused target with 500 and the key", async () => {
    vi.stubEnv("MIRROR_API_KEY", "lambda-key");
    vi.stubEnv("MIRROR_ALLOWED_TARGETS", "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/");
    vi.stubEnv("MIRROR_ERROR_STATUS", "500");
    vi.stubEnv("LOG_LEVEL", "error");
    vi.spyOn(process.stdout, "write").mockImplementation(() => true); // EMF lines
    const { handler } = await import("../../../functions/mirror/handler");
    const res = (await handler(
      event({
        connectionDetails: { url: "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-2/" },
        query: { conditions: [], startTime: 0, endTime: 1 },
      }) as never,
      {} as never,
    )) as { statusCode: number; headers: Record<string, string>; body: string };
    expect(res.statusCode).toBe(500);
    expect(res.headers["x-mirror-api-key"]).toBe("lambda-key");
    expect(JSON.parse(res.body)).toMatchObject({ _type: "RemoteMirrorError", summary: "Target not allowed" });
  });
});
