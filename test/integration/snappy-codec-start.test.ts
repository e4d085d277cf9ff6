import { execFile } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { remoteWriteEndpointFromEnv } from "../../functions/remote-write/wiring";
import { FUNCTION_DEFAULTS } from "../../infra/constructs/gateway-function";
import { ENTRIES, PROJECT_ROOT } from "../../infra/paths";
import { snappyCodec } from "../../lib/codec/snappy";
import {
  SNAPPY_WASM_FILE,
  SNAPPY_WASM_PACKAGE_FILE,
  SNAPPY_WASM_VERSION,
} from "../../lib/codec/snappy-wasm-file";
import { ENV } from "../../lib/core/env-names";
import { LAMBDA_NODE_FLAGS, lambdaNode } from "../support/lambda-bundle";

/**
 * The snappy codec a remote-write function starts with is logged once, and a fallback from a
 * preferred codec is a warning with its reason. The Lambda handler is bundled as the stack
 * bundles it and started in fresh processes of the runtime's Node with Lambda's flags, from
 * directories that hold what each case needs: the WebAssembly module beside the bundle or not
 * (or a module that is not the one the code drives), the native package installed, broken, or
 * absent (as on Lambda).
 */
const run = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), "snappy-codec-start-"));
let bundle: string;

beforeAll(async () => {
  bundle = join(root, "index.mjs");
  await build({
    entryPoints: [join(PROJECT_ROOT, ENTRIES.remoteWrite)],
    outfile: bundle,
    bundle: true,
    platform: "node",
    target: FUNCTION_DEFAULTS.target,
    format: "esm",
    mainFields: ["module", "main"],
    external: [...FUNCTION_DEFAULTS.external],
    banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
    logLevel: "error",
  });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface LogLine {
  level: string;
  msg: string;
  codec?: string;
  version?: string;
  reason?: string;
}

/** Starts the bundled handler in a directory prepared by `prepare`; its codec log lines. */
async function coldStart(name: string, prepare: (dir: string) => void): Promise<LogLine[]> {
  const dir = join(root, name);
  mkdirSync(dir);
  copyFileSync(bundle, join(dir, "index.mjs"));
  prepare(dir);
  const { stdout } = await run(
    lambdaNode().bin,
    [
      ...LAMBDA_NODE_FLAGS,
      "--input-type=module",
      "-e",
      "await import(process.argv[1]);",
      join(dir, "index.mjs"),
    ],
    {
      cwd: dir,
      env: {
        PATH: process.env.PATH ?? "",
        [ENV.awsRegion]: "eu-west-1",
        [ENV.streamName]: "gateway-stream",
        [ENV.apiKey]: "codec-start-key",
        AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
        AWS_SECRET_ACCESS_KEY: "example",
      },
      timeout: 20_000,
    },
  );
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as LogLine)
    .filter((l) => l.msg.startsWith("snappy codec"));
}

const wasmBeside = (dir: string) =>
  copyFileSync(join(PROJECT_ROOT, SNAPPY_WASM_PACKAGE_FILE), join(dir, SNAPPY_WASM_FILE));
/** A `snappy` package that is installed but whose binding does not load (as on another platform). */
const brokenNative = (dir: string) => {
  const pkg = join(dir, "node_modules", "snappy");
  mkdirSync(pkg, { recursive: true });
  writeFileSync(
    join(pkg, "package.json"),
    JSON.stringify({ name: "snappy", version: "7.4.3", main: "index.js" }),
  );
  writeFileSync(
    join(pkg, "index.js"),
    'throw new Error("Cannot find native binding for this platform\\nRequire stack:\\n- /somewhere/index.js");',
  );
};
const info = (codec: string, version: string) => ({ level: "INFO", msg: "snappy codec", codec, version });

describe("the snappy codec at a cold start of the bundled remote-write handler", () => {
  it("as on Lambda (module beside the bundle, no native package): wasm, no warning", async () => {
    const lines = await coldStart("lambda", wasmBeside);
    expect(lines).toEqual([expect.objectContaining(info("wasm", SNAPPY_WASM_VERSION))]);
  });

  it("with the native package installed: native, with its version, no warning", async () => {
    const lines = await coldStart("native", (dir) => {
      wasmBeside(dir);
      mkdirSync(join(dir, "node_modules"));
      symlinkSync(
        realpathSync(join(PROJECT_ROOT, "node_modules", "snappy")),
        join(dir, "node_modules", "snappy"),
      );
    });
    const { version } = JSON.parse(
      readFileSync(join(PROJECT_ROOT, "node_modules/snappy/package.json"), "utf8"),
    );
    expect(lines).toEqual([expect.objectContaining(info("native", version))]);
  });

  it("with the native package installed but not loadable: a warning with the reason (no stack), then wasm", async () => {
    const lines = await coldStart("native-broken", (dir) => {
      wasmBeside(dir);
      brokenNative(dir);
    });
    expect(lines).toEqual([
      expect.objectContaining({
        level: "WARN",
        msg: "snappy codec fallback",
        codec: "wasm",
        reason: "the native snappy package does not load here: Cannot find native binding for this platform",
      }),
      expect.objectContaining(info("wasm", SNAPPY_WASM_VERSION)),
    ]);
  });

  it("without the WebAssembly module: a warning naming what is missing, then the JavaScript codec", async () => {
    const lines = await coldStart("no-wasm", () => {});
    expect(lines).toEqual([
      expect.objectContaining({
        level: "WARN",
        msg: "snappy codec fallback",
        codec: "js",
        reason: `snappy-wasm ${SNAPPY_WASM_VERSION}: ${SNAPPY_WASM_FILE} is neither beside the bundle nor in the installed package`,
      }),
      expect.objectContaining(info("js", "built-in")),
    ]);
  });

  it("with a module that lacks the exports driven here (another version): a warning naming them", async () => {
    const lines = await coldStart("other-wasm", (dir) => {
      // the smallest valid module: it instantiates, and exports nothing
      writeFileSync(join(dir, SNAPPY_WASM_FILE), Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0, 0, 0]));
    });
    expect(lines).toEqual([
      expect.objectContaining({
        level: "WARN",
        codec: "js",
        reason: `snappy-wasm ${SNAPPY_WASM_VERSION}: the module's exports are not the ones driven here (no memory, no compress_raw, no decompress_raw, no __wbindgen_add_to_stack_pointer, no __wbindgen_malloc, no __wbindgen_free)`,
      }),
      expect.objectContaining(info("js", "built-in")),
    ]);
  });

  it("with both the native package and the module failing: both reasons, one line", async () => {
    const lines = await coldStart("both-broken", (dir) => {
      brokenNative(dir);
      writeFileSync(join(dir, SNAPPY_WASM_FILE), "not a module");
    });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: "WARN", codec: "js" });
    expect(lines[0]!.reason).toMatch(
      new RegExp(
        `^the native snappy package does not load here: Cannot find native binding for this platform; snappy-wasm ${SNAPPY_WASM_VERSION}: the module does not instantiate: [^\\n]+$`,
      ),
    );
    expect(lines[1]).toMatchObject(info("js", "built-in"));
  });
});

describe("the wiring the local server starts from", () => {
  it("logs the codec in use once, and no warning where the preferred one loads", () => {
    const written: string[] = [];
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    try {
      remoteWriteEndpointFromEnv({
        [ENV.awsRegion]: "eu-west-1",
        [ENV.streamName]: "gateway-stream",
        [ENV.apiKey]: "codec-start-key",
        [ENV.kinesisEndpoint]: "http://127.0.0.1:9",
      });
    } finally {
      spy.mockRestore();
    }
    const lines = written
      .flatMap((w) => w.split("\n"))
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as LogLine)
      .filter((l) => l.msg.startsWith("snappy codec"));
    const codec = snappyCodec();
    expect(codec.fallbackReason).toBeUndefined();
    expect(lines).toEqual([expect.objectContaining(info(codec.name, codec.version))]);
  });
});
