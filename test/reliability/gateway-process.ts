import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { stopChild } from "../support/process";

/** A local gateway running in a child process (see gateway-child.ts). */
export interface GatewayProcess {
  readonly url: string;
  readonly apiKey: string;
  readonly pid: number;
  /** What the child wrote to stderr (the tail), for failure messages. */
  stderr(): string;
  stop(): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));

export async function startGatewayProcess(
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<GatewayProcess> {
  const flags = process.env.GATEWAY_CPU_PROF
    ? [`--cpu-prof`, `--cpu-prof-dir=${process.env.GATEWAY_CPU_PROF}`]
    : [];
  const child: ChildProcess = spawn(
    process.execPath,
    [...flags, "--import", "tsx", join(here, "gateway-child.ts")],
    {
      env: { ...process.env, PORT: "0", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-8000);
  });
  const stop = () => stopChild(child);
  try {
    const first = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`gateway child did not start: ${stderr}`)), timeoutMs);
      child.once("exit", (code) => reject(new Error(`gateway child exited with ${code}: ${stderr}`)));
      const lines = createInterface({ input: child.stdout! });
      lines.once("line", (line) => {
        clearTimeout(timer);
        resolve(line);
      });
    });
    const info = JSON.parse(first) as { url: string; apiKey: string; pid: number };
    // keep draining stdout (EMF metrics or logs) so the child never blocks on a full pipe
    child.stdout?.resume();
    return { ...info, stderr: () => stderr, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
