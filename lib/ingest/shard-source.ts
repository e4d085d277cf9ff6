import { errorLabel, type Logger } from "../core/log";
import { METRIC_NAMES } from "../core/metric-names";
import type { Metrics } from "../core/metrics";
import { type ShardLister, ShardMap } from "../stream/shard-map";

/** Where the ingest path gets the stream's shard map. */
export interface ShardMapSource {
  /** The map to pack a request by, at once (it never waits): the last read, else the default. */
  current(): ShardMap;
  /**
   * A map read after `since` (epoch ms), for checking where records landed; the current map
   * when no read succeeds before `deadline`.
   */
  readSince(since: number, deadline?: number): Promise<ShardMap>;
}

export interface ShardMapCacheOptions {
  readonly streamName: string;
  /** How long a read map is used before it is read again in the background (SHARD_MAP_SECONDS). */
  readonly ttlMs: number;
  /** The shards assumed until the first read (STREAM_SHARDS): equal slices, as a new stream has. */
  readonly defaultShards: number;
  /** After a failed read, the next is not tried sooner than this. */
  readonly retryMs?: number;
}

/**
 * The stream's open shards, read with ListShards and cached: read once at start in the
 * background (a cold start packs by the default map meanwhile), again when the map is older
 * than its lifetime (the request in hand still uses the old one), and on demand when a
 * PutRecords answer names a shard the map does not hold. One read at a time; a failed read
 * keeps the map in use and is logged, and the writes go on.
 */
export class ShardMapCache implements ShardMapSource {
  private map: ShardMap;
  private reading: { since: number; done: Promise<ShardMap> } | undefined;
  private failedAt = Number.NEGATIVE_INFINITY;
  private readonly retryMs: number;

  constructor(
    private readonly lister: ShardLister,
    private readonly opts: ShardMapCacheOptions,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly now: () => number = Date.now,
  ) {
    this.map = ShardMap.uniform(opts.defaultShards);
    this.retryMs = opts.retryMs ?? 5_000;
    this.read();
  }

  current(): ShardMap {
    const t = this.now();
    const stale = !this.map.read || t - this.map.readAt >= this.opts.ttlMs;
    if (stale && this.reading === undefined && t - this.failedAt >= this.retryMs) this.read();
    return this.map;
  }

  readSince(since: number, deadline?: number): Promise<ShardMap> {
    if (this.map.readAt >= since) return Promise.resolve(this.map);
    const done = this.readAfter(since);
    if (deadline === undefined) return done;
    const wait = deadline - this.now();
    if (wait <= 0) return Promise.resolve(this.map);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<ShardMap>((resolve) => {
      timer = setTimeout(() => resolve(this.map), wait);
    });
    return Promise.race([done, late]).finally(() => clearTimeout(timer));
  }

  private async readAfter(since: number): Promise<ShardMap> {
    const reading = this.reading;
    if (reading !== undefined && reading.since < since) {
      // a read begun before `since` may predate what the answer showed: wait it out, read again
      await reading.done;
      if (this.map.readAt >= since) return this.map;
    }
    return (this.reading?.since ?? -1) >= since ? this.reading!.done : this.read();
  }

  private read(): Promise<ShardMap> {
    const since = this.now();
    const done = this.lister
      .listShards(this.opts.streamName)
      .then((shards) => {
        this.map = ShardMap.fromShards(shards, Math.max(since, 1));
        this.metrics.count(METRIC_NAMES.shardMapReads);
        this.log.debug("shard map read", { shards: this.map.count });
        return this.map;
      })
      .catch((err: unknown) => {
        this.failedAt = this.now();
        this.metrics.count(METRIC_NAMES.shardMapFailures);
        this.log.warn("cannot read the stream's shards; records are packed by the last map", {
          error: errorLabel(err, 120, "unknown"),
          shards: this.map.count,
        });
        return this.map;
      })
      .finally(() => {
        if (this.reading?.done === done) this.reading = undefined;
      });
    this.reading = { since, done };
    return done;
  }
}

/** A map that never changes: tests, and writers told the stream's shards. */
export class FixedShardMap implements ShardMapSource {
  constructor(private readonly map: ShardMap) {}
  current(): ShardMap {
    return this.map;
  }
  readSince(): Promise<ShardMap> {
    return Promise.resolve(this.map);
  }
}
