import { WireError } from "../../codec/wire";

/**
 * The protobuf wire primitives of the single-pass readers (schema.ts, histogram.ts): varint
 * readers that bound every value and position, and the skip of an unknown field. A value
 * read goes into `val` (and `wide`), module state rather than a return value, so the hot
 * path allocates nothing; read it right after the call that set it.
 */

/** The value of the last varint read. */
export let val = 0;
/** The last varint read by `varint` was 8 bytes or more: its value may not be exact in a double. */
export let wide = false;

export function wrongType(field: number, wt: number): WireError {
  return new WireError(`field ${field}: wrong wire type ${wt}`);
}

/**
 * A varint of at most 10 bytes whose value fits in 64 bits, into `val` (exact below 2^53;
 * `wide` when it took 8 bytes or more); returns the position after it.
 */
export function varint(buf: Uint8Array, p: number, end: number): number {
  if (p < end && buf[p]! < 0x80) {
    val = buf[p]!;
    wide = false;
    return p + 1;
  }
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (p >= end) throw new WireError("truncated varint");
    const b = buf[p++]!;
    result += (b & 0x7f) * mul;
    if (b < 0x80) {
      if (i === 9 && b > 1) throw new WireError("varint overflows 64 bits");
      val = result;
      wide = i >= 7;
      return p;
    }
    mul *= 128;
  }
  throw new WireError("varint longer than 10 bytes");
}

/**
 * A 32-bit varint field (int32, sint32, uint32, enum): at most 5 bytes or exactly 10 (a
 * negative int32), as schema.ts's VARINT32 checks it; `val` holds its low 32 bits.
 */
export function varint32Field(buf: Uint8Array, p: number, end: number, field: number): number {
  if (p < end && buf[p]! < 0x80) {
    val = buf[p]!;
    return p + 1;
  }
  const s = p;
  let low = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (p >= end) throw new WireError("truncated varint");
    const b = buf[p++]!;
    if (i < 5) low += (b & 0x7f) * mul;
    mul *= 128;
    if (b < 0x80) {
      if (i === 9 && b > 1) throw new WireError("varint overflows 64 bits");
      if (p - s > 5 && p - s !== 10) throw new WireError(`field ${field}: 32-bit varint of ${p - s} bytes`);
      val = low % 4294967296;
      return p;
    }
  }
  throw new WireError("varint longer than 10 bytes");
}

/** A tag, a length or a uint32: a varint of at most 5 bytes whose value fits in 32 bits, into `val`. */
export function varint32(buf: Uint8Array, p: number, end: number): number {
  if (p < end && buf[p]! < 0x80) {
    val = buf[p]!;
    return p + 1;
  }
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 5; i++) {
    if (p >= end) throw new WireError("truncated varint");
    const b = buf[p++]!;
    result += (b & 0x7f) * mul;
    if (b < 0x80) {
      if (result > 0xffffffff) throw new WireError("varint overflows 32 bits");
      val = result;
      return p;
    }
    mul *= 128;
  }
  throw new WireError("varint overflows 32 bits");
}

/** Skips a varint of at most 10 bytes whose value fits in 64 bits. */
export function skipVarint(buf: Uint8Array, p: number, end: number): number {
  if (p < end && buf[p]! < 0x80) return p + 1;
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
export function skipField(buf: Uint8Array, p: number, end: number, wt: number): number {
  switch (wt) {
    case 0:
      return skipVarint(buf, p, end);
    case 1:
      p += 8;
      break;
    case 2:
      p = varint32(buf, p, end);
      p += val;
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
