import { randomBytes } from "node:crypto";
import {
  chmodSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { isHeaderSafeKey } from "../../lib/core/auth";
import { ConfigError } from "../../lib/core/config";

/**
 * What `npm start` keeps in `.local/` (git-ignored): for each running server, the address of
 * its embedded Kinesis and stream (gateways/<port>.json, no key, so `npm run tail` in another
 * terminal can find them; several servers on other ports keep theirs apart), and the keys it
 * generated (ingest-key, mirror-key; mode 0600), so a restart keeps them and a configured
 * Prometheus and StackState keep working.
 */
export interface LocalState {
  kinesisEndpoint?: string;
  streamName: string;
  region: string;
  url: string;
  port: number;
  pid: number;
  /** Epoch ms the server started. */
  startedAt: number;
}

/** The `.local` folder of the working directory. */
export function localStateDir(): string {
  return join(process.cwd(), ".local");
}

const gatewaysDir = (dir: string) => join(dir, "gateways");
const stateFile = (dir: string, port: number) => join(gatewaysDir(dir), `${port}.json`);

export function writeLocalState(state: LocalState, dir = localStateDir()): void {
  mkdirSync(gatewaysDir(dir), { recursive: true, mode: 0o700 });
  writeFileSync(stateFile(dir, state.port), `${JSON.stringify(state, null, 2)}\n`);
}

/** Removes this process's own entry (another server on the same port since then keeps its). */
export function clearLocalState(port: number, dir = localStateDir()): void {
  const state = readState(stateFile(dir, port));
  if (state === undefined || state.pid === process.pid) rmSync(stateFile(dir, port), { force: true });
}

/** The gateway the local tools talk to: the one on PORT when it is set, else the one started last. */
export function localGatewayState(env: NodeJS.ProcessEnv = process.env): LocalState | undefined {
  const port = env.PORT === undefined || env.PORT === "" ? undefined : Number(env.PORT);
  return readLocalState(Number.isInteger(port) ? port : undefined);
}

/**
 * The running local gateway: the one on `port` when given (e.g. PORT), else the one started
 * last among those still running. Entries of servers no longer running are ignored.
 */
export function readLocalState(port?: number, dir = localStateDir()): LocalState | undefined {
  if (port !== undefined) {
    const state = readState(stateFile(dir, port));
    return state !== undefined && running(state.pid) ? state : undefined;
  }
  let names: string[];
  try {
    names = readdirSync(gatewaysDir(dir));
  } catch {
    return undefined;
  }
  let latest: LocalState | undefined;
  for (const name of names) {
    if (!/^\d+\.json$/.test(name)) continue;
    const state = readState(join(gatewaysDir(dir), name));
    if (state === undefined || !running(state.pid)) continue;
    if (latest === undefined || state.startedAt > latest.startedAt) latest = state;
  }
  return latest;
}

function readState(file: string): LocalState | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as LocalState;
  } catch {
    return undefined;
  }
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it runs, as another user
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The keys `npm start` generates when none is configured, one file each. */
export type GeneratedKeyName = "ingest-key" | "mirror-key";

/** A new key: 32 random bytes, base64url (43 characters, header-safe). */
export function newKey(): string {
  return randomBytes(32).toString("base64url");
}

/**
 * The generated key kept in `dir/name`: read when the file is there, else generated and
 * written (mode 0600, created atomically: of two starts at once, both end up with the key
 * that was written first). A file readable by others is narrowed to 0600; a file whose
 * content is no usable key is a ConfigError naming it (delete it for a new key).
 */
export function keptKey(dir: string, name: GeneratedKeyName): { key: string; file: string } {
  const file = join(dir, name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const existing = readKeyFile(file);
  if (existing !== undefined) return { key: existing, file };
  const temp = join(dir, `.${name}.${process.pid}.${randomBytes(4).toString("hex")}`);
  writeFileSync(temp, `${newKey()}\n`, { mode: 0o600, flag: "wx" });
  try {
    linkSync(temp, file); // fails when another start wrote the key in the meantime
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  } finally {
    unlinkSync(temp);
  }
  const key = readKeyFile(file);
  if (key === undefined) throw new ConfigError(`${file}: could not be read back after writing it`);
  return { key, file };
}

function readKeyFile(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  const key = text.trim();
  if (!isHeaderSafeKey(key)) {
    throw new ConfigError(`${file}: holds no usable key (printable ASCII); delete it to generate a new one`);
  }
  return key;
}
