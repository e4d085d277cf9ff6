import { describe, expect, it } from "vitest";
import { streamNameOf } from "../../functions/forwarder/kinesis-event";
import { decompress } from "../../lib/codec/snappy";
import { Reader } from "../../lib/codec/wire";
import { silentLogger } from "../../lib/core/log";
import { METRIC_NAMES } from "../../lib/core/metric-names";
import { createMemoryMetrics } from "../../lib/core/metrics";
import { type ForwardOptions, forwardBatch } from "../../lib/forwarder/forward";
import { DestinationState, type Protocol } from "../../lib/forwarder/negotiate";
import type { ForwardRecord } from "../../lib/forwarder/records";
import type { Destination } from "../../lib/forwarder/send";
import { dropStraySeries, ShardSlotsCache } from "../../lib/forwarder/strays";
import { Ingestor } from "../../lib/ingest/ingest";
import { decodeRecord } from "../../lib/stream/consumer";
import { schemas, TO_OBJECT } from "../../lib/stream/proto";
import { parsePartitionKey, type StreamRecord, sealRecord } from "../../lib/stream/records";
import { seriesSlot, seriesSlotFormat2 } from "../../lib/stream/routing";
import { MAX_HASH_KEY, type ShardInfo, type ShardLister, ShardMap } from "../../lib/stream/shard-map";
import {
  ingestSettings,
  type Labels,
  realisticSeries,
  type SeriesSpec,
  snappy,
  v1Message,
  v2Message,
} from "../fixtures/remote-write";

/**
 * A stream that had one shard, split in two: records packed for the parent by a writer that
 * had not seen the split, read from either child. Records come from the real Ingestor.
 */
const STREAM = "gateway";
const TENANT = "acme";
const HALF = (MAX_HASH_KEY + 1n) / 2n;
const PARENT: ShardInfo = {
  shardId: "shardId-000000000000",
  startingHashKey: "0",
  endingHashKey: MAX_HASH_KEY.toString(),
  open: true,
};
const LOW: ShardInfo = {
  shardId: "shardId-000000000001",
  startingHashKey: "0",
  endingHashKey: (HALF - 1n).toString(),
  open: true,
  parentShardId: PARENT.shardId,
};
const HIGH: ShardInfo = {
  shardId: "shardId-000000000002",
  startingHashKey: HALF.toString(),
  endingHashKey: MAX_HASH_KEY.toString(),
  open: true,
  parentShardId: PARENT.shardId,
};
const SPLIT: ShardInfo[] = [{ ...PARENT, open: false }, LOW, HIGH];
/** Slots of the low child: [0, 2^31 - 1]. */
const inLow = (slot: number) => slot < 2 ** 31;

const ingestor = new Ingestor(ingestSettings());
const parentMap = ShardMap.fromShards([PARENT], 1);
const childMap = ShardMap.fromShards(SPLIT, 2);

function prepare(
  series: SeriesSpec[],
  version: "v1" | "v2",
  map: ShardMap,
  metadata: Record<string, unknown>[] = [],
) {
  const body = version === "v1" ? v1Message(series, metadata) : v2Message(series);
  const out = ingestor.prepare(snappy(body), version, TENANT, map);
  expect(out.rejected.total).toBe(0);
  return out.records;
}

let seq = 0;
const readFrom = (shard: ShardInfo, records: readonly StreamRecord[]): ForwardRecord[] =>
  records.map((r) => ({
    data: r.data,
    partitionKey: r.partitionKey,
    sequenceNumber: String(++seq),
    shardId: shard.shardId,
    streamName: STREAM,
  }));

/** A lister answering from a fixed list (or failing), counting its calls. */
function lister(answer: () => ShardInfo[] | Promise<ShardInfo[]>) {
  const calls: string[] = [];
  const l: ShardLister = {
    async listShards(name) {
      calls.push(name);
      return answer();
    },
  };
  return { lister: l, calls };
}

interface Sent {
  readonly body: Uint8Array;
  readonly version: "v1" | "v2";
}

/** Forwards one batch to an in-memory destination that takes everything. */
async function forward(
  records: ForwardRecord[],
  shards: ShardSlotsCache | undefined,
  protocol: Protocol = "v2",
) {
  const sent: Sent[] = [];
  const destination: Destination = {
    async send(body, version) {
      sent.push({ body, version });
      return { status: 204, message: "" };
    },
  };
  const metrics = createMemoryMetrics();
  const opts: ForwardOptions = {
    destination,
    deadLetters: { send: async () => {} },
    maxRequestBytes: 64 * 1024 * 1024,
    timeoutMs: 1_000,
    remainingMs: () => 60_000,
    state: new DestinationState(protocol),
    ...(shards === undefined ? {} : { shards }),
    log: silentLogger,
    metrics,
  };
  const outcome = await forwardBatch(records, opts);
  return { sent, outcome, metrics: metrics.totals };
}

const cacheOf = (shards: ShardInfo[]) => new ShardSlotsCache(lister(() => shards).lister, silentLogger);

/** The top-level entries of a message: field number and the entry's bytes (tag, length, payload). */
function entries(body: Uint8Array): { field: number; bytes: Uint8Array }[] {
  const out: { field: number; bytes: Uint8Array }[] = [];
  const r = new Reader(body);
  while (!r.done()) {
    const at = r.pos;
    const tag = r.tag();
    r.skip(tag & 7);
    out.push({ field: tag >>> 3, bytes: body.subarray(at, r.pos) });
  }
  return out;
}

/** The slot of a v1 timeseries entry (an entry is itself a WriteRequest of one series). */
function v1EntrySlot(entry: Uint8Array): number {
  const ts = (
    schemas().v1.toObject(schemas().v1.decode(entry), TO_OBJECT) as {
      timeseries: { labels: { name: string; value: string }[] }[];
    }
  ).timeseries[0]!;
  return seriesSlot(Object.fromEntries(ts.labels.map((l) => [l.name, l.value])), TENANT);
}

const concat = (parts: Uint8Array[]) => Buffer.concat(parts.map((p) => Buffer.from(p)));
const labelKey = (labels: Record<string, string>) => JSON.stringify(Object.entries(labels).sort());
const specKey = (labels: Labels) => labelKey(Object.fromEntries(labels));

describe("strays of a split, read from a child", () => {
  const series = realisticSeries(300, 2);
  const metadata = [
    {
      type: "COUNTER",
      metric_family_name: "node_cpu_seconds_total_0",
      help: "Seconds the CPUs spent.",
      unit: "",
    },
  ];

  it("v1: the strays are dropped, every other entry is delivered byte for byte, metadata kept", async () => {
    const records = prepare(series, "v1", parentMap, metadata);
    expect(records.map((r) => parsePartitionKey(r.partitionKey)?.slot)).toEqual(records.map(() => 0));
    const original = records.map((r) => decompress(r.data, 1 << 26));
    const expectedEntries = original.flatMap((body) =>
      entries(body).filter((e) => e.field !== 1 || inLow(v1EntrySlot(e.bytes))),
    );
    const strays = original
      .flatMap((body) => entries(body))
      .filter((e) => e.field === 1 && !inLow(v1EntrySlot(e.bytes)));
    expect(strays.length).toBeGreaterThan(100);
    expect(strays.length).toBeLessThan(200);
    expect(expectedEntries.some((e) => e.field === 3)).toBe(true);

    const { sent, outcome, metrics } = await forward(readFrom(LOW, records), cacheOf(SPLIT));
    expect(sent.map((s) => s.version)).toEqual(["v1"]);
    const got = decompress(sent[0]!.body, 1 << 26);
    expect(Buffer.from(got).equals(concat(expectedEntries.map((e) => e.bytes)))).toBe(true);
    expect(outcome).toMatchObject({
      delivered: records.length,
      straySeries: strays.length,
      unplacedRecords: 0,
    });
    expect(metrics.get(METRIC_NAMES.straySeriesDropped)).toBe(strays.length);
    expect(metrics.get(METRIC_NAMES.strayCheckSkipped)).toBe(0);
  });

  it("v1: the two children together deliver every series exactly once", async () => {
    const records = prepare(series, "v1", parentMap);
    const low = await forward(readFrom(LOW, records), cacheOf(SPLIT));
    const high = await forward(readFrom(HIGH, records), cacheOf(SPLIT));
    const keys = (s: Sent[]) =>
      s.flatMap((x) =>
        decodeRecord(x.body, records[0]!.partitionKey).series.map((ts) => labelKey(ts.labels)),
      );
    const both = [...keys(low.sent), ...keys(high.sent)].sort();
    expect(both).toEqual(series.map((s) => specKey(s.labels)).sort());
    expect(low.outcome.straySeries + high.outcome.straySeries).toBe(series.length);
  });

  it("v2: delivered as 2.0 with the child's series only, samples intact, the request self-contained", async () => {
    const records = prepare(series, "v2", parentMap);
    const { sent, outcome } = await forward(readFrom(LOW, records), cacheOf(SPLIT));
    expect(sent.every((s) => s.version === "v2")).toBe(true);
    const got = sent.flatMap((s) => decodeRecord(s.body, records[0]!.partitionKey).series);
    const want = series.filter((s) => inLow(seriesSlot(Object.fromEntries(s.labels), TENANT)));
    expect(got.map((s) => labelKey(s.labels)).sort()).toEqual(want.map((s) => specKey(s.labels)).sort());
    const byKey = new Map(want.map((s) => [specKey(s.labels), s]));
    for (const s of got) {
      const spec = byKey.get(labelKey(s.labels))!;
      expect(s.samples.map((x) => [x.value, x.timestamp])).toEqual(
        spec.samples!.map((x) => [x.value, String(x.timestamp)]),
      );
    }
    expect(outcome.straySeries).toBe(series.length - want.length);
  });

  it("v2 rewritten as 1.0 carries the same series", async () => {
    const records = prepare(series, "v2", parentMap);
    const { sent, outcome } = await forward(readFrom(HIGH, records), cacheOf(SPLIT), "v1");
    expect(sent.every((s) => s.version === "v1")).toBe(true);
    const v1Key = records[0]!.partitionKey.replace(":prw2:", ":prw1:");
    const got = sent.flatMap((s) => decodeRecord(s.body, v1Key).series.map((x) => labelKey(x.labels)));
    const want = series.filter((s) => !inLow(seriesSlot(Object.fromEntries(s.labels), TENANT)));
    expect(got.sort()).toEqual(want.map((s) => specKey(s.labels)).sort());
    expect(outcome.sentAsV1).toBe(records.length);
  });

  it("a record of strays only is not sent at all", async () => {
    const strays = series
      .filter((s) => !inLow(seriesSlot(Object.fromEntries(s.labels), TENANT)))
      .slice(0, 20);
    for (const version of ["v1", "v2"] as const) {
      const records = prepare(strays, version, parentMap);
      const { sent, outcome, metrics } = await forward(readFrom(LOW, records), cacheOf(SPLIT));
      expect(sent).toEqual([]);
      expect(outcome).toMatchObject({ delivered: 0, straySeries: 20, strayRecords: records.length });
      expect(outcome.failed).toBeUndefined();
      expect(metrics.get(METRIC_NAMES.straySeriesDropped)).toBe(20);
    }
  });
});

describe("strays of records written by stream format 2", () => {
  const series = realisticSeries(300, 2);
  const low2 = (labels: Labels) => inLow(seriesSlotFormat2(Object.fromEntries(labels), TENANT));

  it.each(["v1", "v2"] as const)(
    "%s: the series are placed by the FNV-1a hash that routed them",
    async (version) => {
      // a format-2 record: the same body, its key's first field sf2 (the ids name the data either way)
      const records = prepare(series, version, parentMap).map((r) => ({
        ...r,
        partitionKey: r.partitionKey.replace(/^sf3:/, "sf2:"),
      }));
      expect(parsePartitionKey(records[0]!.partitionKey)?.streamFormat).toBe(2);
      const want = series.filter((s) => low2(s.labels));
      // the two hashes place these series differently, so the test tells them apart
      const byFormat3 = series.filter((s) => inLow(seriesSlot(Object.fromEntries(s.labels), TENANT)));
      expect(want.map((s) => specKey(s.labels))).not.toEqual(byFormat3.map((s) => specKey(s.labels)));
      const { sent, outcome } = await forward(readFrom(LOW, records), cacheOf(SPLIT), version);
      const got = sent.flatMap((s) => decodeRecord(s.body, records[0]!.partitionKey).series);
      expect(got.map((s) => labelKey(s.labels)).sort()).toEqual(want.map((s) => specKey(s.labels)).sort());
      expect(outcome.straySeries).toBe(series.length - want.length);
    },
  );
});

describe("records that need no check", () => {
  const series = realisticSeries(200, 1);

  it("records packed for the shard they are read from go as they came, without a series read", async () => {
    for (const version of ["v1", "v2"] as const) {
      const records = prepare(series, version, childMap);
      const low = records.filter((r) => parsePartitionKey(r.partitionKey)!.slot === 0);
      expect(low).toHaveLength(1);
      const { sent, outcome } = await forward(readFrom(LOW, low), cacheOf(SPLIT));
      expect(sent).toHaveLength(1);
      expect(Buffer.from(sent[0]!.body).equals(Buffer.from(low[0]!.data))).toBe(true);
      expect(outcome).toMatchObject({ delivered: 1, straySeries: 0, unplacedRecords: 0 });
    }
  });

  it("a record inside its shard is taken at its key's word: its series are not read", async () => {
    // a record claiming the low child's slots but holding series of the high one: only a
    // series read would find them, and the fast path does not read
    const high = series.filter((s) => !inLow(seriesSlot(Object.fromEntries(s.labels), TENANT))).slice(0, 5);
    const rec = sealRecord(v1Message(high), "v1", TENANT, 0, childMap);
    expect(parsePartitionKey(rec.partitionKey)).toMatchObject({ slot: 0, lastSlot: 2 ** 31 - 1 });
    const { sent, outcome } = await forward(readFrom(LOW, [rec]), cacheOf(SPLIT));
    expect(sent).toHaveLength(1);
    expect(Buffer.from(sent[0]!.body).equals(Buffer.from(rec.data))).toBe(true);
    expect(outcome).toMatchObject({ delivered: 1, straySeries: 0 });
  });

  it("a record outside its shard whose series cannot be read goes whole", async () => {
    // labels_refs pointing past the symbol table: the series reader throws on it
    const broken = new Uint8Array([0x22, 0x00, 0x2a, 0x04, 0x0a, 0x02, 0x07, 0x09]);
    expect(() => dropStraySeries(broken, "v2", TENANT, [0, 0], 3)).toThrow(/symbol reference/);
    const rec = sealRecord(broken, "v2", TENANT, 0, parentMap);
    const { sent, outcome } = await forward(readFrom(LOW, [rec]), cacheOf(SPLIT));
    expect(sent).toHaveLength(1);
    expect(Buffer.from(sent[0]!.body).equals(Buffer.from(rec.data))).toBe(true);
    expect(outcome).toMatchObject({ delivered: 1, straySeries: 0 });
  });

  it("after a merge, records packed for either parent are inside the merged shard", async () => {
    const merged: ShardInfo = {
      shardId: "shardId-000000000003",
      startingHashKey: "0",
      endingHashKey: MAX_HASH_KEY.toString(),
      open: true,
    };
    const records = prepare(series, "v1", childMap);
    expect(records).toHaveLength(2);
    const { sent, outcome } = await forward(
      readFrom(merged, records),
      cacheOf([{ ...LOW, open: false }, { ...HIGH, open: false }, merged]),
    );
    expect(
      Buffer.from(decompress(sent[0]!.body, 1 << 26)).equals(
        concat(records.map((r) => decompress(r.data, 1 << 26))),
      ),
    ).toBe(true);
    expect(outcome).toMatchObject({ delivered: 2, straySeries: 0 });
  });

  it("stream-format-1 records carry no slots: forwarded whole, the shards never listed", async () => {
    const body = v1Message(series.slice(0, 3));
    const sealed = sealRecord(body, "v1", TENANT, 0, ShardMap.uniform(1));
    const id = parsePartitionKey(sealed.partitionKey)!.id;
    const old = { data: sealed.data, partitionKey: `prw1:${TENANT}:7:${id}` };
    const l = lister(() => SPLIT);
    const { sent, outcome } = await forward(
      readFrom(LOW, [old as StreamRecord]),
      new ShardSlotsCache(l.lister, silentLogger),
    );
    expect(Buffer.from(sent[0]!.body).equals(Buffer.from(sealed.data))).toBe(true);
    expect(outcome).toMatchObject({ delivered: 1, straySeries: 0, unplacedRecords: 0 });
    expect(l.calls).toEqual([]);
  });
});

describe("a shard that cannot be placed", () => {
  const records = prepare(realisticSeries(100, 1), "v1", parentMap);

  it.each<[string, () => ShardInfo[]]>([
    [
      "ListShards failing",
      () => {
        throw Object.assign(new Error("denied"), { name: "AccessDeniedException" });
      },
    ],
    ["a shard ListShards does not list", () => [PARENT]],
  ])("%s: the records go whole, counted", async (_name, answer) => {
    const { sent, outcome, metrics } = await forward(
      readFrom(LOW, records),
      new ShardSlotsCache(lister(answer).lister, silentLogger),
    );
    expect(sent).toHaveLength(1);
    expect(
      Buffer.from(decompress(sent[0]!.body, 1 << 26)).equals(
        concat(records.map((r) => decompress(r.data, 1 << 26))),
      ),
    ).toBe(true);
    expect(outcome).toMatchObject({
      delivered: records.length,
      straySeries: 0,
      unplacedRecords: records.length,
    });
    expect(metrics.get(METRIC_NAMES.strayCheckSkipped)).toBe(records.length);
    expect(metrics.get(METRIC_NAMES.straySeriesDropped)).toBe(0);
  });

  it("a record without a stream name goes whole, counted", async () => {
    const { streamName: _, ...nameless } = readFrom(LOW, records)[0]!;
    const { outcome } = await forward([nameless], cacheOf(SPLIT));
    expect(outcome).toMatchObject({ delivered: 1, unplacedRecords: 1 });
  });

  it("without a shard source, nothing is checked or counted", async () => {
    const { sent, outcome, metrics } = await forward(readFrom(LOW, records), undefined);
    expect(sent).toHaveLength(1);
    expect(outcome).toMatchObject({ straySeries: 0, unplacedRecords: 0 });
    expect(metrics.get(METRIC_NAMES.strayCheckSkipped)).toBe(0);
  });
});

describe("the shard cache", () => {
  it("lists a stream once, again for a shard it does not know, and after its lifetime", async () => {
    let now = 1_000;
    let shards: ShardInfo[] = [PARENT];
    const l = lister(() => shards);
    const cache = new ShardSlotsCache(l.lister, silentLogger, { ttlMs: 60_000, retryMs: 5_000 }, () => now);
    expect(await cache.slots(STREAM, PARENT.shardId)).toEqual([0, 0xffffffff]);
    expect(await cache.slots(STREAM, PARENT.shardId)).toEqual([0, 0xffffffff]);
    expect(l.calls).toEqual([STREAM]);
    // a child appears: listed again at once (the last listing is older than retryMs)
    shards = SPLIT;
    now += 5_000;
    expect(await cache.slots(STREAM, HIGH.shardId)).toEqual([2 ** 31, 0xffffffff]);
    expect(l.calls).toHaveLength(2);
    // a shard no listing names is not asked about again within retryMs
    expect(await cache.slots(STREAM, "shardId-999")).toBeUndefined();
    expect(await cache.slots(STREAM, "shardId-999")).toBeUndefined();
    expect(l.calls).toHaveLength(2);
    now += 5_000;
    expect(await cache.slots(STREAM, "shardId-999")).toBeUndefined();
    expect(l.calls).toHaveLength(3);
    // past its lifetime the listing is read again
    now += 60_000;
    expect(await cache.slots(STREAM, LOW.shardId)).toEqual([0, 2 ** 31 - 1]);
    expect(l.calls).toHaveLength(4);
    // another stream has its own listing
    await cache.slots("other", LOW.shardId);
    expect(l.calls).toEqual([STREAM, STREAM, STREAM, STREAM, "other"]);
  });

  it("one listing at a time; a failed listing keeps the shards known", async () => {
    let now = 1_000;
    let fail = false;
    let release: (() => void) | undefined;
    const l = lister(async () => {
      if (fail) throw new Error("ListShards: throttled");
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      return SPLIT;
    });
    const cache = new ShardSlotsCache(l.lister, silentLogger, { ttlMs: 60_000, retryMs: 5_000 }, () => now);
    const both = Promise.all([cache.slots(STREAM, LOW.shardId), cache.slots(STREAM, HIGH.shardId)]);
    await expect.poll(() => release).toBeDefined();
    release!();
    expect(await both).toEqual([
      [0, 2 ** 31 - 1],
      [2 ** 31, 0xffffffff],
    ]);
    expect(l.calls).toHaveLength(1);
    fail = true;
    now += 61_000;
    expect(await cache.slots(STREAM, LOW.shardId)).toEqual([0, 2 ** 31 - 1]);
    expect(await cache.slots(STREAM, "shardId-000000000009")).toBeUndefined();
    expect(l.calls).toHaveLength(2);
  });
});

describe("the stream of a Lambda event", () => {
  it.each([
    ["arn:aws:kinesis:eu-west-1:123456789012:stream/gateway", "gateway"],
    ["arn:aws-cn:kinesis:cn-north-1:123456789012:stream/a.b-c_d", "a.b-c_d"],
    ["arn:aws:kinesis:eu-west-1:123456789012:stream/gateway/consumer/c:1", undefined],
    ["arn:aws:sqs:eu-west-1:123456789012:stream/gateway", undefined],
    ["gateway", undefined],
  ])("%s names %s", (arn, name) => {
    expect(streamNameOf(arn)).toBe(name);
  });
});
