import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The flags the Lambda Node.js 22 runtime passes to node. */
export const LAMBDA_NODE_FLAGS = ["--no-experimental-require-module", "--no-experimental-detect-module"];

const RESULT = "RESULT ";

export interface BundleRun {
  /** What the handler returned, per event. */
  readonly results: unknown[];
  /** Every other line the process wrote to stdout: what Lambda hands to CloudWatch Logs. */
  readonly stdout: string[];
  readonly stderr: string;
}

/**
 * Imports a function bundle in a fresh Node process started with Lambda's flags, as the
 * runtime imports it, and calls its handler with each event in turn (one warm instance), with
 * a context whose remaining time counts down from `remainingMs`. `env` is the whole
 * environment of the process.
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
      process.execPath,
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
