import { describe, expect, it } from "vitest";
import { MirrorError } from "../../../lib/mirror/errors";
import { differingLabels, rawStep, usablePoints } from "../../../lib/mirror/metrics-query";
import { PrometheusClient, parseResult, sampleValue } from "../../../lib/mirror/prometheus-client";

const target = { baseUrl: "http://prom.example:9090", display: "prom.example:9090" };

/** A fetch that fails the way Node's fetch does for network errors. */
const failing = (code: string): typeof fetch =>
  (async () => {
    throw Object.assign(new TypeError("fetch failed"), { cause: Object.assign(new Error(code), { code }) });
  }) as typeof fetch;
const answering = (status: number, body: unknown): typeof fetch =>
  (async () => new Response(JSON.stringify(body), { status })) as typeof fetch;

async function error(client: PrometheusClient): Promise<MirrorError> {
  try {
    await client.query("up", 0);
  } catch (err) {
    expect(err).toBeInstanceOf(MirrorError);
    return err as MirrorError;
  }
  throw new Error("expected an error");
}

describe("PrometheusClient error classification", () => {
  it.each([
    ["ECONNREFUSED", 502, "refused"],
    ["ENOTFOUND", 502, "DNS lookup failed"],
    ["EAI_AGAIN", 502, "DNS lookup failed"],
    ["ECONNRESET", 502, "closed the connection"],
    ["EHOSTUNREACH", 502, "unreachable"],
    ["CERT_HAS_EXPIRED", 502, "CERT_HAS_EXPIRED"],
  ])("%s → %i", async (code, status, says) => {
    const err = await error(new PrometheusClient(target, 1000, { fetch: failing(code) }));
    expect(err.status).toBe(status);
    expect(err.body._type).toBe("MetricStoreConnectionError");
    expect(err.message).toContain(says);
  });

  it("a timeout is 504", async () => {
    const hang = ((_: unknown, init?: RequestInit) =>
      new Promise((_, reject) => {
        init?.signal?.addEventListener("abort", () => reject(init.signal?.reason));
      })) as typeof fetch;
    const err = await error(new PrometheusClient(target, 50, { fetch: hang }));
    expect(err.status).toBe(504);
    expect(err.message).toContain("did not answer within 50 ms");
  });

  it.each([
    [400, { status: "error", errorType: "bad_data", error: "parse error" }, 400, "parse error"],
    [422, { status: "error", errorType: "execution", error: "many-to-many" }, 400, "many-to-many"],
    [503, { status: "error", errorType: "timeout", error: "query timed out" }, 504, "did not answer"],
    [503, { status: "error", errorType: "unavailable", error: "shutting down" }, 502, "HTTP 503"],
    [404, "not found", 502, "is pathPrefix right?"],
    [200, { status: "weird" }, 502, "without a success status"],
  ])("HTTP %i %j → %i", async (status, body, expected, says) => {
    const err = await error(new PrometheusClient(target, 1000, { fetch: answering(status, body) }));
    expect(err.status).toBe(expected);
    expect(err.message).toContain(says);
  });

  it("sends the query with times in seconds and the timeout", async () => {
    let seen = "";
    const spy = (async (url: string) => {
      seen = url;
      return new Response(JSON.stringify({ status: "success", data: { resultType: "matrix", result: [] } }));
    }) as unknown as typeof fetch;
    await new PrometheusClient(target, 1234, { fetch: spy }).queryRange(
      'up{a="b"}',
      1_000_500,
      2_000_000,
      15_000,
    );
    const url = new URL(seen);
    expect(url.pathname).toBe("/api/v1/query_range");
    expect(url.searchParams.get("query")).toBe('up{a="b"}');
    expect(url.searchParams.get("start")).toBe("1000.500");
    expect(url.searchParams.get("step")).toBe("15.000");
    expect(url.searchParams.get("timeout")).toBe("1234ms");
  });
});

describe("result parsing", () => {
  it("reads special sample values", () => {
    expect(sampleValue("+Inf")).toBe(Number.POSITIVE_INFINITY);
    expect(sampleValue("-Inf")).toBe(Number.NEGATIVE_INFINITY);
    expect(sampleValue("NaN")).toBeNaN();
    expect(sampleValue("1.5e3")).toBe(1500);
  });

  it("normalizes matrix, vector and scalar results", () => {
    expect(
      parseResult({ resultType: "matrix", result: [{ metric: { a: "1" }, values: [[1.5, "2"]] }] }),
    ).toEqual([{ labels: { a: "1" }, points: [[1500, 2]] }]);
    expect(
      parseResult({ resultType: "vector", result: [{ metric: {}, value: [2, "NaN"] }] })[0]!.points[0]![1],
    ).toBeNaN();
    expect(parseResult({ resultType: "scalar", result: [3, "4"] })).toEqual([
      { labels: {}, points: [[3000, 4]] },
    ]);
  });
});

describe("metric query helpers", () => {
  it("chooses a raw step that keeps the points within the limit", () => {
    for (const [span, limit] of [
      [3_600_000, 100],
      [3_600_000, 7],
      [86_400_000, 1000],
      [10_000, 1],
      [0, 5],
    ] as const) {
      const step = rawStep(0, span, limit);
      expect(Math.floor(span / step) + 1).toBeLessThanOrEqual(limit);
      expect(step).toBeGreaterThanOrEqual(1000);
    }
  });

  it("never asks Prometheus for more than 11,000 points", () => {
    const step = rawStep(0, 30 * 86_400_000, 1_000_000);
    expect(Math.floor((30 * 86_400_000) / step) + 1).toBeLessThanOrEqual(11_000);
  });

  it("leaves NaN and infinities out, or turns NaN into 0", () => {
    const series = {
      labels: {},
      points: [
        [1, 1],
        [2, Number.NaN],
        [3, Number.POSITIVE_INFINITY],
      ] as Array<[number, number]>,
    };
    expect(usablePoints(series, false)).toEqual([[1, 1]]);
    expect(usablePoints(series, true)).toEqual([
      [1, 1],
      [2, 0],
    ]);
  });

  it("names the labels that differ between series", () => {
    const labels = differingLabels([
      { labels: { job: "a", instance: "x", env: "p" }, points: [] },
      { labels: { job: "a", instance: "y" }, points: [] },
    ]);
    expect(labels).toEqual([
      { name: "env", values: ["", "p"] },
      { name: "instance", values: ["x", "y"] },
    ]);
  });
});
