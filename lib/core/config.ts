/**
 * Typed readers for environment variables. Each failure names the variable; values are
 * echoed only for non-secret variables (callers never pass keys through these).
 */
export type Env = Record<string, string | undefined>;

/** A missing or malformed setting; the message names it (`key` too, when the caller gives one). */
export class ConfigError extends Error {
  constructor(
    message: string,
    readonly key?: string,
  ) {
    super(message);
    this.name = "ConfigError";
  }
}

function raw(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

export function intVar(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!/^-?\d+$/.test(value))
    throw new ConfigError(`${name}: expected an integer, got "${value.slice(0, 40)}"`);
  const n = Number(value);
  if (n < min || n > max) throw new ConfigError(`${name}: must be between ${min} and ${max}, got ${n}`);
  return n;
}

export function boolVar(env: Env, name: string, fallback: boolean): boolean {
  const value = raw(env, name)?.toLowerCase();
  if (value === undefined) return fallback;
  if (value === "true" || value === "1" || value === "yes") return true;
  if (value === "false" || value === "0" || value === "no") return false;
  throw new ConfigError(`${name}: expected true or false, got "${value.slice(0, 20)}"`);
}

export function enumVar<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(`${name}: expected one of ${allowed.join(", ")}, got "${value.slice(0, 40)}"`);
  }
  return value as T;
}

export function stringVar(env: Env, name: string): string | undefined {
  return raw(env, name);
}
