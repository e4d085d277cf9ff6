/**
 * Names of the metrics the functions emit in CloudWatch Embedded Metric Format, declared
 * once for the functions, the stack's dashboard and alarms, and the tests.
 *
 * Every metric carries the `Service` dimension (the emitting function); a metric counted
 * with one more dimension (`Reason`, `Endpoint`) is published only under that pair.
 */
export const METRIC_NAMES = {
  // remote-write
  samplesReceived: "SamplesReceived",
  seriesRejected: "SeriesRejected",
  recordsWritten: "RecordsWritten",
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
} as const;

export type MetricName = (typeof METRIC_NAMES)[keyof typeof METRIC_NAMES];

/** Dimension names. */
export const METRIC_DIMENSIONS = {
  service: "Service",
  reason: "Reason",
  endpoint: "Endpoint",
} as const;

/** Values of the `Service` dimension, one per function. */
export const METRIC_SERVICES = {
  remoteWrite: "remote-write",
  mirror: "mirror",
  forwarder: "forwarder",
} as const;

/** Namespace used when `METRICS_NAMESPACE` is unset. */
export const DEFAULT_METRICS_NAMESPACE = "PrometheusGateway";
