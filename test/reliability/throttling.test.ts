import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedKinesis, startEmbeddedKinesis } from "../../functions/local/embedded-kinesis";
import { createRemoteWriteEndpoint } from "../../functions/remote-write/endpoint";
import { KinesisRecordsClient } from "../../lib/aws/kinesis-records";
import { KinesisSink, type PutRecordsResultEntry, type RecordPutter } from "../../lib/aws/kinesis-sink";
import { StaticKeySource } from "../../lib/core/auth";
import { silentLogger } from "../../lib/core/log";
import { createMemoryMetrics } from "../../lib/core/metrics";
import { DEFAULTS } from "../../lib/ingest/config";
import { Ingestor } from "../../lib/ingest/ingest";
import { ingestSettings, realisticSeries, snappy, v1Message } from "../fixtures/remote-write";
import { type Front, startListenerFront } from "../support/fronts";
import { streamContents } from "../support/stream";
import { type StrictKinesis, startStrictKinesis } from "../support/strict-kinesis";

/**
 * A one-shard stream driven above its write limits (1 MiB/s and 1000 records/s per shard).
 * kinesis-local does not enforce shard limits (checked first, below), so the sink's PutRecords
 * port is wrapped to apply them as a token bucket: entries within the budget go on, through
 * the real PutRecords client, to kinesis-local (behind a front that refuses what AWS refuses,
 * test/support/strict-kinesis.ts), the rest come back as ProvisionedThroughputExceeded
 * partial failures, as Kinesis answers. The requests go over HTTP through the local server's
 * listener (functions/local/listener.ts) on 127.0.0.1.
 * The bucket counts time in calls, not seconds (see shardBudget), so the run is the same
 * however busy the machine is. The 503 case saturates the shard for longer than the sink's
 * deadline instead (see `saturate`), so some request runs out of retries on any machine.
 */
const STREAM = "throttle-test";
const KEY = "throttle-key-5d1e";
const SHARD_BYTES_PER_S = 1024 * 1024;
const SHARD_RECORDS_PER_S = 1000;
const REQUESTS = 12;
const SERIES_PER_REQUEST = 2500;
const SAMPLES_PER_SERIES = 4;

/**
 * A token bucket of one shard's write budget, a second of burst as Kinesis allows. Its clock
 * is virtual: each PutRecords call advances it by CALL_TICK_MS, whatever the wall clock says,
 * so the same traffic meets the same throttling on a fast machine and on a starved one (on
 * wall time a slow run never exceeds the limits and shows nothing).
 */
const CALL_TICK_MS = 20;
function shardBudget() {
  let bytes = SHARD_BYTES_PER_S;
  let records = SHARD_RECORDS_PER_S;
  return {
    /** One PutRecords call: time moves on by one tick. */
    tick(): void {
      bytes = Math.min(SHARD_BYTES_PER_S, bytes + (CALL_TICK_MS / 1000) * SHARD_BYTES_PER_S);
      records = Math.min(SHARD_RECORDS_PER_S, records + (CALL_TICK_MS / 1000) * SHARD_RECORDS_PER_S);
    },
    take(size: number): boolean {
      if (bytes < size || records < 1) return false;
      bytes -= size;
      records -= 1;
      return true;
    },
  };
}

/** A PutRecords port that enforces one shard's limits, then writes through the real `target`. */
function throttledClient(target: RecordPutter) {
  const budget = shardBudget();
  const stats = { throttled: 0, forwarded: 0, calls: 0 };
  /**
   * A saturated shard: from the next call on, every entry is refused for `ms` of wall time,
   * then every entry is admitted. A window longer than the sink's deadline makes the first
   * request refused for certain, however fast or slow the machine is.
   */
  let saturation: { ms: number; from?: number } | undefined;
  let open = false;
  const admit = (size: number): boolean => {
    if (saturation !== undefined) {
      saturation.from ??= Date.now();
      if (Date.now() - saturation.from < saturation.ms) return false;
      saturation = undefined;
      open = true;
    }
    return open || budget.take(size);
  };
  const client: RecordPutter = {
    async putRecords(streamName, entries, signal) {
      stats.calls++;
      budget.tick();
      const admitted = entries.map((e) => admit(e.data.length + Buffer.byteLength(e.partitionKey)));
      const forward = entries.filter((_, i) => admitted[i]);
      const real = forward.length
        ? await target.putRecords(streamName, forward, signal)
        : { records: [] as PutRecordsResultEntry[], failedRecordCount: 0 };
      stats.forwarded += forward.length;
      let k = 0;
      let failed = 0;
      const records = entries.map((_, i): PutRecordsResultEntry => {
        if (admitted[i]) {
          const r = real.records[k++] ?? { errorCode: "InternalFailure", errorMessage: "no result" };
          if (r.errorCode) failed++;
          return r;
        }
        stats.throttled++;
        failed++;
        return {
          errorCode: "ProvisionedThroughputExceededException",
          errorMessage: "Rate exceeded for shard shardId-000000000000 in stream under account 000000000000.",
        };
      });
      return { records, failedRecordCount: failed };
    },
  };
  return {
    client,
    stats,
    saturate(ms: number) {
      saturation = { ms };
    },
  };
}

describe("a one-shard stream driven above its write limits", () => {
  let kinesis: EmbeddedKinesis;
  let strict: StrictKinesis;
  /** Straight to kinesis-local: the probe shows kinesis-local's own behaviour. */
  let direct: KinesisRecordsClient;
  /** Through the strict front: what the sink writes. */
  let putter: KinesisRecordsClient;
  let throttle: ReturnType<typeof throttledClient>;
  const fronts: Front[] = [];

  beforeAll(async () => {
    kinesis = await startEmbeddedKinesis();
    await kinesis.createStream(STREAM, 1);
    // The shard limits are the wrapper's, on its clock counted in calls, so the run is the
    // same on any machine; the front's own windows run on the wall clock and would add
    // throttling that depends on the machine's speed, so they are lifted here. Its checks of
    // records and calls stay as AWS's.
    strict = await startStrictKinesis({
      target: kinesis.endpoint,
      region: kinesis.region,
      shardBytesPerSecond: Number.POSITIVE_INFINITY,
      shardRecordsPerSecond: Number.POSITIVE_INFINITY,
    });
    direct = KinesisRecordsClient.create({ region: kinesis.region, endpoint: kinesis.endpoint });
    putter = KinesisRecordsClient.create({ region: kinesis.region, endpoint: strict.endpoint });
    throttle = throttledClient(putter);
  }, 90_000);

  afterAll(async () => {
    for (const front of fronts) await front.close();
    putter?.destroy();
    direct?.destroy();
    await strict?.stop();
    await kinesis?.stop();
  });

  /** The local server's listener on 127.0.0.1, writing through the throttled client. */
  async function startFront(deadlineMs: number) {
    const metrics = createMemoryMetrics();
    const endpoint = createRemoteWriteEndpoint({
      ingestor: new Ingestor(ingestSettings()),
      maxBodyBytes: DEFAULTS.maxBodyBytes,
      keys: new StaticKeySource([{ key: KEY }]),
      // the request's deadline is handed to the sink with each put, so it is the one that counts
      deadlineMs,
      sink: new KinesisSink(
        throttle.client,
        {
          streamName: STREAM,
          concurrency: 4,
          deadlineMs,
          retryAfterSeconds: 1,
          baseDelayMs: 50,
          maxDelayMs: 800,
        },
        silentLogger,
        metrics,
      ),
      log: silentLogger,
      metrics,
    });
    const front = await startListenerFront(endpoint);
    fronts.push(front);
    return { url: front.url, metrics };
  }

  const body = (phase: string, i: number) =>
    snappy(
      v1Message(
        realisticSeries(SERIES_PER_REQUEST, SAMPLES_PER_SERIES).map((s) => ({
          ...s,
          labels: [...s.labels, ["req", `${phase}-${i}`] as [string, string]].sort((a, b) =>
            a[0] < b[0] ? -1 : 1,
          ),
        })),
      ),
    );

  /** Posts each body until it is accepted, as Prometheus does with 5xx; bounded attempts. */
  async function drive(url: string, phase: string) {
    const answers: { status: number; retryAfter: string | null }[] = [];
    await Promise.all(
      Array.from({ length: REQUESTS }, async (_, i) => {
        const payload = body(phase, i);
        for (let attempt = 0; attempt < 30; attempt++) {
          const res = await fetch(`${url}/api/v1/write`, {
            method: "POST",
            headers: {
              "sts-api-key": KEY,
              "content-type": "application/x-protobuf",
              "content-encoding": "snappy",
            },
            body: payload,
          });
          await res.arrayBuffer();
          answers.push({ status: res.status, retryAfter: res.headers.get("retry-after") });
          if (res.status < 300) return;
          if (res.status !== 503) throw new Error(`unexpected status ${res.status}`);
          await new Promise((r) => setTimeout(r, Number(res.headers.get("retry-after") ?? 1) * 1000));
        }
        throw new Error(`request ${phase}-${i} never accepted`);
      }),
    );
    return answers;
  }

  it("kinesis-local itself does not throttle a 2 MB burst on one shard (so limits are injected)", async () => {
    await kinesis.createStream("probe", 1);
    const data = new Uint8Array(2000).fill(7);
    let failed = 0;
    const started = Date.now();
    await Promise.all(
      Array.from({ length: 4 }, async (_, b) => {
        const out = await direct.putRecords(
          "probe",
          Array.from({ length: 250 }, (_, j) => ({ data, partitionKey: `p${b}-${j}` })),
        );
        failed += out.failedRecordCount;
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `throttling: kinesis-local accepted 2 MB / 1000 records on one shard in ${seconds.toFixed(2)} s with ${failed} failed entries; ` +
        "shard limits are injected in front of the PutRecords client",
    );
    if (seconds >= 2)
      console.log("throttling: the probe ran below 1 MiB/s on this machine; it shows nothing");
    // if kinesis-local ever enforces shard limits, this fails: then drive it directly instead
    expect(failed).toBe(0);
  });

  it("retries throttled entries within the deadline: every request accepted, nothing lost", async () => {
    const { url, metrics } = await startFront(8_000);
    const before = throttle.stats.throttled;
    const answers = await drive(url, "a");
    const throttled = throttle.stats.throttled - before;
    console.log(
      `throttling (deadline 8 s): ${answers.length} answers ${JSON.stringify(countBy(answers.map((a) => a.status)))}; ` +
        `${throttled} entries throttled, retries ${metrics.totals.get("KinesisRetries") ?? 0}`,
    );
    expect(throttled).toBeGreaterThan(0);
    expect(metrics.totals.get("KinesisThrottled") ?? 0).toBeGreaterThan(0);
    expect(metrics.totals.get("KinesisRetries") ?? 0).toBeGreaterThan(0);
    expect(answers.every((a) => a.status === 204 || a.status === 503)).toBe(true);
  }, 120_000);

  it("answers 503 with Retry-After when retries run out; resent requests then get in", async () => {
    // a deadline a loaded machine's kinesis-local still meets once the shard opens again
    // (0.4 s was not: 12 parallel 10,000-sample writes then missed it on every resend)
    const { url } = await startFront(2_000);
    throttle.saturate(3_000);
    const answers = await drive(url, "b");
    const refused = answers.filter((a) => a.status === 503);
    console.log(
      `throttling (deadline 2 s): ${answers.length} answers ${JSON.stringify(countBy(answers.map((a) => a.status)))}`,
    );
    expect(refused.length).toBeGreaterThan(0);
    for (const a of refused) expect(a.retryAfter).toBe("1");
    expect(answers.filter((a) => a.status === 204)).toHaveLength(REQUESTS);
  }, 120_000);

  it("has every sample of every request in the stream (duplicates allowed and counted)", async () => {
    const { series } = await streamContents(kinesis.client, STREAM);
    const samples = new Map<string, number>();
    for (const s of series) {
      const id = JSON.stringify(s.labels);
      for (const x of s.samples) {
        const k = `${id}@${x.timestamp}=${x.bits}`;
        samples.set(k, (samples.get(k) ?? 0) + 1);
      }
    }
    const perRequest = new Map<string, Set<string>>();
    for (const s of series) {
      const req = s.labels.req ?? "?";
      const set = perRequest.get(req) ?? new Set<string>();
      set.add(JSON.stringify(s.labels));
      perRequest.set(req, set);
    }
    const duplicates = [...samples.values()].reduce((n, c) => n + c - 1, 0);
    const expected = 2 * REQUESTS * SERIES_PER_REQUEST * SAMPLES_PER_SERIES;
    console.log(
      `throttling: stream holds ${samples.size} distinct samples of ${expected} sent, ${duplicates} duplicates`,
    );
    expect(perRequest.size).toBe(2 * REQUESTS);
    for (const [, set] of perRequest) expect(set.size).toBe(SERIES_PER_REQUEST);
    expect(samples.size).toBe(expected);
    expect(strict.stats.refusals).toEqual([]);
    expect(strict.stats.recordsWritten).toBeGreaterThanOrEqual(throttle.stats.forwarded);
  }, 120_000);
});

function countBy(values: number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}
