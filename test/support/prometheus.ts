import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "../../functions/local/ports";
import { stopChild } from "./process";

/**
 * A real Prometheus for tests: Debian's /usr/bin/prometheus started on 127.0.0.1 with a
 * free port in a temp dir, and promtool to backfill known data. Reusable by any suite.
 */

export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? "/usr/bin/prometheus";
export const PROMTOOL_BIN = process.env.PROMTOOL_BIN ?? "/usr/bin/promtool";

export interface RunningPrometheus {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** What Prometheus wrote to stdout/stderr so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
  /** Ends the process at once (SIGKILL: no flush of its remote-write queue), as a crash would. */
  kill(): Promise<void>;
}

export interface StartOptions {
  /** prometheus.yml content; may use `{{PORT}}` for the server's own port (self-scrape). */
  readonly configYaml: string;
  /** TSDB directory (e.g. filled by backfill; the caller removes it); a fresh one in the temp dir otherwise. */
  readonly dataDir?: string;
  readonly extraFlags?: readonly string[];
  readonly readyTimeoutMs?: number;
}

/**
 * Whether the suite can run. Without the binary: in CI (CI=true) this throws, so the suite
 * fails loudly; elsewhere it warns with the reason and returns false (callers skip).
 */
export function prometheusAvailable(): boolean {
  const missing = [PROMETHEUS_BIN, PROMTOOL_BIN].filter((bin) => !existsSync(bin));
  if (missing.length === 0) return true;
  const reason = `${missing.join(" and ")} not found (Debian: apt-get install prometheus)`;
  if (process.env.CI === "true") throw new Error(`Prometheus suites cannot run in CI: ${reason}`);
  console.warn(`Skipping the Prometheus suite: ${reason}`);
  return false;
}

/** The version of the Prometheus binary, e.g. "2.42.0" (from `prometheus --version`). */
export function prometheusVersion(): string {
  const out = execFileSync(PROMETHEUS_BIN, ["--version"], { encoding: "utf8" });
  const found = /version (\d+\.\d+\.\d+)/.exec(out);
  if (!found) throw new Error(`cannot read the version of ${PROMETHEUS_BIN}: ${out.slice(0, 200)}`);
  return found[1]!;
}

/** Whether a Prometheus of this version parses quoted names in PromQL (`{"service.name"="x"}`): 3.0 and later. */
export function parsesQuotedNames(version: string): boolean {
  return Number(version.split(".")[0]) >= 3;
}

/** A port that was free a moment ago (Prometheus cannot listen on port 0 and report it). */
export { freePort };

/** A prometheus.yml that scrapes the server itself every second (`{{PORT}}` is its own port). */
export const SELF_SCRAPE_CONFIG = [
  "global:",
  "  scrape_interval: 1s",
  "scrape_configs:",
  "  - job_name: prometheus",
  "    static_configs:",
  "      - targets: ['127.0.0.1:{{PORT}}']",
  "",
].join("\n");

export async function makeTempDir(prefix = "prom-test-"): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Writes an OpenMetrics text to a file and backfills it into TSDB blocks under `dataDir`. */
export async function backfillOpenMetrics(text: string, dataDir: string): Promise<void> {
  const dir = await makeTempDir("prom-backfill-");
  const file = join(dir, "data.om");
  await writeFile(file, text);
  try {
    await promisify(execFile)(PROMTOOL_BIN, ["tsdb", "create-blocks-from", "openmetrics", file, dataDir], {
      maxBuffer: 16 * 1024 * 1024,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function startPrometheus(options: StartOptions): Promise<RunningPrometheus> {
  const home = await makeTempDir();
  const dataDir = options.dataDir ?? join(home, "data");
  let lastError: unknown;
  // The free port can be taken between probing and binding; try a few times.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      return await launch(options, home, dataDir, port);
    } catch (err) {
      lastError = err;
    }
  }
  await rm(home, { recursive: true, force: true });
  throw lastError;
}

async function launch(options: StartOptions, home: string, dataDir: string, port: number) {
  const configFile = join(home, "prometheus.yml");
  await writeFile(configFile, options.configYaml.replaceAll("{{PORT}}", String(port)));
  const child = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${dataDir}`,
      `--web.listen-address=127.0.0.1:${port}`,
      ...(options.extraFlags ?? []),
    ],
    { cwd: home, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-20_000);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await stopChild(child);
    await rm(home, { recursive: true, force: true });
  };
  try {
    await waitReady(url, child, options.readyTimeoutMs ?? 30_000, () => output);
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  const kill = () => stopChild(child, "SIGKILL");
  return { url, port, dataDir, output: () => output, stop, kill };
}

async function waitReady(url: string, child: ChildProcess, timeoutMs: number, output: () => string) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`prometheus exited with ${child.exitCode}:\n${output().slice(-2000)}`);
    }
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`prometheus at ${url} not ready within ${timeoutMs} ms:\n${output().slice(-2000)}`);
}
