import { cidrList } from "../core/cidr";
import { ConfigError, type Env, int, oneOf, readEnv, text } from "../core/config";
import { ENV } from "../core/env-names";
import { HTTP_URL } from "../core/patterns";
import { SHARED_ENV, type SharedSettings, sharedFrom } from "../core/settings";
import { DEFAULT_MAX_RECORD_BYTES, LARGEST_MAX_RECORD_BYTES } from "../stream/limits";
import type { IngestSettings } from "./ingest";
import { DEFAULT_LIMITS, NAME_VALIDATIONS } from "./scan/validate";

/**
 * The remote-write function's environment: one setting per variable (its schema, default,
 * bounds and docs row in docs/ingest.md). The stack's context keys that set these variables
 * (`ingestMaxBodyBytes`, `streamMaxRecordKiB`, `nameValidation`, `ingestAllowedCidrs`,
 * `streamShards`) are declared within these bounds.
 */

const MiB = 1024 * 1024;

export const MAX_BODY_BYTES = int({
  min: 1024,
  max: 256 * MiB,
  default: 10 * MiB,
  doc: "largest compressed body (413 above), 1024 to 268435456 bytes",
});
export const MAX_RECORD_BYTES = int({
  min: 64 * 1024,
  max: LARGEST_MAX_RECORD_BYTES,
  default: DEFAULT_MAX_RECORD_BYTES,
  doc: "the stream's record limit, data plus partition key, 65536 to 10485760 bytes",
});
export const NAME_VALIDATION = oneOf(NAME_VALIDATIONS, {
  // utf8 by default: see DEFAULT_NAME_VALIDATION for why
  default: DEFAULT_LIMITS.nameValidation,
  doc: "`utf8`: any UTF-8 metric and label names; `legacy`: only the classic Prometheus names",
});
export const STREAM_SHARDS = int({
  min: 1,
  max: 65_536,
  default: 4,
  doc: "the shards assumed until the stream's map is read (an on-demand stream starts with 4)",
});
export const INGEST_ALLOWED_CIDRS = cidrList({
  doc: "the only source CIDRs answered (others get 403); unset: any source",
});

export const INGEST_ENV = {
  ...SHARED_ENV,
  [ENV.maxBodyBytes]: MAX_BODY_BYTES,
  [ENV.maxDecodedBytes]: int({
    min: 1024,
    max: 1024 * MiB,
    default: 64 * MiB,
    doc: "largest snappy-declared decoded size (413 above), 1024 to 1073741824 bytes, at least MAX_BODY_BYTES",
  }),
  [ENV.maxRecordBytes]: MAX_RECORD_BYTES,
  [ENV.maxMetadataLength]: int({
    min: 64,
    max: 256 * 1024,
    default: 16 * 1024,
    doc: "longest metadata help, unit and family name, 64 to 262144 bytes",
  }),
  [ENV.streamShards]: STREAM_SHARDS,
  [ENV.shardMapSeconds]: int({
    min: 1,
    max: 3600,
    default: 60,
    doc: "how long a shard map is used before it is read again, 1 to 3600 s",
  }),
  [ENV.maxLabelsPerSeries]: int({
    min: 1,
    max: 1000,
    default: DEFAULT_LIMITS.maxLabelsPerSeries,
    doc: "most labels of a series, 1 to 1000",
  }),
  [ENV.maxLabelNameLength]: int({
    min: 1,
    max: 65_536,
    default: DEFAULT_LIMITS.maxLabelNameLength,
    doc: "longest label name, 1 to 65536 bytes",
  }),
  [ENV.maxLabelValueLength]: int({
    min: 1,
    max: 65_536,
    default: DEFAULT_LIMITS.maxLabelValueLength,
    doc: "longest label value, 1 to 65536 bytes",
  }),
  [ENV.nameValidation]: NAME_VALIDATION,
  [ENV.putConcurrency]: int({ min: 1, max: 64, default: 4, doc: "PutRecords calls in flight, 1 to 64" }),
  [ENV.putDeadlineMs]: int({
    min: 100,
    max: 900_000,
    default: 10_000,
    doc: "time budget of one request, 100 to 900000 ms",
  }),
  [ENV.retryAfterSeconds]: int({
    min: 1,
    max: 3600,
    default: 5,
    doc: "`Retry-After` on 503, 1 to 3600 s",
  }),
  [ENV.streamName]: text({ default: undefined, doc: "target stream" }),
  [ENV.kinesisEndpoint]: text({
    default: undefined,
    doc: "a local Kinesis API; unset: AWS",
    pattern: HTTP_URL,
    expected: "an http(s) URL",
  }),
  [ENV.awsRegion]: text({ default: undefined, doc: "region" }),
  AWS_DEFAULT_REGION: text({ default: undefined, doc: "region, when AWS_REGION is unset" }),
  [ENV.apiKeySecretArn]: text({ default: undefined, doc: "the key in Secrets Manager" }),
} as const;

export const DEFAULTS = Object.freeze({
  maxBodyBytes: MAX_BODY_BYTES.default,
  maxDecodedBytes: INGEST_ENV[ENV.maxDecodedBytes].default,
  maxRecordBytes: MAX_RECORD_BYTES.default,
  maxMetadataLength: INGEST_ENV[ENV.maxMetadataLength].default,
  /** An on-demand stream starts with 4 shards. */
  streamShards: STREAM_SHARDS.default,
  shardMapSeconds: INGEST_ENV[ENV.shardMapSeconds].default,
  maxLabelsPerSeries: DEFAULT_LIMITS.maxLabelsPerSeries,
  maxLabelNameLength: DEFAULT_LIMITS.maxLabelNameLength,
  maxLabelValueLength: DEFAULT_LIMITS.maxLabelValueLength,
  putConcurrency: INGEST_ENV[ENV.putConcurrency].default,
  putDeadlineMs: INGEST_ENV[ENV.putDeadlineMs].default,
  retryAfterSeconds: INGEST_ENV[ENV.retryAfterSeconds].default,
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
  const v = readEnv(INGEST_ENV, env);
  const maxBodyBytes = v[ENV.maxBodyBytes];
  const maxDecodedBytes = v[ENV.maxDecodedBytes];
  if (maxDecodedBytes < maxBodyBytes) {
    throw new ConfigError(
      `${ENV.maxDecodedBytes}: must be at least ${ENV.maxBodyBytes} (${maxBodyBytes})`,
      ENV.maxDecodedBytes,
    );
  }
  return Object.freeze({
    ingest: Object.freeze({
      limits: Object.freeze({
        maxLabelsPerSeries: v[ENV.maxLabelsPerSeries],
        maxLabelNameLength: v[ENV.maxLabelNameLength],
        maxLabelValueLength: v[ENV.maxLabelValueLength],
        nameValidation: v[ENV.nameValidation],
      }),
      streamShards: v[ENV.streamShards],
      maxRecordBytes: v[ENV.maxRecordBytes],
      maxDecodedBytes,
      maxMetadataLength: v[ENV.maxMetadataLength],
    }),
    maxBodyBytes,
    sink: Object.freeze({
      streamName: v[ENV.streamName],
      concurrency: v[ENV.putConcurrency],
      deadlineMs: v[ENV.putDeadlineMs],
      retryAfterSeconds: v[ENV.retryAfterSeconds],
      shardMapSeconds: v[ENV.shardMapSeconds],
    }),
    kinesisEndpoint: v[ENV.kinesisEndpoint],
    region: v[ENV.awsRegion] ?? v.AWS_DEFAULT_REGION,
    keySecretArn: v[ENV.apiKeySecretArn],
    ...sharedFrom(v),
  });
}
