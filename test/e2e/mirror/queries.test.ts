import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIRROR_PATHS } from "../../../lib/core/routes";
import {
  counterA,
  GAP_FROM,
  GAP_TO,
  gaugeA,
  HISTOGRAM_BOUNDS,
  HISTOGRAM_INCREMENTS,
  HOSTILE_VALUES,
  hostile,
  MIN,
  nanSeries,
  RATE_1,
  RATE_2,
  REGIME_CHANGE,
  RESET_AT,
  SCRAPE_MS,
  T0,
} from "../../fixtures/mirror/data";
import { parsesQuotedNames, prometheusAvailable, prometheusVersion } from "../../support/prometheus";
import { expectedBucket, histogramQuantile, METHODS, rateAt, valueAt } from "./expected";
import { cond, type Harness, post, startHarness } from "./harness";

/** Metric queries against a real Prometheus loaded with the fixture; expectations from the fixture. */
describe.skipIf(!prometheusAvailable())("mirror metric queries (real Prometheus)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.stop();
  });

  const metric = (
    conditions: unknown[],
    startTime: number,
    endTime: number,
    extra: Record<string, unknown> = {},
    details: Record<string, unknown> = {},
  ) =>
    post(h.mirror.url, MIRROR_PATHS.metric, {
      _type: "MetricsRequest",
      connectionDetails: { ...h.details, ...details },
      query: { _type: "MetricsQuery", conditions, startTime, endTime, limit: 1000, ...extra },
    });
  const gaugeA_ = [cond("__gauge__", "mirror_gauge"), cond("instance", "a")];

  it("answers a raw gauge request with the stored values seen at each step, within the limit", async () => {
    const start = T0 + 50 * MIN + 7_000;
    const end = T0 + 80 * MIN;
    const limit = 500;
    const res = await metric(gaugeA_, start, end, { limit });
    expect(res.status).toBe(200);
    const t = res.body.telemetry;
    expect(t._type).toBe("RawMetricTelemetry");
    expect(t.dataFormat).toEqual(["value", "timestamp"]);
    expect(t.isPartial).toBe(false);
    expect(t.points.length).toBeLessThanOrEqual(limit);
    const step = t.points[1][1] - t.points[0][1];
    let checked = 0;
    let inGap = 0;
    for (let ts = start; ts <= end; ts += step) {
      const expected = valueAt(gaugeA.samples, ts);
      if (expected === "ambiguous") continue;
      const got = t.points.find((p: number[]) => p[1] === ts);
      if (expected === "none") {
        expect(got, `no point at ${ts}`).toBeUndefined();
        inGap++;
      } else {
        expect(got, `point at ${ts}`).toEqual([expected, ts]);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(300);
    expect(inGap).toBeGreaterThan(100); // the 12 min gap minus the 5 min lookback
  });

  it("keeps a raw answer within a small limit by widening the step", async () => {
    const start = T0 + 10 * MIN;
    const end = T0 + 20 * MIN;
    const res = await metric(gaugeA_, start, end, { limit: 41 });
    const points: number[][] = res.body.telemetry.points;
    expect(points).toHaveLength(41); // (end - start) / 15 s + 1
    expect(points.map((p) => p[1])).toEqual(Array.from({ length: 41 }, (_, i) => start + i * SCRAPE_MS));
    const stored = new Map(gaugeA.samples.map(([ts, v]) => [ts, v]));
    for (const [v, ts] of points) expect(v).toBe(stored.get(ts!));
    const coarse = await metric(gaugeA_, start, end, { limit: 5 });
    expect(coarse.body.telemetry.points.length).toBeLessThanOrEqual(5);
    expect(coarse.body.telemetry.points[0][1]).toBe(start);
  });

  it("answers a counter as a per-second rate, also across a counter reset", async () => {
    const start = T0 + 30 * MIN;
    const end = T0 + 90 * MIN;
    const res = await metric([cond("__counter__", "mirror_requests_total"), cond("job", "app")], start, end, {
      limit: (end - start) / SCRAPE_MS + 1,
    });
    expect(res.status).toBe(200);
    const points: number[][] = res.body.telemetry.points;
    const seen = new Set<number>();
    for (const [value, ts] of points) {
      const expected = rateAt(counterA.samples, ts!, MIN);
      if (expected === undefined) continue;
      expect(value, `rate at ${new Date(ts!).toISOString()}`).toBeCloseTo(expected, 9);
      seen.add(expected);
    }
    expect(seen).toEqual(new Set([RATE_1, RATE_2]));
    // The reset is in the data and in range: the raw counter drops there.
    const drop = counterA.samples.findIndex(
      ([ts, v], i) => i > 0 && v < counterA.samples[i - 1]![1] && ts > start,
    );
    expect(counterA.samples[drop]![0]).toBe(T0 + RESET_AT);
    const aroundReset = points.filter(([, ts]) => ts! >= T0 + RESET_AT && ts! <= T0 + RESET_AT + MIN);
    expect(aroundReset.length).toBeGreaterThan(3);
    for (const [value] of aroundReset) expect(value).toBeCloseTo(RATE_2, 9);
    expect(REGIME_CHANGE).toBeLessThan(RESET_AT);
  });

  describe("aggregation over aligned buckets of stored gauge samples", () => {
    const bucket = 5 * MIN;
    const start = T0 + 50 * MIN + 7_000; // not aligned: the first bucket starts at 50 min
    const end = T0 + 80 * MIN;
    const buckets = Array.from({ length: 6 }, (_, i) => T0 + 50 * MIN + i * bucket);

    it.each(METHODS)("%s", async (method) => {
      const res = await metric(gaugeA_, start, end, { aggregation: { method, bucketSizeMillis: bucket } });
      expect(res.status).toBe(200);
      const t = res.body.telemetry;
      expect(t._type).toBe("AggregatedMetricTelemetry");
      expect(t.dataFormat).toEqual(["value", "startTimestamp", "endTimestamp"]);
      expect(t.isPartial).toBe(false);
      const expected: number[][] = [];
      for (const b of buckets) {
        const values = gaugeA.samples.filter(([ts]) => ts >= b && ts < b + bucket).map(([, v]) => v);
        const v = expectedBucket(method, values);
        if (v !== undefined) expected.push([v, b, b + bucket]);
      }
      // The gap leaves the buckets at 60 and 65 min empty.
      expect(buckets.filter((b) => b >= T0 + GAP_FROM && b + bucket <= T0 + GAP_TO)).toHaveLength(2);
      expect(t.points).toHaveLength(expected.length);
      t.points.forEach((p: number[], i: number) => {
        expect(p[1]).toBe(expected[i]![1]);
        expect(p[2]).toBe(expected[i]![2]);
        expect(p[0]).toBeCloseTo(expected[i]![0]!, 9);
      });
    });
  });

  it("aggregates counter rates evaluated inside each bucket", async () => {
    const bucket = 5 * MIN;
    const start = T0 + 75 * MIN;
    const end = T0 + 95 * MIN;
    const res = await metric([cond("__counter__", "mirror_requests_total")], start, end, {
      aggregation: { method: "MAX", bucketSizeMillis: bucket },
    });
    expect(res.status).toBe(200);
    const points: number[][] = res.body.telemetry.points;
    expect(points.map((p) => p[1])).toEqual([0, 1, 2, 3].map((i) => start + i * bucket));
    for (const [value] of points) expect(value).toBeCloseTo(RATE_2, 9); // the reset at 80 min is invisible
  });

  it("cuts aggregated answers at the limit with isPartial, and continues from the last bucket", async () => {
    const bucket = MIN;
    const start = T0 + 10 * MIN;
    const end = T0 + 30 * MIN;
    const aggregation = { method: "MEAN", bucketSizeMillis: bucket };
    const full = await metric(gaugeA_, start, end, { aggregation, limit: 100 });
    expect(full.body.telemetry.isPartial).toBe(false);
    expect(full.body.telemetry.points).toHaveLength(20);
    const first = await metric(gaugeA_, start, end, { aggregation, limit: 8 });
    expect(first.body.telemetry.isPartial).toBe(true);
    expect(first.body.telemetry.points).toEqual(full.body.telemetry.points.slice(0, 8));
    const lastEnd = first.body.telemetry.points[7][2];
    const rest = await metric(gaugeA_, lastEnd, end, { aggregation, limit: 100 });
    expect(rest.body.telemetry.points).toEqual(full.body.telemetry.points.slice(8));
  });

  it("evaluates a ~ query with histogram_quantile over the requested range", async () => {
    const q = 0.75;
    const expr = `histogram_quantile(${q}, sum by (le) (rate(mirror_latency_seconds_bucket{job="app"}[1m])))`;
    const start = T0 + 10 * MIN;
    const end = T0 + 20 * MIN;
    const res = await metric(
      [{ _type: "EqualityCondition", key: "~", value: { _type: "StringValue", value: expr } }],
      start,
      end,
      { limit: 41 },
    );
    expect(res.status).toBe(200);
    const points: number[][] = res.body.telemetry.points;
    expect(points).toHaveLength(41);
    const bounds = HISTOGRAM_BOUNDS.map((b) => (b === "+Inf" ? Number.POSITIVE_INFINITY : Number(b)));
    const rates = HISTOGRAM_INCREMENTS.map((inc) => inc / (SCRAPE_MS / 1000));
    const expected = histogramQuantile(q, bounds, rates);
    expect(expected).toBeGreaterThan(bounds[1]!); // inside the (0.5, 1] bucket: interpolation matters
    for (const [value] of points) expect(value).toBeCloseTo(expected, 9);
  });

  it("filters the series of a ~ query by the other conditions", async () => {
    const start = T0 + 10 * MIN;
    const end = T0 + 12 * MIN;
    const res = await metric([cond("~", "mirror_gauge"), cond("instance", "a")], start, end, { limit: 9 });
    expect(res.status).toBe(200);
    const stored = new Map(gaugeA.samples.map(([ts, v]) => [ts, v]));
    for (const [v, ts] of res.body.telemetry.points) expect(v).toBe(stored.get(ts));
  });

  describe("NaN", () => {
    const start = T0;
    const end = T0 + 20 * MIN;
    const limit = (end - start) / SCRAPE_MS + 1;
    const inRange = nanSeries.samples.filter(([ts]) => ts <= end);

    it("leaves NaN values out by default", async () => {
      const res = await metric([cond("__gauge__", "mirror_nan")], start, end, { limit });
      const expected = inRange.filter(([, v]) => !Number.isNaN(v)).map(([ts, v]) => [v, ts]);
      expect(expected.length).toBeLessThan(inRange.length);
      expect(res.body.telemetry.points).toEqual(expected);
    });

    it('counts NaN as 0 with "nan_interpretation": "ZERO"', async () => {
      const res = await metric(
        [cond("__gauge__", "mirror_nan")],
        start,
        end,
        { limit },
        { nan_interpretation: "ZERO" },
      );
      expect(res.body.telemetry.points).toEqual(inRange.map(([ts, v]) => [Number.isNaN(v) ? 0 : v, ts]));
    });

    it("applies to aggregation too", async () => {
      const aggregation = { method: "EVENT_COUNT", bucketSizeMillis: 5 * MIN };
      const skip = await metric([cond("__gauge__", "mirror_nan")], start, end, { aggregation });
      const zero = await metric(
        [cond("__gauge__", "mirror_nan")],
        start,
        end,
        { aggregation },
        { nan_interpretation: "zero" },
      );
      const count = (keepNaN: boolean, b: number) =>
        nanSeries.samples.filter(([ts, v]) => ts >= b && ts < b + 5 * MIN && (keepNaN || !Number.isNaN(v)))
          .length;
      expect(skip.body.telemetry.points.map((p: number[]) => p[0])).toEqual(
        [0, 1, 2, 3].map((i) => count(false, start + i * 5 * MIN)),
      );
      expect(zero.body.telemetry.points.map((p: number[]) => p[0])).toEqual(
        [0, 1, 2, 3].map((i) => count(true, start + i * 5 * MIN)),
      );
    });
  });

  describe("series selection", () => {
    it("answers MetricNotFoundError (404) naming the query when no series matches", async () => {
      const res = await metric([cond("__gauge__", "mirror_gauge"), cond("instance", "zzz")], T0, T0 + MIN);
      expect(res.status).toBe(404);
      expect(res.body._type).toBe("MetricNotFoundError");
      expect(res.body.metric).toBe('mirror_gauge{instance="zzz"}');
      expect(res.body.details).toContain('mirror_gauge{instance="zzz"}');
    });

    it("answers RemoteMirrorError (400) naming the labels that differ when several series match", async () => {
      const res = await metric([cond("__gauge__", "mirror_gauge")], T0, T0 + MIN);
      expect(res.status).toBe(400);
      expect(res.body._type).toBe("RemoteMirrorError");
      expect(res.body.details).toContain("match 2 series");
      expect(res.body.details).toContain('instance ("a", "b")');
      expect(res.body.details).not.toContain("job");
    });

    it.each([
      ["no special condition", [cond("job", "app")]],
      [
        "two special conditions",
        [cond("__gauge__", "mirror_gauge"), cond("__counter__", "mirror_requests_total")],
      ],
    ])("refuses %s with a RemoteMirrorError (400)", async (_, conditions) => {
      const res = await metric(conditions, T0, T0 + MIN);
      expect(res.status).toBe(400);
      expect(res.body._type).toBe("RemoteMirrorError");
      expect(res.body.details).toContain("exactly one condition with key __counter__, __gauge__ or ~");
    });

    it("answers 400 when Prometheus rejects a ~ query", async () => {
      const res = await metric([cond("~", "rate(mirror_gauge[")], T0, T0 + MIN);
      expect(res.status).toBe(400);
      expect(res.body.summary).toBe("Prometheus rejected the query");
    });
  });

  describe("injection", () => {
    it.each(HOSTILE_VALUES.map((v, i) => [JSON.stringify(v), i] as const))(
      "a hostile label value %s matches only literally",
      async (_, index) => {
        const series = hostile[index]!;
        const res = await metric(
          [cond("__gauge__", "mirror_hostile"), cond("path", series.labels.path!)],
          T0,
          T0 + 2 * MIN,
          { limit: 9 },
        );
        expect(res.status).toBe(200);
        const expected = series.samples.filter(([ts]) => ts <= T0 + 2 * MIN).map(([ts, v]) => [v, ts]);
        expect(res.body.telemetry.points).toEqual(expected);
      },
    );

    it.each([
      'nothing"} or vector(1) #',
      'x"} or vector(1) or mirror_gauge{job="app',
      '\\"} or vector(1) or {path="',
    ])("a value that closes the selector matches nothing: %s", async (path) => {
      expect(HOSTILE_VALUES).not.toContain(path);
      const res = await metric([cond("__gauge__", "mirror_hostile"), cond("path", path)], T0, T0 + MIN);
      expect(res.status).toBe(404);
      expect(res.body._type).toBe("MetricNotFoundError");
    });

    it.each([
      ["metric name", [cond("__gauge__", "mirror_gauge or vector(1)")]],
      ["counter name", [cond("__counter__", "x[5m])) or vector((1")]],
    ])("a hostile %s is a name like any other: it matches nothing", async (_, conditions) => {
      const res = await metric(conditions, T0, T0 + MIN);
      expect(res.status).toBe(404);
      expect(res.body._type).toBe("MetricNotFoundError");
    });

    it("a hostile label name is written quoted: Prometheus 3 matches nothing, 2 refuses the syntax", async () => {
      const res = await metric(
        [cond("__gauge__", "mirror_hostile"), cond('path"} or vector(1) #', "x")],
        T0,
        T0 + MIN,
      );
      if (parsesQuotedNames(prometheusVersion())) {
        expect(res.status).toBe(404);
        expect(res.body._type).toBe("MetricNotFoundError");
      } else {
        expect(res.status).toBe(400);
        expect(res.body.details).toContain("utf8-names-unsupported");
      }
    });
  });
});
