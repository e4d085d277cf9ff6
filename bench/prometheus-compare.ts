import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startEmbeddedKinesis } from "../functions/local/embedded-kinesis";
import { loadIngestConfig } from "../lib/ingest/config";
import { Ingestor } from "../lib/ingest/ingest";
import { realisticSeries, snappy, v1Message } from "../test/fixtures/remote-write";
import { type GatewayProcess, startGatewayProcess } from "../test/reliability/gateway-process";
import { type RunningPrometheus, startPrometheus } from "../test/support/prometheus";
import { vmagentAvailable } from "../test/support/vmagent";
import type { Baseline } from "./baseline";
import { fmt, median, percentile, table } from "./measure";
import { findPid, processCpuSeconds } from "./procstat";
import { PRICES } from "./shards";
import { startVmagentReceiver, type VmagentReceiver } from "./vmagent-receiver";

/**
 * Part 2: the gateway next to Prometheus's own remote-write receiver (Prometheus 2.42 with
 * --web.enable-remote-write-receiver, no scrape jobs) and vmagent (its /api/v1/write,
 * forwarding to a destination in this process that answers 204; bench/vmagent-receiver.ts).
 * One load generator posts identical request bodies to each, at the same concurrency: each
 * worker owns its series and sends them in time order, so Prometheus accepts every sample.
 * CPU is read from /proc for the receiving process only: the gateway runs in its own process
 * and writes to kinesis-local, another process, which is not counted. vmagent answers once
 * the samples are queued and forwards them afterwards, so its CPU is read when the
 * destination has received every sample of the round, not when the last answer came. Rounds
 * rotate the order of the targets (with a baseline, bench/baseline.ts, its gateway is one
 * more target). The gateway's garbage-collection pauses are summed inside it (gc-meter.mjs, preloaded)
 * and read around each round: their wall time as a share of its CPU in that round (an upper
 * bound on a busy machine, where a pause also lasts while the process waits for a core), and
 * how many collections of each kind there were.
 */
export interface CompareRow {
  target: string;
  round: number;
  requests: number;
  samples: number;
  errors: number;
  wallSeconds: number;
  /** From the last answer until the receiver's work was done (vmagent: its queue sent). */
  drainSeconds: number;
  cpuSeconds: number;
  /** Garbage collection in the receiving process during the round (gateway only). */
  gc?: GcTotals;
  latenciesMs: number[];
}

export interface CompareOptions {
  rounds: number;
  concurrency: number;
  requestsPerWorker: number;
  seriesPerRequest: number;
  samplesPerSeries: number;
}

interface Target {
  name: string;
  url: string;
  pid: number;
  headers: Record<string, string>;
  /** The process's garbage collection so far, where it can be read. */
  gc?: () => Promise<GcTotals>;
  /** Resolves once the work for these accepted samples is done (a receiver that queues). */
  settle?: (acceptedSamples: number) => Promise<void>;
}

/** Garbage-collection pauses (wall time, seconds) and how many there were, by kind. */
export interface GcTotals {
  seconds: number;
  minor: number;
  major: number;
}

const GC_METER = join(dirname(fileURLToPath(import.meta.url)), "gc-meter.mjs");

/**
 * The environment that preloads gc-meter.mjs into a Node child, and a reader of its totals:
 * SIGUSR2 makes the child write them to a file of its own, which is awaited.
 */
function gcMeter(): {
  env: Record<string, string>;
  read: (pid: number) => Promise<GcTotals>;
  dispose(): void;
} {
  const dir = mkdtempSync(join(tmpdir(), "gc-meter-"));
  const file = join(dir, "gc.json");
  return {
    env: {
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --import ${GC_METER}`.trim(),
      GC_METER_FILE: file,
    },
    async read(pid) {
      rmSync(file, { force: true });
      process.kill(pid, "SIGUSR2");
      const deadline = Date.now() + 10_000;
      while (!existsSync(file)) {
        if (Date.now() > deadline) throw new Error("the gateway did not report its GC totals");
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      // the file is written in one call; a read racing the write sees it empty
      for (;;) {
        const text = readFileSync(file, "utf8");
        if (text !== "") {
          const totals = JSON.parse(text) as { ms: number; minor: number; major: number };
          return { seconds: totals.ms / 1000, minor: totals.minor, major: totals.major };
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

function bodies(o: CompareOptions, round: number, worker: number, base: number): Buffer[] {
  const out: Buffer[] = [];
  const template = realisticSeries(o.seriesPerRequest, o.samplesPerSeries);
  for (let r = 0; r < o.requestsPerWorker; r++) {
    const t0 = base + r * o.samplesPerSeries * 100;
    const series = template.map((s) => ({
      labels: [...s.labels, ["bench", `r${round}w${worker}`] as [string, string]].sort((a, b) =>
        a[0] < b[0] ? -1 : 1,
      ),
      samples: s.samples!.map((x, k) => ({ value: x.value + r, timestamp: t0 + k * 100 })),
    }));
    out.push(Buffer.from(snappy(v1Message(series))));
  }
  return out;
}

function post(agent: Agent, url: URL, body: Buffer, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: "POST",
        headers: {
          "content-type": "application/x-protobuf",
          "content-encoding": "snappy",
          "x-prometheus-remote-write-version": "0.1.0",
          "content-length": body.length,
          ...headers,
        },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

async function drive(
  target: Target,
  work: Buffer[][],
  round: number,
  samplesPerRequest: number,
): Promise<CompareRow> {
  const agent = new Agent({ keepAlive: true, maxSockets: work.length });
  const url = new URL(`${target.url}/api/v1/write`);
  const latencies: number[] = [];
  let errors = 0;
  let accepted = 0;
  // one warm-up request per worker on a fresh connection, not counted
  const gc0 = await target.gc?.();
  const cpu0 = processCpuSeconds(target.pid);
  const t0 = performance.now();
  await Promise.all(
    work.map(async (list) => {
      for (const body of list) {
        const s = performance.now();
        const status = await post(agent, url, body, target.headers).catch(() => 0);
        latencies.push(performance.now() - s);
        if (status < 200 || status >= 300) errors++;
        else accepted++;
      }
    }),
  );
  const t1 = performance.now();
  const wallSeconds = (t1 - t0) / 1000;
  await target.settle?.(accepted * samplesPerRequest);
  const drainSeconds = (performance.now() - t1) / 1000;
  const cpuSeconds = processCpuSeconds(target.pid) - cpu0;
  const gc1 = await target.gc?.();
  agent.destroy();
  const requests = work.reduce((n, l) => n + l.length, 0);
  return {
    target: target.name,
    round,
    requests,
    samples: requests * samplesPerRequest,
    errors,
    wallSeconds,
    drainSeconds,
    cpuSeconds,
    ...(gc0 !== undefined && gc1 !== undefined
      ? {
          gc: {
            seconds: gc1.seconds - gc0.seconds,
            minor: gc1.minor - gc0.minor,
            major: gc1.major - gc0.major,
          },
        }
      : {}),
    latenciesMs: latencies,
  };
}

/** The local gateway's name in the rows; the baseline's carries its label after it. */
export const GATEWAY_TARGET = "gateway (local server)";
export const PROMETHEUS_TARGET = "Prometheus 2.42 receiver";
export const VMAGENT_TARGET = "vmagent 1.79 (forwarding to a 204 destination)";

/** Bytes per sample of the measured rounds' bodies, as sent and as they travel on. */
export interface CompareBytes {
  samples: number;
  /** The remote-write bodies posted (snappy-compressed v1, as a Prometheus sends them). */
  requestBytes: number;
  /** The gateway's Kinesis records for the same bodies: data plus partition key. */
  kinesisBytes: number;
  /** The same records as Kinesis on-demand bills them: each rounded up to a whole KiB. */
  kinesisBilledBytes: number;
  kinesisRecords: number;
  /** What vmagent sent its destination for the measured rounds (absent without vmagent). */
  vmagent?: { samples: number; bytes: number; requests: number };
}

export interface CompareResult {
  rows: CompareRow[];
  bytes: CompareBytes;
}

export async function comparePrometheus(
  o: CompareOptions,
  log: (line: string) => void,
  baseline?: Baseline,
): Promise<CompareResult> {
  const kinesis = await startEmbeddedKinesis();
  let gateway: GatewayProcess | undefined;
  let before: GatewayProcess | undefined;
  let prom: RunningPrometheus | undefined;
  let vmagent: VmagentReceiver | undefined;
  const gc = gcMeter();
  try {
    await kinesis.createStream("bench", 4);
    const gatewayEnv = {
      KINESIS_ENDPOINT: kinesis.endpoint,
      KINESIS_STREAM_NAME: "bench",
      LOG_LEVEL: "error",
      ...gc.env,
    };
    gateway = await startGatewayProcess(gatewayEnv);
    const gatewayPid = gateway.pid;
    if (baseline) {
      const other = await baseline.load<typeof import("../test/reliability/gateway-process")>(
        "test/reliability/gateway-process.ts",
      );
      before = await other.startGatewayProcess(gatewayEnv);
    }
    prom = await startPrometheus({
      configYaml: "global:\n  scrape_interval: 1m\nscrape_configs: []\n",
      extraFlags: ["--web.enable-remote-write-receiver"],
    });
    const promPid = findPid(`--web.listen-address=127.0.0.1:${prom.port}`);
    if (promPid === undefined) throw new Error("cannot find the Prometheus process");
    const targets: Target[] = [
      { name: PROMETHEUS_TARGET, url: prom.url, pid: promPid, headers: {} },
      {
        name: GATEWAY_TARGET,
        url: gateway.url,
        pid: gateway.pid,
        headers: { "sts-api-key": gateway.apiKey },
        gc: () => gc.read(gatewayPid),
      },
    ];
    if (vmagentAvailable()) {
      const agent = await startVmagentReceiver();
      vmagent = agent;
      // every sample vmagent accepted so far must reach the destination
      let expected = 0;
      targets.push({
        name: VMAGENT_TARGET,
        url: agent.url,
        pid: agent.pid,
        headers: {},
        settle: (accepted) => {
          expected += accepted;
          return agent.drained(expected);
        },
      });
    }
    if (baseline && before) {
      const beforePid = before.pid;
      targets.push({
        name: `${GATEWAY_TARGET}, ${baseline.label}`,
        url: before.url,
        pid: before.pid,
        headers: { "sts-api-key": before.apiKey },
        gc: () => gc.read(beforePid),
      });
    }
    const rows: CompareRow[] = [];
    const samplesPerRequest = o.seriesPerRequest * o.samplesPerSeries;
    // the gateway's records for the same bodies, with the settings the gateway process read
    const ingestor = new Ingestor(loadIngestConfig(gatewayEnv).ingest);
    const bytes: CompareBytes = {
      samples: 0,
      requestBytes: 0,
      kinesisBytes: 0,
      kinesisBilledBytes: 0,
      kinesisRecords: 0,
    };
    // a warm-up round, not counted: connections open, the gateway's code compiled by the JIT
    const warm = Array.from({ length: o.concurrency }, (_, w) => bodies(o, -1, w, Date.now() - 90_000));
    for (const t of targets) await drive(t, warm, -1, samplesPerRequest);
    const forwarded0 = vmagent ? { ...vmagent.received } : undefined;
    for (let round = 0; round < o.rounds; round++) {
      const base = Date.now() - 60_000;
      const work = Array.from({ length: o.concurrency }, (_, w) => bodies(o, round, w, base));
      // every target goes first once in a while: rotate the order round by round
      const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
      for (const t of order) {
        const row = await drive(t, work, round, samplesPerRequest);
        log(
          `  round ${round + 1}: ${t.name}: ${row.requests} requests in ${row.wallSeconds.toFixed(1)} s` +
            (t.settle ? ` (+${row.drainSeconds.toFixed(1)} s until forwarded)` : "") +
            `, ${row.cpuSeconds.toFixed(2)} CPU s, ${row.errors} errors`,
        );
        rows.push(row);
      }
      // outside the measured windows: the bodies' sizes and the records the gateway makes of them
      for (const body of work.flat()) {
        const out = ingestor.prepare(body, "v1", undefined);
        bytes.samples += samplesPerRequest;
        bytes.requestBytes += body.length;
        for (const r of out.records) {
          const size = r.data.length + Buffer.byteLength(r.partitionKey);
          bytes.kinesisBytes += size;
          bytes.kinesisBilledBytes += Math.ceil(size / 1024) * 1024;
          bytes.kinesisRecords++;
        }
      }
    }
    if (vmagent && forwarded0) {
      const now = vmagent.received;
      bytes.vmagent = {
        samples: now.samples - forwarded0.samples,
        bytes: now.bytes - forwarded0.bytes,
        requests: now.requests - forwarded0.requests,
      };
    }
    return { rows, bytes };
  } finally {
    await prom?.stop();
    await vmagent?.stop();
    await gateway?.stop();
    await before?.stop();
    await kinesis.stop();
    gc.dispose();
  }
}

/** Kinesis on-demand ingest for a million samples at these records' billed size, in dollars. */
export function onDemandPerMillion(b: CompareBytes): number {
  return (b.kinesisBilledBytes / b.samples / 1e9) * 1e6 * PRICES.onDemandPerGB;
}

export function bytesTable(b: CompareBytes): string {
  const per = (n: number, samples = b.samples) => fmt(n / samples);
  const rows: string[][] = [
    ["remote-write request body (snappy v1), posted to each receiver", per(b.requestBytes), "–", "–"],
    [
      `gateway's Kinesis records (data + partition key; ${fmt(b.kinesisRecords / (b.samples / 1e6))} records / M samples)`,
      per(b.kinesisBytes),
      per(b.kinesisBilledBytes),
      `$${onDemandPerMillion(b).toFixed(5)}`,
    ],
  ];
  if (b.vmagent)
    rows.push([
      `vmagent's bodies to its destination (${fmt(b.vmagent.samples / b.vmagent.requests)} samples each)`,
      per(b.vmagent.bytes, b.vmagent.samples),
      "–",
      "–",
    ]);
  return table(
    ["bytes of", "bytes / sample", "billed on-demand (1 KiB per record)", "Kinesis on-demand $ / M samples"],
    rows,
  );
}

export function compareTable(rows: readonly CompareRow[], concurrency: number): string {
  const names = [...new Set(rows.map((r) => r.target))];
  const summary = names.map((name) => {
    const mine = rows.filter((r) => r.target === name);
    const cpuPerM = median(mine.map((r) => (r.cpuSeconds / r.samples) * 1e6));
    const rps = median(mine.map((r) => r.requests / r.wallSeconds));
    const all = mine.flatMap((r) => r.latenciesMs);
    const measured = mine.filter((r) => r.gc !== undefined);
    const gcShares = measured.map((r) => r.gc!.seconds / r.cpuSeconds);
    const per100 = (count: (g: GcTotals) => number) =>
      (100 * measured.reduce((n, r) => n + count(r.gc!), 0)) / measured.reduce((n, r) => n + r.requests, 0);
    return {
      name,
      cpuPerM,
      gcShare: gcShares.length > 0 ? median(gcShares) : undefined,
      gcPer100: measured.length > 0 ? `${fmt(per100((g) => g.minor))} / ${fmt(per100((g) => g.major))}` : "–",
      rps,
      p50: percentile(all, 50),
      p99: percentile(all, 99),
      errors: mine.reduce((n, r) => n + r.errors, 0),
      requests: mine.reduce((n, r) => n + r.requests, 0),
    };
  });
  const prom = summary.find((s) => s.name === PROMETHEUS_TARGET);
  const vm = summary.find((s) => s.name === VMAGENT_TARGET);
  return table(
    [
      "receiver",
      "CPU s / M samples",
      "vs Prometheus",
      "vs vmagent",
      "GC pauses / CPU",
      "GCs per 100 requests (minor / major)",
      "requests/s",
      "p50 ms",
      "p99 ms",
      "errors",
      `requests (concurrency ${concurrency})`,
    ],
    summary.map((s) => [
      s.name,
      fmt(s.cpuPerM),
      prom ? `${fmt(s.cpuPerM / prom.cpuPerM, 2)}×` : "–",
      vm ? `${fmt(s.cpuPerM / vm.cpuPerM, 2)}×` : "–",
      s.gcShare === undefined ? "–" : `${fmt(s.gcShare * 100)} %`,
      s.gcPer100,
      fmt(s.rps),
      fmt(s.p50),
      fmt(s.p99),
      String(s.errors),
      String(s.requests),
    ]),
  );
}
