/**
 * The WebAssembly module of the `snappy-wasm` codec: its place in the installed package
 * (relative to the project root) and its name beside a function bundle, where the
 * bundling copies it and lib/snappy.ts looks for it first.
 */
export const SNAPPY_WASM_PACKAGE_FILE = "node_modules/snappy-wasm/es/snappy_bg.wasm";
export const SNAPPY_WASM_FILE = "snappy_bg.wasm";
