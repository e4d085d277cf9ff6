import {
  type _Record,
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
} from "@aws-sdk/client-kinesis";

/**
 * Reads a stream shard by shard from the oldest record (TRIM_HORIZON), for the tail
 * tool and the tests. `follow` keeps polling; otherwise it stops at each shard's tip.
 */
export async function* readStream(
  client: Pick<KinesisClient, "send">,
  streamName: string,
  opts: {
    follow?: boolean;
    pollMs?: number;
    signal?: AbortSignal;
    latest?: boolean;
    /** Called once every shard has its iterator: the stream is reachable and exists. */
    onReady?: () => void;
  } = {},
): AsyncGenerator<{ shardId: string; record: _Record }> {
  const shards = await client.send(new ListShardsCommand({ StreamName: streamName }));
  const iterators = new Map<string, string | undefined>();
  for (const shard of shards.Shards ?? []) {
    const it = await client.send(
      new GetShardIteratorCommand({
        StreamName: streamName,
        ShardId: shard.ShardId!,
        ShardIteratorType: opts.latest ? "LATEST" : "TRIM_HORIZON",
      }),
    );
    iterators.set(shard.ShardId!, it.ShardIterator);
  }
  opts.onReady?.();
  for (;;) {
    let got = 0;
    for (const [shardId, iterator] of iterators) {
      if (iterator === undefined || opts.signal?.aborted) continue;
      let next: string | undefined = iterator;
      // drain this shard up to its tip
      for (;;) {
        const out: GetRecordsCommandOutput = await client.send(
          new GetRecordsCommand({ ShardIterator: next, Limit: 1000 }),
        );
        for (const record of out.Records ?? []) yield { shardId, record };
        got += out.Records?.length ?? 0;
        next = out.NextShardIterator;
        if (!out.Records?.length || out.MillisBehindLatest === 0 || next === undefined) break;
      }
      iterators.set(shardId, next);
    }
    if (!opts.follow || opts.signal?.aborted) return;
    if (got === 0) await new Promise((r) => setTimeout(r, opts.pollMs ?? 500));
  }
}

/** Every record currently in the stream, in per-shard order. */
export async function readAll(client: Pick<KinesisClient, "send">, streamName: string) {
  const out: { shardId: string; record: _Record }[] = [];
  for await (const item of readStream(client, streamName)) out.push(item);
  return out;
}
