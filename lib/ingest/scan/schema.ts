import { WireError } from "../../codec/wire";
import { validUtf8 } from "./validate";
import { skipField, skipVarint, val, varint32, wrongType } from "./wire-read";

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
 * A schema gives each known field number a kind (below); a nested message field also has
 * the schema of its message. Field numbers without a kind are unknown fields.
 */
export interface Schema {
  readonly kinds: Uint8Array;
  readonly nested: readonly (Schema | undefined)[];
}

/** Builds a schema from field number → kind, or → nested schema for a message field. */
function schema(fields: Record<number, number | Schema>): Schema {
  const size = Math.max(...Object.keys(fields).map(Number)) + 1;
  const kinds = new Uint8Array(size);
  const nested: (Schema | undefined)[] = new Array(size).fill(undefined);
  for (const [f, k] of Object.entries(fields)) {
    if (typeof k === "number") kinds[Number(f)] = k;
    else {
      kinds[Number(f)] = MESSAGE;
      nested[Number(f)] = k;
    }
  }
  return { kinds, nested };
}

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
/** A (repeated or singular) message field: its schema is in `nested`. */
const MESSAGE = 9;

const BUCKET_SPAN = schema({ 1: VARINT32 /* offset, sint32 */, 2: VARINT32 /* length */ });

const HISTOGRAM_V1_FIELDS = {
  1: VARINT, // count_int
  2: FIXED64, // count_float
  3: FIXED64, // sum
  4: VARINT32, // schema (sint32)
  5: FIXED64, // zero_threshold
  6: VARINT, // zero_count_int
  7: FIXED64, // zero_count_float
  8: BUCKET_SPAN, // negative_spans
  9: REPEATED_VARINT, // negative_deltas (sint64)
  10: REPEATED_FIXED64, // negative_counts
  11: BUCKET_SPAN, // positive_spans
  12: REPEATED_VARINT, // positive_deltas
  13: REPEATED_FIXED64, // positive_counts
  14: VARINT32, // reset_hint (enum)
  15: VARINT, // timestamp
  16: REPEATED_FIXED64, // custom_values
};

const LABEL = schema({ 1: STRING, 2: STRING });

export const SCHEMA = {
  label: LABEL,
  v1: {
    histogram: schema(HISTOGRAM_V1_FIELDS),
    exemplar: schema({ 1: LABEL, 2: FIXED64, 3: VARINT }),
    metadata: schema({ 1: VARINT32, 2: STRING, 4: STRING, 5: STRING }),
  },
  v2: {
    histogram: schema({ ...HISTOGRAM_V1_FIELDS, 17: VARINT /* start_timestamp */ }),
    exemplar: schema({ 1: REPEATED_UINT32, 2: FIXED64, 3: VARINT }),
    metadata: schema({ 1: VARINT32, 3: UINT32, 4: UINT32 }),
  },
} as const;

/**
 * Throws WireError unless buf[start, end) is a well-formed message of `schema`; returns
 * false when it is, but a string in it is not valid UTF-8.
 */
export function checkMessage(buf: Uint8Array, start: number, end: number, schema: Schema): boolean {
  const kinds = schema.kinds;
  let utf8 = true;
  let p = start;
  while (p < end) {
    // tag: a varint of at most 5 bytes (32 bits), field number > 0
    let tag = buf[p]!;
    if (tag < 0x80) {
      p++;
    } else {
      p = varint32(buf, p, end);
      tag = val;
    }
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 0) throw new WireError("field number 0");
    const kind = field < kinds.length ? kinds[field]! : 0;
    switch (kind) {
      case 0:
        p = skipField(buf, p, end, wt);
        break;
      case MESSAGE: {
        if (wt !== 2) throw new WireError(`field ${field}: wrong wire type ${wt} for a message`);
        p = varint32(buf, p, end);
        const e = p + val;
        if (e > end) throw new WireError("length runs past the end of the message");
        const inner = schema.nested[field]!;
        // a bucket span in its usual encoding: offset and length, one byte each
        const usualSpan =
          inner === BUCKET_SPAN &&
          e - p === 4 &&
          buf[p] === 0x08 &&
          buf[p + 1]! < 0x80 &&
          buf[p + 2] === 0x10 &&
          buf[p + 3]! < 0x80;
        if (!usualSpan && !checkMessage(buf, p, e, inner)) utf8 = false;
        p = e;
        break;
      }
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
        const e = p + val;
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
        const e = p + val;
        if (e > end) throw new WireError("length runs past the end of the message");
        // every element must end inside the packed run, and the last one exactly at its end
        while (p < e) {
          if (buf[p]! < 0x80) p++;
          else p = u32 ? varint32(buf, p, e) : skipVarint(buf, p, e);
        }
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
        const len = val;
        if (len % 8 !== 0) throw new WireError(`field ${field}: packed doubles of ${len} bytes`);
        p += len;
        if (p > end) throw new WireError("length runs past the end of the message");
        break;
      }
    }
  }
  return utf8;
}
