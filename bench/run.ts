import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { availableSnappyBackends, nativeSnappyAvailable } from "../lib/codec/snappy";
import { bundleTable, measureBundles } from "./bundles";
import { economicsTable, measureEconomics } from "./economics";
import { forwarderPart } from "./forwarder";
import { hotPathTable, measureHotPath, SNAPPY_LABEL } from "./hotpath";
import { fmt, percentile, table } from "./measure";
import { measureMirror, mirrorTable } from "./mirror-latency";
import { benchPayloads, small500 } from "./payloads";
import { comparePrometheus, compareTable } from "./prometheus-compare";

/**
 * `npm run bench`: every benchmark in one process tree, one markdown report on stdout and
 * in bench/results/latest.md. BENCH_QUICK=1 shortens every part (for a smoke run);
 * BENCH_PARTS=hot,economics,bundles,prometheus,mirror picks parts.
 */
const quick = process.env.BENCH_QUICK === "1";
const parts = new Set((process.env.BENCH_PARTS ?? "hot,economics,bundles,prometheus,mirror").split(","));
const here = dirname(fileURLToPath(import.meta.url));
const log = (line: string) => process.stderr.write(`${line}\n`);

const sections: string[] = [];
const cpu = cpus();
const started = new Date();
sections.push(
  "# Benchmark results",
  "",
  `${started.toISOString()} · ${cpu.length} cores (${cpu[0]?.model.trim() ?? "unknown CPU"}) · Node ${process.version} · ` +
    `native snappy package ${nativeSnappyAvailable() ? "installed" : "absent"} · snappy codecs here: ${availableSnappyBackends().join(", ")}` +
    (quick ? " · quick run (BENCH_QUICK=1): fewer rounds, figures rougher" : ""),
  "",
  "The machine is shared and noisy: every figure is a median over rounds, and the alternatives of a part " +
    "were measured side by side, interleaved, in the same run. Rates are per CPU second (user + system) of the process doing the work.",
);

const payloads = benchPayloads();
const summary: string[][] = [];

if (parts.has("hot")) {
  log("part 1: ingest hot path");
  const rows = measureHotPath(payloads, { rounds: quick ? 2 : 7, ms: quick ? 150 : 400 });
  sections.push("", "## 1. Ingest hot path, no network", "", hotPathTable(rows));
  const at = (payload: string, snappy: string) =>
    rows.find((r) => r.payload === payload && r.variant === "gateway path" && r.snappy === snappy);
  const v1 = payloads[0]!.name;
  const v2 = payloads.find((p) => p.version === "v2")!.name;
  const local = at(v1, "native") ?? at(v1, "wasm") ?? at(v1, "js");
  if (local) {
    summary.push([
      "hot path, 2000-sample v1 requests, local server's codec",
      "(measured)",
      `${fmt(local.samplesPerCpuSecond / 1e6)} M samples/s (${SNAPPY_LABEL[local.snappy]})`,
      "",
    ]);
  }
  // the Lambda bundle ships the WebAssembly codec (bench part 5 runs it from the bundle)
  for (const [payload, target] of [
    [v1, 5e6],
    [v2, 3e6],
  ] as const) {
    const lambda = at(payload, "wasm");
    const js = at(payload, "js");
    if (!lambda) continue;
    summary.push([
      `Lambda path (WebAssembly snappy), ${payload.startsWith("v2") ? "v2" : "v1"} 2000-sample requests`,
      `≥ ${target / 1e6} M samples/s per core`,
      `${fmt(lambda.samplesPerCpuSecond / 1e6)} M${js ? ` (JavaScript codec: ${fmt(js.samplesPerCpuSecond / 1e6)} M)` : ""}`,
      lambda.samplesPerCpuSecond >= target ? "met" : "missed",
    ]);
  }
}

if (parts.has("economics")) {
  log("part 3: stream economics");
  // Prometheus 2.42 (Debian's) sends 500 samples per request by default
  const rows = measureEconomics([...payloads.filter((p) => p.version === "v1"), small500()]);
  sections.push(
    "",
    "## 3. Stream economics",
    "",
    "PUT payload units are 25 KB (rounded up per record); a record's size counts its data and partition key.",
    "",
    economicsTable(rows),
  );
  const g = rows.find((r) => r.payload === payloads[0]!.name && r.buckets === 4);
  const b = rows.find((r) => r.payload === payloads[0]!.name && r.buckets === 0);
  if (g && b) {
    summary.push([
      "PUT payload units / M samples, 2000-sample requests, 4 buckets",
      "≤ 1/500 of one record per sample",
      `${fmt(g.unitsPerM)} vs ${fmt(b.unitsPerM)} (1/${fmt(b.unitsPerM / g.unitsPerM)})`,
      g.unitsPerM * 500 <= b.unitsPerM ? "met" : "missed",
    ]);
  }
}

if (parts.has("bundles")) {
  log("part 5: bundles and initialisation");
  const rows = await measureBundles(quick ? 3 : 9);
  sections.push("", "## 5. Lambda start cost", "", bundleTable(rows));
  for (const r of rows) {
    summary.push([
      `${r.fn} cold start (import + first invocation, keys fetched; ${r.node})`,
      "≤ 150 ms",
      `${fmt(r.coldMs)} ms (bundle ${fmt(r.bytes / 1024)} KB + ${fmt(r.besideBytes / 1024)} KB WebAssembly; import alone ${fmt(r.initMs)} ms)`,
      r.coldMs <= 150 ? "met" : "missed",
    ]);
  }
}

if (parts.has("prometheus")) {
  log("part 2: side by side with Prometheus's receiver");
  const o = {
    rounds: quick ? 1 : 3,
    concurrency: 4,
    requestsPerWorker: quick ? 25 : 100,
    seriesPerRequest: 500,
    samplesPerSeries: 4,
  };
  const rows = await comparePrometheus(o, log);
  sections.push(
    "",
    "## 2. Side by side with Prometheus's own receiver",
    "",
    `Identical v1 bodies (2000 samples over 500 series) to each, ${o.concurrency} concurrent connections, ` +
      `${o.rounds} rounds of ${o.concurrency * o.requestsPerWorker} requests per receiver, order alternating. ` +
      "CPU from /proc of the receiving process only (the gateway's Kinesis, kinesis-local, is another process).",
    "",
    compareTable(rows, o.concurrency),
  );
  const per = (name: string) => {
    const mine = rows.filter((r) => r.target.startsWith(name));
    const xs = mine.map((r) => (r.cpuSeconds / r.samples) * 1e6).sort((a, b) => a - b);
    return xs[xs.length >> 1] ?? Number.NaN;
  };
  const gw = per("gateway");
  const pr = per("Prometheus");
  summary.push([
    "gateway CPU / M samples vs Prometheus's receiver",
    "≤ 0.5× (moonshot 0.2×)",
    `${fmt(gw)} s vs ${fmt(pr)} s (${fmt(gw / pr, 2)}×)`,
    gw <= 0.5 * pr ? "met" : "missed",
  ]);
  const gcShares = rows
    .filter((r) => r.gc !== undefined)
    .map((r) => r.gc!.seconds / r.cpuSeconds)
    .sort((a, b) => a - b);
  const gcShare = gcShares[gcShares.length >> 1];
  if (gcShare !== undefined) {
    summary.push([
      "garbage-collection pauses, share of the gateway's CPU (part 2)",
      "< 10 %",
      `${fmt(gcShare * 100)} %`,
      gcShare < 0.1 ? "met" : "missed",
    ]);
  }
}

if (parts.has("mirror")) {
  log("part 4: mirror latency");
  try {
    const rows = await measureMirror(quick ? 50 : 300, log);
    sections.push("", "## 4. Mirror overhead over querying Prometheus directly", "", mirrorTable(rows));
    const worst = Math.max(
      ...rows.filter((r) => !r.signed).map((r) => percentile(r.mirrorMs, 50) - percentile(r.directMs, 50)),
    );
    summary.push([
      "mirror added latency p50 (worst of the three)",
      "≤ 2 ms",
      `${fmt(worst)} ms`,
      worst <= 2 ? "met" : "missed",
    ]);
    for (const r of rows.filter((x) => x.signed))
      summary.push([
        `mirror added latency p50 / p99, ${r.request}`,
        "(measured)",
        `${fmt(percentile(r.mirrorMs, 50) - percentile(r.directMs, 50))} / ${fmt(percentile(r.mirrorMs, 99) - percentile(r.directMs, 99))} ms`,
        "",
      ]);
  } catch (err) {
    sections.push("", "## 4. Mirror overhead", "", `Not measured: ${(err as Error).message}`);
  }
}

if (!process.env.BENCH_PARTS || parts.has("forwarder"))
  sections.push(...(await forwarderPart(quick, log, summary)));
sections.splice(5, 0, "", "## Targets", "", table(["figure", "target", "measured", ""], summary));
const report = `${sections.join("\n")}\n`;
process.stdout.write(report);
mkdirSync(join(here, "results"), { recursive: true });
writeFileSync(join(here, "results", quick ? "quick.md.tmp" : "latest.md"), report);
log(
  `written to bench/results/${quick ? "quick.md.tmp" : "latest.md"} in ${((Date.now() - started.getTime()) / 1000).toFixed(0)} s`,
);
