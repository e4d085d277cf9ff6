import { type ApiKey, type KeySource, TENANT_PATTERN } from "../core/auth";
import type { Env } from "../core/config";
import type { Logger } from "../core/log";
import { CachedSecret } from "./cached-secret";
import { type SecretStringReader, SecretsManagerReader } from "./secrets-manager";

/**
 * Keys held in an AWS Secrets Manager secret. The secret string is either the key itself
 * or JSON `{"key": "...", "tenant": "..."}`. Both the AWSCURRENT and the AWSPREVIOUS
 * versions are accepted, so callers keep working while a rotation propagates.
 * Values are cached for `cacheSeconds`; when a refresh fails the last good keys stay.
 */
export class SecretKeySource implements KeySource {
  private readonly secret: CachedSecret<readonly ApiKey[]>;

  constructor(
    private readonly reader: SecretStringReader,
    private readonly secretId: string,
    cacheSeconds: number,
    log: Logger,
    now: () => number = Date.now,
  ) {
    this.secret = new CachedSecret(
      () => this.read(),
      cacheSeconds,
      log,
      {
        keptCached: "key refresh failed; keeping the cached keys",
        unreadable: "could not read the API key secret",
      },
      now,
    );
  }

  /** Keys read with the lean Secrets Manager client (region from the ARN; credentials from `env`). */
  static fromArn(
    secretId: string,
    cacheSeconds: number,
    log: Logger,
    env: Env = process.env,
  ): SecretKeySource {
    return new SecretKeySource(
      SecretsManagerReader.forSecret(secretId, { env, log }),
      secretId,
      cacheSeconds,
      log,
    );
  }

  keys(): Promise<readonly ApiKey[]> {
    return this.secret.value();
  }

  private async read(): Promise<readonly ApiKey[]> {
    // both versions asked at once: one round trip on a cold start instead of two
    const previousAsked = this.fetch("AWSPREVIOUS").catch((err: unknown) => {
      if (err instanceof Error && err.name === "ResourceNotFoundException") return undefined;
      throw err;
    });
    previousAsked.catch(() => {}); // awaited below, unless the current version fails first
    const current = await this.fetch("AWSCURRENT");
    const previous = await previousAsked;
    if (current === undefined) throw new Error("secret has no AWSCURRENT string value");
    const keys = previous !== undefined && previous.key !== current.key ? [current, previous] : [current];
    return Object.freeze(keys);
  }

  private async fetch(stage: string): Promise<ApiKey | undefined> {
    const text = await this.reader.secretString(this.secretId, stage);
    return text === undefined ? undefined : parseSecret(text);
  }
}

/** Reads a secret string: a bare key, or JSON with `key` and an optional `tenant`. */
export function parseSecret(text: string): ApiKey {
  const trimmed = text.trim();
  if (trimmed.startsWith("{")) {
    const parsed = JSON.parse(trimmed) as { key?: unknown; apiKey?: unknown; tenant?: unknown };
    const key = typeof parsed.key === "string" ? parsed.key : parsed.apiKey;
    if (typeof key !== "string" || key === "") throw new Error("secret JSON has no string field `key`");
    if (parsed.tenant === undefined) return { key };
    if (typeof parsed.tenant !== "string" || !TENANT_PATTERN.test(parsed.tenant)) {
      throw new Error("secret JSON has an invalid `tenant`");
    }
    return { key, tenant: parsed.tenant };
  }
  if (trimmed === "") throw new Error("secret is empty");
  return { key: trimmed };
}
