import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { PutRecordsCommand } from "@aws-sdk/client-kinesis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalGateway, startLocalGateway } from "../../functions/local/gateway";
import { waitFor } from "../../functions/local/ports";
import { createKinesisClient } from "../../lib/aws/kinesis-client";
import type { DeadLetterMessage } from "../../lib/forwarder/dead-letter";
import { decodeRecord } from "../../lib/stream/consumer";
import { sealRecord } from "../../lib/stream/records";
import { seriesSlot } from "../../lib/stream/routing";
import { ShardMap } from "../../lib/stream/shard-map";
import { STALE_NAN, v1Message } from "../fixtures/remote-write";
import {
  missingFrom,
  remoteReadAll,
  type SampleMap,
  sampleCount,
  seriesKey,
  streamSamples,
} from "../support/forwarder-remote-read";
import {
  makeTempDir,
  prometheusAvailable,
  type RunningPrometheus,
  startPrometheus,
} from "../support/prometheus";
import { type StrictStream, startStrictStream } from "../support/strict-kinesis";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy";

/**
 * The whole loop with real components: a Prometheus remote-writes into the local gateway,
 * the gateway's forwarder delivers the stream to a second Prometheus (a remote-write
 * receiver) through a TCP proxy the test can cut. Every sample in the stream (what the
 * gateway acknowledged) must be in the second Prometheus with the same timestamp and the
 * same float64 bits, read back raw through its remote-read API (stale markers included).
 * The gateway writes to kinesis-local (and its forwarder reads it) through a front that
 * refuses what AWS refuses (test/support/strict-kinesis.ts).
 */
const KEY = "forwarder-e2e-key";
const OUTAGE_MS = 30_000;
const run = prometheusAvailable();

const senderConfig = (url: string) => `
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["127.0.0.1:{{PORT}}"]
  - job_name: gone
    scrape_interval: 1s
    static_configs:
      - targets: ["127.0.0.1:1"]
remote_write:
  - url: ${url}
    basic_auth:
      username: apikey
      password: ${KEY}
    queue_config:
      batch_send_deadline: 1s
      min_backoff: 100ms
      max_backoff: 1s
`;

describe.skipIf(!run)("forwarding the stream to a second Prometheus", () => {
  let receiver: RunningPrometheus;
  let proxy: TcpProxy;
  let stream: StrictStream;
  let gateway: LocalGateway;
  let sender: RunningPrometheus | undefined;
  let dir: string;

  beforeAll(async () => {
    dir = await makeTempDir("forwarder-e2e-");
    receiver = await startPrometheus({
      configYaml: "global:\n  scrape_interval: 1h\n",
      extraFlags: ["--web.enable-remote-write-receiver"],
    });
    proxy = await startTcpProxy({ port: receiver.port });
    stream = await startStrictStream({ streamName: "forwarder-e2e", shards: 2 });
    gateway = await startLocalGateway({
      port: 0,
      apiKey: KEY,
      shards: 2,
      env: {
        KINESIS_ENDPOINT: stream.endpoint,
        KINESIS_STREAM_NAME: "forwarder-e2e",
        AWS_REGION: stream.region,
        LOG_LEVEL: "error",
        FORWARD_URL: `${proxy.url}/api/v1/write`,
        FORWARD_DEAD_LETTER_FILE: join(dir, "dead-letters.jsonl"),
        FORWARD_BATCH_BUDGET_MS: "4000",
        FORWARD_TIMEOUT_MS: "2000",
      },
    });
  }, 120_000);

  afterAll(async () => {
    await sender?.stop().catch(() => {});
    await gateway?.stop();
    await stream?.stop();
    await proxy?.close();
    await receiver?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  let testOneLetters = 0;
  const deadLetters = async (): Promise<DeadLetterMessage[]> => {
    const text = await readFile(gateway.forwarder!.deadLetterFile!, "utf8").catch(() => "");
    return text
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as DeadLetterMessage);
  };

  /** kinesis-local itself, behind the front: the test reads the stream and plants records there. */
  const kinesis = () => createKinesisClient({ region: stream.region, endpoint: stream.kinesis.endpoint });

  async function expectAllArrived(): Promise<SampleMap> {
    const client = kinesis();
    let expected: SampleMap = new Map();
    let missing: string[] = [];
    try {
      await waitFor(
        "every acknowledged sample in the second Prometheus",
        async () => {
          expected = (await streamSamples(client, gateway.streamName)).samples;
          const actual = await remoteReadAll(receiver.url);
          // Both ways: the receiver gets data only from the forwarder, so it must hold
          // exactly what the stream holds.
          missing = [
            ...missingFrom(expected, actual),
            ...missingFrom(actual, expected).map((m) => `unexpected: ${m}`),
          ];
          return missing.length === 0;
        },
        // a forwarder catching up after the outage on a loaded machine: the records stay in
        // the stream, so only a sample that never arrives fails this, however late it would
        180_000,
        1_000,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\nmissing or different:\n${missing.join("\n")}`);
    } finally {
      client.destroy();
    }
    return expected;
  }

  it("delivers every acknowledged sample bit for bit, across a destination outage", async () => {
    sender = await startPrometheus({
      configYaml: senderConfig(`${gateway.url}/api/v1/write`),
      extraFlags: ["--storage.remote.flush-deadline=2s"],
    });
    const client = kinesis();
    const recordsInStream = async () => (await streamSamples(client, gateway.streamName)).records;
    await waitFor("records in the stream", async () => (await recordsInStream()) >= 3, 60_000, 500);

    // The destination goes away; the gateway keeps acknowledging, the forwarder keeps retrying.
    proxy.cut();
    const before = await recordsInStream();
    await waitFor(
      "records written during the outage",
      async () => (await recordsInStream()) > before + 3,
      60_000,
      500,
    );
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    proxy.restore();
    const after = await recordsInStream();
    await waitFor("records after the outage", async () => (await recordsInStream()) > after + 2, 60_000, 500);

    await sender.stop();
    sender = undefined;
    client.destroy();

    const expected = await expectAllArrived();
    const total = sampleCount(expected);
    expect(total).toBeGreaterThan(100);
    if (process.env.FORWARDER_E2E_REPORT) {
      console.info(
        `forwarded ${total} samples of ${expected.size} series; forwarder ${JSON.stringify(gateway.forwarder!.stats)}; proxy ${JSON.stringify(proxy.stats)}`,
      );
    }
    // The proxy refused connections during the cut, and batches were read again afterwards.
    expect(proxy.stats.refused).toBeGreaterThan(0);
    expect(gateway.forwarder!.stats.failedBatches).toBeGreaterThan(0);
    // A request cut after the receiver stored it is sent again; Prometheus then refuses the
    // repeated samples as out of order (400), so such a record may be dead-lettered — but
    // only a record whose every sample is already in the receiver, bit for bit.
    const receiverHas = await remoteReadAll(receiver.url);
    for (const letter of await deadLetters()) {
      expect(letter.status).toBe(400);
      expect(letter.detail).toMatch(/out of order|duplicate sample/);
      const decoded = decodeRecord(Buffer.from(letter.data!, "base64"), letter.partitionKey);
      for (const series of decoded.series) {
        const stored = receiverHas.get(seriesKey(series.labels));
        for (const sample of series.samples) expect(stored?.get(sample.timestamp)).toBe(sample.bits);
      }
    }
    testOneLetters = (await deadLetters()).length;
    expect(stream.strict.stats.inspected).toBeGreaterThan(0);
    expect(stream.strict.stats.refusals).toEqual([]);
  }, 420_000);

  it("dead-letters a record the destination refuses (400) and one that is not snappy, and moves on", async () => {
    const client = kinesis();
    const now = Date.now();
    // packed as the gateway packs them for the local stream's 4 shards: in its series' shard
    const map = ShardMap.uniform(4);
    const build = (name: string, timestamp: number, value: number) =>
      sealRecord(
        v1Message([
          {
            labels: [
              ["__name__", name],
              ["job", "forwarder-e2e"],
            ],
            samples: [{ value, timestamp }],
          },
        ]),
        "v1",
        undefined,
        map.group(seriesSlot({ __name__: name, job: "forwarder-e2e" }, undefined)),
        map,
      );
    // Timestamp 1000 (1970) is outside the receiver's TSDB head: Prometheus answers 400.
    const refused = build("forwarder_refused", 1_000, 1);
    // A stale marker (a NaN with its own bit pattern) must arrive as those exact bits.
    const later = build("forwarder_after_refused", now, STALE_NAN);
    // on the refused record's shard, so the two dead letters come in the order they were written
    const notSnappy = {
      data: new TextEncoder().encode("not snappy at all \u00ff\u00ff"),
      partitionKey: `prw1::0:${"ab".repeat(16)}`,
      explicitHashKey: refused.explicitHashKey,
    };
    const last = build("forwarder_after_poison", now, 7);
    for (const r of [refused, later, notSnappy, last]) {
      await client.send(
        new PutRecordsCommand({
          StreamName: gateway.streamName,
          Records: [{ Data: r.data, PartitionKey: r.partitionKey, ExplicitHashKey: r.explicitHashKey }],
        }),
      );
    }
    client.destroy();

    await waitFor(
      "the records after the refused and the poison record",
      async () => {
        const got = await remoteReadAll(receiver.url, [["__name__", "forwarder_after_.*"]]);
        return got.size === 2;
      },
      60_000,
      500,
    );
    const got = await remoteReadAll(receiver.url, [["__name__", "forwarder_.*"]]);
    const staleKey = seriesKey({ __name__: "forwarder_after_refused", job: "forwarder-e2e" });
    expect([...got.get(staleKey)!.entries()]).toEqual([[String(now), "7ff0000000000002"]]);
    expect([...got.keys()].sort()).toEqual(
      [
        seriesKey({ __name__: "forwarder_after_poison", job: "forwarder-e2e" }),
        seriesKey({ __name__: "forwarder_after_refused", job: "forwarder-e2e" }),
      ].sort(),
    );
    await waitFor("two dead letters", async () => (await deadLetters()).length >= testOneLetters + 2, 10_000);
    const letters = (await deadLetters()).slice(testOneLetters);
    expect(letters).toHaveLength(2);
    expect(letters[0]).toMatchObject({
      partitionKey: refused.partitionKey,
      status: 400,
      reason: "rejected",
      data: Buffer.from(refused.data).toString("base64"),
    });
    expect(letters[0]!.detail).toMatch(/out of bounds/);
    expect(letters[1]).toMatchObject({
      partitionKey: notSnappy.partitionKey,
      status: null,
      reason: "snappy-corrupt",
      data: Buffer.from(notSnappy.data).toString("base64"),
    });
    expect(letters[0]!.shardId).toBe(letters[1]!.shardId);
  }, 120_000);
});
