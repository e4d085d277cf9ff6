import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { type Listening, listenOnLoopback } from "./listen";

/**
 * A Kinesis stand-in with a shard map and per-shard write limits, for driving the gateway
 * past a stream's capacity on a small machine: PutRecords routes each entry to the open shard
 * whose hash-key range holds its ExplicitHashKey (else the MD5 of its partition key), as
 * Kinesis does, and refuses it with ProvisionedThroughputExceededException when that shard's
 * bytes or records budget for the second is spent (a token bucket holding one second of
 * each, refilled continuously). ListShards lists open and closed shards with their parents.
 * `split` and `merge` reshard as SplitShard and MergeShards do: the parents close and
 * children (or the merged shard) open with new ids. Signatures are not checked: the strict
 * front (strict-kinesis.ts) and the SigV4 stand-in test those.
 */

const HASH_SPACE = 1n << 128n;

export interface StoredRecord {
  readonly data: Buffer;
  readonly partitionKey: string;
  readonly hashKey: bigint;
  readonly sequence: number;
}

export interface SimShard {
  readonly id: string;
  readonly start: bigint;
  readonly end: bigint;
  open: boolean;
  readonly parent?: string;
  readonly adjacentParent?: string;
  readonly records: StoredRecord[];
  bytes: number;
  count: number;
  refilledAt: number;
}

export interface ShardKinesisOptions {
  readonly streamName: string;
  readonly shards: number;
  /** Per-shard budget per second (Kinesis: 1 MiB of data and partition keys). */
  readonly bytesPerSecond: number;
  /** Per-shard budget per second (Kinesis: 1000). */
  readonly recordsPerSecond: number;
  readonly now?: () => number;
}

/** Totals since the start: accepted, and of those first seen by partition key, and refused entries. */
export interface ShardKinesisStats {
  acceptedBytes: number;
  acceptedRecords: number;
  freshBytes: number;
  freshRecords: number;
  throttledEntries: number;
  calls: number;
}

export class ShardKinesis {
  readonly shards: SimShard[] = [];
  readonly stats: ShardKinesisStats = {
    acceptedBytes: 0,
    acceptedRecords: 0,
    freshBytes: 0,
    freshRecords: 0,
    throttledEntries: 0,
    calls: 0,
  };
  private readonly seen = new Set<string>();
  private nextShard = 0;
  private sequence = 0;
  private readonly now: () => number;
  private listening: Listening | undefined;

  constructor(private readonly opts: ShardKinesisOptions) {
    this.now = opts.now ?? (() => performance.now());
    for (let i = 0; i < opts.shards; i++) {
      const start = (BigInt(i) * HASH_SPACE) / BigInt(opts.shards);
      const end = (BigInt(i + 1) * HASH_SPACE) / BigInt(opts.shards) - 1n;
      this.add(start, end);
    }
  }

  /** The stream's write capacity per second: bytes and records, over its open shards. */
  capacity(): { bytes: number; records: number } {
    const open = this.shards.filter((s) => s.open).length;
    return { bytes: open * this.opts.bytesPerSecond, records: open * this.opts.recordsPerSecond };
  }

  async start(): Promise<string> {
    const server = createServer((req, res) => void this.serve(req, res));
    this.listening = await listenOnLoopback(server);
    return this.listening.url;
  }

  async stop(): Promise<void> {
    await this.listening?.close();
  }

  /** SplitShard: closes `id`, opens two children split at `at` (default: the middle of its range). */
  split(id: string, at?: bigint): [string, string] {
    const parent = this.open(id);
    const mid = at ?? parent.start + (parent.end - parent.start + 1n) / 2n;
    if (mid <= parent.start || mid > parent.end) throw new Error("split point outside the shard");
    parent.open = false;
    const low = this.add(parent.start, mid - 1n, parent.id);
    const high = this.add(mid, parent.end, parent.id);
    return [low.id, high.id];
  }

  /** MergeShards: closes two adjacent shards, opens one covering both. */
  merge(a: string, b: string): string {
    let first = this.open(a);
    let second = this.open(b);
    if (second.start < first.start) [first, second] = [second, first];
    if (first.end + 1n !== second.start) throw new Error("shards are not adjacent");
    first.open = false;
    second.open = false;
    return this.add(first.start, second.end, first.id, second.id).id;
  }

  /** Open shards in hash-key order. */
  openShards(): SimShard[] {
    return this.shards.filter((s) => s.open).sort((x, y) => (x.start < y.start ? -1 : 1));
  }

  /**
   * Every shard in an order a consumer may read them: a shard only after its parents (as
   * the KCL and Lambda event source mappings hand them out).
   */
  lineageOrder(): SimShard[] {
    const done = new Set<string>();
    const out: SimShard[] = [];
    while (out.length < this.shards.length) {
      for (const s of this.shards) {
        if (done.has(s.id)) continue;
        if ((s.parent && !done.has(s.parent)) || (s.adjacentParent && !done.has(s.adjacentParent))) continue;
        done.add(s.id);
        out.push(s);
      }
    }
    return out;
  }

  private open(id: string): SimShard {
    const s = this.shards.find((x) => x.id === id);
    if (s === undefined || !s.open) throw new Error(`no open shard ${id}`);
    return s;
  }

  private add(start: bigint, end: bigint, parent?: string, adjacentParent?: string): SimShard {
    const shard: SimShard = {
      id: `shardId-${String(this.nextShard++).padStart(12, "0")}`,
      start,
      end,
      open: true,
      ...(parent === undefined ? {} : { parent }),
      ...(adjacentParent === undefined ? {} : { adjacentParent }),
      records: [],
      bytes: this.opts.bytesPerSecond,
      count: this.opts.recordsPerSecond,
      refilledAt: this.now(),
    };
    this.shards.push(shard);
    return shard;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const target = String(req.headers["x-amz-target"] ?? "");
    const op = target.slice(target.indexOf(".") + 1);
    let body: unknown;
    try {
      const input = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
      if (op === "PutRecords") body = this.putRecords(input);
      else if (op === "ListShards") body = this.listShards(input);
      else return error(res, 400, "UnknownOperationException", `not served here: ${op}`);
    } catch (err) {
      return error(res, 400, "InvalidArgumentException", err instanceof Error ? err.message : "bad request");
    }
    res.statusCode = 200;
    res.setHeader("Content-Type", "application/x-amz-json-1.1");
    res.end(JSON.stringify(body));
  }

  private putRecords(input: Record<string, unknown>): unknown {
    if (input.StreamName !== this.opts.streamName) throw new Error("stream not found");
    this.stats.calls++;
    const entries = input.Records as { Data: string; PartitionKey: string; ExplicitHashKey?: string }[];
    const t = this.now();
    const open = this.openShards();
    for (const s of open) this.refill(s, t);
    let failed = 0;
    const records = entries.map((e) => {
      const data = Buffer.from(e.Data, "base64");
      const key =
        e.ExplicitHashKey !== undefined
          ? BigInt(e.ExplicitHashKey)
          : BigInt(`0x${createHash("md5").update(e.PartitionKey).digest("hex")}`);
      const shard = open.find((s) => key >= s.start && key <= s.end)!;
      const size = data.length + Buffer.byteLength(e.PartitionKey);
      if (shard.count < 1 || shard.bytes < size) {
        failed++;
        this.stats.throttledEntries++;
        return {
          ErrorCode: "ProvisionedThroughputExceededException",
          ErrorMessage: `Rate exceeded for shard ${shard.id} in stream ${this.opts.streamName} under account 000000000000.`,
        };
      }
      shard.count -= 1;
      shard.bytes -= size;
      const sequence = ++this.sequence;
      shard.records.push({ data, partitionKey: e.PartitionKey, hashKey: key, sequence });
      this.stats.acceptedBytes += size;
      this.stats.acceptedRecords++;
      if (!this.seen.has(e.PartitionKey)) {
        this.seen.add(e.PartitionKey);
        this.stats.freshBytes += size;
        this.stats.freshRecords++;
      }
      return { SequenceNumber: String(sequence).padStart(20, "0"), ShardId: shard.id };
    });
    return { FailedRecordCount: failed, Records: records };
  }

  private refill(s: SimShard, t: number): void {
    const dt = Math.max(0, t - s.refilledAt) / 1000;
    s.refilledAt = t;
    s.bytes = Math.min(this.opts.bytesPerSecond, s.bytes + dt * this.opts.bytesPerSecond);
    s.count = Math.min(this.opts.recordsPerSecond, s.count + dt * this.opts.recordsPerSecond);
  }

  private listShards(input: Record<string, unknown>): unknown {
    if (input.StreamName !== this.opts.streamName) throw new Error("stream not found");
    return {
      Shards: this.shards.map((s) => ({
        ShardId: s.id,
        ...(s.parent === undefined ? {} : { ParentShardId: s.parent }),
        ...(s.adjacentParent === undefined ? {} : { AdjacentParentShardId: s.adjacentParent }),
        HashKeyRange: { StartingHashKey: s.start.toString(), EndingHashKey: s.end.toString() },
        SequenceNumberRange: {
          StartingSequenceNumber: "0",
          ...(s.open ? {} : { EndingSequenceNumber: String(this.sequence).padStart(20, "0") }),
        },
      })),
    };
  }
}

function error(res: ServerResponse, status: number, type: string, message: string): void {
  res.statusCode = status;
  res.setHeader("Content-Type", "application/x-amz-json-1.1");
  res.end(JSON.stringify({ __type: type, message }));
}
