import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  clearLocalState,
  type LocalState,
  readLocalState,
  writeLocalState,
} from "../../functions/local/state";

/** What each `npm start` leaves in .local/: one entry per server, kept apart by port. */
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dir(): string {
  const d = mkdtempSync(join(tmpdir(), "gateway-state-"));
  dirs.push(d);
  return d;
}

const state = (port: number, startedAt: number, pid = process.pid): LocalState => ({
  streamName: `stream-${port}`,
  region: "us-east-1",
  url: `http://127.0.0.1:${port}`,
  port,
  pid,
  startedAt,
});

/** The pid of a process that has ended. */
async function endedPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""]);
  await new Promise((r) => child.once("exit", r));
  return child.pid!;
}

describe("local gateway state", () => {
  it("two servers on two ports: each keeps its entry; stopping one leaves the other", () => {
    const d = dir();
    writeLocalState(state(9900, 1), d);
    writeLocalState(state(9901, 2), d);
    expect(readLocalState(undefined, d)?.port).toBe(9901);
    expect(readLocalState(9900, d)?.streamName).toBe("stream-9900");
    clearLocalState(9901, d);
    expect(readLocalState(undefined, d)?.port).toBe(9900);
    expect(readLocalState(9901, d)).toBeUndefined();
  });

  it("ignores entries of servers that no longer run, and never clears another process's entry", async () => {
    const d = dir();
    const dead = await endedPid();
    writeLocalState(state(9900, 5, dead), d);
    writeLocalState(state(9901, 1), d);
    expect(readLocalState(undefined, d)?.port).toBe(9901);
    expect(readLocalState(9900, d)).toBeUndefined();
    // an entry written by another process (a newer server on the same port) stays
    writeLocalState(state(9902, 1, process.ppid), d);
    clearLocalState(9902, d);
    expect(readdirSync(join(d, "gateways")).sort()).toEqual(["9900.json", "9901.json", "9902.json"]);
  });

  it("no state at all: no gateway", () => {
    expect(readLocalState(undefined, dir())).toBeUndefined();
  });
});
