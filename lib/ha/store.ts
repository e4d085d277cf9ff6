import type { HA_STORE_OPERATIONS } from "../core/metric-names";

/**
 * Where the elected replicas are kept, one item per tenant and cluster (lib/ha/table.ts), as
 * the tracker (tracker.ts) needs it: every change is a compare-and-set, so two instances
 * electing at once cannot both win. The DynamoDB store (lib/aws/dynamo-replica-store.ts) is
 * the one production runs, on Lambda and on the local server alike.
 *
 * A call that cannot be answered (a timeout, a 5xx, throttling, refused credentials, the
 * signal aborted) rejects with whatever error it met; a condition that does not hold is an
 * answer (false), not an error.
 */

/** The elected replica of one cluster, and when it was last seen. */
export interface ReplicaItem {
  readonly replica: string;
  /** Epoch milliseconds. */
  readonly receivedAt: number;
}

/** The DynamoDB operation (or its equivalent) a call is: the `Operation` of the store's metrics. */
export type StoreOperation = (typeof HA_STORE_OPERATIONS)[number];

export interface ReplicaStore {
  /** The cluster's item as it is now (a strongly consistent read), or undefined when there is none. */
  get(tenant: string, cluster: string, signal: AbortSignal): Promise<ReplicaItem | undefined>;
  /** Writes `item` if the cluster has no item yet; false when it has one (someone else created it). */
  create(tenant: string, cluster: string, item: ReplicaItem, signal: AbortSignal): Promise<boolean>;
  /**
   * Writes `next` if the item is still exactly `expected` (same replica, same receivedAt):
   * the elected replica's new last-seen time, or another replica taking over. False when the
   * item changed meanwhile (or is gone).
   */
  replace(
    tenant: string,
    cluster: string,
    expected: ReplicaItem,
    next: ReplicaItem,
    signal: AbortSignal,
  ): Promise<boolean>;
  /**
   * Sets the elected replica's last-seen time to `receivedAt` if `replica` is still the one
   * elected, whoever wrote the item last: instances refreshing the same live replica never
   * contend, so a false answer means the replica lost the election (another took over).
   */
  refresh(
    tenant: string,
    cluster: string,
    replica: string,
    receivedAt: number,
    signal: AbortSignal,
  ): Promise<boolean>;
  /**
   * How many clusters the tenant has whose items have not expired at `now` (epoch ms),
   * counting no further than `atMost`.
   */
  liveClusters(tenant: string, now: number, atMost: number, signal: AbortSignal): Promise<number>;
}
