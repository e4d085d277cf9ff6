import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ChildAnswer, ChildJob, ChildMemory } from "./mirror-child";
import { stopChild } from "./process";

/**
 * Mirror requests in a fresh Node process with a heap limit (a Lambda's 512 MB by default), so
 * that an answer the mirror would hold whole crashes that process instead of passing: see
 * mirror-child.ts for what runs there and what it reports.
 */

export interface ChildRun {
  readonly answers: ChildAnswer[];
  readonly memory: ChildMemory;
  readonly ms: number;
  /** Everything else the process wrote to stdout (the mirror's logs and metrics). */
  readonly stdout: string;
}

/** How the process ended, when it did not report: e.g. killed by its heap limit. */
export class ChildFailed extends Error {
  constructor(
    readonly code: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly stderr: string,
  ) {
    super(`mirror child exited with ${signal ?? code}: ${stderr.slice(-1500)}`);
    this.name = "ChildFailed";
  }
}

const here = dirname(fileURLToPath(import.meta.url));

export async function runMirrorChild(
  job: ChildJob,
  options: { heapMb?: number; timeoutMs?: number; nodeFlags?: readonly string[] } = {},
): Promise<ChildRun> {
  const child = spawn(
    process.execPath,
    [
      `--max-old-space-size=${options.heapMb ?? 512}`,
      // semi-spaces of 16 MB, Node 20's and 22's default: Node 24 sizes them from the heap
      // (64 MB here, a heap limit of 704 MB for 512), and the bounds were set for the former
      "--max-semi-space-size=16",
      ...(options.nodeFlags ?? []),
      "--import",
      "tsx",
      join(here, "mirror-child.ts"),
    ],
    {
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
        MIRROR_CHILD_JOB: JSON.stringify(job),
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-8000);
  });
  const timer = setTimeout(() => void stopChild(child, "SIGKILL"), options.timeoutMs ?? 60_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once("exit", (c, s) => resolve([c, s])),
  );
  clearTimeout(timer);
  const lines = stdout.split("\n");
  const result = lines.find((l) => l.startsWith("RESULT "));
  if (code !== 0 || result === undefined) throw new ChildFailed(code, signal, stderr);
  const parsed = JSON.parse(result.slice("RESULT ".length)) as Omit<ChildRun, "stdout">;
  return { ...parsed, stdout: lines.filter((l) => !l.startsWith("RESULT ")).join("\n") };
}
