import { ConfigError, type Env, enumVar, intVar, stringVar } from "../core/config";
import { ENV } from "../core/env-names";
import { loadSharedSettings, type SharedSettings } from "../core/settings";
import { DEFAULT_MAX_RECORD_BYTES, LARGEST_MAX_RECORD_BYTES } from "../stream/limits";
import type { IngestSettings } from "./ingest";
import { DEFAULT_LIMITS, NAME_VALIDATIONS } from "./scan/validate";

export const DEFAULTS = Object.freeze({
  maxBodyBytes: 10 * 1024 * 1024,
  maxDecodedBytes: 64 * 1024 * 1024,
  maxRecordBytes: DEFAULT_MAX_RECORD_BYTES,
  maxMetadataLength: 16 * 1024,
  /** An on-demand stream starts with 4 shards. */
  streamShards: 4,
  shardMapSeconds: 60,
  maxLabelsPerSeries: DEFAULT_LIMITS.maxLabelsPerSeries,
  maxLabelNameLength: DEFAULT_LIMITS.maxLabelNameLength,
  maxLabelValueLength: DEFAULT_LIMITS.maxLabelValueLength,
  putConcurrency: 4,
  putDeadlineMs: 10_000,
  retryAfterSeconds: 5,
});

export interface SinkSettings {
  readonly streamName: string | undefined;
  /** PutRecords calls in flight at once. */
  readonly concurrency: number;
  /** Time budget for one put() including retries. */
  readonly deadlineMs: number;
  /** Retry-After (seconds) sent with the 503 when the budget runs out. */
  readonly retryAfterSeconds: number;
  /** How long a shard map read with ListShards is used before it is read again. */
  readonly shardMapSeconds: number;
}

/** Configuration of the remote-write function, read once at cold start. */
export interface IngestConfig extends SharedSettings {
  readonly ingest: IngestSettings;
  readonly maxBodyBytes: number;
  /** Where records go and how hard to try (the Kinesis sink's options). */
  readonly sink: SinkSettings;
  readonly kinesisEndpoint: string | undefined;
  readonly region: string | undefined;
  readonly keySecretArn: string | undefined;
}

export function loadIngestConfig(env: Env): IngestConfig {
  const maxRecordBytes = intVar(
    env,
    ENV.maxRecordBytes,
    DEFAULTS.maxRecordBytes,
    64 * 1024,
    LARGEST_MAX_RECORD_BYTES,
  );
  const maxBodyBytes = intVar(env, ENV.maxBodyBytes, DEFAULTS.maxBodyBytes, 1024, 256 * 1024 * 1024);
  const maxDecodedBytes = intVar(
    env,
    ENV.maxDecodedBytes,
    DEFAULTS.maxDecodedBytes,
    1024,
    1024 * 1024 * 1024,
  );
  if (maxDecodedBytes < maxBodyBytes) {
    throw new ConfigError(`${ENV.maxDecodedBytes}: must be at least ${ENV.maxBodyBytes} (${maxBodyBytes})`);
  }
  const endpoint = stringVar(env, ENV.kinesisEndpoint);
  if (endpoint !== undefined && !/^https?:\/\/[^\s]+$/.test(endpoint)) {
    throw new ConfigError(`${ENV.kinesisEndpoint}: expected an http(s) URL`);
  }
  const shared = loadSharedSettings(env);
  return Object.freeze({
    ingest: Object.freeze({
      limits: Object.freeze({
        maxLabelsPerSeries: intVar(env, ENV.maxLabelsPerSeries, DEFAULTS.maxLabelsPerSeries, 1, 1000),
        maxLabelNameLength: intVar(env, ENV.maxLabelNameLength, DEFAULTS.maxLabelNameLength, 1, 65536),
        maxLabelValueLength: intVar(env, ENV.maxLabelValueLength, DEFAULTS.maxLabelValueLength, 1, 65536),
        // utf8 by default: see DEFAULT_NAME_VALIDATION for why
        nameValidation: enumVar(env, ENV.nameValidation, DEFAULT_LIMITS.nameValidation, NAME_VALIDATIONS),
      }),
      streamShards: intVar(env, ENV.streamShards, DEFAULTS.streamShards, 1, 65536),
      maxRecordBytes,
      maxDecodedBytes,
      maxMetadataLength: intVar(env, ENV.maxMetadataLength, DEFAULTS.maxMetadataLength, 64, 256 * 1024),
    }),
    maxBodyBytes,
    sink: Object.freeze({
      streamName: stringVar(env, ENV.streamName),
      concurrency: intVar(env, ENV.putConcurrency, DEFAULTS.putConcurrency, 1, 64),
      deadlineMs: intVar(env, ENV.putDeadlineMs, DEFAULTS.putDeadlineMs, 100, 900_000),
      retryAfterSeconds: intVar(env, ENV.retryAfterSeconds, DEFAULTS.retryAfterSeconds, 1, 3600),
      shardMapSeconds: intVar(env, ENV.shardMapSeconds, DEFAULTS.shardMapSeconds, 1, 3600),
    }),
    kinesisEndpoint: endpoint,
    region: stringVar(env, ENV.awsRegion) ?? stringVar(env, "AWS_DEFAULT_REGION"),
    keySecretArn: stringVar(env, ENV.apiKeySecretArn),
    ...shared,
  });
}
