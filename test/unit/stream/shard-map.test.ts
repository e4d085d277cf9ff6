import { describe, expect, it } from "vitest";
import { Ingestor } from "../../../lib/ingest/ingest";
import { strays } from "../../../lib/ingest/placement";
import { decodeRecord } from "../../../lib/stream/consumer";
import { parsePartitionKey, type StreamRecord } from "../../../lib/stream/records";
import { seriesSlot } from "../../../lib/stream/routing";
import { MAX_HASH_KEY, type ShardInfo, ShardMap, slotHashKey, slotsOf } from "../../../lib/stream/shard-map";
import {
  ingestSettings,
  realisticSeries,
  type SeriesSpec,
  snappy,
  v1Message,
  v2Message,
} from "../../fixtures/remote-write";

const encodeV1 = (series: SeriesSpec[]) => snappy(v1Message(series));
const encodeV2 = (series: SeriesSpec[]) => snappy(v2Message(series));

/** A deterministic generator (fixed seed). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 2 ** 32;
  };
}

/** A stream's shards as Kinesis lays them out: `n` equal ranges, ids in order. */
function uniformShards(n: number, prefix = "shardId-"): ShardInfo[] {
  const space = MAX_HASH_KEY + 1n;
  return Array.from({ length: n }, (_, i) => ({
    shardId: `${prefix}${String(i).padStart(12, "0")}`,
    startingHashKey: ((BigInt(i) * space) / BigInt(n)).toString(),
    endingHashKey: ((BigInt(i + 1) * space) / BigInt(n) - 1n).toString(),
    open: true,
  }));
}

/** Which shard holds a hash key, by BigInt comparison: the reference the map must agree with. */
function holder(shards: readonly ShardInfo[], key: bigint): string {
  const s = shards.find((x) => x.open && BigInt(x.startingHashKey) <= key && key <= BigInt(x.endingHashKey));
  return s!.shardId;
}

describe("slots and hash keys", () => {
  it("a slot's hash key lies in the middle of its 2^96-wide slice, inside the hash-key space", () => {
    expect(slotHashKey(0)).toBe((1n << 95n).toString());
    expect(BigInt(slotHashKey(0xffffffff))).toBe((0xffffffffn << 96n) + (1n << 95n));
    expect(BigInt(slotHashKey(0xffffffff)) <= MAX_HASH_KEY).toBe(true);
  });

  it("slotsOf names exactly the slots whose keys lie in a range", () => {
    const r = rng(7);
    for (let i = 0; i < 500; i++) {
      const a = BigInt(Math.floor(r() * 2 ** 32)) << 96n;
      const b = a + (BigInt(Math.floor(r() * 2 ** 20)) << 90n);
      const slots = slotsOf(a.toString(), (b > MAX_HASH_KEY ? MAX_HASH_KEY : b).toString());
      if (slots === undefined) continue;
      expect(BigInt(slotHashKey(slots[0])) >= a).toBe(true);
      expect(slots[0] === 0 || BigInt(slotHashKey(slots[0] - 1)) < a).toBe(true);
      expect(BigInt(slotHashKey(slots[1])) <= b).toBe(true);
    }
  });
});

describe("ShardMap", () => {
  for (const n of [1, 3, 4, 16, 64, 1000]) {
    it(`${n} shards: every slot's group is the shard that holds its hash key`, () => {
      const shards = uniformShards(n);
      const map = ShardMap.fromShards(shards, 1);
      expect(map.count).toBe(n);
      const r = rng(n);
      const probes = [0, 0xffffffff, ...Array.from({ length: 2000 }, () => Math.floor(r() * 2 ** 32))];
      for (let g = 0; g < map.count; g++) probes.push(...map.slots(g));
      for (const slot of probes) {
        const g = map.group(slot);
        expect(map.shardIds[g]).toBe(holder(shards, BigInt(slotHashKey(slot))));
        // the group's records are keyed inside the same shard
        expect(holder(shards, BigInt(map.hashKeys[g]!))).toBe(map.shardIds[g]);
      }
    });
  }

  it("the default map of n shards packs as a stream created with n shards does", () => {
    for (const n of [1, 4, 7, 64]) {
      const read = ShardMap.fromShards(uniformShards(n), 1);
      const def = ShardMap.uniform(n);
      expect(def.read).toBe(false);
      expect(def.hashKeys).toEqual(read.hashKeys);
      for (let g = 0; g < n; g++) expect(def.slots(g)).toEqual(read.slots(g));
    }
  });

  it("after a split and a merge: open shards only, closed ones still known by id", () => {
    const space = MAX_HASH_KEY + 1n;
    const shards: ShardInfo[] = [
      { shardId: "p0", startingHashKey: "0", endingHashKey: (space / 2n - 1n).toString(), open: false },
      {
        shardId: "p1",
        startingHashKey: (space / 2n).toString(),
        endingHashKey: MAX_HASH_KEY.toString(),
        open: true,
      },
      {
        shardId: "c0",
        startingHashKey: "0",
        endingHashKey: (space / 4n - 1n).toString(),
        open: true,
        parentShardId: "p0",
      },
      {
        shardId: "c1",
        startingHashKey: (space / 4n).toString(),
        endingHashKey: (space / 2n - 1n).toString(),
        open: true,
        parentShardId: "p0",
      },
    ];
    const map = ShardMap.fromShards(shards, 5);
    expect(map.shardIds).toEqual(["c0", "c1", "p1"]);
    expect(map.shardSlots("p0")).toEqual([0, 2 ** 31 - 1]);
    expect(map.shardSlots("nope")).toBeUndefined();
  });

  it("refuses open shards that leave a gap or overlap", () => {
    const shards = uniformShards(4);
    expect(() => ShardMap.fromShards(shards.slice(1), 1)).toThrow(/cover/);
    expect(() => ShardMap.fromShards([...shards, { ...shards[1]!, shardId: "dup" }], 1)).toThrow(/cover/);
  });
});

describe("the routing hash consumers compute", () => {
  it("seriesSlot gives each series the slot the scanners routed it by, v1 and v2, with and without tenant", () => {
    const specs: SeriesSpec[] = realisticSeries(300, 1);
    // unsorted labels and UTF-8 too: the hash is over the labels in name order
    specs.push({
      labels: [
        ["zone", "ü"],
        ["__name__", "métrique"],
        ["a", "b"],
      ],
      samples: [{ value: 1, timestamp: 1 }],
    });
    const map = ShardMap.fromShards(uniformShards(64), 1);
    const ingestor = new Ingestor(ingestSettings());
    for (const [version, encode] of [
      ["v1", encodeV1],
      ["v2", encodeV2],
    ] as const) {
      for (const tenant of [undefined, "acme"]) {
        const out = ingestor.prepare(encode(specs), version, tenant, map);
        let n = 0;
        for (let i = 0; i < out.records.length; i++) {
          const r = out.records[i]!;
          const rec = decodeRecord(r.data, r.partitionKey);
          expect(rec.key.streamFormat).toBe(3);
          expect(rec.key.slot).toBe(map.slots(out.groups[i]!)[0]);
          for (const s of rec.series) {
            expect(map.group(seriesSlot(s.labels, tenant))).toBe(out.groups[i]);
            n++;
          }
        }
        expect(n).toBe(specs.length);
      }
    }
  });

  it("makes one record per shard a request touches", () => {
    const ingestor = new Ingestor(ingestSettings());
    for (const n of [4, 16, 64]) {
      const map = ShardMap.fromShards(uniformShards(n), 1);
      const out = ingestor.prepare(encodeV1(realisticSeries(2000, 1)), "v1", undefined, map);
      expect(out.records.length).toBe(n);
      expect(new Set(out.groups).size).toBe(n);
      const few = ingestor.prepare(encodeV1(realisticSeries(3, 1)), "v1", undefined, map);
      expect(few.records.length).toBeLessThanOrEqual(3);
    }
  });
});

describe("partition keys", () => {
  it("stream formats 3, 2 and 1 all parse; others do not", () => {
    const id = "9f86d081884c7d659a2feaa0c55ad015";
    expect(parsePartitionKey(`sf3:prw2::0000ff00-0001ffff:${id}`)).toMatchObject({
      streamFormat: 3,
      format: "prw2",
      tenant: undefined,
      slot: 0xff00,
      lastSlot: 0x1ffff,
    });
    expect(parsePartitionKey(`sf2:prw1:acme:0000ff00-0001ffff:${id}`)).toEqual({
      streamFormat: 2,
      format: "prw1",
      tenant: "acme",
      slot: 0xff00,
      lastSlot: 0x1ffff,
      bucket: undefined,
      id,
    });
    expect(parsePartitionKey(`prw2::3:${id}`)).toMatchObject({
      streamFormat: 1,
      bucket: 3,
      tenant: undefined,
    });
    for (const bad of [
      `sf2:prw1:acme:ff00-ffff:${id}`,
      `sf2:prw1:acme:0000ff00:${id}`,
      `sf2:prw1::0000ff00-00000000:${id}`,
      `sf4:prw1::0000ff00-0000ffff:${id}`,
      `constructor:prw1::0000ff00-0000ffff:${id}`,
      `sf3:prw1::0000ff00-00000000:${id}`,
      `sf2:prw3::0000ff00-0000ffff:${id}`,
      "x",
    ]) {
      expect(parsePartitionKey(bad)).toBeUndefined();
    }
  });
});

describe("strays after a resharding", () => {
  const record = (shardId: string | undefined): StreamRecord => ({
    data: new Uint8Array(0),
    partitionKey: "k",
    explicitHashKey: "0",
    ...(shardId === undefined ? {} : { shardId }),
  });
  const space = MAX_HASH_KEY + 1n;
  const old = uniformShards(2, "old-");
  const planned = ShardMap.fromShards(old, 1);

  it("a record that landed on its planned shard is in place", () => {
    expect(strays([record("old-000000000000")], [0], planned, planned).ranges).toEqual([]);
  });

  it("a split strands the other child's slots; a merge strands none", () => {
    const split: ShardInfo[] = [
      { ...old[0]!, open: false },
      old[1]!,
      { shardId: "low", startingHashKey: "0", endingHashKey: (space / 4n - 1n).toString(), open: true },
      {
        shardId: "high",
        startingHashKey: (space / 4n).toString(),
        endingHashKey: (space / 2n - 1n).toString(),
        open: true,
      },
    ];
    const fresh = ShardMap.fromShards(split, 2);
    expect(strays([record("low")], [0], planned, fresh)).toEqual({
      ranges: [[2 ** 30, 2 ** 31 - 1]],
      unknown: 0,
    });
    const merged: ShardInfo[] = [
      { ...old[0]!, open: false },
      { ...old[1]!, open: false },
      { shardId: "all", startingHashKey: "0", endingHashKey: MAX_HASH_KEY.toString(), open: true },
    ];
    const afterMerge = ShardMap.fromShards(merged, 2);
    expect(strays([record("all"), record("all")], [0, 1], planned, afterMerge).ranges).toEqual([]);
  });

  it("a shard the fresh map does not know is counted, records without an answer are skipped", () => {
    expect(strays([record("mystery"), record(undefined)], [0, 1], planned, planned)).toEqual({
      ranges: [],
      unknown: 1,
    });
  });

  it("writing the strays again plans only their series, by the fresh map", () => {
    const ingestor = new Ingestor(ingestSettings());
    const body = encodeV1(realisticSeries(400, 1));
    const fresh = ShardMap.fromShards(uniformShards(4), 2);
    const only = [[2 ** 30, 2 ** 31 - 1]] as const;
    const again = ingestor.prepare(body, "v1", undefined, fresh, only);
    let n = 0;
    for (const r of again.records) {
      for (const s of decodeRecord(r.data, r.partitionKey).series) {
        const slot = seriesSlot(s.labels, undefined);
        expect(slot >= 2 ** 30 && slot <= 2 ** 31 - 1).toBe(true);
        n++;
      }
    }
    expect(n).toBeGreaterThan(50);
    expect(n).toBeLessThan(200);
  });
});
