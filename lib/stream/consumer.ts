import { decompress } from "../codec/snappy";
import { Reader, WIRE_I64, WIRE_LEN } from "../codec/wire";
import { schemas, TO_OBJECT } from "./proto";
import { type PartitionKeyInfo, parsePartitionKey } from "./records";

/**
 * Reading records back: what a consumer of the stream does. A record's data is a
 * snappy-compressed Remote-Write message (v1 WriteRequest or self-contained v2 Request);
 * the partition key says which, and for which tenant.
 */
export interface DecodedSample {
  value: number;
  /** The float64 bits as 16 hex digits, read from the wire (NaN payloads survive). */
  bits: string;
  timestamp: string;
}

export interface DecodedSeries {
  labels: Record<string, string>;
  samples: DecodedSample[];
  histograms: Record<string, unknown>[];
  exemplars: { labels: Record<string, string>; value: number; timestamp: string }[];
  metadata?: Record<string, unknown>;
}

export interface DecodedRecord {
  key: PartitionKeyInfo;
  series: DecodedSeries[];
  metadata: Record<string, unknown>[];
}

const MAX_RECORD_DECODED = 64 * 1024 * 1024;

/** A record this reader cannot decode: its partition key and why. */
export class UndecodableRecordError extends Error {
  constructor(
    readonly partitionKey: string,
    readonly reason: string,
  ) {
    super(`undecodable record (partition key ${partitionKey.slice(0, 256)}): ${reason}`);
    this.name = "UndecodableRecordError";
  }
}

/** A record read from the stream: decoded, or reported with its partition key and the reason. */
export type ReadRecord =
  | { readonly ok: true; readonly record: DecodedRecord }
  | { readonly ok: false; readonly error: UndecodableRecordError };

/**
 * Decodes a record without throwing: a consumer reports an undecodable record and goes on
 * with the next, rather than stopping on it (and, under a Lambda event source mapping,
 * retrying it until it expires).
 */
export function readRecord(data: Uint8Array, partitionKey: string): ReadRecord {
  try {
    return { ok: true, record: decodeRecord(data, partitionKey) };
  } catch (err) {
    if (err instanceof UndecodableRecordError) return { ok: false, error: err };
    throw err;
  }
}

/** Decodes a record; throws UndecodableRecordError (with the partition key) when it cannot. */
export function decodeRecord(data: Uint8Array, partitionKey: string): DecodedRecord {
  try {
    return decode(data, partitionKey);
  } catch (err) {
    throw new UndecodableRecordError(partitionKey, err instanceof Error ? err.message : String(err));
  }
}

function decode(data: Uint8Array, partitionKey: string): DecodedRecord {
  const key = parsePartitionKey(partitionKey);
  if (key === undefined) throw new Error(`not a gateway partition key: ${partitionKey.slice(0, 80)}`);
  const body = decompress(data, MAX_RECORD_DECODED);
  const bits = sampleBits(body, key.format === "prw1" ? 1 : 5);
  const { v1, v2 } = schemas();
  if (key.format === "prw1") {
    const msg = v1.toObject(v1.decode(body), TO_OBJECT) as V1Message;
    const series = (msg.timeseries ?? []).map((ts, i) => ({
      labels: Object.fromEntries((ts.labels ?? []).map((l) => [l.name ?? "", l.value ?? ""])),
      samples: (ts.samples ?? []).map((s, j) => sample(s, bits[i]?.[j])),
      histograms: ts.histograms ?? [],
      exemplars: (ts.exemplars ?? []).map((e) => ({
        labels: Object.fromEntries((e.labels ?? []).map((l) => [l.name ?? "", l.value ?? ""])),
        value: e.value ?? 0,
        timestamp: e.timestamp ?? "0",
      })),
    }));
    return { key, series, metadata: msg.metadata ?? [] };
  }
  const msg = v2.toObject(v2.decode(body), TO_OBJECT) as V2Message;
  const symbols = msg.symbols ?? [];
  const sym = (ref: number) => {
    const s = symbols[ref];
    if (s === undefined) throw new Error(`symbol reference ${ref} out of range`);
    return s;
  };
  const pairs = (refs: number[] | undefined) => {
    const out: Record<string, string> = {};
    for (let k = 0; k + 1 < (refs ?? []).length; k += 2) out[sym(refs![k]!)] = sym(refs![k + 1]!);
    return out;
  };
  const series = (msg.timeseries ?? []).map((ts, i) => {
    const s: DecodedSeries = {
      labels: pairs(ts.labels_refs),
      samples: (ts.samples ?? []).map((x, j) => sample(x, bits[i]?.[j])),
      histograms: ts.histograms ?? [],
      exemplars: (ts.exemplars ?? []).map((e) => ({
        labels: pairs(e.labels_refs),
        value: e.value ?? 0,
        timestamp: e.timestamp ?? "0",
      })),
    };
    if (ts.metadata) {
      const m = ts.metadata;
      s.metadata = {
        type: m.type ?? "METRIC_TYPE_UNSPECIFIED",
        help: sym(m.help_ref ?? 0),
        unit: sym(m.unit_ref ?? 0),
      };
    }
    return s;
  });
  return { key, series, metadata: [] };
}

function sample(s: { value?: number; timestamp?: string }, bits: string | undefined): DecodedSample {
  return { value: s.value ?? 0, bits: bits ?? "0000000000000000", timestamp: s.timestamp ?? "0" };
}

/** The raw 64-bit patterns of every sample value, per series, straight from the wire. */
function sampleBits(body: Uint8Array, seriesField: number): string[][] {
  const out: string[][] = [];
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const top = new Reader(body);
  while (!top.done()) {
    const tag = top.tag();
    if (tag >>> 3 !== seriesField || (tag & 7) !== WIRE_LEN) {
      top.skip(tag & 7);
      continue;
    }
    const end = top.lengthEnd();
    const values: string[] = [];
    const ts = new Reader(body, top.pos, end);
    while (!ts.done()) {
      const t = ts.tag();
      if (t >>> 3 === 2 && (t & 7) === WIRE_LEN) {
        const sEnd = ts.lengthEnd();
        const s = new Reader(body, ts.pos, sEnd);
        let hex = "0000000000000000";
        while (!s.done()) {
          const st = s.tag();
          if (st >>> 3 === 1 && (st & 7) === WIRE_I64) {
            hex = view.getBigUint64(s.pos, true).toString(16).padStart(16, "0");
            s.advance(8);
          } else {
            s.skip(st & 7);
          }
        }
        values.push(hex);
        ts.pos = sEnd;
      } else {
        ts.skip(t & 7);
      }
    }
    out.push(values);
    top.pos = end;
  }
  return out;
}

interface V1Label {
  name?: string;
  value?: string;
}
interface V1Message {
  timeseries?: {
    labels?: V1Label[];
    samples?: { value?: number; timestamp?: string }[];
    exemplars?: { labels?: V1Label[]; value?: number; timestamp?: string }[];
    histograms?: Record<string, unknown>[];
  }[];
  metadata?: Record<string, unknown>[];
}
interface V2Message {
  symbols?: string[];
  timeseries?: {
    labels_refs?: number[];
    samples?: { value?: number; timestamp?: string }[];
    exemplars?: { labels_refs?: number[]; value?: number; timestamp?: string }[];
    histograms?: Record<string, unknown>[];
    metadata?: { type?: string; help_ref?: number; unit_ref?: number };
  }[];
}
