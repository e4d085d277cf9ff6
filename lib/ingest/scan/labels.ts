import { fmix32, fnv1a } from "../../stream/routing";
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

  /**
   * Applies the label rules, puts `order` in name order and computes the routing hash.
   * Returns the first reason the series is invalid, or undefined.
   *
   * One pass over the bytes does the checks and the hash at once while the names come
   * in order (the usual case); unsorted labels are sorted and hashed in a second pass.
   */
  validate(buf: Uint8Array, limits: LabelLimits, seed: number): RejectReason | undefined {
    const n = this.count;
    if (n === 0) return "no-labels";
    if (n > limits.maxLabelsPerSeries) return "too-many-labels";
    const { ns, ne, vs, ve, order } = this;
    const legacy = limits.nameValidation === "legacy";
    const maxName = limits.maxLabelNameLength;
    const maxValue = limits.maxLabelValueLength;
    let hasName = false;
    let duplicate = false;
    let sorted = true;
    let h = seed;
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
      // name: character classes (legacy) or UTF-8, and the hash, in one loop
      let nameOk = b > a ? 1 : 0;
      let high = 0;
      if (b > a) {
        const first = buf[a]!;
        if (legacy) nameOk = NAME_FIRST[first]!;
        high = first;
        h = Math.imul(h ^ first, FNV_PRIME);
        for (let k = a + 1; k < b; k++) {
          const x = buf[k]!;
          nameOk &= NAME_REST[x]!;
          high |= x;
          h = Math.imul(h ^ x, FNV_PRIME);
        }
      }
      h = Math.imul(h ^ 0xff, FNV_PRIME);
      const metricName = b - a === 8 && isNameLabel(buf, a, b);
      if (metricName) hasName = true;
      // value: the hash, whether it is all ASCII, and for a legacy metric name its classes
      let valueHigh = 0;
      let metricOk = 1;
      if (metricName && legacy) {
        metricOk = METRIC_FIRST[buf[c]!]!;
        for (let k = c; k < d; k++) {
          const x = buf[k]!;
          metricOk &= METRIC_REST[x]!;
          h = Math.imul(h ^ x, FNV_PRIME);
        }
      } else {
        for (let k = c; k < d; k++) {
          const x = buf[k]!;
          valueHigh |= x;
          h = Math.imul(h ^ x, FNV_PRIME);
        }
      }
      h = Math.imul(h ^ 0xfe, FNV_PRIME);
      if (legacy) {
        if (!metricName && nameOk === 0) return "label-name-invalid";
        // the metric-name classes are ASCII: a name passing them is valid UTF-8 too
        if (metricName && metricOk === 0) return "metric-name-invalid";
      } else if (b === a || (high >= 0x80 && !validUtf8(buf, a, b))) {
        return "label-name-invalid";
      }
      if (valueHigh >= 0x80 && !validUtf8(buf, c, d)) {
        return metricName ? "metric-name-invalid" : "label-value-invalid-utf8";
      }
    }
    if (!hasName) return "missing-metric-name";
    this.sorted = sorted;
    if (sorted) {
      if (duplicate) return "label-name-duplicate";
      this.hash = fmix32(h);
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
    h = seed;
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      if (k > 0) {
        const p = order[k - 1]!;
        if (compareBytes(buf, ns[p]!, ne[p]!, buf, ns[i]!, ne[i]!) === 0) return "label-name-duplicate";
      }
      h = fnv1a(buf, ns[i]!, ne[i]!, h);
      h = Math.imul(h ^ 0xff, FNV_PRIME);
      h = fnv1a(buf, vs[i]!, ve[i]!, h);
      h = Math.imul(h ^ 0xfe, FNV_PRIME);
    }
    this.hash = fmix32(h);
    return undefined;
  }
}

const FNV_PRIME = 0x01000193;

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

export { FNV_OFFSET, fmix32, fnv1a, tenantSeed } from "../../stream/routing";
