import { KinesisClient, PutRecordsCommand, type PutRecordsRequestEntry } from "@aws-sdk/client-kinesis";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { createRemoteWriteApp } from "../../functions/remote-write/app";
import { KinesisSink } from "../../lib/aws/kinesis-sink";
import { type KeySource, StaticKeySource } from "../../lib/core/auth";
import { createLogger } from "../../lib/core/log";
import { createMemoryMetrics } from "../../lib/core/metrics";
import { REMOTE_WRITE_PATH } from "../../lib/core/routes";
import { DEFAULTS } from "../../lib/ingest/config";
import { Ingestor } from "../../lib/ingest/ingest";
import { ingestSettings, realisticSeries, snappy, v1Message } from "../fixtures/remote-write";

/**
 * Faults a real Kinesis cannot be made to produce on demand, injected with
 * aws-sdk-client-mock: partial failures, throttling, outages, refusals. The rule under
 * test: never a 2xx unless every record was accepted; retry only what failed.
 */
const KEY = "fault-key-91c2";
const kinesisMock = mockClient(KinesisClient);
afterEach(() => kinesisMock.reset());

function setup(opts: { deadlineMs?: number; keys?: KeySource; buckets?: number } = {}) {
  const metrics = createMemoryMetrics();
  const logs: string[] = [];
  const log = createLogger("debug", (line) => logs.push(line));
  const sink = new KinesisSink(
    new KinesisClient({ region: "us-east-1" }),
    {
      streamName: "faults",
      concurrency: 2,
      deadlineMs: opts.deadlineMs ?? 2_000,
      retryAfterSeconds: 7,
      baseDelayMs: 5,
      maxDelayMs: 40,
    },
    log,
    metrics,
  );
  const app = createRemoteWriteApp({
    ingestor: new Ingestor(ingestSettings({ routingBuckets: opts.buckets ?? 8 })),
    maxBodyBytes: DEFAULTS.maxBodyBytes,
    keys: opts.keys ?? new StaticKeySource([{ key: KEY }]),
    sink,
    log,
    metrics,
  });
  const post = () =>
    app.request(REMOTE_WRITE_PATH, {
      method: "POST",
      headers: { "sts-api-key": KEY, "content-type": "application/x-protobuf", "content-encoding": "snappy" },
      body: snappy(v1Message(realisticSeries(400, 2))),
    });
  return { app, post, metrics, logs };
}

const ok = (entries: PutRecordsRequestEntry[]) => ({
  FailedRecordCount: 0,
  Records: entries.map((_, i) => ({ SequenceNumber: String(1000 + i), ShardId: "shardId-000000000000" })),
});

const sent = () => kinesisMock.commandCalls(PutRecordsCommand).map((c) => c.args[0].input.Records ?? []);

function awsError(name: string) {
  const err = new Error(`${name} injected`);
  err.name = name;
  return err;
}

describe("Kinesis faults", () => {
  it("retries only the failed entries of a partial failure, then answers 204", async () => {
    let call = 0;
    kinesisMock.on(PutRecordsCommand).callsFake((input: { Records: PutRecordsRequestEntry[] }) => {
      call++;
      if (call > 1) return ok(input.Records);
      return {
        FailedRecordCount: 2,
        Records: input.Records.map((_, i) =>
          i === 1 || i === 3
            ? {
                ErrorCode: i === 1 ? "ProvisionedThroughputExceededException" : "InternalFailure",
                ErrorMessage: "x",
              }
            : { SequenceNumber: String(i), ShardId: "s" },
        ),
      };
    });
    const { post, metrics } = setup();
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
    kinesisMock.on(PutRecordsCommand).callsFake((input: { Records: PutRecordsRequestEntry[] }) => ({
      FailedRecordCount: input.Records.length,
      Records: input.Records.map(() => ({
        ErrorCode: "ProvisionedThroughputExceededException",
        ErrorMessage: "slow down",
      })),
    }));
    const { post, metrics } = setup({ deadlineMs: 300 });
    const started = Date.now();
    const res = await post();
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("7");
    expect(await res.text()).toMatch(
      /Kinesis did not accept \d+ of \d+ records \(ProvisionedThroughputExceededException\)/,
    );
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(sent().length).toBeGreaterThan(2);
    expect(metrics.totals.get("KinesisFailedPuts")).toBeGreaterThan(0);
  });

  it("retries a whole call that was throttled or failed in transit", async () => {
    kinesisMock
      .on(PutRecordsCommand)
      .rejectsOnce(awsError("ProvisionedThroughputExceededException"))
      .rejectsOnce(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }))
      .callsFake((input: { Records: PutRecordsRequestEntry[] }) => ok(input.Records));
    const { post } = setup({ buckets: 1 });
    const res = await post();
    expect(res.status).toBe(204);
    expect(sent()).toHaveLength(3);
    expect(sent()[2]).toEqual(sent()[0]);
  });

  it("gives up at once, with 503, when the stream is missing (no retry can help)", async () => {
    kinesisMock.on(PutRecordsCommand).rejects(awsError("ResourceNotFoundException"));
    const { post, logs } = setup({ buckets: 1 });
    const res = await post();
    expect(res.status).toBe(503);
    expect(sent()).toHaveLength(1);
    expect(logs.join("\n")).toContain("ResourceNotFoundException");
  });

  it("answers 503 while Kinesis is unreachable, never 2xx", async () => {
    kinesisMock
      .on(PutRecordsCommand)
      .rejects(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }));
    const { post } = setup({ deadlineMs: 200 });
    const res = await post();
    expect(res.status).toBe(503);
  });

  it("treats an entry without a result as not written", async () => {
    let call = 0;
    kinesisMock.on(PutRecordsCommand).callsFake((input: { Records: PutRecordsRequestEntry[] }) => {
      call++;
      if (call > 1) return ok(input.Records);
      return {
        FailedRecordCount: 1,
        Records: input.Records.slice(1).map((_, i) => ({ SequenceNumber: String(i) })),
      };
    });
    const { post } = setup({ buckets: 2 });
    expect((await post()).status).toBe(204);
    expect(sent()[1]).toHaveLength(1);
  });

  it("answers 503 (not 401) when the keys cannot be read", async () => {
    const keys: KeySource = {
      keys: () => Promise.reject(new Error("secrets unreachable")),
    };
    const { post } = setup({ keys });
    const res = await post();
    expect(res.status).toBe(503);
    expect(sent()).toHaveLength(0);
  });

  it("answers 500 for a bug, without leaking internals", async () => {
    kinesisMock.on(PutRecordsCommand).callsFake(() => {
      throw new TypeError(`cannot read properties of undefined (key ${KEY})`);
    });
    // a TypeError from the client is an unexpected failure, not a Kinesis answer: it is retried
    // until the deadline like any transport error, and still never reported as success
    const { post } = setup({ deadlineMs: 100, buckets: 1 });
    const res = await post();
    expect(res.status).toBe(503);
    expect(await res.text()).not.toContain(KEY);

    const broken = setup();
    broken.app.post("/boom", () => {
      throw new RangeError("internal detail");
    });
    const boom = await broken.app.request("/boom", { method: "POST" });
    expect(boom.status).toBe(500);
    expect(await boom.text()).toBe("internal error\n");
    expect(broken.logs.join("\n")).toContain("RangeError");
  });
});
