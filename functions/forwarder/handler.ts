import type { Context, KinesisStreamEvent } from "aws-lambda";
import { flushingHandler } from "../../lib/aws/emf-metrics";
import { kinesisHandler } from "./kinesis-event";
import { forwarderFromEnv } from "./wiring";

const parts = forwarderFromEnv(process.env);

/** Lambda entry: Kinesis event source mapping batches → the destination. */
export const handler = flushingHandler<KinesisStreamEvent, Context, unknown>(
  kinesisHandler({
    destination: parts.destination,
    deadLetters: parts.deadLetters,
    maxRequestBytes: parts.config.maxRequestBytes,
    timeoutMs: parts.config.timeoutMs,
    log: parts.log,
    metrics: parts.metrics,
  }),
  parts.metrics,
);
