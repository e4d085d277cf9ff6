import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedKinesis, startEmbeddedKinesis } from "../../functions/local/embedded-kinesis";
import { createRemoteWriteEndpoint } from "../../functions/remote-write/endpoint";
import { KinesisRecordsClient } from "../../lib/aws/kinesis-records";
import { KinesisSink } from "../../lib/aws/kinesis-sink";
import { StaticKeySource } from "../../lib/core/auth";
import { silentLogger } from "../../lib/core/log";
import { createMemoryMetrics } from "../../lib/core/metrics";
import { DEFAULTS } from "../../lib/ingest/config";
import { Ingestor } from "../../lib/ingest/ingest";
import {
  floatBits,
  ingestSettings,
  nativeHistogram,
  realisticSeries,
  type SeriesSpec,
  STALE_NAN,
  snappy,
  v1Message,
  v2Message,
} from "../fixtures/remote-write";
import { FRONT_NAMES, type Front, type FrontName, lambdaFront, startListenerFront } from "../support/fronts";
import { streamContents } from "../support/stream";
import { type StrictKinesis, startStrictKinesis } from "../support/strict-kinesis";

/**
 * The remote-write endpoint behind each production front (the local server's listener on
 * 127.0.0.1, the Lambda handler with API Gateway events) against a real Kinesis API
 * (kinesis-local behind a front that refuses what AWS refuses, test/support/strict-kinesis.ts):
 * what goes in comes back out of the stream, series by series, bit for bit.
 */
let kinesis: EmbeddedKinesis;
let strict: StrictKinesis;
/** The lean PutRecords client the Lambda uses, writing through the strict front. */
let putter: KinesisRecordsClient;
let stream = 0;
const fronts: Front[] = [];

beforeAll(async () => {
  kinesis = await startEmbeddedKinesis();
  strict = await startStrictKinesis({ target: kinesis.endpoint, region: kinesis.region });
  putter = KinesisRecordsClient.create({ region: kinesis.region, endpoint: strict.endpoint });
}, 90_000);

afterEach(async () => {
  for (const front of fronts.splice(0)) await front.close();
});

afterAll(async () => {
  putter?.destroy();
  await strict?.stop();
  await kinesis?.stop();
});

async function freshFront(
  frontName: FrontName,
  keys = [{ key: "k-secret" }, { key: "k-acme", tenant: "acme" }],
) {
  const streamName = `it-${++stream}`;
  await kinesis.createStream(streamName, 4);
  const metrics = createMemoryMetrics();
  const sink = new KinesisSink(
    putter,
    { streamName, concurrency: 4, deadlineMs: 10_000, retryAfterSeconds: 5 },
    silentLogger,
    metrics,
  );
  const endpoint = createRemoteWriteEndpoint({
    ingestor: new Ingestor(ingestSettings()),
    maxBodyBytes: DEFAULTS.maxBodyBytes,
    keys: new StaticKeySource(keys),
    sink,
    log: silentLogger,
    metrics,
  });
  const front = frontName === FRONT_NAMES[0] ? await startListenerFront(endpoint) : lambdaFront(endpoint);
  fronts.push(front);
  return { front, streamName, metrics };
}

const V2_TYPE = "application/x-protobuf;proto=io.prometheus.write.v2.Request";

function post(front: Front, body: Uint8Array, headers: Record<string, string>) {
  return front.send({ body, headers: { "content-encoding": "snappy", ...headers } });
}

const specials: SeriesSpec = {
  labels: [
    ["__name__", "edge_values"],
    ["label", 'ünïcødé ✓ "q" \\'],
  ],
  samples: [
    { value: STALE_NAN, timestamp: 1_700_000_000_000 },
    { value: Number.POSITIVE_INFINITY, timestamp: 1_700_000_001_000 },
    { value: Number.NEGATIVE_INFINITY, timestamp: 1_700_000_002_000 },
    { value: -0, timestamp: 1_700_000_003_000 },
  ],
};
const histogramSeries: SeriesSpec = {
  labels: [
    ["__name__", "rpc_latency_seconds"],
    ["service", "checkout"],
  ],
  histograms: [nativeHistogram(1_700_000_000_000)],
  exemplars: [{ labels: [["trace_id", "00f067aa0ba902b7"]], value: 0.042, timestamp: 1_700_000_000_500 }],
};

describe.each(
  FRONT_NAMES.flatMap((name) =>
    (
      [
        ["v1", "application/x-protobuf", v1Message],
        ["v2", V2_TYPE, v2Message],
      ] as const
    ).map(([version, contentType, encode]) => [version, name, contentType, encode] as const),
  ),
)("remote write %s into Kinesis through the %s", (version, frontName, contentType, encode) => {
  it("writes every series exactly once, bit for bit, each bucket on one shard", async () => {
    const { front, streamName, metrics } = await freshFront(frontName);
    const input = [...realisticSeries(500, 4), specials, histogramSeries];
    const res = await post(front, snappy(encode(input)), {
      "content-type": contentType,
      "sts-api-key": "k-secret",
    });
    expect(res.status).toBe(204);
    expect(res.headers["x-prometheus-remote-write-version"]).toBe(version === "v1" ? "0.1.0" : "2.0.0");
    if (version === "v2") {
      expect(res.headers["x-prometheus-remote-write-samples-written"]).toBe("2004");
      expect(res.headers["x-prometheus-remote-write-histograms-written"]).toBe("1");
      expect(res.headers["x-prometheus-remote-write-exemplars-written"]).toBe("1");
    }

    const { records, series } = await streamContents(kinesis.client, streamName);
    expect(records.length).toBeLessThanOrEqual(4);
    expect(metrics.totals.get("RecordsWritten")).toBe(records.length);
    expect(series).toHaveLength(input.length);
    const byLabels = new Map(series.map((s) => [JSON.stringify(s.labels), s]));
    for (const spec of input) {
      const got = byLabels.get(JSON.stringify(Object.fromEntries(spec.labels)));
      expect(got, JSON.stringify(spec.labels)).toBeDefined();
      expect(got!.samples.map((s) => [s.bits, s.timestamp])).toEqual(
        (spec.samples ?? []).map((s) => [floatBits(s.value), String(s.timestamp)]),
      );
      expect(got!.histograms).toHaveLength(spec.histograms?.length ?? 0);
      expect(got!.exemplars.map((e) => e.timestamp)).toEqual(
        (spec.exemplars ?? []).map((e) => String(e.timestamp)),
      );
    }
    const shardsOfBucket = new Map<number, Set<string>>();
    for (const s of series)
      shardsOfBucket.set(s.slot, (shardsOfBucket.get(s.slot) ?? new Set()).add(s.shardId));
    for (const shards of shardsOfBucket.values()) expect(shards.size).toBe(1);
    expect(new Set(series.map((s) => s.shardId)).size).toBeGreaterThan(1);
  });

  it("a resent request yields the same partition keys (duplicates are recognisable)", async () => {
    const { front, streamName } = await freshFront(frontName);
    const body = snappy(encode(realisticSeries(50, 2)));
    for (let i = 0; i < 2; i++) {
      const res = await post(front, body, { "content-type": contentType, "sts-api-key": "k-secret" });
      expect(res.status).toBe(204);
    }
    const { records } = await streamContents(kinesis.client, streamName);
    const keys = records.map((r) => r.record.PartitionKey!);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.length % 2).toBe(0);
    expect(new Set(keys).size).toBe(keys.length / 2);
  });

  it("tags data with the tenant of the key that wrote it", async () => {
    const { front, streamName } = await freshFront(frontName);
    const basic = `Basic ${Buffer.from("apikey:k-acme").toString("base64")}`;
    const res = await post(front, snappy(encode([specials])), {
      "content-type": contentType,
      authorization: basic,
    });
    expect(res.status).toBe(204);
    const { series } = await streamContents(kinesis.client, streamName);
    expect(series.map((s) => s.tenant)).toEqual(["acme"]);
    expect(series[0]!.partitionKey.startsWith(`sf3:prw${version === "v1" ? 1 : 2}:acme:`)).toBe(true);
  });

  it("writes the valid series and answers 400 naming the rejected ones", async () => {
    const { front, streamName, metrics } = await freshFront(frontName);
    const bad: SeriesSpec = { labels: [["job", "no-name"]], samples: [{ value: 1, timestamp: 1 }] };
    const res = await post(front, snappy(encode([specials, bad])), {
      "content-type": contentType,
      "sts-api-key": "k-secret",
    });
    expect(res.status).toBe(400);
    const text = res.body;
    expect(text).toContain("rejected 1 of 2 series");
    expect(text).toContain("missing-metric-name: 1");
    if (version === "v2") expect(res.headers["x-prometheus-remote-write-samples-written"]).toBe("4");
    const { series } = await streamContents(kinesis.client, streamName);
    expect(series.map((s) => s.labels.__name__)).toEqual(["edge_values"]);
    expect(metrics.totals.get("SeriesRejected{Reason=missing-metric-name}")).toBe(1);
  });
});

it("sends nothing AWS would refuse", () => {
  expect(strict.stats.inspected).toBeGreaterThan(0);
  expect(strict.stats.refusals).toEqual([]);
  expect(strict.stats.recordsThrottled).toBe(0);
});
