import { bool, ConfigError, type Env, int, readEnv, text, type ValuesOf } from "../core/config";
import { ENV } from "../core/env-names";
import { HTTP_URL } from "../core/patterns";

/**
 * Settings of HA-pair deduplication at ingest (docs/ingest.md): one schema per variable,
 * shared by the remote-write function's environment and the stack's `haDedup` context key.
 * Off by default; with `HA_DEDUP=true`, per tenant and value of the cluster label one
 * replica (the replica label's value) is elected and the others' requests are acknowledged
 * and dropped.
 */

/** A classic Prometheus label name: what a Prometheus external label can be called. */
const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const HA_DEDUP = bool({ default: false, doc: "`true`: deduplicate HA pairs at ingest" });
export const HA_CLUSTER_LABEL = text({
  default: "cluster",
  doc: "the label naming a pair (a Prometheus external label)",
  pattern: LABEL_NAME,
  expected: "a label name",
});
export const HA_REPLICA_LABEL = text({
  default: "__replica__",
  doc: "the label naming a replica of the pair; removed from the elected replica's series",
  pattern: LABEL_NAME,
  expected: "a label name",
});
export const HA_UPDATE_TIMEOUT_SECONDS = int({
  min: 1,
  max: 3600,
  default: 15,
  doc: "how often the elected replica's last-seen time is written, 1 to 3600 s (with up to 5 s or half of it jitter, whichever is less)",
});
export const HA_FAILOVER_TIMEOUT_SECONDS = int({
  min: 2,
  max: 86_400,
  default: 30,
  doc: "how long the elected replica may be silent before another takes over, 2 to 86400 s, more than the update timeout plus its jitter",
});
export const HA_MAX_CLUSTERS = int({
  min: 1,
  max: 100_000,
  default: 100,
  doc: "most clusters tracked per tenant, 1 to 100000; a request naming a further cluster is refused with 400",
});

export const HA_ENV = {
  [ENV.haDedup]: HA_DEDUP,
  [ENV.haClusterLabel]: HA_CLUSTER_LABEL,
  [ENV.haReplicaLabel]: HA_REPLICA_LABEL,
  [ENV.haUpdateTimeoutSeconds]: HA_UPDATE_TIMEOUT_SECONDS,
  [ENV.haFailoverTimeoutSeconds]: HA_FAILOVER_TIMEOUT_SECONDS,
  [ENV.haMaxClusters]: HA_MAX_CLUSTERS,
  [ENV.haTableName]: text({
    default: undefined,
    doc: "the DynamoDB table of elected replicas",
    pattern: /^[A-Za-z0-9_.-]{3,255}$/,
    expected: "a DynamoDB table name (3 to 255 letters, digits, _ . -)",
  }),
  [ENV.dynamodbEndpoint]: text({
    default: undefined,
    doc: "a local DynamoDB API; unset: AWS",
    pattern: HTTP_URL,
    expected: "an http(s) URL",
  }),
} as const;

export interface HaSettings {
  readonly clusterLabel: string;
  readonly replicaLabel: string;
  readonly updateTimeoutMs: number;
  /** Jitter added to the update timeout, drawn once per instance: at most min(5 s, half the timeout). */
  readonly maxJitterMs: number;
  readonly failoverTimeoutMs: number;
  readonly maxClusters: number;
  readonly tableName: string | undefined;
  readonly endpoint: string | undefined;
}

/** The largest jitter added to an update timeout of `updateTimeoutMs`. */
export function maxJitterMs(updateTimeoutMs: number): number {
  return Math.min(5000, Math.floor(updateTimeoutMs / 2));
}

/** Checks the relation between the timeouts that each schema alone cannot; `key` names the offender. */
export function checkTimeouts(updateSeconds: number, failoverSeconds: number, key: string): void {
  const needed = updateSeconds * 1000 + maxJitterMs(updateSeconds * 1000);
  if (failoverSeconds * 1000 <= needed) {
    throw new ConfigError(
      `${key}: must be more than the update timeout plus its jitter (${needed / 1000} s), got ${failoverSeconds}`,
      key,
    );
  }
}

/** HA deduplication's settings from the environment; undefined when it is off. */
export function loadHaSettings(env: Env): HaSettings | undefined {
  const v: ValuesOf<typeof HA_ENV> = readEnv(HA_ENV, env);
  if (!v[ENV.haDedup]) return undefined;
  if (v[ENV.haClusterLabel] === v[ENV.haReplicaLabel]) {
    throw new ConfigError(
      `${ENV.haReplicaLabel}: must differ from ${ENV.haClusterLabel}`,
      ENV.haReplicaLabel,
    );
  }
  checkTimeouts(v[ENV.haUpdateTimeoutSeconds], v[ENV.haFailoverTimeoutSeconds], ENV.haFailoverTimeoutSeconds);
  const updateTimeoutMs = v[ENV.haUpdateTimeoutSeconds] * 1000;
  return Object.freeze({
    clusterLabel: v[ENV.haClusterLabel],
    replicaLabel: v[ENV.haReplicaLabel],
    updateTimeoutMs,
    maxJitterMs: maxJitterMs(updateTimeoutMs),
    failoverTimeoutMs: v[ENV.haFailoverTimeoutSeconds] * 1000,
    maxClusters: v[ENV.haMaxClusters],
    tableName: v[ENV.haTableName],
    endpoint: v[ENV.dynamodbEndpoint],
  });
}
