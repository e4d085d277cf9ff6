import { WireError } from "../../codec/wire";
import type { RejectReason } from "./validate";
import { skipField, skipVarint, val, varint, varint32, varint32Field, wide, wrongType } from "./wire-read";

/**
 * A native histogram read once, field by field: the wire structure is checked exactly as
 * `checkMessage` checks it against the histogram schema (schema.ts, which stays the
 * declarative reference; a unit test holds the two together), and meanwhile the reader
 * gathers what Prometheus's `Histogram.Validate()` / `FloatHistogram.Validate()`
 * (model/histogram) need, so the histogram is judged at the end of the same walk:
 *
 * - the schema: −4…8 exponential, −53 custom buckets; 9…52 pass too (Prometheus's receiver
 *   reduces them to 8 on receipt). Anything else is `histogram-schema-invalid`.
 * - spans against buckets: the span lengths add up to the number of buckets (deltas for the
 *   integer form, counts for the float form), and no span after the first has a negative
 *   offset (none at all for custom buckets): else `histogram-spans-mismatch`.
 * - buckets: none negative once the deltas are applied (integer form), none below 0 (float
 *   form), nor a negative count or zero bucket (float form): `histogram-negative-count`.
 * - the count (integer form only): equal to the buckets plus the zero bucket, or at least
 *   that when the sum is NaN (NaN observations count but fall in no bucket):
 *   `histogram-count-mismatch`. Prometheus checks no count of a float histogram against
 *   its buckets (rounding would make false refusals), and neither does this.
 * - custom buckets (schema −53): bounds not NaN, strictly increasing, the last not +Inf, at
 *   least as many as the spans reach; no zero bucket, zero threshold, negative spans or
 *   negative buckets; and no custom bounds with an exponential schema:
 *   `histogram-custom-bounds-invalid`.
 *
 * Which form a histogram has follows the `count` oneof as Go reads it (the last of
 * `count_int` and `count_float` on the wire; neither: integer), and each form reads its own
 * fields (integer: deltas and `zero_count_int`; float: counts and `zero_count_float`), as
 * prompb's ToIntHistogram and ToFloatHistogram do.
 *
 * Arithmetic runs in doubles; counts reach 2^53 only in crafted bodies, and then the
 * integer checks are redone with 64-bit wrap-around as Go computes them (`exactCounts`). *
 * Longer than the other modules here (about 460 lines) for a reason: it is one walk over one
 * message, and the state that walk gathers is judged at its end; split, that state would
 * have to travel between modules. Its two tables (`side`, the 8-byte `double` buffer) are
 * fixed in size and reset by each call; nothing of a request stays in them.
 */
export type HistogramReason = Extract<RejectReason, `histogram-${string}`>;

/** Exponential schemas are −4…8; Prometheus's receiver reduces 9…52 to 8, so those pass too. */
const SCHEMA_MIN = -4;
const SCHEMA_MAX_REDUCIBLE = 52;
const CUSTOM_BUCKETS = -53;
const SAFE = 2 ** 53;

/**
 * Each side's spans and buckets, in one typed array (negative side at NEG, positive at POS):
 * numbers, flags as 0 or 1. Cleared once per histogram.
 */
const SPANS = 0;
const SPAN_LENGTH = 1;
/** Offset plus length of every span (custom buckets: how many bounds the spans reach). */
const REACH = 2;
const FIRST_NEGATIVE = 3;
const LATER_NEGATIVE = 4;
const DELTAS = 5;
/** The integer form's running bucket count (deltas applied) and the total of the buckets. */
const RUNNING = 6;
const TOTAL = 7;
const INT_NEGATIVE = 8;
const COUNTS = 9;
const FLOAT_NEGATIVE = 10;
const NEG = 0;
const POS = 11;
const side = new Float64Array(22);

/** Reads the little-endian double at buf[p, p+8) (through an 8-byte scratch: no view of the request kept). */
const scratch = new DataView(new ArrayBuffer(8));
function double(buf: Uint8Array, p: number): number {
  for (let i = 0; i < 8; i++) scratch.setUint8(i, buf[p + i]!);
  return scratch.getFloat64(0, true);
}

/** Whether the little-endian double at buf[p, p+8) is a NaN (any payload), read from its bits. */
function isNaNAt(buf: Uint8Array, p: number): boolean {
  const hi = buf[p + 6]!;
  return (
    (buf[p + 7]! & 0x7f) === 0x7f &&
    (hi & 0xf0) === 0xf0 &&
    ((hi & 0x0f) | buf[p + 5]! | buf[p + 4]! | buf[p + 3]! | buf[p + 2]! | buf[p + 1]! | buf[p]!) !== 0
  );
}

/**
 * Throws WireError unless buf[start, end) is a well-formed Histogram (v2: with
 * start_timestamp, field 17); returns the reason Prometheus would refuse it for, or
 * undefined when it would take it.
 */
export function checkHistogram(
  buf: Uint8Array,
  start: number,
  end: number,
  v2: boolean,
): HistogramReason | undefined {
  for (let i = 0; i < 22; i++) side[i] = 0;
  let countFloat = false;
  let countInt = 0;
  let countF = 0;
  let zeroFloat = false;
  let zeroInt = 0;
  let zeroF = 0;
  let sumNaN = false;
  let schema = 0;
  let zeroThresholdSet = false;
  let bounds = 0;
  let boundsBad = false;
  let lastBound = Number.NEGATIVE_INFINITY;
  let big = false;
  let p = start;
  while (p < end) {
    let tag = buf[p]!;
    if (tag < 0x80) p++;
    else {
      p = varint32(buf, p, end);
      tag = val;
    }
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 0) throw new WireError("field number 0");
    switch (field) {
      case 1: // count_int
      case 6: // zero_count_int
        if (wt !== 0) throw wrongType(field, wt);
        p = varint(buf, p, end);
        if (wide) big = true;
        if (field === 1) {
          countInt = val;
          countFloat = false;
        } else {
          zeroInt = val;
          zeroFloat = false;
        }
        break;
      case 2: // count_float
      case 3: // sum
      case 5: // zero_threshold
      case 7: // zero_count_float
        if (wt !== 1) throw wrongType(field, wt);
        if (p + 8 > end) throw new WireError("truncated fixed-width field");
        if (field === 2) {
          countF = double(buf, p);
          countFloat = true;
        } else if (field === 3) sumNaN = isNaNAt(buf, p);
        else if (field === 5) {
          // any bit but the sign's: not 0 (Go's `!= 0`: -0 is 0, NaN is not)
          zeroThresholdSet =
            ((buf[p + 7]! & 0x7f) |
              buf[p + 6]! |
              buf[p + 5]! |
              buf[p + 4]! |
              buf[p + 3]! |
              buf[p + 2]! |
              buf[p + 1]! |
              buf[p]!) !==
            0;
        } else {
          zeroF = double(buf, p);
          zeroFloat = true;
        }
        p += 8;
        break;
      case 4: // schema (sint32)
      case 14: // reset_hint (enum)
        if (wt !== 0) throw wrongType(field, wt);
        p = varint32Field(buf, p, end, field);
        if (field === 4) {
          // the low 32 bits, zigzag-decoded
          const n = val >>> 0;
          schema = (n >>> 1) ^ -(n & 1);
        }
        break;
      case 8: // negative_spans
      case 11: {
        // positive_spans
        if (wt !== 2) throw new WireError(`field ${field}: wrong wire type ${wt} for a message`);
        const o = field === 8 ? NEG : POS;
        // the usual encoding: `04 08 offset 10 length`, each in one byte
        if (
          p + 5 <= end &&
          buf[p] === 4 &&
          buf[p + 1] === 0x08 &&
          buf[p + 2]! < 0x80 &&
          buf[p + 3] === 0x10 &&
          buf[p + 4]! < 0x80
        ) {
          const z = buf[p + 2]!;
          addSpan(o, (z >>> 1) ^ -(z & 1), buf[p + 4]!);
          p += 5;
          break;
        }
        p = varint32(buf, p, end);
        const e = p + val;
        if (e > end) throw new WireError("length runs past the end of the message");
        span(buf, p, e, o);
        p = e;
        break;
      }
      case 9: // negative_deltas (sint64)
      case 12: {
        // positive_deltas
        const o = field === 9 ? NEG : POS;
        if (wt === 0) {
          p = varint(buf, p, end);
          if (delta(o)) big = true;
          break;
        }
        if (wt !== 2) throw wrongType(field, wt);
        p = varint32(buf, p, end);
        const e = p + val;
        if (e > end) throw new WireError("length runs past the end of the message");
        // one-byte deltas (zigzag of -64…63) in locals; longer ones through delta()
        let running = side[o + RUNNING]!;
        let total = side[o + TOTAL]!;
        let count = 0;
        let below = false;
        while (p < e) {
          const b = buf[p]!;
          if (b < 0x80) {
            running += b & 1 ? -((b + 1) >>> 1) : b >>> 1;
            if (running < 0) below = true;
            total += running;
            count++;
            p++;
            continue;
          }
          side[o + RUNNING] = running;
          side[o + TOTAL] = total;
          p = varint(buf, p, e);
          if (delta(o)) big = true;
          running = side[o + RUNNING]!;
          total = side[o + TOTAL]!;
        }
        side[o + RUNNING] = running;
        side[o + TOTAL] = total;
        side[o + DELTAS]! += count;
        if (below) side[o + INT_NEGATIVE] = 1;
        break;
      }
      case 10: // negative_counts
      case 13: // positive_counts
      case 16: {
        // custom_values
        let n: number;
        if (wt === 1) {
          n = 8;
        } else {
          if (wt !== 2) throw wrongType(field, wt);
          p = varint32(buf, p, end);
          n = val;
          if (n % 8 !== 0) throw new WireError(`field ${field}: packed doubles of ${n} bytes`);
        }
        const e = p + n;
        if (e > end) {
          throw new WireError(
            wt === 1 ? "truncated fixed-width field" : "length runs past the end of the message",
          );
        }
        if (field === 16) {
          for (; p < e; p += 8) {
            const b = double(buf, p);
            // NaN, or not above the one before (the first may be anything but NaN)
            if (Number.isNaN(b) || (bounds > 0 && b <= lastBound)) boundsBad = true;
            lastBound = b;
            bounds++;
          }
        } else {
          const o = field === 10 ? NEG : POS;
          side[o + COUNTS]! += n / 8;
          for (; p < e; p += 8) {
            // below zero: the sign bit set and not -0 or NaN
            if (buf[p + 7]! >= 0x80 && double(buf, p) < 0) side[o + FLOAT_NEGATIVE] = 1;
          }
        }
        break;
      }
      case 15: // timestamp
        if (wt !== 0) throw wrongType(field, wt);
        p = skipVarint(buf, p, end);
        break;
      case 17: // start_timestamp (v2)
        if (v2) {
          if (wt !== 0) throw wrongType(field, wt);
          p = skipVarint(buf, p, end);
          break;
        }
        p = skipField(buf, p, end, wt);
        break;
      default:
        p = skipField(buf, p, end, wt);
    }
  }

  // the integer form's bucket flags and count, exactly (64-bit, as Go) once doubles may not be
  let posNegative: boolean;
  let negNegative: boolean;
  let countBad = false;
  if (countFloat) {
    posNegative = side[POS + FLOAT_NEGATIVE] === 1;
    negNegative = side[NEG + FLOAT_NEGATIVE] === 1;
  } else {
    const buckets = side[NEG + TOTAL]! + side[POS + TOTAL]! + (zeroFloat ? 0 : zeroInt);
    if (big || buckets >= SAFE) {
      exactCounts(buf, start, end, v2);
      posNegative = exact.positiveNegative;
      negNegative = exact.negativeNegative;
      countBad = exact.countBad;
    } else {
      posNegative = side[POS + INT_NEGATIVE] === 1;
      negNegative = side[NEG + INT_NEGATIVE] === 1;
      countBad = sumNaN ? buckets > countInt : buckets !== countInt;
    }
  }

  // Validate(): the checks in Prometheus's order, so the reason is the one it would give
  const pBuckets = side[POS + (countFloat ? COUNTS : DELTAS)]!;
  const nBuckets = side[NEG + (countFloat ? COUNTS : DELTAS)]!;
  if (schema === CUSTOM_BUCKETS) {
    if (boundsBad || lastBound === Number.POSITIVE_INFINITY) return "histogram-custom-bounds-invalid";
    if (side[POS + FIRST_NEGATIVE] || side[POS + LATER_NEGATIVE] || side[POS + SPAN_LENGTH] !== pBuckets)
      return "histogram-spans-mismatch";
    if (bounds + 1 < side[POS + REACH]!) return "histogram-custom-bounds-invalid";
    const zero = countFloat ? (zeroFloat ? zeroF : 0) : zeroFloat ? 0 : zeroInt;
    if (zero !== 0 || zeroThresholdSet || side[NEG + SPANS]! > 0 || nBuckets > 0)
      return "histogram-custom-bounds-invalid";
  } else if (schema >= SCHEMA_MIN && schema <= SCHEMA_MAX_REDUCIBLE) {
    if (side[POS + LATER_NEGATIVE] || side[POS + SPAN_LENGTH] !== pBuckets) return "histogram-spans-mismatch";
    if (side[NEG + LATER_NEGATIVE] || side[NEG + SPAN_LENGTH] !== nBuckets) return "histogram-spans-mismatch";
    if (negNegative) return "histogram-negative-count";
    if (countFloat && zeroFloat && zeroF < 0) return "histogram-negative-count";
    if (bounds > 0) return "histogram-custom-bounds-invalid";
  } else {
    return "histogram-schema-invalid";
  }
  if (countFloat && countF < 0) return "histogram-negative-count";
  if (posNegative) return "histogram-negative-count";
  if (countBad) return "histogram-count-mismatch";
  return undefined;
}

/** Applies one delta (the varint just read, zigzag) to a side; true when past exact doubles. */
function delta(o: number): boolean {
  const n = val;
  const c = side[o + RUNNING]! + (n % 2 === 1 ? -(n + 1) / 2 : n / 2);
  side[o + RUNNING] = c;
  if (c < 0) side[o + INT_NEGATIVE] = 1;
  const total = side[o + TOTAL]! + c;
  side[o + TOTAL] = total;
  side[o + DELTAS]!++;
  return wide || c >= SAFE || c <= -SAFE || total >= SAFE;
}

/** Reads one BucketSpan in any encoding (offset: sint32, length: uint32; the last value wins). */
function span(buf: Uint8Array, start: number, end: number, o: number): void {
  let offset = 0;
  let length = 0;
  let p = start;
  while (p < end) {
    let tag = buf[p]!;
    if (tag < 0x80) p++;
    else {
      p = varint32(buf, p, end);
      tag = val;
    }
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 0) throw new WireError("field number 0");
    if (field === 1 || field === 2) {
      if (wt !== 0) throw wrongType(field, wt);
      p = varint32Field(buf, p, end, field);
      const n = val >>> 0;
      if (field === 1) offset = (n >>> 1) ^ -(n & 1);
      else length = n;
    } else {
      p = skipField(buf, p, end, wt);
    }
  }
  addSpan(o, offset, length);
}

/** Counts one span into its side. */
function addSpan(o: number, offset: number, length: number): void {
  if (offset < 0) side[o + (side[o + SPANS] === 0 ? FIRST_NEGATIVE : LATER_NEGATIVE)] = 1;
  side[o + SPANS]!++;
  side[o + SPAN_LENGTH]! += length;
  side[o + REACH]! += length + offset;
}

/** What `exactCounts` found. */
const exact = { positiveNegative: false, negativeNegative: false, countBad: false };

/**
 * The integer form's checks redone exactly, for a histogram whose counts or deltas reach
 * 2^53: int64 deltas and uint64 totals wrapping as Go's do. Its structure is known good.
 */
function exactCounts(buf: Uint8Array, start: number, end: number, v2: boolean): void {
  let count = 0n;
  let zero = 0n;
  let zeroFloat = false;
  let sumNaN = false;
  // [negative, positive]
  const running = [0n, 0n];
  const total = [0n, 0n];
  const below = [false, false];
  const addDelta = (side: number, raw: bigint) => {
    const c = BigInt.asIntN(64, running[side]! + ((raw >> 1n) ^ -(raw & 1n)));
    running[side] = c;
    if (c < 0n) below[side] = true;
    total[side] = BigInt.asUintN(64, total[side]! + c);
  };
  let p = start;
  while (p < end) {
    p = varint32(buf, p, end);
    const field = val >>> 3;
    const wt = val & 7;
    if ((field === 1 || field === 6) && wt === 0) {
      const [v, next] = bigVarint(buf, p);
      p = next;
      if (field === 1) count = v;
      else {
        zero = v;
        zeroFloat = false;
      }
    } else if ((field === 9 || field === 12) && (wt === 0 || wt === 2)) {
      const side = field === 9 ? 0 : 1;
      if (wt === 0) {
        const [v, next] = bigVarint(buf, p);
        p = next;
        addDelta(side, v);
      } else {
        p = varint32(buf, p, end);
        const e = p + val;
        while (p < e) {
          const [v, next] = bigVarint(buf, p);
          p = next;
          addDelta(side, v);
        }
      }
    } else if (field === 3 && wt === 1) {
      sumNaN = isNaNAt(buf, p);
      p += 8;
    } else {
      if (field === 7) zeroFloat = true;
      p = field === 17 && v2 ? skipVarint(buf, p, end) : skipField(buf, p, end, wt);
    }
  }
  const buckets = BigInt.asUintN(64, total[0]! + total[1]! + (zeroFloat ? 0n : zero));
  exact.negativeNegative = below[0]!;
  exact.positiveNegative = below[1]!;
  exact.countBad = sumNaN ? buckets > count : buckets !== count;
}

/** A varint of up to 10 bytes as an unsigned 64-bit BigInt, and the position after it. */
function bigVarint(buf: Uint8Array, p: number): [bigint, number] {
  let v = 0n;
  let shift = 0n;
  for (;;) {
    const b = buf[p++]!;
    v |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) return [BigInt.asUintN(64, v), p];
    shift += 7n;
  }
}
