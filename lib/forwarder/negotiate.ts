import type { Version } from "./records";

/** Which Remote-Write version v2 records go out in: negotiated per destination, or forced. */
export const PROTOCOLS = ["auto", "v1", "v2"] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** How long a destination may hold the forwarder back with Retry-After. */
export const MAX_RETRY_AFTER_MS = 300_000;

/**
 * What the forwarder remembers about its destination from one batch to the next (for the
 * life of a Lambda container or a local process): the Remote-Write version it takes, and a
 * time before which it asked (Retry-After) not to be sent anything.
 *
 * With `auto`, v2 records go as 2.0 until the destination shows it does not take 2.0 (a
 * 415, or a 2xx whose written counts are missing or short); from then on they go as 1.0 for
 * `rememberMs`, after which the next v2 record tries 2.0 again (a destination may have been
 * upgraded). `v1` and `v2` force the version and never fall back. v1 records always go as 1.0.
 */
export class DestinationState {
  private v1Until = Number.NEGATIVE_INFINITY;
  private notBefore = Number.NEGATIVE_INFINITY;

  constructor(
    readonly protocol: Protocol = "auto",
    readonly rememberMs = 600_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The version a v2 record goes out in now. */
  v2RecordsAs(): Version {
    if (this.protocol !== "auto") return this.protocol;
    return this.now() < this.v1Until ? "v1" : "v2";
  }

  /** Whether a 2.0 request's answer may turn the destination to 1.0. */
  get negotiating(): boolean {
    return this.protocol === "auto";
  }

  /** The destination does not take 2.0: send 1.0 for a while. */
  fellBack(): void {
    this.v1Until = this.now() + this.rememberMs;
  }

  /** The destination asked not to be sent anything for `ms` (capped at MAX_RETRY_AFTER_MS). */
  holdFor(ms: number): void {
    this.notBefore = Math.max(this.notBefore, this.now() + Math.min(ms, MAX_RETRY_AFTER_MS));
  }

  /** How long the destination still asks to be left alone, in ms (0: not at all). */
  holdMs(): number {
    return Math.max(0, this.notBefore - this.now());
  }
}
