import { describe, expect, it } from "vitest";
import { createLogger } from "../../../lib/core/log";
import { METRIC_NAMES } from "../../../lib/core/metric-names";
import { createMemoryMetrics } from "../../../lib/core/metrics";
import { ShardMapCache } from "../../../lib/ingest/shard-source";
import { MAX_HASH_KEY, type ShardInfo, type ShardLister } from "../../../lib/stream/shard-map";

function shards(n: number, tag: string): ShardInfo[] {
  const space = MAX_HASH_KEY + 1n;
  return Array.from({ length: n }, (_, i) => ({
    shardId: `${tag}-${i}`,
    startingHashKey: ((BigInt(i) * space) / BigInt(n)).toString(),
    endingHashKey: ((BigInt(i + 1) * space) / BigInt(n) - 1n).toString(),
    open: true,
  }));
}

/** A lister whose answers the test releases one by one, on a clock the test moves. */
function rig(defaultShards = 4) {
  let t = 1_000;
  const pending: { resolve: (s: ShardInfo[]) => void; reject: (e: Error) => void }[] = [];
  const lister: ShardLister = {
    listShards: () => new Promise((resolve, reject) => pending.push({ resolve, reject })),
  };
  const logs: string[] = [];
  const metrics = createMemoryMetrics();
  const cache = new ShardMapCache(
    lister,
    { streamName: "s", ttlMs: 60_000, defaultShards, retryMs: 5_000 },
    createLogger("debug", (l) => logs.push(l)),
    metrics,
    () => t,
  );
  const settle = () => new Promise((r) => setImmediate(r));
  return {
    cache,
    pending,
    logs,
    metrics,
    settle,
    advance: (ms: number) => {
      t += ms;
    },
    now: () => t,
  };
}

describe("the shard map cache", () => {
  it("a cold start packs by the default map at once while the stream's is read in the background", async () => {
    const r = rig(4);
    expect(r.pending).toHaveLength(1);
    const first = r.cache.current();
    expect(first.read).toBe(false);
    expect(first.count).toBe(4);
    // asking again does not start a second read
    r.cache.current();
    expect(r.pending).toHaveLength(1);
    r.pending[0]!.resolve(shards(16, "a"));
    await r.settle();
    expect(r.cache.current().count).toBe(16);
    expect(r.cache.current().shardIds[0]).toBe("a-0");
    expect(r.metrics.totals.get(METRIC_NAMES.shardMapReads)).toBe(1);
  });

  it("reads again in the background once the map is past its lifetime, using the old one meanwhile", async () => {
    const r = rig();
    r.pending[0]!.resolve(shards(2, "a"));
    await r.settle();
    r.advance(59_000);
    expect(r.cache.current().shardIds[0]).toBe("a-0");
    expect(r.pending).toHaveLength(1);
    r.advance(2_000);
    expect(r.cache.current().shardIds[0]).toBe("a-0");
    expect(r.pending).toHaveLength(2);
    r.pending[1]!.resolve(shards(3, "b"));
    await r.settle();
    expect(r.cache.current().shardIds).toEqual(["b-0", "b-1", "b-2"]);
  });

  it("a failed read keeps the map in use, is logged and counted, and is not tried again at once", async () => {
    const r = rig();
    r.pending[0]!.reject(Object.assign(new Error("denied"), { name: "AccessDeniedException" }));
    await r.settle();
    expect(r.cache.current().read).toBe(false);
    expect(r.pending).toHaveLength(1);
    expect(r.metrics.totals.get(METRIC_NAMES.shardMapFailures)).toBe(1);
    expect(r.logs.join("\n")).toMatch(/AccessDeniedException/);
    r.advance(5_000);
    r.cache.current();
    expect(r.pending).toHaveLength(2);
  });

  it("readSince waits for a read begun after the given time, and shares it", async () => {
    const r = rig();
    r.pending[0]!.resolve(shards(2, "a"));
    await r.settle();
    const since = r.now() + 1;
    r.advance(10);
    const a = r.cache.readSince(since);
    const b = r.cache.readSince(since);
    expect(r.pending).toHaveLength(2);
    r.pending[1]!.resolve(shards(5, "c"));
    expect((await a).count).toBe(5);
    expect((await b).count).toBe(5);
    // a map read since then is answered without a read
    await r.cache.readSince(since);
    expect(r.pending).toHaveLength(2);
  });

  it("readSince gives up at the deadline with the map in hand", async () => {
    const r = rig();
    const map = await r.cache.readSince(r.now() + 5, r.now() + 30);
    expect(map.read).toBe(false);
  });

  it("a read begun before `since` is waited out and followed by another", async () => {
    const r = rig();
    r.advance(100);
    const wanted = r.cache.readSince(r.now());
    r.pending[0]!.resolve(shards(2, "old"));
    await r.settle();
    expect(r.pending).toHaveLength(2);
    r.pending[1]!.resolve(shards(2, "new"));
    expect((await wanted).shardIds[0]).toBe("new-0");
  });
});
