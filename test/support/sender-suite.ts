import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import { decompress } from "../../lib/codec/snappy";
import { createLogger, type Logger } from "../../lib/core/log";
import { createMemoryMetrics, type Metrics } from "../../lib/core/metrics";
import { HttpDestination } from "../../lib/forwarder/destination";
import { type BatchOutcome, type DeadLetter, forwardBatch } from "../../lib/forwarder/forward";
import { DestinationState, type Protocol } from "../../lib/forwarder/negotiate";
import type { ForwardRecord } from "../../lib/forwarder/records";
import { Ingestor } from "../../lib/ingest/ingest";
import { schemas } from "../../lib/stream/proto";
import { scrapeSeries } from "../fixtures/exposition";
import { ingestSettings, type SeriesSpec, snappy, v2Message } from "../fixtures/remote-write";
import { listenOnLoopback } from "./listen";

/**
 * The prometheus/compliance Remote-Write sender suite (remotewrite/sender) run against the
 * forwarder. The suite starts a sender that scrapes a target and writes to a mock receiver;
 * here the sender is the gateway's pipeline: the scrape as a Prometheus writes it (Remote-Write
 * 2.0, `max_samples_per_send` 2000 per request), through the gateway's ingest into the records
 * it puts on the stream, delivered by forwardBatch to a port of the suite's MockReceiver.
 * Time is a clock the forwarder's sleeps move, so a 20 s backoff case takes milliseconds and
 * the arrival times are exactly the forwarder's waits.
 */

export type Level = "MUST" | "SHOULD" | "MAY" | "RECOMMENDED";

/** A failed `must` ends the validator at once, as require does in the Go suite. */
export class MustFailed extends Error {}

/** The suite's must/should/may/recommended: the first throws, the others record and go on. */
export class Check {
  readonly failures: string[] = [];
  readonly logs: string[] = [];
  must(condition: boolean, message: string): void {
    if (!condition) {
      this.failures.push(`MUST: ${message}`);
      throw new MustFailed(message);
    }
  }
  should(condition: boolean, message: string): void {
    if (!condition) this.failures.push(`SHOULD: ${message}`);
  }
  may(condition: boolean, message: string): void {
    if (!condition) this.failures.push(`MAY: ${message}`);
  }
  recommended(condition: boolean, message: string): void {
    if (!condition) this.failures.push(`RECOMMENDED: ${message}`);
  }
  log(message: string): void {
    this.logs.push(message);
  }
}

// ---- the captured request, decoded as the Go mock decodes it (always as a v2 Request) ----

export interface V2Sample {
  value: number;
  timestamp: number;
  startTimestamp: number;
}
export interface V2Histogram {
  countInt?: number;
  countFloat?: number;
  sum: number;
  schema: number;
  timestamp: number;
  positiveSpans: unknown[];
}
export interface V2Exemplar {
  labelsRefs: number[];
  value: number;
  timestamp: number;
}
export interface V2Series {
  labelsRefs: number[];
  samples: V2Sample[];
  histograms: V2Histogram[];
  exemplars: V2Exemplar[];
  metadata: { type: number; helpRef: number; unitRef: number };
}
export interface V2Request {
  symbols: string[];
  timeseries: V2Series[];
}

export interface CapturedRequest {
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly request: V2Request;
  /** Arrival time on the test's clock. */
  readonly at: number;
}

const num = (v: unknown) => (v === undefined || v === null ? 0 : Number(v));

export function decodeV2(body: Uint8Array): V2Request {
  const { v2 } = schemas();
  const o = v2.toObject(v2.decode(body), {
    longs: String,
    enums: Number,
    defaults: true,
    arrays: true,
    oneofs: true,
  }) as {
    symbols: string[];
    timeseries: Record<string, unknown>[];
  };
  return {
    symbols: o.symbols,
    timeseries: o.timeseries.map((ts) => {
      const t = ts as {
        labels_refs: number[];
        samples: Record<string, unknown>[];
        histograms: Record<string, unknown>[];
        exemplars: Record<string, unknown>[];
        metadata?: Record<string, unknown>;
      };
      return {
        labelsRefs: t.labels_refs,
        samples: t.samples.map((s) => ({
          value: Number(s.value),
          timestamp: num(s.timestamp),
          startTimestamp: num(s.start_timestamp),
        })),
        histograms: t.histograms.map((h) => ({
          ...(h.count === "count_int" ? { countInt: num(h.count_int) } : {}),
          ...(h.count === "count_float" ? { countFloat: Number(h.count_float) } : {}),
          sum: Number(h.sum),
          schema: num(h.schema),
          timestamp: num(h.timestamp),
          positiveSpans: (h.positive_spans as unknown[]) ?? [],
        })),
        exemplars: t.exemplars.map((e) => ({
          labelsRefs: e.labels_refs as number[],
          value: Number(e.value),
          timestamp: num(e.timestamp),
        })),
        metadata: {
          type: num(t.metadata?.type),
          helpRef: num(t.metadata?.help_ref),
          unitRef: num(t.metadata?.unit_ref),
        },
      };
    }),
  };
}

// ---- the suite's helpers ----

export function extractLabels(refs: number[], symbols: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (let i = 0; i + 1 < refs.length; i += 2) {
    const k = refs[i]!;
    const v = refs[i + 1]!;
    if (k >= symbols.length || v >= symbols.length) continue;
    labels[symbols[k]!] = symbols[v]!;
  }
  return labels;
}

export const seriesLabels = (ts: V2Series, req: CapturedRequest) =>
  extractLabels(ts.labelsRefs, req.request.symbols);

export function isSorted(symbols: string[], refs: number[]): boolean {
  let prev = "";
  for (let i = 0; i + 1 < refs.length; i += 2) {
    const k = refs[i]!;
    if (k >= symbols.length) return false;
    const key = symbols[k]!;
    if (prev !== "" && key <= prev) return false;
    prev = key;
  }
  return true;
}

export function findSeries(req: CapturedRequest, name: string): V2Series | undefined {
  return req.request.timeseries.find((ts) => seriesLabels(ts, req).__name__ === name);
}

export function requireSeries(c: Check, req: CapturedRequest, name: string): V2Series {
  const ts = findSeries(req, name);
  c.must(ts !== undefined, `Timeseries with metric name "${name}" must be present`);
  return ts!;
}

export function findHistogramData(
  req: CapturedRequest,
  base: string,
): { classic: boolean; native?: V2Series } {
  let classic = false;
  let native: V2Series | undefined;
  for (const ts of req.request.timeseries) {
    const name = seriesLabels(ts, req).__name__;
    if (name === `${base}_count` || name === `${base}_sum` || name === `${base}_bucket`) classic = true;
    if (name === base && ts.histograms.length > 0) native = ts;
  }
  return { classic, ...(native ? { native } : {}) };
}

export function histogramCount(req: CapturedRequest, base: string): number | undefined {
  const c = findSeries(req, `${base}_count`);
  if (c && c.samples.length > 0) return c.samples[0]!.value;
  const n = findSeries(req, base);
  const h = n?.histograms[0];
  return h === undefined ? undefined : (h.countInt ?? h.countFloat);
}

export function histogramSum(req: CapturedRequest, base: string): number | undefined {
  const s = findSeries(req, `${base}_sum`);
  if (s && s.samples.length > 0) return s.samples[0]!.value;
  return findSeries(req, base)?.histograms[0]?.sum;
}

// ---- the mock receiver ----

export interface MockResponse {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  samplesWritten?: number;
  exemplarsWritten?: number;
  histogramsWritten?: number;
}

export interface MockReceiver {
  readonly url: string;
  readonly requests: CapturedRequest[];
  setResponse(response: MockResponse): void;
  close(): Promise<void>;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer, serve: () => void) => void;

/**
 * A port of the suite's MockReceiver: decodes every body as a v2 Request (snappy when the
 * encoding says so), 400 when it cannot; answers the configured status, headers and body,
 * with the written-count headers on 2xx (the configured counts, or what it decoded when
 * all are zero). `handler` may answer first (the suite's tracking receivers wrap it so), or
 * not at all (a receiver that hangs).
 */
export async function startMockReceiver(clock: Clock, handler?: Handler): Promise<MockReceiver> {
  const requests: CapturedRequest[] = [];
  let response: MockResponse = { status: 204 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const at = clock.now();
      const serve = () => {
        let request: V2Request;
        try {
          const decoded = req.headers["content-encoding"] === "snappy" ? decompress(body, 1 << 28) : body;
          request = decodeV2(decoded);
        } catch {
          res.writeHead(400).end("Failed to decode");
          return;
        }
        requests.push({ method: req.method ?? "", headers: req.headers, body, request, at });
        const status = response.status ?? 204;
        const headers: Record<string, string> = { ...(response.headers ?? {}) };
        if (status >= 200 && status < 300) {
          let samples = response.samplesWritten ?? 0;
          let exemplars = response.exemplarsWritten ?? 0;
          let histograms = response.histogramsWritten ?? 0;
          if (samples === 0 && exemplars === 0 && histograms === 0) {
            for (const ts of request.timeseries) {
              samples += ts.samples.length;
              exemplars += ts.exemplars.length;
              histograms += ts.histograms.length;
            }
          }
          headers["X-Prometheus-Remote-Write-Samples-Written"] = String(samples);
          headers["X-Prometheus-Remote-Write-Exemplars-Written"] = String(exemplars);
          headers["X-Prometheus-Remote-Write-Histograms-Written"] = String(histograms);
        }
        res.writeHead(status, headers);
        res.end(response.body ?? "");
      };
      if (handler === undefined) serve();
      else handler(req, res, body, serve);
    });
  });
  const listening = await listenOnLoopback(server);
  return {
    url: `${listening.url}/api/v1/write`,
    requests,
    setResponse: (r) => {
      response = r;
    },
    close: listening.close,
  };
}

// ---- the sender: scrape → records → forwarder ----

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** A clock that moves only when the forwarder sleeps. */
export function virtualClock(start = Date.now()): Clock {
  let now = start;
  return {
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
  };
}

export const SCRAPE = { job: "test", instance: "127.0.0.1:9100" } as const;
/** Prometheus's `max_samples_per_send` (3.x): the samples of one Remote-Write request. */
const MAX_SAMPLES_PER_SEND = 2000;

let sequence = 0;

/**
 * The records the gateway puts on the stream for one scrape: the scrape's series as a
 * Prometheus sends them (2.0, at most 2000 samples a request), each request through the
 * gateway's ingest with its default limits but one routing bucket (one shard: a scrape's
 * records in one batch, in order) and label values up to 64 KiB (its MAX_LABEL_VALUE_LENGTH
 * raised, so the forwarder is what the long-value cases test).
 */
export function scrapeRecords(text: string, now: number): { records: ForwardRecord[]; series: SeriesSpec[] } {
  const series = scrapeSeries(text, { ...SCRAPE, now });
  return { records: seriesRecords(series), series };
}

export function seriesRecords(series: SeriesSpec[]): ForwardRecord[] {
  const ingest = new Ingestor(
    ingestSettings({
      streamShards: 1,
      limits: { ...ingestSettings().limits, maxLabelValueLength: 65_536 },
    }),
  );
  const records: ForwardRecord[] = [];
  for (let i = 0; i < series.length; i += MAX_SAMPLES_PER_SEND) {
    const out = ingest.prepare(snappy(v2Message(series.slice(i, i + MAX_SAMPLES_PER_SEND))), "v2", undefined);
    if (out.rejected.total > 0)
      throw new Error(
        `the gateway refused part of the scrape: ${JSON.stringify([...out.rejected.byReason])}`,
      );
    for (const r of out.records) {
      records.push({
        data: r.data,
        partitionKey: r.partitionKey,
        sequenceNumber: String(10_000 + ++sequence),
        shardId: "shardId-000000000000",
      });
    }
  }
  return records;
}

export interface ForwarderRun {
  readonly outcomes: BatchOutcome[];
  readonly letters: DeadLetter[];
  readonly metrics: Metrics;
  readonly logs: Record<string, unknown>[];
  /** Whether forwardBatch threw (the sender "crashed"). */
  readonly error?: unknown;
}

export interface RunOptions {
  readonly clock: Clock;
  /** How long the sender runs (the Go suite's target timeout): the invocation's budget. */
  readonly budgetMs: number;
  readonly state?: DestinationState;
  readonly protocol?: Protocol;
  /** Timeout of one request, real ms. */
  readonly timeoutMs?: number;
}

/** Forwards each batch in turn, as Lambda invocations of `budgetMs` each. */
export async function runForwarder(
  batches: ForwardRecord[][],
  url: string,
  opts: RunOptions,
): Promise<ForwarderRun> {
  const logs: Record<string, unknown>[] = [];
  const log: Logger = createLogger("debug", (line) => logs.push(JSON.parse(line)));
  const letters: DeadLetter[] = [];
  const metrics = createMemoryMetrics();
  const outcomes: BatchOutcome[] = [];
  const state = opts.state ?? new DestinationState(opts.protocol ?? "auto", 600_000, opts.clock.now);
  try {
    for (const batch of batches) {
      const start = opts.clock.now();
      outcomes.push(
        await forwardBatch(batch, {
          destination: new HttpDestination(url),
          deadLetters: { send: async (l) => void letters.push(l) },
          maxRequestBytes: 4 * 1024 * 1024,
          timeoutMs: opts.timeoutMs ?? 2_000,
          remainingMs: () => opts.budgetMs - (opts.clock.now() - start),
          reserveMs: 0,
          state,
          sleep: opts.clock.sleep,
          log,
          metrics,
        }),
      );
    }
  } catch (error) {
    return { outcomes, letters, metrics, logs, error };
  }
  return { outcomes, letters, metrics, logs };
}
