import { afterEach, describe, expect, it, vi } from "vitest";
import {
  KinesisSink,
  type KinesisSinkOptions,
  MAX_BYTES_PER_CALL,
  MAX_RECORDS_PER_CALL,
  type PutRecordsEntry,
  type PutRecordsResult,
  type RecordPutter,
} from "../../../lib/aws/kinesis-sink";
import { createLogger } from "../../../lib/core/log";
import { createMemoryMetrics } from "../../../lib/core/metrics";
import { RecordsRefusedError, StreamUnusableError, StreamWriteError } from "../../../lib/ingest/errors";
import type { StreamRecord } from "../../../lib/stream/records";

/**
 * Group commit in the sink, against a PutRecords port whose calls the test answers by hand:
 * which records share a call, what is retried, and whose put() is answered how and when.
 */
interface PendingCall {
  entries: readonly PutRecordsEntry[];
  /** The call's abort signal: the test decides when an aborted call ends. */
  signal: AbortSignal | undefined;
  answer(result: PutRecordsResult): void;
  fail(err: Error): void;
}

function handPutter() {
  const calls: PendingCall[] = [];
  const putter: RecordPutter = {
    putRecords: (_stream, entries, signal) =>
      new Promise((resolve, reject) => {
        calls.push({ entries: [...entries], signal, answer: resolve, fail: reject });
      }),
  };
  return { putter, calls };
}

/** What an HTTP client throws for an aborted call. */
const aborted = (): Error => Object.assign(new Error("This operation was aborted"), { name: "AbortError" });

const accepted = (entries: readonly PutRecordsEntry[]): PutRecordsResult => ({
  failedRecordCount: 0,
  records: entries.map((_, i) => ({ sequenceNumber: String(i), shardId: "shardId-000000000000" })),
});

/** Entries at `failed` answered with `code`, the rest accepted. */
const partly = (entries: readonly PutRecordsEntry[], failed: number[], code: string): PutRecordsResult => ({
  failedRecordCount: failed.length,
  records: entries.map((_, i) =>
    failed.includes(i) ? { errorCode: code, errorMessage: "injected" } : { sequenceNumber: String(i) },
  ),
});

const awsError = (name: string): Error => Object.assign(new Error(`${name} injected`), { name });

function records(owner: string, n: number, size = 10): StreamRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    data: new Uint8Array(size).fill(i % 251),
    partitionKey: `${owner}-${i}`,
    explicitHashKey: "0",
  }));
}

const keys = (entries: readonly PutRecordsEntry[]) => entries.map((e) => e.partitionKey);

/** Lets promise continuations run (no timer is involved). */
const settle = () => new Promise<void>((r) => setImmediate(r));

/** A put's outcome, readable without awaiting it. */
function track(p: Promise<void>) {
  const state: { done: boolean; error?: unknown } = { done: false };
  p.then(
    () => {
      state.done = true;
    },
    (error: unknown) => {
      state.done = true;
      state.error = error;
    },
  );
  return state;
}

function setup(putter: RecordPutter, opts: Partial<KinesisSinkOptions> = {}) {
  const metrics = createMemoryMetrics();
  const logs: string[] = [];
  const sink = new KinesisSink(
    putter,
    {
      streamName: "s",
      concurrency: 1,
      deadlineMs: 10_000,
      retryAfterSeconds: 3,
      baseDelayMs: 5,
      maxDelayMs: 40,
      ...opts,
    },
    createLogger("debug", (l) => logs.push(l)),
    metrics,
    () => Promise.resolve(),
    () => 0.5,
  );
  return { sink, metrics, logs };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("KinesisSink group commit", () => {
  it("resolves a put with no records at once, without a call", async () => {
    const { putter, calls } = handPutter();
    const { sink } = setup(putter);
    await sink.put([]);
    expect(calls).toHaveLength(0);
  });

  it("sends a put at once while a slot is free, and coalesces puts that arrive while it is busy", async () => {
    const { putter, calls } = handPutter();
    const { sink, metrics } = setup(putter, { concurrency: 1 });
    const a = track(sink.put(records("a", 4)));
    expect(calls).toHaveLength(1);
    const b = track(sink.put(records("b", 3)));
    const c = track(sink.put(records("c", 2)));
    expect(calls).toHaveLength(1);
    calls[0]!.answer(accepted(calls[0]!.entries));
    await settle();
    expect(a).toEqual({ done: true });
    expect(b.done).toBe(false);
    // one next call carries both waiting puts, in arrival order, each in its own order
    expect(calls).toHaveLength(2);
    expect(keys(calls[1]!.entries)).toEqual([...keys(records("b", 3)), ...keys(records("c", 2))]);
    calls[1]!.answer(accepted(calls[1]!.entries));
    await settle();
    expect(b).toEqual({ done: true });
    expect(c).toEqual({ done: true });
    expect(calls).toHaveLength(2);
    expect(metrics.totals.get("RecordsWritten")).toBe(9);
  });

  it("bounds the calls in flight for the whole sink by concurrency", async () => {
    const { putter, calls } = handPutter();
    const { sink } = setup(putter, { concurrency: 2 });
    const puts = ["a", "b", "c", "d"].map((o) => track(sink.put(records(o, 2))));
    expect(calls.map((c) => keys(c.entries))).toEqual([keys(records("a", 2)), keys(records("b", 2))]);
    calls[1]!.answer(accepted(calls[1]!.entries));
    await settle();
    expect(calls).toHaveLength(3);
    expect(keys(calls[2]!.entries)).toEqual([...keys(records("c", 2)), ...keys(records("d", 2))]);
    calls[0]!.answer(accepted(calls[0]!.entries));
    calls[2]!.answer(accepted(calls[2]!.entries));
    await settle();
    expect(puts.every((p) => p.done && p.error === undefined)).toBe(true);
  });

  it("gives the slot back during a backoff; the call back from it goes before new ones", async () => {
    const { putter, calls } = handPutter();
    const sleeps: (() => void)[] = [];
    const sink = new KinesisSink(
      putter,
      { streamName: "s", concurrency: 1, deadlineMs: 10_000, retryAfterSeconds: 3 },
      createLogger("error", () => {}),
      createMemoryMetrics(),
      () => new Promise<void>((r) => sleeps.push(r)),
      () => 0.5,
    );
    const a = records("a", 2);
    const first = track(sink.put(a));
    calls[0]!.answer(partly(calls[0]!.entries, [1], "ProvisionedThroughputExceededException"));
    await settle();
    expect(sleeps).toHaveLength(1);
    // the only slot is free while a waits out its backoff: b's call goes at once
    const b = track(sink.put(records("b", 1)));
    expect(calls).toHaveLength(2);
    expect(keys(calls[1]!.entries)).toEqual(["b-0"]);
    // a's backoff ends while b's call holds the slot: a waits for it, then goes before c
    sleeps[0]!();
    await settle();
    const c = track(sink.put(records("c", 1)));
    expect(calls).toHaveLength(2);
    calls[1]!.answer(accepted(calls[1]!.entries));
    await settle();
    expect(b).toEqual({ done: true });
    expect(calls).toHaveLength(3);
    expect(keys(calls[2]!.entries)).toEqual(["a-1"]);
    calls[2]!.answer(accepted(calls[2]!.entries));
    await settle();
    expect(first).toEqual({ done: true });
    expect(keys(calls[3]!.entries)).toEqual(["c-0"]);
    calls[3]!.answer(accepted(calls[3]!.entries));
    await settle();
    expect(c).toEqual({ done: true });
    // a written record carries the shard Kinesis named
    expect(a[1]!.shardId).toBe("shardId-000000000000");
    expect(a[0]!.shardId).toBeUndefined();
  });

  it("retries only the failed entries of a coalesced call; each owner resolves when its own are in", async () => {
    const { putter, calls } = handPutter();
    const { sink, metrics } = setup(putter, { concurrency: 1 });
    const first = track(sink.put(records("x", 1)));
    const a = track(sink.put(records("a", 3)));
    const b = track(sink.put(records("b", 3)));
    calls[0]!.answer(accepted(calls[0]!.entries));
    await settle();
    expect(first.done).toBe(true);
    // a-0 a-1 a-2 b-0 b-1 b-2: a-1 throttled, b-2 failed inside Kinesis
    const shared = calls[1]!;
    shared.answer({
      failedRecordCount: 2,
      records: shared.entries.map((_, i) =>
        i === 1
          ? { errorCode: "ProvisionedThroughputExceededException", errorMessage: "slow down" }
          : i === 5
            ? { errorCode: "InternalFailure", errorMessage: "x" }
            : { sequenceNumber: String(i) },
      ),
    });
    await settle();
    expect(calls).toHaveLength(3);
    expect(keys(calls[2]!.entries)).toEqual(["a-1", "b-2"]);
    expect(a.done || b.done).toBe(false);
    // a put arriving now waits for the slot the retry holds
    const late = track(sink.put(records("c", 1)));
    expect(calls).toHaveLength(3);
    calls[2]!.answer(partly(calls[2]!.entries, [1], "InternalFailure"));
    await settle();
    expect(a).toEqual({ done: true });
    expect(b.done).toBe(false);
    // b-2 backs off again, its slot free meanwhile: the waiting put goes, then b-2
    expect(keys(calls[3]!.entries)).toEqual(["c-0"]);
    calls[3]!.answer(accepted(calls[3]!.entries));
    await settle();
    expect(late).toEqual({ done: true });
    expect(keys(calls[4]!.entries)).toEqual(["b-2"]);
    calls[4]!.answer(accepted(calls[4]!.entries));
    await settle();
    expect(b).toEqual({ done: true });
    expect(metrics.totals.get("RecordsWritten")).toBe(8);
    expect(metrics.totals.get("KinesisRetries")).toBe(3);
    expect(metrics.totals.get("KinesisThrottled")).toBe(1);
    expect(metrics.totals.get("KinesisFailedPuts")).toBeUndefined();
  });

  it("aborts a call at its put's deadline and answers the put only once the call has ended", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const { putter, calls } = handPutter();
    const { sink, metrics } = setup(putter, { concurrency: 1, deadlineMs: 1_000 });
    const early = track(sink.put(records("early", 2)));
    vi.advanceTimersByTime(600);
    const later = track(sink.put(records("later", 2)));
    // the early put's deadline passes while its call is in flight: the call is aborted ...
    vi.advanceTimersByTime(500);
    await settle();
    expect(calls[0]!.signal?.aborted).toBe(true);
    // ... and the put is not answered while the call might still write its records
    expect(early.done).toBe(false);
    calls[0]!.fail(aborted());
    await settle();
    expect(early.error).toBeInstanceOf(StreamWriteError);
    expect((early.error as StreamWriteError).message).toMatch(
      /Kinesis did not accept 2 of 2 records \(deadline exceeded\)/,
    );
    // Retry-After 3 s plus jitter (random 0.5 of up to half again)
    expect((early.error as StreamWriteError).retryAfterSeconds).toBe(4);
    expect(later.done).toBe(false);
    // the early put's records are not sent again; the later put's go in a call of their own
    expect(calls).toHaveLength(2);
    expect(keys(calls[1]!.entries)).toEqual(keys(records("later", 2)));
    expect(calls[1]!.signal?.aborted).toBe(false);
    calls[1]!.answer(accepted(calls[1]!.entries));
    await settle();
    expect(later).toEqual({ done: true });
    expect(metrics.totals.get("KinesisFailedPuts")).toBe(2);
    expect(metrics.totals.get("RecordsWritten")).toBe(2);
  });

  it("aborts a shared call at the earliest deadline among its puts; the others' entries go again", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const { putter, calls } = handPutter();
    const { sink } = setup(putter, { concurrency: 1, deadlineMs: 1_000 });
    const first = track(sink.put(records("first", 1)));
    const early = track(sink.put(records("early", 1), Date.now() + 300));
    const late = track(sink.put(records("late", 1)));
    calls[0]!.answer(accepted(calls[0]!.entries));
    await settle();
    expect(first).toEqual({ done: true });
    expect(keys(calls[1]!.entries)).toEqual(["early-0", "late-0"]);
    vi.advanceTimersByTime(300);
    await settle();
    expect(calls[1]!.signal?.aborted).toBe(true);
    calls[1]!.fail(aborted());
    await settle();
    expect(early.error).toBeInstanceOf(StreamWriteError);
    expect(late.done).toBe(false);
    vi.advanceTimersByTime(50);
    await settle();
    expect(keys(calls[2]!.entries)).toEqual(["late-0"]);
    calls[2]!.answer(accepted(calls[2]!.entries));
    await settle();
    expect(late).toEqual({ done: true });
  });

  it("answers at once, without a call, a put whose deadline has already passed", async () => {
    const { putter, calls } = handPutter();
    const { sink } = setup(putter);
    const late = track(sink.put(records("late", 2), Date.now() - 1));
    await settle();
    expect(late.error).toBeInstanceOf(StreamWriteError);
    expect(calls).toHaveLength(0);
  });

  it("gives up an owner whose next backoff would outlast its deadline, keeping the others' retries", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const { putter, calls } = handPutter();
    const { sink } = setup(putter, { concurrency: 1, deadlineMs: 1_000, baseDelayMs: 200 });
    const first = track(sink.put(records("first", 1)));
    vi.advanceTimersByTime(900);
    const second = track(sink.put(records("second", 1)));
    const third = track(sink.put(records("third", 1)));
    calls[0]!.answer(accepted(calls[0]!.entries));
    await settle();
    expect(first).toEqual({ done: true });
    // the backoff before a retry is 0.5 × 200 ms: past "first"'s deadline, within the others'
    calls[1]!.answer(partly(calls[1]!.entries, [0, 1], "ProvisionedThroughputExceededException"));
    await settle();
    expect(keys(calls[2]!.entries)).toEqual(["second-0", "third-0"]);
    calls[2]!.answer(accepted(calls[2]!.entries));
    await settle();
    expect(second).toEqual({ done: true });
    expect(third).toEqual({ done: true });
  });

  it("fails at once exactly the owners whose records were in a fatally refused call", async () => {
    const { putter, calls } = handPutter();
    const { sink, metrics, logs } = setup(putter, { concurrency: 1 });
    const a = track(sink.put(records("a", 2)));
    const b = track(sink.put(records("b", 2)));
    const c = track(sink.put(records("c", 2)));
    calls[0]!.fail(awsError("ResourceNotFoundException"));
    await settle();
    expect(a.error).toBeInstanceOf(StreamUnusableError);
    expect((a.error as Error).message).toMatch(/\(ResourceNotFoundException\): 2 of 2 records not written/);
    expect(b.done || c.done).toBe(false);
    expect(keys(calls[1]!.entries)).toEqual([...keys(records("b", 2)), ...keys(records("c", 2))]);
    calls[1]!.fail(awsError("AccessDeniedException"));
    await settle();
    expect((b.error as Error).message).toMatch(/\(AccessDeniedException\)/);
    expect((c.error as Error).message).toMatch(/\(AccessDeniedException\)/);
    expect(calls).toHaveLength(2);
    expect(metrics.totals.get("KinesisFailedPuts")).toBe(6);
    expect(metrics.totals.get("StreamUnusable")).toBe(3);
    expect(logs.join("\n")).toMatch(/Kinesis refused the write.*ResourceNotFoundException/);
  });

  it("fails a put at once when the stream refuses it, dropping the rest it had queued", async () => {
    const { putter, calls } = handPutter();
    const { sink, metrics } = setup(putter, { concurrency: 1 });
    const x = track(sink.put(records("x", 1)));
    const big = track(sink.put(records("big", MAX_RECORDS_PER_CALL + 20)));
    const after = track(sink.put(records("after", 1)));
    calls[0]!.answer(accepted(calls[0]!.entries));
    await settle();
    expect(x).toEqual({ done: true });
    expect(calls[1]!.entries).toHaveLength(MAX_RECORDS_PER_CALL);
    calls[1]!.fail(awsError("KMSAccessDeniedException"));
    await settle();
    expect(big.error).toBeInstanceOf(StreamUnusableError);
    expect((big.error as Error).message).toMatch(/520 of 520 records not written/);
    // the 20 records "big" still had queued are not sent
    expect(keys(calls[2]!.entries)).toEqual(["after-0"]);
    calls[2]!.answer(accepted(calls[2]!.entries));
    await settle();
    expect(after).toEqual({ done: true });
    expect(metrics.totals.get("KinesisFailedPuts")).toBe(520);
    expect(metrics.totals.get("RecordsWritten")).toBe(2);
  });

  it("retries a whole call that was throttled, counting every entry of it once per throttle", async () => {
    const { putter, calls } = handPutter();
    const { sink, metrics } = setup(putter, { concurrency: 1 });
    track(sink.put(records("x", 1)));
    const a = track(sink.put(records("a", 2)));
    const b = track(sink.put(records("b", 1)));
    calls[0]!.answer(accepted(calls[0]!.entries));
    await settle();
    calls[1]!.fail(awsError("ProvisionedThroughputExceededException"));
    await settle();
    expect(keys(calls[2]!.entries)).toEqual(["a-0", "a-1", "b-0"]);
    calls[2]!.answer(accepted(calls[2]!.entries));
    await settle();
    expect(a).toEqual({ done: true });
    expect(b).toEqual({ done: true });
    expect(metrics.totals.get("KinesisThrottled")).toBe(3);
    expect(metrics.totals.get("KinesisRetries")).toBe(3);
    expect(metrics.totals.get("RecordsWritten")).toBe(4);
  });

  it("splits what is queued across calls by count (500) and by size (5 MiB), in order", async () => {
    const { putter, calls } = handPutter();
    const { sink } = setup(putter, { concurrency: 1 });
    track(sink.put(records("x", 1)));
    const many = track(sink.put(records("n", 300)));
    const more = track(sink.put(records("m", 300)));
    // data plus partition key ("L-0") at most 1 MiB: the largest record a stream takes by default
    const big = 1024 * 1024 - 8;
    const large = track(sink.put(records("L", 6, big)));
    const answerNext = async (k: number) => {
      calls[k]!.answer(accepted(calls[k]!.entries));
      await settle();
    };
    await answerNext(0);
    // 300 + 200 = 500 entries
    expect(keys(calls[1]!.entries)).toEqual([...keys(records("n", 300)), ...keys(records("m", 200))]);
    await answerNext(1);
    expect(many).toEqual({ done: true });
    expect(more.done).toBe(false);
    // m-200..m-299 (100 × 14 bytes) and four 1 MiB records: a fifth would pass 5 MiB
    expect(keys(calls[2]!.entries)).toEqual([
      ...keys(records("m", 300)).slice(200),
      "L-0",
      "L-1",
      "L-2",
      "L-3",
    ]);
    const bytes = calls[2]!.entries.reduce((n, e) => n + e.data.length + e.partitionKey.length, 0);
    expect(bytes).toBeLessThanOrEqual(MAX_BYTES_PER_CALL);
    expect(bytes + big).toBeGreaterThan(MAX_BYTES_PER_CALL);
    await answerNext(2);
    expect(more).toEqual({ done: true });
    expect(keys(calls[3]!.entries)).toEqual(["L-4", "L-5"]);
    await answerNext(3);
    expect(large).toEqual({ done: true });
    expect(calls).toHaveLength(4);
  });

  it("answers the puts of a call when the sink itself fails, and frees the slot", async () => {
    const { putter, calls } = handPutter();
    const logs: string[] = [];
    let broken = true;
    const sink = new KinesisSink(
      putter,
      { streamName: "s", concurrency: 1, deadlineMs: 10_000, retryAfterSeconds: 3 },
      createLogger("debug", (l) => logs.push(l)),
      createMemoryMetrics(),
      () => Promise.resolve(),
      () => {
        if (broken) throw new RangeError("no entropy");
        return 0.5;
      },
    );
    const a = track(sink.put(records("a", 2)));
    calls[0]!.answer(partly(calls[0]!.entries, [1], "InternalFailure"));
    await settle();
    expect(a.error).toBeInstanceOf(StreamWriteError);
    expect((a.error as Error).message).toMatch(/did not accept 1 of 2 records \(RangeError\)/);
    expect((a.error as StreamWriteError).retryAfterSeconds).toBe(3);
    expect(logs.join("\n")).toMatch(/Kinesis write failed.*RangeError/);
    broken = false;
    const b = track(sink.put(records("b", 1)));
    calls[1]!.answer(accepted(calls[1]!.entries));
    await settle();
    expect(b).toEqual({ done: true });
  });

  it("treats an entry without a result as not written", async () => {
    const { putter, calls } = handPutter();
    const { sink } = setup(putter);
    const a = track(sink.put(records("a", 3)));
    calls[0]!.answer({ failedRecordCount: 0, records: [{ sequenceNumber: "1" }, { sequenceNumber: "2" }] });
    await settle();
    expect(a.done).toBe(false);
    expect(keys(calls[1]!.entries)).toEqual(["a-2"]);
    calls[1]!.answer(accepted(calls[1]!.entries));
    await settle();
    expect(a).toEqual({ done: true });
  });
});

describe("KinesisSink refusals: what no retry can cure", () => {
  const validation = (message: string) => Object.assign(new Error(message), { name: "ValidationException" });

  it("takes a call refused as a whole apart, so only the put that caused it is refused", async () => {
    const { putter, calls } = handPutter();
    const { sink, metrics } = setup(putter, { concurrency: 1 });
    const first = track(sink.put(records("first", 1)));
    const a = track(sink.put(records("a", 2)));
    const b = track(sink.put(records("b", 2)));
    const c = track(sink.put(records("c", 1)));
    calls[0]!.answer(accepted(calls[0]!.entries));
    await settle();
    expect(first).toEqual({ done: true });
    // a, b and c share a call, which AWS refuses without naming an entry
    expect(keys(calls[1]!.entries)).toEqual(["a-0", "a-1", "b-0", "b-1", "c-0"]);
    calls[1]!.fail(validation("1 validation error detected"));
    await settle();
    // each put's entries alone, in order
    expect(keys(calls[2]!.entries)).toEqual(["a-0", "a-1"]);
    calls[2]!.answer(accepted(calls[2]!.entries));
    await settle();
    expect(a).toEqual({ done: true });
    expect(keys(calls[3]!.entries)).toEqual(["b-0", "b-1"]);
    calls[3]!.fail(validation("Value at 'records.2.member.data' failed to satisfy constraint"));
    await settle();
    // AWS named b-1: b-0 goes again at once, alone
    expect(keys(calls[4]!.entries)).toEqual(["b-0"]);
    calls[4]!.answer(accepted(calls[4]!.entries));
    await settle();
    expect(b.error).toBeInstanceOf(RecordsRefusedError);
    expect((b.error as Error).message).toMatch(
      /refused 1 of 2 records of this request \(ValidationException\)/,
    );
    expect(keys(calls[5]!.entries)).toEqual(["c-0"]);
    calls[5]!.answer(accepted(calls[5]!.entries));
    await settle();
    expect(c).toEqual({ done: true });
    expect(metrics.totals.get("RecordsRefused")).toBe(1);
    expect(metrics.totals.get("RecordsWritten")).toBe(5);
    // nothing waited on a backoff
    expect(metrics.totals.get("KinesisRetries")).toBeUndefined();
  });

  it("halves a refused call of one put until the refused entry stands alone; the rest is written", async () => {
    const { putter, calls } = handPutter();
    const { sink } = setup(putter, { concurrency: 1 });
    const p = track(sink.put(records("p", 4)));
    const refuseIfBad = async (k: number) => {
      const call = calls[k]!;
      if (keys(call.entries).includes("p-2")) call.fail(validation("refused"));
      else call.answer(accepted(call.entries));
      await settle();
    };
    for (let k = 0; k < 5; k++) await refuseIfBad(k);
    expect(calls.map((c) => keys(c.entries))).toEqual([
      ["p-0", "p-1", "p-2", "p-3"],
      ["p-0", "p-1"],
      ["p-2", "p-3"],
      ["p-2"],
      ["p-3"],
    ]);
    expect(p.error).toBeInstanceOf(RecordsRefusedError);
    expect((p.error as RecordsRefusedError).refused).toBe(1);
  });

  it("does not send again an entry refused for what it is (a per-entry InvalidArgumentException)", async () => {
    const { putter, calls } = handPutter();
    const { sink, metrics } = setup(putter, { concurrency: 1 });
    const p = track(sink.put(records("p", 3)));
    calls[0]!.answer(partly(calls[0]!.entries, [1], "InvalidArgumentException"));
    await settle();
    expect(calls).toHaveLength(1);
    expect(p.error).toBeInstanceOf(RecordsRefusedError);
    expect(metrics.totals.get("RecordsWritten")).toBe(2);
    expect(metrics.totals.get("KinesisRetries")).toBeUndefined();
  });

  it("refuses before any call the records Kinesis would refuse, and sends the others", async () => {
    const { putter, calls } = handPutter();
    const { sink, logs } = setup(putter, { concurrency: 1, maxRecordBytes: 1024 });
    const fine = records("ok", 2);
    const over = { data: new Uint8Array(1024), partitionKey: "over", explicitHashKey: "0" };
    const badKey = { data: new Uint8Array(8), partitionKey: "k".repeat(257), explicitHashKey: "0" };
    const p = track(sink.put([fine[0]!, over, badKey, fine[1]!]));
    expect(keys(calls[0]!.entries)).toEqual(["ok-0", "ok-1"]);
    calls[0]!.answer(accepted(calls[0]!.entries));
    await settle();
    expect(p.error).toBeInstanceOf(RecordsRefusedError);
    expect((p.error as RecordsRefusedError).refused).toBe(2);
    expect(logs.join("\n")).toMatch(/records over the stream's limits refused before sending/);
    const none = track(sink.put([over]));
    await settle();
    expect(none.error).toBeInstanceOf(RecordsRefusedError);
    expect(calls).toHaveLength(1);
  });

  it.each([["ExpiredTokenException"], ["UnrecognizedClientException"], ["InvalidSignatureException"]])(
    "ends the put at once, retryable, when the credentials are refused (%s)",
    async (code) => {
      const { putter, calls } = handPutter();
      const { sink, logs } = setup(putter, { concurrency: 1 });
      const p = track(sink.put(records("p", 2)));
      calls[0]!.fail(awsError(code));
      await settle();
      expect(calls).toHaveLength(1);
      expect(p.error).toBeInstanceOf(StreamWriteError);
      expect((p.error as Error).message).toContain(code);
      expect(logs.join("\n")).toMatch(/Kinesis refused the credentials/);
    },
  );

  it.each([
    ["ExpiredTokenException", "The security token included in the request is expired"],
    ["UnrecognizedClientException", "The security token included in the request is invalid."],
    [
      "InvalidSignatureException",
      "The request signature we calculated does not match the signature you provided.",
    ],
    ["IncompleteSignatureException", "Authorization header requires 'Signature' parameter."],
  ])(
    "reads a refusal of the credentials by its code and message (%s): one call, no retry",
    async (name, message) => {
      const { putter, calls } = handPutter();
      const { sink, metrics } = setup(putter);
      const a = track(sink.put(records("a", 2)));
      calls[0]!.fail(Object.assign(new Error(message), { name }));
      await settle();
      expect((a.error as Error).message).toMatch(new RegExp(`did not accept 2 of 2 records \\(${name}\\)`));
      expect(calls).toHaveLength(1);
      expect(metrics.totals.get("KinesisRetries")).toBeUndefined();
    },
  );

  it("retries a signature refused for its time (a clock to correct), not a credential refusal", async () => {
    const { putter, calls } = handPutter();
    const { sink } = setup(putter);
    const a = track(sink.put(records("a", 1)));
    calls[0]!.fail(
      Object.assign(
        new Error(
          "Signature expired: 20240301T120000Z is now earlier than 20240301T120500Z (20240301T121000Z - 5 min.)",
        ),
        { name: "InvalidSignatureException" },
      ),
    );
    await settle();
    expect(calls).toHaveLength(2);
    calls[1]!.answer(accepted(calls[1]!.entries));
    await settle();
    expect(a).toEqual({ done: true });
  });

  it.each([
    [0, 4],
    [0.99, 6],
  ])("jitters Retry-After: random %s over a base of 4 s gives %s s", async (random, expected) => {
    const { putter, calls } = handPutter();
    const sink = new KinesisSink(
      putter,
      { streamName: "s", concurrency: 1, deadlineMs: 10_000, retryAfterSeconds: 4 },
      createLogger("error", () => {}),
      createMemoryMetrics(),
      () => Promise.resolve(),
      () => random,
    );
    const p = track(sink.put(records("p", 1), Date.now() - 1));
    await settle();
    expect(calls).toHaveLength(0);
    expect(p.error).toBeInstanceOf(StreamWriteError);
    expect((p.error as StreamWriteError).retryAfterSeconds).toBe(expected);
  });
});
