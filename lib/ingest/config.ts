import { ConfigError, type Env, enumVar, intVar, stringVar } from "../core/config";
import { ENV } from "../core/env-names";
import { type LogLevel, parseLogLevel } from "../core/log";
import { DEFAULT_METRICS_NAMESPACE } from "../core/metric-names";
import type { IngestSettings } from "./ingest";

export const DEFAULTS = Object.freeze({
  maxBodyBytes: 10 * 1024 * 1024,
  maxDecodedBytes: 64 * 1024 * 1024,
  maxRecordBytes: 1024 * 1024,
  routingBuckets: 4,
  maxLabelsPerSeries: 30,
  maxLabelNameLength: 1024,
  maxLabelValueLength: 2048,
  putConcurrency: 4,
  putDeadlineMs: 10_000,
  retryAfterSeconds: 5,
  keyCacheSeconds: 300,
  metricsNamespace: DEFAULT_METRICS_NAMESPACE,
});

export interface SinkSettings {
  readonly streamName: string | undefined;
  /** PutRecords calls in flight at once. */
  readonly concurrency: number;
  /** Time budget for one put() including retries. */
  readonly deadlineMs: number;
  /** Retry-After (seconds) sent with the 503 when the budget runs out. */
  readonly retryAfterSeconds: number;
}

/** Configuration of the remote-write function, read once at cold start. */
export interface IngestConfig {
  readonly ingest: IngestSettings;
  readonly maxBodyBytes: number;
  /** Where records go and how hard to try (the Kinesis sink's options). */
  readonly sink: SinkSettings;
  readonly kinesisEndpoint: string | undefined;
  readonly region: string | undefined;
  readonly keySecretArn: string | undefined;
  readonly keyCacheSeconds: number;
  readonly logLevel: LogLevel;
  readonly metricsNamespace: string;
}

export function loadIngestConfig(env: Env): IngestConfig {
  const maxRecordBytes = intVar(env, ENV.maxRecordBytes, DEFAULTS.maxRecordBytes, 1024, 1024 * 1024);
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
  let logLevel: LogLevel;
  try {
    logLevel = parseLogLevel(stringVar(env, ENV.logLevel));
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  return Object.freeze({
    ingest: Object.freeze({
      limits: Object.freeze({
        maxLabelsPerSeries: intVar(env, ENV.maxLabelsPerSeries, DEFAULTS.maxLabelsPerSeries, 1, 1000),
        maxLabelNameLength: intVar(env, ENV.maxLabelNameLength, DEFAULTS.maxLabelNameLength, 1, 65536),
        maxLabelValueLength: intVar(env, ENV.maxLabelValueLength, DEFAULTS.maxLabelValueLength, 1, 65536),
        nameValidation: enumVar(env, ENV.nameValidation, "legacy", ["legacy", "utf8"] as const),
      }),
      routingBuckets: intVar(env, ENV.routingBuckets, DEFAULTS.routingBuckets, 1, 4096),
      maxRecordBytes,
      maxDecodedBytes,
    }),
    maxBodyBytes,
    sink: Object.freeze({
      streamName: stringVar(env, ENV.streamName),
      concurrency: intVar(env, ENV.putConcurrency, DEFAULTS.putConcurrency, 1, 64),
      deadlineMs: intVar(env, ENV.putDeadlineMs, DEFAULTS.putDeadlineMs, 100, 900_000),
      retryAfterSeconds: intVar(env, ENV.retryAfterSeconds, DEFAULTS.retryAfterSeconds, 1, 3600),
    }),
    kinesisEndpoint: endpoint,
    region: stringVar(env, ENV.awsRegion) ?? stringVar(env, "AWS_DEFAULT_REGION"),
    keySecretArn: stringVar(env, ENV.apiKeySecretArn),
    keyCacheSeconds: intVar(env, ENV.keyCacheSeconds, DEFAULTS.keyCacheSeconds, 0, 86_400),
    logLevel,
    metricsNamespace: stringVar(env, ENV.metricsNamespace) ?? DEFAULTS.metricsNamespace,
  });
}
