/**
 * The WebAssembly module of the `snappy-wasm` codec: its place in the installed package
 * (relative to the project root) and its name beside a function bundle, where the
 * bundling copies it and lib/snappy.ts looks for it first.
 */
export const SNAPPY_WASM_PACKAGE_FILE = "node_modules/snappy-wasm/es/snappy_bg.wasm";
export const SNAPPY_WASM_FILE = "snappy_bg.wasm";
/**
 * The `snappy-wasm` version whose module exports lib/codec/snappy.ts drives (wasm-bindgen
 * internals, not a public API): package.json pins exactly this version, and
 * test/unit/codec/snappy-wasm-interface.test.ts holds the module to it.
 */
export const SNAPPY_WASM_VERSION = "0.3.0";
