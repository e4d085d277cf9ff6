import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createTcpServer, type Server as TcpServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIRROR_PATHS } from "../../../lib/core/routes";
import { ALL_SERIES, MIN, SPAN_MS, T0 } from "../../fixtures/mirror/data";
import { freePort, prometheusAvailable } from "../../support/prometheus";
import {
  type Answer,
  cond,
  type Harness,
  MIRROR_KEY,
  post,
  type Served,
  serveMirror,
  startHarness,
} from "./harness";

const listen = (server: Server | TcpServer) =>
  new Promise<number>((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      resolve(typeof address === "object" && address !== null ? address.port : 0);
    });
  });
const closeServer = (server: Server | TcpServer) =>
  new Promise<void>((resolve) => server.close(() => resolve()));

/** Field lookups, connection tests, keys and the allowlist against a real Prometheus. */
describe.skipIf(!prometheusAvailable())("mirror protocol (real Prometheus)", () => {
  let h: Harness;
  let open: Served; // a mirror that allows any target
  let hanging: TcpServer; // accepts connections and never answers
  let hangingPort: number;
  let unhealthy: Server; // answers 503 to everything
  let unhealthyPort: number;
  let refusedPort: number;
  let hangingConnections = 0;
  let proxy: Server; // serves Prometheus below /prom, as a reverse proxy would
  let proxyPort: number;

  beforeAll(async () => {
    h = await startHarness();
    open = await serveMirror({});
    hanging = createTcpServer((socket) => {
      hangingConnections++;
      socket.on("error", () => {});
    });
    hangingPort = await listen(hanging);
    unhealthy = createHttpServer((_, res) => {
      res.writeHead(503, { "content-type": "text/plain" }).end("Service Unavailable");
    });
    unhealthyPort = await listen(unhealthy);
    refusedPort = await freePort();
    proxy = createHttpServer(async (req, res) => {
      const url = req.url ?? "/";
      if (!url.startsWith("/prom/")) {
        res.writeHead(404).end("not found");
        return;
      }
      const upstream = await fetch(`${h.prometheus.url}${url.slice("/prom".length)}`);
      res.writeHead(upstream.status, {
        "content-type": upstream.headers.get("content-type") ?? "text/plain",
      });
      res.end(Buffer.from(await upstream.arrayBuffer()));
    });
    proxyPort = await listen(proxy);
  });
  afterAll(async () => {
    await open?.close();
    hanging?.close();
    if (unhealthy) await closeServer(unhealthy);
    if (proxy) await closeServer(proxy);
    await h?.stop();
  });

  const range = { startTime: T0, endTime: T0 + SPAN_MS };
  const fieldNames = (conditions: unknown[], limit = 100) =>
    post(h.mirror.url, MIRROR_PATHS.fieldName, {
      _type: "FieldNamesRequest",
      connectionDetails: h.details,
      query: { _type: "FieldNamesQuery", conditions, ...range, limit, latestFirst: false },
    });
  const fieldValues = (fieldName: string, conditions: unknown[], extra: Record<string, unknown> = {}) =>
    post(h.mirror.url, MIRROR_PATHS.fieldValue, {
      _type: "FieldValuesRequest",
      connectionDetails: h.details,
      query: {
        _type: "FieldValuesQuery",
        conditions,
        field: { _type: "FieldDescriptor", fieldName, fieldType: "STRING", classified: false },
        ...range,
        limit: 100,
        offset: 0,
        ...extra,
      },
    });
  const values = (res: Answer) => res.body.values.map((v: { _type: string; value: string }) => v.value);

  describe("field names", () => {
    it("lists the special keys and the label names of the matching series", async () => {
      const res = await fieldNames([cond("__gauge__", "mirror_gauge")]);
      expect(res.status).toBe(200);
      expect(res.body._type).toBe("FieldNamesResponse");
      const labels = new Set(
        ALL_SERIES.filter((s) => s.name === "mirror_gauge").flatMap((s) => Object.keys(s.labels)),
      );
      expect(res.body.fields.map((f: { fieldName: string }) => f.fieldName)).toEqual([
        "__counter__",
        "__gauge__",
        "~",
        ...[...labels].sort(),
      ]);
      expect(res.body.fields[3]).toEqual({
        _type: "FieldDescriptor",
        fieldName: [...labels].sort()[0],
        fieldType: "STRING",
        classified: false,
      });
      expect(res.body.isPartial).toBe(false);
    });

    it("cuts at the limit with isPartial", async () => {
      const res = await fieldNames([cond("job", "app")], 4);
      expect(res.body.fields).toHaveLength(4);
      expect(res.body.isPartial).toBe(true);
    });
  });

  describe("field values", () => {
    const fixtureValues = (label: string, filter: (labels: Record<string, string>) => boolean = () => true) =>
      [
        ...new Set(
          ALL_SERIES.filter((s) => filter(s.labels) && label in s.labels).map((s) => s.labels[label]!),
        ),
      ].sort();

    it("gives a label's values under the conditions", async () => {
      const res = await fieldValues("instance", [cond("job", "app")]);
      expect(res.status).toBe(200);
      expect(res.body._type).toBe("FieldValuesResponse");
      expect(res.body.values[0]._type).toBe("CompleteValue");
      expect(values(res)).toEqual(fixtureValues("instance", (l) => l.job === "app"));
    });

    it("honours fieldValuePrefix, limit and offset, with isPartial when cut", async () => {
      const all = fixtureValues("le");
      expect(all.length).toBeGreaterThan(3);
      const first = await fieldValues("le", [], { limit: 2 });
      // a cut list carries the complete values, then prefixes that narrow it ("0.1", "0.5" → "0.*")
      expect(first.body.values).toEqual([
        ...all.slice(0, 2).map((value) => ({ _type: "CompleteValue", value })),
        { _type: "FieldValuePattern", value: "0.*" },
      ]);
      expect(first.body.isPartial).toBe(true);
      const second = await fieldValues("le", [], { limit: 2, offset: 2 });
      expect(values(second)).toEqual(all.slice(2, 4));
      expect(second.body.isPartial).toBe(all.length > 4);
      const prefixed = await fieldValues("le", [], { fieldValuePrefix: "0." });
      expect(values(prefixed)).toEqual(all.filter((v) => v.startsWith("0.")));
      expect(prefixed.body.isPartial).toBe(false);
    });

    it("gives metric names for __gauge__ and __counter__ (all, where no metadata says otherwise)", async () => {
      const names = [...new Set(ALL_SERIES.map((s) => s.name))].filter((n) => n.startsWith("mirror_")).sort();
      const gauges = await fieldValues("__gauge__", [cond("job", "app")], { fieldValuePrefix: "mirror_" });
      expect(values(gauges)).toEqual(names);
      const counters = await fieldValues("__counter__", [cond("job", "app")], {
        fieldValuePrefix: "mirror_",
      });
      expect(values(counters)).toEqual(names);
    });

    it("uses Prometheus's metadata to keep counters and gauges apart", async () => {
      // Prometheus scrapes itself every second; wait until its metadata names both kinds.
      const deadline = Date.now() + 15_000;
      let types: Record<string, Array<{ type: string }>> = {};
      while (Date.now() < deadline) {
        const res = await fetch(`${h.prometheus.url}/api/v1/metadata`);
        types = ((await res.json()) as { data: typeof types }).data;
        if (types.go_goroutines && types.prometheus_http_requests_total) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(types.go_goroutines?.[0]?.type).toBe("gauge");
      const live = { startTime: Date.now() - 10 * MIN, endTime: Date.now() + MIN };
      const gauges = values(
        await fieldValues("__gauge__", [], { ...live, fieldValuePrefix: "go_goroutines", limit: 1000 }),
      );
      const counters = values(
        await fieldValues("__counter__", [], { ...live, fieldValuePrefix: "go_goroutines" }),
      );
      expect(gauges).toContain("go_goroutines");
      expect(counters).not.toContain("go_goroutines");
      const counterNames = values(
        await fieldValues("__counter__", [cond("job", "prometheus")], {
          ...live,
          fieldValuePrefix: "prometheus_http_requests_",
        }),
      );
      expect(counterNames).toContain("prometheus_http_requests_total");
      const gaugeNames = values(
        await fieldValues("__gauge__", [cond("job", "prometheus")], {
          ...live,
          fieldValuePrefix: "prometheus_http_requests_",
        }),
      );
      expect(gaugeNames).not.toContain("prometheus_http_requests_total");
    });

    it("refuses an invalid label name with 400", async () => {
      const res = await fieldValues('le"} or vector(1', []);
      expect(res.status).toBe(400);
      expect(res.body.details).toContain("label-name-invalid");
    });
  });

  describe("connection test", () => {
    const test = (details: Record<string, unknown>, base = open.url) =>
      post(base, MIRROR_PATHS.connection, { _type: "TestConnectionRequest", connectionDetails: details });

    it("answers OK for a healthy Prometheus", async () => {
      const res = await test(h.details, h.mirror.url);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ _type: "TestConnectionResponse", status: "OK" });
    });

    it.each([
      ["refused", () => ({ host: "127.0.0.1", port: refusedPort }), "refused"],
      [
        "timeout",
        () => ({ host: "127.0.0.1", port: hangingPort, requestTimeout: 300 }),
        "did not answer within 300 ms",
      ],
      ["HTTP status", () => ({ host: "127.0.0.1", port: unhealthyPort }), "HTTP 503"],
    ])(
      "answers FAILURE with a MetricStoreConnectionError saying what failed (%s)",
      async (_, details, says) => {
        const res = await test(details());
        expect(res.status).toBe(200);
        expect(res.body.status).toBe("FAILURE");
        expect(res.body.error._type).toBe("MetricStoreConnectionError");
        expect(res.body.error.details).toContain(says);
      },
    );

    it("reaches a Prometheus served below a pathPrefix", async () => {
      const viaProxy = { host: "127.0.0.1", port: proxyPort, pathPrefix: "/prom" };
      expect((await test(viaProxy)).body.status).toBe("OK");
      const query = {
        conditions: [cond("__gauge__", "mirror_gauge"), cond("instance", "a")],
        startTime: T0,
        endTime: T0 + 5 * MIN,
        limit: 21,
      };
      const proxied = await post(open.url, MIRROR_PATHS.metric, { connectionDetails: viaProxy, query });
      const direct = await post(h.mirror.url, MIRROR_PATHS.metric, { connectionDetails: h.details, query });
      expect(proxied.status).toBe(200);
      expect(proxied.body.telemetry.points).toHaveLength(21);
      expect(proxied.body).toEqual(direct.body);
    });

    it("answers FAILURE for a wrong pathPrefix", async () => {
      const res = await test({ ...h.details, pathPrefix: "/prometheus" }, h.mirror.url);
      expect(res.body.status).toBe("FAILURE");
      expect(res.body.error.details).toContain("HTTP 404");
    });
  });

  describe("Prometheus failures on queries", () => {
    const query = (details: Record<string, unknown>) =>
      post(open.url, MIRROR_PATHS.metric, {
        _type: "MetricsRequest",
        connectionDetails: details,
        query: { conditions: [cond("__gauge__", "up")], startTime: T0, endTime: T0 + MIN, limit: 10 },
      });

    it("answers 504 when Prometheus does not answer within requestTimeout", async () => {
      const before = Date.now();
      const res = await query({ host: "127.0.0.1", port: hangingPort, requestTimeout: 300 });
      expect(res.status).toBe(504);
      expect(res.body._type).toBe("MetricStoreConnectionError");
      expect(Date.now() - before).toBeLessThan(5000);
    });

    it("answers 502 when Prometheus refuses the connection", async () => {
      const res = await query({ host: "127.0.0.1", port: refusedPort });
      expect(res.status).toBe(502);
      expect(res.body.details).toContain("refused");
    });
  });

  describe("targets allowlist", () => {
    it("refuses a Prometheus outside MIRROR_ALLOWED_TARGETS without connecting to it", async () => {
      const before = hangingConnections;
      for (const path of [MIRROR_PATHS.connection, MIRROR_PATHS.fieldName, MIRROR_PATHS.metric]) {
        const res = await post(h.mirror.url, path, {
          connectionDetails: { host: "127.0.0.1", port: hangingPort, requestTimeout: 300 },
          query: { conditions: [cond("__gauge__", "up")], startTime: T0, endTime: T0 + MIN, limit: 10 },
        });
        expect(res.status).toBe(403);
        expect(res.body._type).toBe("RemoteMirrorError");
        expect(res.body.details).toContain(`127.0.0.1:${hangingPort} is not in this mirror's list`);
        expect(res.headers.get("x-mirror-api-key")).toBe(MIRROR_KEY);
      }
      await new Promise((r) => setTimeout(r, 100));
      expect(hangingConnections).toBe(before);
    });

    it("lets an allowed target through", async () => {
      const res = await post(h.mirror.url, MIRROR_PATHS.connection, { connectionDetails: h.details });
      expect(res.body.status).toBe("OK");
    });
  });

  describe("keys", () => {
    const metric = (base: string, headers: Record<string, string> = {}, body?: unknown) =>
      post(
        base,
        MIRROR_PATHS.metric,
        body ?? {
          connectionDetails: h.details,
          query: {
            conditions: [cond("__gauge__", "mirror_gauge"), cond("instance", "a")],
            startTime: T0,
            endTime: T0 + MIN,
            limit: 5,
          },
        },
        headers,
      );
    const basic = (user: string, key: string) => `Basic ${Buffer.from(`${user}:${key}`).toString("base64")}`;

    it.each([
      ["a successful answer", 200, () => metric(h.mirror.url)],
      ["a malformed body", 400, () => metric(h.mirror.url, {}, "{not json")],
      ["a schema error", 400, () => metric(h.mirror.url, {}, { connectionDetails: h.details })],
      ["a missing metric", 404, () => metric(h.mirror.url, {}, missingMetric(h.details))],
      [
        "a refused target",
        403,
        () => metric(h.mirror.url, {}, missingMetric({ host: "10.0.0.1", port: 9090 })),
      ],
      [
        "an unreachable Prometheus",
        502,
        () => metric(open.url, {}, missingMetric({ host: "127.0.0.1", port: refusedPort })),
      ],
      [
        "a too large body",
        413,
        () => metric(h.mirror.url, {}, JSON.stringify({ pad: "x".repeat(1_100_000) })),
      ],
    ])("carries X-MIRROR-API-KEY on %s (%i)", async (_, status, call) => {
      const res = await call();
      expect(res.status).toBe(status);
      expect(res.headers.get("x-mirror-api-key")).toBe(MIRROR_KEY);
      expect(JSON.stringify(res.body)).not.toContain(MIRROR_KEY);
    });

    it.each([
      ["an unknown path", 404, () => post(h.mirror.url, "/api/nothing", {})],
      ["a wrong method", 405, () => fetch(`${h.mirror.url}/api/metric`)],
      ["HEAD", 405, () => fetch(`${h.mirror.url}/api/metric`, { method: "HEAD" })],
      ["OPTIONS", 405, () => fetch(`${h.mirror.url}/api/metric`, { method: "OPTIONS" })],
      ["the health check", 200, () => fetch(`${h.mirror.url}/healthcheck`)],
    ] as Array<[string, number, () => Promise<{ status: number; headers: Headers }>]>)(
      "carries no X-MIRROR-API-KEY on %s (%i): not an answer of the protocol",
      async (_, status, call) => {
        const res = await call();
        expect(res.status).toBe(status);
        expect(res.headers.get("x-mirror-api-key")).toBeNull();
      },
    );

    it("schema errors name what is wrong", async () => {
      const res = await metric(
        h.mirror.url,
        {},
        { connectionDetails: { host: "127.0.0.1", port: "x" }, query: {} },
      );
      expect(res.body._type).toBe("RemoteMirrorError");
      expect(res.body.details).toContain("connectionDetails.port");
      expect(res.body.details).toContain("query.conditions");
    });

    it("refuses a wrongly presented key with 401 and does not reveal the key", async () => {
      const res = await metric(h.mirror.url, { "X-MIRROR-API-KEY": "wrong" });
      expect(res.status).toBe(401);
      expect(res.headers.get("x-mirror-api-key")).toBeNull();
      expect(JSON.stringify(res.body)).not.toContain(MIRROR_KEY);
    });

    describe("with MIRROR_REQUIRE_KEY=true", () => {
      let strict: Served;
      beforeAll(async () => {
        strict = await serveMirror({
          MIRROR_REQUIRE_KEY: "true",
          MIRROR_ALLOWED_TARGETS: `127.0.0.1:${h.prometheus.port}`,
        });
      });
      afterAll(async () => {
        await strict?.close();
      });

      it.each([
        ["no credentials", {}],
        ["a wrong X-MIRROR-API-KEY", { "X-MIRROR-API-KEY": "nope" }],
        ["a wrong sts-api-key", { "sts-api-key": `${MIRROR_KEY}x` }],
        ["basic auth with another user", { authorization: basic("admin", MIRROR_KEY) }],
      ])("answers 401 without the key for %s", async (_, headers) => {
        const res = await metric(strict.url, headers);
        expect(res.status).toBe(401);
        expect(res.headers.get("x-mirror-api-key")).toBeNull();
        expect(res.headers.get("www-authenticate")).toContain("Basic");
      });

      it.each([
        ["X-MIRROR-API-KEY", { "X-MIRROR-API-KEY": MIRROR_KEY }],
        ["sts-api-key", { "sts-api-key": MIRROR_KEY }],
        ["basic auth apikey:<key>", { authorization: basic("apikey", MIRROR_KEY) }],
      ])("serves a request presenting the key in %s", async (_, headers) => {
        const res = await metric(strict.url, headers);
        expect(res.status).toBe(200);
        expect(res.headers.get("x-mirror-api-key")).toBe(MIRROR_KEY);
      });
    });
  });
});

function missingMetric(details: Record<string, unknown>) {
  return {
    connectionDetails: details,
    query: { conditions: [cond("__gauge__", "no_such_metric")], startTime: T0, endTime: T0 + MIN, limit: 5 },
  };
}
