import { describe, expect, it } from "vitest";
import { METRIC_NAMES } from "../../lib/core/metric-names";
import { readRecord } from "../../lib/stream/consumer";
import { seriesSlot } from "../../lib/stream/routing";
import { slotHashKey } from "../../lib/stream/shard-map";
import { measureUnderLoad, SCALING_BUDGET, scalingRig, until } from "../support/shard-load";

/**
 * Throughput grows with the stream's shards: senders over the stream's capacity write through
 * the local server's listener into a stand-in whose shards take a scaled-down budget each (the
 * stream's whole budget the same at every shard count, so the machine is never the limit),
 * with the gateway's defaults (its map starts as 4 equal shards, then follows the stream's).
 */

describe("records packed by the stream's shards", () => {
  for (const shards of [4, 16, 64]) {
    it(`uses at least 80 % of a ${shards}-shard stream's capacity, about one record per shard per request`, async () => {
      const rig = await scalingRig({ shards, ...SCALING_BUDGET, senders: 24, seriesPerSender: 2000 });
      try {
        const use = await measureUnderLoad(rig, 3);
        console.log(
          `${shards} shards: ${(use.share * 100).toFixed(0)} % of capacity ` +
            `(bytes ${(use.bytesShare * 100).toFixed(0)} %, records ${(use.recordsShare * 100).toFixed(0)} %), ` +
            `${use.samplesPerSecond.toFixed(0)} samples/s acknowledged, ${use.recordsPerRequest.toFixed(1)} records per request`,
        );
        expect(use.share).toBeGreaterThanOrEqual(0.8);
        // 2000 series touch every shard: one record each, never one per series
        expect(use.recordsPerRequest).toBeGreaterThanOrEqual(shards * 0.9);
        // counted over the window: records of requests still in flight at its end come on top
        expect(use.recordsPerRequest).toBeLessThanOrEqual(shards * 1.5);
        // every shard written
        for (const s of rig.kinesis.openShards()) expect(s.records.length).toBeGreaterThan(0);
      } finally {
        await rig.close();
      }
    });
  }

  it("keeps every series in order, nothing lost, across a split and a merge in mid-run", async () => {
    const rig = await scalingRig({
      shards: 8,
      streamBytesPerSecond: 2 * 1024 * 1024,
      streamRecordsPerSecond: 2000,
      senders: 6,
      seriesPerSender: 300,
      env: { STREAM_SHARDS: "8" },
    });
    try {
      const running = rig.run();
      await until(
        () => rig.acked.requests >= 30 && rig.metrics.totals.get(METRIC_NAMES.shardMapReads)! >= 1,
        "load",
      );
      const [, high] = rig.kinesis.split(rig.kinesis.openShards()[2]!.id);
      const before = rig.acked.requests;
      await until(() => rig.acked.requests >= before + 30, "writes after the split");
      const open = rig.kinesis.openShards();
      const at = open.findIndex((s) => s.id === high);
      rig.kinesis.merge(open[at]!.id, open[at + 1]!.id);
      const merged = rig.acked.requests;
      await until(() => rig.acked.requests >= merged + 30, "writes after the merge");
      rig.stop();
      await running;

      // the first copies of the split shard's other half were written again to their own shard
      expect(rig.metrics.totals.get(METRIC_NAMES.recordsRerouted) ?? 0).toBeGreaterThan(0);

      // a consumer reading parents before children, keeping the series of the shard it reads
      const seen = new Map<string, { last: number; values: Map<number, number> }>();
      const ids = new Set<string>();
      let strays = 0;
      let outOfOrder = 0;
      for (const shard of rig.kinesis.lineageOrder()) {
        for (const r of shard.records) {
          const read = readRecord(r.data, r.partitionKey);
          if (!read.ok) throw read.error;
          const { key, series } = read.record;
          if (ids.has(key.id)) continue;
          ids.add(key.id);
          for (const s of series) {
            const k = BigInt(slotHashKey(seriesSlot(s.labels, key.tenant)));
            if (k < shard.start || k > shard.end) {
              strays++;
              continue;
            }
            const name = JSON.stringify(s.labels);
            const state = seen.get(name) ?? { last: -1, values: new Map() };
            seen.set(name, state);
            for (const x of s.samples) {
              const t = Number(x.timestamp);
              if (t > state.last) state.last = t;
              else if (state.values.get(t) !== x.value) outOfOrder++;
              state.values.set(t, x.value);
            }
          }
        }
      }
      expect(strays).toBeGreaterThan(0);
      expect(outOfOrder).toBe(0);
      // nothing acknowledged is missing
      let missing = 0;
      for (let sender = 0; sender < rig.ackedTimestamps.length; sender++) {
        for (let i = 0; i < 300; i++) {
          const name = JSON.stringify({
            __name__: `scaling_metric_${i % 50}`,
            instance: `10.${sender}.${i >> 8}.${i & 255}:9100`,
            job: "node",
            sender: String(sender),
            series: String(i),
          });
          const values = seen.get(name)?.values;
          for (const t of rig.ackedTimestamps[sender]!) if (values?.get(t) !== t) missing++;
        }
      }
      expect(missing).toBe(0);
    } finally {
      await rig.close();
    }
  });
});
