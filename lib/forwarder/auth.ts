import type { AuthConfig } from "./config";
import { type Authorizer, NO_AUTH, type OutgoingRequest } from "./destination";

/**
 * Where a credential comes from: a fixed value (local runs) or a secret read on demand
 * and cached (deployments). Values never reach a log line or an error message.
 */
export interface CredentialSource {
  value(): Promise<Credential>;
  refresh?(): void;
}

/** What a secret holds: the password, token or header value; basic auth may also name its user. */
export interface Credential {
  readonly username?: string;
  readonly secret: string;
}

export function staticCredential(credential: Credential): CredentialSource {
  return { value: async () => credential };
}

/**
 * Reads a secret string: the value itself, or JSON with one of `password`, `token`,
 * `value` or `key` (and optionally `username`).
 */
export function parseCredential(text: string): Credential {
  const trimmed = text.trim();
  if (trimmed.startsWith("{")) {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(trimmed) as Record<string, unknown>;
    } catch {
      throw new Error("the destination secret starts with { but is not JSON");
    }
    const secret = [parsed.password, parsed.token, parsed.value, parsed.key].find(
      (v) => typeof v === "string" && v !== "",
    );
    if (typeof secret !== "string") {
      throw new Error(
        "the destination secret's JSON has none of the string fields password, token, value, key",
      );
    }
    return typeof parsed.username === "string" ? { username: parsed.username, secret } : { secret };
  }
  if (trimmed === "") throw new Error("the destination secret is empty");
  return { secret: trimmed };
}

/** Authorizers for none, basic, bearer and a named header (SigV4 lives in sigv4.ts). */
export function credentialAuthorizer(auth: AuthConfig, source: CredentialSource | undefined): Authorizer {
  if (auth.kind === "none") return NO_AUTH;
  if (source === undefined) throw new Error(`auth ${auth.kind} needs a credential source`);
  const refresh = () => source.refresh?.();
  switch (auth.kind) {
    case "basic":
      return {
        refresh,
        headers: async () => {
          const c = await source.value();
          const user = c.username ?? auth.username ?? "";
          return { authorization: `Basic ${Buffer.from(`${user}:${c.secret}`).toString("base64")}` };
        },
      };
    case "bearer":
      return { refresh, headers: async () => ({ authorization: `Bearer ${(await source.value()).secret}` }) };
    case "header":
      return {
        refresh,
        headers: async () => ({ [auth.headerName!.toLowerCase()]: (await source.value()).secret }),
      };
    default:
      throw new Error(`auth ${auth.kind} is not a credential scheme`);
  }
}

/** The inline credential of a config (local runs), if it has one. */
export function inlineCredential(auth: AuthConfig): Credential | undefined {
  switch (auth.kind) {
    case "basic":
      return auth.password ? { secret: auth.password } : undefined;
    case "bearer":
      return auth.token ? { secret: auth.token } : undefined;
    case "header":
      return auth.headerValue ? { secret: auth.headerValue } : undefined;
    default:
      return undefined;
  }
}

export type { OutgoingRequest };
