import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedKinesis, startEmbeddedKinesis } from "../../functions/local/embedded-kinesis";
import { readAll } from "../../functions/local/stream";
import { KinesisRecordsClient, type RecordPutter } from "../../lib/aws/kinesis-records";
import { KinesisSink } from "../../lib/aws/kinesis-sink";
import { silentLogger } from "../../lib/core/log";
import { createMemoryMetrics } from "../../lib/core/metrics";
import type { StreamRecord } from "../../lib/stream/records";
import { ShardMap } from "../../lib/stream/shard-map";
import { type StrictKinesis, startStrictKinesis } from "../support/strict-kinesis";

/**
 * Concurrent puts through one sink into kinesis-local (behind a front that refuses what AWS
 * refuses, test/support/strict-kinesis.ts): the puts that arrive while the call slots are busy
 * share the next PutRecords call, and every record is read back exactly once, each owner's
 * records in the order it gave them (within each shard, where Kinesis orders).
 */
const STREAM = "coalesce";
const SHARDS = 2;
const OWNERS = 24;
const PER_OWNER = 12;

let kinesis: EmbeddedKinesis;
let strict: StrictKinesis;
let client: KinesisRecordsClient;

beforeAll(async () => {
  kinesis = await startEmbeddedKinesis();
  await kinesis.createStream(STREAM, SHARDS);
  strict = await startStrictKinesis({ target: kinesis.endpoint, region: kinesis.region });
  client = KinesisRecordsClient.create({ region: kinesis.region, endpoint: strict.endpoint });
}, 90_000);

afterAll(async () => {
  client?.destroy();
  await strict?.stop();
  await kinesis?.stop();
});

function ownerRecords(owner: number): StreamRecord[] {
  return Array.from({ length: PER_OWNER }, (_, i) => ({
    data: Buffer.from(`owner ${owner} record ${i} `.repeat(1 + ((owner * 7 + i) % 5))),
    partitionKey: `o${owner}-r${i}`,
    explicitHashKey: ShardMap.uniform(SHARDS).hashKeys[(owner + i) % SHARDS]!,
  }));
}

describe("KinesisSink group commit on kinesis-local", () => {
  it("shares calls between concurrent puts; every record once, in order per owner", async () => {
    const calls: number[] = [];
    const counted: RecordPutter = {
      putRecords: (stream, entries, signal) => {
        calls.push(entries.length);
        return client.putRecords(stream, entries, signal);
      },
    };
    const metrics = createMemoryMetrics();
    const sink = new KinesisSink(
      counted,
      { streamName: STREAM, concurrency: 2, deadlineMs: 30_000, retryAfterSeconds: 1 },
      silentLogger,
      metrics,
    );
    const sent = Array.from({ length: OWNERS }, (_, o) => ownerRecords(o));
    await Promise.all(sent.map((records) => sink.put(records)));

    // two puts take the two free slots; the other 22 arrive while both are busy: one call
    expect(calls).toEqual([PER_OWNER, PER_OWNER, (OWNERS - 2) * PER_OWNER]);
    expect(metrics.totals.get("RecordsWritten")).toBe(OWNERS * PER_OWNER);

    const read = await readAll(kinesis.client, STREAM);
    const keys = read.map((r) => r.record.PartitionKey!);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys).toHaveLength(OWNERS * PER_OWNER);
    const byKey = new Map(sent.flat().map((r) => [r.partitionKey, r]));
    for (const { record } of read) {
      const want = byKey.get(record.PartitionKey!);
      expect(want, record.PartitionKey).toBeDefined();
      expect(Buffer.from(record.Data!).equals(Buffer.from(want!.data))).toBe(true);
    }
    // per shard, each owner's records appear in the order of its put
    for (let shard = 0; shard < SHARDS; shard++) {
      const inShard = read.filter((r) => r.shardId === `shardId-00000000000${shard}`);
      for (let o = 0; o < OWNERS; o++) {
        const mine = inShard.map((r) => r.record.PartitionKey!).filter((k) => k.startsWith(`o${o}-`));
        const expected = sent[o]!.map((r) => r.partitionKey).filter((_, i) => (o + i) % SHARDS === shard);
        expect(mine).toEqual(expected);
      }
    }
    expect(strict.stats.refusals).toEqual([]);
    expect(strict.stats.recordsWritten).toBe(OWNERS * PER_OWNER);
  }, 60_000);
});
