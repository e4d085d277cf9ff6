import { request } from "node:http";
import {
  type KinesisClient,
  ListShardsCommand,
  PutRecordCommand,
  PutRecordsCommand,
} from "@aws-sdk/client-kinesis";
import { SignatureV4 } from "@smithy/signature-v4";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmbeddedKinesis } from "../../functions/local/embedded-kinesis";
import { readAll } from "../../functions/local/stream";
import { AwsJsonClient, AwsServiceError, KINESIS_SERVICE } from "../../lib/aws/aws-json";
import { createKinesisClient } from "../../lib/aws/kinesis-client";
import { KinesisRecordsClient, type PutRecordsEntry } from "../../lib/aws/kinesis-records";
import { KinesisSink } from "../../lib/aws/kinesis-sink";
import { NodeSha256 } from "../../lib/aws/node-sha256";
import { echo } from "../../lib/core/errors";
import { createLogger } from "../../lib/core/log";
import { METRIC_NAMES } from "../../lib/core/metric-names";
import { createMemoryMetrics } from "../../lib/core/metrics";
import { ShardMap } from "../../lib/stream/shard-map";
import {
  type PerRecordCode,
  recordFailures,
  type StrictKinesis,
  type StrictKinesisLimits,
  type StrictStream,
  startStrictKinesis,
  startStrictStream,
} from "../support/strict-kinesis";

/**
 * The strict Kinesis front (test/support/strict-kinesis.ts) over the real kinesis-local,
 * driven by the gateway's lean PutRecords client and by the AWS SDK client: what AWS refuses
 * as a whole call is refused so (status, `__type`, message), where kinesis-local alone
 * accepts it; shard throughput is limited per shard over a clock the test moves; faults and
 * holds on demand; every other call passes through untouched.
 */

const MIB = 1024 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** kinesis-local, a front with AWS's default limits over it, and its first stream. */
let stack: StrictStream;
let kinesis: EmbeddedKinesis;
const fronts: StrictKinesis[] = [];
const closers: { destroy(): void }[] = [];

beforeAll(async () => {
  stack = await startStrictStream({ streamName: "strict-refusals", shards: 2 });
  kinesis = stack.kinesis;
}, 90_000);

afterAll(async () => {
  for (const c of closers) c.destroy();
  for (const f of fronts) await f.stop();
  await stack?.stop();
});

/** A front over the shared kinesis-local, its stream, and the three clients through it. */
async function setUp(streamName: string, shards: number, limits: StrictKinesisLimits = {}) {
  await kinesis.createStream(streamName, shards);
  const strict = await startStrictKinesis({ ...limits, target: kinesis.endpoint, region: kinesis.region });
  fronts.push(strict);
  return clientsOf(strict, streamName);
}

/** The lean PutRecords client, the SDK client and the lean JSON client, through a front. */
function clientsOf(strict: StrictKinesis, streamName: string) {
  const lean = KinesisRecordsClient.create({ region: kinesis.region, endpoint: strict.endpoint });
  const sdk = createKinesisClient({ region: kinesis.region, endpoint: strict.endpoint });
  const json = jsonClient(strict.endpoint);
  closers.push(lean, sdk, json);
  return { strict, lean, sdk, json, streamName };
}

function jsonClient(endpoint: string) {
  return new AwsJsonClient({
    service: KINESIS_SERVICE,
    region: kinesis.region,
    endpoint,
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
}

/** `n` bytes, distinct per salt. */
function bytes(n: number, salt = 1): Uint8Array {
  const out = Buffer.alloc(n, salt);
  if (n > 0) out[0] = n % 251;
  return out;
}

function entry(size: number, partitionKey = "k", explicitHashKey?: string): PutRecordsEntry {
  return { data: bytes(size), partitionKey, ...(explicitHashKey === undefined ? {} : { explicitHashKey }) };
}

interface Refusal {
  readonly status: number;
  readonly type: string;
  readonly message: string;
  readonly requestId?: string;
}

/** The error a client threw, in one shape for both clients. */
async function refusal(call: Promise<unknown>): Promise<Refusal> {
  const err = (await call.then(
    () => {
      throw new Error("the call was not refused");
    },
    (e: unknown) => e,
  )) as Error & { statusCode?: number; requestId?: string; $metadata?: Record<string, unknown> };
  if (err instanceof AwsServiceError) {
    return { status: err.statusCode, type: err.name, message: err.message, requestId: err.requestId };
  }
  return {
    status: err.$metadata?.httpStatusCode as number,
    type: err.name,
    message: err.message,
    requestId: err.$metadata?.requestId as string,
  };
}

function sdkPut(sdk: KinesisClient, streamName: string, entries: readonly PutRecordsEntry[]) {
  return sdk.send(
    new PutRecordsCommand({
      StreamName: streamName,
      Records: entries.map((e) => ({
        Data: e.data,
        PartitionKey: e.partitionKey,
        ...(e.explicitHashKey === undefined ? {} : { ExplicitHashKey: e.explicitHashKey }),
      })),
    }),
  );
}

const validation = (...items: string[]) =>
  `${items.length} validation error${items.length === 1 ? "" : "s"} detected: ${items.join("; ")}`;
const tooLong = (path: string, max: number) =>
  `Value at '${path}' failed to satisfy constraint: Member must have length less than or equal to ${max}`;
const tooShort = (path: string) =>
  `Value at '${path}' failed to satisfy constraint: Member must have length greater than or equal to 1`;
const pattern = (path: string) =>
  `Value at '${path}' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})`;
const HASH_KEY_OVER = (1n << 128n).toString();
const hashKeyRange = (v: string) =>
  `Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was ${v}`;

const putRecordsRefusals: {
  what: string;
  entries: () => PutRecordsEntry[];
  status: number;
  type: string;
  message: string;
}[] = [
  {
    what: "data + partition key one byte over 1 MiB (the data alone is 1 MiB)",
    entries: () => [entry(10), entry(MIB, "k")],
    status: 400,
    type: "ValidationException",
    message: validation(tooLong("records.2.member.data", MIB)),
  },
  {
    what: "two records over, counted from 1",
    entries: () => [entry(MIB + 1), entry(10), entry(2 * MIB)],
    status: 400,
    type: "ValidationException",
    message: validation(tooLong("records.1.member.data", MIB), tooLong("records.3.member.data", MIB)),
  },
  {
    what: "a partition key of 257 characters",
    entries: () => [entry(10, "p".repeat(257))],
    status: 400,
    type: "ValidationException",
    message: validation(tooLong("records.1.member.partitionKey", 256)),
  },
  {
    what: "an empty partition key",
    entries: () => [entry(10), entry(10, "")],
    status: 400,
    type: "ValidationException",
    message: validation(tooShort("records.2.member.partitionKey")),
  },
  ...["abc", "01", "-1", "1".repeat(40)].map((hashKey) => ({
    what: `ExplicitHashKey ${hashKey.slice(0, 12)}`,
    entries: () => [entry(10, "k", hashKey)],
    status: 400,
    type: "ValidationException",
    message: validation(pattern("records.1.member.explicitHashKey")),
  })),
  {
    what: "ExplicitHashKey 2^128 (matches the pattern, outside the hash-key space)",
    entries: () => [entry(10, "k", HASH_KEY_OVER)],
    status: 400,
    type: "InvalidArgumentException",
    message: hashKeyRange(HASH_KEY_OVER),
  },
  {
    what: "no records",
    entries: () => [],
    status: 400,
    type: "ValidationException",
    message: validation(tooShort("records")),
  },
  {
    what: "501 records",
    entries: () => Array.from({ length: 501 }, () => entry(1)),
    status: 400,
    type: "ValidationException",
    message: validation(tooLong("records", 500)),
  },
  {
    what: "six records of 1,000,000 bytes (over 5 MiB in all)",
    entries: () => Array.from({ length: 6 }, () => entry(1_000_000)),
    status: 400,
    type: "InvalidArgumentException",
    message: "Records size exceeds 5 MB limit",
  },
];

describe("whole-call refusals, as AWS answers them", () => {
  let front: ReturnType<typeof clientsOf>;
  beforeAll(() => {
    front = clientsOf(stack.strict, stack.streamName);
  });

  it("kinesis-local alone answers an over-size record per record and writes the rest; the front refuses the call", async () => {
    const direct = KinesisRecordsClient.create({ region: kinesis.region, endpoint: kinesis.endpoint });
    closers.push(direct);
    const entries = [entry(10), entry(MIB + 1)];
    const alone = await direct.putRecords(front.streamName, entries);
    expect(alone.failedRecordCount).toBe(1);
    expect(alone.records[0]!.sequenceNumber).toMatch(/^\d+$/);
    expect(alone.records[1]!.errorCode).toBe("InvalidArgumentException");

    const refused = await refusal(front.lean.putRecords(front.streamName, entries));
    expect(refused).toEqual({
      status: 400,
      type: "ValidationException",
      message: validation(tooLong("records.2.member.data", MIB)),
      requestId: expect.stringMatching(UUID),
    });
    // only kinesis-local's own partial write is in the stream
    expect(await readAll(kinesis.client, front.streamName)).toHaveLength(1);
  });

  it.each(putRecordsRefusals)(
    "PutRecords, lean client: $what",
    async ({ entries, status, type, message }) => {
      const got = await refusal(front.lean.putRecords(front.streamName, entries()));
      expect(got).toEqual({
        status,
        type,
        message: echo(message, 300),
        requestId: expect.stringMatching(UUID),
      });
    },
  );

  it.each(putRecordsRefusals)("PutRecords, SDK client: $what", async ({ entries, status, type, message }) => {
    const got = await refusal(sdkPut(front.sdk, front.streamName, entries()));
    expect(got).toEqual({ status, type, message, requestId: expect.stringMatching(UUID) });
  });

  const putRecordRefusals = [
    {
      what: "data + key over 1 MiB",
      data: MIB,
      key: "k",
      hashKey: undefined,
      message: validation(tooLong("data", MIB)),
    },
    {
      what: "a 257-character key",
      data: 1,
      key: "p".repeat(257),
      hashKey: undefined,
      message: validation(tooLong("partitionKey", 256)),
    },
    {
      what: "an empty key",
      data: 1,
      key: "",
      hashKey: undefined,
      message: validation(tooShort("partitionKey")),
    },
    {
      what: "a bad ExplicitHashKey",
      data: 1,
      key: "k",
      hashKey: "x1",
      message: validation(pattern("explicitHashKey")),
    },
    {
      what: "both over and a bad hash key",
      data: MIB + 1,
      key: "k",
      hashKey: "x1",
      message: validation(tooLong("data", MIB), pattern("explicitHashKey")),
    },
  ];

  it.each(putRecordRefusals)(
    "PutRecord, lean JSON client and SDK: $what",
    async ({ data, key, hashKey, message }) => {
      const body = {
        StreamName: front.streamName,
        Data: Buffer.from(bytes(data)).toString("base64"),
        PartitionKey: key,
        ...(hashKey === undefined ? {} : { ExplicitHashKey: hashKey }),
      };
      const expected = { status: 400, type: "ValidationException", requestId: expect.stringMatching(UUID) };
      expect(await refusal(front.json.call("PutRecord", JSON.stringify(body)))).toEqual({
        ...expected,
        message: echo(message, 300),
      });
      const command = new PutRecordCommand({
        StreamName: front.streamName,
        Data: bytes(data),
        PartitionKey: key,
        ExplicitHashKey: hashKey,
      });
      expect(await refusal(front.sdk.send(command))).toEqual({ ...expected, message });
    },
  );

  it("PutRecord with an ExplicitHashKey over 2^128-1: InvalidArgumentException", async () => {
    const command = new PutRecordCommand({
      StreamName: front.streamName,
      Data: bytes(1),
      PartitionKey: "k",
      ExplicitHashKey: HASH_KEY_OVER,
    });
    expect(await refusal(front.sdk.send(command))).toMatchObject({
      status: 400,
      type: "InvalidArgumentException",
      message: hashKeyRange(HASH_KEY_OVER),
    });
  });

  it("wrote nothing of the refused calls, and counted every refusal by type", async () => {
    expect(await readAll(kinesis.client, front.streamName)).toHaveLength(1);
    const { stats } = front.strict;
    expect(stats.recordsWritten).toBe(0);
    const invalidArgument = 2 * 2 + 1;
    const total = 1 + 2 * putRecordsRefusals.length + 2 * putRecordRefusals.length + 1;
    expect(stats.refused).toEqual({
      ValidationException: total - invalidArgument,
      InvalidArgumentException: invalidArgument,
    });
    expect(stats.refusals).toHaveLength(total);
    expect(stats.refusals[0]).toEqual({
      status: 400,
      type: "ValidationException",
      message: validation(tooLong("records.2.member.data", MIB)),
      operation: "PutRecords",
    });
  });
});

describe("valid calls pass to kinesis-local", () => {
  it("records written through both clients read back identical, in the shards their keys name", async () => {
    let clock = 0;
    const { strict, lean, sdk, json, streamName } = await setUp("strict-valid", 4, { now: () => clock });
    // data + key of exactly 1 MiB: the most a record may hold, and a whole second of its shard
    const largest = entry(MIB - 1, "k");
    expect((await lean.putRecords(streamName, [largest])).failedRecordCount).toBe(0);
    clock += 1000;
    const entries = [
      entry(1000, 'ключ ✓ "q"', ShardMap.uniform(4).hashKeys[2]!),
      entry(5, "p".repeat(256), "0"),
      entry(5, "last", ((1n << 128n) - 1n).toString()),
      ...Array.from({ length: 40 }, (_, i) => ({ data: bytes(100 + i, i), partitionKey: `series-${i}` })),
    ];
    const out = await lean.putRecords(streamName, entries);
    expect(out.failedRecordCount).toBe(0);
    const viaSdk = await sdkPut(sdk, streamName, [entry(7, "sdk")]);
    expect(viaSdk.FailedRecordCount).toBe(0);
    const single = (await json.call(
      "PutRecord",
      JSON.stringify({
        StreamName: streamName,
        Data: Buffer.from("one").toString("base64"),
        PartitionKey: "one",
      }),
    )) as { SequenceNumber?: string };
    expect(single.SequenceNumber).toMatch(/^\d+$/);

    const read = await readAll(kinesis.client, streamName);
    expect(read).toHaveLength(entries.length + 3);
    const big = read.find((r) => r.record.PartitionKey === "k")!;
    expect(Buffer.from(big.record.Data!).equals(Buffer.from(largest.data))).toBe(true);
    const bySequence = new Map(read.map((r) => [r.record.SequenceNumber!, r]));
    entries.forEach((e, i) => {
      const got = bySequence.get(out.records[i]!.sequenceNumber!)!;
      expect(got.record.PartitionKey).toBe(e.partitionKey);
      expect(Buffer.from(got.record.Data!).equals(Buffer.from(e.data))).toBe(true);
    });
    expect([0, 1, 2].map((i) => out.records[i]!.shardId)).toEqual([
      "shardId-000000000002",
      "shardId-000000000000",
      "shardId-000000000003",
    ]);
    expect(strict.stats).toMatchObject({
      inspected: 4,
      recordsWritten: entries.length + 3,
      recordsThrottled: 0,
    });
    expect(strict.stats.refusals).toEqual([]);

    // other calls pass through as well
    const shards = await sdk.send(new ListShardsCommand({ StreamName: streamName }));
    expect(shards.Shards?.map((s) => s.ShardId)).toHaveLength(4);
    expect(strict.stats.calls).toBe(5);
  });
});

describe("shard throughput", () => {
  it.each([
    { limits: { shardRecordsPerSecond: 10 }, count: 25, size: 10, within: 10 },
    { limits: { shardBytesPerSecond: 1000 }, count: 5, size: 299, within: 3 },
  ])("$limits: $within of $count records to one shard written, the rest throttled in place", async (c) => {
    const streamName = `strict-limit-${c.size}`;
    const { strict, lean } = await setUp(streamName, 1, { ...c.limits, now: () => 0 });
    const out = await lean.putRecords(
      streamName,
      Array.from({ length: c.count }, (_, i) => ({ data: bytes(c.size, i), partitionKey: "p" })),
    );
    expect(out.failedRecordCount).toBe(c.count - c.within);
    out.records.forEach((r, i) => {
      if (i < c.within) expect(r.sequenceNumber, `record ${i}`).toMatch(/^\d+$/);
      else {
        expect(r).toEqual({
          errorCode: "ProvisionedThroughputExceededException",
          errorMessage: `Rate exceeded for shard shardId-000000000000 in stream ${streamName} under account 000000000000.`,
        });
      }
    });
    expect(strict.stats).toMatchObject({ recordsWritten: c.within, recordsThrottled: c.count - c.within });
  });

  it("the window refills after a second of the front's clock; other shards are not held back", async () => {
    let clock = 1_000_000;
    const streamName = "strict-refill";
    const { lean, sdk, strict } = await setUp(streamName, 2, { shardRecordsPerSecond: 10, now: () => clock });
    const shard1 = ShardMap.uniform(2).hashKeys[1]!;
    const entries: PutRecordsEntry[] = Array.from({ length: 25 }, (_, i) => ({
      data: bytes(20, i),
      partitionKey: `s0-${i}`,
      explicitHashKey: "0",
    }));
    // three records for the other shard, between them
    for (const at of [5, 16, 27])
      entries.splice(at, 0, { data: bytes(3, at), partitionKey: "s1", explicitHashKey: shard1 });

    const first = await lean.putRecords(streamName, entries);
    expect(first.failedRecordCount).toBe(15);
    const failed = entries.filter((_, i) => first.records[i]!.errorCode !== undefined);
    expect(failed.every((e) => e.explicitHashKey === "0")).toBe(true);
    expect(first.records.filter((r) => r.shardId === "shardId-000000000001")).toHaveLength(3);

    clock += 999;
    expect((await lean.putRecords(streamName, failed)).failedRecordCount).toBe(15);
    clock += 1;
    const second = await lean.putRecords(streamName, failed);
    expect(second.failedRecordCount).toBe(5);
    clock += 1000;
    const last = await sdkPut(sdk, streamName, failed.slice(10));
    expect(last.FailedRecordCount).toBe(0);

    // shard 0 holds the 25 in their order
    const read = (await readAll(kinesis.client, streamName)).filter(
      (r) => r.shardId === "shardId-000000000000",
    );
    expect(read.map((r) => r.record.PartitionKey)).toEqual(Array.from({ length: 25 }, (_, i) => `s0-${i}`));
    expect(strict.stats).toMatchObject({ recordsWritten: 28, recordsThrottled: 15 + 15 + 5 });
  });

  it.each(
    ["a", "b", "tenant-1/bucket-7", "ключ ✓", "p".repeat(256)].map((key) => ({
      key,
      shown: key.length > 20 ? `${key.slice(0, 4)}… (${key.length} characters)` : key,
    })),
  )("a partition key's MD5 names the same shard as kinesis-local's ($shown)", async ({ key }) => {
    const streamName = `strict-md5-${key.length}-${key.charCodeAt(0)}`;
    const { lean } = await setUp(streamName, 4, { shardRecordsPerSecond: 1, now: () => 0 });
    const out = await lean.putRecords(streamName, [entry(1, key), entry(1, key)]);
    expect(out.records[0]!.shardId).toMatch(/^shardId-/);
    expect(out.records[1]!.errorMessage).toContain(`shard ${out.records[0]!.shardId} in stream`);
  });

  it("PutRecord over the limit is refused as a whole: 400 ProvisionedThroughputExceededException", async () => {
    const { sdk, streamName } = await setUp("strict-single-limit", 1, {
      shardRecordsPerSecond: 1,
      now: () => 0,
    });
    const put = () =>
      sdk.send(new PutRecordCommand({ StreamName: streamName, Data: bytes(1), PartitionKey: "k" }));
    await put();
    expect(await refusal(put())).toEqual({
      status: 400,
      type: "ProvisionedThroughputExceededException",
      message: `Rate exceeded for shard shardId-000000000000 in stream ${streamName} under account 000000000000.`,
      requestId: expect.stringMatching(UUID),
    });
  });

  it("the gateway's sink retries the throttled entries until the window lets them in", async () => {
    let clock = 0;
    const { lean, streamName } = await setUp("strict-sink", 1, {
      shardRecordsPerSecond: 10,
      now: () => clock,
    });
    const metrics = createMemoryMetrics();
    const sink = new KinesisSink(
      lean,
      { streamName, concurrency: 1, deadlineMs: 20_000, retryAfterSeconds: 1 },
      createLogger("error", () => {}),
      metrics,
      async () => {
        clock += 1000;
      },
      () => 1,
    );
    const records = Array.from({ length: 25 }, (_, i) => ({
      data: bytes(10, i),
      partitionKey: `r-${i}`,
      explicitHashKey: "0",
    }));
    await sink.put(records);
    expect(await readAll(kinesis.client, streamName)).toHaveLength(25);
    expect(metrics.totals.get(METRIC_NAMES.kinesisThrottled)).toBe(15 + 5);
  });
});

describe("faults on demand", () => {
  let front: Awaited<ReturnType<typeof setUp>>;
  beforeAll(async () => {
    front = await setUp("strict-faults", 1);
  });

  it.each([
    { status: 500, type: "InternalFailure", message: "Internal service failure." },
    { status: 400, type: "KMSThrottlingException", message: "Rate exceeded for KMS key." },
    { status: 503, type: "ServiceUnavailable", message: "Service Unavailable" },
  ])("a whole-call refusal from the hook: $status $type", async (given) => {
    front.strict.refuse(given);
    try {
      const expected = { ...given, requestId: expect.stringMatching(UUID) };
      expect(await refusal(front.lean.putRecords(front.streamName, [entry(1)]))).toEqual(expected);
      expect(await refusal(sdkPut(front.sdk, front.streamName, [entry(1)]))).toEqual(expected);
      expect(front.strict.stats.refusals.at(-1)).toEqual({ ...given, operation: "PutRecords" });
    } finally {
      front.strict.refuse(undefined);
    }
    expect(await readAll(kinesis.client, front.streamName)).toHaveLength(0);
  });

  it("the hook sees each validated call and picks which to refuse", async () => {
    const seen: string[] = [];
    front.strict.refuse((call) => {
      seen.push(`${call.operation} ${call.streamName} ${call.records.map((r) => r.partitionKey).join(",")}`);
      return call.records[0]!.data.toString() === "no"
        ? { status: 500, type: "InternalFailure", message: "x" }
        : undefined;
    });
    try {
      const yes = { data: Buffer.from("yes"), partitionKey: "y" };
      const no = { data: Buffer.from("no"), partitionKey: "n" };
      await front.lean.putRecords(front.streamName, [yes]);
      expect((await refusal(front.lean.putRecords(front.streamName, [no]))).type).toBe("InternalFailure");
      // an invalid call is refused before the hook is asked, as AWS validates first
      await refusal(front.lean.putRecords(front.streamName, [entry(1, "")]));
      expect(seen).toEqual([`PutRecords ${front.streamName} y`, `PutRecords ${front.streamName} n`]);
    } finally {
      front.strict.refuse(undefined);
    }
  });

  it("per-record failures: only the chosen records fail, in place, with FailedRecordCount right", async () => {
    front.strict.refuse(
      recordFailures({ 1: "InternalFailure", 3: "ProvisionedThroughputExceededException" }),
    );
    let out: Awaited<ReturnType<KinesisRecordsClient["putRecords"]>>;
    try {
      out = await front.lean.putRecords(
        front.streamName,
        Array.from({ length: 5 }, (_, i) => entry(3, `pr-${i}`)),
      );
    } finally {
      front.strict.refuse(undefined);
    }
    expect(out.failedRecordCount).toBe(2);
    expect(out.records.map((r) => r.errorCode)).toEqual([
      undefined,
      "InternalFailure",
      undefined,
      "ProvisionedThroughputExceededException",
      undefined,
    ]);
    expect(out.records[1]!.errorMessage).toBe("Internal service failure.");
    const read = await readAll(kinesis.client, front.streamName);
    expect(read.map((r) => r.record.PartitionKey).filter((k) => k?.startsWith("pr-"))).toEqual([
      "pr-0",
      "pr-2",
      "pr-4",
    ]);
  });

  it.each(["InvalidArgumentException", "ValidationException", "KMSThrottlingException"])(
    "a per-record %s is refused in the test: AWS never answers it per record",
    (code) => {
      const codes = { 0: code as PerRecordCode };
      expect(() => recordFailures(codes)).toThrow(`AWS never answers ${code} per record`);
      expect(() => front.strict.refuse({ records: codes })).toThrow(`AWS never answers ${code} per record`);
    },
  );

  it("a hook that answers a code AWS never answers per record fails the call, and stop() reports it", async () => {
    const { strict, lean, streamName } = await setUp("strict-misuse", 1);
    strict.refuse(() => ({ records: { 0: "ValidationException" as PerRecordCode } }));
    expect(await refusal(lean.putRecords(streamName, [entry(1)]))).toMatchObject({
      status: 500,
      type: "StrictKinesisMisuse",
    });
    fronts.splice(fronts.indexOf(strict), 1);
    await expect(strict.stop()).rejects.toThrow("AWS never answers ValidationException per record");
  });

  it("hold(): a call stays in flight, nothing written, until release()", async () => {
    const before = (await readAll(kinesis.client, front.streamName)).length;
    const hold = front.strict.hold();
    const put = front.lean.putRecords(front.streamName, [entry(4, "held")]);
    await hold.arrived(1);
    expect(hold.held).toBe(1);
    expect(await readAll(kinesis.client, front.streamName)).toHaveLength(before);
    hold.release();
    expect((await put).failedRecordCount).toBe(0);
    expect(await readAll(kinesis.client, front.streamName)).toHaveLength(before + 1);
  });
});

/** A signed POST to a Kinesis endpoint with any content type; the answer as bytes. */
async function signedPost(endpoint: string, target: string, contentType: string, body: Buffer) {
  const url = new URL(endpoint);
  const signer = new SignatureV4({
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    region: kinesis.region,
    service: "kinesis",
    sha256: NodeSha256,
  });
  const signed = await signer.sign({
    method: "POST",
    protocol: "http:",
    hostname: url.hostname,
    port: Number(url.port),
    path: "/",
    query: {},
    headers: { host: url.host, "content-type": contentType, "x-amz-target": target },
    body,
  });
  return new Promise<{ status: number; contentType: string; body: Buffer }>((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method: "POST", path: "/", headers: signed.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers["content-type"]),
            body: Buffer.concat(chunks),
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** Just enough CBOR (RFC 8949) for a PutRecords body: maps, arrays, text and byte strings. */
function cbor(value: unknown): Buffer {
  const head = (major: number, n: number) => {
    if (n < 24) return Buffer.from([(major << 5) | n]);
    if (n < 256) return Buffer.from([(major << 5) | 24, n]);
    if (n < 65536) return Buffer.from([(major << 5) | 25, n >> 8, n & 255]);
    const b = Buffer.alloc(5);
    b[0] = (major << 5) | 26;
    b.writeUInt32BE(n, 1);
    return b;
  };
  if (typeof value === "string")
    return Buffer.concat([head(3, Buffer.byteLength(value)), Buffer.from(value)]);
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), value]);
  if (Array.isArray(value)) return Buffer.concat([head(4, value.length), ...value.map(cbor)]);
  const entries = Object.entries(value as Record<string, unknown>);
  return Buffer.concat([head(5, entries.length), ...entries.flatMap(([k, v]) => [cbor(k), cbor(v)])]);
}

describe("what the front does not read passes through untouched", () => {
  let front: Awaited<ReturnType<typeof setUp>>;
  beforeAll(async () => {
    front = await setUp("strict-passthrough", 1);
  });

  it("a CBOR PutRecords with an over-size record gets kinesis-local's own lenient answer", async () => {
    const body = cbor({
      StreamName: front.streamName,
      Records: [{ Data: bytes(MIB + 1), PartitionKey: "cbor" }],
    });
    const out = await signedPost(
      front.strict.endpoint,
      "Kinesis_20131202.PutRecords",
      "application/x-amz-cbor-1.1",
      body,
    );
    expect(out.status).toBe(200);
    expect(out.contentType).toBe("application/x-amz-cbor-1.1");
    expect(out.body.includes("InvalidArgumentException")).toBe(true);
    expect(front.strict.stats).toMatchObject({ calls: 1, inspected: 0, refusals: [] });
  });

  it.each([
    ["an unknown operation", "Kinesis_20131202.NoSuchOperation", "application/x-amz-json-1.1", "{}"],
    [
      "a PutRecords body that is not JSON",
      "Kinesis_20131202.PutRecords",
      "application/x-amz-json-1.1",
      "{oops",
    ],
    [
      "a PutRecords body without a stream",
      "Kinesis_20131202.PutRecords",
      "application/x-amz-json-1.1",
      '{"Records":[]}',
    ],
    [
      "a CBOR DescribeStreamSummary",
      "Kinesis_20131202.DescribeStreamSummary",
      "application/x-amz-cbor-1.1",
      "cbor",
    ],
  ])("%s: answered as kinesis-local answers it", async (_, target, contentType, text) => {
    const body = text === "cbor" ? cbor({ StreamName: front.streamName }) : Buffer.from(text);
    const direct = await signedPost(kinesis.endpoint, target, contentType, body);
    const through = await signedPost(front.strict.endpoint, target, contentType, body);
    expect(through.status).toBe(direct.status);
    expect(through.contentType).toBe(direct.contentType);
    if (contentType.includes("json")) {
      expect(JSON.parse(through.body.toString())).toEqual(JSON.parse(direct.body.toString()));
    } else {
      expect(through.body.includes(front.streamName)).toBe(true);
    }
  });
});
