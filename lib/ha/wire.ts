import { Reader, varintSize, WIRE_LEN, WIRE_VARINT, WireError, Writer } from "../codec/wire";
import type { ProtocolVersion } from "../stream/records";

/**
 * What HA deduplication reads and changes in a decoded remote-write request, apart from the
 * ingest scan (lib/ingest/scan), which it runs before:
 *
 * - `labels`: the cluster and replica of the request, from its first series, as Mimir takes
 *   them (v1: its labels; v2: its label references into the symbols);
 * - `strip`: the replica label taken out of every series, in place, lengths fixed (v1: the
 *   Label messages of that name; v2: the (name, value) reference pairs whose name is it), so
 *   that both replicas' series, their routing and their records are the same.
 *
 * Only the framing of the request and of its series is read here; everything else is the
 * scan's, which judges the bytes after `strip` exactly as it would have judged them before.
 * `labels` and `strip` meet malformed framing by leaving the rest of the request as it is
 * (the scan then answers it with the 400 it always gave). A request that is not written is
 * counted by `countRequest` (lib/stream/request-counts.ts).
 */

export interface HaLabelValues {
  readonly cluster: string;
  readonly replica: string;
}

const V1_TIMESERIES = 1;
const V2_SYMBOLS = 4;
const V2_TIMESERIES = 5;
/** Label{name=1, value=2}; TimeSeries.labels = 1 (v1), TimeSeries.labels_refs = 1 (v2). */
const F_NAME = 1;
const F_VALUE = 2;
const F_LABELS = 1;

const utf8 = new TextEncoder();
const text = new TextDecoder("utf-8", { fatal: false });

export class HaRequestWire {
  private readonly cluster: Uint8Array;
  private readonly replica: Uint8Array;
  private readonly reader = new Reader(new Uint8Array(0));
  private readonly inner = new Reader(new Uint8Array(0));
  private readonly label = new Reader(new Uint8Array(0));
  /** The last Label read: its name's and value's ranges. */
  private ns = 0;
  private ne = 0;
  private vs = 0;
  private ve = 0;
  /** One rewritten series at a time. */
  private readonly out = new Writer(4096);
  /** v2: the symbols' byte ranges, start and end by turns. */
  private symbols: number[] = [];
  /** v2: the label references of one series. */
  private refs: number[] = [];

  constructor(clusterLabel: string, replicaLabel: string) {
    this.cluster = utf8.encode(clusterLabel);
    this.replica = utf8.encode(replicaLabel);
  }

  /** The cluster and replica of the request's first series; undefined unless it has both. */
  labels(buf: Uint8Array, version: ProtocolVersion): HaLabelValues | undefined {
    try {
      return version === "v1" ? this.labelsV1(buf) : this.labelsV2(buf);
    } catch (err) {
      if (err instanceof WireError) return undefined;
      throw err;
    } finally {
      this.release();
    }
  }

  /**
   * Takes the replica label out of every series of `buf`, in place; the request's new length.
   * Series without it stay as they are; framing it cannot follow ends the pass there, and
   * the rest is kept as it came.
   */
  strip(buf: Uint8Array, version: ProtocolVersion): number {
    try {
      return version === "v1" ? this.stripV1(buf) : this.stripV2(buf);
    } finally {
      this.release();
    }
  }

  private labelsV1(buf: Uint8Array): HaLabelValues | undefined {
    const top = this.at(this.reader, buf, 0, buf.length);
    while (!top.done()) {
      const tag = top.tag();
      if (tag !== ((V1_TIMESERIES << 3) | WIRE_LEN)) {
        top.skip(tag & 7);
        continue;
      }
      const end = top.lengthEnd();
      const ts = this.at(this.inner, buf, top.pos, end);
      let cluster: string | undefined;
      let replica: string | undefined;
      while (!ts.done()) {
        const t = ts.tag();
        if (t !== ((F_LABELS << 3) | WIRE_LEN)) {
          ts.skip(t & 7);
          continue;
        }
        const labelEnd = ts.lengthEnd();
        this.readLabel(buf, ts.pos, labelEnd);
        ts.pos = labelEnd;
        if (equals(buf, this.ns, this.ne, this.cluster))
          cluster = text.decode(buf.subarray(this.vs, this.ve));
        else if (equals(buf, this.ns, this.ne, this.replica))
          replica = text.decode(buf.subarray(this.vs, this.ve));
      }
      return cluster && replica ? { cluster, replica } : undefined;
    }
    return undefined;
  }

  private labelsV2(buf: Uint8Array): HaLabelValues | undefined {
    const symbols = this.symbols;
    const top = this.at(this.reader, buf, 0, buf.length);
    let first = -1;
    let firstEnd = -1;
    while (!top.done()) {
      const tag = top.tag();
      const field = tag >>> 3;
      if ((tag & 7) !== WIRE_LEN || (field !== V2_SYMBOLS && field !== V2_TIMESERIES)) {
        top.skip(tag & 7);
        continue;
      }
      const end = top.lengthEnd();
      if (field === V2_SYMBOLS) symbols.push(top.pos, end);
      else if (first < 0) {
        first = top.pos;
        firstEnd = end;
      }
      top.pos = end;
    }
    if (first < 0) return undefined;
    const refs = this.readRefs(buf, first, firstEnd);
    if (refs === undefined) return undefined;
    let cluster: string | undefined;
    let replica: string | undefined;
    for (let i = 0; i + 1 < refs.length; i += 2) {
      const n = refs[i]!;
      const v = refs[i + 1]!;
      if (2 * n + 1 >= symbols.length || 2 * v + 1 >= symbols.length) return undefined;
      const [ns, ne, vs, ve] = [symbols[2 * n]!, symbols[2 * n + 1]!, symbols[2 * v]!, symbols[2 * v + 1]!];
      if (equals(buf, ns, ne, this.cluster)) cluster = text.decode(buf.subarray(vs, ve));
      else if (equals(buf, ns, ne, this.replica)) replica = text.decode(buf.subarray(vs, ve));
    }
    return cluster && replica ? { cluster, replica } : undefined;
  }

  private stripV1(buf: Uint8Array): number {
    const top = this.at(this.reader, buf, 0, buf.length);
    let w = 0;
    while (!top.done()) {
      const fieldStart = top.pos;
      let fieldEnd: number;
      let rewritten: Uint8Array | undefined;
      try {
        const tag = top.tag();
        if (tag !== ((V1_TIMESERIES << 3) | WIRE_LEN)) {
          top.skip(tag & 7);
          fieldEnd = top.pos;
        } else {
          fieldEnd = top.lengthEnd();
          rewritten = this.stripSeriesV1(buf, top.pos, fieldEnd);
        }
      } catch (err) {
        if (!(err instanceof WireError)) throw err;
        return w + keep(buf, fieldStart, buf.length, w);
      }
      top.pos = fieldEnd;
      w += rewritten === undefined ? keep(buf, fieldStart, fieldEnd, w) : put(buf, rewritten, w);
    }
    return w;
  }

  /** One v1 TimeSeries without the replica's Label, framed; undefined when it has none. */
  private stripSeriesV1(buf: Uint8Array, start: number, end: number): Uint8Array | undefined {
    const ts = this.at(this.inner, buf, start, end);
    let removed = 0;
    while (!ts.done()) {
      const fieldStart = ts.pos;
      const t = ts.tag();
      if (t !== ((F_LABELS << 3) | WIRE_LEN)) {
        ts.skip(t & 7);
        continue;
      }
      const labelEnd = ts.lengthEnd();
      this.readLabel(buf, ts.pos, labelEnd);
      ts.pos = labelEnd;
      if (equals(buf, this.ns, this.ne, this.replica)) removed += labelEnd - fieldStart;
    }
    if (removed === 0) return undefined;
    const out = this.out;
    out.pos = 0;
    out.tag(V1_TIMESERIES, WIRE_LEN).varint(end - start - removed);
    ts.at(start, end);
    while (!ts.done()) {
      const fieldStart = ts.pos;
      const t = ts.tag();
      if (t !== ((F_LABELS << 3) | WIRE_LEN)) {
        ts.skip(t & 7);
        out.bytes(buf, fieldStart, ts.pos);
        continue;
      }
      const labelEnd = ts.lengthEnd();
      this.readLabel(buf, ts.pos, labelEnd);
      ts.pos = labelEnd;
      if (!equals(buf, this.ns, this.ne, this.replica)) out.bytes(buf, fieldStart, labelEnd);
    }
    return out.finish();
  }

  private stripV2(buf: Uint8Array): number {
    // which symbols spell the replica label's name (one, unless the sender repeated it)
    const names = new Set<number>();
    const top = this.at(this.reader, buf, 0, buf.length);
    let index = 0;
    try {
      while (!top.done()) {
        const tag = top.tag();
        if (tag !== ((V2_SYMBOLS << 3) | WIRE_LEN)) {
          top.skip(tag & 7);
          continue;
        }
        const end = top.lengthEnd();
        if (equals(buf, top.pos, end, this.replica)) names.add(index);
        index++;
        top.pos = end;
      }
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      return buf.length;
    }
    if (names.size === 0) return buf.length;
    top.at(0, buf.length);
    let w = 0;
    while (!top.done()) {
      const fieldStart = top.pos;
      let fieldEnd: number;
      let rewritten: Uint8Array | undefined;
      try {
        const tag = top.tag();
        if (tag !== ((V2_TIMESERIES << 3) | WIRE_LEN)) {
          top.skip(tag & 7);
          fieldEnd = top.pos;
        } else {
          fieldEnd = top.lengthEnd();
          rewritten = this.stripSeriesV2(buf, top.pos, fieldEnd, names);
        }
      } catch (err) {
        if (!(err instanceof WireError)) throw err;
        return w + keep(buf, fieldStart, buf.length, w);
      }
      top.pos = fieldEnd;
      w += rewritten === undefined ? keep(buf, fieldStart, fieldEnd, w) : put(buf, rewritten, w);
    }
    return w;
  }

  /**
   * One v2 TimeSeries without the (name, value) pairs naming the replica label, framed, its
   * remaining references packed into one field where the first one was; undefined when it has
   * none (or an odd number of references, which the scan refuses as it is).
   */
  private stripSeriesV2(
    buf: Uint8Array,
    start: number,
    end: number,
    names: ReadonlySet<number>,
  ): Uint8Array | undefined {
    const refs = this.readRefs(buf, start, end);
    if (refs === undefined || refs.length % 2 !== 0) return undefined;
    let kept = 0;
    let keptBytes = 0;
    for (let i = 0; i < refs.length; i += 2) {
      if (names.has(refs[i]!)) continue;
      kept += 2;
      keptBytes += varintSize(refs[i]!) + varintSize(refs[i + 1]!);
    }
    if (kept === refs.length) return undefined;
    // the series' other fields, as they are
    const ts = this.at(this.inner, buf, start, end);
    let others = 0;
    while (!ts.done()) {
      const fieldStart = ts.pos;
      const t = ts.tag();
      ts.skip(t & 7);
      if (t >>> 3 !== F_LABELS) others += ts.pos - fieldStart;
    }
    const labels = keptBytes === 0 ? 0 : 1 + varintSize(keptBytes) + keptBytes;
    const out = this.out;
    out.pos = 0;
    out.tag(V2_TIMESERIES, WIRE_LEN).varint(others + labels);
    ts.at(start, end);
    let placed = false;
    while (!ts.done()) {
      const fieldStart = ts.pos;
      const t = ts.tag();
      ts.skip(t & 7);
      if (t >>> 3 !== F_LABELS) {
        out.bytes(buf, fieldStart, ts.pos);
        continue;
      }
      if (placed || keptBytes === 0) continue;
      placed = true;
      out.tag(F_LABELS, WIRE_LEN).varint(keptBytes);
      for (let i = 0; i < refs.length; i += 2) {
        if (names.has(refs[i]!)) continue;
        out.varint(refs[i]!).varint(refs[i + 1]!);
      }
    }
    return out.finish();
  }

  /** The label references of the v2 TimeSeries at [start, end), packed or not; undefined when unreadable. */
  private readRefs(buf: Uint8Array, start: number, end: number): number[] | undefined {
    const refs = this.refs;
    refs.length = 0;
    const ts = this.at(this.inner, buf, start, end);
    while (!ts.done()) {
      const t = ts.tag();
      if (t >>> 3 !== F_LABELS) {
        ts.skip(t & 7);
        continue;
      }
      if ((t & 7) === WIRE_VARINT) {
        refs.push(ts.uint32());
      } else if ((t & 7) === WIRE_LEN) {
        const packedEnd = ts.lengthEnd();
        while (ts.pos < packedEnd) refs.push(ts.uint32());
        if (ts.pos !== packedEnd) return undefined;
      } else {
        return undefined;
      }
    }
    return refs;
  }

  /**
   * Reads the Label message at [start, end) into ns/ne (its name) and vs/ve (its value),
   * the last of each as protobuf reads repeats; empty ranges when absent.
   */
  private readLabel(buf: Uint8Array, start: number, end: number): void {
    const r = this.at(this.label, buf, start, end);
    this.ns = this.ne = this.vs = this.ve = start;
    while (!r.done()) {
      const t = r.tag();
      const field = t >>> 3;
      if ((t & 7) === WIRE_LEN && (field === F_NAME || field === F_VALUE)) {
        const e = r.lengthEnd();
        if (field === F_NAME) {
          this.ns = r.pos;
          this.ne = e;
        } else {
          this.vs = r.pos;
          this.ve = e;
        }
        r.pos = e;
      } else {
        r.skip(t & 7);
      }
    }
  }

  private at(reader: Reader, buf: Uint8Array, start: number, end: number): Reader {
    reader.buf = buf;
    return reader.at(start, end);
  }

  /** Lets go of the request's bytes and of lists a large one grew. */
  private release(): void {
    this.reader.buf = EMPTY;
    this.inner.buf = EMPTY;
    this.label.buf = EMPTY;
    if (this.symbols.length > 1 << 16) this.symbols = [];
    else this.symbols.length = 0;
    if (this.refs.length > 1 << 12) this.refs = [];
    if (this.out.buf.length > 1 << 20) this.out.buf = new Uint8Array(4096);
  }
}

const EMPTY = new Uint8Array(0);

function equals(buf: Uint8Array, start: number, end: number, want: Uint8Array): boolean {
  if (end - start !== want.length) return false;
  for (let i = 0; i < want.length; i++) if (buf[start + i] !== want[i]) return false;
  return true;
}

/** Moves buf[start, end) to `at` (at ≤ start) and returns its length. */
function keep(buf: Uint8Array, start: number, end: number, at: number): number {
  if (at !== start) buf.copyWithin(at, start, end);
  return end - start;
}

/** Writes `bytes` (never longer than what they replace) at `at` and returns their length. */
function put(buf: Uint8Array, bytes: Uint8Array, at: number): number {
  buf.set(bytes, at);
  return bytes.length;
}
