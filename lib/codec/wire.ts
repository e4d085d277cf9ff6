/**
 * Protocol Buffers wire format, read and written by hand where the hot path needs
 * byte ranges rather than decoded objects. Every read is bounds-checked and throws
 * WireError, which the ingest path answers with 400.
 */

/**
 * An error of the codec layer (protobuf wire format, snappy): the bytes are not what the
 * format says. It knows no HTTP status; the ingest path maps it to one.
 */
export class CodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export class WireError extends CodecError {}

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

/** 2^(7k) for the shifts of a 5-byte varint, without Math.pow in the loop. */
const POW2 = [1, 2 ** 7, 2 ** 14, 2 ** 21, 2 ** 28];

/** A cursor over one message's bytes, [pos, end). */
export class Reader {
  buf: Uint8Array;
  pos: number;
  end: number;
  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  /** Points the reader at buf[start, end) (reuse, to avoid an object per message). */
  at(start: number, end: number): this {
    this.pos = start;
    this.end = end;
    return this;
  }

  /** Throws unless a field has the wire type its schema gives it. */
  expect(wireType: number, want: number, what: string): void {
    if (wireType !== want) throw new WireError(`${what}: wrong wire type ${wireType}`);
  }

  done(): boolean {
    return this.pos >= this.end;
  }

  /** A varint that must fit in 32 bits unsigned (tags, lengths, refs). */
  uint32(): number {
    const buf = this.buf;
    if (this.pos < this.end) {
      const first = buf[this.pos]!;
      if (first < 0x80) {
        this.pos++;
        return first;
      }
    }
    let result = 0;
    for (let i = 0; i < 5; i++) {
      if (this.pos >= this.end) throw new WireError("truncated varint");
      const b = buf[this.pos++]!;
      result += (b & 0x7f) * POW2[i]!;
      if (b < 0x80) {
        if (result > 0xffffffff) throw new WireError("varint overflows 32 bits");
        return result;
      }
    }
    throw new WireError("varint overflows 32 bits");
  }

  /** Skips a varint of up to 10 bytes (int64 and friends). */
  skipVarint(): void {
    if (this.pos < this.end && this.buf[this.pos]! < 0x80) {
      this.pos++;
      return;
    }
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new WireError("truncated varint");
      const b = this.buf[this.pos++]!;
      if (b < 0x80) {
        // the tenth byte holds the 64th bit only
        if (i === 9 && b > 1) throw new WireError("varint overflows 64 bits");
        return;
      }
    }
    throw new WireError("varint longer than 10 bytes");
  }

  /** Reads a field tag; returns field number * 8 + wire type. */
  tag(): number {
    const tag = this.uint32();
    if (tag >>> 3 === 0) throw new WireError("field number 0");
    return tag;
  }

  /** Reads a length prefix and returns the end offset of the bytes it covers. */
  lengthEnd(): number {
    const len = this.uint32();
    const end = this.pos + len;
    if (end > this.end) throw new WireError("length runs past the end of the message");
    return end;
  }

  /** Skips the value of a field of the given wire type. */
  skip(wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.skipVarint();
        return;
      case WIRE_I64:
        this.advance(8);
        return;
      case WIRE_LEN:
        this.pos = this.lengthEnd();
        return;
      case WIRE_I32:
        this.advance(4);
        return;
      default:
        throw new WireError(`unsupported wire type ${wireType}`);
    }
  }

  advance(n: number): void {
    if (this.pos + n > this.end) throw new WireError("truncated fixed-width field");
    this.pos += n;
  }
}

/** Number of bytes a varint encoding of `n` (< 2^53) takes. */
export function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/**
 * Copies src[start, end) to dst at `at` and returns the position after it. Short ranges are
 * copied in a loop: a view and a native call cost more than a few dozen byte moves.
 */
export function copyBytes(src: Uint8Array, start: number, end: number, dst: Uint8Array, at: number): number {
  const n = end - start;
  if (n <= 32) {
    for (let i = 0; i < n; i++) dst[at + i] = src[start + i]!;
  } else {
    dst.set(src.subarray(start, end), at);
  }
  return at + n;
}

/** Writes `n` (< 2^31) as a varint at buf[at] (room for 5 bytes assumed); returns the position after it. */
export function putVarint32(buf: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) {
    buf[at++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  buf[at++] = n;
  return at;
}

/** A growable output buffer for building messages. */
export class Writer {
  buf: Uint8Array;
  pos = 0;
  constructor(capacity = 1024) {
    this.buf = new Uint8Array(capacity);
  }

  /** Makes room for `n` more bytes at `pos` (callers may then write into `buf` directly). */
  reserve(n: number): void {
    this.ensure(n);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  varint(n: number): this {
    this.ensure(10);
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    this.buf[this.pos++] = n;
    return this;
  }

  tag(field: number, wireType: number): this {
    return this.varint(field * 8 + wireType);
  }

  bytes(src: Uint8Array, start = 0, end = src.length): this {
    const n = end - start;
    this.ensure(n);
    this.pos = copyBytes(src, start, end, this.buf, this.pos);
    return this;
  }

  /** A length-delimited field whose body is `src[start, end)`. */
  lenField(field: number, src: Uint8Array, start = 0, end = src.length): this {
    return this.tag(field, WIRE_LEN)
      .varint(end - start)
      .bytes(src, start, end);
  }

  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}
