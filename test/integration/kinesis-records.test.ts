import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedKinesis, startEmbeddedKinesis } from "../../functions/local/embedded-kinesis";
import { readAll } from "../../functions/local/stream";
import { AwsServiceError } from "../../lib/aws/aws-json";
import { KinesisRecordsClient, type PutRecordsEntry, type RecordPutter } from "../../lib/aws/kinesis-records";
import { KinesisSink } from "../../lib/aws/kinesis-sink";
import { createLogger } from "../../lib/core/log";
import { createMemoryMetrics } from "../../lib/core/metrics";
import { StreamUnusableError } from "../../lib/ingest/errors";
import { ShardMap } from "../../lib/stream/shard-map";
import { type StrictKinesis, startStrictKinesis } from "../support/strict-kinesis";

/**
 * The lean PutRecords client against a real Kinesis API (kinesis-local, written through a
 * front that refuses what AWS refuses, test/support/strict-kinesis.ts): what it writes is
 * read back (with the SDK, as a consumer would) byte for byte, in the shard its hash key
 * names; a missing stream is refused as Kinesis refuses it, and the sink gives up at once.
 */
let kinesis: EmbeddedKinesis;
let strict: StrictKinesis;
let client: KinesisRecordsClient;

beforeAll(async () => {
  kinesis = await startEmbeddedKinesis();
  strict = await startStrictKinesis({ target: kinesis.endpoint, region: kinesis.region });
  client = KinesisRecordsClient.create({ region: kinesis.region, endpoint: strict.endpoint });
}, 90_000);

afterAll(async () => {
  client?.destroy();
  await strict?.stop();
  await kinesis?.stop();
});

/** Deterministic bytes of every value (a counter hashed, so no seed is needed). */
function bytes(n: number, salt: string): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 32) {
    const block = createHash("sha256").update(`${salt}:${i}`).digest();
    out.set(block.subarray(0, Math.min(32, n - i)), i);
  }
  return out;
}

describe("PutRecords on kinesis-local", () => {
  it("writes records that read back identical, each in the shard its hash key names", async () => {
    await kinesis.createStream("lean-roundtrip", 4);
    const entries: PutRecordsEntry[] = [
      { data: bytes(1, "a"), partitionKey: "k-1" },
      {
        data: bytes(1000, "b"),
        partitionKey: 'ключ ✓ "quoted" \\',
        explicitHashKey: ShardMap.uniform(4).hashKeys[0]!,
      },
      { data: bytes(65_536, "c"), partitionKey: "k-3", explicitHashKey: ShardMap.uniform(4).hashKeys[3]! },
      // a view into a larger buffer: only its own bytes go out
      {
        data: bytes(300, "d").subarray(17, 230),
        partitionKey: "k-4",
        explicitHashKey: ShardMap.uniform(4).hashKeys[1]!,
      },
      ...Array.from({ length: 96 }, (_, i) => ({ data: bytes(200 + i, `e${i}`), partitionKey: `bulk-${i}` })),
    ];
    const out = await client.putRecords("lean-roundtrip", entries);
    expect(out.failedRecordCount).toBe(0);
    expect(out.records).toHaveLength(entries.length);
    for (const r of out.records) expect(r.sequenceNumber).toMatch(/^\d+$/);

    const read = await readAll(kinesis.client, "lean-roundtrip");
    expect(read).toHaveLength(entries.length);
    const bySequence = new Map(read.map((r) => [r.record.SequenceNumber!, r]));
    entries.forEach((entry, i) => {
      const got = bySequence.get(out.records[i]!.sequenceNumber!);
      expect(got, `entry ${i}`).toBeDefined();
      expect(got!.record.PartitionKey).toBe(entry.partitionKey);
      expect(Buffer.from(got!.record.Data!).equals(Buffer.from(entry.data))).toBe(true);
      expect(got!.shardId).toBe(out.records[i]!.shardId);
    });
    // the explicit hash keys put buckets 0, 3 and 1 of 4 into shards 0, 3 and 1
    expect([1, 2, 3].map((i) => out.records[i]!.shardId)).toEqual([
      "shardId-000000000000",
      "shardId-000000000003",
      "shardId-000000000001",
    ]);
    expect(strict.stats.refusals).toEqual([]);
  });

  it("ListShards: the map of a real stream, before and after a split, places records where Kinesis puts them", async () => {
    await kinesis.createStream("lean-shards", 3);
    const first = ShardMap.fromShards(await client.listShards("lean-shards"), Date.now());
    expect(first.count).toBe(3);
    const probe = async (map: ShardMap) => {
      const out = await client.putRecords(
        "lean-shards",
        map.hashKeys.map((k, g) => ({
          data: bytes(8, `probe${g}`),
          partitionKey: `p${g}`,
          explicitHashKey: k,
        })),
      );
      return out.records.map((r) => r.shardId);
    };
    expect(await probe(first)).toEqual(first.shardIds);
    const { SplitShardCommand } = await import("@aws-sdk/client-kinesis");
    const parent = first.shardIds[1]!;
    const [lo, hi] = first.slots(1);
    const mid = BigInt(Math.floor((lo + hi) / 2)) << 96n;
    await kinesis.client.send(
      new SplitShardCommand({
        StreamName: "lean-shards",
        ShardToSplit: parent,
        NewStartingHashKey: mid.toString(),
      }),
    );
    let after = first;
    for (let i = 0; i < 200 && after.count !== 4; i++) {
      await new Promise((r) => setTimeout(r, 50));
      after = ShardMap.fromShards(await client.listShards("lean-shards"), Date.now());
    }
    expect(after.count).toBe(4);
    expect(after.shardIds).not.toContain(parent);
    // the closed parent is still known, with its slots
    expect(after.shardSlots(parent)).toEqual([lo, hi]);
    expect(await probe(after)).toEqual(after.shardIds);
  });

  it("a missing stream: ResourceNotFoundException, and the sink gives up at once (no retry can help)", async () => {
    const err = await client
      .putRecords("no-such-stream", [{ data: bytes(10, "x"), partitionKey: "p" }])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AwsServiceError);
    expect((err as AwsServiceError).name).toBe("ResourceNotFoundException");
    expect((err as AwsServiceError).statusCode).toBe(400);

    let calls = 0;
    const counted: RecordPutter = {
      putRecords: (...args) => {
        calls++;
        return client.putRecords(...args);
      },
    };
    const logs: string[] = [];
    const sink = new KinesisSink(
      counted,
      { streamName: "no-such-stream", concurrency: 2, deadlineMs: 10_000, retryAfterSeconds: 3 },
      createLogger("debug", (l) => logs.push(l)),
      createMemoryMetrics(),
    );
    const failure = await sink
      .put([{ data: bytes(10, "y"), partitionKey: "p", explicitHashKey: ShardMap.uniform(1).hashKeys[0]! }])
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(StreamUnusableError);
    expect((failure as StreamUnusableError).reason).toBe("ResourceNotFoundException");
    expect((failure as StreamUnusableError).message).toMatch(
      /\(ResourceNotFoundException\): 1 of 1 records not written/,
    );
    expect(calls).toBe(1);
    expect(logs.join("\n")).toMatch(/Kinesis refused the write.*ResourceNotFoundException/);
  });
});
