import type { Logger } from "../core/log";
import { type Credential, type CredentialSource, parseCredential } from "../forwarder/auth";
import { CachedSecret } from "./cached-secret";
import type { SecretStringReader } from "./secrets-manager";

/**
 * The destination's credential, read from Secrets Manager (through the same lean reader as
 * the API keys, ./secrets-manager.ts) and cached for `cacheSeconds`
 * (refresh() forgets it, e.g. after the destination answered 401). A failed refresh
 * keeps the last good value. The value never appears in a log line or an error.
 */
export class SecretCredentialSource implements CredentialSource {
  private readonly secret: CachedSecret<Credential>;

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
        keptCached: "destination secret refresh failed; keeping the cached value",
        unreadable: "could not read the destination secret",
      },
      now,
    );
  }

  value(): Promise<Credential> {
    return this.secret.value();
  }

  refresh(): void {
    this.secret.invalidate();
  }

  private async read(): Promise<Credential> {
    const text = await this.reader.secretString(this.secretId);
    if (text === undefined) throw new Error("the destination secret has no string value");
    return parseCredential(text);
  }
}
