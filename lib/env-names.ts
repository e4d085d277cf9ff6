/**
 * Names of every environment variable the functions read. The CDK stacks import these,
 * so the infrastructure and the code cannot drift apart.
 */
export const ENV = {
  // shared
  apiKey: "API_KEY",
  apiKeys: "API_KEYS",
  apiKeySecretArn: "API_KEY_SECRET_ARN",
  keyCacheSeconds: "KEY_CACHE_SECONDS",
  logLevel: "LOG_LEVEL",
  metricsNamespace: "METRICS_NAMESPACE",
  // ingest
  streamName: "KINESIS_STREAM_NAME",
  kinesisEndpoint: "KINESIS_ENDPOINT",
  awsRegion: "AWS_REGION",
  maxBodyBytes: "MAX_BODY_BYTES",
  maxDecodedBytes: "MAX_DECODED_BYTES",
  maxRecordBytes: "MAX_RECORD_BYTES",
  routingBuckets: "ROUTING_BUCKETS",
  maxLabelsPerSeries: "MAX_LABELS_PER_SERIES",
  maxLabelNameLength: "MAX_LABEL_NAME_LENGTH",
  maxLabelValueLength: "MAX_LABEL_VALUE_LENGTH",
  nameValidation: "NAME_VALIDATION",
  putConcurrency: "PUT_CONCURRENCY",
  putDeadlineMs: "PUT_DEADLINE_MS",
  retryAfterSeconds: "RETRY_AFTER_SECONDS",
  // mirror
  mirrorApiKey: "MIRROR_API_KEY",
  mirrorApiKeySecretArn: "MIRROR_API_KEY_SECRET_ARN",
  mirrorRequireKey: "MIRROR_REQUIRE_KEY",
  mirrorAllowedTargets: "MIRROR_ALLOWED_TARGETS",
  mirrorCounterWindow: "MIRROR_COUNTER_WINDOW",
  /** Status of error answers: `native` (400/403/404/502/504) or `500` for every error object. */
  mirrorErrorStatus: "MIRROR_ERROR_STATUS",
  // local server
  port: "PORT",
  host: "HOST",
  // mirror (Prometheus call timeouts)
  mirrorRequestTimeoutMs: "MIRROR_REQUEST_TIMEOUT_MS",
  mirrorMaxRequestTimeoutMs: "MIRROR_MAX_REQUEST_TIMEOUT_MS",
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];
