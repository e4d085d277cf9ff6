import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Where a running `npm start` leaves the address of its embedded Kinesis and stream, so
 * `npm run tail` in another terminal can find them. Holds no key.
 */
export interface LocalState {
  kinesisEndpoint?: string;
  streamName: string;
  region: string;
  url: string;
  pid: number;
}

const dir = join(process.cwd(), ".local");
const file = join(dir, "gateway.json");

export function writeLocalState(state: LocalState): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, `${JSON.stringify(state, null, 2)}\n`);
}

export function clearLocalState(): void {
  rmSync(file, { force: true });
}

export function readLocalState(): LocalState | undefined {
  try {
    const state = JSON.parse(readFileSync(file, "utf8")) as LocalState;
    process.kill(state.pid, 0); // still running?
    return state;
  } catch {
    return undefined;
  }
}
