import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { measureUnderLoad, SCALING_BUDGET, scalingRig } from "../test/support/shard-load";
import { fmt, table } from "./measure";

/**
 * Part: throughput against the stream's shard count. Senders over the stream's capacity write
 * 2000-sample requests through the local server's listener (gateway defaults) into a Kinesis
 * stand-in whose shards take a scaled-down budget each (the whole stream's budget equal at every
 * count, so this 2-core machine is never the limit; test/support/shard-kinesis.ts). Reported:
 * the share of the stream's capacity used by first copies, samples/s, records per request, and
 * what a million samples cost on the stream at that shard count, from the records written.
 *
 * Prices (us-east-1, list prices at the time of writing; check the Kinesis pricing page):
 * on-demand bills data ingested per GB, each record rounded up to a whole KiB; provisioned bills
 * PUT payload units of 25 KiB per record (rounded up) and shard-hours (capacity, not per sample).
 */
export const PRICES = {
  onDemandPerGB: 0.08,
  onDemandStreamHour: 0.04,
  provisionedPerMillionUnits: 0.014,
  provisionedShardHour: 0.015,
} as const;

interface ShardRow {
  shards: number;
  share: number;
  bytesShare: number;
  recordsShare: number;
  samplesPerSecond: number;
  recordsPerRequest: number;
  bytesPerSample: number;
  onDemandPerM: number;
  provisionedPerM: number;
}

async function measureShards(shards: number, seconds: number): Promise<ShardRow> {
  const rig = await scalingRig({ shards, ...SCALING_BUDGET, senders: 24, seriesPerSender: 2000 });
  try {
    const use = await measureUnderLoad(rig, seconds, 30_000);
    // cost of what was written, first copies only, per sample acknowledged
    const seen = new Set<string>();
    let billedKiB = 0;
    let units = 0;
    let bytes = 0;
    for (const s of rig.kinesis.shards)
      for (const r of s.records) {
        if (seen.has(r.partitionKey)) continue;
        seen.add(r.partitionKey);
        const size = r.data.length + Buffer.byteLength(r.partitionKey);
        bytes += size;
        billedKiB += Math.ceil(size / 1024);
        units += Math.ceil(size / (25 * 1024));
      }
    const perM = 1e6 / rig.acked.samples;
    return {
      shards,
      ...use,
      bytesPerSample: bytes / rig.acked.samples,
      onDemandPerM: ((billedKiB * 1024) / 1e9) * PRICES.onDemandPerGB * perM,
      provisionedPerM: (units / 1e6) * PRICES.provisionedPerMillionUnits * perM,
    };
  } finally {
    await rig.close();
  }
}

export async function shardsPart(
  quick: boolean,
  log: (line: string) => void,
  summary: string[][],
): Promise<string[]> {
  log("part: throughput against the stream's shards");
  const rows: ShardRow[] = [];
  for (const shards of [4, 16, 64]) rows.push(await measureShards(shards, quick ? 2 : 5));
  const section = [
    "",
    "## Throughput against the stream's shards",
    "",
    `Senders over capacity, 2000-sample v1 requests, gateway defaults; the stream's budget ${SCALING_BUDGET.streamBytesPerSecond / 1024} KiB/s and ${SCALING_BUDGET.streamRecordsPerSecond} records/s at every shard count (per shard: that divided by the count). Share of capacity: first copies written over the binding budget. $ per million samples: on-demand ingest ($${PRICES.onDemandPerGB}/GB, records rounded up to 1 KiB) and provisioned PUT payload units ($${PRICES.provisionedPerMillionUnits}/M units of 25 KiB); stream- and shard-hours come on top and do not depend on the samples.`,
    "",
    table(
      [
        "shards",
        "share of capacity",
        "bytes / records share",
        "samples/s acknowledged",
        "records per request",
        "Kinesis bytes per sample",
        "$ / M samples on-demand",
        "$ / M samples provisioned",
      ],
      rows.map((r) => [
        String(r.shards),
        `${(r.share * 100).toFixed(0)} %`,
        `${(r.bytesShare * 100).toFixed(0)} % / ${(r.recordsShare * 100).toFixed(0)} %`,
        fmt(r.samplesPerSecond),
        fmt(r.recordsPerRequest),
        fmt(r.bytesPerSample),
        `$${r.onDemandPerM.toFixed(5)}`,
        `$${r.provisionedPerM.toFixed(6)}`,
      ]),
    ),
  ];
  const worst = Math.min(...rows.map((r) => r.share));
  summary.push([
    "share of the stream's capacity used, 4 / 16 / 64 shards, defaults",
    "≥ 80 % each",
    rows.map((r) => `${(r.share * 100).toFixed(0)} %`).join(" / "),
    worst >= 0.8 ? "met" : "missed",
  ]);
  const here = dirname(fileURLToPath(import.meta.url));
  mkdirSync(join(here, "results"), { recursive: true });
  writeFileSync(join(here, "results", quick ? "shards.md.tmp" : "shards.md"), `${section.join("\n")}\n`);
  return section;
}
