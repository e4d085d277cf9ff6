import {
  copyBytes,
  putVarint32,
  Reader,
  varintSize,
  WIRE_LEN,
  WIRE_VARINT,
  WireError,
  Writer,
} from "../../codec/wire";
import { chunkLimit, type StreamRecord, sealRecord } from "../../stream/records";
import { inRanges } from "../../stream/shard-map";
import { checkHistogram, type HistogramReason } from "./histogram";
import { LabelScratch, tenantSeed } from "./labels";
import type { IngestOutput } from "./output";
import { IntList, RangeList } from "./range-list";
import type { PlanOptions } from "./route";
import { checkMessage, SCHEMA } from "./schema";
import { checkSample, isCanonicalSample } from "./series-checks";
import { noteSymbolRun, SymbolCheck } from "./symbols";
import { emptyTally, Rejections } from "./tally";
import type { RejectReason } from "./validate";

/**
 * Remote-Write 2.0: io.prometheus.write.v2.Request. Strings live once in `symbols` and
 * series point at them by index. Each record is a self-contained Request: it carries only
 * the symbols its series use, and every reference (labels, exemplar labels, metadata help
 * and unit) is renumbered into that table. Samples and histograms are copied as they came.
 */
const F_SYMBOLS = 4;
const F_TIMESERIES = 5;

interface Accepted {
  start: number;
  end: number;
  /** offset and count of this series' label refs, in name order, in `refPool` */
  refsAt: number;
  refsLen: number;
  /** upper bound of the re-encoded series size */
  bound: number;
  /** whether exemplars or metadata refer to symbols too (besides the labels) */
  otherRefs: boolean;
  /** whether the series' metadata is left out of its record (a help or unit too long) */
  dropMetadata: boolean;
  /**
   * Where the fields after the labels start when every labels_refs field comes first and
   * the rest runs to the end of the series (they are then copied in one go), else -1.
   */
  restStart: number;
}

/** Scratch reused by every request (the scan is synchronous; records are compressed copies). */
let labelScratch = new LabelScratch();
const refScratch = new IntList(64);
const refPoolScratch = new IntList(4096);
/** Scratch grown past this many entries by a large request is replaced, not kept. */
const SCRATCH_KEEP = 1 << 14;

/**
 * `work`, when given, is a buffer whose first `buf.length` bytes are `buf` and whose rest
 * is free: record bodies are then assembled right after the request.
 */
export function ingestV2(buf: Uint8Array, opts: PlanOptions, work?: Uint8Array): IngestOutput {
  const seed = tenantSeed(opts.tenant);
  const limit = chunkLimit(opts.maxRecordBytes);
  if (symbolScratch.data.length > 2 * SCRATCH_KEEP) symbolScratch = new RangeList(1024);
  if (seriesRangeScratch.data.length > 2 * SCRATCH_KEEP) seriesRangeScratch = new RangeList(1024);
  const symbols = symbolScratch;
  const seriesRanges = seriesRangeScratch;
  symbols.length = 0;
  seriesRanges.length = 0;
  // runs of adjacent symbols framed in single bytes (`22 len`), for one UTF-8 check per run
  const symbolRuns = new RangeList(4);
  const top = new Reader(buf);
  const n = buf.length;
  while (!top.done()) {
    const entryStart = top.pos;
    // fast path: a symbol (`22 len`) or a series (`2a len len`) with a one- or two-byte length
    const t = buf[entryStart]!;
    if ((t === 0x22 || t === 0x2a) && entryStart + 2 < n) {
      let len = buf[entryStart + 1]!;
      let start = entryStart + 2;
      if (len >= 0x80) {
        const b2 = buf[entryStart + 2]!;
        len = b2 < 0x80 ? (len & 0x7f) | (b2 << 7) : -1;
        start++;
      }
      const end = start + len;
      if (len >= 0 && end <= n) {
        if (t === 0x2a) {
          seriesRanges.push(start, end);
        } else {
          symbols.push(start, end);
          noteSymbolRun(symbolRuns, entryStart, start, end);
        }
        top.pos = end;
        continue;
      }
    }
    const tag = top.tag();
    const field = tag >>> 3;
    if (field !== F_SYMBOLS && field !== F_TIMESERIES) {
      // reserved in v2, used by v1: a v1 WriteRequest sent as v2 would otherwise pass as empty
      if (field <= 3) throw new WireError(`field ${field} is reserved in v2: is this a v1 WriteRequest?`);
      top.skip(tag & 7);
      continue;
    }
    top.expect(tag & 7, WIRE_LEN, field === F_SYMBOLS ? "symbol" : "timeseries");
    const end = top.lengthEnd();
    const start = top.pos;
    (field === F_SYMBOLS ? symbols : seriesRanges).push(start, end);
    if (field === F_SYMBOLS) noteSymbolRun(symbolRuns, entryStart, start, end);
    top.pos = end;
  }
  if (symbols.length > 0 && symbols.end(0) !== symbols.start(0)) {
    throw new WireError('symbols[0] must be the empty string ""');
  }

  const symbolOk = new SymbolCheck(buf, symbols, symbolRuns);

  const written = emptyTally();
  const rejected = new Rejections();
  if (labelScratch.ns.length > SCRATCH_KEEP) labelScratch = new LabelScratch();
  const labels = labelScratch;
  const refs = refScratch;
  const refPool = refPoolScratch;
  refPool.length = 0;
  const { map, only } = opts;
  const buckets: Accepted[][] = Array.from({ length: map.count }, () => []);
  const r = new Reader(buf);
  const scan = seriesScan;

  for (let i = 0; i < seriesRanges.length; i++) {
    const start = seriesRanges.start(i);
    const end = seriesRanges.end(i);
    scanSeries(r.at(start, end), refs, symbolOk, scan, opts.maxMetadataLength);
    // labels_refs must come in pairs, each naming a symbol in range and valid UTF-8
    let reason: RejectReason | undefined =
      scan.badRef || refs.length % 2 !== 0 ? "symbol-ref-invalid" : undefined;
    if (reason === undefined) {
      labels.reset();
      const rd = refs.data;
      for (let k = 0; k + 1 < refs.length; k += 2) {
        const n = rd[k]!;
        const v = rd[k + 1]!;
        if (!symbolOk.ok(n) || !symbolOk.ok(v)) {
          reason = "symbol-ref-invalid";
          break;
        }
        labels.push(symbols.start(n), symbols.end(n), symbols.start(v), symbols.end(v), n, v);
      }
      reason ??= labels.validate(buf, opts.limits, seed) ?? scan.histogram;
    }
    if (reason !== undefined) {
      rejected.add(reason);
      continue;
    }
    if (only !== undefined && !inRanges(only, labels.hash)) continue;
    const refsAt = refPool.length;
    for (let k = 0; k < labels.count; k++) {
      const l = labels.order[k]!;
      refPool.push(labels.aux[l]!);
      refPool.push(labels.aux2[l]!);
    }
    // the series re-encoded, with every symbol it refers to: it must fit one record alone
    let symbolBytes = 2 + scan.exemplarSymbolBytes;
    if (!scan.metadataTooLong) symbolBytes += scan.metadataSymbolBytes;
    for (let k = 0; k < labels.count; k++) {
      symbolBytes += 12 + labels.ne[k]! - labels.ns[k]! + labels.ve[k]! - labels.vs[k]!;
    }
    const bound = end - start + 5 * scan.refCount + 16;
    if (bound + symbolBytes > limit) {
      rejected.add("series-too-large");
      continue;
    }
    if (scan.metadataTooLong) rejected.addMetadata("metadata-too-long");
    const otherRefs = scan.exemplars > 0 || scan.metadata > 0;
    buckets[map.group(labels.hash)]!.push({
      start,
      end,
      refsAt,
      refsLen: labels.count * 2,
      bound,
      otherRefs,
      dropMetadata: scan.metadataTooLong,
      restStart: scan.restStart,
    });
    written.series++;
    written.samples += scan.samples;
    written.histograms += scan.histograms;
    written.exemplars += scan.exemplars;
    if (!scan.metadataTooLong) written.metadata += scan.metadata;
  }

  const room =
    work !== undefined && work.buffer === buf.buffer && work.byteOffset === buf.byteOffset ? work : undefined;
  const builder = new RecordBuilder(buf, symbols, refPool.data, limit, room);
  const records: StreamRecord[] = [];
  const planned: number[] = [];
  for (let g = 0; g < buckets.length; g++) {
    // each body lives in the builder's scratch: sealed (compressed) before the next is built
    for (const body of builder.build(buckets[g]!)) {
      records.push(sealRecord(body, "v2", opts.tenant, g, map));
      planned.push(g);
    }
  }
  return { records, groups: planned, written, rejected };
}

interface SeriesScan {
  samples: number;
  histograms: number;
  exemplars: number;
  metadata: number;
  refCount: number;
  badRef: boolean;
  restStart: number;
  /** Bytes of the symbols exemplar labels and metadata refer to (framing included). */
  exemplarSymbolBytes: number;
  metadataSymbolBytes: number;
  /** A metadata help or unit longer than the limit. */
  metadataTooLong: boolean;
  /** Why the first histogram Prometheus would refuse is refused (the series is then refused). */
  histogram: HistogramReason | undefined;
}

const seriesScan: SeriesScan = {
  samples: 0,
  histograms: 0,
  exemplars: 0,
  metadata: 0,
  refCount: 0,
  badRef: false,
  restStart: -1,
  exemplarSymbolBytes: 0,
  metadataSymbolBytes: 0,
  metadataTooLong: false,
  histogram: undefined,
};

/** Reads labels_refs (packed or not) into `refs` and checks every other reference. */
function scanSeries(
  r: Reader,
  refs: IntList,
  symbols: SymbolCheck,
  out: SeriesScan,
  maxMetadataLength: number,
): void {
  refs.length = 0;
  out.exemplarSymbolBytes = 0;
  out.metadataSymbolBytes = 0;
  out.metadataTooLong = false;
  out.histogram = undefined;
  out.samples = 0;
  out.histograms = 0;
  out.exemplars = 0;
  out.metadata = 0;
  out.refCount = 0;
  out.badRef = false;
  const end = r.end;
  const buf = r.buf;
  // labels_refs first, then everything else: restStart is where the rest begins
  let labelsFirst = true;
  let restStart = r.pos;
  while (r.pos < end) {
    const entryStart = r.pos;
    const first = buf[entryStart]!;
    if (first === 0x0a && entryStart + 1 < end && buf[entryStart + 1]! < 0x80) {
      // packed labels_refs with a one-byte length: one-byte refs read here
      const e = entryStart + 2 + buf[entryStart + 1]!;
      if (e > end) throw new WireError("length runs past the end of the message");
      let p = entryStart + 2;
      while (p < e) {
        const b = buf[p]!;
        if (b < 0x80) {
          refs.push(b);
          p++;
        } else if (p + 1 < e && buf[p + 1]! < 0x80) {
          refs.push((b & 0x7f) | (buf[p + 1]! << 7));
          p += 2;
        } else {
          break;
        }
      }
      if (p < e) {
        r.pos = p;
        r.end = e;
        while (r.pos < e) refs.push(r.uint32());
        r.end = end;
      }
      r.pos = e;
      if (labelsFirst) restStart = e;
      else restStart = -1;
      continue;
    }
    if (first === 0x12 && entryStart + 12 < end) {
      const ms = entryStart + 2;
      const me = ms + buf[entryStart + 1]!;
      if (buf[entryStart + 1]! < 0x80 && me <= end && isCanonicalSample(buf, ms, me)) {
        out.samples++;
        r.pos = me;
        labelsFirst = false;
        continue;
      }
    }
    const tag = r.tag();
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 1) {
      readRefs(r, wt, refs);
      if (labelsFirst) restStart = r.pos;
      else restStart = -1;
      continue;
    }
    labelsFirst = false;
    if (field < 2 || field > 5) {
      // created_timestamp (int64), from senders before Prometheus 3.8
      if (field === 6) r.expect(wt, WIRE_VARINT, "created_timestamp");
      r.skip(wt);
      continue;
    }
    r.expect(wt, WIRE_LEN, "timeseries field");
    const e = r.lengthEnd();
    const s = r.pos;
    if (field === 2) {
      if (!isCanonicalSample(buf, s, e)) checkSample(buf, s, e, 3);
      out.samples++;
    } else if (field === 3) {
      const why = checkHistogram(buf, s, e, true);
      if (why !== undefined) out.histogram ??= why;
      out.histograms++;
    } else if (field === 4) {
      checkMessage(buf, s, e, SCHEMA.v2.exemplar);
      const exemplarRefs: number[] = [];
      forEachRef(buf, s, e, 1, (ref) => exemplarRefs.push(ref));
      if (exemplarRefs.length % 2 !== 0 || !exemplarRefs.every((ref) => symbols.ok(ref))) out.badRef = true;
      else for (const ref of exemplarRefs) out.exemplarSymbolBytes += 6 + symbols.length(ref);
      out.refCount += exemplarRefs.length;
      out.exemplars++;
    } else {
      checkMessage(buf, s, e, SCHEMA.v2.metadata);
      forEachRef(buf, s, e, 0, (ref) => {
        out.refCount++;
        if (!symbols.ok(ref)) {
          out.badRef = true;
          return;
        }
        const length = symbols.length(ref);
        if (length > maxMetadataLength) out.metadataTooLong = true;
        out.metadataSymbolBytes += 6 + length;
      });
      out.metadata++;
    }
    r.pos = e;
    r.end = end;
  }
  // the label refs themselves are checked by the caller, as it reads their symbols
  out.refCount += refs.length;
  out.restStart = restStart;
}

function readRefs(r: Reader, wt: number, into: { push(n: number): unknown }): void {
  if (wt === WIRE_VARINT) {
    into.push(r.uint32());
    return;
  }
  r.expect(wt, WIRE_LEN, "labels_refs");
  const e = r.lengthEnd();
  const end = r.end;
  r.end = e;
  while (r.pos < e) into.push(r.uint32());
  r.end = end;
}

/**
 * Calls `fn` for each symbol reference in an Exemplar (`refsField` 1: labels_refs) or a
 * Metadata message (`refsField` 0: help_ref = 3 and unit_ref = 4).
 */
function forEachRef(
  buf: Uint8Array,
  start: number,
  end: number,
  refsField: number,
  fn: (ref: number) => void,
): void {
  const r = new Reader(buf, start, end);
  const refs: number[] = [];
  while (!r.done()) {
    const tag = r.tag();
    const field = tag >>> 3;
    if (refsField === 1 && field === 1) {
      readRefs(r, tag & 7, refs);
    } else if (refsField === 0 && (field === 3 || field === 4)) {
      r.expect(tag & 7, WIRE_VARINT, "metadata ref");
      refs.push(r.uint32());
    } else {
      r.skip(tag & 7);
    }
  }
  refs.forEach(fn);
}

/** Copies work[start, end) to `at` in the same buffer (no view made); returns the end. */
function moveWithin(work: Uint8Array, start: number, end: number, at: number): number {
  work.copyWithin(at, start, end);
  return at + end - start;
}

/** Symbol and series ranges, reused by every request (let go when a huge one grew them). */
let symbolScratch = new RangeList(1024);
let seriesRangeScratch = new RangeList(1024);

/** Where a record's series, then its whole body, are assembled (shared by every request). */
const seriesScratch = new Writer(64 * 1024);
const bodyScratch = new Writer(64 * 1024);

/** Builds self-contained v2 Requests: a symbol table per record, references renumbered. */
class RecordBuilder {
  private readonly remap: Int32Array;
  private readonly seen: Int32Array;
  private stamp = 0;
  private table: number[] = [];
  private tableBytes = 0;

  constructor(
    private readonly buf: Uint8Array,
    private readonly symbols: RangeList,
    private readonly refPool: Int32Array,
    private readonly limit: number,
    private readonly work: Uint8Array | undefined,
  ) {
    this.remap = new Int32Array(symbols.length).fill(-1);
    this.seen = new Int32Array(symbols.length);
    this.reader.buf = buf;
  }

  /**
   * The record bodies of one bucket's series. Each body lives in scratch shared by every
   * request: use it (compress it) before asking for the next.
   */
  *build(series: Accepted[]): Generator<Uint8Array> {
    const out = seriesScratch;
    out.pos = 0;
    let count = 0;
    this.startTable();
    for (const s of series) {
      const extra = this.newSymbolBytes(s);
      if (count > 0 && out.pos + this.tableBytes + extra + s.bound > this.limit) {
        yield this.finish(out);
        out.pos = 0;
        count = 0;
        this.startTable();
      }
      this.writeSeries(out, s);
      count++;
    }
    if (count > 0) yield this.finish(out);
  }

  private startTable(): void {
    for (const ref of this.table) this.remap[ref] = -1;
    this.table = [];
    this.tableBytes = 2; // symbols[0] = ""
    this.remap[0] = 0;
    this.table.push(0);
  }

  private symbolEntry(ref: number): number {
    const len = this.symbols.end(ref) - this.symbols.start(ref);
    return 1 + varintSize(len) + len;
  }

  /** Bytes the symbols this series needs would add to the current table. */
  private newSymbolBytes(s: Accepted): number {
    this.stamp++;
    let bytes = 0;
    if (!s.otherRefs) {
      const { remap, seen, refPool } = this;
      for (let k = 0; k < s.refsLen; k++) {
        const ref = refPool[s.refsAt + k]!;
        if (remap[ref] === -1 && seen[ref] !== this.stamp) {
          seen[ref] = this.stamp;
          bytes += this.symbolEntry(ref);
        }
      }
      return bytes;
    }
    this.forSeriesRefs(s, (ref) => {
      if (this.remap[ref] === -1 && this.seen[ref] !== this.stamp) {
        this.seen[ref] = this.stamp;
        bytes += this.symbolEntry(ref);
      }
    });
    return bytes;
  }

  private forSeriesRefs(s: Accepted, fn: (ref: number) => void): void {
    for (let k = 0; k < s.refsLen; k++) fn(this.refPool[s.refsAt + k]!);
    if (!s.otherRefs) return;
    const r = new Reader(this.buf, s.start, s.end);
    while (!r.done()) {
      const tag = r.tag();
      const field = tag >>> 3;
      if (field === 4 || (field === 5 && !s.dropMetadata)) {
        r.expect(tag & 7, WIRE_LEN, "timeseries field");
        const e = r.lengthEnd();
        const st = r.pos;
        forEachRef(this.buf, st, e, field === 4 ? 1 : 0, fn);
        r.pos = e;
      } else {
        r.skip(tag & 7);
      }
    }
  }

  private ref(old: number): number {
    let mapped = this.remap[old]!;
    if (mapped === -1) {
      mapped = this.table.length;
      this.remap[old] = mapped;
      this.table.push(old);
      this.tableBytes += this.symbolEntry(old);
    }
    return mapped;
  }

  /** Scratch buffers reused for every series (their contents are copied out at once). */
  private readonly body = new Writer(4096);
  private readonly packed = new Writer(256);
  private readonly reader = new Reader(new Uint8Array(0));

  /** Renumbered label refs of the series being written. */
  private mapped = new Int32Array(64);

  private writeSeries(out: Writer, s: Accepted): void {
    if (!s.otherRefs && s.restStart >= 0) {
      // the usual shape: labels_refs, then fields copied in one go (samples, histograms)
      if (this.mapped.length < s.refsLen) this.mapped = new Int32Array(2 * s.refsLen);
      const mapped = this.mapped;
      let packedLen = 0;
      for (let k = 0; k < s.refsLen; k++) {
        const m = this.ref(this.refPool[s.refsAt + k]!);
        mapped[k] = m;
        packedLen += varintSize(m);
      }
      const restLen = s.end - s.restStart;
      const bodyLen = 1 + varintSize(packedLen) + packedLen + restLen;
      out.reserve(1 + 5 + bodyLen);
      const o = out.buf;
      let p = out.pos;
      o[p++] = (F_TIMESERIES << 3) | WIRE_LEN;
      p = putVarint32(o, p, bodyLen);
      o[p++] = (1 << 3) | WIRE_LEN;
      p = putVarint32(o, p, packedLen);
      for (let k = 0; k < s.refsLen; k++) p = putVarint32(o, p, mapped[k]!);
      out.pos = copyBytes(this.buf, s.restStart, s.end, o, p);
      return;
    }
    const body = this.body;
    const packed = this.packed;
    body.pos = 0;
    packed.pos = 0;
    for (let k = 0; k < s.refsLen; k++) packed.varint(this.ref(this.refPool[s.refsAt + k]!));
    body.lenField(1, packed.buf, 0, packed.pos);
    // every other field as it came; adjacent ones (the samples) copied in one go
    let runStart = 0;
    let runEnd = 0;
    const r = this.reader.at(s.start, s.end);
    while (!r.done()) {
      const entryStart = r.pos;
      const tag = r.tag();
      const field = tag >>> 3;
      if (field === 1) {
        r.skip(tag & 7);
      } else if (field === 5 && s.dropMetadata) {
        if (runEnd > runStart) body.bytes(this.buf, runStart, runEnd);
        runStart = runEnd = 0;
        r.skip(tag & 7);
      } else if (field === 4 || field === 5) {
        if (runEnd > runStart) body.bytes(this.buf, runStart, runEnd);
        runStart = runEnd = 0;
        const e = r.lengthEnd();
        const st = r.pos;
        body.lenField(field, field === 4 ? this.exemplar(st, e) : this.metadata(st, e));
        r.pos = e;
      } else {
        r.skip(tag & 7);
        if (runEnd !== entryStart) {
          if (runEnd > runStart) body.bytes(this.buf, runStart, runEnd);
          runStart = entryStart;
        }
        runEnd = r.pos;
      }
    }
    if (runEnd > runStart) body.bytes(this.buf, runStart, runEnd);
    out.lenField(F_TIMESERIES, body.buf, 0, body.pos);
  }

  private exemplar(start: number, end: number): Uint8Array {
    const w = new Writer(end - start + 16);
    const refs: number[] = [];
    const r = new Reader(this.buf, start, end);
    while (!r.done()) {
      const entryStart = r.pos;
      const tag = r.tag();
      if (tag >>> 3 === 1) {
        readRefs(r, tag & 7, refs);
      } else {
        r.skip(tag & 7);
        w.bytes(this.buf, entryStart, r.pos);
      }
    }
    const packed = new Writer(refs.length * 2 + 4);
    for (const ref of refs) packed.varint(this.ref(ref));
    const head = new Writer(packed.pos + 8).lenField(1, packed.finish());
    return new Writer(head.pos + w.pos).bytes(head.finish()).bytes(w.finish()).finish();
  }

  private metadata(start: number, end: number): Uint8Array {
    const w = new Writer(end - start + 8);
    const r = new Reader(this.buf, start, end);
    while (!r.done()) {
      const entryStart = r.pos;
      const tag = r.tag();
      const field = tag >>> 3;
      if (field === 3 || field === 4) {
        w.tag(field, WIRE_VARINT).varint(this.ref(r.uint32()));
      } else {
        r.skip(tag & 7);
        w.bytes(this.buf, entryStart, r.pos);
      }
    }
    return w.finish();
  }

  /** The symbol table, then the series: a whole Request, in the shared body scratch. */
  private finish(series: Writer): Uint8Array {
    const work = this.work;
    const base = this.buf.length;
    if (work !== undefined && base + this.tableBytes + series.pos <= work.length) {
      // in the work room after the request: symbol entries framed in single bytes are
      // moved as they came (`22 len bytes`), adjacent ones in one go
      const { buf, symbols, table } = this;
      let p = base;
      let runStart = 0;
      let runEnd = 0;
      for (let i = 0; i < table.length; i++) {
        const ref = table[i]!;
        const s = symbols.start(ref);
        const e = symbols.end(ref);
        if (e - s < 0x80 && s >= 2 && buf[s - 2] === (F_SYMBOLS << 3) + WIRE_LEN && buf[s - 1] === e - s) {
          if (s - 2 !== runEnd) {
            if (runEnd > runStart) p = moveWithin(work, runStart, runEnd, p);
            runStart = s - 2;
          }
          runEnd = e;
          continue;
        }
        if (runEnd > runStart) p = moveWithin(work, runStart, runEnd, p);
        runStart = runEnd = 0;
        work[p++] = (F_SYMBOLS << 3) | WIRE_LEN;
        p = putVarint32(work, p, e - s);
        p = moveWithin(work, s, e, p);
      }
      if (runEnd > runStart) p = moveWithin(work, runStart, runEnd, p);
      work.set(series.buf.subarray(0, series.pos), p);
      return work.subarray(base, p + series.pos);
    }
    const w = bodyScratch;
    w.pos = 0;
    w.reserve(this.tableBytes + series.pos);
    const o = w.buf;
    let p = 0;
    const { buf, symbols, table } = this;
    for (let i = 0; i < table.length; i++) {
      const ref = table[i]!;
      const s = symbols.start(ref);
      const e = symbols.end(ref);
      o[p++] = (F_SYMBOLS << 3) | WIRE_LEN;
      p = putVarint32(o, p, e - s);
      p = copyBytes(buf, s, e, o, p);
    }
    w.pos = copyBytes(series.buf, 0, series.pos, o, p);
    return w.finish();
  }
}
