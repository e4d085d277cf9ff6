import { afterEach, describe, expect, it } from "vitest";
import { createRemoteWriteEndpoint } from "../../functions/remote-write/endpoint";
import { KinesisRecordsClient } from "../../lib/aws/kinesis-records";
import { KinesisSink, type RecordPutter } from "../../lib/aws/kinesis-sink";
import { type KeySource, StaticKeySource } from "../../lib/core/auth";
import { createLogger } from "../../lib/core/log";
import { createMemoryMetrics } from "../../lib/core/metrics";
import { DEFAULTS } from "../../lib/ingest/config";
import { Ingestor } from "../../lib/ingest/ingest";
import type { RecordSink } from "../../lib/ingest/sink";
import { ingestSettings, realisticSeries, snappy, v1Message } from "../fixtures/remote-write";
import { type AwsJsonStub, type StubAnswer, type StubCall, startAwsJsonStub } from "../support/aws-json-stub";
import { FRONT_NAMES, type Front, type FrontName, lambdaFront, startListenerFront } from "../support/fronts";

/**
 * Faults a real Kinesis cannot be made to produce on demand, answered by a Kinesis stand-in
 * on 127.0.0.1 (test/support/aws-json-stub.ts) as Kinesis answers them: partial failures,
 * throttling, outages, refusals. The sink talks to it through the real PutRecords client,
 * signed and checked. The rule under test: never a 2xx unless every record was accepted;
 * retry only what failed. Each case runs through both production fronts: the local server's
 * listener on 127.0.0.1 and the Lambda handler with API Gateway events.
 */
const KEY = "fault-key-91c2";
type Entry = { Data: string; PartitionKey: string; ExplicitHashKey?: string };

let stub: AwsJsonStub | undefined;
let client: KinesisRecordsClient | undefined;
let reply: (call: StubCall, records: Entry[]) => StubAnswer = () => ({ status: 500 });
const fronts: Front[] = [];
afterEach(async () => {
  for (const front of fronts.splice(0)) await front.close();
  client?.destroy();
  await stub?.close();
  stub = undefined;
  client = undefined;
});

/** The stand-in answers each PutRecords call with `answer` (set before posting). */
async function kinesisStandIn(answer: typeof reply): Promise<RecordPutter> {
  reply = answer;
  stub = await startAwsJsonStub({
    verify: {
      service: "kinesis",
      region: "us-east-1",
      credentials: [{ accessKeyId: "local", secretAccessKey: "local" }],
    },
    answer: (call) => {
      if (call.target !== "Kinesis_20131202.PutRecords")
        return { status: 400, body: { __type: "UnknownOperationException" } };
      return reply(call, call.body.Records as Entry[]);
    },
  });
  client = KinesisRecordsClient.create({ region: "us-east-1", endpoint: stub.url });
  return client;
}

interface SetupOptions {
  /** The request's deadline (PUT_DEADLINE_MS; default 2 s). */
  deadlineMs?: number;
  /** The sink's own budget, when the request gives none (default: the request's deadline). */
  sinkDeadlineMs?: number;
  keys?: KeySource;
  buckets?: number;
  /** In place of the Kinesis sink over `putter`. */
  sink?: RecordSink;
}

async function setup(frontName: FrontName, putter: RecordPutter, opts: SetupOptions = {}) {
  const metrics = createMemoryMetrics();
  const logs: string[] = [];
  const log = createLogger("debug", (line) => logs.push(line));
  const sink =
    opts.sink ??
    new KinesisSink(
      putter,
      {
        streamName: "faults",
        concurrency: 2,
        deadlineMs: opts.sinkDeadlineMs ?? opts.deadlineMs ?? 2_000,
        retryAfterSeconds: 7,
        baseDelayMs: 5,
        maxDelayMs: 40,
      },
      log,
      metrics,
    );
  const endpoint = createRemoteWriteEndpoint({
    ingestor: new Ingestor(ingestSettings({ streamShards: opts.buckets ?? 8 })),
    maxBodyBytes: DEFAULTS.maxBodyBytes,
    keys: opts.keys ?? new StaticKeySource([{ key: KEY }]),
    sink,
    log,
    metrics,
    deadlineMs: opts.deadlineMs ?? 2_000,
  });
  const front = frontName === FRONT_NAMES[0] ? await startListenerFront(endpoint) : lambdaFront(endpoint);
  fronts.push(front);
  const post = () =>
    front.send({
      headers: { "sts-api-key": KEY, "content-type": "application/x-protobuf", "content-encoding": "snappy" },
      body: snappy(v1Message(realisticSeries(400, 2))),
    });
  return { post, metrics, logs };
}

const ok = (entries: Entry[]): StubAnswer => ({
  body: {
    FailedRecordCount: 0,
    Records: entries.map((_, i) => ({ SequenceNumber: String(1000 + i), ShardId: "shardId-000000000000" })),
  },
});

/** The entries of every PutRecords call the stand-in accepted as correctly signed, in order. */
const sent = (): Entry[][] =>
  (stub?.calls ?? []).filter((c) => c.refused === undefined).map((c) => c.body.Records as Entry[]);

/** A whole-call error as Kinesis answers it: HTTP 400 and the code in `__type`. */
const awsError = (code: string): StubAnswer => ({
  status: 400,
  body: { __type: `com.amazonaws.kinesis.v20131202#${code}`, message: `${code} injected` },
});

describe.each(FRONT_NAMES)("Kinesis faults through the %s", (front) => {
  it("retries only the failed entries of a partial failure, then answers 204", async () => {
    const putter = await kinesisStandIn((call, records) => {
      if (call.n > 1) return ok(records);
      return {
        body: {
          FailedRecordCount: 2,
          Records: records.map((_, i) =>
            i === 1 || i === 3
              ? {
                  ErrorCode: i === 1 ? "ProvisionedThroughputExceededException" : "InternalFailure",
                  ErrorMessage: "x",
                }
              : { SequenceNumber: String(i), ShardId: "s" },
          ),
        },
      };
    });
    const { post, metrics } = await setup(front, putter);
    const res = await post();
    expect(res.status).toBe(204);
    const calls = sent();
    expect(calls).toHaveLength(2);
    expect(calls[0]!.length).toBeGreaterThan(4);
    expect(calls[1]!.map((r) => r.PartitionKey)).toEqual([
      calls[0]![1]!.PartitionKey,
      calls[0]![3]!.PartitionKey,
    ]);
    expect(metrics.totals.get("KinesisRetries")).toBe(2);
    expect(metrics.totals.get("KinesisThrottled")).toBe(1);
    expect(metrics.totals.get("RecordsWritten")).toBe(calls[0]!.length);
  });

  it("answers 503 with Retry-After when throttling outlasts the deadline", async () => {
    const putter = await kinesisStandIn((_call, records) => ({
      body: {
        FailedRecordCount: records.length,
        Records: records.map(() => ({
          ErrorCode: "ProvisionedThroughputExceededException",
          ErrorMessage: "slow down",
        })),
      },
    }));
    // the sink's own budget outlasts the test's timeout many times over: only the request's
    // deadline (300 ms) handed to the sink can end the retries and bring the answer
    const { post, metrics } = await setup(front, putter, { deadlineMs: 300, sinkDeadlineMs: 3_600_000 });
    const res = await post();
    expect(res.status).toBe(503);
    // Retry-After 7 s, jittered up by at most half again
    expect(Number(res.headers["retry-after"])).toBeGreaterThanOrEqual(7);
    expect(Number(res.headers["retry-after"])).toBeLessThanOrEqual(10);
    expect(res.body).toMatch(
      /Kinesis did not accept \d+ of \d+ records \(ProvisionedThroughputExceededException\)/,
    );
    expect(sent().length).toBeGreaterThan(2);
    expect(metrics.totals.get("KinesisFailedPuts")).toBeGreaterThan(0);
  });

  it("retries a whole call that was throttled or failed in transit", async () => {
    // throttled as a whole (HTTP 400), then the connection reset mid-call, then accepted
    const putter = await kinesisStandIn((call, records) =>
      call.n === 1
        ? awsError("ProvisionedThroughputExceededException")
        : call.n === 2
          ? "reset"
          : ok(records),
    );
    const { post, metrics } = await setup(front, putter, { buckets: 1 });
    const res = await post();
    expect(res.status).toBe(204);
    expect(sent()).toHaveLength(3);
    expect(sent()[2]).toEqual(sent()[0]);
    expect(metrics.totals.get("KinesisThrottled")).toBe(sent()[0]!.length);
  });

  it("gives up at once, with 500 for an operator, when the stream is missing (no retry within)", async () => {
    const putter = await kinesisStandIn(() => awsError("ResourceNotFoundException"));
    const { post, logs, metrics } = await setup(front, putter, { buckets: 1 });
    const res = await post();
    expect(res.status).toBe(500);
    expect(res.body).toMatch(/the stream cannot be written \(ResourceNotFoundException\)/);
    expect(metrics.totals.get("StreamUnusable")).toBe(1);
    expect(sent()).toHaveLength(1);
    expect(logs.join("\n")).toContain("ResourceNotFoundException");
  });

  it("answers 503 while Kinesis is unreachable, never 2xx", async () => {
    const putter = await kinesisStandIn(() => "reset");
    const { post } = await setup(front, putter, { deadlineMs: 200 });
    const res = await post();
    expect(res.status).toBe(503);
    expect(sent().length).toBeGreaterThan(0);
  });

  it("treats an entry without a result as not written", async () => {
    const putter = await kinesisStandIn((call, records) => {
      if (call.n > 1) return ok(records);
      return {
        body: {
          FailedRecordCount: 1,
          Records: records.slice(1).map((_, i) => ({ SequenceNumber: String(i) })),
        },
      };
    });
    const { post } = await setup(front, putter, { buckets: 2 });
    expect((await post()).status).toBe(204);
    expect(sent()[1]).toHaveLength(1);
  });

  it("answers 503 (not 401) when the keys cannot be read", async () => {
    const keys: KeySource = {
      keys: () => Promise.reject(new Error("secrets unreachable")),
    };
    const putter = await kinesisStandIn((_call, records) => ok(records));
    const { post } = await setup(front, putter, { keys });
    const res = await post();
    expect(res.status).toBe(503);
    expect(sent()).toHaveLength(0);
  });

  it("answers 500 for a bug, without leaking internals", async () => {
    // a fault of the port itself (not a Kinesis answer)
    const broken: RecordPutter = {
      putRecords: () => Promise.reject(new TypeError(`cannot read properties of undefined (key ${KEY})`)),
    };
    // a TypeError from the client is an unexpected failure, not a Kinesis answer: it is retried
    // until the deadline like any transport error, and still never reported as success
    const { post } = await setup(front, broken, { deadlineMs: 100, buckets: 1 });
    const res = await post();
    expect(res.status).toBe(503);
    expect(res.body).not.toContain(KEY);

    // a bug behind the endpoint (neither a Kinesis answer nor an ingest error): 500, its detail only in the log
    const buggy = await setup(front, broken, {
      sink: {
        put: () => {
          throw new RangeError("internal detail");
        },
      },
    });
    const boom = await buggy.post();
    expect(boom.status).toBe(500);
    expect(boom.body).toBe("internal error\n");
    expect(buggy.logs.join("\n")).toContain("RangeError");
  });
});
