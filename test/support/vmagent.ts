import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "../../functions/local/ports";
import { stopChild } from "./process";

export const VMAGENT_BIN = process.env.VMAGENT_BIN ?? "/usr/bin/vmagent";

/** Without vmagent: fail in CI, warn and skip elsewhere (never silently). */
export function vmagentAvailable(): boolean {
  if (existsSync(VMAGENT_BIN)) return true;
  const reason = `${VMAGENT_BIN} not found (Debian: apt-get install victoria-metrics)`;
  if (process.env.CI === "true") throw new Error(`vmagent suites cannot run in CI: ${reason}`);
  console.warn(`Skipping the vmagent checks: ${reason}`);
  return false;
}

/**
 * vmagent as a remote_write client: scrapes `scrapeYaml` targets and writes to `url`
 * with extra HTTP headers (Debian's Prometheus 2.42 cannot send custom headers).
 */
export async function startVmagent(opts: {
  scrapeYaml: string;
  url: string;
  headers: string;
  labels?: string;
}) {
  const home = await mkdtemp(join(tmpdir(), "vmagent-"));
  const config = join(home, "scrape.yml");
  await writeFile(config, opts.scrapeYaml);
  const port = await freePort();
  const child: ChildProcess = spawn(
    VMAGENT_BIN,
    [
      `-promscrape.config=${config}`,
      `-remoteWrite.url=${opts.url}`,
      `-remoteWrite.headers=${opts.headers}`,
      ...(opts.labels ? [`-remoteWrite.label=${opts.labels}`] : []),
      `-remoteWrite.tmpDataPath=${join(home, "buffer")}`,
      "-remoteWrite.flushInterval=1s",
      `-httpListenAddr=127.0.0.1:${port}`,
      "-loggerLevel=ERROR",
    ],
    { cwd: home, stdio: ["ignore", "ignore", "pipe"] },
  );
  let output = "";
  child.stderr?.on("data", (c: Buffer) => {
    output = (output + c.toString()).slice(-10_000);
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor("vmagent", async () => (await fetch(`${url}/health`)).ok, 20_000);
  return {
    url,
    output: () => output,
    async stop() {
      await stopChild(child, "SIGINT");
      await rm(home, { recursive: true, force: true });
    },
  };
}
