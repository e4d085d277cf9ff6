import SnappyJS from "snappyjs";
import {
  availableSnappyBackends,
  compress,
  decompress,
  type SnappyBackendName,
  useSnappy,
} from "../lib/codec/snappy";
import { Ingestor } from "../lib/ingest/ingest";
import { DEFAULT_LIMITS } from "../lib/ingest/scan/validate";
import { schemas } from "../lib/stream/proto";
import type { Baseline } from "./baseline";
import { callsPerCpuSecond, fmt, median, table } from "./measure";
import type { Payload } from "./payloads";

/**
 * Part 1: the ingest hot path without network. For each payload, side by side in the
 * same process and rounds: the gateway's path (decompress → scan → validate → route →
 * snappy records with partition keys), a naive path (protobufjs decode to objects and
 * re-encode), protobufjs decode alone, and the floor (snappy decompress + compress of
 * the same bytes). Each runs with every snappy implementation available here (native,
 * WebAssembly — what the Lambda bundle ships —, JavaScript); snappyjs's codec is measured
 * as a reference for the JavaScript one.
 */
export interface HotPathRow {
  payload: string;
  variant: string;
  snappy: SnappyBackendName;
  samplesPerCpuSecond: number;
}

interface Variant {
  name: string;
  run: (p: Payload) => unknown;
  /** Measured with this snappy implementation selected only. */
  only?: SnappyBackendName;
}

const MAX_DECODED = 64 * 1024 * 1024;

/** Another tree's ingest path (bench/baseline.ts), measured beside this one in the same rounds. */
export interface HotPathBaseline {
  readonly label: string;
  readonly prepare: (p: Payload) => unknown;
  readonly useSnappy: (name: SnappyBackendName | "auto") => unknown;
  readonly backends: () => SnappyBackendName[];
}

/**
 * Loads a tree's Ingestor and snappy selector, configured as this benchmark's, through
 * `load` (an import of a module by its path inside that tree).
 */
export async function loadIngestPath(
  label: string,
  load: <T>(path: string) => Promise<T>,
): Promise<HotPathBaseline> {
  const ingest = await load<typeof import("../lib/ingest/ingest")>("lib/ingest/ingest.ts");
  const codec = await load<typeof import("../lib/codec/snappy")>("lib/codec/snappy.ts");
  const validate = await load<typeof import("../lib/ingest/scan/validate")>("lib/ingest/scan/validate.ts");
  const ingestor = new ingest.Ingestor({
    limits: validate.DEFAULT_LIMITS,
    streamShards: 4,
    maxRecordBytes: 1024 * 1024,
    maxMetadataLength: 16 * 1024,
    maxDecodedBytes: MAX_DECODED,
  });
  return {
    label,
    prepare: (p) => ingestor.prepare(p.body, p.version, undefined),
    useSnappy: (name) => codec.useSnappy(name),
    backends: () => codec.availableSnappyBackends(),
  };
}

/** The baseline's ingest path as a part 1 variant. */
export function loadHotPathBaseline(b: Baseline): Promise<HotPathBaseline> {
  return loadIngestPath(`gateway path, ${b.label}`, b.load);
}

export function hotPathVariants(before?: HotPathBaseline): Variant[] {
  const ingestor = new Ingestor({
    limits: DEFAULT_LIMITS,
    streamShards: 4,
    maxRecordBytes: 1024 * 1024,
    maxMetadataLength: 16 * 1024,
    maxDecodedBytes: MAX_DECODED,
  });
  const { v1, v2 } = schemas();
  return [
    { name: "gateway path", run: (p) => ingestor.prepare(p.body, p.version, undefined) },
    ...(before ? [{ name: before.label, run: before.prepare }] : []),
    {
      name: "naive: protobufjs decode + re-encode",
      run: (p) => {
        const type = p.version === "v1" ? v1 : v2;
        const msg = type.decode(decompress(p.body, MAX_DECODED));
        return compress(type.encode(msg).finish());
      },
    },
    {
      name: "protobufjs decode alone",
      run: (p) => (p.version === "v1" ? v1 : v2).decode(decompress(p.body, MAX_DECODED)),
    },
    { name: "floor: snappy decompress + compress", run: (p) => compress(decompress(p.body, MAX_DECODED)) },
    {
      name: "reference: snappyjs decompress + compress",
      run: (p) => SnappyJS.compress(SnappyJS.uncompress(p.body)),
      only: "js",
    },
  ];
}

export function measureHotPath(
  payloads: readonly Payload[],
  opts: { rounds: number; ms: number },
  before?: HotPathBaseline,
): HotPathRow[] {
  const variants = hotPathVariants(before);
  // both trees' codec selectors follow the implementation under measurement
  const select = (impl: SnappyBackendName | "auto") => {
    useSnappy(impl);
    before?.useSnappy(impl);
  };
  const impls = availableSnappyBackends();
  const samples = new Map<string, number[]>();
  const key = (p: Payload, v: Variant, impl: string) => `${p.name}\u0000${v.name}\u0000${impl}`;
  // warm-up: every path compiled before anything is timed
  for (const impl of impls) {
    select(impl);
    for (const p of payloads)
      for (const v of variants) if (!v.only || v.only === impl) callsPerCpuSecond(() => v.run(p), 150, 20);
  }
  for (let round = 0; round < opts.rounds; round++) {
    for (const impl of impls) {
      select(impl);
      for (const p of payloads) {
        for (const v of variants) {
          if (v.only && v.only !== impl) continue;
          const rate = callsPerCpuSecond(() => v.run(p), opts.ms) * p.samples;
          const k = key(p, v, impl);
          samples.set(k, [...(samples.get(k) ?? []), rate]);
        }
      }
    }
  }
  select("auto");
  const rows: HotPathRow[] = [];
  for (const impl of impls)
    for (const p of payloads)
      for (const v of variants) {
        if (v.only && v.only !== impl) continue;
        rows.push({
          payload: p.name,
          variant: v.name,
          snappy: impl,
          samplesPerCpuSecond: median(samples.get(key(p, v, impl)) ?? []),
        });
      }
  return rows;
}

export function hotPathTable(rows: readonly HotPathRow[]): string {
  const out: string[][] = [];
  for (const r of rows) {
    const naive = rows.find(
      (x) => x.payload === r.payload && x.snappy === r.snappy && x.variant.startsWith("naive"),
    );
    out.push([
      r.payload,
      SNAPPY_LABEL[r.snappy],
      r.variant,
      fmt(r.samplesPerCpuSecond / 1e6),
      naive ? `${fmt(r.samplesPerCpuSecond / naive.samplesPerCpuSecond, 2)}×` : "–",
    ]);
  }
  return table(["request", "snappy", "path", "M samples / CPU s", "vs naive"], out);
}

export const SNAPPY_LABEL: Record<SnappyBackendName, string> = {
  native: "native `snappy`",
  wasm: "WebAssembly (`snappy-wasm`)",
  js: "JavaScript",
};
