import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent } from "aws-lambda";
import { type ForwardOptions, forwardBatch } from "../../lib/forwarder/forward";
import type { ForwardRecord } from "../../lib/forwarder/records";

/** The stream name of a Kinesis stream ARN, `arn:<partition>:kinesis:<region>:<account>:stream/<name>`. */
export function streamNameOf(arn: string): string | undefined {
  const m = /^arn:[^:]+:kinesis:[^:]*:[^:]*:stream\/([^/]+)$/.exec(arn);
  return m?.[1];
}

/** A Kinesis event source mapping record, as the forwarder reads it. */
export function fromKinesisEvent(event: KinesisStreamEvent): ForwardRecord[] {
  const names = new Map<string, string | undefined>();
  return event.Records.map((r) => {
    const arn = r.eventSourceARN;
    if (!names.has(arn)) names.set(arn, streamNameOf(arn));
    const streamName = names.get(arn);
    return {
      data: Buffer.from(r.kinesis.data, "base64"),
      partitionKey: r.kinesis.partitionKey,
      sequenceNumber: r.kinesis.sequenceNumber,
      // eventID is "<shardId>:<sequenceNumber>"
      shardId: r.eventID.split(":")[0] ?? "",
      streamArn: arn,
      ...(streamName === undefined ? {} : { streamName }),
    };
  });
}

/**
 * The Lambda entry for a Kinesis event source mapping with ReportBatchItemFailures: the
 * batch is forwarded in order; when it stops early, the first record not handled is
 * reported, and Lambda retries the shard from that record.
 */
export function kinesisHandler(opts: Omit<ForwardOptions, "remainingMs">) {
  return async (
    event: KinesisStreamEvent,
    context: Pick<Context, "getRemainingTimeInMillis">,
  ): Promise<KinesisStreamBatchResponse> => {
    const records = fromKinesisEvent(event);
    const outcome = await forwardBatch(records, {
      ...opts,
      remainingMs: () => context.getRemainingTimeInMillis(),
    });
    opts.log.info("batch forwarded", {
      records: records.length,
      delivered: outcome.delivered,
      requests: outcome.requests,
      retries: outcome.retries,
      deadLettered: outcome.deadLettered,
      duplicates: outcome.duplicates,
      sentAsV1: outcome.sentAsV1,
      ...(outcome.straySeries > 0 ? { straySeries: outcome.straySeries } : {}),
      ...(outcome.unplacedRecords > 0 ? { unplaced: outcome.unplacedRecords } : {}),
      ...(outcome.failed ? { failedAt: outcome.failed.sequenceNumber, reason: outcome.failed.reason } : {}),
    });
    return { batchItemFailures: outcome.failed ? [{ itemIdentifier: outcome.failed.sequenceNumber }] : [] };
  };
}
