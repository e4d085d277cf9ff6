import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { availableSnappyBackends, nativeSnappyAvailable } from "../lib/codec/snappy";
import { MIRROR_DEFAULTS } from "../lib/mirror/config";
import { baselineFromEnv } from "./baseline";
import { type BundleTree, bundleTable, measureBundles } from "./bundles";
import {
  type EconomicsBaseline,
  economicsTable,
  measureEconomics,
  measureRecordFormats,
  recordFormatsTable,
} from "./economics";
import { forwarderPart } from "./forwarder";
import { haPart } from "./ha";
import { hotPathTable, loadHotPathBaseline, measureHotPath, SNAPPY_LABEL } from "./hotpath";
import { fmt, median, percentile, table } from "./measure";
import { measureMirror, mirrorTable } from "./mirror-latency";
import { measureMirrorMemory, mirrorMemoryTable } from "./mirror-memory";
import { benchPayloads, small500 } from "./payloads";
import {
  bytesTable,
  comparePrometheus,
  compareTable,
  GATEWAY_TARGET,
  onDemandPerMillion,
  PROMETHEUS_TARGET,
  VMAGENT_TARGET,
} from "./prometheus-compare";
import { PRICES, shardsPart } from "./shards";

/**
 * `npm run bench`: every benchmark in one process tree, one markdown report on stdout and
 * in bench/results/latest.md. BENCH_QUICK=1 shortens every part (for a smoke run);
 * BENCH_PARTS=hot,economics,bundles,prometheus,mirror,memory,shards,ha picks parts. BENCH_BASELINE=<checkout>
 * measures another checkout's code beside this one (bench/baseline.ts): its figures go in
 * the targets table's "before" column.
 */
// the SDK warns that its 2027 releases will need Node 22; the benchmark runs on Node 20 too
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const quick = process.env.BENCH_QUICK === "1";
const parts = new Set(
  (process.env.BENCH_PARTS ?? "hot,economics,bundles,prometheus,mirror,memory,shards,ha").split(","),
);
const here = dirname(fileURLToPath(import.meta.url));
const baseline = baselineFromEnv();
const log = (line: string) => process.stderr.write(`${line}\n`);

const sections: string[] = [];
const cpu = cpus();
const started = new Date();
sections.push(
  "# Benchmark results",
  "",
  `${started.toISOString()} · ${cpu.length} cores (${cpu[0]?.model.trim() ?? "unknown CPU"}) · Node ${process.version} · ` +
    `native snappy package ${nativeSnappyAvailable() ? "installed" : "absent"} · snappy codecs here: ${availableSnappyBackends().join(", ")}` +
    (quick ? " · quick run (BENCH_QUICK=1): fewer rounds, figures rougher" : "") +
    (baseline ? ` · baseline: ${baseline.label}, measured in the same run and rounds` : ""),
  "",
  "The machine is shared and noisy: every figure is a median over rounds, and the alternatives of a part " +
    "were measured side by side, interleaved, in the same run. Rates are per CPU second (user + system) of the process doing the work.",
);

const payloads = benchPayloads();
/** Targets table rows: figure, target, measured, verdict; `before` (the baseline's figure) is kept apart. */
const summary: string[][] = [];
const before = new Map<string, string>();

if (parts.has("hot")) {
  log("part 1: ingest hot path");
  const old = baseline ? await loadHotPathBaseline(baseline) : undefined;
  const rows = measureHotPath(payloads, { rounds: quick ? 2 : 7, ms: quick ? 150 : 400 }, old);
  sections.push("", "## 1. Ingest hot path, no network", "", hotPathTable(rows));
  const at = (payload: string, snappy: string, variant = "gateway path") =>
    rows.find((r) => r.payload === payload && r.variant === variant && r.snappy === snappy);
  const atBefore = (payload: string, snappy: string) => (old ? at(payload, snappy, old.label) : undefined);
  const v1 = payloads[0]!.name;
  const v2 = payloads.find((p) => p.version === "v2")!.name;
  const local = at(v1, "native") ?? at(v1, "wasm") ?? at(v1, "js");
  if (local) {
    const was = atBefore(v1, local.snappy);
    if (was)
      before.set(
        "hot path, 2000-sample v1 requests, local server's codec",
        `${fmt(was.samplesPerCpuSecond / 1e6)} M`,
      );
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
    const figure = `Lambda path (WebAssembly snappy), ${payload.startsWith("v2") ? "v2" : "v1"} 2000-sample requests`;
    const was = atBefore(payload, "wasm");
    if (was) before.set(figure, `${fmt(was.samplesPerCpuSecond / 1e6)} M`);
    summary.push([
      figure,
      `≥ ${target / 1e6} M samples/s per core`,
      `${fmt(lambda.samplesPerCpuSecond / 1e6)} M${js ? ` (JavaScript codec: ${fmt(js.samplesPerCpuSecond / 1e6)} M)` : ""}`,
      lambda.samplesPerCpuSecond >= target ? "met" : "missed",
    ]);
  }
}

if (parts.has("economics")) {
  log("part 3: stream economics");
  // Prometheus 2.42 (Debian's) sends 500 samples per request by default
  const old: EconomicsBaseline | undefined = baseline
    ? {
        label: baseline.label,
        Ingestor: (await baseline.load<{ Ingestor: EconomicsBaseline["Ingestor"] }>("lib/ingest/ingest.ts"))
          .Ingestor,
      }
    : undefined;
  const rows = measureEconomics([...payloads.filter((p) => p.version === "v1"), small500()], [4, 1], old);
  sections.push(
    "",
    "## 3. Stream economics",
    "",
    "PUT payload units are 25 KB (rounded up per record); a record's size counts its data and partition key.",
    "",
    economicsTable(rows),
    "",
    "What a smaller record format would save: the same records (4 shards) written other ways, with the same partition keys; on-demand ingest bills each record rounded up to 1 KiB, at the us-east-1 list price of $" +
      `${PRICES.onDemandPerGB} per GB. Remote-Write 2.0 bodies carry one symbol table per record; zstd and gzip are Node's zlib at their default levels.`,
    "",
    recordFormatsTable(
      measureRecordFormats([small500(), ...payloads.filter((p) => p.version === "v1")], PRICES.onDemandPerGB),
    ),
  );
  // Kinesis bytes per sample and PUT units per million samples by request size, 4 buckets
  const sized = [small500().name, payloads[0]!.name, payloads[1]!.name];
  const perSize = (tree: string) =>
    sized
      .map((name) => rows.find((r) => r.payload === name && r.buckets === 4 && (r.tree ?? "") === tree))
      .map((r) => (r ? `${fmt(r.bytesPerM / 1e6)} B · ${fmt(r.unitsPerM)} u` : "–"))
      .join(" / ");
  const sizeFigure =
    "Kinesis bytes per sample · PUT units per M samples, 500 / 2000 / 10000-sample requests (4 buckets)";
  if (old) before.set(sizeFigure, perSize(old.label));
  summary.push([sizeFigure, "no regression", perSize(""), ""]);
  const g = rows.find((r) => r.payload === payloads[0]!.name && r.buckets === 4 && !r.tree);
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
  const trees: BundleTree[] = [
    { label: "", root: join(here, "..") },
    ...(baseline ? [{ label: baseline.label, root: baseline.dir }] : []),
  ];
  const rows = await measureBundles(quick ? 3 : 9, trees);
  sections.push("", "## 5. Lambda start cost", "", bundleTable(rows));
  for (const r of rows) {
    if (r.tree) continue;
    const was = rows.find((x) => x.fn === r.fn && x.tree);
    const figure = `${r.fn} cold start (import + first invocation, keys fetched; ${r.node})`;
    if (was)
      before.set(
        figure,
        `${fmt(was.coldMs)} ms (bundle ${fmt(was.bytes / 1024)} KB; import ${fmt(was.initMs)} ms)`,
      );
    summary.push([
      figure,
      "≤ 150 ms",
      `${fmt(r.coldMs)} ms (bundle ${fmt(r.bytes / 1024)} KB + ${fmt(r.besideBytes / 1024)} KB WebAssembly; import alone ${fmt(r.initMs)} ms)`,
      r.coldMs <= 150 ? "met" : "missed",
    ]);
  }
}

if (parts.has("prometheus")) {
  log("part 2: side by side with Prometheus's receiver and vmagent");
  const o = {
    rounds: quick ? 1 : 3,
    concurrency: 4,
    requestsPerWorker: quick ? 25 : 100,
    seriesPerRequest: 500,
    samplesPerSeries: 4,
  };
  const { rows, bytes } = await comparePrometheus(o, log, baseline);
  const withVmagent = rows.some((r) => r.target === VMAGENT_TARGET);
  sections.push(
    "",
    "## 2. Side by side with Prometheus's own receiver and vmagent",
    "",
    `Identical v1 bodies (2000 samples over 500 series) to each, ${o.concurrency} concurrent connections, ` +
      `${o.rounds} rounds of ${o.concurrency * o.requestsPerWorker} requests per receiver, order rotating round by round; ` +
      "figures are medians of the rounds. CPU from /proc of the receiving process only (the gateway's Kinesis, kinesis-local, is another process). " +
      (withVmagent
        ? "vmagent (its /api/v1/write, default flags, a temporary -remoteWrite.tmpDataPath) forwards to a node:http destination in the " +
          "benchmark's process that answers 204 and counts the samples; vmagent answers a write once it is queued, so its CPU is read " +
          "when the destination has received every sample of the round (its requests/s and latencies are those of the answers alone)."
        : "vmagent was not found, so it is not measured."),
    "",
    compareTable(rows, o.concurrency),
    "",
    "Bytes per sample of the same bodies (the measured rounds'): the remote-write request, the records the gateway makes of it " +
      `(its own Ingestor with the settings the gateway process read), and what they cost as Kinesis on-demand ingest ($${PRICES.onDemandPerGB} per GB, ` +
      "each record rounded up to 1 KiB, us-east-1 list price; the stream-hour charge comes on top and does not depend on the samples).",
    "",
    bytesTable(bytes),
  );
  const per = (name: string) =>
    median(rows.filter((r) => r.target === name).map((r) => (r.cpuSeconds / r.samples) * 1e6));
  const gw = per(GATEWAY_TARGET);
  const pr = per(PROMETHEUS_TARGET);
  const figure = "gateway CPU / M samples vs Prometheus's receiver";
  if (baseline) {
    const was = per(`${GATEWAY_TARGET}, ${baseline.label}`);
    before.set(figure, `${fmt(was)} s vs ${fmt(pr)} s (${fmt(was / pr, 2)}×)`);
  }
  summary.push([
    figure,
    "≤ 0.5× (moonshot 0.2×)",
    `${fmt(gw)} s vs ${fmt(pr)} s (${fmt(gw / pr, 2)}×)`,
    gw <= 0.5 * pr ? "met" : "missed",
  ]);
  if (withVmagent) {
    const vm = per(VMAGENT_TARGET);
    const vmFigure = "gateway CPU / M samples vs vmagent (until forwarded)";
    if (baseline) {
      const was = per(`${GATEWAY_TARGET}, ${baseline.label}`);
      before.set(vmFigure, `${fmt(was)} s vs ${fmt(vm)} s (${fmt(was / vm, 2)}×)`);
    }
    summary.push([
      vmFigure,
      "≤ 1.0 (CPU per sample)",
      `${fmt(gw)} s vs ${fmt(vm)} s (${fmt(gw / vm, 2)}×)`,
      gw <= vm ? "met" : "missed",
    ]);
  }
  summary.push([
    "Kinesis bytes per sample (gateway's records) vs the remote-write request's · on-demand $ / M samples",
    "(measured)",
    `${fmt(bytes.kinesisBytes / bytes.samples)} B vs ${fmt(bytes.requestBytes / bytes.samples)} B · $${onDemandPerMillion(bytes).toFixed(5)}`,
    "",
  ]);
  const gcShareOf = (name: string) => {
    const shares = rows
      .filter((r) => r.target === name && r.gc !== undefined)
      .map((r) => r.gc!.seconds / r.cpuSeconds)
      .sort((a, b) => a - b);
    return shares[shares.length >> 1];
  };
  const gcShare = gcShareOf(GATEWAY_TARGET);
  if (gcShare !== undefined) {
    const gcFigure = "garbage-collection pauses, share of the gateway's CPU (part 2)";
    const was = baseline ? gcShareOf(`${GATEWAY_TARGET}, ${baseline.label}`) : undefined;
    if (was !== undefined) before.set(gcFigure, `${fmt(was * 100)} %`);
    summary.push([gcFigure, "< 10 %", `${fmt(gcShare * 100)} %`, gcShare < 0.1 ? "met" : "missed"]);
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

if (parts.has("memory")) {
  log("part 6: mirror memory, the worst queries the defaults allow");
  const rows = await measureMirrorMemory(quick ? 1 : 2, log);
  sections.push(
    "",
    "## 6. Mirror memory: the worst queries the defaults allow",
    "",
    `A stand-in Prometheus streams answers far larger than the mirror's cap (${fmt(MIRROR_DEFAULTS.maxAnswerBytes / 1024 / 1024)} MiB); ` +
      "the mirror runs in a fresh Node process with a Lambda's heap (--max-old-space-size=512). Peak heap from --trace-gc and 5 ms samples; " +
      "peak RSS is the process's high-water mark. The worst of " +
      `${quick ? 1 : 2} rounds.`,
    "",
    mirrorMemoryTable(rows),
  );
  const worstOf = (front: string) =>
    rows.filter((r) => r.front === front).reduce((a, b) => (b.peakRssMb > a.peakRssMb ? b : a));
  const lambda = worstOf("lambda");
  const two = worstOf("app");
  summary.push(
    [
      "mirror peak memory, worst query the defaults allow (Lambda handler, 512 MB heap)",
      "well under 512 MB",
      `heap ${fmt(lambda.peakHeapMb)} MB, RSS ${fmt(lambda.peakRssMb)} MB`,
      lambda.peakRssMb < 512 * 0.75 ? "met" : "missed",
    ],
    [
      "mirror peak memory, two such queries at once (app, 512 MB heap)",
      "well under 512 MB",
      `heap ${fmt(two.peakHeapMb)} MB, RSS ${fmt(two.peakRssMb)} MB`,
      two.peakHeapMb < 512 / 2 ? "met" : "missed",
    ],
  );
}

if (parts.has("shards")) sections.push(...(await shardsPart(quick, log, summary)));

if (parts.has("ha")) sections.push(...(await haPart(quick, log, summary)));

if (!process.env.BENCH_PARTS || parts.has("forwarder"))
  sections.push(...(await forwarderPart(quick, log, summary)));
const targets = baseline
  ? table(
      ["figure", "target", baseline.label, "after (this checkout)", ""],
      summary.map(([figure, target, measured, verdict]) => [
        figure!,
        target!,
        before.get(figure!) ?? "–",
        measured!,
        verdict!,
      ]),
    )
  : table(["figure", "target", "measured", ""], summary);
sections.splice(5, 0, "", "## Targets", "", targets);
const report = `${sections.join("\n")}\n`;
process.stdout.write(report);
mkdirSync(join(here, "results"), { recursive: true });
writeFileSync(join(here, "results", quick ? "quick.md.tmp" : "latest.md"), report);
log(
  `written to bench/results/${quick ? "quick.md.tmp" : "latest.md"} in ${((Date.now() - started.getTime()) / 1000).toFixed(0)} s`,
);
