import { WireError } from "../wire";
import { validUtf8 } from "./validate";

/**
 * The full wire structure of the messages the hot path copies into records as bytes
 * (histograms, bucket spans, exemplars, metadata), checked against the schema in proto/.
 * A message passes only if every field has the wire type its schema gives it, every
 * length stays inside its parent, packed repeated fields hold whole elements and end
 * exactly at their length, nested messages pass the same check, and unknown fields are
 * well-formed (varint, fixed64, length-delimited or fixed32; groups are refused). What
 * passes decodes with both reference decoders: Prometheus's prompb and protobufjs with
 * the committed .proto files. Strings are checked for UTF-8 too (proto3 requires it, and
 * Go's standard protobuf runtime refuses a message without it), but reported apart, so
 * the caller can refuse the series rather than the whole request.
 *
 * A schema is a table indexed by field number; each entry is a kind below, or a nested
 * Schema for a (repeated or singular) message field. Fields past the table are unknown.
 */
export type Schema = readonly Field[];
type Field = number | Schema | undefined;

/** A 64-bit varint scalar (int64, uint64, sint64). */
export const VARINT = 1;
/**
 * A 32-bit varint scalar (int32, uint32, sint32, enum): at most 5 bytes, or exactly 10 (a
 * negative int32, sign-extended). protobufjs reads such a field's first 5 bytes and then
 * skips 5 more whatever they are, so a 6- to 9-byte encoding, which Go reads, would shift
 * it out of step with the message.
 */
export const VARINT32 = 8;
/** A 64-bit fixed scalar (double). */
export const FIXED64 = 2;
/** A UTF-8 string. */
export const STRING = 3;
/** A repeated varint: one element per field, or packed. */
export const REPEATED_VARINT = 4;
/** A repeated double: one element per field, or packed (a multiple of 8 bytes). */
export const REPEATED_FIXED64 = 5;
/** A varint that must fit in 32 bits unsigned (v2 symbol references). */
export const UINT32 = 6;
/** A repeated uint32 (v2 labels_refs): one element per field, or packed. */
export const REPEATED_UINT32 = 7;

const BUCKET_SPAN: Schema = [undefined, VARINT32, VARINT32];

const HISTOGRAM_V1: Schema = [
  undefined,
  VARINT, // count_int
  FIXED64, // count_float
  FIXED64, // sum
  VARINT32, // schema (sint32)
  FIXED64, // zero_threshold
  VARINT, // zero_count_int
  FIXED64, // zero_count_float
  BUCKET_SPAN, // negative_spans
  REPEATED_VARINT, // negative_deltas (sint64)
  REPEATED_FIXED64, // negative_counts
  BUCKET_SPAN, // positive_spans
  REPEATED_VARINT, // positive_deltas
  REPEATED_FIXED64, // positive_counts
  VARINT32, // reset_hint (enum)
  VARINT, // timestamp
  REPEATED_FIXED64, // custom_values
];

export const SCHEMA = {
  label: [undefined, STRING, STRING] as Schema,
  v1: {
    histogram: HISTOGRAM_V1,
    exemplar: [undefined, [undefined, STRING, STRING], FIXED64, VARINT] as Schema,
    metadata: [undefined, VARINT32, STRING, undefined, STRING, STRING] as Schema,
  },
  v2: {
    histogram: [...HISTOGRAM_V1, VARINT /* start_timestamp */] as Schema,
    exemplar: [undefined, REPEATED_UINT32, FIXED64, VARINT] as Schema,
    metadata: [undefined, VARINT32, undefined, UINT32, UINT32] as Schema,
  },
} as const;

/**
 * Throws WireError unless buf[start, end) is a well-formed message of `schema`; returns
 * false when it is, but a string in it is not valid UTF-8.
 */
export function checkMessage(buf: Uint8Array, start: number, end: number, schema: Schema): boolean {
  let utf8 = true;
  let p = start;
  while (p < end) {
    // tag: a varint of at most 5 bytes (32 bits), field number > 0
    let tag = buf[p]!;
    if (tag < 0x80) {
      p++;
    } else {
      p = varint32(buf, p, end);
      tag = last;
    }
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 0) throw new WireError("field number 0");
    const kind = field < schema.length ? schema[field] : undefined;
    if (kind === undefined) {
      p = skipField(buf, p, end, wt);
      continue;
    }
    if (typeof kind !== "number") {
      if (wt !== 2) throw new WireError(`field ${field}: wrong wire type ${wt} for a message`);
      p = varint32(buf, p, end);
      const e = p + last;
      if (e > end) throw new WireError("length runs past the end of the message");
      if (!checkMessage(buf, p, e, kind)) utf8 = false;
      p = e;
      continue;
    }
    switch (kind) {
      case VARINT:
        if (wt !== 0) throw wrongType(field, wt);
        p = skipVarint(buf, p, end);
        break;
      case VARINT32: {
        if (wt !== 0) throw wrongType(field, wt);
        const s = p;
        p = skipVarint(buf, p, end);
        if (p - s > 5 && p - s !== 10) throw new WireError(`field ${field}: 32-bit varint of ${p - s} bytes`);
        break;
      }
      case UINT32:
        if (wt !== 0) throw wrongType(field, wt);
        p = varint32(buf, p, end);
        break;
      case FIXED64:
        if (wt !== 1) throw wrongType(field, wt);
        p += 8;
        if (p > end) throw new WireError("truncated fixed-width field");
        break;
      case STRING: {
        if (wt !== 2) throw wrongType(field, wt);
        p = varint32(buf, p, end);
        const e = p + last;
        if (e > end) throw new WireError("length runs past the end of the message");
        if (!validUtf8(buf, p, e)) utf8 = false;
        p = e;
        break;
      }
      case REPEATED_VARINT:
      case REPEATED_UINT32: {
        const u32 = kind === REPEATED_UINT32;
        if (wt === 0) {
          p = u32 ? varint32(buf, p, end) : skipVarint(buf, p, end);
          break;
        }
        if (wt !== 2) throw wrongType(field, wt);
        p = varint32(buf, p, end);
        const e = p + last;
        if (e > end) throw new WireError("length runs past the end of the message");
        // every element must end inside the packed run, and the last one exactly at its end
        while (p < e) p = u32 ? varint32(buf, p, e) : skipVarint(buf, p, e);
        break;
      }
      case REPEATED_FIXED64: {
        if (wt === 1) {
          p += 8;
          if (p > end) throw new WireError("truncated fixed-width field");
          break;
        }
        if (wt !== 2) throw wrongType(field, wt);
        p = varint32(buf, p, end);
        const len = last;
        if (len % 8 !== 0) throw new WireError(`field ${field}: packed doubles of ${len} bytes`);
        p += len;
        if (p > end) throw new WireError("length runs past the end of the message");
        break;
      }
    }
  }
  return utf8;
}

function wrongType(field: number, wt: number): WireError {
  return new WireError(`field ${field}: wrong wire type ${wt}`);
}

/** The value of the last varint32 read (kept out of the return value to avoid allocations). */
let last = 0;

/** Reads a varint of at most 5 bytes whose value fits in 32 bits; returns the position after it. */
function varint32(buf: Uint8Array, p: number, end: number): number {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 5; i++) {
    if (p >= end) throw new WireError("truncated varint");
    const b = buf[p++]!;
    result += (b & 0x7f) * mul;
    if (b < 0x80) {
      if (result > 0xffffffff) throw new WireError("varint overflows 32 bits");
      last = result;
      return p;
    }
    mul *= 128;
  }
  throw new WireError("varint overflows 32 bits");
}

/** Skips a varint of at most 10 bytes whose value fits in 64 bits. */
export function skipVarint(buf: Uint8Array, p: number, end: number): number {
  for (let i = 0; i < 10; i++) {
    if (p >= end) throw new WireError("truncated varint");
    const b = buf[p++]!;
    if (b < 0x80) {
      if (i === 9 && b > 1) throw new WireError("varint overflows 64 bits");
      return p;
    }
  }
  throw new WireError("varint longer than 10 bytes");
}

/** Skips an unknown field's value; refuses groups (3, 4) and wire types 6 and 7. */
function skipField(buf: Uint8Array, p: number, end: number, wt: number): number {
  switch (wt) {
    case 0:
      return skipVarint(buf, p, end);
    case 1:
      p += 8;
      break;
    case 2:
      p = varint32(buf, p, end);
      p += last;
      break;
    case 5:
      p += 4;
      break;
    default:
      throw new WireError(`unsupported wire type ${wt}`);
  }
  if (p > end) throw new WireError("field runs past the end of the message");
  return p;
}
