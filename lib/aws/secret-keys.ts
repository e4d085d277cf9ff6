import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { type ApiKey, type KeySource, TENANT_PATTERN } from "../core/auth";
import type { Logger } from "../core/log";

/**
 * Keys held in an AWS Secrets Manager secret. The secret string is either the key itself
 * or JSON `{"key": "...", "tenant": "..."}`. Both the AWSCURRENT and the AWSPREVIOUS
 * versions are accepted, so callers keep working while a rotation propagates.
 * Values are cached for `cacheSeconds`; when a refresh fails the last good keys stay.
 */
export class SecretKeySource implements KeySource {
  private cached: readonly ApiKey[] | undefined;
  private fetchedAt = 0;
  private inflight: Promise<readonly ApiKey[]> | undefined;

  constructor(
    private readonly client: Pick<SecretsManagerClient, "send">,
    private readonly secretId: string,
    private readonly cacheSeconds: number,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  static fromArn(secretId: string, cacheSeconds: number, log: Logger): SecretKeySource {
    return new SecretKeySource(new SecretsManagerClient({}), secretId, cacheSeconds, log);
  }

  async keys(): Promise<readonly ApiKey[]> {
    const fresh = this.cached !== undefined && this.now() - this.fetchedAt < this.cacheSeconds * 1000;
    if (fresh) return this.cached!;
    this.inflight ??= this.refresh().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async refresh(): Promise<readonly ApiKey[]> {
    try {
      // both versions asked at once: one round trip on a cold start instead of two
      const previousAsked = this.fetch("AWSPREVIOUS").catch((err: unknown) => {
        if (err instanceof ResourceNotFoundException) return undefined;
        throw err;
      });
      previousAsked.catch(() => {}); // awaited below, unless the current version fails first
      const current = await this.fetch("AWSCURRENT");
      const previous = await previousAsked;
      if (current === undefined) throw new Error("secret has no AWSCURRENT string value");
      const keys = previous !== undefined && previous.key !== current.key ? [current, previous] : [current];
      this.cached = Object.freeze(keys);
      this.fetchedAt = this.now();
      return this.cached;
    } catch (err) {
      const reason = err instanceof Error ? err.name : "unknown error";
      if (this.cached !== undefined) {
        this.log.warn("key refresh failed; keeping the cached keys", { reason });
        this.fetchedAt = this.now();
        return this.cached;
      }
      this.log.error("could not read the API key secret", { reason });
      throw new Error(`could not read the API key secret (${reason})`);
    }
  }

  private async fetch(stage: string): Promise<ApiKey | undefined> {
    const out = await this.client.send(
      new GetSecretValueCommand({ SecretId: this.secretId, VersionStage: stage }),
    );
    return out.SecretString === undefined ? undefined : parseSecret(out.SecretString);
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
