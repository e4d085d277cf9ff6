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
 *
 * Shards are read parents before children, as an event source mapping reads them: a shard
 * starts once every parent the stream still lists (ParentShardId, AdjacentParentShardId)
 * has been read to its end, so a series' records before a split or merge are delivered
 * before its records after it. When a shard ends, the shards are listed again and the
 * children it unblocks start from their first record.
 */
export async function startPoller(opts: PollerOptions): Promise<Poller> {
  const stats: PollerStats = {
    delivered: 0,
    deadLettered: 0,
    duplicates: 0,
    requests: 0,
    retries: 0,
    failedBatches: 0,
  };
  const controller = new AbortController();
  const started = new Set<string>();
  const finished = new Set<string>();
  const loops: Promise<void>[] = [];
  let first = true;

  /** Starts every shard not started yet whose listed parents are all read to their end. */
  async function schedule(): Promise<void> {
    const shards = await listShards(opts);
    const listed = new Set(shards.map((s) => s.ShardId!));
    const from = first ? (opts.start ?? "TRIM_HORIZON") : "TRIM_HORIZON";
    first = false;
    for (const s of shards) {
      const id = s.ShardId!;
      if (started.has(id)) continue;
      const parents = [s.ParentShardId, s.AdjacentParentShardId].filter(
        (p): p is string => p !== undefined && listed.has(p),
      );
      if (!parents.every((p) => finished.has(p))) continue;
      started.add(id);
      const loop = pollShard(id, from, opts, stats, controller.signal).then(async (closed) => {
        if (!closed || controller.signal.aborted) return;
        finished.add(id);
        await schedule().catch((err: unknown) => {
          opts.forward.log.warn("listing the shards failed; children of a closed shard wait", {
            shardId: id,
            error: (err as Error).name,
          });
        });
      });
      loops.push(loop);
    }
  }

  await schedule();
  return {
    stats,
    async stop() {
      controller.abort();
      // loops started while others stop are awaited too
      for (let n = 0; n < loops.length; ) {
        const batch = loops.slice(n);
        n = loops.length;
        await Promise.allSettled(batch);
      }
    },
  };
}

async function listShards(opts: PollerOptions) {
  const out = [];
  let token: string | undefined;
  do {
    const page = await opts.client.send(
      new ListShardsCommand(token === undefined ? { StreamName: opts.streamName } : { NextToken: token }),
    );
    out.push(...(page.Shards ?? []));
    token = page.NextToken;
  } while (token !== undefined);
  return out;
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

/** Reads one shard until it ends (resolves true) or the poller stops (false). */
async function pollShard(
  shardId: string,
  from: "TRIM_HORIZON" | "LATEST",
  opts: PollerOptions,
  stats: PollerStats,
  signal: AbortSignal,
): Promise<boolean> {
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
        lastDone !== undefined ? await iteratorAt("AFTER_SEQUENCE_NUMBER", lastDone) : await iteratorAt(from);
      if (iterator === undefined) return true;
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
        return true;
      }
      if (records.length === 0) await pause(opts.idleMs ?? 250, signal);
    } catch (err) {
      if (signal.aborted) return false;
      if (err instanceof ExpiredIteratorException) {
        iterator = undefined;
        continue;
      }
      log.warn("reading the stream failed; trying again", { shardId, error: (err as Error).name });
      iterator = undefined;
      await pause(opts.retryPauseMs ?? 1_000, signal);
    }
  }
  return false;
}
