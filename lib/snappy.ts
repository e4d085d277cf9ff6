import SnappyJS from "snappyjs";
import { BadRequestError, PayloadTooLargeError } from "./errors";

/**
 * Snappy block format (not framed), as remote_write uses it. The declared decoded
 * length is read and checked before anything is allocated, so a small body that
 * claims gigabytes is refused without cost.
 */
export function declaredLength(compressed: Uint8Array): number {
  let result = 0;
  for (let i = 0, shift = 0; i < 5 && i < compressed.length; i++, shift += 7) {
    const b = compressed[i]!;
    result += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return result;
  }
  throw new BadRequestError("snappy-corrupt", "snappy: missing or malformed length preamble");
}

export function decompress(compressed: Uint8Array, maxDecodedBytes: number): Uint8Array {
  const length = declaredLength(compressed);
  if (length > maxDecodedBytes) {
    throw new PayloadTooLargeError(
      "decoded-too-large",
      `snappy: declared decoded length ${length} exceeds the limit of ${maxDecodedBytes} bytes`,
    );
  }
  try {
    return SnappyJS.uncompress(compressed, maxDecodedBytes);
  } catch {
    throw new BadRequestError("snappy-corrupt", "snappy: corrupt compressed body");
  }
}

export function compress(data: Uint8Array): Uint8Array {
  return SnappyJS.compress(data);
}
