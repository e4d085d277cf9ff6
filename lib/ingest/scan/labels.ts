import { foldLanes, laneStep, P1, P2, SlotHasher } from "../../stream/routing";
import { compareBytes, isNameLabel, type LabelLimits, type RejectReason, validUtf8 } from "./validate";

/**
 * The labels of the series being scanned, as byte ranges into the decoded request.
 * One scratch object is reused for every series of a request, so the hot path
 * allocates nothing per label.
 */
export class LabelScratch {
  count = 0;
  /** name [ns, ne) and value [vs, ve) byte ranges; `aux` is per-format (v1: entry start, v2: name ref). */
  ns: Int32Array;
  ne: Int32Array;
  vs: Int32Array;
  ve: Int32Array;
  aux: Int32Array;
  aux2: Int32Array;
  /** Label indices in name order (identity when the sender sorted them). */
  order: Int32Array;
  sorted = true;
  hash = 0;

  constructor(capacity = 64) {
    this.ns = new Int32Array(capacity);
    this.ne = new Int32Array(capacity);
    this.vs = new Int32Array(capacity);
    this.ve = new Int32Array(capacity);
    this.aux = new Int32Array(capacity);
    this.aux2 = new Int32Array(capacity);
    this.order = new Int32Array(capacity);
  }

  reset(): void {
    this.count = 0;
  }

  push(ns: number, ne: number, vs: number, ve: number, aux: number, aux2: number): void {
    if (this.count === this.ns.length) this.grow();
    const i = this.count++;
    this.ns[i] = ns;
    this.ne[i] = ne;
    this.vs[i] = vs;
    this.ve[i] = ve;
    this.aux[i] = aux;
    this.aux2[i] = aux2;
  }

  private grow(): void {
    const double = (a: Int32Array) => {
      const next = new Int32Array(a.length * 2);
      next.set(a);
      return next;
    };
    this.ns = double(this.ns);
    this.ne = double(this.ne);
    this.vs = double(this.vs);
    this.ve = double(this.ve);
    this.aux = double(this.aux);
    this.aux2 = double(this.aux2);
    this.order = new Int32Array(this.ns.length);
  }

  /** A DataView of the buffer being validated (the hash reads it four bytes at a time). */
  private viewOf: Uint8Array | undefined;
  private view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

  /**
   * Applies the label rules, puts `order` in name order and computes the routing hash
   * (stream format 3, lib/stream/routing.ts). Returns the first reason the series is
   * invalid, or undefined.
   *
   * One pass over the bytes does the checks and the hash at once while the names come
   * in order (the usual case); unsorted labels are sorted and hashed in a second pass.
   * The hash reads four bytes a step and the UTF-8 screen (is any byte >= 0x80?) rides on
   * the same words; only the legacy character classes are looked up byte by byte.
   */
  validate(buf: Uint8Array, limits: LabelLimits, seed: number): RejectReason | undefined {
    const n = this.count;
    if (n === 0) return "no-labels";
    if (n > limits.maxLabelsPerSeries) return "too-many-labels";
    const { ns, ne, vs, ve, order } = this;
    if (this.viewOf !== buf) {
      this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      this.viewOf = buf;
    }
    const view = this.view;
    const size = buf.length;
    const legacy = limits.nameValidation === "legacy";
    const maxName = limits.maxLabelNameLength;
    const maxValue = limits.maxLabelValueLength;
    let hasName = false;
    let duplicate = false;
    let sorted = true;
    // the four lanes, rotated so that l0 is the one the next word feeds
    let l0 = (seed + P1 + P2) | 0;
    let l1 = (seed + P2) | 0;
    let l2 = seed | 0;
    let l3 = (seed - P1) | 0;
    let words = 0;
    let t = 0;
    for (let i = 0; i < n; i++) {
      const a = ns[i]!;
      const b = ne[i]!;
      const c = vs[i]!;
      const d = ve[i]!;
      if (b - a > maxName) return "label-name-too-long";
      if (d - c > maxValue) return "label-value-too-long";
      if (d === c) return "label-value-empty";
      order[i] = i;
      if (i > 0 && sorted) {
        const pa = ns[i - 1]!;
        const pb = ne[i - 1]!;
        if (pb > pa && b > a && buf[pa] !== buf[a]) {
          // the first bytes decide (the usual case): no call
          if (buf[pa]! > buf[a]!) sorted = false;
        } else {
          const cmp = compareBytes(buf, pa, pb, buf, a, b);
          if (cmp > 0) sorted = false;
          else if (cmp === 0) duplicate = true;
        }
      }
      // name: the legacy character classes, byte by byte
      let nameOk = b > a ? 1 : 0;
      if (legacy && b > a) {
        nameOk = NAME_FIRST[buf[a]!]!;
        for (let k = a + 1; k < b; k++) nameOk &= NAME_REST[buf[k]!]!;
      }
      // name: the hash, and whether it is all ASCII, a word at a time
      let high = 0;
      t = laneStep(l0, b - a);
      l0 = l1;
      l1 = l2;
      l2 = l3;
      l3 = t;
      let k = a;
      for (; k + 4 <= b; k += 4) {
        const w = view.getInt32(k, true);
        high |= w;
        t = laneStep(l0, w);
        l0 = l1;
        l1 = l2;
        l2 = l3;
        l3 = t;
      }
      if (k < b) {
        const w = k + 4 <= size ? view.getInt32(k, true) & TAIL_MASK[b - k]! : tailWord(buf, k, b);
        high |= w;
        t = laneStep(l0, w);
        l0 = l1;
        l1 = l2;
        l2 = l3;
        l3 = t;
      }
      const metricName = b - a === 8 && isNameLabel(buf, a, b);
      if (metricName) hasName = true;
      // value: for a legacy metric name its classes, byte by byte
      let metricOk = 1;
      if (metricName && legacy) {
        metricOk = METRIC_FIRST[buf[c]!]!;
        for (let k = c; k < d; k++) metricOk &= METRIC_REST[buf[k]!]!;
      }
      // value: the hash and the ASCII screen, a word at a time
      let valueHigh = 0;
      t = laneStep(l0, d - c);
      l0 = l1;
      l1 = l2;
      l2 = l3;
      l3 = t;
      k = c;
      for (; k + 4 <= d; k += 4) {
        const w = view.getInt32(k, true);
        valueHigh |= w;
        t = laneStep(l0, w);
        l0 = l1;
        l1 = l2;
        l2 = l3;
        l3 = t;
      }
      if (k < d) {
        const w = k + 4 <= size ? view.getInt32(k, true) & TAIL_MASK[d - k]! : tailWord(buf, k, d);
        valueHigh |= w;
        t = laneStep(l0, w);
        l0 = l1;
        l1 = l2;
        l2 = l3;
        l3 = t;
      }
      words += 2 + ((b - a + 3) >>> 2) + ((d - c + 3) >>> 2);
      if (legacy) {
        if (!metricName && nameOk === 0) return "label-name-invalid";
        // the metric-name classes are ASCII: a name passing them is valid UTF-8 too
        if (metricName && metricOk === 0) return "metric-name-invalid";
      } else if (b === a || ((high & HIGH_BITS) !== 0 && !validUtf8(buf, a, b))) {
        return "label-name-invalid";
      }
      if ((valueHigh & HIGH_BITS) !== 0 && !validUtf8(buf, c, d)) {
        return metricName ? "metric-name-invalid" : "label-value-invalid-utf8";
      }
    }
    if (!hasName) return "missing-metric-name";
    this.sorted = sorted;
    if (sorted) {
      if (duplicate) return "label-name-duplicate";
      this.hash = foldLanes(l0, l1, l2, l3, words);
      return undefined;
    }
    // insertion sort of indices; label counts are small and bounded by the limit
    for (let i = 1; i < n; i++) {
      const x = order[i]!;
      let j = i - 1;
      while (j >= 0 && compareBytes(buf, ns[order[j]!]!, ne[order[j]!]!, buf, ns[x]!, ne[x]!) > 0) {
        order[j + 1] = order[j]!;
        j--;
      }
      order[j + 1] = x;
    }
    const h = hasher.begin(seed);
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      if (k > 0) {
        const p = order[k - 1]!;
        if (compareBytes(buf, ns[p]!, ne[p]!, buf, ns[i]!, ne[i]!) === 0) return "label-name-duplicate";
      }
      h.bytes(buf, ns[i]!, ne[i]!).bytes(buf, vs[i]!, ve[i]!);
    }
    this.hash = h.finish();
    return undefined;
  }
}

/** Bit 7 of each byte of a word: set in some byte when the word is not all ASCII. */
const HIGH_BITS = 0x80808080 | 0;
/** The low 1, 2 or 3 bytes of a word (a string's last, partial word). */
const TAIL_MASK = new Int32Array([0, 0xff, 0xffff, 0xffffff]);

/** The last 1–3 bytes of a string as a zero-padded little-endian word, read byte by byte (the buffer's end). */
function tailWord(buf: Uint8Array, k: number, end: number): number {
  let w = 0;
  for (let s = 0; k < end; k++, s += 8) w |= buf[k]! << s;
  return w;
}

const hasher = new SlotHasher();

/** Byte classes of legacy names: 1 where the byte may appear at that position, else 0. */
const NAME_FIRST = new Uint8Array(256);
const NAME_REST = new Uint8Array(256);
const METRIC_FIRST = new Uint8Array(256);
const METRIC_REST = new Uint8Array(256);
for (let x = 0; x < 256; x++) {
  const alpha = (x >= 0x61 && x <= 0x7a) || (x >= 0x41 && x <= 0x5a) || x === 0x5f;
  const digit = x >= 0x30 && x <= 0x39;
  NAME_FIRST[x] = alpha ? 1 : 0;
  NAME_REST[x] = alpha || digit ? 1 : 0;
  METRIC_FIRST[x] = alpha || x === 0x3a ? 1 : 0;
  METRIC_REST[x] = alpha || digit || x === 0x3a ? 1 : 0;
}

export { nameSlot, tenantSeed } from "../../stream/routing";
