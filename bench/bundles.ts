import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";
import { fmt, median, table } from "./measure";

/**
 * Part 5: Lambda start cost. Each function's handler bundled as the stack bundles it
 * (esbuild, minified, ESM, platform node, target node22, @aws-sdk/* left to the runtime),
 * then imported in fresh Node processes with the environment the handler needs. The
 * bundles run from a directory where only the AWS SDK can be resolved (as on Lambda), so
 * the optional native snappy package is absent and the JavaScript codec is what loads.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), "..");

export interface BundleRow {
  fn: string;
  bytes: number;
  initMs: number;
  /** Of that, importing the AWS SDK packages the bundle leaves external, alone. */
  sdkMs: number;
  sdk: string[];
  runs: number;
}

const FUNCTIONS = [
  { fn: "remote-write", entry: "functions/remote-write/handler.ts" },
  { fn: "mirror", entry: "functions/mirror/handler.ts" },
];

const HANDLER_ENV = {
  KINESIS_STREAM_NAME: "bench-stream",
  API_KEY: "bench-api-key-0123456789",
  MIRROR_API_KEY: "bench-mirror-key-0123456789",
  AWS_REGION: "us-east-1",
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  LOG_LEVEL: "error",
};

export async function measureBundles(runs = 7): Promise<BundleRow[]> {
  const dir = join(tmpdir(), `gateway-bench-bundles-${process.pid}`);
  mkdirSync(join(dir, "node_modules"), { recursive: true });
  // only the SDK (and what it depends on, resolved from its real path) is reachable
  symlinkSync(join(root, "node_modules", "@aws-sdk"), join(dir, "node_modules", "@aws-sdk"));
  const rows: BundleRow[] = [];
  try {
    for (const f of FUNCTIONS) {
      const outfile = join(dir, `${f.fn}.mjs`);
      await build({
        entryPoints: [join(root, f.entry)],
        outfile,
        bundle: true,
        minify: true,
        platform: "node",
        target: "node22",
        format: "esm",
        external: ["@aws-sdk/*"],
        banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
        logLevel: "error",
      });
      const bytes = statSync(outfile).size;
      const sdk = [
        ...new Set([...readFileSync(outfile, "utf8").matchAll(/from"(@aws-sdk\/[^"]+)"/g)].map((m) => m[1]!)),
      ];
      const timeImport = (code: string) => {
        const script = `const t0=performance.now();${code}process.stdout.write(String(performance.now()-t0));`;
        const res = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
          cwd: dir,
          env: { PATH: process.env.PATH ?? "", ...HANDLER_ENV },
          encoding: "utf8",
          timeout: 30_000,
        });
        if (res.status !== 0)
          throw new Error(`${f.fn} bundle failed to initialise: ${res.stderr.slice(0, 2000)}`);
        return Number(res.stdout.trim());
      };
      const times: number[] = [];
      const sdkTimes: number[] = [];
      for (let i = 0; i < runs; i++) {
        times.push(
          timeImport(
            `const m=await import(${JSON.stringify(pathToFileURL(outfile).href)});` +
              "if(typeof m.handler!=='function')throw new Error('no handler export');",
          ),
        );
        sdkTimes.push(timeImport(sdk.map((p) => `await import(${JSON.stringify(p)});`).join("")));
      }
      rows.push({ fn: f.fn, bytes, initMs: median(times), sdkMs: median(sdkTimes), sdk, runs });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

export function bundleTable(rows: readonly BundleRow[]): string {
  return table(
    [
      "function",
      "bundle (minified)",
      "module init, median of fresh processes",
      "of which the external SDK alone",
      "target",
    ],
    rows.map((r) => [
      r.fn,
      `${fmt(r.bytes / 1024)} KB`,
      `${fmt(r.initMs)} ms (${r.runs} runs)`,
      `${fmt(r.sdkMs)} ms (${r.sdk.join(", ") || "none"})`,
      `≤ 500 KB, ≤ 100 ms: ${r.bytes <= 500 * 1024 && r.initMs <= 100 ? "met" : "missed"}`,
    ]),
  );
}
