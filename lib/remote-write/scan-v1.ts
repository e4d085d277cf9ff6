import { Reader, varintSize, WIRE_I64, WIRE_LEN, WIRE_VARINT, WireError, Writer } from "../wire";
import { fmix32, fnv1a, LabelScratch, tenantSeed } from "./labels";
import { emptyTally, type PlanOptions, RangeList, Rejections, type Tally } from "./plan";
import { chunkLimit, type StreamRecord, sealRecord } from "./records";

/**
 * Remote-Write 1.0: scans a decoded prometheus.WriteRequest without materialising it.
 * Labels are read as byte ranges to validate and route each series; the series' bytes
 * are then carried into records as they came (re-ordered only when the sender did not
 * sort its labels). Each record's body is itself a WriteRequest.
 */
export interface IngestOutput {
  records: StreamRecord[];
  written: Tally;
  rejected: Rejections;
}

const F_TIMESERIES = 1;
const F_METADATA = 3;

export function ingestV1(buf: Uint8Array, opts: PlanOptions): IngestOutput {
  const seed = tenantSeed(opts.tenant);
  const limit = chunkLimit(opts.maxRecordBytes);
  const series: RangeList[] = Array.from({ length: opts.buckets }, () => new RangeList(64));
  const metadata: RangeList[] = Array.from({ length: opts.buckets }, () => new RangeList(4));
  const rewritten: Uint8Array[] = [];
  const written = emptyTally();
  const rejected = new Rejections();
  const labels = new LabelScratch();
  const top = new Reader(buf);
  const inner = new Reader(buf);

  while (!top.done()) {
    const tag = top.tag();
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field !== F_TIMESERIES && field !== F_METADATA) {
      // v2's symbols and timeseries: a v2 Request sent as v1 would otherwise pass as empty
      if (field === 4 || field === 5)
        throw new WireError(`field ${field} is not in v1: is this a v2 Request?`);
      top.skip(wt);
      continue;
    }
    top.expect(wt, WIRE_LEN, field === F_TIMESERIES ? "timeseries" : "metadata");
    const end = top.lengthEnd();
    const start = top.pos;
    top.pos = end;
    if (field === F_METADATA) {
      const nameHash = scanMetadata(inner.at(start, end), seed);
      metadata[nameHash % opts.buckets]!.push(start, end);
      written.metadata++;
      continue;
    }
    const counts = scanSeries(inner.at(start, end), labels);
    const reason = labels.validate(buf, opts.limits, seed);
    if (reason !== undefined) {
      rejected.add(reason);
      continue;
    }
    const bucket = series[labels.hash % opts.buckets]!;
    let bodies: Uint8Array[] | undefined;
    if (!labels.sorted) bodies = [sortedBody(buf, start, end, labels)];
    const size = end - start;
    if (1 + varintSize(size) + size > limit) {
      bodies = splitSeries(bodies?.[0] ?? buf.subarray(start, end), limit);
      if (bodies === undefined) {
        rejected.add("series-too-large");
        continue;
      }
    }
    if (bodies === undefined) {
      bucket.push(start, end);
    } else {
      for (const body of bodies) {
        rewritten.push(body);
        bucket.push(-rewritten.length, 0);
      }
    }
    written.series++;
    written.samples += counts.samples;
    written.histograms += counts.histograms;
    written.exemplars += counts.exemplars;
  }

  const records: StreamRecord[] = [];
  for (let b = 0; b < opts.buckets; b++) {
    const pieces = collectPieces(buf, rewritten, series[b]!, metadata[b]!);
    for (const body of packRecords(pieces, limit)) {
      records.push(sealRecord(body, "v1", opts.tenant, b, opts.buckets, opts.hashKeys));
    }
  }
  return { records, written, rejected };
}

interface SeriesCounts {
  samples: number;
  histograms: number;
  exemplars: number;
}

/** Reads one TimeSeries: fills `labels`, checks the structure of samples, exemplars, histograms. */
function scanSeries(r: Reader, labels: LabelScratch): SeriesCounts {
  labels.reset();
  const counts = { samples: 0, histograms: 0, exemplars: 0 };
  const end = r.end;
  while (r.pos < end) {
    const entryStart = r.pos;
    const tag = r.tag();
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field > 4) {
      r.skip(wt);
      continue;
    }
    r.expect(wt, WIRE_LEN, "timeseries field");
    const msgEnd = r.lengthEnd();
    const msgStart = r.pos;
    switch (field) {
      case 1: {
        const [ns, ne, vs, ve] = readLabel(r.buf, msgStart, msgEnd);
        labels.push(ns, ne, vs, ve, entryStart, msgEnd);
        break;
      }
      case 2:
        checkSample(r.buf, msgStart, msgEnd);
        counts.samples++;
        break;
      case 3:
        checkExemplar(r.buf, msgStart, msgEnd);
        counts.exemplars++;
        break;
      case 4:
        walk(r.buf, msgStart, msgEnd);
        counts.histograms++;
        break;
    }
    r.pos = msgEnd;
  }
  return counts;
}

const labelReader = new Reader(new Uint8Array(0));

/** A Label message's name and value byte ranges (absent fields are empty). */
function readLabel(buf: Uint8Array, start: number, end: number): [number, number, number, number] {
  const r = labelReader;
  r.buf = buf;
  r.at(start, end);
  let ns = start;
  let ne = start;
  let vs = start;
  let ve = start;
  while (!r.done()) {
    const tag = r.tag();
    const field = tag >>> 3;
    if (field === 1 || field === 2) {
      r.expect(tag & 7, WIRE_LEN, "label");
      const e = r.lengthEnd();
      const s = r.pos;
      if (field === 1) {
        ns = s;
        ne = e;
      } else {
        vs = s;
        ve = e;
      }
      r.pos = e;
    } else {
      r.skip(tag & 7);
    }
  }
  return [ns, ne, vs, ve];
}

function checkSample(buf: Uint8Array, start: number, end: number): void {
  const r = labelReader;
  r.buf = buf;
  r.at(start, end);
  while (!r.done()) {
    const tag = r.tag();
    const field = tag >>> 3;
    if (field === 1) {
      r.expect(tag & 7, WIRE_I64, "sample value");
      r.advance(8);
    } else if (field === 2) {
      r.expect(tag & 7, WIRE_VARINT, "sample timestamp");
      r.skipVarint();
    } else {
      r.skip(tag & 7);
    }
  }
}

function checkExemplar(buf: Uint8Array, start: number, end: number): void {
  const r = new Reader(buf, start, end);
  while (!r.done()) {
    const tag = r.tag();
    const field = tag >>> 3;
    if (field === 1) {
      r.expect(tag & 7, WIRE_LEN, "exemplar label");
      const e = r.lengthEnd();
      const s = r.pos;
      readLabel(buf, s, e);
      r.pos = e;
    } else if (field === 2) {
      r.expect(tag & 7, WIRE_I64, "exemplar value");
      r.advance(8);
    } else if (field === 3) {
      r.expect(tag & 7, WIRE_VARINT, "exemplar timestamp");
      r.skipVarint();
    } else {
      r.skip(tag & 7);
    }
  }
}

/** Checks that buf[start, end) is a well-formed sequence of fields (one level deep). */
export function walk(buf: Uint8Array, start: number, end: number): void {
  const r = new Reader(buf, start, end);
  while (!r.done()) r.skip(r.tag() & 7);
}

/** Walks a MetricMetadata and returns the routing hash of its metric family name. */
function scanMetadata(r: Reader, seed: number): number {
  let h = seed;
  while (!r.done()) {
    const tag = r.tag();
    if (tag >>> 3 === 2) {
      r.expect(tag & 7, WIRE_LEN, "metric family name");
      const e = r.lengthEnd();
      const s = r.pos;
      h = fnv1a(r.buf, s, e, seed);
      r.pos = e;
    } else {
      r.skip(tag & 7);
    }
  }
  return fmix32(h);
}

/** The series re-encoded with its labels in name order and every other field as it came. */
function sortedBody(buf: Uint8Array, start: number, end: number, labels: LabelScratch): Uint8Array {
  const w = new Writer(end - start);
  for (let k = 0; k < labels.count; k++) {
    const i = labels.order[k]!;
    w.bytes(buf, labels.aux[i]!, labels.aux2[i]!);
  }
  const r = new Reader(buf, start, end);
  while (!r.done()) {
    const entryStart = r.pos;
    const tag = r.tag();
    r.skip(tag & 7);
    if (tag >>> 3 !== 1) w.bytes(buf, entryStart, r.pos);
  }
  return w.finish();
}

/**
 * Splits a series too large for one record into several with the same labels, each
 * carrying a run of its samples, exemplars and histograms in their original order.
 */
function splitSeries(body: Uint8Array, limit: number): Uint8Array[] | undefined {
  const head = new Writer(1024);
  const rest: Array<[number, number]> = [];
  const r = new Reader(body);
  while (!r.done()) {
    const entryStart = r.pos;
    const tag = r.tag();
    r.skip(tag & 7);
    if (tag >>> 3 === 1) head.bytes(body, entryStart, r.pos);
    else rest.push([entryStart, r.pos]);
  }
  const headBytes = head.finish();
  // room per chunk, leaving space for the record-level tag and length of the series
  const room = limit - 16 - headBytes.length;
  const out: Uint8Array[] = [];
  let w: Writer | undefined;
  for (const [s, e] of rest) {
    if (e - s > room) return undefined;
    if (w === undefined || w.pos + (e - s) > limit - 16) {
      if (w !== undefined) out.push(w.finish());
      w = new Writer(Math.min(limit, headBytes.length + 4096)).bytes(headBytes);
    }
    w.bytes(body, s, e);
  }
  out.push((w ?? new Writer(headBytes.length).bytes(headBytes)).finish());
  return out;
}

interface Piece {
  field: number;
  src: Uint8Array;
  start: number;
  end: number;
}

function collectPieces(
  buf: Uint8Array,
  rewritten: Uint8Array[],
  series: RangeList,
  meta: RangeList,
): Piece[] {
  const pieces: Piece[] = [];
  for (let i = 0; i < series.length; i++) {
    const s = series.start(i);
    if (s >= 0) {
      pieces.push({ field: F_TIMESERIES, src: buf, start: s, end: series.end(i) });
    } else {
      const body = rewritten[-s - 1]!;
      pieces.push({ field: F_TIMESERIES, src: body, start: 0, end: body.length });
    }
  }
  for (let i = 0; i < meta.length; i++) {
    pieces.push({ field: F_METADATA, src: buf, start: meta.start(i), end: meta.end(i) });
  }
  return pieces;
}

/** Packs pieces, in order, into record bodies of at most `limit` bytes each. */
function packRecords(pieces: Piece[], limit: number): Uint8Array[] {
  const bodies: Uint8Array[] = [];
  let from = 0;
  while (from < pieces.length) {
    let size = 0;
    let to = from;
    while (to < pieces.length) {
      const p = pieces[to]!;
      const len = p.end - p.start;
      const entry = 1 + varintSize(len) + len;
      if (size + entry > limit && to > from) break;
      size += entry;
      to++;
    }
    const w = new Writer(size);
    for (let i = from; i < to; i++) {
      const p = pieces[i]!;
      w.lenField(p.field, p.src, p.start, p.end);
    }
    bodies.push(w.finish());
    from = to;
  }
  return bodies;
}

export { WireError };
