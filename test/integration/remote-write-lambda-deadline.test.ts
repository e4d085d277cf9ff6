import { describe, expect, it } from "vitest";
import { ANSWER_MARGIN_MS, apiGatewayHandler } from "../../functions/remote-write/api-gateway";
import { createRemoteWriteEndpoint } from "../../functions/remote-write/endpoint";
import { KinesisSink, type RecordPutter } from "../../lib/aws/kinesis-sink";
import { type KeySource, StaticKeySource } from "../../lib/core/auth";
import { silentLogger } from "../../lib/core/log";
import { createMemoryMetrics } from "../../lib/core/metrics";
import { REMOTE_WRITE_PATH } from "../../lib/core/routes";
import { DEFAULTS } from "../../lib/ingest/config";
import { Ingestor } from "../../lib/ingest/ingest";
import { httpApiEvent } from "../fixtures/api-gateway";
import { ingestSettings, realisticSeries, snappy, v1Message } from "../fixtures/remote-write";

/**
 * The Lambda handler's deadline is the invocation's: its remaining time less a margin, for
 * the key check and the stream write together, however long PUT_DEADLINE_MS allows. A
 * Kinesis call still in flight then is aborted, and the request is answered (503) only once
 * that call has ended, before the invocation's own end.
 */
const KEY = "deadline-key-1";

/** A PutRecords port that never answers on its own: it ends only when its call is aborted. */
function hangingPutter() {
  const signals: AbortSignal[] = [];
  const putter: RecordPutter = {
    putRecords: (_stream, _entries, signal) =>
      new Promise((_, reject) => {
        if (signal === undefined) return;
        signals.push(signal);
        signal.addEventListener("abort", () =>
          reject(Object.assign(new Error("aborted"), { name: "AbortError" })),
        );
      }),
  };
  return { putter, signals };
}

function handler(putter: RecordPutter, keys: KeySource = new StaticKeySource([{ key: KEY }])) {
  const metrics = createMemoryMetrics();
  const sink = new KinesisSink(
    putter,
    { streamName: "s", concurrency: 4, deadlineMs: 60_000, retryAfterSeconds: 5 },
    silentLogger,
    metrics,
  );
  const endpoint = createRemoteWriteEndpoint({
    ingestor: new Ingestor(ingestSettings()),
    maxBodyBytes: DEFAULTS.maxBodyBytes,
    keys,
    sink,
    log: silentLogger,
    metrics,
    // far longer than the invocation has left: the invocation's time must win
    deadlineMs: 60_000,
  });
  return apiGatewayHandler(endpoint);
}

const event = () =>
  httpApiEvent(
    REMOTE_WRITE_PATH,
    { "sts-api-key": KEY, "content-type": "application/x-protobuf", "content-encoding": "snappy" },
    snappy(v1Message(realisticSeries(20, 2))),
  );

/** A Lambda context whose invocation ends `ms` from now. */
function contextEnding(ms: number) {
  const end = Date.now() + ms;
  return { end, context: { getRemainingTimeInMillis: () => end - Date.now() } };
}

describe("the Lambda handler's deadline", () => {
  it("aborts the Kinesis call before the invocation ends and answers 503 once it has ended", async () => {
    const { putter, signals } = hangingPutter();
    const { end, context } = contextEnding(ANSWER_MARGIN_MS + 400);
    const result = await handler(putter)(event(), context);
    expect(result.statusCode).toBe(503);
    expect(result.body).toMatch(/Kinesis did not accept \d+ of \d+ records \(deadline exceeded\)/);
    expect(signals.length).toBeGreaterThan(0);
    expect(signals.every((s) => s.aborted)).toBe(true);
    expect(Date.now()).toBeLessThan(end);
  });

  it("counts the key check in the same deadline", async () => {
    const { putter, signals } = hangingPutter();
    const never: KeySource = { keys: () => new Promise(() => {}) };
    const { end, context } = contextEnding(ANSWER_MARGIN_MS + 300);
    const result = await handler(putter, never)(event(), context);
    expect(result.statusCode).toBe(503);
    expect(result.body).toMatch(/cannot check credentials right now/);
    expect(signals).toHaveLength(0);
    expect(Date.now()).toBeLessThan(end);
  });

  it("answers 503 at once when the invocation has no time left for a write", async () => {
    const { putter, signals } = hangingPutter();
    const { context } = contextEnding(ANSWER_MARGIN_MS - 100);
    const result = await handler(putter)(event(), context);
    expect(result.statusCode).toBe(503);
    expect(signals).toHaveLength(0);
  });
});
