import type { MiddlewareHandler } from "hono";
import { isProtocolCall } from "../mirror/app";

/**
 * At most `max` holders at once; further callers wait in arrival order, at most `maxWaiting`
 * of them and each for at most `maxWaitMs`, and are refused after that.
 */
export class ConcurrencyLimit {
  private active = 0;
  private readonly waiting: Array<(granted: boolean) => void> = [];

  constructor(
    readonly max: number,
    readonly maxWaiting: number,
    readonly maxWaitMs: number,
  ) {}

  get inFlight(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Resolves true with a slot held (give it back with release()), or false when refused. */
  acquire(): Promise<boolean> {
    if (this.active < this.max) {
      this.active++;
      return Promise.resolve(true);
    }
    if (this.waiting.length >= this.maxWaiting) return Promise.resolve(false);
    return new Promise((resolve) => {
      const entry = (granted: boolean) => {
        clearTimeout(timer);
        resolve(granted);
      };
      const timer = setTimeout(() => {
        const at = this.waiting.indexOf(entry);
        if (at >= 0) this.waiting.splice(at, 1);
        resolve(false);
      }, this.maxWaitMs);
      this.waiting.push(entry);
    });
  }

  release(): void {
    // the slot passes on to the first waiting, if any: `active` stays
    const next = this.waiting.shift();
    if (next !== undefined) next(true);
    else this.active--;
  }
}

/**
 * The local server's cap on mirror protocol requests: each holds a Prometheus answer in memory
 * and parses it on the thread that also serves ingest, so only a few run at once. A request
 * that finds no slot within the wait is answered 503 with Retry-After (and no key header, as
 * the mirror's other 503).
 */
export function limitMirrorQueries(
  limit: ConcurrencyLimit,
  retryAfterSeconds: number,
  onBusy: () => void = () => {},
): MiddlewareHandler {
  return async (c, next) => {
    if (!isProtocolCall(c.req.method, c.req.path)) return next();
    if (!(await limit.acquire())) {
      onBusy();
      return c.json(
        {
          _type: "RemoteMirrorError",
          summary: "Mirror busy",
          details: `[mirror-busy] at most ${limit.max} queries run at once here, and none finished within ${limit.maxWaitMs} ms; try again shortly`,
        },
        503,
        { "Retry-After": String(retryAfterSeconds) },
      );
    }
    try {
      await next();
    } finally {
      limit.release();
    }
  };
}
