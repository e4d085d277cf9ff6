import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../../infra/paths";
import { compressBlock, SNAPPY_WASM_EXPORTS, uncompressBlock } from "../../../lib/codec/snappy";
import { SNAPPY_WASM_PACKAGE_FILE, SNAPPY_WASM_VERSION } from "../../../lib/codec/snappy-wasm-file";
import { realisticSeries, v1Message } from "../../fixtures/remote-write";

/**
 * lib/codec/snappy.ts drives the `snappy-wasm` module through wasm-bindgen's internals (its
 * exports and calling convention), which are no public API and may change with any version.
 * The package is pinned to the version those calls were written for, and this file holds
 * the installed module to it by making the same calls by hand: a new version must pass here
 * (or the code be changed with it) before the pin moves.
 */
const readJson = (path: string) => JSON.parse(readFileSync(join(PROJECT_ROOT, path), "utf8"));
const installed: string = readJson("node_modules/snappy-wasm/package.json").version;
const of = `snappy-wasm ${installed} (the codec drives the exports of ${SNAPPY_WASM_VERSION})`;

interface WasmApi {
  Module: (new (
    bytes: Uint8Array,
  ) => object) & {
    imports(module: object): { module: string; name: string; kind: string }[];
    exports(module: object): { name: string; kind: string }[];
  };
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const { Module, Instance } = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
const module = new Module(readFileSync(join(PROJECT_ROOT, SNAPPY_WASM_PACKAGE_FILE)));

interface Exports {
  memory: { buffer: ArrayBuffer };
  compress_raw(ret: number, ptr: number, len: number): void;
  decompress_raw(ret: number, ptr: number, len: number): void;
  __wbindgen_add_to_stack_pointer(delta: number): number;
  __wbindgen_malloc(size: number): number;
  __wbindgen_free(ptr: number, size: number): void;
}
let errorsBuilt = 0;
const exports = new Instance(module, {
  wbg: {
    __wbindgen_error_new: () => {
      errorsBuilt++;
      return 0;
    },
  },
}).exports as unknown as Exports;

/**
 * wasm-bindgen's convention for a `Result<Vec<u8>, JsError>` function: 16 bytes reserved on
 * the module's stack for the return words, the input copied into memory from malloc (the
 * call takes it over), then words [ptr, len, error, failed] read back and the output freed.
 */
function callRaw(fn: "compress_raw" | "decompress_raw", input: Uint8Array): Uint8Array | "failed" {
  const ret = exports.__wbindgen_add_to_stack_pointer(-16);
  try {
    const ptr = exports.__wbindgen_malloc(input.length);
    new Uint8Array(exports.memory.buffer, ptr, input.length).set(input);
    exports[fn](ret, ptr, input.length);
    const [outPtr, outLen, , failed] = new Int32Array(exports.memory.buffer, ret, 4);
    if (failed) return "failed";
    const out = new Uint8Array(exports.memory.buffer, outPtr!, outLen!).slice();
    exports.__wbindgen_free(outPtr!, outLen!);
    return out;
  } finally {
    exports.__wbindgen_add_to_stack_pointer(16);
  }
}

const inputs = [
  new Uint8Array(0),
  Uint8Array.from({ length: 100 }, (_, i) => i),
  new Uint8Array(70_000).fill(3),
  v1Message(realisticSeries(200, 4)),
];
const same = (a: Uint8Array | "failed", b: Uint8Array) =>
  a !== "failed" && Buffer.from(a).equals(Buffer.from(b));

describe(`the snappy-wasm module's interface, as lib/codec/snappy.ts drives it (${SNAPPY_WASM_VERSION})`, () => {
  it("is the version pinned in package.json and package-lock.json, and installed", () => {
    const pkg = readJson("package.json");
    const lock = readJson("package-lock.json");
    expect(pkg.dependencies["snappy-wasm"], "package.json must pin the exact version the codec drives").toBe(
      SNAPPY_WASM_VERSION,
    );
    expect(lock.packages[""].dependencies["snappy-wasm"], "package-lock.json's root entry").toBe(
      SNAPPY_WASM_VERSION,
    );
    expect(lock.packages["node_modules/snappy-wasm"].version, "package-lock.json's resolved version").toBe(
      SNAPPY_WASM_VERSION,
    );
    expect(
      installed,
      `installed snappy-wasm ${installed}, but lib/codec/snappy.ts drives the exports of ${SNAPPY_WASM_VERSION}: ` +
        "check them with this file against the new module, then move SNAPPY_WASM_VERSION and the pin together",
    ).toBe(SNAPPY_WASM_VERSION);
  });

  it("imports only the error constructor the codec provides", () => {
    expect(Module.imports(module), `${of}: the module's imports changed`).toEqual([
      { module: "wbg", name: "__wbindgen_error_new", kind: "function" },
    ]);
  });

  it("exports what the codec calls, with the same parameters", () => {
    const kinds = Object.fromEntries(Module.exports(module).map((e) => [e.name, e.kind]));
    for (const [name, shape] of Object.entries(SNAPPY_WASM_EXPORTS)) {
      const kind = shape === "memory" ? "memory" : "function";
      expect(kinds[name], `${of}: export ${name} is missing or not a ${kind}`).toBe(kind);
      if (shape !== "memory") {
        const fn = (exports as unknown as Record<string, (...args: number[]) => unknown>)[name]!;
        expect(fn.length, `${of}: ${name} takes ${fn.length} parameters, the codec passes ${shape}`).toBe(
          shape,
        );
      }
    }
    expect(exports.memory.buffer, `${of}: memory is not a plain ArrayBuffer`).toBeInstanceOf(ArrayBuffer);
  });

  it("compresses through compress_raw to blocks any snappy decoder reads", () => {
    for (const x of inputs) {
      const c = callRaw("compress_raw", x);
      expect(c, `${of}: compress_raw reported a failure for ${x.length} bytes`).not.toBe("failed");
      expect(same(uncompressBlock(c as Uint8Array, x.length), x), `${of}: compress_raw's output`).toBe(true);
    }
  });

  it("decompresses through decompress_raw what another encoder wrote", () => {
    for (const x of inputs) {
      expect(same(callRaw("decompress_raw", compressBlock(x)), x), `${of}: decompress_raw's output`).toBe(
        true,
      );
    }
  });

  it("reports corrupt input through the failure word, building its error with the import", () => {
    const before = errorsBuilt;
    const c = compressBlock(inputs[3]!);
    for (const bad of [Uint8Array.from([0x05, 0xff, 0xff, 0xff]), c.subarray(0, c.length >> 1)]) {
      expect(callRaw("decompress_raw", bad), `${of}: decompress_raw accepted corrupt input`).toBe("failed");
    }
    expect(errorsBuilt - before, `${of}: decompress_raw did not build its error through the import`).toBe(2);
  });

  it("frees what it allocates: many calls leave the memory where it was", () => {
    const x = inputs[3]!;
    for (let i = 0; i < 50; i++) callRaw("decompress_raw", compressBlock(x));
    const size = exports.memory.buffer.byteLength;
    for (let i = 0; i < 500; i++) {
      callRaw("compress_raw", x);
      callRaw("decompress_raw", compressBlock(x));
    }
    expect(exports.memory.buffer.byteLength, `${of}: memory grows call after call (output not freed?)`).toBe(
      size,
    );
  });
});
