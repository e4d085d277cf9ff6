import {
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  type ShardIteratorType,
} from "@aws-sdk/client-kinesis";
import { type ForwardOptions, forwardBatch } from "../forwarder/forward";
import type { ForwardRecord } from "../forwarder/records";

export interface PollerOptions {
  readonly client: Pick<KinesisClient, "send">;
  readonly streamName: string;
  readonly forward: Omit<ForwardOptions, "remainingMs">;
  /** Records per GetRecords call and batch (default 500). */
  readonly batchSize?: number;
  /** Time a batch may spend retrying before it is read again from its first failed record (default 30 s). */
  readonly batchBudgetMs?: number;
  /** Pause when a shard had nothing new (default 250 ms). */
  readonly idleMs?: number;
  /** Pause before a failed batch is read again (default 1 s). */
  readonly retryPauseMs?: number;
  /** Where to start in each shard (default the oldest record). */
  readonly start?: "TRIM_HORIZON" | "LATEST";
}

export interface PollerStats {
  delivered: number;
  deadLettered: number;
  duplicates: number;
  requests: number;
  retries: number;
  failedBatches: number;
}

export interface Poller {
  readonly stats: PollerStats;
  stop(): Promise<void>;
}

/**
 * The forwarder without Lambda: one polling loop per shard (GetShardIterator and
 * GetRecords), each batch handed to the same forwardBatch as the Lambda handler. A batch
 * that stops early is read again from its first failed record after a pause, so the
 * semantics match an event source mapping that retries until the record is delivered.
 */
export async function startPoller(opts: PollerOptions): Promise<Poller> {
  const shards = await opts.client.send(new ListShardsCommand({ StreamName: opts.streamName }));
  const stats: PollerStats = {
    delivered: 0,
    deadLettered: 0,
    duplicates: 0,
    requests: 0,
    retries: 0,
    failedBatches: 0,
  };
  const controller = new AbortController();
  const loops = (shards.Shards ?? []).map((s) => pollShard(s.ShardId!, opts, stats, controller.signal));
  return {
    stats,
    async stop() {
      controller.abort();
      await Promise.allSettled(loops);
    },
  };
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}

async function pollShard(shardId: string, opts: PollerOptions, stats: PollerStats, signal: AbortSignal) {
  const { client, streamName } = opts;
  const log = opts.forward.log;
  const iteratorAt = async (type: ShardIteratorType, sequence?: string) => {
    const out = await client.send(
      new GetShardIteratorCommand({
        StreamName: streamName,
        ShardId: shardId,
        ShardIteratorType: type,
        ...(sequence !== undefined ? { StartingSequenceNumber: sequence } : {}),
      }),
    );
    return out.ShardIterator;
  };
  let lastDone: string | undefined;
  let iterator: string | undefined;
  while (!signal.aborted) {
    try {
      iterator ??=
        lastDone !== undefined
          ? await iteratorAt("AFTER_SEQUENCE_NUMBER", lastDone)
          : await iteratorAt(opts.start ?? "TRIM_HORIZON");
      if (iterator === undefined) return;
      const out = await client.send(
        new GetRecordsCommand({ ShardIterator: iterator, Limit: opts.batchSize ?? 500 }),
      );
      const records: ForwardRecord[] = (out.Records ?? []).map((r) => ({
        data: r.Data!,
        partitionKey: r.PartitionKey!,
        sequenceNumber: r.SequenceNumber!,
        shardId,
        streamName,
      }));
      if (records.length > 0) {
        const deadline = Date.now() + (opts.batchBudgetMs ?? 30_000);
        const outcome = await forwardBatch(records, {
          ...opts.forward,
          remainingMs: () => deadline - Date.now(),
        });
        stats.delivered += outcome.delivered;
        stats.deadLettered += outcome.deadLettered;
        stats.duplicates += outcome.duplicates;
        stats.requests += outcome.requests;
        stats.retries += outcome.retries;
        if (outcome.failed !== undefined) {
          stats.failedBatches++;
          log.warn("batch not delivered; reading it again", {
            shardId,
            from: outcome.failed.sequenceNumber,
            reason: outcome.failed.reason,
          });
          iterator = await iteratorAt("AT_SEQUENCE_NUMBER", outcome.failed.sequenceNumber);
          await pause(opts.retryPauseMs ?? 1_000, signal);
          continue;
        }
        lastDone = records[records.length - 1]!.sequenceNumber;
      }
      iterator = out.NextShardIterator;
      if (iterator === undefined) {
        log.info("shard closed; its records are forwarded", { shardId });
        return;
      }
      if (records.length === 0) await pause(opts.idleMs ?? 250, signal);
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof ExpiredIteratorException) {
        iterator = undefined;
        continue;
      }
      log.warn("reading the stream failed; trying again", { shardId, error: (err as Error).name });
      iterator = undefined;
      await pause(opts.retryPauseMs ?? 1_000, signal);
    }
  }
}
