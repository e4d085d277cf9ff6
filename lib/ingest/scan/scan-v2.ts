import { Reader, varintSize, WIRE_LEN, WIRE_VARINT, WireError, Writer } from "../../codec/wire";
import { chunkLimit, type StreamRecord, sealRecord } from "../../stream/records";
import { LabelScratch, tenantSeed } from "./labels";
import type { IngestOutput } from "./output";
import { RangeList } from "./range-list";
import { bucketOf, type PlanOptions } from "./route";
import { checkMessage, SCHEMA } from "./schema";
import { checkSample, isCanonicalSample } from "./series-checks";
import { emptyTally, Rejections } from "./tally";
import type { RejectReason } from "./validate";
import { validUtf8 } from "./validate";

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
}

export function ingestV2(buf: Uint8Array, opts: PlanOptions): IngestOutput {
  const seed = tenantSeed(opts.tenant);
  const limit = chunkLimit(opts.maxRecordBytes);
  const symbols = new RangeList(256);
  const seriesRanges = new RangeList(256);
  const top = new Reader(buf);
  while (!top.done()) {
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
    top.pos = end;
  }
  if (symbols.length > 0 && symbols.end(0) !== symbols.start(0)) {
    throw new WireError('symbols[0] must be the empty string ""');
  }

  const checkedSymbol = new Uint8Array(symbols.length); // 0 unknown, 1 valid UTF-8, 2 invalid
  const symbolOk = (ref: number): boolean => {
    if (ref >= symbols.length) return false;
    if (checkedSymbol[ref] === 0) {
      checkedSymbol[ref] = validUtf8(buf, symbols.start(ref), symbols.end(ref)) ? 1 : 2;
    }
    return checkedSymbol[ref] === 1;
  };

  const written = emptyTally();
  const rejected = new Rejections();
  const labels = new LabelScratch();
  const refs: number[] = [];
  const refPool: number[] = [];
  const buckets: Accepted[][] = Array.from({ length: opts.buckets }, () => []);
  const r = new Reader(buf);

  for (let i = 0; i < seriesRanges.length; i++) {
    const start = seriesRanges.start(i);
    const end = seriesRanges.end(i);
    const scan = scanSeries(r.at(start, end), refs, symbolOk);
    let reason: RejectReason | undefined = scan.badRef ? "symbol-ref-invalid" : undefined;
    if (reason === undefined) {
      labels.reset();
      for (let k = 0; k + 1 < refs.length; k += 2) {
        const n = refs[k]!;
        const v = refs[k + 1]!;
        labels.push(symbols.start(n), symbols.end(n), symbols.start(v), symbols.end(v), n, v);
      }
      reason = labels.validate(buf, opts.limits, seed);
    }
    if (reason !== undefined) {
      rejected.add(reason);
      continue;
    }
    const refsAt = refPool.length;
    for (let k = 0; k < labels.count; k++) {
      const l = labels.order[k]!;
      refPool.push(labels.aux[l]!, labels.aux2[l]!);
    }
    const bound = end - start + 5 * scan.refCount + 16;
    if (bound > limit) {
      rejected.add("series-too-large");
      continue;
    }
    const otherRefs = scan.exemplars > 0 || scan.metadata > 0;
    buckets[bucketOf(labels.hash, opts.buckets)]!.push({
      start,
      end,
      refsAt,
      refsLen: labels.count * 2,
      bound,
      otherRefs,
    });
    written.series++;
    written.samples += scan.samples;
    written.histograms += scan.histograms;
    written.exemplars += scan.exemplars;
    written.metadata += scan.metadata;
  }

  const builder = new RecordBuilder(buf, symbols, refPool, limit);
  const records: StreamRecord[] = [];
  for (let b = 0; b < opts.buckets; b++) {
    for (const body of builder.build(buckets[b]!)) {
      records.push(sealRecord(body, "v2", opts.tenant, b, opts.buckets, opts.hashKeys));
    }
  }
  return { records, written, rejected };
}

interface SeriesScan {
  samples: number;
  histograms: number;
  exemplars: number;
  metadata: number;
  refCount: number;
  badRef: boolean;
}

/** Reads labels_refs (packed or not) into `refs` and checks every other reference. */
function scanSeries(r: Reader, refs: number[], symbolOk: (ref: number) => boolean): SeriesScan {
  refs.length = 0;
  const out: SeriesScan = {
    samples: 0,
    histograms: 0,
    exemplars: 0,
    metadata: 0,
    refCount: 0,
    badRef: false,
  };
  const end = r.end;
  const buf = r.buf;
  while (r.pos < end) {
    const tag = r.tag();
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 1) {
      readRefs(r, wt, refs);
      continue;
    }
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
      checkMessage(buf, s, e, SCHEMA.v2.histogram);
      out.histograms++;
    } else if (field === 4) {
      checkMessage(buf, s, e, SCHEMA.v2.exemplar);
      const exemplarRefs: number[] = [];
      forEachRef(buf, s, e, 1, (ref) => exemplarRefs.push(ref));
      if (exemplarRefs.length % 2 !== 0 || !exemplarRefs.every(symbolOk)) out.badRef = true;
      out.refCount += exemplarRefs.length;
      out.exemplars++;
    } else {
      checkMessage(buf, s, e, SCHEMA.v2.metadata);
      forEachRef(buf, s, e, 0, (ref) => {
        if (!symbolOk(ref)) out.badRef = true;
        out.refCount++;
      });
      out.metadata++;
    }
    r.pos = e;
    r.end = end;
  }
  if (refs.length % 2 !== 0 || !refs.every(symbolOk)) out.badRef = true;
  out.refCount += refs.length;
  return out;
}

function readRefs(r: Reader, wt: number, into: number[]): void {
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
    private readonly refPool: number[],
    private readonly limit: number,
  ) {
    this.remap = new Int32Array(symbols.length).fill(-1);
    this.seen = new Int32Array(symbols.length);
    this.reader.buf = buf;
  }

  build(series: Accepted[]): Uint8Array[] {
    const bodies: Uint8Array[] = [];
    let out = new Writer(4096);
    let count = 0;
    this.startTable();
    for (const s of series) {
      const extra = this.newSymbolBytes(s);
      if (count > 0 && out.pos + this.tableBytes + extra + s.bound > this.limit) {
        bodies.push(this.finish(out));
        out = new Writer(4096);
        count = 0;
        this.startTable();
      }
      this.writeSeries(out, s);
      count++;
    }
    if (count > 0) bodies.push(this.finish(out));
    return bodies;
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
      if (field === 4 || field === 5) {
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

  private writeSeries(out: Writer, s: Accepted): void {
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

  private finish(series: Writer): Uint8Array {
    const w = new Writer(this.tableBytes + series.pos + 8);
    for (const ref of this.table)
      w.lenField(F_SYMBOLS, this.buf, this.symbols.start(ref), this.symbols.end(ref));
    return w.bytes(series.finish()).finish();
  }
}
