import type { Context, KinesisStreamEvent } from "aws-lambda";
import { flushingHandler } from "../../lib/aws/emf-metrics";
import { kinesisHandler } from "./kinesis-event";
import { forwarderFromEnv } from "./wiring";

const parts = forwarderFromEnv(process.env);

/** Lambda entry: Kinesis event source mapping batches → the destination. */
export const handler = flushingHandler<KinesisStreamEvent, Context, unknown>(
  kinesisHandler(parts.forward),
  parts.metrics,
);
