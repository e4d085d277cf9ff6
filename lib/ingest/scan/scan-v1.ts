import { putVarint32, Reader, varintSize, WIRE_LEN, WireError, Writer } from "../../codec/wire";
import { chunkLimit, type StreamRecord, sealRecord } from "../../stream/records";
import { inRanges } from "../../stream/shard-map";
import { checkHistogram, type HistogramReason } from "./histogram";
import { fmix32, fnv1a, LabelScratch, tenantSeed } from "./labels";
import type { IngestOutput } from "./output";
import { RangeList } from "./range-list";
import type { PlanOptions } from "./route";
import { checkMessage, SCHEMA } from "./schema";
import { checkSample, isCanonicalSample, varintEndsAt } from "./series-checks";
import { emptyTally, Rejections } from "./tally";

const F_TIMESERIES = 1;
const F_METADATA = 3;

/**
 * Remote-Write 1.0: scans a decoded prometheus.WriteRequest without materialising it.
 * Labels are read as byte ranges to validate and route each series; the series' bytes
 * are then carried into records as they came (re-ordered only when the sender did not
 * sort its labels). Each record's body is itself a WriteRequest.
 *
 * `work`, when given, is a buffer whose first `buf.length` bytes are `buf` and whose rest
 * is free: record bodies are then assembled right after the request with `copyWithin`.
 */
export function ingestV1(buf: Uint8Array, opts: PlanOptions, work?: Uint8Array): IngestOutput {
  const seed = tenantSeed(opts.tenant);
  const limit = chunkLimit(opts.maxRecordBytes);
  const { map, only } = opts;
  const groups = map.count;
  const series = cleared(seriesLists, groups, 64);
  const metadata = cleared(metadataLists, groups, 4);
  const rewritten: Uint8Array[] = [];
  const written = emptyTally();
  const rejected = new Rejections();
  // a request with a huge series grew it: let that go rather than keep it
  if (labelScratch.ns.length > SCRATCH_KEEP) labelScratch = new LabelScratch();
  const labels = labelScratch;
  const counts: SeriesCounts = { samples: 0, histograms: 0, exemplars: 0, utf8: true, histogram: undefined };
  const top = new Reader(buf);
  const inner = new Reader(buf);

  while (!top.done()) {
    const entryStart = top.pos;
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
      const nameHash = scanMetadata(inner.at(start, end), seed, opts.maxMetadataLength);
      if (nameHash < 0) {
        rejected.addMetadata("metadata-too-long");
        continue;
      }
      if (only !== undefined && !inRanges(only, nameHash)) continue;
      metadata[map.group(nameHash)]!.push(entryStart, end);
      written.metadata++;
      continue;
    }
    scanSeries(inner.at(start, end), labels, counts);
    const reason = counts.utf8
      ? (labels.validate(buf, opts.limits, seed) ?? counts.histogram)
      : "label-value-invalid-utf8";
    if (reason !== undefined) {
      rejected.add(reason);
      continue;
    }
    if (only !== undefined && !inRanges(only, labels.hash)) continue;
    const bucket = series[map.group(labels.hash)]!;
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
      // the whole entry (tag, length, series) as it came: copied verbatim into the record
      bucket.push(entryStart, end);
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
  const planned: number[] = [];
  for (let g = 0; g < groups; g++) {
    for (const body of packRecords(buf, rewritten, series[g]!, metadata[g]!, limit, work)) {
      records.push(sealRecord(body, "v1", opts.tenant, g, map));
      planned.push(g);
    }
  }
  return { records, groups: planned, written, rejected };
}

/**
 * Scratch reused by every request (the scan is synchronous, and nothing in it outlives
 * the call: records are compressed copies).
 */
let labelScratch = new LabelScratch();
const seriesLists: RangeList[] = [];
const metadataLists: RangeList[] = [];

/** Scratch grown past this many entries by a large request is replaced, not kept. */
const SCRATCH_KEEP = 1 << 14;

/** The first `n` lists of `pool`, emptied (created as needed). */
function cleared(pool: RangeList[], n: number, capacity: number): RangeList[] {
  while (pool.length < n) pool.push(new RangeList(capacity));
  for (let b = 0; b < n; b++) {
    if (pool[b]!.data.length > 2 * SCRATCH_KEEP) pool[b] = new RangeList(capacity);
    pool[b]!.length = 0;
  }
  return pool;
}

interface SeriesCounts {
  samples: number;
  histograms: number;
  exemplars: number;
  /** false when an exemplar's label is not valid UTF-8 (the series is then refused) */
  utf8: boolean;
  /** Why the first histogram Prometheus would refuse is refused (the series is then refused). */
  histogram: HistogramReason | undefined;
}

/**
 * Reads one TimeSeries: fills `labels`, checks the full structure of samples, exemplars
 * and histograms (they are copied into records as they came), and each histogram's
 * counts, spans and schema as Prometheus does (histogram.ts).
 */
function scanSeries(r: Reader, labels: LabelScratch, counts: SeriesCounts): void {
  labels.reset();
  counts.samples = 0;
  counts.histograms = 0;
  counts.exemplars = 0;
  counts.utf8 = true;
  counts.histogram = undefined;
  const buf = r.buf;
  const end = r.end;
  while (r.pos < end) {
    const entryStart = r.pos;
    const tag = buf[entryStart]!;
    // fast paths: a label `0a L 0a n <name> 12 m <value>` and a sample `12 L 09 <8 bytes> 10 <varint>`,
    // every length one byte; anything else takes the general path below
    if (tag === 0x0a && entryStart + 4 < end) {
      const ms = entryStart + 2;
      const me = ms + buf[entryStart + 1]!;
      const nameEnd = ms + 2 + buf[ms + 1]!;
      if (
        buf[entryStart + 1]! < 0x80 &&
        me <= end &&
        buf[ms] === 0x0a &&
        buf[ms + 1]! < 0x80 &&
        nameEnd + 2 <= me &&
        buf[nameEnd] === 0x12 &&
        nameEnd + 2 + buf[nameEnd + 1]! === me
      ) {
        labels.push(ms + 2, nameEnd, nameEnd + 2, me, entryStart, me);
        r.pos = me;
        continue;
      }
    } else if (tag === 0x12 && entryStart + 12 < end) {
      const ms = entryStart + 2;
      const me = ms + buf[entryStart + 1]!;
      if (
        buf[entryStart + 1]! < 0x80 &&
        me <= end &&
        buf[ms] === 0x09 &&
        buf[ms + 9] === 0x10 &&
        varintEndsAt(buf, ms + 10, me)
      ) {
        counts.samples++;
        r.pos = me;
        continue;
      }
    }
    // a one-byte tag of a length-delimited field 1..4 and a one-byte length
    let msgStart: number;
    let msgEnd: number;
    let field: number;
    if (
      (tag & 7) === WIRE_LEN &&
      tag >= 0x0a &&
      tag <= 0x22 &&
      entryStart + 1 < end &&
      buf[entryStart + 1]! < 0x80
    ) {
      field = tag >>> 3;
      msgStart = entryStart + 2;
      msgEnd = msgStart + buf[entryStart + 1]!;
      if (msgEnd > end) throw new WireError("length runs past the end of the message");
    } else {
      const t = r.tag();
      field = t >>> 3;
      const wt = t & 7;
      if (field > 4) {
        r.skip(wt);
        continue;
      }
      r.expect(wt, WIRE_LEN, "timeseries field");
      msgEnd = r.lengthEnd();
      msgStart = r.pos;
    }
    switch (field) {
      case 1:
        readLabel(buf, msgStart, msgEnd, labels, entryStart);
        break;
      case 2:
        if (!isCanonicalSample(buf, msgStart, msgEnd)) checkSample(buf, msgStart, msgEnd, 2);
        counts.samples++;
        break;
      case 3:
        if (!checkMessage(buf, msgStart, msgEnd, SCHEMA.v1.exemplar)) counts.utf8 = false;
        counts.exemplars++;
        break;
      case 4: {
        const why = checkHistogram(buf, msgStart, msgEnd, false);
        if (why !== undefined) counts.histogram ??= why;
        counts.histograms++;
        break;
      }
    }
    r.pos = msgEnd;
  }
}

const labelReader = new Reader(new Uint8Array(0));

/**
 * Reads a Label message's name and value byte ranges (absent fields are empty) into
 * `labels`. The canonical encoding (name then value, one-byte lengths) is read directly.
 */
function readLabel(
  buf: Uint8Array,
  start: number,
  end: number,
  labels: LabelScratch,
  entryStart: number,
): void {
  if (buf[start] === 0x0a) {
    const ne = start + 2 + buf[start + 1]!;
    if (buf[start + 1]! < 0x80 && ne + 2 <= end && buf[ne] === 0x12 && buf[ne + 1]! < 0x80) {
      const ve = ne + 2 + buf[ne + 1]!;
      if (ve === end) {
        labels.push(start + 2, ne, ne + 2, ve, entryStart, end);
        return;
      }
    }
  }
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
  labels.push(ns, ne, vs, ve, entryStart, end);
}

/**
 * Checks a MetricMetadata and returns the routing hash of its metric family name, or -1
 * when its family name, help or unit is longer than `maxLength` bytes.
 */
function scanMetadata(r: Reader, seed: number, maxLength: number): number {
  if (!checkMessage(r.buf, r.pos, r.end, SCHEMA.v1.metadata))
    throw new WireError("metadata: a string is not valid UTF-8");
  let h = seed;
  let tooLong = false;
  while (!r.done()) {
    const tag = r.tag();
    const field = tag >>> 3;
    if (field === 2 || field === 4 || field === 5) {
      r.expect(tag & 7, WIRE_LEN, "metadata string");
      const e = r.lengthEnd();
      const s = r.pos;
      if (e - s > maxLength) tooLong = true;
      if (field === 2) h = fnv1a(r.buf, s, e, seed);
      r.pos = e;
    } else {
      r.skip(tag & 7);
    }
  }
  return tooLong ? -1 : fmix32(h);
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
  // labels alone that cannot fit one record
  if (room <= 0) return undefined;
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

/** Where record bodies are assembled; each is compressed before the next one is built. */
const packScratch = new Writer(64 * 1024);

/**
 * Packs a bucket's entries, in order (series, then metadata), into record bodies of at most
 * `limit` bytes each. An entry is a byte range of the request holding a whole field (tag,
 * length and message), or a negative index into `rewritten` for a series re-encoded here.
 * Entries that were adjacent in the request are copied in one go. Each body yielded lives
 * in a shared scratch buffer: use it (compress it) before asking for the next.
 */
function* packRecords(
  buf: Uint8Array,
  rewritten: Uint8Array[],
  series: RangeList,
  meta: RangeList,
  limit: number,
  work: Uint8Array | undefined,
): Generator<Uint8Array> {
  const n = series.length + meta.length;
  const startOf = (k: number) => (k < series.length ? series.start(k) : meta.start(k - series.length));
  const endOf = (k: number) => (k < series.length ? series.end(k) : meta.end(k - series.length));
  const sizeOf = (k: number) => {
    const s = startOf(k);
    if (s >= 0) return endOf(k) - s;
    const len = rewritten[-s - 1]!.length;
    return 1 + varintSize(len) + len;
  };
  let from = 0;
  while (from < n) {
    let size = 0;
    let to = from;
    while (to < n) {
      const entry = sizeOf(to);
      if (size + entry > limit && to > from) break;
      size += entry;
      to++;
    }
    if (
      work !== undefined &&
      work.buffer === buf.buffer &&
      work.byteOffset === buf.byteOffset &&
      buf.length + size <= work.length
    ) {
      // in the work room after the request: ranges moved within one buffer, no views made
      let p = buf.length;
      for (let k = from; k < to; k++) {
        const s = startOf(k);
        if (s < 0) {
          const body = rewritten[-s - 1]!;
          work[p++] = (F_TIMESERIES << 3) | WIRE_LEN;
          p = putVarint32(work, p, body.length);
          work.set(body, p);
          p += body.length;
          continue;
        }
        let e = endOf(k);
        while (k + 1 < to && startOf(k + 1) === e) e = endOf(++k);
        work.copyWithin(p, s, e);
        p += e - s;
      }
      yield work.subarray(buf.length, p);
      from = to;
      continue;
    }
    const w = packScratch;
    w.pos = 0;
    for (let k = from; k < to; k++) {
      const s = startOf(k);
      if (s < 0) {
        w.lenField(F_TIMESERIES, rewritten[-s - 1]!);
        continue;
      }
      let e = endOf(k);
      while (k + 1 < to && startOf(k + 1) === e) e = endOf(++k);
      w.bytes(buf, s, e);
    }
    yield w.finish();
    from = to;
  }
}

export { WireError };
