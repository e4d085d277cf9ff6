import { Reader, WIRE_I64, WIRE_VARINT } from "../../codec/wire";

/** Checks of a series' samples shared by both protocol versions' scanners. */

/** True when buf[start, end) is exactly one varint of at most 10 bytes. */
export function varintEndsAt(buf: Uint8Array, start: number, end: number): boolean {
  if (end - start > 10 || end <= start) return false;
  for (let i = start; i < end - 1; i++) if (buf[i]! < 0x80) return false;
  // a tenth byte may only carry the 64th bit
  return end - start === 10 ? buf[end - 1]! <= 1 : buf[end - 1]! < 0x80;
}

/** A sample in its usual encoding: value (tag 0x09, 8 bytes), then timestamp (tag 0x10, varint). */
export function isCanonicalSample(buf: Uint8Array, start: number, end: number): boolean {
  return buf[start] === 0x09 && buf[start + 9] === 0x10 && varintEndsAt(buf, start + 10, end);
}

/**
 * Checks a Sample's fields in any encoding: the value (field 1) is a fixed64, fields 2 up
 * to `lastVarintField` (v1: timestamp; v2 also start_timestamp) are varints.
 */
export function checkSample(buf: Uint8Array, start: number, end: number, lastVarintField: number): void {
  const r = new Reader(buf, start, end);
  while (!r.done()) {
    const tag = r.tag();
    const field = tag >>> 3;
    if (field === 1) {
      r.expect(tag & 7, WIRE_I64, "sample value");
      r.advance(8);
    } else if (field >= 2 && field <= lastVarintField) {
      r.expect(tag & 7, WIRE_VARINT, "sample timestamp");
      r.skipVarint();
    } else {
      r.skip(tag & 7);
    }
  }
}
