import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { Context, KinesisStreamEvent, KinesisStreamRecord } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Ingestor } from "../../lib/ingest/ingest";
import { decodeRecord } from "../../lib/stream/consumer";
import { parsePartitionKey, sealRecord } from "../../lib/stream/records";
import { seriesSlot } from "../../lib/stream/routing";
import { type ShardInfo, ShardMap } from "../../lib/stream/shard-map";
import { ingestSettings, STALE_NAN, snappy, v1Message, v2Message } from "../fixtures/remote-write";
import { type AwsJsonStub, startAwsJsonStub } from "../support/aws-json-stub";
import { remoteReadAll, seriesKey } from "../support/forwarder-remote-read";
import { prometheusAvailable, type RunningPrometheus, startPrometheus } from "../support/prometheus";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy";

/**
 * The Lambda handler as Lambda calls it: a KinesisStreamEvent (base64 data, eventID
 * "<shard>:<sequence>") and a context with the time left. The destination is a real
 * Prometheus receiver behind a proxy the test can cut; the dead-letter queue's SQS client
 * is faked (there is no local SQS) and every message sent to it is asserted exactly; the
 * stream's ListShards is answered by a stand-in (KINESIS_ENDPOINT).
 */
const run = prometheusAvailable();
const STREAM_ARN = "arn:aws:kinesis:eu-west-1:123456789012:stream/gateway";
const QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/forwarder-dlq";
const SHARD = "shardId-000000000003";
const SPACE = 1n << 128n;

/** Shards as Kinesis numbers them: `shardId-` and 12 digits, over [start, end) of the hash-key space. */
const shard = (n: number, start: bigint, end: bigint, open = true): ShardInfo => ({
  shardId: `shardId-${String(n).padStart(12, "0")}`,
  startingHashKey: start.toString(),
  endingHashKey: (end - 1n).toString(),
  open,
});
/** The stream as created: four equal shards, 0 to 3. */
const FOUR = [0, 1, 2, 3].map((i) => shard(i, (BigInt(i) * SPACE) / 4n, (BigInt(i + 1) * SPACE) / 4n));
/** Then shard 3 split in two: 4 (its lower half) and 5. */
const SPLIT = [
  ...FOUR.slice(0, 3),
  { ...FOUR[3]!, open: false },
  shard(4, (3n * SPACE) / 4n, (7n * SPACE) / 8n),
  shard(5, (7n * SPACE) / 8n, SPACE),
];

/** The stream whose shard 3 was split; the others have the four shards. */
const RESHARDED = "resharded";

/** ListShards as Kinesis answers it (a closed shard has an ending sequence number). */
const listShardsAnswer = (streamName: string) => ({
  Shards: (streamName === RESHARDED ? SPLIT : FOUR).map((s) => ({
    ShardId: s.shardId,
    HashKeyRange: { StartingHashKey: s.startingHashKey, EndingHashKey: s.endingHashKey },
    SequenceNumberRange: {
      StartingSequenceNumber: "49650000000000000000000000000000000000000000000000000000",
      ...(s.open ? {} : { EndingSequenceNumber: "49650000000000000000000000000000000000000000000000000099" }),
    },
  })),
});

let seq = 49_650_000_000_000_000_000_000_000_000_000n;
function event(
  records: { data: Uint8Array; partitionKey: string }[],
  from: { shardId: string; streamArn: string } = { shardId: SHARD, streamArn: STREAM_ARN },
): KinesisStreamEvent {
  return {
    Records: records.map((r): KinesisStreamRecord => {
      const sequenceNumber = String(++seq);
      return {
        kinesis: {
          kinesisSchemaVersion: "1.0",
          partitionKey: r.partitionKey,
          sequenceNumber,
          data: Buffer.from(r.data).toString("base64"),
          approximateArrivalTimestamp: 1_700_000_000.5,
        },
        eventSource: "aws:kinesis",
        eventVersion: "1.0",
        eventID: `${from.shardId}:${sequenceNumber}`,
        eventName: "aws:kinesis:record",
        invokeIdentityArn: "arn:aws:iam::123456789012:role/forwarder",
        awsRegion: "eu-west-1",
        eventSourceARN: from.streamArn,
      };
    }),
  };
}

const context = (ms: number): Context => {
  const until = Date.now() + ms;
  return { getRemainingTimeInMillis: () => until - Date.now() } as Context;
};

const series = (name: string, timestamp: number, value = 1) => [
  {
    labels: [
      ["__name__", name],
      ["job", "lambda"],
    ] as [string, string][],
    samples: [{ value, timestamp }],
  },
];
const v1 = (name: string, timestamp: number, value = 1) =>
  sealRecord(v1Message(series(name, timestamp, value)), "v1", undefined, 3, ShardMap.uniform(4));

describe.skipIf(!run)("the forwarder's Lambda handler", () => {
  let receiver: RunningPrometheus;
  let proxy: TcpProxy;
  let kinesis: AwsJsonStub;
  let handler: (e: KinesisStreamEvent, c: Context) => Promise<unknown>;
  const sqs = mockClient(SQSClient);
  const saved = { ...process.env };

  beforeAll(async () => {
    receiver = await startPrometheus({
      configYaml: "global:\n  scrape_interval: 1h\n",
      extraFlags: ["--web.enable-remote-write-receiver"],
    });
    proxy = await startTcpProxy({ port: receiver.port });
    kinesis = await startAwsJsonStub({
      answer: (call) =>
        call.target === "Kinesis_20131202.ListShards"
          ? { body: listShardsAnswer(String(call.body.StreamName)) }
          : { status: 400, body: { __type: "UnknownOperationException" } },
    });
    Object.assign(process.env, {
      KINESIS_ENDPOINT: kinesis.url,
      FORWARD_URL: `${proxy.url}/api/v1/write`,
      FORWARD_DLQ_URL: QUEUE,
      FORWARD_TIMEOUT_MS: "1000",
      LOG_LEVEL: "error",
      METRICS_NAMESPACE: "ForwarderTest",
    });
    // The handler reads its configuration at import, as on a cold start.
    ({ handler } = (await import("../../functions/forwarder/handler")) as unknown as {
      handler: typeof handler;
    });
  }, 60_000);

  afterEach(() => {
    sqs.reset();
    proxy.restore();
  });

  afterAll(async () => {
    process.env = saved;
    sqs.restore();
    await proxy?.close();
    await kinesis?.close();
    await receiver?.stop();
  });

  it("delivers a batch, dead-letters the refused and the undecodable record, drops the duplicate, reports nothing failed", async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: "m" });
    const now = Date.now();
    const a = v1("lambda_a", now, 1.5);
    const b = v1("lambda_b", now, STALE_NAN);
    const refused = v1("lambda_refused", 1_000);
    const poison = {
      data: new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
      partitionKey: `prw1::3:${"ef".repeat(16)}`,
    };
    const c = v1("lambda_c", now, 3);
    const v2rec = sealRecord(v2Message(series("lambda_v2", now, 4)), "v2", undefined, 3, ShardMap.uniform(4));
    const ev = event([a, b, a, refused, poison, c, v2rec]);
    const out = await handler(ev, context(30_000));
    expect(out).toEqual({ batchItemFailures: [] });

    const calls = sqs.commandCalls(SendMessageCommand).map((call) => call.args[0].input);
    expect(calls.map((c) => c.QueueUrl)).toEqual([QUEUE, QUEUE]);
    const bodies = calls.map((c) => JSON.parse(c.MessageBody!));
    const recRefused = ev.Records[3]!.kinesis;
    const recPoison = ev.Records[4]!.kinesis;
    expect(bodies[0]).toEqual({
      partitionKey: refused.partitionKey,
      sequenceNumber: recRefused.sequenceNumber,
      shardId: SHARD,
      streamArn: STREAM_ARN,
      status: 400,
      reason: "rejected",
      detail: expect.stringMatching(/out of bounds/),
      dataBytes: refused.data.length,
      data: recRefused.data,
    });
    expect(bodies[1]).toEqual({
      partitionKey: poison.partitionKey,
      sequenceNumber: recPoison.sequenceNumber,
      shardId: SHARD,
      streamArn: STREAM_ARN,
      status: null,
      reason: "snappy-corrupt",
      detail: "snappy: missing or malformed length preamble",
      dataBytes: poison.data.length,
      data: recPoison.data,
    });

    const got = await remoteReadAll(receiver.url, [["__name__", "lambda_.*"]]);
    const at = (name: string) => [
      ...(got.get(seriesKey({ __name__: name, job: "lambda" }))?.entries() ?? []),
    ];
    expect(at("lambda_a")).toEqual([[String(now), "3ff8000000000000"]]);
    expect(at("lambda_b")).toEqual([[String(now), "7ff0000000000002"]]);
    expect(at("lambda_c")).toEqual([[String(now), "4008000000000000"]]);
    expect(at("lambda_refused")).toEqual([]);
    // Prometheus 2.42 answers 204 to a 2.0 body and drops it: the v2 record went again as 1.0
    expect(at("lambda_v2")).toEqual([[String(now), "4010000000000000"]]);
  });

  it("with the destination down, reports the first undelivered record and dead-letters nothing", async () => {
    const now = Date.now();
    const first = v1("lambda_down_1", now);
    const ev = event([first, v1("lambda_down_2", now)]);
    proxy.cut();
    const out = await handler(ev, context(4_000));
    expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: ev.Records[0]!.kinesis.sequenceNumber }] });
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
    expect(proxy.stats.refused).toBeGreaterThan(1);
    // Lambda retries from there once the destination is back.
    proxy.restore();
    expect(await handler(ev, context(10_000))).toEqual({ batchItemFailures: [] });
    const got = await remoteReadAll(receiver.url, [["__name__", "lambda_down_.*"]]);
    expect(got.size).toBe(2);
  });

  it("when the dead-letter queue fails, reports the record it could not park", async () => {
    sqs.on(SendMessageCommand).rejects(new Error("AccessDenied"));
    const now = Date.now();
    const ev = event([v1("lambda_q_1", now), v1("lambda_q_refused", 1_000), v1("lambda_q_2", now)]);
    const out = await handler(ev, context(10_000));
    expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: ev.Records[1]!.kinesis.sequenceNumber }] });
    const got = await remoteReadAll(receiver.url, [["__name__", "lambda_q_.*"]]);
    expect([...got.keys()]).toEqual([seriesKey({ __name__: "lambda_q_1", job: "lambda" })]);
  });

  it("drops the strays a split seen late left on a child, so their series' later samples do not get the batch refused", async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: "m" });
    const arn = STREAM_ARN.replace(/stream\/.*$/, `stream/${RESHARDED}`);
    const from = (n: 4 | 5) => ({ shardId: shard(n, 0n, 1n).shardId, streamArn: arn });
    // series of shard 3's slots, 20 that belong to each child
    const low: string[] = [];
    const high: string[] = [];
    for (let i = 0; low.length < 20 || high.length < 20; i++) {
      const name = `lambda_split_${i}`;
      const slot = seriesSlot({ __name__: name, job: "lambda" }, undefined);
      if (slot >= 0xc0000000 && slot < 0xe0000000 && low.length < 20) low.push(name);
      if (slot >= 0xe0000000 && high.length < 20) high.push(name);
    }
    const t = Date.now() - 60_000;
    const body = (names: string[], at: number) =>
      snappy(v1Message(names.flatMap((n, k) => series(n, at, k + 1))));
    const ingestor = new Ingestor(ingestSettings());
    // A writer that had not seen the split packed all 40 for shard 3; Kinesis put the record on
    // shard 4, which holds its first slot. The gateway wrote the 20 of shard 5 again, then later samples.
    const stale = ingestor.prepare(
      body([...low, ...high], t),
      "v1",
      undefined,
      ShardMap.fromShards(FOUR, 1),
    ).records;
    expect(stale.map((r) => parsePartitionKey(r.partitionKey))).toEqual([
      expect.objectContaining({ slot: 0xc0000000, lastSlot: 0xffffffff }),
    ]);
    const fresh = ShardMap.fromShards(SPLIT, 2);
    const again = ingestor.prepare(body(high, t), "v1", undefined, fresh).records;
    const later = ingestor.prepare(body(high, t + 1_000), "v1", undefined, fresh).records;

    // shard 5 is read first (children are read side by side), then shard 4 with the stray copies
    expect(await handler(event([...again, ...later], from(5)), context(30_000))).toEqual({
      batchItemFailures: [],
    });
    expect(await handler(event(stale, from(4)), context(30_000))).toEqual({ batchItemFailures: [] });
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
    const listed = kinesis.calls.filter((c) => c.target === "Kinesis_20131202.ListShards");
    expect(listed.map((c) => c.body)).toContainEqual({ StreamName: RESHARDED });

    const got = await remoteReadAll(receiver.url, [["__name__", "lambda_split_.*"]]);
    const at = (name: string) => [...(got.get(seriesKey({ __name__: name, job: "lambda" }))?.keys() ?? [])];
    for (const name of low) expect(at(name), name).toEqual([String(t)]);
    for (const name of high) expect(at(name), name).toEqual([String(t), String(t + 1_000)]);

    // what the destination would have made of the stray copies: the whole request refused
    const whole = await fetch(`${receiver.url}/api/v1/write`, {
      method: "POST",
      headers: {
        "content-type": "application/x-protobuf",
        "content-encoding": "snappy",
        "x-prometheus-remote-write-version": "0.1.0",
      },
      body: stale[0]!.data,
    });
    expect(whole.status).toBe(400);
    expect(await whole.text()).toMatch(/out of order/);
    expect(decodeRecord(stale[0]!.data, stale[0]!.partitionKey).series).toHaveLength(40);
  });
});
