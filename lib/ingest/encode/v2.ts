import { copyBytes, putVarint32, Reader, varintSize, WIRE_LEN, WIRE_VARINT, Writer } from "../../codec/wire";
import type { Accepted } from "../plan/v2";
import type { RangeList } from "../scan/range-list";
import { forEachRef, readRefs } from "../scan/refs-v2";
import type { IngestScratch } from "../scratch";

/**
 * Remote-Write 2.0 record bodies: each is a self-contained Request that carries only the
 * symbols its series use, every reference (labels, exemplar labels, metadata help and unit)
 * renumbered into that table; samples and histograms are copied as they came. A group's
 * series are cut into records here, in order, since a record's size depends on its table.
 */
const F_SYMBOLS = 4;
const F_TIMESERIES = 5;

/** Copies work[start, end) to `at` in the same buffer (no view made); returns the end. */
function moveWithin(work: Uint8Array, start: number, end: number, at: number): number {
  work.copyWithin(at, start, end);
  return at + end - start;
}

/**
 * Builds self-contained v2 Requests: a symbol table per record, references renumbered.
 * `work`, when given, holds the request at its start and free room after it: a body is then
 * assembled there (symbol entries moved with `copyWithin`), else in the scratch's writer.
 */
export class RecordBuilderV2 {
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
    scratch: IngestScratch,
  ) {
    this.remap = new Int32Array(symbols.length).fill(-1);
    this.seen = new Int32Array(symbols.length);
    this.recordSeries = scratch.recordSeries;
    this.bodyOut = scratch.body;
    this.body = scratch.series;
    this.packed = scratch.packedRefs;
    this.reader = scratch.reader;
    this.reader.buf = buf;
  }

  /**
   * The record bodies of one group's series, in order: as many series per record as its
   * limit allows, with the symbols they need. Each body is a view of scratch: seal it before
   * asking for the next.
   */
  *build(series: Accepted[]): Generator<Uint8Array> {
    const out = this.recordSeries;
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

  /** Where a record's series, then its whole body, are assembled. */
  private readonly recordSeries: Writer;
  private readonly bodyOut: Writer;
  /** Scratch reused for every series (its contents are copied out at once). */
  private readonly body: Writer;
  private readonly packed: Writer;
  private readonly reader: Reader;

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
    const w = this.bodyOut;
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
