import { DynamoReplicaStore } from "../../lib/aws/dynamo-replica-store";
import { createEmfMetrics } from "../../lib/aws/emf-metrics";
import { KinesisRecordsClient } from "../../lib/aws/kinesis-records";
import { KinesisSink } from "../../lib/aws/kinesis-sink";
import { SecretKeySource } from "../../lib/aws/secret-keys";
import { type SnappyCodecInfo, snappyCodec } from "../../lib/codec/snappy";
import { type KeySource, keysFromEnv, StaticKeySource } from "../../lib/core/auth";
import { ConfigError, type Env } from "../../lib/core/config";
import { ENV } from "../../lib/core/env-names";
import { createLogger, type Logger } from "../../lib/core/log";
import { METRIC_SERVICES } from "../../lib/core/metric-names";
import type { Metrics } from "../../lib/core/metrics";
import { type HaSettings, loadHaSettings } from "../../lib/ha/config";
import { HaDedup } from "../../lib/ha/dedup";
import { ReplicaTracker } from "../../lib/ha/tracker";
import { type IngestConfig, loadIngestConfig } from "../../lib/ingest/config";
import { Ingestor } from "../../lib/ingest/ingest";
import { ShardMapCache } from "../../lib/ingest/shard-source";
import { createRemoteWriteEndpoint } from "./endpoint";

/** The key source configured by the environment: a Secrets Manager secret, or static keys. */
export function ingestKeySource(config: IngestConfig, env: Env, log: Logger): KeySource {
  if (config.keySecretArn !== undefined) {
    return SecretKeySource.fromArn(config.keySecretArn, config.keyCacheSeconds, log, env);
  }
  const keys = keysFromEnv(env);
  if (keys === undefined) {
    throw new ConfigError(
      `set ${ENV.apiKeySecretArn}, ${ENV.apiKeys} or ${ENV.apiKey}: no API key is configured`,
    );
  }
  return new StaticKeySource(keys);
}

/**
 * Says which snappy codec compresses the records (once, at start), and as a warning when a
 * preferred one is there but could not load, with the reason.
 */
export function logSnappyCodec(log: Logger, codec: SnappyCodecInfo = snappyCodec()): void {
  if (codec.fallbackReason !== undefined) {
    log.warn("snappy codec fallback", {
      codec: codec.name,
      version: codec.version,
      reason: codec.fallbackReason,
    });
  }
  log.info("snappy codec", { codec: codec.name, version: codec.version });
}

/**
 * HA deduplication as the environment sets it (HA_DEDUP and its variables, lib/ha/config.ts):
 * a tracker over the DynamoDB table HA_TABLE_NAME, at DYNAMODB_ENDPOINT or the region's
 * DynamoDB, with the function's own credentials. Undefined when it is off.
 */
export function haDedupFromEnv(
  env: Env,
  region: string,
  log: Logger,
  metrics: Metrics,
): { dedup: HaDedup; settings: HaSettings; store: DynamoReplicaStore } | undefined {
  const settings = loadHaSettings(env);
  if (settings === undefined) return undefined;
  if (settings.tableName === undefined) {
    throw new ConfigError(
      `${ENV.haTableName}: not set (${ENV.haDedup}=true keeps the elected replicas in this DynamoDB table)`,
      ENV.haTableName,
    );
  }
  const store = DynamoReplicaStore.create({
    tableName: settings.tableName,
    region,
    ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
    env,
    log,
  });
  const tracker = new ReplicaTracker({ settings, store, log, metrics });
  log.info("HA deduplication on", {
    clusterLabel: settings.clusterLabel,
    replicaLabel: settings.replicaLabel,
    updateTimeoutMs: settings.updateTimeoutMs,
    jitterMs: tracker.jitterMs,
    failoverTimeoutMs: settings.failoverTimeoutMs,
    maxClusters: settings.maxClusters,
    table: settings.tableName,
  });
  return { dedup: new HaDedup(settings, tracker), settings, store };
}

/**
 * Builds the remote-write endpoint from environment variables (the Lambda's cold start, and
 * the local server), and logs the snappy codec in use. It is framework-neutral: the fronts (API Gateway events, node:http)
 * call it directly, so neither loads Hono for it.
 */
export function remoteWriteEndpointFromEnv(env: Env, metrics?: Metrics) {
  const config = loadIngestConfig(env);
  if (config.sink.streamName === undefined) throw new ConfigError(`${ENV.streamName}: not set`);
  const log = createLogger(config.logLevel, undefined, { service: METRIC_SERVICES.remoteWrite });
  logSnappyCodec(log);
  const m = metrics ?? createEmfMetrics(config.metricsNamespace, METRIC_SERVICES.remoteWrite);
  // the lean PutRecords client (no SDK client to import on a cold start); credentials from env
  const client = KinesisRecordsClient.create({
    region: config.region ?? "us-east-1",
    endpoint: config.kinesisEndpoint,
    env,
    log,
  });
  const sink = new KinesisSink(
    client,
    { ...config.sink, streamName: config.sink.streamName, maxRecordBytes: config.ingest.maxRecordBytes },
    log,
    m,
  );
  const shards = new ShardMapCache(
    client,
    {
      streamName: config.sink.streamName,
      ttlMs: config.sink.shardMapSeconds * 1000,
      defaultShards: config.ingest.streamShards,
    },
    log,
    m,
  );
  const ha = haDedupFromEnv(env, config.region ?? "us-east-1", log, m);
  const endpoint = createRemoteWriteEndpoint({
    ingestor: new Ingestor(config.ingest),
    shards,
    maxBodyBytes: config.maxBodyBytes,
    keys: ingestKeySource(config, env, log),
    sink,
    log,
    metrics: m,
    deadlineMs: config.sink.deadlineMs,
    retryAfterSeconds: config.sink.retryAfterSeconds,
    ...(ha === undefined ? {} : { ha: ha.dedup }),
  });
  return {
    endpoint,
    metrics: m,
    config,
    /** HA deduplication's settings, when it is on. */
    ha: ha?.settings,
    /** Closes what the endpoint keeps open besides the stream's client (the replica table's connections). */
    close(): void {
      ha?.store.destroy();
    },
  };
}
