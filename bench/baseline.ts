import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

/**
 * The code to compare against: BENCH_BASELINE names another checkout of this project
 * (with its node_modules, e.g. a `git worktree` at an earlier commit). Where it is set,
 * the hot path, the side-by-side with Prometheus, the stream economics and the Lambda
 * start cost measure the baseline's code too, in the same run and the same rounds, and
 * the report puts its figures beside this checkout's ("before" / "after").
 */
export interface Baseline {
  readonly dir: string;
  /** e.g. `before (03a9fe4)`. */
  readonly label: string;
  /** Imports a module of the baseline's tree by its path inside the tree. */
  load<T>(path: string): Promise<T>;
}

export function baselineFromEnv(env: NodeJS.ProcessEnv = process.env): Baseline | undefined {
  const given = env.BENCH_BASELINE;
  if (!given) return undefined;
  const dir = resolve(given);
  for (const needed of ["lib/ingest/ingest.ts", "node_modules"]) {
    if (!existsSync(join(dir, needed)))
      throw new Error(
        `BENCH_BASELINE=${given}: no ${needed} there (a checkout of this project with node_modules)`,
      );
  }
  let rev = "";
  try {
    rev = execFileSync("git", ["-C", dir, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
  } catch {
    rev = dir;
  }
  return {
    dir,
    label: `before (${rev})`,
    load: <T>(path: string) => import(pathToFileURL(join(dir, path)).href) as Promise<T>,
  };
}
