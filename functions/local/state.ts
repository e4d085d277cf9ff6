import { randomBytes } from "node:crypto";
import {
  chmodSync,
  linkSync,
  mkdirSync,
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
 * What `npm start` keeps in `.local/` (git-ignored): the address of its embedded Kinesis and
 * stream (gateway.json, no key, so `npm run tail` in another terminal can find them), and the
 * keys it generated (ingest-key, mirror-key; mode 0600), so a restart keeps them and a
 * configured Prometheus and StackState keep working.
 */
export interface LocalState {
  kinesisEndpoint?: string;
  streamName: string;
  region: string;
  url: string;
  pid: number;
}

/** The `.local` folder of the working directory. */
export function localStateDir(): string {
  return join(process.cwd(), ".local");
}

const stateFile = () => join(localStateDir(), "gateway.json");

export function writeLocalState(state: LocalState): void {
  mkdirSync(localStateDir(), { recursive: true, mode: 0o700 });
  writeFileSync(stateFile(), `${JSON.stringify(state, null, 2)}\n`);
}

export function clearLocalState(): void {
  rmSync(stateFile(), { force: true });
}

export function readLocalState(): LocalState | undefined {
  try {
    const state = JSON.parse(readFileSync(stateFile(), "utf8")) as LocalState;
    process.kill(state.pid, 0); // still running?
    return state;
  } catch {
    return undefined;
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
