import { describe, expect, it } from "vitest";
import { MirrorError } from "../../../lib/mirror/errors";
import { fieldNames, fieldValues, lookupLimit } from "../../../lib/mirror/fields";
import { queryMetrics, wholeBuckets } from "../../../lib/mirror/metrics-query";
import { PrometheusClient } from "../../../lib/mirror/prometheus-client";
import type { FieldValuesRequest, MetricsRequest } from "../../../lib/mirror/protocol";

/**
 * What a metric or field query asks of Prometheus and what it makes of answers cut at the
 * byte cap or at a limit, against a fetch that answers by path.
 */

const target = { baseUrl: "http://prom.example:9090", display: "prom.example:9090" };
const T0 = Date.UTC(2024, 2, 1);
const HOUR = 3_600_000;

type Route = (url: URL) => unknown;

function client(
  routes: Record<string, Route>,
  options: { maxAnswerBytes?: number; sendLimits?: boolean } = {},
) {
  const asked: URL[] = [];
  const fetchImpl = (async (input: string) => {
    const url = new URL(input);
    asked.push(url);
    const route = routes[url.pathname];
    if (route === undefined) return new Response("not found", { status: 404 });
    return new Response(JSON.stringify({ status: "success", data: route(url) }));
  }) as unknown as typeof fetch;
  return { client: new PrometheusClient(target, 5000, { fetch: fetchImpl, ...options }), asked };
}

const labels = (i: number) => ({ __name__: "m", instance: `host-${i}`, job: "j" });
const matrix = (series: number, points: number, stepMs = 15_000) => ({
  resultType: "matrix",
  result: Array.from({ length: series }, (_, s) => ({
    metric: labels(s),
    values: Array.from({ length: points }, (_, i) => [(T0 + i * stepMs) / 1000, String(i)]),
  })),
});

const gauge = (extra: Partial<MetricsRequest["query"]> = {}): MetricsRequest["query"] => ({
  _type: "MetricsQuery",
  conditions: [{ _type: "EqualityCondition", key: "__gauge__", value: { _type: "StringValue", value: "m" } }],
  startTime: T0,
  endTime: T0 + HOUR,
  limit: 1000,
  ...extra,
});

const ctx = (c: PrometheusClient, maxSeries = 50) => ({
  client: c,
  counterWindowMs: 60_000,
  nanAsZero: false,
  maxSeries,
});

async function refusal(p: Promise<unknown>): Promise<MirrorError> {
  const err = await p.catch((e) => e);
  expect(err).toBeInstanceOf(MirrorError);
  return err as MirrorError;
}

describe("metric queries look the series up first", () => {
  it("more series than MIRROR_MAX_SERIES: too-many-series naming how they differ; no query is run", async () => {
    const { client: c, asked } = client({
      "/api/v1/series": () => Array.from({ length: 3000 }, (_, i) => labels(i)),
      "/api/v1/query_range": () => matrix(3000, 240),
    });
    const err = await refusal(queryMetrics(gauge(), ctx(c, 50)));
    expect(err.status).toBe(400);
    expect(err.code).toBe("too-many-series");
    expect(err.message).toContain("matches more than 50 series");
    expect(err.message).toContain("MIRROR_MAX_SERIES");
    expect(err.message).toContain('instance ("host-0", "host-1", "host-10", …)');
    expect(err.message).toContain("add a condition on one of these labels");
    expect(asked.map((u) => u.pathname)).toEqual(["/api/v1/series"]);
  });

  it("asks Prometheus for one series more than the cap, over the range the query reads", async () => {
    const { client: c, asked } = client(
      { "/api/v1/series": () => [labels(0)], "/api/v1/query_range": () => matrix(1, 10) },
      { sendLimits: true },
    );
    await queryMetrics(gauge(), ctx(c, 50));
    const lookup = asked[0]!;
    expect(lookup.searchParams.get("match[]")).toBe("m");
    expect(lookup.searchParams.get("limit")).toBe("51");
    // a raw point takes the newest sample of the 5 minutes before it
    expect(Number(lookup.searchParams.get("start"))).toBe((T0 - 300_000) / 1000);
    expect(Number(lookup.searchParams.get("end"))).toBe((T0 + HOUR) / 1000);
  });

  it("no series: MetricNotFoundError at once", async () => {
    const { client: c, asked } = client({ "/api/v1/series": () => [] });
    const err = await refusal(queryMetrics(gauge(), ctx(c)));
    expect(err.status).toBe(404);
    expect(err.body._type).toBe("MetricNotFoundError");
    expect(asked).toHaveLength(1);
  });

  it("a few series: the query runs and the answer names them (conditions-ambiguous)", async () => {
    const { client: c } = client({
      "/api/v1/series": () => [labels(0), labels(1)],
      "/api/v1/query_range": () => matrix(2, 10),
    });
    const err = await refusal(queryMetrics(gauge(), ctx(c)));
    expect(err.code).toBe("conditions-ambiguous");
    expect(err.message).toContain("match 2 series");
  });

  it("~ queries are not looked up: bounded by the answer cap alone", async () => {
    const { client: c, asked } = client(
      { "/api/v1/query_range": () => matrix(400, 240) },
      { maxAnswerBytes: 65_536 },
    );
    const tilde = gauge({
      conditions: [{ _type: "EqualityCondition", key: "~", value: { _type: "StringValue", value: "m" } }],
    });
    const err = await refusal(queryMetrics(tilde, ctx(c)));
    expect(err.code).toBe("answer-too-large");
    expect(err.message).toContain("narrow the ~ expression");
    expect(asked.map((u) => u.pathname)).toEqual(["/api/v1/query_range"]);
  });
});

describe("one series over the cap is answered as far as it was read (isPartial)", () => {
  it("raw: the points before the cut", async () => {
    const { client: c } = client(
      { "/api/v1/series": () => [labels(0)], "/api/v1/query_range": () => matrix(1, 11_000, 1000) },
      { maxAnswerBytes: 65_536 },
    );
    const t = await queryMetrics(gauge({ limit: 11_000, endTime: T0 + 10_999_000 }), ctx(c));
    expect(t.isPartial).toBe(true);
    expect(t.points.length).toBeGreaterThan(1000);
    expect(t.points.length).toBeLessThan(11_000);
    expect(t.points[0]).toEqual([0, T0]);
    const last = t.points.length - 1;
    expect(t.points[last]).toEqual([last, T0 + last * 1000]);
  });

  it("aggregated: only whole buckets, and StackState asks again from the last one's end", async () => {
    // a month of samples every 10 s in one series: far over 64 KiB
    const samples = (30 * 24 * HOUR) / 10_000;
    const { client: c } = client(
      { "/api/v1/series": () => [labels(0)], "/api/v1/query": () => matrix(1, samples, 10_000) },
      { maxAnswerBytes: 65_536 },
    );
    const t = await queryMetrics(
      gauge({
        endTime: T0 + 30 * 24 * HOUR,
        aggregation: { _type: "Aggregation", method: "EVENT_COUNT", bucketSizeMillis: HOUR },
      }),
      ctx(c),
    );
    expect(t.isPartial).toBe(true);
    expect(t.points.length).toBeGreaterThan(0);
    expect(t.points.length).toBeLessThan(720);
    // every bucket answered is whole: 360 samples an hour
    for (const point of t.points) {
      const [count, start, end] = point as [number, number, number];
      expect(count).toBe(360);
      expect(end - start).toBe(HOUR);
    }
  });

  it("aggregated: a cut inside the first bucket cannot be answered in part", async () => {
    const { client: c } = client(
      { "/api/v1/series": () => [labels(0)], "/api/v1/query": () => matrix(1, 100_000, 10) },
      { maxAnswerBytes: 65_536 },
    );
    const err = await refusal(
      queryMetrics(
        gauge({ aggregation: { _type: "Aggregation", method: "MAX", bucketSizeMillis: HOUR } }),
        ctx(c),
      ),
    );
    expect(err.code).toBe("answer-too-large");
    expect(err.message).toContain("smaller buckets");
  });

  it("wholeBuckets keeps the buckets before the last point's", () => {
    const range = { first: 0, size: 10, count: 5, partial: false };
    expect(wholeBuckets(range, Float64Array.of(1, 12, 25))).toEqual({ ...range, count: 2, partial: true });
    expect(wholeBuckets(range, Float64Array.of(1, 5))).toEqual({ ...range, count: 0, partial: true });
    expect(wholeBuckets(range, new Float64Array(0))).toEqual({ ...range, count: 0, partial: true });
  });
});

describe("field lookups ask for a page's worth", () => {
  const valuesQuery = (extra: Partial<FieldValuesRequest["query"]> = {}): FieldValuesRequest["query"] => ({
    _type: "FieldValuesQuery",
    conditions: [],
    field: { _type: "FieldDescriptor", fieldName: "instance", fieldType: "STRING" },
    startTime: T0,
    endTime: T0 + HOUR,
    limit: 2_147_483_647,
    offset: 0,
    ...extra,
  });
  const values = (n: number) => Array.from({ length: n }, (_, i) => `host-${String(i).padStart(6, "0")}`);

  it("the limit: the page's end and one more, never fewer than 10,001", () => {
    expect(lookupLimit(0, 2_147_483_647)).toBe(10_001);
    expect(lookupLimit(0, 100)).toBe(10_001);
    expect(lookupLimit(20_000, 100)).toBe(20_101);
  });

  it("Int.MaxValue asks for 10,001 values; more are a partial answer", async () => {
    const { client: c, asked } = client(
      { "/api/v1/label/instance/values": () => values(50_000) },
      { sendLimits: true },
    );
    const page = await fieldValues(valuesQuery(), c);
    expect(asked[0]!.searchParams.get("limit")).toBe("10001");
    expect(page.isPartial).toBe(true);
    expect(page.items.filter((v) => v._type === "CompleteValue")).toHaveLength(10_000);
  });

  it("a prefix is asked of Prometheus as a matcher, so the limit applies after it", async () => {
    const { client: c, asked } = client({ "/api/v1/label/instance/values": () => ["host-9", "host-90"] });
    const page = await fieldValues(valuesQuery({ fieldValuePrefix: "host-9" }), c);
    expect(asked[0]!.searchParams.get("match[]")).toBe('{instance=~"host-9(?s:.*)"}');
    expect(page.items.map((v) => v.value)).toEqual(["host-9", "host-90"]);
    expect(page.isPartial).toBe(false);
  });

  it("a prefix is escaped: it matches only itself", async () => {
    const { client: c, asked } = client({ "/api/v1/label/__name__/values": () => [] });
    await fieldValues(
      valuesQuery({
        field: { _type: "FieldDescriptor", fieldName: "__gauge__", fieldType: "STRING" },
        fieldValuePrefix: 'a.b"|*',
      }),
      c,
    );
    expect(asked[0]!.searchParams.get("match[]")).toBe('{__name__=~"a\\\\.b\\"\\\\|\\\\*(?s:.*)"}');
  });

  it("field names: a cut list of label names is partial", async () => {
    const names = Array.from({ length: 20_000 }, (_, i) => `label_${String(i).padStart(5, "0")}`);
    const { client: c } = client({ "/api/v1/labels": () => names });
    const page = await fieldNames(
      { _type: "FieldNamesQuery", conditions: [], startTime: T0, endTime: T0 + HOUR, limit: 100 },
      c,
    );
    expect(page.isPartial).toBe(true);
    expect(page.items).toHaveLength(100);
  });
});
