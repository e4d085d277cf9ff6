import { Reader, WIRE_I64, WIRE_LEN, WIRE_VARINT, WireError, Writer } from "../codec/wire";
import { countRequest } from "../stream/request-counts";

/**
 * Remote-Write 2.0 → 1.0, on the wire: a v2 `io.prometheus.write.v2.Request` rewritten as a
 * v1 `prometheus.WriteRequest` carrying everything 1.0 can carry. Symbols become inline
 * labels; samples, exemplars and native histograms are copied field by field (values keep
 * their exact float64 bits, stale markers included); per-series metadata becomes 1.0's
 * per-family `WriteRequest.metadata`, one entry per distinct family. Start timestamps
 * (`Sample.start_timestamp`, `Histogram.start_timestamp`, the older `TimeSeries.created_timestamp`)
 * have no place in 1.0: they are counted, not carried.
 *
 * One file of about 420 lines: the field-by-field mapping of every v2 message kind (series,
 * samples, exemplars, native histograms and their spans, metadata) reads best side by side;
 * split by kind, one wire mapping would be spread over several files.
 */

/** What a conversion carried, and what 1.0 could not carry. */
export interface ConversionCounts {
  series: number;
  samples: number;
  histograms: number;
  exemplars: number;
  /** `WriteRequest.metadata` entries written (distinct families). */
  metadata: number;
  /** Non-zero start (or created) timestamps left out. */
  startTimestampsDropped: number;
  /** Metadata of series without a metric name, which 1.0 cannot attach to a family. */
  metadataDropped: number;
}

export interface V1Conversion {
  /** The WriteRequest: every series (field 1), then every metadata entry (field 3). */
  readonly body: Uint8Array;
  /**
   * Offsets in `body` where a top-level entry starts, `body.length` last: the request can be
   * cut at any of them into smaller WriteRequests.
   */
  readonly cuts: readonly number[];
  readonly counts: ConversionCounts;
}

/** What a v2 request holds, for checking the receiver's written counts. */
export interface V2Counts {
  samples: number;
  histograms: number;
  exemplars: number;
}

// v2 Request
const V2_SYMBOLS = 4;
const V2_TIMESERIES = 5;
// v2 TimeSeries
const V2_LABELS_REFS = 1;
const V2_SAMPLES = 2;
const V2_HISTOGRAMS = 3;
const V2_EXEMPLARS = 4;
const V2_METADATA = 5;
const V2_CREATED_TIMESTAMP = 6;
// v2 Sample / Histogram start timestamps
const V2_SAMPLE_START = 3;
const V2_HISTOGRAM_START = 17;
// v1 WriteRequest / TimeSeries
const V1_TIMESERIES = 1;
const V1_METADATA = 3;
const V1_LABELS = 1;
const V1_SAMPLES = 2;
const V1_EXEMPLARS = 3;
const V1_HISTOGRAMS = 4;

/** Metadata type numbers are the same in both versions (COUNTER=1 … STATESET=7). */
const HISTOGRAM = 3;
const GAUGE_HISTOGRAM = 4;
const SUMMARY = 5;
/** Series-name suffixes of a family's parts, which its 1.0 metadata entry is named without. */
const FAMILY_SUFFIXES: Readonly<Record<number, readonly string[]>> = {
  [HISTOGRAM]: ["_bucket", "_count", "_sum", "_created"],
  [GAUGE_HISTOGRAM]: ["_bucket", "_gcount", "_gsum"],
  [SUMMARY]: ["_count", "_sum", "_created"],
};

const NAME = new TextEncoder().encode("__name__");
const utf8 = new TextDecoder();

/** Converts a v2 Request body to a v1 WriteRequest; throws WireError when the body is not a valid v2 Request. */
export function convertV2ToV1(body: Uint8Array): V1Conversion {
  const symbols = symbolRanges(body);
  const counts: ConversionCounts = {
    series: 0,
    samples: 0,
    histograms: 0,
    exemplars: 0,
    metadata: 0,
    startTimestampsDropped: 0,
    metadataDropped: 0,
  };
  const out = new Writer(body.length * 2 + 64);
  const cuts: number[] = [];
  const families = new Map<string, Uint8Array>();
  const series = new Writer(1024);
  const inner = new Writer(256);
  const top = new Reader(body);
  while (!top.done()) {
    const tag = top.tag();
    if (tag >>> 3 !== V2_TIMESERIES) {
      top.skip(tag & 7);
      continue;
    }
    top.expect(tag & 7, WIRE_LEN, "timeseries");
    const end = top.lengthEnd();
    series.pos = 0;
    const meta = convertSeries(body, top.pos, end, symbols, series, inner, counts);
    top.pos = end;
    cuts.push(out.pos);
    out.lenField(V1_TIMESERIES, series.finish());
    counts.series++;
    if (meta !== undefined) {
      if (meta.family === undefined) counts.metadataDropped++;
      else {
        const entry = metadataEntry(meta.family, meta.type, meta.help, meta.unit);
        const key = `${meta.type}\u0000${meta.family}\u0000${meta.help}\u0000${meta.unit}`;
        if (!families.has(key)) families.set(key, entry);
      }
    }
  }
  for (const entry of families.values()) {
    cuts.push(out.pos);
    out.lenField(V1_METADATA, entry);
    counts.metadata++;
  }
  cuts.push(out.pos);
  return { body: out.finish(), cuts, counts };
}

/** Counts the samples, histograms and exemplars of a v2 Request (what its receiver must say it wrote). */
export function countV2(body: Uint8Array): V2Counts {
  const { samples, histograms, exemplars } = countRequest(body, "v2");
  return { samples, histograms, exemplars };
}

/** Cuts a conversion into WriteRequests of at most `maxBytes` each (an entry larger than that goes alone). */
export function splitV1(conversion: V1Conversion, maxBytes: number): Uint8Array[] {
  const { body, cuts } = conversion;
  const parts: Uint8Array[] = [];
  let start = 0;
  for (let i = 1; i < cuts.length; i++) {
    const end = cuts[i]!;
    const previous = cuts[i - 1]!;
    if (end - start > maxBytes && previous > start) {
      parts.push(body.subarray(start, previous));
      start = previous;
    }
  }
  if (body.length > start || parts.length === 0) parts.push(body.subarray(start));
  return parts;
}

/** [start, end) of every symbol of a v2 Request, in order, flattened; throws WireError when they are malformed. */
export function symbolRanges(body: Uint8Array): number[] {
  const ranges: number[] = [];
  const r = new Reader(body);
  while (!r.done()) {
    const tag = r.tag();
    const field = tag >>> 3;
    if (field <= 3) throw new WireError(`field ${field} is reserved in a v2 Request`);
    if (field !== V2_SYMBOLS) {
      r.skip(tag & 7);
      continue;
    }
    r.expect(tag & 7, WIRE_LEN, "symbol");
    const end = r.lengthEnd();
    ranges.push(r.pos, end);
    r.pos = end;
  }
  if (ranges.length > 0 && ranges[1] !== ranges[0]) throw new WireError('symbols[0] must be ""');
  return ranges;
}

interface SeriesMetadata {
  /** The 1.0 family name; undefined when the series has no metric name. */
  family: string | undefined;
  type: number;
  help: string;
  unit: string;
}

function convertSeries(
  body: Uint8Array,
  start: number,
  end: number,
  symbols: number[],
  out: Writer,
  scratch: Writer,
  counts: ConversionCounts,
): SeriesMetadata | undefined {
  const r = new Reader(body, start, end);
  const refs: number[] = [];
  const samples: [number, number][] = [];
  const histograms: [number, number][] = [];
  const exemplars: [number, number][] = [];
  let metadata: [number, number] | undefined;
  while (!r.done()) {
    const tag = r.tag();
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === V2_LABELS_REFS) {
      readRefs(r, wt, refs);
      continue;
    }
    if (field === V2_CREATED_TIMESTAMP && wt === WIRE_VARINT) {
      if (!varintIsZero(r)) counts.startTimestampsDropped++;
      continue;
    }
    if (field >= V2_SAMPLES && field <= V2_METADATA) {
      r.expect(wt, WIRE_LEN, `timeseries field ${field}`);
      const e = r.lengthEnd();
      const range: [number, number] = [r.pos, e];
      if (field === V2_SAMPLES) samples.push(range);
      else if (field === V2_HISTOGRAMS) histograms.push(range);
      else if (field === V2_EXEMPLARS) exemplars.push(range);
      else metadata = range;
      r.pos = e;
      continue;
    }
    r.skip(wt);
  }
  const nameRef = writeLabels(body, refs, symbols, V1_LABELS, out, scratch);
  for (const [s, e] of samples) {
    scratch.pos = 0;
    copyFieldsExcept(body, s, e, V2_SAMPLE_START, scratch, counts);
    out.lenField(V1_SAMPLES, scratch.finish());
    counts.samples++;
  }
  const exemplarRefs: number[] = [];
  const exemplar = new Writer(128);
  for (const [s, e] of exemplars) {
    exemplar.pos = 0;
    exemplarRefs.length = 0;
    const x = new Reader(body, s, e);
    while (!x.done()) {
      const tag = x.tag();
      const field = tag >>> 3;
      if (field === 1) readRefs(x, tag & 7, exemplarRefs);
      else if (field === 2 && (tag & 7) === WIRE_I64) {
        exemplar.tag(2, WIRE_I64).bytes(body, x.pos, x.pos + 8);
        x.advance(8);
      } else if (field === 3 && (tag & 7) === WIRE_VARINT) {
        const at = x.pos;
        x.skipVarint();
        exemplar.tag(3, WIRE_VARINT).bytes(body, at, x.pos);
      } else x.skip(tag & 7);
    }
    const labels = new Writer(128);
    writeLabels(body, exemplarRefs, symbols, 1, labels, scratch);
    const msg = new Writer(labels.pos + exemplar.pos + 8);
    msg.bytes(labels.finish()).bytes(exemplar.finish());
    out.lenField(V1_EXEMPLARS, msg.finish());
    counts.exemplars++;
  }
  for (const [s, e] of histograms) {
    scratch.pos = 0;
    copyFieldsExcept(body, s, e, V2_HISTOGRAM_START, scratch, counts);
    out.lenField(V1_HISTOGRAMS, scratch.finish());
    counts.histograms++;
  }
  if (metadata === undefined) return undefined;
  return seriesMetadata(body, metadata[0], metadata[1], symbols, nameRef);
}

/** Reads label references, packed (proto3's encoding) or one varint per field. */
export function readRefs(r: Reader, wireType: number, into: number[]): void {
  if (wireType === WIRE_VARINT) {
    into.push(r.uint32());
    return;
  }
  r.expect(wireType, WIRE_LEN, "labels_refs");
  const end = r.lengthEnd();
  const inner = new Reader(r.buf, r.pos, end);
  while (!inner.done()) into.push(inner.uint32());
  r.pos = end;
}

/**
 * Writes `refs` as v1 Label messages under `field`; returns the symbol index of the
 * `__name__` value (or -1).
 */
function writeLabels(
  body: Uint8Array,
  refs: number[],
  symbols: number[],
  field: number,
  out: Writer,
  scratch: Writer,
): number {
  if (refs.length % 2 !== 0) throw new WireError("labels_refs must come in name/value pairs");
  let nameRef = -1;
  for (let k = 0; k < refs.length; k += 2) {
    const n = refs[k]!;
    const v = refs[k + 1]!;
    const [ns, ne] = symbol(symbols, n);
    const [vs, ve] = symbol(symbols, v);
    if (isName(body, ns, ne)) nameRef = v;
    scratch.pos = 0;
    scratch.lenField(1, body, ns, ne).lenField(2, body, vs, ve);
    out.lenField(field, scratch.finish());
  }
  return nameRef;
}

/** [start, end) of symbol `ref` in `symbolRanges`' list; throws WireError when out of range. */
export function symbol(symbols: number[], ref: number): [number, number] {
  const at = ref * 2;
  if (at + 1 >= symbols.length) throw new WireError(`symbol reference ${ref} out of range`);
  return [symbols[at]!, symbols[at + 1]!];
}

function isName(body: Uint8Array, start: number, end: number): boolean {
  if (end - start !== NAME.length) return false;
  for (let i = 0; i < NAME.length; i++) if (body[start + i] !== NAME[i]) return false;
  return true;
}

/** Copies a message's fields but `dropField` (a varint start timestamp, counted when not zero). */
function copyFieldsExcept(
  body: Uint8Array,
  start: number,
  end: number,
  dropField: number,
  out: Writer,
  counts: ConversionCounts,
): void {
  const r = new Reader(body, start, end);
  while (!r.done()) {
    const at = r.pos;
    const tag = r.tag();
    if (tag >>> 3 === dropField && (tag & 7) === WIRE_VARINT) {
      if (!varintIsZero(r)) counts.startTimestampsDropped++;
      continue;
    }
    r.skip(tag & 7);
    out.bytes(body, at, r.pos);
  }
}

/** Reads past a varint and says whether it was zero. */
function varintIsZero(r: Reader): boolean {
  const at = r.pos;
  r.skipVarint();
  for (let i = at; i < r.pos; i++) if ((r.buf[i]! & 0x7f) !== 0) return false;
  return true;
}

function seriesMetadata(
  body: Uint8Array,
  start: number,
  end: number,
  symbols: number[],
  nameRef: number,
): SeriesMetadata | undefined {
  const r = new Reader(body, start, end);
  let type = 0;
  let help = 0;
  let unit = 0;
  while (!r.done()) {
    const tag = r.tag();
    const field = tag >>> 3;
    if ((tag & 7) === WIRE_VARINT && (field === 1 || field === 3 || field === 4)) {
      const value = r.uint32();
      if (field === 1) type = value;
      else if (field === 3) help = value;
      else unit = value;
    } else r.skip(tag & 7);
  }
  const text = (ref: number) => {
    const [s, e] = symbol(symbols, ref);
    return utf8.decode(body.subarray(s, e));
  };
  const helpText = text(help);
  const unitText = text(unit);
  if (type === 0 && helpText === "" && unitText === "") return undefined;
  return {
    family: nameRef < 0 ? undefined : familyName(text(nameRef), type),
    type,
    help: helpText,
    unit: unitText,
  };
}

/** The family a series belongs to: its name, less the suffix of a histogram's or summary's part. */
export function familyName(metric: string, type: number): string {
  for (const suffix of FAMILY_SUFFIXES[type] ?? []) {
    if (metric.endsWith(suffix) && metric.length > suffix.length) return metric.slice(0, -suffix.length);
  }
  return metric;
}

const encoder = new TextEncoder();

function metadataEntry(family: string, type: number, help: string, unit: string): Uint8Array {
  const w = new Writer(64 + family.length + help.length + unit.length);
  if (type !== 0) w.tag(1, WIRE_VARINT).varint(type);
  w.lenField(2, encoder.encode(family));
  if (help !== "") w.lenField(4, encoder.encode(help));
  if (unit !== "") w.lenField(5, encoder.encode(unit));
  return w.finish();
}
