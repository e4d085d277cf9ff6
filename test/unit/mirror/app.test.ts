import { type Context, Hono } from "hono";
import { describe, expect, it } from "vitest";
import { createMirrorApp } from "../../../functions/mirror/app";
import { apiGatewaySourceIp } from "../../../functions/mirror/wiring";
import { type KeySource, StaticKeySource } from "../../../lib/core/auth";
import { createLogger } from "../../../lib/core/log";
import { createMemoryMetrics } from "../../../lib/core/metrics";
import { HEALTHCHECK_PATH, MIRROR_PATHS } from "../../../lib/core/routes";
import { loadMirrorConfig } from "../../../lib/mirror/config";

/** The app's own behaviour without Prometheus: error mapping, key handling, logs, metrics. */

const KEY = "unit-secret-key-42";
const body = (connectionDetails: unknown = { host: "prom.example", port: 9090 }) =>
  JSON.stringify({
    connectionDetails,
    query: {
      conditions: [
        { _type: "EqualityCondition", key: "__gauge__", value: { _type: "StringValue", value: "up" } },
      ],
      startTime: 0,
      endTime: 60_000,
      limit: 10,
    },
  });

function setup(
  options: {
    keys?: KeySource;
    fetch?: typeof fetch;
    env?: Record<string, string>;
    sourceAddress?: (c: Context) => string | undefined;
  } = {},
) {
  const lines: string[] = [];
  const metrics = createMemoryMetrics();
  const app = createMirrorApp({
    config: loadMirrorConfig(options.env ?? {}),
    keys: options.keys ?? new StaticKeySource([{ key: KEY }, { key: "previous-key" }]),
    log: createLogger("debug", (line) => lines.push(line)),
    metrics,
    fetch: options.fetch ?? ((async () => new Response("{}", { status: 500 })) as typeof fetch),
    sourceAddress: options.sourceAddress,
  });
  const call = (path: string, init: RequestInit = {}) =>
    app.request(path, {
      method: "POST",
      body: body(),
      headers: { "content-type": "application/json" },
      ...init,
    });
  return { app, call, lines, metrics };
}

describe("mirror app", () => {
  it("announces the first key and accepts the previous one while a rotation propagates", async () => {
    const { call } = setup();
    const res = await call(MIRROR_PATHS.metric, { headers: { "X-MIRROR-API-KEY": "previous-key" } });
    expect(res.status).toBe(502);
    expect(res.headers.get("X-MIRROR-API-KEY")).toBe(KEY);
  });

  it("answers 503 without a key header when the key cannot be read", async () => {
    const broken: KeySource = {
      keys: async () => {
        throw new Error("AccessDenied");
      },
    };
    const res = await setup({ keys: broken }).call(MIRROR_PATHS.metric);
    expect(res.status).toBe(503);
    expect(res.headers.get("X-MIRROR-API-KEY")).toBeNull();
    expect(await res.json()).toMatchObject({ _type: "RemoteMirrorError", summary: "Mirror unavailable" });
  });

  it("answers 503 when no key is configured", async () => {
    const res = await setup({ keys: new StaticKeySource([]) }).call(MIRROR_PATHS.metric);
    expect(res.status).toBe(503);
  });

  it("answers a bug with 500, the key header, and no internals", async () => {
    const buggy = (async () => null) as unknown as typeof fetch;
    const { call, lines } = setup({ fetch: buggy });
    const res = await call(MIRROR_PATHS.metric);
    expect(res.status).toBe(500);
    expect(res.headers.get("X-MIRROR-API-KEY")).toBe(KEY);
    const text = await res.text();
    expect(text).not.toContain("TypeError");
    expect(text).toContain("Internal error");
    expect(lines.some((l) => l.includes("mirror bug"))).toBe(true);
  });

  it("never writes a key to the logs, even when one is presented", async () => {
    const { call, lines } = setup({ env: { MIRROR_REQUIRE_KEY: "true" } });
    await call(MIRROR_PATHS.metric, { headers: { "sts-api-key": KEY } });
    await call(MIRROR_PATHS.metric, { headers: { "sts-api-key": "wrong-key-presented" } });
    await call("/api/nowhere");
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const line of lines) {
      expect(line).not.toContain(KEY);
      expect(line).not.toContain("wrong-key-presented");
    }
  });

  it("refuses a disallowed target before any outbound call", async () => {
    let calls = 0;
    const counting = (async () => {
      calls++;
      return new Response("{}");
    }) as typeof fetch;
    const { call } = setup({ fetch: counting, env: { MIRROR_ALLOWED_TARGETS: "allowed.example:9090" } });
    const res = await call(MIRROR_PATHS.metric);
    expect(res.status).toBe(403);
    expect(calls).toBe(0);
  });

  it("counts requests and errors by endpoint and reason", async () => {
    const { call, metrics } = setup();
    await call(MIRROR_PATHS.metric);
    await call(MIRROR_PATHS.metric, { body: "{" });
    expect(metrics.totals.get("MirrorRequests{Endpoint=/api/metric}")).toBe(2);
    expect(metrics.totals.get("MirrorErrors{Reason=json-invalid}")).toBe(1);
    expect(metrics.totals.get("MirrorErrors{Reason=prometheus-http-error}")).toBe(1);
  });

  it("counts, and leaves writing the counts to the front (the Lambda handler, the local server)", async () => {
    const metrics = createMemoryMetrics();
    let flushes = 0;
    const app = createMirrorApp({
      config: loadMirrorConfig({}),
      keys: new StaticKeySource([{ key: KEY }]),
      log: createLogger("error", () => {}),
      metrics: { count: metrics.count, flush: () => flushes++ },
      fetch: (async () => new Response("{}", { status: 500 })) as typeof fetch,
    });
    const res = await app.request(MIRROR_PATHS.metric, {
      method: "POST",
      body: body(),
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(metrics.totals.get("MirrorRequests{Endpoint=/api/metric}")).toBe(1);
    expect(flushes).toBe(0);
  });

  it("caps the connection details' requestTimeout", async () => {
    let signal: AbortSignal | undefined;
    const hang = ((_: unknown, init?: RequestInit) =>
      new Promise((_, reject) => {
        signal = init?.signal ?? undefined;
        signal?.addEventListener("abort", () => reject(signal?.reason));
      })) as typeof fetch;
    const { app } = setup({
      fetch: hang,
      env: { MIRROR_MAX_REQUEST_TIMEOUT_MS: "50", MIRROR_REQUEST_TIMEOUT_MS: "50" },
    });
    const started = Date.now();
    const res = await app.request(MIRROR_PATHS.metric, {
      method: "POST",
      body: body({ host: "prom.example", port: 9090, requestTimeout: 60_000 }),
    });
    expect(res.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await res.text()).toContain("within 50 ms");
  });
});

describe("which answers carry X-MIRROR-API-KEY", () => {
  // StackState compares the header on the protocol's answers only: nothing else needs the key
  it.each([
    ["POST", MIRROR_PATHS.metric, {}, 502, KEY],
    ["POST", MIRROR_PATHS.metric, { body: "{" }, 400, KEY],
    ["POST", MIRROR_PATHS.connection, {}, 200, KEY],
    ["POST", MIRROR_PATHS.fieldName, {}, 502, KEY],
    ["POST", MIRROR_PATHS.fieldValue, { body: "[]" }, 400, KEY],
    ["POST", "/api/x", {}, 404, null],
    ["POST", `${MIRROR_PATHS.metric}/`, {}, 404, null],
    ["GET", "/api/x", { body: null }, 404, null],
    ["HEAD", "/api/x", { body: null }, 404, null],
    ["OPTIONS", "/api/x", { body: null }, 404, null],
    ["GET", MIRROR_PATHS.metric, { body: null }, 405, null],
    ["HEAD", MIRROR_PATHS.metric, { body: null }, 405, null],
    ["OPTIONS", MIRROR_PATHS.connection, { body: null }, 405, null],
    ["PUT", MIRROR_PATHS.fieldName, {}, 405, null],
    ["GET", HEALTHCHECK_PATH, { body: null }, 200, null],
  ] as const)("%s %s → %i, key header %s", async (method, path, init, status, key) => {
    const { call } = setup();
    const res = await call(path, { method, ...init });
    expect(res.status).toBe(status);
    expect(res.headers.get("X-MIRROR-API-KEY")).toBe(key);
  });

  it("with MIRROR_REQUIRE_KEY=true, only callers that presented the key get it", async () => {
    const { call } = setup({ env: { MIRROR_REQUIRE_KEY: "true" } });
    const anonymous = await call(MIRROR_PATHS.connection);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("X-MIRROR-API-KEY")).toBeNull();
    const presented = await call(MIRROR_PATHS.connection, { headers: { "sts-api-key": KEY } });
    expect(presented.status).toBe(200);
    expect(presented.headers.get("X-MIRROR-API-KEY")).toBe(KEY);
    const elsewhere = await call("/api/x", { headers: { "sts-api-key": KEY } });
    expect(elsewhere.headers.get("X-MIRROR-API-KEY")).toBeNull();
  });

  describe("MIRROR_TRUSTED_CIDRS: keyless callers trusted only from StackState's addresses", () => {
    const from = (address: string | undefined) => () => address;
    it.each([
      ["203.0.113.9", 200, KEY],
      ["198.51.100.7", 200, KEY],
      ["198.51.100.8", 401, null],
      ["192.0.2.1", 401, null],
      ["2001:db8::1", 401, null],
      [undefined, 401, null],
    ] as const)("a keyless connection test from %s → %i, key header %s", async (address, status, key) => {
      const { call } = setup({
        env: { MIRROR_TRUSTED_CIDRS: "203.0.113.0/24,198.51.100.7/32" },
        sourceAddress: from(address),
      });
      const res = await call(MIRROR_PATHS.connection);
      expect(res.status).toBe(status);
      expect(res.headers.get("X-MIRROR-API-KEY")).toBe(key);
    });

    it("a caller presenting the key is trusted from any address", async () => {
      const { call } = setup({
        env: { MIRROR_TRUSTED_CIDRS: "203.0.113.0/24" },
        sourceAddress: from("192.0.2.1"),
      });
      const res = await call(MIRROR_PATHS.connection, { headers: { "X-MIRROR-API-KEY": KEY } });
      expect(res.status).toBe(200);
      expect(res.headers.get("X-MIRROR-API-KEY")).toBe(KEY);
      const wrong = await call(MIRROR_PATHS.connection, { headers: { "X-MIRROR-API-KEY": "not-the-key" } });
      expect(wrong.status).toBe(401);
    });

    it("set but empty trusts no keyless caller; MIRROR_REQUIRE_KEY wins over the ranges", async () => {
      const empty = setup({ env: { MIRROR_TRUSTED_CIDRS: "" }, sourceAddress: from("203.0.113.9") });
      expect((await empty.call(MIRROR_PATHS.connection)).status).toBe(401);
      const required = setup({
        env: { MIRROR_TRUSTED_CIDRS: "203.0.113.0/24", MIRROR_REQUIRE_KEY: "true" },
        sourceAddress: from("203.0.113.9"),
      });
      const res = await required.call(MIRROR_PATHS.connection);
      expect(res.status).toBe(401);
      expect(res.headers.get("X-MIRROR-API-KEY")).toBeNull();
    });

    it("a forwarded-for header does not make a caller trusted", async () => {
      const { call } = setup({
        env: { MIRROR_TRUSTED_CIDRS: "203.0.113.0/24" },
        sourceAddress: from("192.0.2.1"),
      });
      const res = await call(MIRROR_PATHS.connection, { headers: { "x-forwarded-for": "203.0.113.9" } });
      expect(res.status).toBe(401);
    });

    it("refuses a malformed range at start, naming the variable", () => {
      expect(() => loadMirrorConfig({ MIRROR_TRUSTED_CIDRS: "203.0.113.0/33" })).toThrow(
        /MIRROR_TRUSTED_CIDRS/,
      );
    });

    it("reads API Gateway's source address, never a header", () => {
      const ctx = (env: unknown) => ({ env }) as unknown as Context;
      expect(apiGatewaySourceIp(ctx({ requestContext: { identity: { sourceIp: "203.0.113.9" } } }))).toBe(
        "203.0.113.9",
      );
      expect(apiGatewaySourceIp(ctx({ requestContext: { http: { sourceIp: "198.51.100.1" } } }))).toBe(
        "198.51.100.1",
      );
      expect(apiGatewaySourceIp(ctx({}))).toBeUndefined();
      expect(apiGatewaySourceIp(ctx(undefined))).toBeUndefined();
    });
  });

  it("answers 503 without the header when the key read cannot be a header value, and logs it once", async () => {
    const { call, lines } = setup({ keys: new StaticKeySource([{ key: "ключ-🔑-key" }]) });
    for (let i = 0; i < 3; i++) {
      const res = await call(MIRROR_PATHS.connection);
      expect(res.status).toBe(503);
      expect(res.headers.get("X-MIRROR-API-KEY")).toBeNull();
      const text = await res.text();
      expect(text).toContain("key-unavailable");
      expect(text).not.toContain("ключ");
    }
    const logged = lines.filter((l) => l.includes("mirror key cannot be sent"));
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain('"level":"ERROR"');
    expect(lines.join("\n")).not.toContain("ключ");
  });
});

describe("mirror app mounted at the root of another app (the local server)", () => {
  it("serves /api/... with its own errors and key, and leaves other routes alone", async () => {
    const { app: mirror } = setup({ env: { MIRROR_REQUIRE_KEY: "true" } });
    const parent = new Hono();
    parent.get("/healthz", (c) => c.text("ok"));
    parent.route("/", mirror);
    const other = await parent.request("/healthz");
    expect(other.status).toBe(200);
    expect(other.headers.get("X-MIRROR-API-KEY")).toBeNull();
    const unauthorized = await parent.request(MIRROR_PATHS.metric, { method: "POST", body: body() });
    expect(unauthorized.status).toBe(401);
    const failed = await parent.request(MIRROR_PATHS.metric, {
      method: "POST",
      body: body(),
      headers: { "sts-api-key": KEY },
    });
    expect(failed.status).toBe(502);
    expect(failed.headers.get("X-MIRROR-API-KEY")).toBe(KEY);
    expect(await failed.json()).toMatchObject({ _type: "MetricStoreConnectionError" });
    const unknown = await parent.request("/api/nothing", { method: "POST", headers: { "sts-api-key": KEY } });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get("X-MIRROR-API-KEY")).toBeNull();
  });
});

describe("MIRROR_ERROR_STATUS and the unauthenticated health check", () => {
  const notFound = (async () =>
    new Response(JSON.stringify({ status: "success", data: { resultType: "matrix", result: [] } }), {
      headers: { "content-type": "application/json" },
    })) as unknown as typeof fetch;
  // a fetch that breaks its contract (no Response): a bug as far as the app knows
  const bug = (async () => null) as unknown as typeof fetch;

  it.each([
    ["native", "a metric that is not there", notFound, {}, 404, "MetricNotFoundError"],
    ["500", "a metric that is not there", notFound, {}, 500, "MetricNotFoundError"],
    ["native", "a store that is unreachable", undefined, {}, 502, "MetricStoreConnectionError"],
    ["500", "a store that is unreachable", undefined, {}, 500, "MetricStoreConnectionError"],
    ["500", "a malformed request", undefined, { body: "{" }, 500, "RemoteMirrorError"],
    ["500", "a bug", bug, {}, 500, "RemoteMirrorError"],
  ] as const)(
    "%s mode: %s is answered with the mode's status and the key",
    async (mode, _, fetchImpl, init, status, type) => {
      const { call } = setup({ env: { MIRROR_ERROR_STATUS: mode }, fetch: fetchImpl });
      const res = await call(MIRROR_PATHS.metric, init);
      expect(res.status).toBe(status);
      expect(res.headers.get("X-MIRROR-API-KEY")).toBe(KEY);
      const json = (await res.json()) as { _type: string };
      expect(json._type).toBe(type);
      expect(JSON.stringify(json)).not.toMatch(/TypeError|null|\.ts:/);
    },
  );

  it("500 mode keeps 401 (without the key), 404 for unknown paths and 405", async () => {
    const { call } = setup({ env: { MIRROR_ERROR_STATUS: "500", MIRROR_REQUIRE_KEY: "true" } });
    const denied = await call(MIRROR_PATHS.metric, { headers: { "X-MIRROR-API-KEY": "wrong" } });
    expect(denied.status).toBe(401);
    expect(denied.headers.get("X-MIRROR-API-KEY")).toBeNull();
    const auth = { headers: { "X-MIRROR-API-KEY": KEY } };
    expect((await call("/api/nothing", auth)).status).toBe(404);
    expect((await call(MIRROR_PATHS.metric, { ...auth, method: "GET", body: null })).status).toBe(405);
  });

  it.each([HEALTHCHECK_PATH, "/"])("GET %s answers OK without a key, calling no Prometheus", async (path) => {
    let calls = 0;
    const { app } = setup({
      env: { MIRROR_REQUIRE_KEY: "true" },
      fetch: (async () => {
        calls++;
        return new Response("{}");
      }) as unknown as typeof fetch,
    });
    const res = await app.request(path);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "OK" });
    expect(res.headers.get("X-MIRROR-API-KEY")).toBeNull();
    expect(calls).toBe(0);
  });
});
