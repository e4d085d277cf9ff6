import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { SNAPPY_WASM_FILE, SNAPPY_WASM_VERSION } from "./snappy-wasm-file";
import { CodecError } from "./wire";
import type { WorkBuffer } from "./work-buffer";

/**
 * Snappy block format (not framed), as remote_write uses it. The declared decoded
 * length is read and checked before anything is allocated, so a small body that
 * claims gigabytes is refused without cost.
 *
 * Three implementations of the same format, the fastest available chosen at load: the
 * native `snappy` package when it is installed (the local server), the Rust codec of
 * `snappy-wasm` compiled to WebAssembly (what the Lambda bundle ships: its 31 KB module
 * is copied beside the bundle, and it runs at 2–3× the JavaScript codec's speed), and a
 * JavaScript codec (below), always present. `snappyCodec()` says which is in use, its
 * version, and why a preferred one is not (the functions log it at start).
 * Every one of them is reached through `decompress`, which checks the declared length
 * against the caller's limit before any codec allocates.
 *
 * About 580 lines: the three codecs behind one decompress/compress with the same bounds;
 * the JavaScript codec among them is the fallback that is always present and the
 * reference the other two are tested against.
 */
export type SnappyBackendName = "native" | "wasm" | "js";

/** The codec in use, for the start log. */
export interface SnappyCodecInfo {
  readonly name: SnappyBackendName;
  /** The package's version (`snappy`, `snappy-wasm`); "built-in" for the JavaScript codec. */
  readonly version: string;
  /**
   * Set when a codec preferred to this one could not load (the native package installed
   * but not loadable here, or the WebAssembly module missing or not what this code drives):
   * why, in one line.
   */
  readonly fallbackReason?: string;
}

/**
 * A body that is not a snappy block (`snappy-corrupt`), or whose declared decoded length
 * is over the caller's limit (`decoded-too-large`). The ingest path maps these to 400 and 413.
 */
export class SnappyError extends CodecError {
  constructor(
    readonly code: "snappy-corrupt" | "decoded-too-large",
    message: string,
  ) {
    super(message);
  }
}

interface Backend {
  readonly name: SnappyBackendName;
  readonly version: string;
  uncompress(compressed: Uint8Array, maxLength: number): Uint8Array;
  /** The same at the start of `into(length)` (a buffer of at least `length` bytes). */
  uncompressInto(compressed: Uint8Array, maxLength: number, into: (length: number) => Uint8Array): Uint8Array;
  compress(data: Uint8Array): Uint8Array;
}

/** A codec that is there but could not be loaded, and why (one line, no stack). */
interface LoadFailure {
  readonly failed: string;
}

/** The first line of an error's message, bounded (module errors append their require stack). */
function reasonOf(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return (message.split("\n")[0] ?? "").slice(0, 200);
}

interface NativeSnappy {
  uncompressSync(input: Uint8Array, options: { asBuffer: true; copyOutputData: true }): Uint8Array;
  compressSync(input: Uint8Array, options: { copyOutputData: true }): Uint8Array;
}

const jsBackend: Backend = {
  name: "js",
  version: "built-in",
  uncompress: (compressed, maxLength) => uncompressBlock(compressed, maxLength),
  uncompressInto: (compressed, maxLength, into) => uncompressBlock(compressed, maxLength, into),
  compress: (data) => compressBlock(data),
};

/**
 * The native package; undefined when it is not installed (the Lambda bundle leaves it
 * out), a failure when it is installed but does not load on this platform.
 */
function loadNative(): Backend | LoadFailure | undefined {
  // a runtime require: bundlers leave it alone, so a bundle without the package still loads
  const require = createRequire(import.meta.url);
  try {
    require.resolve("snappy");
  } catch {
    return undefined;
  }
  let mod: NativeSnappy;
  try {
    mod = require("snappy") as NativeSnappy;
  } catch (err) {
    return { failed: `the native snappy package does not load here: ${reasonOf(err)}` };
  }
  if (typeof mod.uncompressSync !== "function" || typeof mod.compressSync !== "function")
    return { failed: "the native snappy package has no uncompressSync/compressSync" };
  let version = "unknown";
  try {
    version = String((require("snappy/package.json") as { version: unknown }).version);
  } catch {
    // the codec works all the same; only the log line lacks its version
  }
  // copyOutputData: a plain heap buffer is cheaper than an external one for our sizes
  const uncompress = (compressed: Uint8Array, maxLength: number) => {
    const out = mod.uncompressSync(compressed, { asBuffer: true, copyOutputData: true });
    if (out.length > maxLength) throw new Error("decoded length over the limit");
    // a plain view: Buffer's own subarray is slower than the typed array's
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  };
  return {
    name: "native",
    version,
    uncompress,
    uncompressInto: (compressed, maxLength, into) => {
      const out = uncompress(compressed, maxLength);
      const target = into(out.length);
      target.set(out);
      return target.subarray(0, out.length);
    },
    compress: (data) => mod.compressSync(data, { copyOutputData: true }),
  };
}

/** Where the WebAssembly module is: beside this file (the Lambda bundle), else in the package. */
function wasmModuleBytes(): Uint8Array | undefined {
  const beside = new URL(`./${SNAPPY_WASM_FILE}`, import.meta.url);
  try {
    return readFileSync(beside);
  } catch {
    // not bundled: read it from the installed package
  }
  try {
    const main = createRequire(import.meta.url).resolve("snappy-wasm");
    return readFileSync(join(dirname(main), "..", "es", SNAPPY_WASM_FILE));
  } catch {
    return undefined;
  }
}

/**
 * The exports of the `snappy-wasm` module that `loadWasm` calls, with the number of
 * parameters of each function: wasm-bindgen's internals of version SNAPPY_WASM_VERSION,
 * which another version may rename or change (later wasm-bindgen releases give malloc and
 * free an alignment parameter, for one).
 */
export const SNAPPY_WASM_EXPORTS = {
  memory: "memory",
  compress_raw: 3,
  decompress_raw: 3,
  __wbindgen_add_to_stack_pointer: 1,
  __wbindgen_malloc: 1,
  __wbindgen_free: 2,
} as const;

/** What is not as SNAPPY_WASM_EXPORTS says in a module's exports (empty when all is). */
function wasmExportProblems(exports: Record<string, unknown>): string[] {
  return Object.entries(SNAPPY_WASM_EXPORTS).flatMap(([name, shape]) => {
    const value = exports[name];
    if (shape === "memory")
      return (value as { buffer?: unknown } | undefined)?.buffer instanceof ArrayBuffer ? [] : [`no ${name}`];
    if (typeof value !== "function") return [`no ${name}`];
    return value.length === shape ? [] : [`${name} takes ${value.length} parameters, not ${shape}`];
  });
}

/**
 * The WebAssembly codec, or a failure when its module cannot be found or instantiated, its
 * exports are not SNAPPY_WASM_EXPORTS, or a round trip through them fails. The module is driven through its exports directly rather
 * than the package's JavaScript bindings: the same calls (input copied into the module's
 * memory, which the call takes over; output read and freed), but the decoded bytes can go
 * into a reused buffer instead of a fresh one per request.
 */
function loadWasm(): Backend | LoadFailure {
  const of = `snappy-wasm ${SNAPPY_WASM_VERSION}`;
  const bytes = wasmModuleBytes();
  if (bytes === undefined)
    return { failed: `${of}: ${SNAPPY_WASM_FILE} is neither beside the bundle nor in the installed package` };
  let exports: SnappyWasmExports;
  try {
    const { Module, Instance } = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
    // the module's one import builds the error value it returns; the value is not needed
    const imports = { wbg: { __wbindgen_error_new: () => 0 } };
    exports = new Instance(new Module(bytes), imports).exports as SnappyWasmExports;
  } catch (err) {
    return { failed: `${of}: the module does not instantiate: ${reasonOf(err)}` };
  }
  const problems = wasmExportProblems(exports as unknown as Record<string, unknown>);
  if (problems.length > 0)
    return { failed: `${of}: the module's exports are not the ones driven here (${problems.join(", ")})` };
  /** Runs `fn` (compress_raw or decompress_raw) over `input`; calls `take` with the output in the module's memory. */
  const call = <T>(
    fn: (ret: number, ptr: number, len: number) => void,
    input: Uint8Array,
    take: (memory: ArrayBuffer, ptr: number, len: number) => T,
  ): T => {
    const ret = exports.__wbindgen_add_to_stack_pointer(-16);
    try {
      const ptr = exports.__wbindgen_malloc(input.length);
      new Uint8Array(exports.memory.buffer, ptr, input.length).set(input);
      fn(ret, ptr, input.length);
      const [outPtr, outLen, , failed] = new Int32Array(exports.memory.buffer, ret, 4);
      if (failed) throw new Error("snappy: corrupt input");
      try {
        return take(exports.memory.buffer, outPtr!, outLen!);
      } finally {
        exports.__wbindgen_free(outPtr!, outLen!);
      }
    } finally {
      exports.__wbindgen_add_to_stack_pointer(16);
    }
  };
  const fresh = (memory: ArrayBuffer, ptr: number, len: number) => new Uint8Array(memory, ptr, len).slice();
  const codec: Backend = {
    name: "wasm",
    version: SNAPPY_WASM_VERSION,
    uncompress: (compressed, maxLength) => {
      const out = call(exports.decompress_raw, compressed, fresh);
      if (out.length > maxLength) throw new Error("decoded length over the limit");
      return out;
    },
    uncompressInto: (compressed, maxLength, into) => {
      const out = call(exports.decompress_raw, compressed, (memory, ptr, len) => {
        const target = into(len);
        target.set(new Uint8Array(memory, ptr, len));
        return target.subarray(0, len);
      });
      if (out.length > maxLength) throw new Error("decoded length over the limit");
      return out;
    },
    compress: (data) => call(exports.compress_raw, data, fresh),
  };
  // exports of the right names may still follow another calling convention: one round trip
  const probe = new Uint8Array(256).map((_, i) => (i * 7) % 13);
  try {
    const back = codec.uncompress(codec.compress(probe), probe.length);
    if (back.length !== probe.length || back.some((b, i) => b !== probe[i]))
      return { failed: `${of}: a round trip through the module gives other bytes` };
  } catch (err) {
    return { failed: `${of}: a round trip through the module fails: ${reasonOf(err)}` };
  }
  return codec;
}

/** The slice of the WebAssembly API used here (the project's type libraries leave it out). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}

/** The exports of the `snappy-wasm` module (wasm-bindgen's calling convention). */
interface SnappyWasmExports {
  readonly memory: { readonly buffer: ArrayBuffer };
  compress_raw(ret: number, ptr: number, len: number): void;
  decompress_raw(ret: number, ptr: number, len: number): void;
  __wbindgen_add_to_stack_pointer(delta: number): number;
  __wbindgen_malloc(size: number): number;
  __wbindgen_free(ptr: number, size: number): void;
}

const nativeLoad = loadNative();
const native = nativeLoad === undefined || "failed" in nativeLoad ? undefined : nativeLoad;
/** Why the native package is not used although it is installed. */
const nativeFailure = nativeLoad !== undefined && "failed" in nativeLoad ? nativeLoad.failed : undefined;
/** The WebAssembly codec, loaded the first time it is wanted (never where native serves). */
let wasmLoad: Backend | LoadFailure | undefined;
function wasmOrFailure(): Backend | LoadFailure {
  wasmLoad ??= loadWasm();
  return wasmLoad;
}
function wasm(): Backend | undefined {
  const w = wasmOrFailure();
  return "failed" in w ? undefined : w;
}

/** The fastest codec that loads, and why the ones preferred to it did not. */
function chooseAtLoad(): { backend: Backend; fallbackReason?: string } {
  if (native !== undefined) return { backend: native };
  const reasons = nativeFailure === undefined ? [] : [nativeFailure];
  const w = wasmOrFailure();
  if ("failed" in w) reasons.push(w.failed);
  const backend = "failed" in w ? jsBackend : w;
  return reasons.length > 0 ? { backend, fallbackReason: reasons.join("; ") } : { backend };
}
const atLoad = chooseAtLoad();
let backend: Backend = atLoad.backend;

/** The implementation in use. */
export function snappyBackend(): SnappyBackendName {
  return backend.name;
}

/** The implementation in use, its version, and why a preferred one is not (see SnappyCodecInfo). */
export function snappyCodec(): SnappyCodecInfo {
  const info = { name: backend.name, version: backend.version };
  return backend === atLoad.backend && atLoad.fallbackReason !== undefined
    ? { ...info, fallbackReason: atLoad.fallbackReason }
    : info;
}

/** Whether the native package could be loaded here. */
export function nativeSnappyAvailable(): boolean {
  return native !== undefined;
}

/** The implementations that can run here, fastest first. */
export function availableSnappyBackends(): SnappyBackendName[] {
  return [...(native ? ["native" as const] : []), ...(wasm() ? ["wasm" as const] : []), "js"];
}

/**
 * Chooses the implementation ("auto": the one chosen at load). All produce valid snappy
 * blocks that any of them can read; their compressed bytes may differ.
 */
export function useSnappy(name: SnappyBackendName | "auto"): SnappyBackendName {
  if (name === "native") {
    if (native === undefined) throw new Error(nativeFailure ?? "the native snappy package is not installed");
    backend = native;
  } else if (name === "wasm") {
    const w = wasmOrFailure();
    if ("failed" in w) throw new Error(w.failed);
    backend = w;
  } else {
    backend = name === "js" ? jsBackend : atLoad.backend;
  }
  return backend.name;
}

export function declaredLength(compressed: Uint8Array): number {
  let result = 0;
  for (let i = 0, shift = 0; i < 5 && i < compressed.length; i++, shift += 7) {
    const b = compressed[i]!;
    result += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return result;
  }
  throw new SnappyError("snappy-corrupt", "snappy: missing or malformed length preamble");
}

export function decompress(compressed: Uint8Array, maxDecodedBytes: number): Uint8Array {
  return decompressWith(compressed, maxDecodedBytes, undefined);
}

/**
 * `decompress` into a buffer the caller owns and reuses: the decoded bytes are returned as
 * `into.bytes[0, length)`, and `into.bytes` has at least `room` more bytes after them, free
 * for the caller (it may assemble output there with `copyWithin`, which moves bytes within
 * one buffer without making a view). With the WebAssembly and JavaScript codecs the bytes
 * are decoded straight into it; the native one's output is copied there.
 */
export function decompressInto(
  compressed: Uint8Array,
  maxDecodedBytes: number,
  into: WorkBuffer,
  room: number,
): Uint8Array {
  return decompressWith(compressed, maxDecodedBytes, (length) => into.ensure(length + room));
}

function decompressWith(
  compressed: Uint8Array,
  maxDecodedBytes: number,
  into: ((length: number) => Uint8Array) | undefined,
): Uint8Array {
  const length = declaredLength(compressed);
  if (length > maxDecodedBytes) {
    throw new SnappyError(
      "decoded-too-large",
      `snappy: declared decoded length ${length} exceeds the limit of ${maxDecodedBytes} bytes`,
    );
  }
  try {
    return into === undefined
      ? backend.uncompress(compressed, maxDecodedBytes)
      : backend.uncompressInto(compressed, maxDecodedBytes, into);
  } catch {
    throw new SnappyError("snappy-corrupt", "snappy: corrupt compressed body");
  }
}

export function compress(data: Uint8Array): Uint8Array {
  return backend.compress(data);
}

/*
 * Snappy block compression in JavaScript. snappyjs's compressor hashes with a float
 * multiply and copies byte by byte; this one follows the same format and greedy
 * algorithm (64 KiB fragments, a table of 4-byte sequences, skipping ahead faster while
 * nothing matches) with 32-bit integer arithmetic, word reads and bulk copies. Any
 * snappy decoder reads its output; for the same input it always gives the same bytes.
 */
const FRAGMENT = 1 << 16;
const TABLE_BITS = 14;
const INPUT_MARGIN = 15;
const table = new Int32Array(1 << TABLE_BITS);

export function compressBlock(input: Uint8Array): Uint8Array {
  const n = input.length;
  const out = new Uint8Array(32 + n + Math.floor(n / 6));
  let op = 0;
  let v = n;
  while (v >= 0x80) {
    out[op++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  out[op++] = v;
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  for (let start = 0; start < n; start += FRAGMENT) {
    op = compressFragment(input, view, start, Math.min(n, start + FRAGMENT), out, op);
  }
  return out.subarray(0, op);
}

function hash4(w: number): number {
  return Math.imul(w, 0x1e35a7bd) >>> (32 - TABLE_BITS);
}

function compressFragment(
  input: Uint8Array,
  view: DataView,
  start: number,
  end: number,
  out: Uint8Array,
  op: number,
): number {
  let nextEmit = start;
  if (end - start >= INPUT_MARGIN) {
    table.fill(-1);
    const ipLimit = end - INPUT_MARGIN;
    let ip = start;
    let skip = 32;
    while (ip <= ipLimit) {
      const word = view.getUint32(ip, true);
      const h = hash4(word);
      const candidate = table[h]!;
      table[h] = ip;
      if (candidate < 0 || view.getUint32(candidate, true) !== word) {
        ip += skip >>> 5;
        skip++;
        continue;
      }
      op = emitLiteral(input, nextEmit, ip - nextEmit, out, op);
      // extend the match a word at a time, then byte by byte
      let len = 4;
      while (ip + len + 4 <= end && view.getUint32(candidate + len, true) === view.getUint32(ip + len, true))
        len += 4;
      while (ip + len < end && input[candidate + len] === input[ip + len]) len++;
      op = emitCopy(out, op, ip - candidate, len);
      ip += len;
      nextEmit = ip;
      skip = 32;
      if (ip - 1 <= ipLimit) table[hash4(view.getUint32(ip - 1, true))] = ip - 1;
    }
  }
  if (nextEmit < end) op = emitLiteral(input, nextEmit, end - nextEmit, out, op);
  return op;
}

function emitLiteral(input: Uint8Array, from: number, len: number, out: Uint8Array, op: number): number {
  if (len === 0) return op;
  const n = len - 1;
  if (n < 60) {
    out[op++] = n << 2;
  } else if (n < 0x100) {
    out[op++] = 60 << 2;
    out[op++] = n;
  } else {
    out[op++] = 61 << 2;
    out[op++] = n & 0xff;
    out[op++] = n >>> 8;
  }
  if (len < 16) {
    for (let i = 0; i < len; i++) out[op + i] = input[from + i]!;
  } else {
    out.set(input.subarray(from, from + len), op);
  }
  return op + len;
}

/** A copy of `len` bytes from `offset` back (offset < 64 KiB within a fragment). */
function emitCopy(out: Uint8Array, op: number, offset: number, len: number): number {
  while (len >= 68) {
    op = emitCopyUpTo64(out, op, offset, 64);
    len -= 64;
  }
  if (len > 64) {
    op = emitCopyUpTo64(out, op, offset, 60);
    len -= 60;
  }
  return emitCopyUpTo64(out, op, offset, len);
}

function emitCopyUpTo64(out: Uint8Array, op: number, offset: number, len: number): number {
  if (len < 12 && offset < 2048) {
    out[op++] = 1 | ((len - 4) << 2) | ((offset >>> 8) << 5);
    out[op++] = offset & 0xff;
    return op;
  }
  out[op++] = 2 | ((len - 1) << 2);
  out[op++] = offset & 0xff;
  out[op++] = offset >>> 8;
  return op;
}

/**
 * Snappy block decompression in JavaScript: the declared length is checked against
 * `maxLength` before the output is allocated, every literal and copy is bounds-checked,
 * and the output must come out at exactly the declared length. Throws on anything else.
 */
export function uncompressBlock(
  input: Uint8Array,
  maxLength: number,
  into?: (length: number) => Uint8Array,
): Uint8Array {
  const inLen = input.length;
  let ip = 0;
  let n = 0;
  for (let shift = 0; ; shift += 7) {
    if (ip >= inLen || shift > 28) throw new Error("snappy: bad length preamble");
    const b = input[ip++]!;
    n += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) break;
  }
  if (n > maxLength || n > 0xffffffff) throw new Error("snappy: declared length over the limit");
  // every byte of [0, n) is written below (the output must come out at exactly n bytes)
  const out = into === undefined ? new Uint8Array(n) : into(n);
  let op = 0;
  while (ip < inLen) {
    const tag = input[ip++]!;
    const kind = tag & 3;
    if (kind === 0) {
      let len = tag >>> 2;
      if (len >= 60) {
        const bytes = len - 59;
        if (ip + bytes > inLen) throw new Error("snappy: truncated literal length");
        len = 0;
        for (let i = bytes - 1; i >= 0; i--) len = len * 256 + input[ip + i]!;
        ip += bytes;
      }
      len += 1;
      if (ip + len > inLen || op + len > n) throw new Error("snappy: literal out of bounds");
      if (len < 16) {
        for (let i = 0; i < len; i++) out[op + i] = input[ip + i]!;
      } else {
        out.set(input.subarray(ip, ip + len), op);
      }
      ip += len;
      op += len;
      continue;
    }
    let len: number;
    let offset: number;
    if (kind === 1) {
      if (ip >= inLen) throw new Error("snappy: truncated copy");
      len = ((tag >>> 2) & 7) + 4;
      offset = ((tag >>> 5) << 8) | input[ip++]!;
    } else if (kind === 2) {
      if (ip + 2 > inLen) throw new Error("snappy: truncated copy");
      len = (tag >>> 2) + 1;
      offset = input[ip]! | (input[ip + 1]! << 8);
      ip += 2;
    } else {
      if (ip + 4 > inLen) throw new Error("snappy: truncated copy");
      len = (tag >>> 2) + 1;
      offset = (input[ip]! | (input[ip + 1]! << 8) | (input[ip + 2]! << 16) | (input[ip + 3]! << 24)) >>> 0;
      ip += 4;
    }
    if (offset === 0 || offset > op || op + len > n) throw new Error("snappy: copy out of bounds");
    const from = op - offset;
    if (offset >= len && len >= 16) {
      out.copyWithin(op, from, from + len);
    } else {
      // overlapping (a run) or short: byte by byte, which repeats the pattern as intended
      for (let i = 0; i < len; i++) out[op + i] = out[from + i]!;
    }
    op += len;
  }
  if (op !== n) throw new Error("snappy: output shorter than declared");
  return into === undefined ? out : out.subarray(0, n);
}
