import zlib from "node:zlib";
import { compress, decompress } from "../lib/codec/snappy";
import { Ingestor } from "../lib/ingest/ingest";
import { DEFAULT_LIMITS } from "../lib/ingest/scan/validate";
import { schemas, TO_OBJECT } from "../lib/stream/proto";
import { type SeriesSpec, v2Message } from "../test/fixtures/remote-write";
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

/** One way of writing the same records, and what it costs on the stream. */
export interface FormatRow {
  payload: string;
  format: string;
  bytesPerSample: number;
  /** On-demand bills each record rounded up to 1 KiB. */
  billedPerSample: number;
  dollarsPerM: number;
}

/**
 * What a smaller record format would save: the gateway's records for each request (4
 * shards), and the same record bodies written other ways, all counted with the same
 * partition keys. Remote-Write 2.0 bodies are built by protobufjs from each record's series
 * (one symbol table per record); zstd and gzip are Node's zlib at their default levels.
 */
export function measureRecordFormats(payloads: readonly Payload[], onDemandPerGB: number): FormatRow[] {
  const { v1 } = schemas();
  const rows: FormatRow[] = [];
  const zstd = (zlib as { zstdCompressSync?: (b: Uint8Array) => Buffer }).zstdCompressSync;
  for (const p of payloads) {
    if (p.version !== "v1") continue;
    const ingestor = new Ingestor({
      limits: DEFAULT_LIMITS,
      streamShards: 4,
      maxRecordBytes: 1024 * 1024,
      maxMetadataLength: 16 * 1024,
      maxDecodedBytes: 64 * 1024 * 1024,
    });
    const out = ingestor.prepare(p.body, "v1", undefined);
    const ways = new Map<string, { bytes: number; billed: number }>();
    const add = (format: string, data: number, key: string) => {
      const size = data + Buffer.byteLength(key);
      const w = ways.get(format) ?? { bytes: 0, billed: 0 };
      w.bytes += size;
      w.billed += Math.ceil(size / 1024) * 1024;
      ways.set(format, w);
    };
    for (const r of out.records) {
      const body = decompress(r.data, 64 * 1024 * 1024);
      add("today: Remote-Write 1.0, snappy", r.data.length, r.partitionKey);
      add("Remote-Write 1.0, uncompressed", body.length, r.partitionKey);
      add("Remote-Write 1.0, gzip", zlib.gzipSync(body).length, r.partitionKey);
      if (zstd) add("Remote-Write 1.0, zstd", zstd(body).length, r.partitionKey);
      const msg = v1.toObject(v1.decode(body), TO_OBJECT) as {
        timeseries?: {
          labels?: { name: string; value: string }[];
          samples?: { value?: number; timestamp?: string }[];
        }[];
      };
      const specs: SeriesSpec[] = (msg.timeseries ?? []).map((ts) => ({
        labels: (ts.labels ?? []).map((l) => [l.name, l.value] as [string, string]),
        samples: (ts.samples ?? []).map((s) => ({
          value: s.value ?? 0,
          timestamp: Number(s.timestamp ?? 0),
        })),
      }));
      const v2 = v2Message(specs);
      add("Remote-Write 2.0, snappy", compress(v2).length, r.partitionKey);
      if (zstd) add("Remote-Write 2.0, zstd", zstd(v2).length, r.partitionKey);
    }
    for (const [format, w] of ways) {
      rows.push({
        payload: p.name,
        format,
        bytesPerSample: w.bytes / p.samples,
        billedPerSample: w.billed / p.samples,
        dollarsPerM: (w.billed / p.samples) * 1e6 * (onDemandPerGB / 1e9),
      });
    }
  }
  return rows;
}

export function recordFormatsTable(rows: readonly FormatRow[]): string {
  return table(
    ["request", "record format", "bytes / sample", "billed / sample", "on-demand $ / M samples", "vs today"],
    rows.map((r) => {
      const today = rows.find((x) => x.payload === r.payload && x.format.startsWith("today"));
      return [
        r.payload,
        r.format,
        fmt(r.bytesPerSample),
        fmt(r.billedPerSample),
        `$${r.dollarsPerM.toFixed(5)}`,
        today ? `${fmt((100 * r.dollarsPerM) / today.dollarsPerM)} %` : "",
      ];
    }),
  );
}
