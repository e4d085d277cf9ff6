import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIRROR_PATHS } from "../../../lib/core/routes";
import { MIN, openMetrics, T0, wideGauge } from "../../fixtures/mirror/data";
import {
  backfillOpenMetrics,
  makeTempDir,
  prometheusAvailable,
  type RunningPrometheus,
  startPrometheus,
} from "../../support/prometheus";
import { cond, post, type Served, serveMirror } from "./harness";

/**
 * A broad query against a real Prometheus holding 3000 series of one gauge: the mirror looks
 * the series up first and refuses with how to narrow, instead of reading the whole fleet's
 * points; narrowed, it answers; an answer over the cap is refused; field values come a page
 * at a time.
 */

const SERIES = 3000;
const HOUR = 60 * MIN;

describe.skipIf(!prometheusAvailable())("broad queries against a real Prometheus (3000 series)", () => {
  let home: string;
  let prometheus: RunningPrometheus;
  let mirror: Served;
  let smallCap: Served;
  const calls: URL[] = [];
  const recording: typeof fetch = (input, init) => {
    calls.push(new URL(String(input)));
    return fetch(input, init);
  };

  beforeAll(async () => {
    home = await makeTempDir("mirror-wide-");
    const dataDir = join(home, "data");
    await backfillOpenMetrics(openMetrics(wideGauge(SERIES)), dataDir);
    prometheus = await startPrometheus({
      configYaml: "global:\n  scrape_interval: 1m\n",
      dataDir,
      extraFlags: ["--storage.tsdb.retention.time=3650d"],
    });
    const allowed = `127.0.0.1:${prometheus.port}`;
    mirror = await serveMirror({ MIRROR_ALLOWED_TARGETS: allowed }, recording);
    smallCap = await serveMirror({ MIRROR_ALLOWED_TARGETS: allowed, MIRROR_MAX_ANSWER_BYTES: "1048576" });
  }, 120_000);
  afterAll(async () => {
    await mirror?.close();
    await smallCap?.close();
    await prometheus?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  const details = () => ({ host: "127.0.0.1", port: prometheus.port, requestTimeout: 20_000 });
  const metric = (base: string, conditions: unknown[], extra: Record<string, unknown> = {}) =>
    post(base, MIRROR_PATHS.metric, {
      _type: "MetricsRequest",
      connectionDetails: details(),
      query: {
        _type: "MetricsQuery",
        conditions,
        startTime: T0,
        endTime: T0 + HOUR,
        limit: 11_000,
        ...extra,
      },
    });

  it("the whole fleet: too-many-series naming the labels to add, after a lookup of 51 series only", async () => {
    calls.length = 0;
    const res = await metric(mirror.url, [cond("__gauge__", "mirror_wide")]);
    expect(res.status).toBe(400);
    expect(res.body._type).toBe("RemoteMirrorError");
    expect(res.body.summary).toBe("Conditions match too many series");
    expect(res.body.details).toMatch(
      /^\[too-many-series\] mirror_wide matches more than 50 series between 2024-03-01T00:00:00\.000Z and 2024-03-01T01:00:00\.000Z \(MIRROR_MAX_SERIES\), which differ in instance \("host-0000", "host-0001", "host-0002", …\), zone \("z0", "z1", "z2", …\); add a condition on one of these labels/,
    );
    // the query over 3000 series was never run
    expect(calls.map((u) => u.pathname)).toEqual(["/api/v1/series"]);
    expect(calls[0]!.searchParams.get("limit")).toBe("51");
  });

  it("a condition that still leaves 750 series is refused the same way", async () => {
    const res = await metric(mirror.url, [cond("__gauge__", "mirror_wide"), cond("zone", "z1")]);
    expect(res.status).toBe(400);
    expect(res.body.details).toMatch(/^\[too-many-series\] mirror_wide\{zone="z1"\} matches more than 50/);
    expect(res.body.details).toContain('instance ("host-0001", "host-0005", "host-0009", …)');
  });

  it("narrowed to one series it answers, raw and aggregated", async () => {
    const one = [cond("__gauge__", "mirror_wide"), cond("instance", "host-2345")];
    const raw = await metric(mirror.url, one, { limit: 61 });
    expect(raw.status).toBe(200);
    expect(raw.body.telemetry.isPartial).toBe(false);
    expect(raw.body.telemetry.points.length).toBeGreaterThan(50);
    for (const [v] of raw.body.telemetry.points) expect(v).toBe(2345);
    const aggregated = await metric(mirror.url, one, {
      aggregation: { _type: "Aggregation", method: "EVENT_COUNT", bucketSizeMillis: 15 * MIN },
    });
    expect(aggregated.status).toBe(200);
    expect(aggregated.body.telemetry.points.map((p: number[]) => p[0])).toEqual([15, 15, 15, 15]);
  });

  it("a ~ query over the fleet is answer-too-large when its answer is over the cap", async () => {
    const res = await metric(smallCap.url, [cond("~", "mirror_wide")], { limit: 100 });
    expect(res.status).toBe(400);
    expect(res.body.details).toMatch(
      /^\[answer-too-large\] Prometheus's answer to \/api\/v1\/query_range is larger than the 1 MiB \(1048576 bytes\) this mirror reads \(MIRROR_MAX_ANSWER_BYTES\); narrow the ~ expression/,
    );
  });

  it("within the cap, the same ~ query is read whole and names the series that differ", async () => {
    const res = await metric(mirror.url, [cond("~", "mirror_wide")], { limit: 100 });
    expect(res.status).toBe(400);
    expect(res.body.details).toMatch(/^\[conditions-ambiguous\] the conditions match 3000 series/);
  });

  it("field values a page at a time: 100 of 3000 instances, partial, with prefixes to narrow by", async () => {
    const res = await post(mirror.url, MIRROR_PATHS.fieldValue, {
      _type: "FieldValuesRequest",
      connectionDetails: details(),
      query: {
        _type: "FieldValuesQuery",
        conditions: [cond("__gauge__", "mirror_wide")],
        field: { _type: "FieldDescriptor", fieldName: "instance", fieldType: "STRING" },
        startTime: T0,
        endTime: T0 + HOUR,
        limit: 100,
        offset: 0,
      },
    });
    expect(res.status).toBe(200);
    expect(res.body.isPartial).toBe(true);
    const complete = res.body.values.filter((v: { _type: string }) => v._type === "CompleteValue");
    expect(complete.map((v: { value: string }) => v.value)).toEqual(
      Array.from({ length: 100 }, (_, i) => `host-${String(i).padStart(4, "0")}`),
    );
    expect(res.body.values).toContainEqual({ _type: "FieldValuePattern", value: "host-*" });
  });

  it("a value prefix goes to Prometheus as a matcher: host-29 finds its 100 instances whole", async () => {
    calls.length = 0;
    const res = await post(mirror.url, MIRROR_PATHS.fieldValue, {
      _type: "FieldValuesRequest",
      connectionDetails: details(),
      query: {
        _type: "FieldValuesQuery",
        conditions: [],
        field: { _type: "FieldDescriptor", fieldName: "instance", fieldType: "STRING" },
        fieldValuePrefix: "host-29",
        startTime: T0,
        endTime: T0 + HOUR,
        limit: 2_147_483_647,
        offset: 0,
      },
    });
    expect(res.status).toBe(200);
    expect(res.body.isPartial).toBe(false);
    expect(res.body.values.map((v: { value: string }) => v.value)).toEqual(
      Array.from({ length: 100 }, (_, i) => `host-${2900 + i}`),
    );
    expect(calls[0]!.searchParams.get("match[]")).toBe('{instance=~"host-29(?s:.*)"}');
  });
});
