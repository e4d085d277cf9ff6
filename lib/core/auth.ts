import { createHash, timingSafeEqual } from "node:crypto";
import { ConfigError } from "./config";
import { ENV } from "./env-names";

/** A key that unlocks an endpoint, with the tenant whose data it writes (if any). */
export interface ApiKey {
  readonly key: string;
  readonly tenant?: string;
}

/** Where the currently valid keys come from (static config, or a secret that rotates). */
export interface KeySource {
  /** Every key valid right now (during rotation, the previous one too). */
  keys(): Promise<readonly ApiKey[]>;
}

export const BASIC_AUTH_USER = "apikey";
export const STS_API_KEY_HEADER = "sts-api-key";

/** Tenant names travel in partition keys, so they are kept short and plain. */
export const TENANT_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * What a key may hold: printable ASCII (0x20-0x7E), not starting or ending with a space. A key
 * travels as an HTTP header value (`sts-api-key`, `X-MIRROR-API-KEY`) and as a basic-auth
 * password; outside this range the two differ (a header carries Latin-1 bytes, basic auth
 * UTF-8) and a header cannot carry it at all (characters above 0xFF).
 */
const HEADER_SAFE_KEY = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;

/** Whether a key can be sent, and announced, as an HTTP header value (see HEADER_SAFE_KEY). */
export function isHeaderSafeKey(key: string): boolean {
  return HEADER_SAFE_KEY.test(key);
}

/**
 * Refuses a key that is not header-safe, with a ConfigError naming the variable (and the
 * entry of a list) but never the key.
 */
export function checkKey(variable: string, key: string, entry?: number): string {
  if (isHeaderSafeKey(key)) return key;
  const where = entry === undefined ? "" : ` entry ${entry}:`;
  const chars = [...key];
  const bad = chars.findIndex((ch) => ch < " " || ch > "~");
  const why =
    chars.length === 0
      ? "is empty"
      : bad >= 0
        ? `has a character outside printable ASCII (character ${bad + 1})`
        : "starts or ends with a space";
  throw new ConfigError(
    `${variable}:${where} the key ${why}; a key must be printable ASCII (0x20-0x7E, no space at either end) to be sent as an HTTP header value`,
    variable,
  );
}

/**
 * Refuses two key sets that share a key: the mirror announces its key to callers, so a key
 * that also unlocks ingest would hand out write access. The message names both variables.
 */
export function checkDistinctKeys(
  ingest: { variable: string; keys: readonly ApiKey[] },
  mirror: { variable: string; keys: readonly ApiKey[] },
): void {
  const shared = mirror.keys.some((m) => matchKey(m.key, ingest.keys) !== undefined);
  if (shared) {
    throw new ConfigError(
      `${mirror.variable}: must differ from the ingest key (${ingest.variable}); the mirror announces its key to callers`,
      mirror.variable,
    );
  }
}

/**
 * Pulls a presented key out of request headers: the `sts-api-key` header (or any
 * extra header names given), or basic auth with the username `apikey`.
 * Returns undefined when nothing usable is presented.
 */
export function presentedKey(
  header: (name: string) => string | undefined,
  extraHeaders: readonly string[] = [],
): string | undefined {
  for (const name of [STS_API_KEY_HEADER, ...extraHeaders]) {
    const value = header(name);
    if (value !== undefined && value.trim() !== "") return value.trim();
  }
  const authorization = header("authorization");
  if (authorization === undefined) return undefined;
  const match = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(authorization);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  if (decoded.slice(0, colon) !== BASIC_AUTH_USER) return undefined;
  const password = decoded.slice(colon + 1);
  return password === "" ? undefined : password;
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}

/**
 * Finds the key matching `presented`, comparing digests in constant time against every
 * valid key (no early exit), so neither content nor position leaks through timing.
 */
export function matchKey(presented: string, valid: readonly ApiKey[]): ApiKey | undefined {
  const p = digest(presented);
  let found: ApiKey | undefined;
  for (const candidate of valid) {
    if (timingSafeEqual(p, digest(candidate.key)) && found === undefined) found = candidate;
  }
  return found;
}

/** A fixed set of keys, e.g. from environment variables. */
export class StaticKeySource implements KeySource {
  private readonly list: readonly ApiKey[];
  constructor(keys: readonly ApiKey[]) {
    this.list = Object.freeze([...keys]);
  }
  async keys(): Promise<readonly ApiKey[]> {
    return this.list;
  }
}

/**
 * Parses `API_KEYS`: comma-separated entries, each `key` or `tenant=key`.
 * The key itself never appears in an error message.
 */
export function parseKeyList(variable: string, raw: string): ApiKey[] {
  const out: ApiKey[] = [];
  raw.split(",").forEach((entry, index) => {
    const item = entry.trim();
    if (item === "") return;
    const eq = item.indexOf("=");
    if (eq < 0) {
      out.push({ key: checkKey(variable, item, index + 1) });
      return;
    }
    const tenant = item.slice(0, eq).trim();
    const key = item.slice(eq + 1).trim();
    if (!TENANT_PATTERN.test(tenant)) {
      throw new ConfigError(
        `${variable}: entry ${index + 1} has an invalid tenant name (expected ${TENANT_PATTERN})`,
      );
    }
    if (key === "") throw new ConfigError(`${variable}: entry ${index + 1} has an empty key`);
    out.push({ key: checkKey(variable, key, index + 1), tenant });
  });
  return out;
}

/**
 * Keys from the environment: `API_KEYS` (list, with optional tenants) or `API_KEY` (one key).
 * Returns undefined when neither is set. A key that is not header-safe is a ConfigError.
 */
export function keysFromEnv(env: Record<string, string | undefined>): ApiKey[] | undefined {
  const list = env[ENV.apiKeys]?.trim();
  if (list) {
    const keys = parseKeyList(ENV.apiKeys, list);
    if (keys.length === 0) throw new ConfigError(`${ENV.apiKeys}: no keys given`);
    return keys;
  }
  const single = env[ENV.apiKey]?.trim();
  return single ? [{ key: checkKey(ENV.apiKey, single) }] : undefined;
}
