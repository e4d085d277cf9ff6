import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { silentLogger } from "../lib/core/log";
import { createMemoryMetrics } from "../lib/core/metrics";
import { HttpDestination } from "../lib/forwarder/destination";
import { type Destination, forwardBatch } from "../lib/forwarder/forward";
import { DestinationState, type Protocol } from "../lib/forwarder/negotiate";
import type { ForwardRecord } from "../lib/forwarder/records";
import { Ingestor } from "../lib/ingest/ingest";
import { ingestSettings, realisticSeries, snappy, v1Message, v2Message } from "../test/fixtures/remote-write";
import { cpuSeconds, fmt, median, table } from "./measure";

/**
 * Forwarder throughput: batches of records as the gateway writes them (Prometheus-sized
 * requests of 2000 samples through the real ingest path, 4 buckets) forwarded by
 * forwardBatch, (a) to a destination that answers 204 at once (the forwarder's own work:
 * checking, merging, recompressing) and (b) over HTTP to a sink in another process (CPU of
 * this process only). v2 records go as they are (protocol v2) and rewritten as 1.0
 * (protocol v1, what a 1.0 destination gets). Lambda cost from the CPU time, at the default 512 MB.
 */
export interface ForwarderRow {
  readonly payload: string;
  readonly variant: string;
  readonly merge: boolean;
  readonly samplesPerCpuSecond: number;
  readonly requestsPerBatch: number;
  readonly samplesPerRecord: number;
}

/** Lambda arm64 prices (us-east-1): per GB-second and per request. */
export const LAMBDA_PRICE = { gbSecond: 0.0000133334, request: 0.2 / 1e6 } as const;
/** A function gets one full vCPU at 1769 MB; below that, a proportional share. */
const FULL_VCPU_MB = 1769;
const MEMORY_MB = 512;
const BATCH_RECORDS = 500;

function records(version: "v1" | "v2", requests: number): { records: ForwardRecord[]; samples: number } {
  const ingest = new Ingestor(ingestSettings());
  const out: ForwardRecord[] = [];
  let samples = 0;
  for (let i = 0; i < requests; i++) {
    const specs = realisticSeries(500, 4, 10, 1_700_000_000_000 + i * 60_000);
    const raw = version === "v1" ? v1Message(specs) : v2Message(specs);
    const prepared = ingest.prepare(snappy(raw), version, undefined);
    samples += prepared.written.samples;
    for (const r of prepared.records) {
      out.push({
        data: r.data,
        partitionKey: r.partitionKey,
        sequenceNumber: String(out.length),
        shardId: "shardId-0",
      });
    }
  }
  return { records: out, samples };
}

async function startSink(): Promise<{ url: string; child: ChildProcess }> {
  const code =
    "const s=require('http').createServer((q,r)=>{q.on('data',()=>{});q.on('end',()=>{r.writeHead(204);r.end()})});" +
    "s.listen(0,'127.0.0.1',()=>process.stdout.write(String(s.address().port)+'\\n'));";
  const child = spawn(process.execPath, ["-e", code], { stdio: ["ignore", "pipe", "inherit"] });
  const [chunk] = (await once(child.stdout!, "data")) as [Buffer];
  return { url: `http://127.0.0.1:${chunk.toString().trim()}/api/v1/write`, child };
}

export async function measureForwarder(opts: { rounds: number; requests: number }): Promise<ForwarderRow[]> {
  const sink = await startSink();
  const instant: Destination = { send: async () => ({ status: 204, message: "" }) };
  const http = new HttpDestination(sink.url);
  const rows: ForwarderRow[] = [];
  try {
    for (const version of ["v1", "v2"] as const) {
      const { records: batch, samples } = records(version, opts.requests);
      const asIs: Protocol = "v2";
      const asV1: Protocol = "v1";
      const variants = [
        { variant: "logic only (204 at once)", destination: instant, merge: true, protocol: asIs },
        { variant: "logic only (204 at once)", destination: instant, merge: false, protocol: asIs },
        { variant: "HTTP to a sink process", destination: http, merge: true, protocol: asIs },
        { variant: "HTTP to a sink process", destination: http, merge: false, protocol: asIs },
        { variant: "logic only, sent as 1.0", destination: instant, merge: true, protocol: asV1 },
        { variant: "HTTP to a sink process, sent as 1.0", destination: http, merge: true, protocol: asV1 },
      ].filter((v) => (version === "v1" ? v.protocol === asIs : v.merge));
      const rates = new Map<(typeof variants)[number], number[]>(variants.map((v) => [v, []]));
      let requests = new Map<(typeof variants)[number], number>();
      for (let round = 0; round < opts.rounds; round++) {
        for (const v of variants) {
          const c0 = cpuSeconds();
          const outcome = await forwardBatch(batch, {
            destination: v.destination,
            deadLetters: { send: async () => {} },
            maxRequestBytes: v.merge ? 4 * 1024 * 1024 : 1,
            timeoutMs: 10_000,
            remainingMs: () => 60_000,
            state: new DestinationState(v.protocol),
            log: silentLogger,
            metrics: createMemoryMetrics(),
          });
          if (outcome.delivered !== batch.length)
            throw new Error(`bench batch not delivered: ${JSON.stringify(outcome)}`);
          rates.get(v)!.push(samples / Math.max(cpuSeconds() - c0, 1e-6));
          requests = requests.set(v, outcome.requests);
        }
      }
      for (const v of variants) {
        rows.push({
          payload: `${version} records of 2000-sample requests (${batch.length} records)`,
          variant: v.variant,
          merge: v.merge,
          samplesPerCpuSecond: median(rates.get(v)!),
          requestsPerBatch: requests.get(v)!,
          samplesPerRecord: samples / batch.length,
        });
      }
    }
  } finally {
    sink.child.kill();
  }
  return rows;
}

/** Lambda cost of forwarding one million samples, CPU-bound (time spent waiting on the destination comes on top). */
export function forwarderCostPerMillion(r: ForwarderRow): number {
  const cpuSecondsPerM = 1e6 / r.samplesPerCpuSecond;
  const wallSeconds = cpuSecondsPerM / (MEMORY_MB / FULL_VCPU_MB);
  const invocations = 1e6 / (r.samplesPerRecord * BATCH_RECORDS);
  return wallSeconds * (MEMORY_MB / 1024) * LAMBDA_PRICE.gbSecond + invocations * LAMBDA_PRICE.request;
}

export function forwarderTable(rows: readonly ForwarderRow[]): string {
  return table(
    [
      "records",
      "destination",
      "v1 merging",
      "samples / CPU s",
      "requests per batch",
      "Lambda $ / M samples (512 MB, CPU only)",
    ],
    rows.map((r) => [
      r.payload,
      r.variant,
      r.merge ? "on" : "off",
      `${fmt(r.samplesPerCpuSecond / 1e6)} M`,
      fmt(r.requestsPerBatch),
      `$${fmt(forwarderCostPerMillion(r), 2)}`,
    ]),
  );
}

/** The forwarder part of `npm run bench`: its section of the report, and its line in the targets. */
export async function forwarderPart(quick: boolean, log: (line: string) => void, summary: string[][]) {
  log("part 6: forwarder");
  const rows = await measureForwarder({ rounds: quick ? 2 : 7, requests: quick ? 10 : 25 });
  const http = rows.find((r) => r.payload.startsWith("v1") && r.variant.startsWith("HTTP") && r.merge);
  if (http) {
    summary.push([
      "forwarder, v1 over HTTP, merged",
      "next to ingest",
      `${fmt(http.samplesPerCpuSecond / 1e6)} M samples/s per core, $${fmt(forwarderCostPerMillion(http), 2)} / M samples`,
      "",
    ]);
  }
  return [
    "",
    "## 6. Forwarder: stream → remote_write",
    "",
    "Records as the gateway writes them (2000-sample requests through the ingest path, 4 buckets), one batch of all of them. " +
      `Cost: CPU time at ${MEMORY_MB} MB (a ${fmt(MEMORY_MB / FULL_VCPU_MB, 2)} vCPU share), arm64 prices, ${BATCH_RECORDS}-record invocations; ` +
      "time spent waiting for the destination is not included and in practice dominates.",
    "",
    forwarderTable(rows),
  ];
}
