import type { Env } from "../core/config";
import type { Logger } from "../core/log";
import type { ShardInfo, ShardLister } from "../stream/shard-map";
import { AwsJsonClient, KINESIS_SERVICE, serviceEndpoint } from "./aws-json";
import { defaultCredentials } from "./default-credentials";

/** One entry of a PutRecords call. */
export interface PutRecordsEntry {
  readonly data: Uint8Array;
  readonly partitionKey: string;
  readonly explicitHashKey?: string;
}

/** The answer for one entry: a sequence number when written, else an error code. */
export interface PutRecordsResultEntry {
  readonly sequenceNumber?: string;
  readonly shardId?: string;
  readonly errorCode?: string;
  readonly errorMessage?: string;
}

export interface PutRecordsResult {
  readonly failedRecordCount: number;
  /** In the order of the entries sent. */
  readonly records: readonly PutRecordsResultEntry[];
}

/**
 * The one Kinesis call the ingest path makes. Rejects with an error named by the AWS error
 * code (e.g. `ProvisionedThroughputExceededException`) when the whole call failed.
 */
export interface RecordPutter {
  putRecords(
    streamName: string,
    entries: readonly PutRecordsEntry[],
    signal?: AbortSignal,
  ): Promise<PutRecordsResult>;
}

/** ListShards pages at most this many (a stream may have thousands of shards, closed ones included). */
const MAX_LIST_PAGES = 100;

export interface KinesisRecordsOptions {
  readonly region: string;
  /** A local Kinesis API (KINESIS_ENDPOINT, e.g. http://127.0.0.1:4568): fixed dummy credentials. */
  readonly endpoint?: string;
  /** Where AWS_ENDPOINT_URL_KINESIS, the endpoint variants and the credentials are read (default process.env). */
  readonly env?: Env;
  /** Where a refusal of the credentials is logged. */
  readonly log?: Logger;
}

/**
 * PutRecords on the lean AWS JSON client: the request body is written by hand (each
 * record's data as base64 straight from its bytes), no SDK client in the way. Retries are
 * the sink's: one attempt per call.
 */
export class KinesisRecordsClient implements RecordPutter, ShardLister {
  constructor(private readonly client: AwsJsonClient) {}

  static create(opts: KinesisRecordsOptions): KinesisRecordsClient {
    const env = opts.env ?? process.env;
    const local = opts.endpoint !== undefined && opts.endpoint !== "";
    return new KinesisRecordsClient(
      new AwsJsonClient({
        service: KINESIS_SERVICE,
        region: opts.region,
        endpoint: local ? opts.endpoint! : serviceEndpoint(KINESIS_SERVICE, opts.region, env),
        credentials: local ? { accessKeyId: "local", secretAccessKey: "local" } : defaultCredentials(env),
        log: opts.log,
      }),
    );
  }

  async putRecords(
    streamName: string,
    entries: readonly PutRecordsEntry[],
    signal?: AbortSignal,
  ): Promise<PutRecordsResult> {
    const out = (await this.client.call("PutRecords", putRecordsBody(streamName, entries), signal)) as {
      FailedRecordCount?: unknown;
      Records?: unknown;
    };
    const records = Array.isArray(out.Records) ? (out.Records as Record<string, unknown>[]) : [];
    return {
      failedRecordCount: typeof out.FailedRecordCount === "number" ? out.FailedRecordCount : 0,
      records: records.map((r) => ({
        ...(typeof r.SequenceNumber === "string" ? { sequenceNumber: r.SequenceNumber } : {}),
        ...(typeof r.ShardId === "string" ? { shardId: r.ShardId } : {}),
        ...(typeof r.ErrorCode === "string" ? { errorCode: r.ErrorCode } : {}),
        ...(typeof r.ErrorMessage === "string" ? { errorMessage: r.ErrorMessage } : {}),
      })),
    };
  }

  /** Every shard of the stream, open and closed, following NextToken (kinesis:ListShards). */
  async listShards(streamName: string, signal?: AbortSignal): Promise<ShardInfo[]> {
    const shards: ShardInfo[] = [];
    let token: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      // with a NextToken the stream name must not be sent again
      const body = token === undefined ? { StreamName: streamName } : { NextToken: token };
      const out = (await this.client.call("ListShards", JSON.stringify(body), signal)) as {
        Shards?: unknown;
        NextToken?: unknown;
      };
      if (Array.isArray(out.Shards)) for (const s of out.Shards) shards.push(shardInfo(s));
      if (typeof out.NextToken !== "string" || out.NextToken === "") return shards;
      token = out.NextToken;
    }
    throw new Error(`ListShards: more than ${MAX_LIST_PAGES} pages`);
  }

  destroy(): void {
    this.client.destroy();
  }
}

/** The JSON body of PutRecords, written directly: `{"StreamName":..,"Records":[{"Data":"<base64>",..}]}`. */
export function putRecordsBody(streamName: string, entries: readonly PutRecordsEntry[]): string {
  let body = `{"StreamName":${JSON.stringify(streamName)},"Records":[`;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const data = Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength).toString("base64");
    body += `${i === 0 ? "" : ","}{"Data":"${data}","PartitionKey":${JSON.stringify(e.partitionKey)}`;
    body += e.explicitHashKey ? `,"ExplicitHashKey":${JSON.stringify(e.explicitHashKey)}}` : "}";
  }
  return `${body}]}`;
}

/** One entry of ListShards' `Shards`, checked field by field. */
function shardInfo(raw: unknown): ShardInfo {
  const s = (raw ?? {}) as Record<string, unknown>;
  const range = (s.HashKeyRange ?? {}) as Record<string, unknown>;
  const seq = (s.SequenceNumberRange ?? {}) as Record<string, unknown>;
  const id = s.ShardId;
  const start = range.StartingHashKey;
  const end = range.EndingHashKey;
  if (typeof id !== "string" || typeof start !== "string" || typeof end !== "string") {
    throw new Error("ListShards: a shard without ShardId or HashKeyRange");
  }
  if (!/^\d{1,39}$/.test(start) || !/^\d{1,39}$/.test(end))
    throw new Error("ListShards: a hash key is not a number");
  return {
    shardId: id,
    startingHashKey: start,
    endingHashKey: end,
    open: typeof seq.EndingSequenceNumber !== "string",
    ...(typeof s.ParentShardId === "string" ? { parentShardId: s.ParentShardId } : {}),
    ...(typeof s.AdjacentParentShardId === "string"
      ? { adjacentParentShardId: s.AdjacentParentShardId }
      : {}),
  };
}
