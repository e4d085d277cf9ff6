import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type LocalGateway, startLocalGateway } from "../../functions/local/gateway";
import { waitFor } from "../../functions/local/ports";
import { METRIC_NAMES, METRIC_SERVICES, prometheusName, REQUEST_DURATION } from "../../lib/core/metric-names";
import { EXPOSITION_CONTENT_TYPE } from "../../lib/core/metrics-registry";
import { METRICS_PATH, MIRROR_PATHS, REMOTE_WRITE_PATH } from "../../lib/core/routes";
import { nativeHistogram, realisticSeries, snappy, v1Message } from "../fixtures/remote-write";
import { type Family, parseExposition } from "../support/exposition-parser";
import { type StrictStream, startStrictStream } from "../support/strict-kinesis";

/**
 * The local server's GET /metrics: no key, the text format, counters that rise with what the
 * gateway does (remote write, refusals, mirror requests), request durations by route and
 * outcome with client paths kept out; and a quiet terminal: no EMF documents nor a line per
 * request unless LOG_LEVEL=debug, each function's EMF under its own Service then.
 */
const KEY = "metrics-key-41d7";
const MIRROR_KEY = "metrics-mirror-key-9e02";
let stream: StrictStream;

beforeAll(async () => {
  stream = await startStrictStream({ streamName: "metrics", shards: 2 });
}, 90_000);
afterAll(async () => {
  expect(stream.strict.stats.refusals).toEqual([]);
  await stream?.stop();
});

const start = (env: Record<string, string>, metricsIntervalMs?: number) =>
  startLocalGateway({
    port: 0,
    apiKey: KEY,
    mirrorApiKey: MIRROR_KEY,
    ...(metricsIntervalMs ? { metricsIntervalMs } : {}),
    env: {
      KINESIS_ENDPOINT: stream.endpoint,
      KINESIS_STREAM_NAME: "metrics",
      AWS_REGION: stream.region,
      ...env,
    },
  });

const write = (gateway: LocalGateway, body: Uint8Array) =>
  fetch(`${gateway.url}${REMOTE_WRITE_PATH}`, {
    method: "POST",
    headers: { "sts-api-key": KEY, "content-type": "application/x-protobuf", "content-encoding": "snappy" },
    body,
  });

async function scrape(gateway: LocalGateway): Promise<Map<string, Family>> {
  const res = await fetch(`${gateway.url}${METRICS_PATH}`);
  expect(res.status).toBe(200);
  return parseExposition(await res.text());
}

const value = (families: Map<string, Family>, emfName: string, labels: Record<string, string> = {}) =>
  families
    .get(prometheusName(emfName))
    ?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

describe("GET /metrics on the local server", () => {
  let gateway: LocalGateway;
  beforeAll(async () => {
    gateway = await start({ LOG_LEVEL: "error" });
  }, 60_000);
  afterAll(async () => {
    await gateway?.stop();
  });

  it("answers without a key, in the text format 0.0.4", async () => {
    const res = await fetch(`${gateway.url}${METRICS_PATH}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe(EXPOSITION_CONTENT_TYPE);
    const families = parseExposition(await res.text());
    expect(families.get(prometheusName(METRIC_NAMES.samplesReceived))?.type).toBe("counter");
  });

  it("counts samples, histograms, exemplars, records and PutRecords calls of a remote write", async () => {
    const before = await scrape(gateway);
    const series = realisticSeries(10, 3);
    series[0]!.exemplars = [{ labels: [["trace_id", "abc"]], value: 1, timestamp: 1_700_000_000_000 }];
    series.push({ labels: [["__name__", "latency"]], histograms: [nativeHistogram(1_700_000_000_000)] });
    expect((await write(gateway, snappy(v1Message(series)))).status).toBe(204);
    const after = await scrape(gateway);
    const rise = (name: string) => value(after, name)! - value(before, name)!;
    expect(rise(METRIC_NAMES.samplesReceived)).toBe(31);
    expect(rise(METRIC_NAMES.histogramsReceived)).toBe(1);
    expect(rise(METRIC_NAMES.exemplarsReceived)).toBe(1);
    expect(rise(METRIC_NAMES.recordsWritten)).toBeGreaterThanOrEqual(1);
    expect(rise(METRIC_NAMES.putRecordsCalls)).toBeGreaterThanOrEqual(1);
  });

  it("counts refused series by reason", async () => {
    const before = await scrape(gateway);
    const bad = [{ labels: [], samples: [{ value: 1, timestamp: 1 }] }];
    expect((await write(gateway, snappy(v1Message(bad)))).status).toBe(400);
    const after = await scrape(gateway);
    const reason = { reason: "no-labels" };
    expect(
      value(after, METRIC_NAMES.seriesRejected, reason)! -
        value(before, METRIC_NAMES.seriesRejected, reason)!,
    ).toBe(1);
  });

  it("counts mirror requests by endpoint and errors by reason", async () => {
    const before = await scrape(gateway);
    const res = await fetch(`${gateway.url}${MIRROR_PATHS.connection}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-mirror-api-key": MIRROR_KEY },
      body: "{not json",
    });
    expect(res.status).toBe(400);
    const after = await scrape(gateway);
    const endpoint = { endpoint: MIRROR_PATHS.connection };
    expect(
      value(after, METRIC_NAMES.mirrorRequests, endpoint)! -
        value(before, METRIC_NAMES.mirrorRequests, endpoint)!,
    ).toBe(1);
    const reason = { reason: "json-invalid" };
    expect(
      value(after, METRIC_NAMES.mirrorErrors, reason)! - value(before, METRIC_NAMES.mirrorErrors, reason)!,
    ).toBe(1);
  });

  it("times requests by route and outcome, and keeps client paths out of its labels", async () => {
    expect((await fetch(`${gateway.url}/made-up/${"x".repeat(50)}?q=1`)).status).toBe(404);
    expect((await fetch(`${gateway.url}${REMOTE_WRITE_PATH}`)).status).toBe(405);
    const res = await fetch(`${gateway.url}${METRICS_PATH}`);
    const text = await res.text();
    expect(text).not.toContain("made-up");
    const histogram = parseExposition(text).get(REQUEST_DURATION.name)!;
    const count = (route: string, outcome: string) =>
      histogram.samples.find(
        (s) => s.name.endsWith("_count") && s.labels.route === route && s.labels.outcome === outcome,
      )?.value;
    expect(count("other", "4xx")).toBeGreaterThanOrEqual(1);
    expect(count(REMOTE_WRITE_PATH, "4xx")).toBeGreaterThanOrEqual(1);
    expect(count(REMOTE_WRITE_PATH, "2xx")).toBeGreaterThanOrEqual(1);
    expect(count(METRICS_PATH, "2xx")).toBeGreaterThanOrEqual(1);
    for (const s of histogram.samples) {
      expect(REQUEST_DURATION.labels.route).toContain(s.labels.route);
      expect(REQUEST_DURATION.labels.outcome).toContain(s.labels.outcome);
    }
  });
});

describe("the local terminal", () => {
  let out: string[];
  const gateways: LocalGateway[] = [];
  beforeAll(() => {
    out = [];
    const real = process.stdout.write.bind(process.stdout);
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
      out.push(String(chunk));
      return (real as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    });
  });
  afterEach(async () => {
    for (const g of gateways.splice(0)) await g.stop();
  });
  afterAll(() => {
    vi.restoreAllMocks();
  });

  const lines = () =>
    out
      .join("")
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  const traffic = async (gateway: LocalGateway) => {
    expect((await write(gateway, snappy(v1Message(realisticSeries(2, 1))))).status).toBe(204);
    const mirror = await fetch(`${gateway.url}${MIRROR_PATHS.connection}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-mirror-api-key": MIRROR_KEY },
      body: "{}",
    });
    expect(mirror.status).toBe(400);
  };

  it("is quiet at LOG_LEVEL=info: no EMF documents, no line per request", async () => {
    out.length = 0;
    const gateway = await start({ LOG_LEVEL: "info" }, 50);
    gateways.push(gateway);
    await traffic(gateway);
    // the metrics are there, on /metrics
    await waitFor(
      "the mirror request on /metrics",
      async () =>
        (value(await scrape(gateway), METRIC_NAMES.mirrorRequests, { endpoint: MIRROR_PATHS.connection }) ??
          0) > 0,
      10_000,
    );
    await gateway.stop();
    gateways.length = 0;
    const written = lines();
    expect(written.filter((l) => "_aws" in l)).toEqual([]);
    expect(written.filter((l) => l.msg === "mirror request")).toEqual([]);
    // what the start says once is kept
    expect(written.some((l) => l.msg === "snappy codec")).toBe(true);
  });

  it("at LOG_LEVEL=debug writes each function's EMF under its own Service, and a line per mirror request", async () => {
    out.length = 0;
    const gateway = await start({ LOG_LEVEL: "debug" }, 50);
    gateways.push(gateway);
    await traffic(gateway);
    await waitFor(
      "EMF documents of remote-write and mirror",
      async () => {
        const emf = lines().filter((l) => "_aws" in l);
        return (
          emf.some((l) => l[METRIC_NAMES.samplesReceived] !== undefined) &&
          emf.some((l) => l[METRIC_NAMES.mirrorRequests] !== undefined)
        );
      },
      10_000,
    );
    const emf = lines().filter((l) => "_aws" in l);
    for (const doc of emf) {
      const service =
        doc[METRIC_NAMES.mirrorRequests] !== undefined || doc[METRIC_NAMES.mirrorErrors] !== undefined
          ? METRIC_SERVICES.mirror
          : METRIC_SERVICES.remoteWrite;
      expect(doc.Service).toBe(service);
    }
    expect(lines().some((l) => l.msg === "mirror request")).toBe(true);
  });
});
