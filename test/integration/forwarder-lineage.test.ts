import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DescribeStreamSummaryCommand, MergeShardsCommand, SplitShardCommand } from "@aws-sdk/client-kinesis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalForwarder, startLocalForwarder } from "../../functions/forwarder/local";
import { type EmbeddedKinesis, startEmbeddedKinesis } from "../../functions/local/embedded-kinesis";
import { waitFor } from "../../functions/local/ports";
import { KinesisRecordsClient } from "../../lib/aws/kinesis-records";
import { decompress } from "../../lib/codec/snappy";
import { Ingestor } from "../../lib/ingest/ingest";
import { schemas, TO_OBJECT } from "../../lib/stream/proto";
import { ShardMap } from "../../lib/stream/shard-map";
import { ingestSettings, type SeriesSpec, snappy, v1Message } from "../fixtures/remote-write";
import { type ScriptedDestination, startScriptedDestination } from "../support/forwarder-destination";

/**
 * The local forwarder reads a resharded stream as an event source mapping does, parents
 * before children: samples written before a split, between the split and a merge, and after
 * the merge reach the destination in time order for every series, though the four shards
 * (parent, two children, merged) all hold records when the forwarder starts, and the first
 * delivery is answered 503 (its shard retries while the others could go on).
 */
const STREAM = "lineage";
const SERIES = 40;
let kinesis: EmbeddedKinesis;
let lean: KinesisRecordsClient;
let destination: ScriptedDestination;
let forwarder: LocalForwarder | undefined;
let dir: string;

beforeAll(async () => {
  kinesis = await startEmbeddedKinesis();
  lean = KinesisRecordsClient.create({ region: kinesis.region, endpoint: kinesis.endpoint });
  // the first request is answered 503: the shard it came from waits out a retry, and a
  // reader that did not hold children back would deliver their later samples meanwhile
  destination = await startScriptedDestination((_, i) => (i === 0 ? 503 : 204));
  dir = mkdtempSync(join(tmpdir(), "lineage-"));
}, 90_000);

afterAll(async () => {
  await forwarder?.stop();
  lean?.destroy();
  await destination?.close();
  await kinesis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const series = (t: number): SeriesSpec[] =>
  Array.from({ length: SERIES }, (_, i) => ({
    labels: [
      ["__name__", "lineage_metric"],
      ["series", String(i)],
    ],
    samples: [{ value: t, timestamp: t }],
  }));

async function openShards(n: number): Promise<ShardMap> {
  let map: ShardMap | undefined;
  await waitFor(
    `${n} open shards`,
    async () => {
      const summary = await kinesis.client.send(new DescribeStreamSummaryCommand({ StreamName: STREAM }));
      if (summary.StreamDescriptionSummary?.StreamStatus !== "ACTIVE") return false;
      map = ShardMap.fromShards(await lean.listShards(STREAM), Date.now());
      return map.count === n;
    },
    30_000,
    100,
  );
  return map!;
}

/** Writes one request per timestamp, packed by the stream's current map, as the gateway does. */
async function write(map: ShardMap, from: number, to: number): Promise<void> {
  const ingestor = new Ingestor(ingestSettings());
  for (let t = from; t <= to; t++) {
    const out = ingestor.prepare(snappy(v1Message(series(t))), "v1", undefined, map);
    const put = await lean.putRecords(STREAM, out.records);
    expect(put.failedRecordCount).toBe(0);
    // each record landed on the shard its map named
    expect(put.records.map((r) => r.shardId)).toEqual(out.groups.map((g) => map.shardIds[g]));
  }
}

describe("the local forwarder on a split and merged stream", () => {
  it("delivers every series' samples in time order, parents before children", async () => {
    await kinesis.createStream(STREAM, 1);
    const one = await openShards(1);
    await write(one, 1, 5);
    const [lo, hi] = one.slots(0);
    await kinesis.client.send(
      new SplitShardCommand({
        StreamName: STREAM,
        ShardToSplit: one.shardIds[0]!,
        NewStartingHashKey: (BigInt(Math.floor((lo + hi) / 2)) << 96n).toString(),
      }),
    );
    const two = await openShards(2);
    await write(two, 6, 10);
    await kinesis.client.send(
      new MergeShardsCommand({
        StreamName: STREAM,
        ShardToMerge: two.shardIds[0]!,
        AdjacentShardToMerge: two.shardIds[1]!,
      }),
    );
    const merged = await openShards(1);
    await write(merged, 11, 15);

    forwarder = await startLocalForwarder(
      { FORWARD_URL: destination.url, FORWARD_DEAD_LETTER_FILE: join(dir, "dead.jsonl"), LOG_LEVEL: "error" },
      { streamName: STREAM, endpoint: kinesis.endpoint, region: kinesis.region },
      { start: "TRIM_HORIZON" },
    );
    const { v1 } = schemas();
    const seen = new Map<string, number[]>();
    const read = () => {
      seen.clear();
      for (const req of destination.requests.slice(1)) {
        const msg = v1.toObject(v1.decode(decompress(req.body, 64 * 1024 * 1024)), TO_OBJECT) as {
          timeseries?: { labels: { name: string; value: string }[]; samples: { timestamp: string }[] }[];
        };
        for (const ts of msg.timeseries ?? []) {
          const key = ts.labels.map((l) => `${l.name}=${l.value}`).join(",");
          const list = seen.get(key) ?? [];
          for (const s of ts.samples) list.push(Number(s.timestamp));
          seen.set(key, list);
        }
      }
      return [...seen.values()].reduce((n, l) => n + l.length, 0);
    };
    await waitFor("every sample at the destination", async () => read() >= SERIES * 15, 60_000, 100);
    expect(seen.size).toBe(SERIES);
    for (const [key, timestamps] of seen) {
      expect(timestamps, key).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    }
    expect(forwarder.stats.deadLettered).toBe(0);
  }, 180_000);
});
