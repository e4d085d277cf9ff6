import { errorLabel, type Logger } from "../core/log";
import { METRIC_DIMENSIONS, METRIC_NAMES } from "../core/metric-names";
import type { Metrics } from "../core/metrics";
import type { HaSettings } from "./config";
import type { ReplicaItem, ReplicaStore, StoreOperation } from "./store";
import { NO_TENANT } from "./table";

/**
 * The HA tracker, as Grafana Mimir's distributor runs it: per tenant and cluster one replica
 * is elected; requests from the others are dropped while it keeps sending, and once it has
 * been silent for longer than the failover timeout the next replica to send takes over.
 *
 * Every change to an election is a compare-and-set on the store (store.ts), so instances
 * deciding at once cannot both win: the loser reads the item again and follows it. Each
 * instance keeps the elections it has seen in a cache, so a steady stream costs about one
 * write per cluster per update timeout: the elected replica's last-seen time is written only
 * once the cached one is older than the update timeout plus this instance's jitter.
 *
 * When the store cannot be reached the tracker fails static, then closed: a cached election
 * still inside the failover timeout decides; otherwise ReplicaStoreUnavailableError (the
 * endpoint answers 503, the sender resends, nothing is lost and nothing is written twice).
 */

export type Decision =
  /** Write the request, without the replica label. */
  | { readonly outcome: "accept" }
  /** Another replica is elected: acknowledge the request and write none of it. */
  | { readonly outcome: "drop"; readonly reason: "replica-not-elected" }
  /** The cluster would be one more than the tenant may have: a 400, never retryable. */
  | { readonly outcome: "refuse"; readonly reason: "too-many-clusters" };

const ACCEPT: Decision = Object.freeze({ outcome: "accept" });
const DROP: Decision = Object.freeze({ outcome: "drop", reason: "replica-not-elected" });
const REFUSE: Decision = Object.freeze({ outcome: "refuse", reason: "too-many-clusters" });

/** The store could not be reached in time and the cache could not decide. */
export class ReplicaStoreUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReplicaStoreUnavailableError";
  }
}

export type TrackerSettings = Pick<
  HaSettings,
  "updateTimeoutMs" | "maxJitterMs" | "failoverTimeoutMs" | "maxClusters"
>;

export interface ReplicaTrackerOptions {
  readonly settings: TrackerSettings;
  readonly store: ReplicaStore;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** The clock items are stamped and judged by (epoch ms; default Date.now). */
  readonly now?: () => number;
  /** Draws this instance's jitter once, in [0, 1) of the largest (default Math.random). */
  readonly random?: () => number;
  /** Time budget of a decision when the request brings no deadline (default 5 s). */
  readonly budgetMs?: number;
  /** Elections kept in the cache at most; the oldest go first (default 10000). */
  readonly maxCached?: number;
  /** How often a store failure is logged at most (default 10 s; the rest are counted). */
  readonly logEveryMs?: number;
}

interface Cached extends ReplicaItem {
  /** This instance wrote the item as it stands (so a compare-and-set on it likely holds). */
  readonly own: boolean;
}

/** Rounds of reading again after a compare-and-set lost, before giving up on a decision. */
const MAX_ROUNDS = 4;

export class ReplicaTracker {
  /** Added to the update timeout, drawn once: instances' writes do not come in step. */
  readonly jitterMs: number;
  private readonly cache = new Map<string, Cached>();
  private readonly counts = new Map<string, { count: number; readAt: number }>();
  /** Clusters refused for the cap, until when (each is not read again before then). */
  private readonly refused = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<Decision>>();
  private readonly now: () => number;
  private readonly updateMs: number;
  private readonly failoverMs: number;
  private readonly budgetMs: number;
  private readonly maxCached: number;
  private readonly logEveryMs: number;
  private lastLogged = Number.NEGATIVE_INFINITY;
  private unlogged = 0;

  constructor(private readonly o: ReplicaTrackerOptions) {
    this.now = o.now ?? Date.now;
    this.jitterMs = Math.floor((o.random ?? Math.random)() * o.settings.maxJitterMs);
    this.updateMs = o.settings.updateTimeoutMs + this.jitterMs;
    this.failoverMs = o.settings.failoverTimeoutMs;
    this.budgetMs = o.budgetMs ?? 5_000;
    this.maxCached = o.maxCached ?? 10_000;
    this.logEveryMs = o.logEveryMs ?? 10_000;
  }

  /**
   * The decision the cache alone makes, without a call: the elected replica within the update
   * timeout (plus jitter) of its last write, or another one within the failover timeout.
   * Undefined when the store must be asked (decide).
   */
  cached(tenant: string | undefined, cluster: string, replica: string): Decision | undefined {
    const key = keyOf(tenant, cluster);
    const entry = this.cache.get(key);
    if (entry === undefined) {
      const until = this.refused.get(key);
      return until !== undefined && this.now() < until ? REFUSE : undefined;
    }
    const age = this.now() - entry.receivedAt;
    if (entry.replica === replica) return age < this.updateMs ? ACCEPT : undefined;
    return age <= this.failoverMs ? DROP : undefined;
  }

  /**
   * Decides a request of `replica` in `cluster`: from the cache when it can, else by the store
   * within `deadline` (epoch ms by the real clock; default the budget). Concurrent requests
   * of one cluster share one round of calls. Rejects with ReplicaStoreUnavailableError.
   */
  async decide(
    tenant: string | undefined,
    cluster: string,
    replica: string,
    deadline?: number,
  ): Promise<Decision> {
    const known = this.cached(tenant, cluster, replica);
    if (known !== undefined) return known;
    const key = keyOf(tenant, cluster);
    const pending = this.inFlight.get(key);
    if (pending !== undefined) {
      await pending.catch(() => undefined);
      const after = this.cached(tenant, cluster, replica);
      if (after !== undefined) return after;
    }
    const work = this.ask(key, tenant ?? NO_TENANT, cluster, replica, deadline);
    this.inFlight.set(key, work);
    try {
      return await work;
    } finally {
      if (this.inFlight.get(key) === work) this.inFlight.delete(key);
    }
  }

  private async ask(
    key: string,
    tenant: string,
    cluster: string,
    replica: string,
    deadline: number | undefined,
  ): Promise<Decision> {
    const budget = (deadline ?? Date.now() + this.budgetMs) - Date.now();
    try {
      if (budget <= 0) throw named("TimeoutError", "the request's deadline passed");
      return await this.resolve(key, tenant, cluster, replica, AbortSignal.timeout(budget));
    } catch (err) {
      this.logFailure(err, tenant, cluster);
      return this.failStatic(key, replica, err);
    }
  }

  /** The store's answer, taken round after round until a write holds or none is needed. */
  private async resolve(
    key: string,
    tenant: string,
    cluster: string,
    replica: string,
    signal: AbortSignal,
  ): Promise<Decision> {
    const mine = this.cache.get(key);
    // the item this instance wrote itself is likely still the store's: compare-and-set at once
    let item: ReplicaItem | undefined =
      mine?.own === true && mine.replica === replica ? mine : await this.get(tenant, cluster, signal);
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const now = this.now();
      const next: ReplicaItem = { replica, receivedAt: now };
      if (item === undefined) {
        if (await this.atCap(tenant, now, signal)) {
          if (this.refused.size >= this.maxCached) this.refused.clear();
          this.refused.set(key, now + this.updateMs);
          return REFUSE;
        }
        if (await this.call("PutItem", () => this.o.store.create(tenant, cluster, next, signal))) {
          this.remember(key, next, true);
          this.bumpCount(tenant);
          this.o.metrics.count(METRIC_NAMES.haElections);
          this.o.log.info("HA replica elected", { tenant, cluster, replica });
          return ACCEPT;
        }
      } else if (item.replica === replica) {
        if (now - item.receivedAt < this.updateMs) {
          this.remember(key, item, false);
          return ACCEPT;
        }
        // whichever instance refreshed it last, the replica stays elected: no contention
        if (await this.refresh(tenant, cluster, replica, now, signal)) {
          this.remember(key, next, true);
          return ACCEPT;
        }
      } else {
        if (now - item.receivedAt <= this.failoverMs) {
          this.remember(key, item, false);
          return DROP;
        }
        if (await this.replace(tenant, cluster, item, next, signal)) {
          this.remember(key, next, true);
          this.o.metrics.count(METRIC_NAMES.haFailovers);
          this.o.log.info("HA replica took over", {
            tenant,
            cluster,
            replica,
            from: item.replica,
            silentMs: now - item.receivedAt,
          });
          return ACCEPT;
        }
      }
      // another instance changed the item meanwhile: follow what it wrote
      item = await this.get(tenant, cluster, signal);
    }
    throw new ReplicaStoreUnavailableError(
      `the election of cluster ${cluster} kept changing under ${MAX_ROUNDS} rounds`,
    );
  }

  /** A cached election inside the failover timeout decides while the store is out of reach. */
  private failStatic(key: string, replica: string, err: unknown): Decision {
    const entry = this.cache.get(key);
    if (entry !== undefined && this.now() - entry.receivedAt <= this.failoverMs) {
      this.o.metrics.count(METRIC_NAMES.haStaleDecisions);
      return entry.replica === replica ? ACCEPT : DROP;
    }
    this.o.metrics.count(METRIC_NAMES.haUnavailable);
    throw err instanceof ReplicaStoreUnavailableError
      ? err
      : new ReplicaStoreUnavailableError(
          `the HA replica table cannot be reached (${errorLabel(err, 80, "unknown")})`,
        );
  }

  /** True when the tenant has as many live clusters as it may (counted at most once per update timeout). */
  private async atCap(tenant: string, now: number, signal: AbortSignal): Promise<boolean> {
    const max = this.o.settings.maxClusters;
    let known = this.counts.get(tenant);
    if (known === undefined || now - known.readAt >= this.updateMs) {
      const count = await this.call("Query", () => this.o.store.liveClusters(tenant, now, max, signal));
      known = { count, readAt: now };
      this.counts.set(tenant, known);
    }
    return known.count >= max;
  }

  private bumpCount(tenant: string): void {
    const known = this.counts.get(tenant);
    if (known !== undefined) this.counts.set(tenant, { count: known.count + 1, readAt: known.readAt });
  }

  private get(tenant: string, cluster: string, signal: AbortSignal): Promise<ReplicaItem | undefined> {
    return this.call("GetItem", () => this.o.store.get(tenant, cluster, signal));
  }

  private refresh(
    tenant: string,
    cluster: string,
    replica: string,
    receivedAt: number,
    signal: AbortSignal,
  ): Promise<boolean> {
    return this.call("UpdateItem", () => this.o.store.refresh(tenant, cluster, replica, receivedAt, signal));
  }

  private replace(
    tenant: string,
    cluster: string,
    expected: ReplicaItem,
    next: ReplicaItem,
    signal: AbortSignal,
  ): Promise<boolean> {
    // the cache's entry carries `own`; the store compares the replica and receivedAt only
    const was = { replica: expected.replica, receivedAt: expected.receivedAt };
    return this.call("UpdateItem", () => this.o.store.replace(tenant, cluster, was, next, signal));
  }

  /** One store call, counted by operation, and as a failure when it rejects. */
  private async call<T>(operation: StoreOperation, run: () => Promise<T>): Promise<T> {
    this.o.metrics.count(METRIC_NAMES.haStoreCalls, 1, {
      name: METRIC_DIMENSIONS.operation,
      value: operation,
    });
    try {
      return await run();
    } catch (err) {
      this.o.metrics.count(METRIC_NAMES.haStoreFailures, 1, {
        name: METRIC_DIMENSIONS.operation,
        value: operation,
      });
      throw err;
    }
  }

  private remember(key: string, item: ReplicaItem, own: boolean): void {
    this.cache.delete(key);
    if (this.cache.size >= this.maxCached) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    this.cache.set(key, { replica: item.replica, receivedAt: item.receivedAt, own });
  }

  /** One warning per interval, with how many failures it stands for; never a key or a secret. */
  private logFailure(err: unknown, tenant: string, cluster: string): void {
    this.unlogged++;
    const at = Date.now();
    if (at - this.lastLogged < this.logEveryMs) return;
    this.o.log.warn("HA replica table unreachable", {
      error: errorLabel(err, 120, "unknown"),
      tenant,
      cluster,
      times: this.unlogged,
    });
    this.lastLogged = at;
    this.unlogged = 0;
  }
}

function keyOf(tenant: string | undefined, cluster: string): string {
  return `${tenant ?? NO_TENANT}\u0000${cluster}`;
}

function named(name: string, message: string): Error {
  const err = new Error(message);
  err.name = name;
  return err;
}
