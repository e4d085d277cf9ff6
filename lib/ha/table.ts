/**
 * The shape of the DynamoDB table of elected replicas, shared by the store that reads and
 * writes it (lib/ha) and the stack that creates it (infra): one item per tenant and cluster.
 */
export const HA_TABLE = Object.freeze({
  /** Partition key (S): the API key's tenant, or NO_TENANT for a key without one. */
  partitionKey: "tenant",
  /** Sort key (S): the cluster label's value. */
  sortKey: "cluster",
  /** The elected replica (S): the replica label's value. */
  replica: "replica",
  /** When the elected replica was last seen (N): epoch milliseconds. */
  receivedAt: "receivedAt",
  /** The table's TTL attribute (N): epoch seconds after which a silent cluster's item may go. */
  expiresAt: "expiresAt",
});

/**
 * The partition key of requests whose API key names no tenant (DynamoDB keys cannot be
 * empty): parentheses are outside TENANT_PATTERN, so no tenant can share its items.
 */
export const NO_TENANT = "(none)";

/** How long a cluster nobody writes for is kept before the table's TTL removes it: 7 days. */
export const STALE_CLUSTER_SECONDS = 7 * 24 * 3600;
