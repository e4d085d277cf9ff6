import { ConfigError, type ValuesOf, within } from "../../lib/core/config";
import {
  checkTimeouts,
  HA_CLUSTER_LABEL,
  HA_DEDUP,
  HA_FAILOVER_TIMEOUT_SECONDS,
  HA_MAX_CLUSTERS,
  HA_REPLICA_LABEL,
  HA_UPDATE_TIMEOUT_SECONDS,
} from "../../lib/ha/config";
import { contextError, type Given } from "./read";

/**
 * HA-pair deduplication at ingest (only with the ingest component): the table of elected
 * replicas and the HA_* variables of the remote-write function, off unless `haDedup=true`.
 */

export const HA_KEYS = {
  // HA_DEDUP, HA_CLUSTER_LABEL, HA_REPLICA_LABEL, HA_UPDATE_TIMEOUT_SECONDS,
  // HA_FAILOVER_TIMEOUT_SECONDS and HA_MAX_CLUSTERS of the remote-write function
  haDedup: {
    ...HA_DEDUP,
    doc: "`HA_DEDUP`: `true` deduplicates HA pairs at ingest, with a DynamoDB table of elected replicas (one per tenant and cluster) and its alarms ([HA-pair deduplication](#ha-pair-deduplication))",
  },
  haClusterLabel: {
    ...HA_CLUSTER_LABEL,
    doc: "`HA_CLUSTER_LABEL`: the label naming a pair, a Prometheus external label",
  },
  haReplicaLabel: {
    ...HA_REPLICA_LABEL,
    doc: "`HA_REPLICA_LABEL`: the label naming a replica of the pair, removed from the elected replica's series; must differ from `haClusterLabel`",
  },
  haUpdateTimeoutSeconds: {
    ...HA_UPDATE_TIMEOUT_SECONDS,
    doc: "`HA_UPDATE_TIMEOUT_SECONDS`: how often the elected replica's last-seen time is written to the table, 1 to 3600 s (plus up to 5 s or half of it jitter, whichever is less); the table's writes grow as it shrinks",
  },
  // The function takes 2 s; a Prometheus sends at least every `batch_send_deadline` (5 s) while
  // it scrapes, so a deployment's failover timeout must leave room for a gap between requests.
  haFailoverTimeoutSeconds: within(HA_FAILOVER_TIMEOUT_SECONDS, {
    min: 10,
    max: 86_400,
    default: 30,
    doc: "`HA_FAILOVER_TIMEOUT_SECONDS`: how long the elected replica may be silent before the other takes over, 10 to 86400 s (at least twice Prometheus's 5 s `batch_send_deadline`), more than `haUpdateTimeoutSeconds` plus its jitter",
  }),
  haMaxClusters: {
    ...HA_MAX_CLUSTERS,
    doc: "`HA_MAX_CLUSTERS`: most clusters tracked per tenant, 1 to 100000; a request naming a further cluster is refused with 400",
  },
} as const;

/** The settings of HA-pair deduplication the stack hands to the remote-write function. */
export interface HaDedupSettings {
  readonly clusterLabel: string;
  readonly replicaLabel: string;
  readonly updateTimeoutSeconds: number;
  readonly failoverTimeoutSeconds: number;
  readonly maxClusters: number;
}

/** Undefined when `haDedup` is off; then any other `ha*` key is a mistake. */
export function haDedupSettings(v: ValuesOf<typeof HA_KEYS>, given: Given): HaDedupSettings | undefined {
  if (!v.haDedup) {
    const stray = Object.keys(HA_KEYS).find((key) => key !== "haDedup" && given(key));
    if (stray !== undefined) throw contextError(stray, "applies only with haDedup=true");
    return undefined;
  }
  if (v.haReplicaLabel === v.haClusterLabel) {
    throw contextError("haReplicaLabel", `must differ from haClusterLabel (both "${v.haClusterLabel}")`);
  }
  try {
    checkTimeouts(v.haUpdateTimeoutSeconds, v.haFailoverTimeoutSeconds, "haFailoverTimeoutSeconds");
  } catch (err) {
    // the message names the key; the context's errors say that it is one
    if (err instanceof ConfigError) throw new ConfigError(`configuration ${err.message}`, err.key);
    throw err;
  }
  return {
    clusterLabel: v.haClusterLabel,
    replicaLabel: v.haReplicaLabel,
    updateTimeoutSeconds: v.haUpdateTimeoutSeconds,
    failoverTimeoutSeconds: v.haFailoverTimeoutSeconds,
    maxClusters: v.haMaxClusters,
  };
}
