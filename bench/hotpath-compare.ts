import { resolve } from "node:path";
import { PerformanceObserver } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { type HotPathBaseline, loadIngestPath } from "./hotpath";
import { callsPerCpuSecond, fmt, median, table } from "./measure";
import { benchPayloads, type Payload } from "./payloads";

/**
 * `npx tsx bench/hotpath-compare.ts <baseline-dir>`: `Ingestor.prepare` of this tree
 * against the one of another checkout of the project (its own modules, its own codec
 * choice), in the same process, rounds interleaved, for every snappy codec both can run.
 * Prints samples per CPU second (median over rounds) and the share of wall time spent in
 * garbage collection during each tree's measurements (run node with --expose-gc, e.g.
 * `node --expose-gc --import tsx bench/hotpath-compare.ts ../before`, so that the heap is
 * collected before each measurement and each tree is charged only its own garbage).
 * HOTPATH_ROUNDS and HOTPATH_MS change the rounds and their length; HOTPATH_CODECS picks
 * codecs (e.g. "wasm,js").
 */
type Tree = HotPathBaseline;

function loadTree(name: string, dir: string): Promise<Tree> {
  return loadIngestPath(
    name,
    <T>(rel: string) => import(pathToFileURL(resolve(dir, rel)).href) as Promise<T>,
  );
}

/** Garbage collections seen (start and duration, ms); charged to the window they started in. */
const collections: { start: number; duration: number }[] = [];
const observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) collections.push({ start: e.startTime, duration: e.duration });
});
observer.observe({ entryTypes: ["gc"] });
const fullGc = (globalThis as { gc?: () => void }).gc;

async function main(): Promise<void> {
  const baseline = process.argv[2];
  if (baseline === undefined) throw new Error("usage: tsx bench/hotpath-compare.ts <baseline-dir>");
  const trees = [await loadTree("before", baseline), await loadTree("after", ".")];
  const rounds = Number(process.env.HOTPATH_ROUNDS ?? 7);
  const ms = Number(process.env.HOTPATH_MS ?? 300);
  const common = trees[0]!.backends().filter((b) => trees[1]!.backends().includes(b));
  const codecs = process.env.HOTPATH_CODECS?.split(",") ?? common;
  const payloads = benchPayloads();
  const rates = new Map<string, number[]>();
  const windows: { key: string; start: number; end: number }[] = [];
  const key = (t: Tree, c: string, p: Payload) => `${t.label}|${c}|${p.name}`;
  for (const t of trees)
    for (const c of codecs) {
      t.useSnappy(c as "wasm");
      for (const p of payloads) callsPerCpuSecond(() => t.prepare(p), 200, 20);
    }
  for (let round = 0; round < rounds; round++) {
    for (const c of codecs)
      for (const p of payloads)
        for (const t of round % 2 === 0 ? trees : [...trees].reverse()) {
          t.useSnappy(c as "wasm");
          fullGc?.();
          const w0 = performance.now();
          const rate = callsPerCpuSecond(() => t.prepare(p), ms) * p.samples;
          windows.push({ key: `${t.label}|${c}`, start: w0, end: performance.now() });
          // let the observer hear of this window's collections
          await new Promise((r) => setTimeout(r, 5));
          const k = key(t, c, p);
          rates.set(k, [...(rates.get(k) ?? []), rate]);
        }
    process.stderr.write(`round ${round + 1}/${rounds}\n`);
  }
  const rows: string[][] = [];
  for (const c of codecs)
    for (const p of payloads) {
      const before = median(rates.get(key(trees[0]!, c, p)) ?? []);
      const after = median(rates.get(key(trees[1]!, c, p)) ?? []);
      rows.push([c, p.name, fmt(before / 1e6), fmt(after / 1e6), `${fmt(after / before, 2)}×`]);
    }
  console.log(table(["snappy", "request", "before M/s", "after M/s", "gain"], rows));
  console.log();
  await new Promise((r) => setTimeout(r, 50));
  const gcRows = codecs.map((c) => {
    const share = (t: Tree) => {
      let gcMs = 0;
      let wallMs = 0;
      for (const w of windows) {
        if (w.key !== `${t.label}|${c}`) continue;
        wallMs += w.end - w.start;
        for (const g of collections) if (g.start >= w.start && g.start < w.end) gcMs += g.duration;
      }
      return `${fmt((100 * gcMs) / wallMs, 2)}%`;
    };
    return [c, share(trees[0]!), share(trees[1]!)];
  });
  console.log(table(["snappy", "GC share before", "GC share after"], gcRows));
}

await main();
