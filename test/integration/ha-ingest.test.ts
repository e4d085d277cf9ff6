import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedDynamoDB, startEmbeddedDynamoDB } from "../../functions/local/embedded-dynamodb";
import { type EmbeddedKinesis, startEmbeddedKinesis } from "../../functions/local/embedded-kinesis";
import { type LocalGateway, startLocalGateway } from "../../functions/local/gateway";
import { freePort } from "../../functions/local/ports";
import { remoteWriteEndpointFromEnv } from "../../functions/remote-write/wiring";
import { createMemoryMetrics } from "../../lib/core/metrics";
import { METRICS_PATH } from "../../lib/core/routes";
import {
  type Labels,
  realisticSeries,
  type SeriesSpec,
  snappy,
  v1Message,
  v2Message,
} from "../fixtures/remote-write";
import { type Front, httpFront, startFronts } from "../support/fronts";
import { streamContents } from "../support/stream";

/**
 * HA-pair deduplication through what production runs: the endpoint as the Lambda's wiring
 * builds it from the environment (the DynamoDB store against dynalite, records into the
 * embedded Kinesis), driven through both fronts (the local server's listener, the Lambda
 * handler with API Gateway events); and the local server itself with HA_DEDUP=true, which
 * starts its own DynamoDB API. Records are read back from the stream and decoded with
 * protobufjs.
 */
const STREAM = "ha-ingest";
const KEYS = { open: "ha-key-open-1", capListener: "ha-key-cap-2", capLambda: "ha-key-cap-3" };
let kinesis: EmbeddedKinesis;
let dynamo: EmbeddedDynamoDB;
let fronts: Front[];
let downFronts: Front[];
const metrics = createMemoryMetrics();
const downMetrics = createMemoryMetrics();
const closers: (() => void)[] = [];

const V1 = { "content-type": "application/x-protobuf", "content-encoding": "snappy" };
const V2 = {
  "content-type": "application/x-protobuf;proto=io.prometheus.write.v2.Request",
  "content-encoding": "snappy",
};

function pair(cluster: string, replica: string, n = 5, t0 = 1_700_000_000_000): SeriesSpec[] {
  return realisticSeries(n, 2, 6, t0).map((s) => ({
    ...s,
    labels: [
      ...s.labels.filter(([k]) => k !== "cluster"),
      ["cluster", cluster],
      ["__replica__", replica],
    ].sort((a, b) => (a[0]! < b[0]! ? -1 : 1)) as Labels,
  }));
}

const seriesOf = async (cluster: string) =>
  (await streamContents(kinesis.client, STREAM)).series.filter((s) => s.labels.cluster === cluster);

beforeAll(async () => {
  [kinesis, dynamo] = await Promise.all([startEmbeddedKinesis(), startEmbeddedDynamoDB()]);
  await kinesis.createStream(STREAM, 2);
  await dynamo.createReplicaTable("ha-replicas");
  const env = {
    KINESIS_STREAM_NAME: STREAM,
    KINESIS_ENDPOINT: kinesis.endpoint,
    AWS_REGION: "us-east-1",
    API_KEYS: `open=${KEYS.open},cap-listener=${KEYS.capListener},cap-lambda=${KEYS.capLambda}`,
    LOG_LEVEL: "error",
    HA_DEDUP: "true",
    HA_TABLE_NAME: "ha-replicas",
    HA_MAX_CLUSTERS: "4",
    DYNAMODB_ENDPOINT: dynamo.endpoint,
  };
  const up = remoteWriteEndpointFromEnv(env, metrics);
  // the same, with a DynamoDB API that is not there
  const down = remoteWriteEndpointFromEnv(
    { ...env, DYNAMODB_ENDPOINT: `http://127.0.0.1:${await freePort()}`, PUT_DEADLINE_MS: "2000" },
    downMetrics,
  );
  closers.push(up.close, down.close);
  fronts = await startFronts(up.endpoint);
  downFronts = await startFronts(down.endpoint);
}, 90_000);

afterAll(async () => {
  for (const f of [...(fronts ?? []), ...(downFronts ?? [])]) await f.close();
  for (const close of closers) close();
  await dynamo?.stop();
  await kinesis?.stop();
});

describe.each([0, 1])("HA deduplication through front %i", (i) => {
  const front = () => fronts[i]!;
  const tag = () => front().name.split(" ")[0]!.toLowerCase();

  it("v1: the elected replica's series are written without the replica label; the other's request is 202 and writes nothing", async () => {
    const cluster = `v1-${tag()}`;
    const headers = { ...V1, "sts-api-key": KEYS.open };
    const a = await front().send({ headers, body: snappy(v1Message(pair(cluster, "a"))) });
    expect(a.status, a.body).toBe(204);
    const written = await seriesOf(cluster);
    expect(written).toHaveLength(5);
    for (const s of written) {
      expect(s.labels).not.toHaveProperty("__replica__");
      expect(s.labels.cluster).toBe(cluster);
      expect(s.tenant).toBe("open");
    }
    const before = metrics.totals.get("HaRequestsDropped{Reason=replica-not-elected}") ?? 0;
    const b = await front().send({
      headers,
      body: snappy(v1Message(pair(cluster, "b", 5, 1_700_000_000_001))),
    });
    expect(b.status).toBe(202);
    expect(b.body).toBe("");
    expect(b.headers["x-prometheus-remote-write-version"]).toBe("0.1.0");
    expect(await seriesOf(cluster)).toHaveLength(5);
    expect(metrics.totals.get("HaRequestsDropped{Reason=replica-not-elected}")).toBe(before + 1);
    // a's next request is written as before, and its series are b's series exactly
    const again = await front().send({
      headers,
      body: snappy(v1Message(pair(cluster, "a", 5, 1_700_000_100_000))),
    });
    expect(again.status).toBe(204);
    expect(await seriesOf(cluster)).toHaveLength(10);
  });

  it("v2: 204 with the written counts for the elected replica, 202 with counts of 0 for the other", async () => {
    const cluster = `v2-${tag()}`;
    const headers = { ...V2, "sts-api-key": KEYS.open };
    const a = await front().send({ headers, body: snappy(v2Message(pair(cluster, "a", 4))) });
    expect(a.status, a.body).toBe(204);
    expect(a.headers["x-prometheus-remote-write-samples-written"]).toBe("8");
    const b = await front().send({ headers, body: snappy(v2Message(pair(cluster, "b", 4))) });
    expect(b.status).toBe(202);
    expect(b.headers["x-prometheus-remote-write-samples-written"]).toBe("0");
    expect(b.headers["x-prometheus-remote-write-histograms-written"]).toBe("0");
    expect(b.headers["x-prometheus-remote-write-exemplars-written"]).toBe("0");
    const written = await seriesOf(cluster);
    expect(written).toHaveLength(4);
    for (const s of written) expect(Object.keys(s.labels)).not.toContain("__replica__");
  });

  it("a request whose first series has no replica label is written as it comes", async () => {
    const cluster = `plain-${tag()}`;
    const series = pair(cluster, "x", 2).map((s) => ({
      ...s,
      labels: s.labels.filter(([k]) => k !== "__replica__"),
    }));
    const res = await front().send({
      headers: { ...V1, "sts-api-key": KEYS.open },
      body: snappy(v1Message(series)),
    });
    expect(res.status).toBe(204);
    expect(await seriesOf(cluster)).toHaveLength(2);
  });

  it("a cluster past the tenant's cap is 400 too-many-clusters, not retryable, and writes nothing", async () => {
    const key = i === 0 ? KEYS.capListener : KEYS.capLambda;
    const headers = { ...V1, "sts-api-key": key };
    for (const n of [1, 2, 3, 4]) {
      const ok = await front().send({ headers, body: snappy(v1Message(pair(`cap-${tag()}-${n}`, "a", 1))) });
      expect(ok.status).toBe(204);
    }
    const refused = await front().send({ headers, body: snappy(v1Message(pair(`cap-${tag()}-5`, "a", 1))) });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatch(/^too-many-clusters: /);
    expect(await seriesOf(`cap-${tag()}-5`)).toHaveLength(0);
  });

  it("the replica table out of reach: 503 with Retry-After, nothing written, counted", async () => {
    const cluster = `down-${tag()}`;
    const res = await downFronts[i]!.send({
      headers: { ...V2, "sts-api-key": KEYS.open },
      body: snappy(v2Message(pair(cluster, "a", 2))),
    });
    expect(res.status).toBe(503);
    expect(Number(res.headers["retry-after"])).toBeGreaterThanOrEqual(5);
    expect(res.headers["x-prometheus-remote-write-samples-written"]).toBe("0");
    expect(await seriesOf(cluster)).toHaveLength(0);
    expect(downMetrics.totals.get("HaUnavailable")).toBe(i + 1);
  });
});

describe("the local server with HA_DEDUP=true", () => {
  let gateway: LocalGateway;
  beforeAll(async () => {
    gateway = await startLocalGateway({
      port: 0,
      apiKey: "ha-local-key-9",
      env: { HA_DEDUP: "true", LOG_LEVEL: "error", MIRROR_API_KEY: "ha-local-mirror-9" },
    });
  }, 90_000);
  afterAll(async () => {
    await gateway?.stop();
  });

  it("runs the same tracker against its own DynamoDB API, and shows it on /metrics", async () => {
    expect(gateway.ha).toMatchObject({
      embedded: true,
      clusterLabel: "cluster",
      replicaLabel: "__replica__",
    });
    expect(gateway.ha?.dynamodbEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const front = httpFront(gateway.url);
    try {
      const headers = { ...V1, "sts-api-key": gateway.apiKey };
      expect((await front.send({ headers, body: snappy(v1Message(pair("local", "a"))) })).status).toBe(204);
      expect((await front.send({ headers, body: snappy(v1Message(pair("local", "b"))) })).status).toBe(202);
      const exposition = await (await fetch(`${gateway.url}${METRICS_PATH}`)).text();
      expect(exposition).toContain(
        'prometheus_gateway_ha_requests_dropped_total{reason="replica-not-elected"} 1',
      );
      expect(exposition).toContain(
        'prometheus_gateway_ha_samples_dropped_total{reason="replica-not-elected"} 10',
      );
      expect(exposition).toContain("prometheus_gateway_ha_elections_total 1");
      expect(exposition).toMatch(/prometheus_gateway_ha_store_calls_total\{operation="PutItem"\} 1/);
    } finally {
      await front.close();
    }
  });
});
