import type { ReplicaItem, ReplicaStore, StoreOperation } from "../../lib/ha/store";
import { STALE_CLUSTER_SECONDS } from "../../lib/ha/table";

/**
 * The replica table in memory, for the tracker's own logic: the same compare-and-set
 * semantics as the DynamoDB store's conditions (create if absent; replace if the item is
 * still the one expected; refresh while the replica is still elected), the calls it was asked, and a fault switch (`fail`) that makes
 * every call reject as an unreachable table would.
 */
export class MemoryReplicaStore implements ReplicaStore {
  readonly items = new Map<string, ReplicaItem & { expiresAt: number }>();
  readonly calls: StoreOperation[] = [];
  /** Set: every call rejects with it. */
  fail: Error | undefined;
  /** Runs before each call is answered (to let another instance act in between). */
  before: ((operation: StoreOperation) => Promise<void> | void) | undefined;

  async get(tenant: string, cluster: string): Promise<ReplicaItem | undefined> {
    await this.enter("GetItem");
    const item = this.items.get(`${tenant}/${cluster}`);
    return item === undefined ? undefined : { replica: item.replica, receivedAt: item.receivedAt };
  }

  async create(tenant: string, cluster: string, item: ReplicaItem): Promise<boolean> {
    await this.enter("PutItem");
    const key = `${tenant}/${cluster}`;
    if (this.items.has(key)) return false;
    this.put(key, item);
    return true;
  }

  async replace(tenant: string, cluster: string, expected: ReplicaItem, next: ReplicaItem): Promise<boolean> {
    await this.enter("UpdateItem");
    const key = `${tenant}/${cluster}`;
    const now = this.items.get(key);
    if (now === undefined || now.replica !== expected.replica || now.receivedAt !== expected.receivedAt) {
      return false;
    }
    this.put(key, next);
    return true;
  }

  async refresh(tenant: string, cluster: string, replica: string, receivedAt: number): Promise<boolean> {
    await this.enter("UpdateItem");
    const key = `${tenant}/${cluster}`;
    if (this.items.get(key)?.replica !== replica) return false;
    this.put(key, { replica, receivedAt });
    return true;
  }

  async liveClusters(tenant: string, now: number): Promise<number> {
    await this.enter("Query");
    let n = 0;
    for (const [key, item] of this.items) {
      if (key.startsWith(`${tenant}/`) && item.expiresAt > Math.floor(now / 1000)) n++;
    }
    return n;
  }

  /** How many calls of `operation` were made. */
  count(operation: StoreOperation): number {
    return this.calls.filter((c) => c === operation).length;
  }

  private put(key: string, item: ReplicaItem): void {
    this.items.set(key, { ...item, expiresAt: Math.floor(item.receivedAt / 1000) + STALE_CLUSTER_SECONDS });
  }

  private async enter(operation: StoreOperation): Promise<void> {
    this.calls.push(operation);
    await this.before?.(operation);
    if (this.fail) throw this.fail;
  }
}
