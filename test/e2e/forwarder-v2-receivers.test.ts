import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { PutRecordsCommand } from "@aws-sdk/client-kinesis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type LocalForwarder, startLocalForwarder } from "../../functions/forwarder/local";
import { waitFor } from "../../functions/local/ports";
import { createKinesisClient } from "../../lib/aws/kinesis-client";
import { Ingestor } from "../../lib/ingest/ingest";
import { decodeRecord } from "../../lib/stream/consumer";
import type { StreamRecord } from "../../lib/stream/records";
import { ingestSettings, type SeriesSpec, STALE_NAN, snappy, v2Message } from "../fixtures/remote-write";
import {
  missingFrom,
  remoteReadAll,
  type SampleMap,
  sampleCount,
  seriesKey,
} from "../support/forwarder-remote-read";
import {
  makeTempDir,
  prometheusAvailable,
  type RunningPrometheus,
  startPrometheus,
} from "../support/prometheus";
import { type StrictStream, startStrictStream } from "../support/strict-kinesis";
import { startVmagent, vmagentAvailable } from "../support/vmagent";

/**
 * Remote-Write 2.0 records (as the gateway writes them for a 2.0 sender) forwarded into
 * receivers that do not take 2.0: a real Prometheus 2.42, which answers 204 to a 2.0 body and
 * drops it, and vmagent, which does the same. The forwarder must find that out (no written
 * counts) and deliver every record as 1.0: every float sample with its exact bits (stale
 * markers included), the native histograms and the exemplars, read back from Prometheus.
 * Records are put on kinesis-local through the strict front, and the local forwarder reads
 * them through it.
 */
const run = prometheusAvailable();
const withVmagent = run && vmagentAvailable();

type Obj = Record<string, unknown>;

/**
 * v2 requests of `series` float series (gauges with start timestamps on some samples, one
 * sample in ten a stale marker), a native-histogram series and exemplars, `requests` scrapes
 * 15 s apart ending a minute ago.
 */
function v2Requests(prefix: string, requests: number, series: number, histograms: boolean): Uint8Array[] {
  const t0 = Date.now() - 60_000 - requests * 15_000;
  const out: Uint8Array[] = [];
  for (let q = 0; q < requests; q++) {
    const ts = t0 + q * 15_000;
    const timeseries: SeriesSpec[] = [];
    for (let s = 0; s < series; s++) {
      const counter = s % 2 === 0;
      const value = (q * series + s) % 10 === 9 ? STALE_NAN : q * 1000 + s + 0.25;
      timeseries.push({
        labels: [
          ["__name__", counter ? `${prefix}_requests_total` : `${prefix}_gauge`],
          ["instance", `i-${s}`],
          ["job", "forwarder-v2"],
        ],
        samples: [{ value, timestamp: ts, ...(counter ? { startTimestamp: t0 - 3_600_000 } : {}) }],
        ...(s === 1 && q % 3 === 0
          ? { exemplars: [{ labels: [["trace_id", `trace-${q}`]], value: 0.5 + q, timestamp: ts }] }
          : {}),
        metadata: counter
          ? { type: "METRIC_TYPE_COUNTER", help: "Requests served.", unit: "" }
          : { type: "METRIC_TYPE_GAUGE", help: "A level.", unit: "" },
      });
    }
    if (histograms) {
      timeseries.push({
        labels: [
          ["__name__", `${prefix}_latency_seconds`],
          ["job", "forwarder-v2"],
        ],
        histograms: [histogram(ts, q + 1)],
        metadata: { type: "METRIC_TYPE_HISTOGRAM", help: "Latency.", unit: "seconds" },
      });
    }
    out.push(v2Message(timeseries));
  }
  return out;
}

/** A native histogram whose count is its buckets' (what a receiver that checks expects): 4n, sum 3.5n. */
function histogram(timestamp: number, n: number): Obj {
  return {
    count_int: String(4 * n),
    sum: 3.5 * n,
    schema: 0,
    zero_threshold: 0.001,
    zero_count_int: String(n),
    positive_spans: [{ offset: 0, length: 2 }],
    positive_deltas: [String(n), String(n)],
    reset_hint: "NO",
    timestamp: String(timestamp),
  };
}

/** The gateway's records for those requests (two routing buckets), in order. */
function records(requests: Uint8Array[]): StreamRecord[] {
  const ingest = new Ingestor(ingestSettings({ streamShards: 2 }));
  return requests.flatMap((body) => {
    const out = ingest.prepare(snappy(body), "v2", undefined);
    if (out.rejected.total > 0) throw new Error(`refused: ${JSON.stringify([...out.rejected.byReason])}`);
    return out.records;
  });
}

/** The float samples the records hold, keyed as remote read answers them. */
function expectedSamples(recs: StreamRecord[]): SampleMap {
  const out: SampleMap = new Map();
  for (const r of recs) {
    for (const s of decodeRecord(r.data, r.partitionKey).series) {
      if (s.samples.length === 0) continue;
      const key = seriesKey(s.labels);
      const m = out.get(key) ?? new Map<string, string>();
      out.set(key, m);
      for (const x of s.samples) m.set(x.timestamp, x.bits);
    }
  }
  return out;
}

async function query(base: string, path: string, params: Record<string, string>) {
  const res = await fetch(`${base}${path}?${new URLSearchParams(params)}`);
  const body = (await res.json()) as { status: string; data: unknown };
  if (body.status !== "success") throw new Error(`${path}: ${JSON.stringify(body)}`);
  return body.data;
}

describe.skipIf(!run)("v2 records forwarded to receivers that take only 1.0", () => {
  let receiver: RunningPrometheus;
  let stream: StrictStream;
  let dir: string;
  const forwarders: LocalForwarder[] = [];
  const lines: string[] = [];

  beforeAll(async () => {
    dir = await makeTempDir("forwarder-v2-");
    receiver = await startPrometheus({
      configYaml: "global:\n  scrape_interval: 1h\n",
      extraFlags: [
        "--web.enable-remote-write-receiver",
        "--enable-feature=native-histograms",
        "--enable-feature=exemplar-storage",
      ],
    });
    stream = await startStrictStream({ streamName: "forwarder-v2", shards: 2 });
    // the forwarder's log lines (JSON on stdout), to see what it decided
    const write = process.stdout.write.bind(process.stdout);
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const text = String(chunk);
      if (text.includes('"service":"forwarder"')) {
        lines.push(...text.split("\n").filter((l) => l !== ""));
        return true;
      }
      return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    });
  }, 120_000);

  afterAll(async () => {
    vi.restoreAllMocks();
    for (const f of forwarders) await f.stop();
    await stream?.stop();
    await receiver?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function put(streamName: string, recs: StreamRecord[]) {
    const client = createKinesisClient({ region: stream.region, endpoint: stream.endpoint });
    try {
      for (let i = 0; i < recs.length; i += 200) {
        const out = await client.send(
          new PutRecordsCommand({
            StreamName: streamName,
            Records: recs.slice(i, i + 200).map((r) => ({
              Data: r.data,
              PartitionKey: r.partitionKey,
              ExplicitHashKey: r.explicitHashKey,
            })),
          }),
        );
        expect(out.FailedRecordCount ?? 0).toBe(0);
      }
    } finally {
      client.destroy();
    }
  }

  async function forward(streamName: string, url: string, name: string) {
    const deadLetterFile = join(dir, `${name}-dead-letters.jsonl`);
    const f = await startLocalForwarder(
      {
        FORWARD_URL: url,
        FORWARD_DEAD_LETTER_FILE: deadLetterFile,
        FORWARD_TIMEOUT_MS: "2000",
        FORWARD_BATCH_BUDGET_MS: "5000",
        LOG_LEVEL: "info",
      },
      { streamName, endpoint: stream.endpoint, region: stream.region },
      { start: "TRIM_HORIZON" },
    );
    forwarders.push(f);
    return deadLetterFile;
  }

  async function allArrived(expected: SampleMap, prefix: string) {
    let missing: string[] = [];
    try {
      await waitFor(
        "every sample in the receiver",
        async () => {
          const actual = await remoteReadAll(receiver.url, [
            ["__name__", `${prefix}_(gauge|requests_total)`],
          ]);
          missing = [
            ...missingFrom(expected, actual),
            ...missingFrom(actual, expected).map((m) => `unexpected: ${m}`),
          ];
          return missing.length === 0;
        },
        90_000,
        1_000,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\nmissing or different:\n${missing.join("\n")}`);
    }
  }

  it("into Prometheus 2.42: every sample to the bit, every histogram and exemplar, after one fallback to 1.0", async () => {
    const requests = v2Requests("fwd_v2", 20, 24, true);
    const recs = records(requests);
    await put("forwarder-v2", recs);
    const expected = expectedSamples(recs);
    const letters = await forward("forwarder-v2", `${receiver.url}/api/v1/write`, "prometheus");
    await allArrived(expected, "fwd_v2");
    expect(sampleCount(expected)).toBe(20 * 24);

    // native histograms: count and sum at each timestamp, as the records hold them
    const sent = recs
      .flatMap((r) => decodeRecord(r.data, r.partitionKey).series)
      .filter((s) => s.histograms.length);
    expect(sent).toHaveLength(20);
    for (const s of sent) {
      const h = s.histograms[0] as { count_int: string; sum: number; timestamp: string };
      const time = String(Number(h.timestamp) / 1000);
      const count = (await query(receiver.url, "/api/v1/query", {
        query: "histogram_count(fwd_v2_latency_seconds)",
        time,
      })) as {
        result: { value: [number, string] }[];
      };
      const sum = (await query(receiver.url, "/api/v1/query", {
        query: "histogram_sum(fwd_v2_latency_seconds)",
        time,
      })) as {
        result: { value: [number, string] }[];
      };
      expect([count.result[0]?.value[1], sum.result[0]?.value[1]]).toEqual([h.count_int, String(h.sum)]);
    }

    // exemplars
    const start = String((Date.now() - 3_600_000) / 1000);
    const end = String(Date.now() / 1000);
    const ex = (await query(receiver.url, "/api/v1/query_exemplars", {
      query: "fwd_v2_gauge",
      start,
      end,
    })) as {
      exemplars: { labels: Obj; value: string; timestamp: number }[];
    }[];
    const got = ex.flatMap((e) =>
      e.exemplars.map((x) => `${x.labels.trace_id} ${x.value} ${Math.round(x.timestamp * 1000)}`),
    );
    const want = recs
      .flatMap((r) => decodeRecord(r.data, r.partitionKey).series)
      .flatMap((s) => s.exemplars.map((x) => `${x.labels.trace_id} ${x.value} ${x.timestamp}`));
    expect(want).toHaveLength(7);
    expect(got.sort()).toEqual(want.sort());

    // nothing dead-lettered; the forwarder said why it sent 1.0, and what 1.0 could not carry
    expect(await readFile(letters, "utf8").catch(() => "")).toBe("");
    const logged = lines.map((l) => JSON.parse(l) as Obj);
    const fallbacks = logged.filter(
      (l) => l.msg === "destination does not take Remote-Write 2.0; sending 1.0",
    );
    // once per shard at most: the first batch of each poller finds out, then the rest is remembered
    expect(fallbacks.length).toBeGreaterThanOrEqual(1);
    expect(fallbacks.length).toBeLessThanOrEqual(2);
    expect(fallbacks[0]!.why).toBe("2xx without written counts to a 2.0 request");
    const dropped = logged.filter(
      (l) => l.msg === "start timestamps dropped: Remote-Write 1.0 cannot carry them",
    );
    expect(dropped.reduce((n, l) => n + Number(l.startTimestamps), 0)).toBe(20 * 12);
    if (process.env.FORWARDER_E2E_REPORT) {
      console.info(
        `2.0 → Prometheus 2.42: ${sampleCount(expected)} samples, ${sent.length} histograms, ${want.length} exemplars in ${recs.length} records; fallbacks ${fallbacks.length}; forwarder ${JSON.stringify(forwarders[0]!.stats)}`,
      );
    }
    expect(stream.strict.stats.refusals).toEqual([]);
  }, 180_000);

  it.skipIf(!withVmagent)(
    "into vmagent (passing it on to the same Prometheus): every float sample to the bit",
    async () => {
      const vm = await startVmagent({
        scrapeYaml: "scrape_configs: []\n",
        url: `${receiver.url}/api/v1/write`,
        headers: "X-Forwarded-By:vmagent",
      });
      try {
        await stream.kinesis.createStream("forwarder-v2-vm", 1);
        const recs = records(v2Requests("fwd_vm", 10, 10, false));
        await put("forwarder-v2-vm", recs);
        const expected = expectedSamples(recs);
        const letters = await forward("forwarder-v2-vm", `${vm.url}/api/v1/write`, "vmagent");
        await allArrived(expected, "fwd_vm");
        expect(sampleCount(expected)).toBe(100);
        expect(await readFile(letters, "utf8").catch(() => "")).toBe("");
      } finally {
        await vm.stop();
      }
    },
    180_000,
  );
});
