import { createRequire } from "node:module";
import SnappyJS from "snappyjs";
import { BadRequestError, PayloadTooLargeError } from "./errors";

/**
 * Snappy block format (not framed), as remote_write uses it. The declared decoded
 * length is read and checked before anything is allocated, so a small body that
 * claims gigabytes is refused without cost.
 *
 * Two implementations of the same format: the native `snappy` package when it is
 * installed (several times faster), and snappyjs, pure JavaScript, always present. The
 * Lambda bundle ships snappyjs only; `snappyBackend()` says which one is in use.
 */
export type SnappyBackendName = "native" | "js";

interface Backend {
  readonly name: SnappyBackendName;
  uncompress(compressed: Uint8Array, maxLength: number): Uint8Array;
  compress(data: Uint8Array): Uint8Array;
}

interface NativeSnappy {
  uncompressSync(input: Uint8Array, options: { asBuffer: true; copyOutputData: true }): Uint8Array;
  compressSync(input: Uint8Array, options: { copyOutputData: true }): Uint8Array;
}

const jsBackend: Backend = {
  name: "js",
  uncompress: (compressed, maxLength) => SnappyJS.uncompress(compressed, maxLength),
  compress: (data) => SnappyJS.compress(data),
};

/** The native package, or undefined when it is absent or fails to load on this platform. */
function loadNative(): Backend | undefined {
  let mod: NativeSnappy;
  try {
    // a runtime require: bundlers leave it alone, so a bundle without the package still loads
    mod = createRequire(import.meta.url)("snappy") as NativeSnappy;
    if (typeof mod.uncompressSync !== "function" || typeof mod.compressSync !== "function") return undefined;
  } catch {
    return undefined;
  }
  // copyOutputData: a plain heap buffer is cheaper than an external one for our sizes
  return {
    name: "native",
    uncompress: (compressed, maxLength) => {
      const out = mod.uncompressSync(compressed, { asBuffer: true, copyOutputData: true });
      if (out.length > maxLength) throw new Error("decoded length over the limit");
      // a plain view: Buffer's own subarray is slower than the typed array's
      return new Uint8Array(out.buffer, out.byteOffset, out.length);
    },
    compress: (data) => mod.compressSync(data, { copyOutputData: true }),
  };
}

const native = loadNative();
let backend: Backend = native ?? jsBackend;

/** The implementation in use. */
export function snappyBackend(): SnappyBackendName {
  return backend.name;
}

/** Whether the native package could be loaded here. */
export function nativeSnappyAvailable(): boolean {
  return native !== undefined;
}

/**
 * Chooses the implementation ("auto": native when available). Both produce valid snappy
 * blocks that either can read; their compressed bytes may differ.
 */
export function useSnappy(name: SnappyBackendName | "auto"): SnappyBackendName {
  if (name === "native" && native === undefined)
    throw new Error("the native snappy package is not installed");
  backend = name === "js" ? jsBackend : (native ?? jsBackend);
  return backend.name;
}

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
    return backend.uncompress(compressed, maxDecodedBytes);
  } catch {
    throw new BadRequestError("snappy-corrupt", "snappy: corrupt compressed body");
  }
}

export function compress(data: Uint8Array): Uint8Array {
  return backend.compress(data);
}
