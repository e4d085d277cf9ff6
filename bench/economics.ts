import { decompress } from "../lib/codec/snappy";
import { Ingestor } from "../lib/ingest/ingest";
import { DEFAULT_LIMITS } from "../lib/ingest/scan/validate";
import { schemas, TO_OBJECT } from "../lib/stream/proto";
import { fmt, table } from "./measure";
import type { Payload } from "./payloads";

/**
 * Part 3: what a million samples cost on the stream. Kinesis bills PUT payload units of
 * 25 KB per record (rounded up) and counts records against shard limits. The gateway packs
 * a request's series into one snappy record per routing bucket; the comparison is the
 * design where every sample is its own record (a JSON document with its labels, value and
 * timestamp, keyed by its series), as existing adapters do.
 */
export const PUT_UNIT_BYTES = 25 * 1024;

export interface EconomicsRow {
  payload: string;
  /** "" for this checkout's gateway and for the one-record-per-sample design; else the baseline's label. */
  tree?: string;
  buckets: number;
  design: string;
  recordsPerM: number;
  bytesPerM: number;
  unitsPerM: number;
}

const units = (bytes: number) => Math.ceil(bytes / PUT_UNIT_BYTES);

/** Another tree's Ingestor (bench/baseline.ts), whose records are counted beside this one's. */
export interface EconomicsBaseline {
  readonly label: string;
  readonly Ingestor: typeof Ingestor;
}

export function measureEconomics(
  payloads: readonly Payload[],
  bucketCounts: readonly number[] = [4, 1],
  before?: EconomicsBaseline,
): EconomicsRow[] {
  const rows: EconomicsRow[] = [];
  const { v1 } = schemas();
  const trees = [{ label: "", Ingestor }, ...(before ? [before] : [])];
  for (const p of payloads) {
    if (p.version !== "v1") continue;
    const perM = 1e6 / p.samples;
    for (const buckets of bucketCounts)
      for (const tree of trees) {
        const ingestor = new tree.Ingestor({
          limits: DEFAULT_LIMITS,
          streamShards: buckets,
          maxRecordBytes: 1024 * 1024,
          maxMetadataLength: 16 * 1024,
          maxDecodedBytes: 64 * 1024 * 1024,
        });
        const out = ingestor.prepare(p.body, "v1", undefined);
        let bytes = 0;
        let u = 0;
        for (const r of out.records) {
          const size = r.data.length + Buffer.byteLength(r.partitionKey);
          bytes += size;
          u += units(size);
        }
        rows.push({
          payload: p.name,
          buckets,
          design: `gateway: snappy records, ${buckets} bucket${buckets === 1 ? "" : "s"}${tree.label ? `, ${tree.label}` : ""}`,
          tree: tree.label,
          recordsPerM: out.records.length * perM,
          bytesPerM: bytes * perM,
          unitsPerM: u * perM,
        });
      }
    // one JSON record per sample, partition key = the series' label string
    const msg = v1.toObject(v1.decode(decompress(p.body, 64 * 1024 * 1024)), TO_OBJECT) as {
      timeseries?: {
        labels?: { name: string; value: string }[];
        samples?: { value?: number; timestamp?: string }[];
        histograms?: Record<string, unknown>[];
      }[];
    };
    let records = 0;
    let bytes = 0;
    let u = 0;
    for (const ts of msg.timeseries ?? []) {
      const labels = Object.fromEntries((ts.labels ?? []).map((l) => [l.name, l.value]));
      const key = JSON.stringify(labels).slice(0, 256);
      for (const s of ts.samples ?? []) {
        const doc = JSON.stringify({ labels, value: s.value ?? 0, timestamp: Number(s.timestamp ?? 0) });
        const size = Buffer.byteLength(doc) + Buffer.byteLength(key);
        records++;
        bytes += size;
        u += units(size);
      }
      for (const h of ts.histograms ?? []) {
        const doc = JSON.stringify({ labels, histogram: h });
        const size = Buffer.byteLength(doc) + Buffer.byteLength(key);
        records++;
        bytes += size;
        u += units(size);
      }
    }
    rows.push({
      payload: p.name,
      buckets: 0,
      design: "one JSON record per sample",
      recordsPerM: records * perM,
      bytesPerM: bytes * perM,
      unitsPerM: u * perM,
    });
  }
  return rows;
}

export function economicsTable(rows: readonly EconomicsRow[]): string {
  return table(
    [
      "request",
      "design",
      "records / M samples",
      "MB / M samples",
      "PUT units / M samples",
      "units vs one per sample",
    ],
    rows.map((r) => {
      const base = rows.find((x) => x.payload === r.payload && x.buckets === 0);
      return [
        r.payload,
        r.design,
        fmt(r.recordsPerM),
        fmt(r.bytesPerM / 1e6),
        fmt(r.unitsPerM),
        base && r.buckets !== 0 ? `1/${fmt(base.unitsPerM / r.unitsPerM)}` : "1",
      ];
    }),
  );
}
