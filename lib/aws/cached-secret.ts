import type { Logger } from "../core/log";

/** What a cached secret says when a read fails (never the value: only the error's name). */
export interface SecretMessages {
  /** Logged (warn) when a refresh fails and the cached value stays. */
  readonly keptCached: string;
  /** Logged (error) and thrown when there is nothing cached to fall back on. */
  readonly unreadable: string;
}

/**
 * A value read from Secrets Manager, cached for `cacheSeconds`: one read in flight at a time,
 * and a failed refresh keeps the last good value. `invalidate()` forces the next use to read
 * again (e.g. after a destination refused the credential). The value never appears in a log
 * line or an error.
 */
export class CachedSecret<T> {
  private cached: T | undefined;
  private fetchedAt = 0;
  private inflight: Promise<T> | undefined;

  constructor(
    private readonly read: () => Promise<T>,
    private readonly cacheSeconds: number,
    private readonly log: Logger,
    private readonly messages: SecretMessages,
    private readonly now: () => number = Date.now,
  ) {}

  async value(): Promise<T> {
    if (this.cached !== undefined && this.now() - this.fetchedAt < this.cacheSeconds * 1000)
      return this.cached;
    this.inflight ??= this.refresh().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  invalidate(): void {
    this.fetchedAt = Number.NEGATIVE_INFINITY;
  }

  private async refresh(): Promise<T> {
    try {
      const value = await this.read();
      this.cached = value;
      this.fetchedAt = this.now();
      return value;
    } catch (err) {
      const reason = err instanceof Error ? err.name : "unknown error";
      if (this.cached !== undefined) {
        this.log.warn(this.messages.keptCached, { reason });
        this.fetchedAt = this.now();
        return this.cached;
      }
      this.log.error(this.messages.unreadable, { reason });
      throw new Error(`${this.messages.unreadable} (${reason})`);
    }
  }
}
