/** Metric names the forwarder emits in Embedded Metric Format (dimension `Service` = `forwarder`). */
export const FORWARDER_METRICS = {
  recordsDelivered: "ForwardedRecords",
  requests: "ForwardRequests",
  retries: "ForwardRetries",
  deadLetters: "DeadLetters",
  duplicates: "DuplicateRecords",
  batchFailures: "ForwardBatchFailures",
} as const;

export const FORWARDER_SERVICE = "forwarder";
