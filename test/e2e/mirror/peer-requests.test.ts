import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { LocalGateway } from "../../../functions/local/gateway";
import { HEALTHCHECK_PATH, MIRROR_PATHS } from "../../../lib/core/routes";
import { HOSTILE_VALUES, hostile, openMetrics } from "../../fixtures/mirror/data";
import {
  goSpelt,
  INT_MAX,
  PATTERN_VALUES,
  PEER_METRIC,
  PEER_REQUESTS,
  PEER_SERIES,
  type PeerRequestName,
  RANGE,
} from "../../fixtures/mirror/peer";
import {
  backfillOpenMetrics,
  makeTempDir,
  prometheusAvailable,
  type RunningPrometheus,
  startPrometheus,
} from "../../support/prometheus";
import { lambdaFront, localFront, type Send } from "./fronts";
import { MIRROR_KEY, post, type Served, serveMirror } from "./harness";
import { CHECKS, peerPath } from "./peer-checks";

/**
 * Every request shape of the recorded StackState fixture set, adapted to this data, in both
 * connection-details dialects, through the Hono app, the local server and the Lambda
 * handler, against a real Prometheus. Set and number conditions are checked against what
 * Prometheus itself selects, hostile set members included.
 */
describe.skipIf(!prometheusAvailable())("StackState request shapes (real Prometheus)", () => {
  let home: string;
  let prometheus: RunningPrometheus;
  let served: Served;
  let local: { send: Send; gateway: LocalGateway };
  let lambda: Send;
  const fronts: Record<string, Send> = {};

  beforeAll(async () => {
    home = await makeTempDir("mirror-peer-");
    const dataDir = join(home, "data");
    await backfillOpenMetrics(openMetrics([...PEER_SERIES, ...hostile]), dataDir);
    prometheus = await startPrometheus({
      configYaml: "global:\n  scrape_interval: 1h\n",
      dataDir,
      extraFlags: ["--storage.tsdb.retention.time=3650d"],
    });
    const env = { MIRROR_ALLOWED_TARGETS: `127.0.0.1:${prometheus.port}` };
    served = await serveMirror(env);
    local = await localFront(env);
    lambda = await lambdaFront({ MIRROR_API_KEY: MIRROR_KEY, LOG_LEVEL: "error", ...env });
    fronts.app = (path, body, headers) => post(served.url, path, body, headers);
    fronts.local = local.send;
    fronts.lambda = lambda;
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await served?.close();
    await local?.gateway.stop();
    await prometheus?.stop();
    const { rm } = await import("node:fs/promises");
    if (home) await rm(home, { recursive: true, force: true });
  });

  const dialects = {
    "host/port": () => ({ host: "127.0.0.1", port: prometheus.port, requestTimeout: 15_000 }),
    url: () => ({ url: `http://127.0.0.1:${prometheus.port}`, request_timeout_seconds: 15_000 }),
    "url with a path and trailing slash": () => ({
      url: `http://127.0.0.1:${prometheus.port}/`,
      request_timeout_seconds: 15,
      nan_interpretation: "NONE",
    }),
  } as const;

  const cases = (Object.keys(PEER_REQUESTS) as PeerRequestName[]).flatMap((name) =>
    (Object.keys(dialects) as Array<keyof typeof dialects>).flatMap((dialect) =>
      ["app", "local", "lambda"].map((front) => [name, dialect, front] as const),
    ),
  );

  it.each(cases)("%s in the %s dialect through the %s", async (name, dialect, front) => {
    const body = PEER_REQUESTS[name](dialects[dialect]());
    const res = await fronts[front]!(peerPath(name), body);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.headers.get("x-mirror-api-key")).toBe(MIRROR_KEY);
    CHECKS[name](res.body);
  });

  const url = () => ({ url: `http://127.0.0.1:${prometheus.port}/` });
  const rawQuery = (conditions: unknown[]) =>
    post(served.url, MIRROR_PATHS.metric, {
      connectionDetails: url(),
      query: { conditions, ...RANGE, limit: INT_MAX },
    });
  const values = (field: string, conditions: unknown[], extra: Record<string, unknown> = {}) =>
    post(served.url, MIRROR_PATHS.fieldValue, {
      connectionDetails: url(),
      query: { conditions, field: { fieldName: field }, ...RANGE, limit: INT_MAX, ...extra },
    });
  const gauge = (metric: string) => ({ key: "__gauge__", value: { value: metric } });

  it("matches a DoubleValue against the Go spelling (2) as well as the Java one (2.0)", async () => {
    const res = await rawQuery([
      gauge(PEER_METRIC),
      { key: "double", value: { _type: "DoubleValue", value: 2 } },
      { key: "string", value: "stringValue1" }, // a bare value: its JSON type says StringValue
    ]);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.telemetry.points[0]).toEqual([goSpelt.samples[0]![1], RANGE.startTime]);
  });

  it("InSetValue members are literals to Prometheus: hostile values select exactly their series", async () => {
    for (let i = 0; i < HOSTILE_VALUES.length; i++) {
      const set = [HOSTILE_VALUES[i]!, ".*", 'x"}', "|", "(a|b)", "\\"];
      const res = await rawQuery([
        gauge("mirror_hostile"),
        { key: "path", value: { _type: "InSetValue", value: set } },
      ]);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      // the series' value is its index + 1: one series, the right one
      expect(new Set(res.body.telemetry.points.map(([v]: [number]) => v))).toEqual(new Set([i + 1]));
    }
    const pair = await values("path", [
      { key: "path", value: { _type: "InSetValue", value: [HOSTILE_VALUES[0], HOSTILE_VALUES[2], ".+"] } },
    ]);
    expect(pair.status, JSON.stringify(pair.body)).toBe(200);
    expect(pair.body.values.map((v: { value: string }) => v.value)).toEqual(
      [HOSTILE_VALUES[0], HOSTILE_VALUES[2]].sort(),
    );
  });

  it("an empty InSetValue matches nothing", async () => {
    const none = await values("string", [{ key: "inset", value: { _type: "InSetValue", value: [] } }]);
    expect(none.status, JSON.stringify(none.body)).toBe(200);
    expect(none.body.values).toEqual([]);
    const metric = await rawQuery([
      gauge(PEER_METRIC),
      { key: "inset", value: { _type: "InSetValue", value: [] } },
    ]);
    expect(metric.status).toBe(404);
    expect(metric.body._type).toBe("MetricNotFoundError");
  });

  it("cuts a long value list at the limit and suggests FieldValuePattern prefixes", async () => {
    const cut = await values("svc", [], { limit: 3 });
    expect(cut.body.isPartial).toBe(true);
    expect(cut.body.values).toEqual([
      ...PATTERN_VALUES.slice(0, 3).map((value) => ({ _type: "CompleteValue", value })),
      { _type: "FieldValuePattern", value: "go_*" },
      { _type: "FieldValuePattern", value: "http.*" },
      { _type: "FieldValuePattern", value: "process_*" },
    ]);
    const narrower = await values("svc", [], { limit: 1, fieldValuePrefix: "http." });
    expect(narrower.body.values).toEqual([
      { _type: "CompleteValue", value: "http.server.a" },
      { _type: "FieldValuePattern", value: "http.server.*" },
    ]);
    const whole = await values("svc", [], { limit: INT_MAX });
    expect(whole.body.isPartial).toBe(false);
    expect(whole.body.values.every((v: { _type: string }) => v._type === "CompleteValue")).toBe(true);
  });

  it("serves /healthcheck and / without a key, harmlessly, on the local server and the app", async () => {
    for (const base of [served.url, local.gateway.url]) {
      for (const path of [HEALTHCHECK_PATH, "/"]) {
        const res = await fetch(`${base}${path}`);
        expect(res.status, `${base}${path}`).toBe(200);
        expect(await res.json()).toEqual({ status: "OK" });
        expect(res.headers.get("x-mirror-api-key")).toBeNull();
      }
    }
  });
});
