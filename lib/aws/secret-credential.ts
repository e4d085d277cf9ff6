import { GetSecretValueCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { Logger } from "../core/log";
import { type Credential, type CredentialSource, parseCredential } from "../forwarder/auth";

/**
 * The destination's credential, read from Secrets Manager and cached for `cacheSeconds`
 * (refresh() forgets it, e.g. after the destination answered 401). A failed refresh
 * keeps the last good value. The value never appears in a log line or an error.
 */
export class SecretCredentialSource implements CredentialSource {
  private cached: Credential | undefined;
  private fetchedAt = 0;
  private inflight: Promise<Credential> | undefined;

  constructor(
    private readonly client: Pick<SecretsManagerClient, "send">,
    private readonly secretId: string,
    private readonly cacheSeconds: number,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  async value(): Promise<Credential> {
    if (this.cached !== undefined && this.now() - this.fetchedAt < this.cacheSeconds * 1000)
      return this.cached;
    this.inflight ??= this.fetch().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  refresh(): void {
    this.fetchedAt = Number.NEGATIVE_INFINITY;
  }

  private async fetch(): Promise<Credential> {
    try {
      const out = await this.client.send(new GetSecretValueCommand({ SecretId: this.secretId }));
      if (out.SecretString === undefined) throw new Error("the destination secret has no string value");
      this.cached = parseCredential(out.SecretString);
      this.fetchedAt = this.now();
      return this.cached;
    } catch (err) {
      const reason = err instanceof Error ? err.name : "unknown error";
      if (this.cached !== undefined) {
        this.log.warn("destination secret refresh failed; keeping the cached value", { reason });
        this.fetchedAt = this.now();
        return this.cached;
      }
      this.log.error("could not read the destination secret", { reason });
      throw new Error(`could not read the destination secret (${reason})`);
    }
  }
}
