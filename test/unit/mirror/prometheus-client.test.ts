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
    ).toEqual([{ labels: { a: "1" }, times: Float64Array.of(1500), values: Float64Array.of(2) }]);
    expect(
      parseResult({ resultType: "vector", result: [{ metric: {}, value: [2, "NaN"] }] })[0]!.values[0],
    ).toBeNaN();
    expect(parseResult({ resultType: "scalar", result: [3, "4"] })).toEqual([
      { labels: {}, times: Float64Array.of(3000), values: Float64Array.of(4) },
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
      times: Float64Array.of(1, 2, 3),
      values: Float64Array.of(1, Number.NaN, Number.POSITIVE_INFINITY),
    };
    expect(usablePoints(series, false)).toEqual([[1, 1]]);
    expect(usablePoints(series, true)).toEqual([
      [1, 1],
      [2, 0],
    ]);
  });

  it("names the labels that differ between series", () => {
    const labels = differingLabels([
      { labels: { job: "a", instance: "x", env: "p" } },
      { labels: { job: "a", instance: "y" } },
    ]);
    expect(labels).toEqual([
      { name: "env", values: ["", "p"] },
      { name: "instance", values: ["x", "y"] },
    ]);
  });
});

describe("answers read within the cap and the timeout", () => {
  const seen: string[] = [];
  /** A fetch answering `body` (streamed in 1 KiB chunks), recording the URLs asked. */
  const serving =
    (body: string, chunkDelayMs = 0): typeof fetch =>
    async (url, init) => {
      seen.push(String(url));
      const data = new TextEncoder().encode(body);
      let at = 0;
      const stream = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (chunkDelayMs > 0) await new Promise((r) => setTimeout(r, chunkDelayMs));
          if (init?.signal?.aborted) return controller.error(init.signal.reason);
          if (at >= data.length) return controller.close();
          controller.enqueue(data.subarray(at, at + 1024));
          at += 1024;
        },
      });
      return new Response(stream, { status: 200 });
    };
  const matrixOf = (points: number) =>
    JSON.stringify({
      status: "success",
      data: {
        resultType: "matrix",
        result: [
          { metric: { __name__: "m" }, values: Array.from({ length: points }, (_, i) => [i, `${i}`]) },
        ],
      },
    });

  it("an answer over the cap is answer-too-large (400), naming the cap and how to narrow", async () => {
    const client = new PrometheusClient(target, 1000, {
      fetch: serving(matrixOf(10_000)),
      maxAnswerBytes: 65_536,
    });
    const err = await client.queryRange("m", 0, 1, 1).then(
      () => {
        throw new Error("expected an error");
      },
      (e: unknown) => e as MirrorError,
    );
    expect(err).toBeInstanceOf(MirrorError);
    expect(err.status).toBe(400);
    expect(err.code).toBe("answer-too-large");
    expect(err.body).toMatchObject({
      _type: "RemoteMirrorError",
      summary: "Prometheus's answer is too large",
    });
    expect(err.message).toContain("64 KiB (65536 bytes)");
    expect(err.message).toContain("MIRROR_MAX_ANSWER_BYTES");
    expect(err.message).toContain("add a label condition");
  });

  it("with partial, an answer over the cap gives the points before the cut", async () => {
    const client = new PrometheusClient(target, 1000, {
      fetch: serving(matrixOf(10_000)),
      maxAnswerBytes: 65_536,
    });
    const { items, truncated } = await client.queryRange("m", 0, 1, 1, true);
    expect(truncated).toBe(true);
    expect(items).toHaveLength(1);
    const n = items[0]!.times.length;
    expect(n).toBeGreaterThan(1000);
    expect(n).toBeLessThan(10_000);
    expect([...items[0]!.times.subarray(0, 3)]).toEqual([0, 1000, 2000]);
    expect(items[0]!.values[n - 1]).toBe(n - 1);
  });

  it("the timeout ends a body that comes too slowly (504)", async () => {
    const client = new PrometheusClient(target, 100, { fetch: serving(matrixOf(10_000), 20) });
    const started = Date.now();
    const err = await client.queryRange("m", 0, 1, 1).then(
      () => {
        throw new Error("expected an error");
      },
      (e: unknown) => e as MirrorError,
    );
    expect(err.status).toBe(504);
    expect(err.message).toContain("did not answer within 100 ms");
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("lists: Prometheus is asked for `limit` (when allowed) and the list is cut at it", async () => {
    const values = JSON.stringify({ status: "success", data: ["a", "b", "c", "d"] });
    seen.length = 0;
    const asking = new PrometheusClient(target, 1000, { fetch: serving(values), sendLimits: true });
    expect(await asking.labelValues("job", undefined, 0, 1000, 2)).toEqual({
      items: ["a", "b"],
      truncated: true,
    });
    expect(new URL(seen[0]!).searchParams.get("limit")).toBe("2");
    const quiet = new PrometheusClient(target, 1000, { fetch: serving(values) });
    expect(await quiet.labelValues("job", undefined, 0, 1000, 4)).toEqual({
      items: ["a", "b", "c", "d"],
      truncated: true, // as many as asked: there may be more
    });
    expect(await quiet.labelValues("job", undefined, 0, 1000, 5)).toEqual({
      items: ["a", "b", "c", "d"],
      truncated: false,
    });
    expect(new URL(seen[1]!).searchParams.has("limit")).toBe(false);
  });

  it("lists over the cap are cut, not refused", async () => {
    const many = JSON.stringify({
      status: "success",
      data: Array.from({ length: 50_000 }, (_, i) => ({ __name__: "m", instance: `host-${i}` })),
    });
    const client = new PrometheusClient(target, 1000, { fetch: serving(many), maxAnswerBytes: 65_536 });
    const { items, truncated } = await client.series("m", 0, 1000, 1_000_000);
    expect(truncated).toBe(true);
    expect(items.length).toBeGreaterThan(100);
    expect(items.length).toBeLessThan(50_000);
    for (const set of items) expect(Object.keys(set)).toEqual(["__name__", "instance"]);
  });
});
