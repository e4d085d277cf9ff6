import {
  HEALTHCHECK_PATH,
  LOCAL_HEALTH_PATH,
  METRICS_PATH,
  MIRROR_METHOD_PATHS,
  RECEIVER_PATH,
  REMOTE_WRITE_PATH,
} from "./routes";

/**
 * Names of the metrics the functions emit in CloudWatch Embedded Metric Format, declared
 * once for the functions, the stack's dashboard and alarms, and the tests.
 *
 * Every metric carries the `Service` dimension (the emitting function); a metric counted
 * with one more dimension (`Reason`, `Endpoint`) is published only under that pair.
 * METRIC_CATALOGUE (below) holds each one's service, help text and Prometheus name, for the
 * local server's /metrics.
 */
export const METRIC_NAMES = {
  // remote-write
  /** Samples and native histograms written to the stream. */
  samplesReceived: "SamplesReceived",
  /** Of those, native histograms. */
  histogramsReceived: "HistogramsReceived",
  /** Exemplars written to the stream. */
  exemplarsReceived: "ExemplarsReceived",
  seriesRejected: "SeriesRejected",
  recordsWritten: "RecordsWritten",
  /** PutRecords calls made (retries included). */
  putRecordsCalls: "PutRecordsCalls",
  kinesisRetries: "KinesisRetries",
  kinesisThrottled: "KinesisThrottled",
  kinesisFailedPuts: "KinesisFailedPuts",
  /** Records the stream refused for what they are (answered 400: never resent). */
  recordsRefused: "RecordsRefused",
  /** Requests answered 500 because the stream refuses this writer (missing, access, KMS). */
  streamUnusable: "StreamUnusable",
  /** Shard maps read with ListShards (on start, on expiry, when an answer disagreed with the map). */
  shardMapReads: "ShardMapReads",
  /** ListShards calls that failed (the last map, or the default one, stays in use). */
  shardMapFailures: "ShardMapFailures",
  /** Records written again because their first copy landed on a shard not holding all their series (a resharding). */
  recordsRerouted: "RecordsRerouted",
  /** Written records whose shard the map could not place even after a fresh read. */
  placementUnverified: "PlacementUnverified",
  // remote-write: HA-pair deduplication (lib/ha)
  /** Requests answered without writing anything, by reason: a replica not elected (202), a cluster over the cap (400). */
  haRequestsDropped: "HaRequestsDropped",
  /** Their samples and native histograms, by reason. */
  haSamplesDropped: "HaSamplesDropped",
  /** Of those, native histograms, by reason. */
  haHistogramsDropped: "HaHistogramsDropped",
  /** Their exemplars, by reason. */
  haExemplarsDropped: "HaExemplarsDropped",
  /** Clusters whose first replica was elected (their item created). */
  haElections: "HaElections",
  /** Replicas that took over from one silent for longer than the failover timeout. */
  haFailovers: "HaFailovers",
  /** Calls to the replica table, by operation. */
  haStoreCalls: "HaStoreCalls",
  /** Calls to the replica table that failed (an error answer, a timeout), by operation. */
  haStoreFailures: "HaStoreFailures",
  /** Requests decided from this instance's cache while the table could not be reached (fail-static). */
  haStaleDecisions: "HaStaleDecisions",
  /** Requests answered 503 because the table could not be reached and the cache could not decide. */
  haUnavailable: "HaUnavailable",
  // mirror
  mirrorRequests: "MirrorRequests",
  mirrorErrors: "MirrorErrors",
  // forwarder
  forwardedRecords: "ForwardedRecords",
  forwardRequests: "ForwardRequests",
  forwardRetries: "ForwardRetries",
  deadLetters: "DeadLetters",
  duplicateRecords: "DuplicateRecords",
  forwardBatchFailures: "ForwardBatchFailures",
  /** Times the destination was found not to take Remote-Write 2.0 (415, or 2xx confirming nothing written). */
  protocolFallbacks: "ProtocolFallbacks",
  /** v2 records delivered rewritten as Remote-Write 1.0. */
  recordsSentAsV1: "RecordsSentAsV1",
  /** Start timestamps of v2 records sent as 1.0, which 1.0 cannot carry. */
  startTimestampsDropped: "StartTimestampsDropped",
  /** 2.0 requests answered 2xx with fewer samples or histograms written than sent. */
  partialWrites: "PartialWrites",
  /** Series dropped from records read on a shard that does not hold them: copies of a resharding, written again to their own shard. */
  straySeriesDropped: "StraySeriesDropped",
  /** Stream-format-2 records forwarded whole because the slots of their shard could not be read (ListShards failing, a shard not listed). */
  strayCheckSkipped: "StrayCheckSkipped",
} as const;

export type MetricName = (typeof METRIC_NAMES)[keyof typeof METRIC_NAMES];

/** Dimension names. */
export const METRIC_DIMENSIONS = {
  service: "Service",
  reason: "Reason",
  endpoint: "Endpoint",
  operation: "Operation",
} as const;

/** Values of the `Service` dimension, one per function. */
export const METRIC_SERVICES = {
  remoteWrite: "remote-write",
  mirror: "mirror",
  forwarder: "forwarder",
} as const;

/** Namespace used when `METRICS_NAMESPACE` is unset. */
export const DEFAULT_METRICS_NAMESPACE = "PrometheusGateway";

export type MetricKey = keyof typeof METRIC_NAMES;
export type MetricService = (typeof METRIC_SERVICES)[keyof typeof METRIC_SERVICES];
export type MetricDimension = (typeof METRIC_DIMENSIONS)[keyof typeof METRIC_DIMENSIONS];

/** The prefix of every name on /metrics (the default namespace, in Prometheus's spelling). */
export const PROMETHEUS_PREFIX = "prometheus_gateway_";

/**
 * Why a series is refused (lib/ingest/scan/validate.ts `RejectReason`; a unit test holds the
 * two lists equal): the values of `SeriesRejected`'s `Reason`.
 */
export const SERIES_REJECT_REASONS = [
  "no-labels",
  "missing-metric-name",
  "metric-name-invalid",
  "label-name-invalid",
  "label-name-duplicate",
  "label-value-empty",
  "label-value-invalid-utf8",
  "label-name-too-long",
  "label-value-too-long",
  "too-many-labels",
  "symbol-ref-invalid",
  "series-too-large",
  "metadata-too-long",
  "histogram-count-mismatch",
  "histogram-spans-mismatch",
  "histogram-negative-count",
  "histogram-schema-invalid",
  "histogram-custom-bounds-invalid",
] as const;

/** Why HA deduplication answered a request without writing it: the `Reason` of the `Ha…Dropped` metrics. */
export const HA_DROP_REASONS = ["replica-not-elected", "too-many-clusters"] as const;

/** The replica table's operations (lib/ha/store.ts `StoreOperation`): the `Operation` of `HaStore…`. */
export const HA_STORE_OPERATIONS = ["GetItem", "PutItem", "UpdateItem", "Query"] as const;

/** The codes of the mirror's error answers (lib/mirror/errors.ts and the app): `MirrorErrors`' `Reason`. */
export const MIRROR_ERROR_REASONS = [
  "unauthorized",
  "key-unavailable",
  "route-not-found",
  "method-not-allowed",
  "body-too-large",
  "json-invalid",
  "request-invalid",
  "conditions-invalid",
  "value-invalid",
  "field-type-unsupported",
  "target-not-allowed",
  "metric-not-found",
  "query-rejected",
  "answer-too-large",
  "too-many-series",
  "prometheus-answer-invalid",
  "prometheus-dns",
  "prometheus-http-error",
  "prometheus-redirect",
  "prometheus-refused",
  "prometheus-reset",
  "prometheus-timeout",
  "prometheus-unreachable",
  "internal",
] as const;

/** `MirrorRequests`' `Endpoint`: a mirror method's path, or `other`. */
export const MIRROR_ENDPOINTS = [...MIRROR_METHOD_PATHS, "other"] as const;

/** The label value a dimension value outside its fixed list is counted under on /metrics. */
export const OTHER_LABEL_VALUE = "other";

export interface CounterSpec {
  /** The function that emits it (the EMF `Service`). */
  readonly service: MetricService;
  /** One line for `# HELP`. */
  readonly help: string;
  /** The dimension besides `Service`, and every value its Prometheus label may take. */
  readonly by?: { readonly dimension: MetricDimension; readonly values: readonly string[] };
}

/**
 * Every EMF metric, keyed as METRIC_NAMES (the type makes an entry for each one compulsory),
 * with what /metrics needs besides the name, which is derived (`prometheusName`).
 */
export const METRIC_CATALOGUE: { readonly [K in MetricKey]: CounterSpec } = {
  samplesReceived: { service: "remote-write", help: "Samples and native histograms written to the stream." },
  histogramsReceived: { service: "remote-write", help: "Native histograms written to the stream." },
  exemplarsReceived: { service: "remote-write", help: "Exemplars written to the stream." },
  seriesRejected: {
    service: "remote-write",
    help: "Series refused by validation, by reason.",
    by: { dimension: "Reason", values: SERIES_REJECT_REASONS },
  },
  recordsWritten: { service: "remote-write", help: "Kinesis records written." },
  putRecordsCalls: { service: "remote-write", help: "Kinesis PutRecords calls made, retries included." },
  kinesisRetries: { service: "remote-write", help: "PutRecords entries sent again." },
  kinesisThrottled: { service: "remote-write", help: "PutRecords entries Kinesis throttled." },
  kinesisFailedPuts: {
    service: "remote-write",
    help: "Records given up on (their requests answered 503 or 500).",
  },
  recordsRefused: {
    service: "remote-write",
    help: "Records Kinesis refused for what they are (their requests answered 400).",
  },
  streamUnusable: {
    service: "remote-write",
    help: "Requests answered 500 because the stream refuses this writer.",
  },
  shardMapReads: { service: "remote-write", help: "Shard maps read with ListShards." },
  shardMapFailures: {
    service: "remote-write",
    help: "ListShards calls that failed (the last map stays in use).",
  },
  recordsRerouted: {
    service: "remote-write",
    help: "Records written again because their first copy landed outside their series' shard (a resharding).",
  },
  placementUnverified: {
    service: "remote-write",
    help: "Written records whose shard the map could not place, even after a fresh read.",
  },
  haRequestsDropped: {
    service: "remote-write",
    help: "Requests HA deduplication answered without writing them (202 or 400), by reason.",
    by: { dimension: "Reason", values: HA_DROP_REASONS },
  },
  haSamplesDropped: {
    service: "remote-write",
    help: "Samples and native histograms of those requests, by reason.",
    by: { dimension: "Reason", values: HA_DROP_REASONS },
  },
  haHistogramsDropped: {
    service: "remote-write",
    help: "Native histograms of those requests, by reason.",
    by: { dimension: "Reason", values: HA_DROP_REASONS },
  },
  haExemplarsDropped: {
    service: "remote-write",
    help: "Exemplars of those requests, by reason.",
    by: { dimension: "Reason", values: HA_DROP_REASONS },
  },
  haElections: { service: "remote-write", help: "HA clusters whose first replica was elected." },
  haFailovers: {
    service: "remote-write",
    help: "HA replicas that took over from one silent past the failover timeout.",
  },
  haStoreCalls: {
    service: "remote-write",
    help: "Calls to the HA replica table, by operation.",
    by: { dimension: "Operation", values: HA_STORE_OPERATIONS },
  },
  haStoreFailures: {
    service: "remote-write",
    help: "Calls to the HA replica table that failed, by operation.",
    by: { dimension: "Operation", values: HA_STORE_OPERATIONS },
  },
  haStaleDecisions: {
    service: "remote-write",
    help: "Requests decided from the cached election while the HA replica table was unreachable.",
  },
  haUnavailable: {
    service: "remote-write",
    help: "Requests answered 503 because the HA replica table was unreachable.",
  },
  mirrorRequests: {
    service: "mirror",
    help: "Mirror requests, by endpoint.",
    by: { dimension: "Endpoint", values: MIRROR_ENDPOINTS },
  },
  mirrorErrors: {
    service: "mirror",
    help: "Mirror error answers, by reason.",
    by: { dimension: "Reason", values: MIRROR_ERROR_REASONS },
  },
  forwardedRecords: { service: "forwarder", help: "Stream records delivered to the destination." },
  forwardRequests: { service: "forwarder", help: "Remote-write requests sent to the destination." },
  forwardRetries: { service: "forwarder", help: "Remote-write requests sent again." },
  deadLetters: { service: "forwarder", help: "Records given up on and sent to the dead letters." },
  duplicateRecords: { service: "forwarder", help: "Stream records seen again and skipped." },
  forwardBatchFailures: { service: "forwarder", help: "Batches that failed and will be read again." },
  protocolFallbacks: {
    service: "forwarder",
    help: "Times the destination was found not to take Remote-Write 2.0.",
  },
  recordsSentAsV1: { service: "forwarder", help: "Remote-Write 2.0 records delivered as 1.0." },
  startTimestampsDropped: {
    service: "forwarder",
    help: "Start timestamps of 2.0 records sent as 1.0, which cannot carry them.",
  },
  partialWrites: {
    service: "forwarder",
    help: "2.0 requests answered 2xx with fewer samples or histograms written than sent.",
  },
  straySeriesDropped: {
    service: "forwarder",
    help: "Series dropped as strays of a resharding (copies written again to their own shard).",
  },
  strayCheckSkipped: {
    service: "forwarder",
    help: "Records forwarded whole because the slots of their shard could not be read.",
  },
};

/** `SamplesReceived` → `prometheus_gateway_samples_received_total`. */
export function prometheusName(emfName: string): string {
  const snake = emfName.replace(/(?<=[a-z0-9])([A-Z])|(?<=[A-Z])([A-Z])(?=[a-z])/g, "_$1$2").toLowerCase();
  return `${PROMETHEUS_PREFIX}${snake}_total`;
}

/** `Reason` → `reason`. */
export function prometheusLabel(dimension: string): string {
  return dimension.toLowerCase();
}

/**
 * The local server's request durations (no EMF counterpart: on AWS, API Gateway's `Latency`
 * and Lambda's `Duration` measure them). Routes and outcomes are fixed lists.
 */
export const REQUEST_DURATION = {
  name: `${PROMETHEUS_PREFIX}http_request_duration_seconds`,
  help: "Time from a request's arrival to its answer sent, by route and outcome.",
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  labels: {
    route: [
      REMOTE_WRITE_PATH,
      RECEIVER_PATH,
      ...MIRROR_METHOD_PATHS,
      HEALTHCHECK_PATH,
      "/",
      LOCAL_HEALTH_PATH,
      METRICS_PATH,
      OTHER_LABEL_VALUE,
    ],
    /** The status class, or `closed` when the connection ended before the answer was sent. */
    outcome: ["2xx", "3xx", "4xx", "5xx", "closed"],
  },
} as const;
