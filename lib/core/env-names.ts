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
  maxMetadataLength: "MAX_METADATA_LENGTH",
  streamShards: "STREAM_SHARDS",
  shardMapSeconds: "SHARD_MAP_SECONDS",
  maxLabelsPerSeries: "MAX_LABELS_PER_SERIES",
  maxLabelNameLength: "MAX_LABEL_NAME_LENGTH",
  maxLabelValueLength: "MAX_LABEL_VALUE_LENGTH",
  nameValidation: "NAME_VALIDATION",
  putConcurrency: "PUT_CONCURRENCY",
  putDeadlineMs: "PUT_DEADLINE_MS",
  retryAfterSeconds: "RETRY_AFTER_SECONDS",
  /** Source CIDRs the remote-write Lambda handler admits (unset: every source). */
  ingestAllowedCidrs: "INGEST_ALLOWED_CIDRS",
  // ingest: HA-pair deduplication (lib/ha/config.ts)
  haDedup: "HA_DEDUP",
  haClusterLabel: "HA_CLUSTER_LABEL",
  haReplicaLabel: "HA_REPLICA_LABEL",
  haUpdateTimeoutSeconds: "HA_UPDATE_TIMEOUT_SECONDS",
  haFailoverTimeoutSeconds: "HA_FAILOVER_TIMEOUT_SECONDS",
  haMaxClusters: "HA_MAX_CLUSTERS",
  /** The DynamoDB table holding one elected replica per tenant and cluster. */
  haTableName: "HA_TABLE_NAME",
  /** A local DynamoDB API (the local server's); unset: AWS. */
  dynamodbEndpoint: "DYNAMODB_ENDPOINT",
  // mirror
  mirrorApiKey: "MIRROR_API_KEY",
  mirrorApiKeySecretArn: "MIRROR_API_KEY_SECRET_ARN",
  mirrorRequireKey: "MIRROR_REQUIRE_KEY",
  /** Source CIDRs whose callers the mirror trusts without a key (unset: every caller). */
  mirrorTrustedCidrs: "MIRROR_TRUSTED_CIDRS",
  mirrorAllowedTargets: "MIRROR_ALLOWED_TARGETS",
  mirrorCounterWindow: "MIRROR_COUNTER_WINDOW",
  /** Status of error answers: `native` (400/403/404/502/504) or `500` for every error object. */
  mirrorErrorStatus: "MIRROR_ERROR_STATUS",
  // local server
  port: "PORT",
  host: "HOST",
  localMaxConnections: "LOCAL_MAX_CONNECTIONS",
  localHeadersTimeoutMs: "LOCAL_HEADERS_TIMEOUT_MS",
  localRequestTimeoutMs: "LOCAL_REQUEST_TIMEOUT_MS",
  localMinBodyBytesPerSecond: "LOCAL_MIN_BODY_BYTES_PER_SECOND",
  localBodyGraceMs: "LOCAL_BODY_GRACE_MS",
  localMirrorConcurrency: "LOCAL_MIRROR_CONCURRENCY",
  // mirror (Prometheus call timeouts)
  mirrorRequestTimeoutMs: "MIRROR_REQUEST_TIMEOUT_MS",
  mirrorMaxRequestTimeoutMs: "MIRROR_MAX_REQUEST_TIMEOUT_MS",
  // mirror (what one query may read from Prometheus)
  /** The most bytes of one Prometheus answer the mirror reads. */
  mirrorMaxAnswerBytes: "MIRROR_MAX_ANSWER_BYTES",
  /** The most series a metric query's conditions may match before it is refused. */
  mirrorMaxSeries: "MIRROR_MAX_SERIES",
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];

/** The forwarder (stream → any remote_write endpoint). */
export const FORWARD_ENV = {
  url: "FORWARD_URL",
  auth: "FORWARD_AUTH",
  username: "FORWARD_USERNAME",
  password: "FORWARD_PASSWORD",
  token: "FORWARD_TOKEN",
  headerName: "FORWARD_HEADER_NAME",
  headerValue: "FORWARD_HEADER_VALUE",
  region: "FORWARD_REGION",
  secretArn: "FORWARD_SECRET_ARN",
  maxRequestBytes: "FORWARD_MAX_REQUEST_BYTES",
  timeoutMs: "FORWARD_TIMEOUT_MS",
  deadLetterQueueUrl: "FORWARD_DLQ_URL",
  deadLetterFile: "FORWARD_DEAD_LETTER_FILE",
  /** `auto` (2.0, falling back to 1.0 where the destination does not take it), `v1` or `v2`. */
  protocol: "FORWARD_PROTOCOL",
  /** How long a fallback to 1.0 is remembered before 2.0 is tried again. */
  protocolMemorySeconds: "FORWARD_PROTOCOL_MEMORY_SECONDS",
  /** Retry 401 and 403 like 5xx (while a secret is put in place) instead of dead-lettering. */
  retryAuthFailures: "FORWARD_RETRY_AUTH_FAILURES",
  batchSize: "FORWARD_BATCH_SIZE",
  /** Local poller only: how long a batch may retry before it is read again from its first failed record. */
  batchBudgetMs: "FORWARD_BATCH_BUDGET_MS",
} as const;
