import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { type Listening, listenOnLoopback } from "./listen";

/**
 * A Prometheus stand-in on 127.0.0.1 whose answers are as large (and as slow) as a test asks:
 * valid Prometheus JSON generated while it is sent, chunk by chunk as the socket drains, so
 * hundreds of MB cost it no memory. It records, per answer, how much it sent and whether the
 * client closed the connection before the end.
 *
 * - `/api/v1/query_range`, `/api/v1/query`: a matrix of `matrix.series` series (labels
 *   `__name__`, `job`, `instance="host-<i>:9100"`) sharing `matrix.bytes` bytes of points,
 *   one every `matrix.stepMs` from `matrix.startMs`;
 * - `/api/v1/series`: the label sets of `seriesCount` series (default `matrix.series`);
 * - `/api/v1/label/<name>/values` and `/api/v1/labels`: `valueCount` sorted values;
 * - `/api/v1/metadata`: gauges for `metadataCount` metric names;
 * - `/-/healthy`, `/api/v1/status/buildinfo`: fine, version 2.42.0.
 */

export interface AnswerStandInOptions {
  readonly matrix?: {
    /** Bytes of the whole answer, about (whole points are sent). */
    readonly bytes: number;
    readonly series?: number;
    readonly startMs?: number;
    readonly stepMs?: number;
    readonly metric?: string;
  };
  readonly seriesCount?: number;
  readonly valueCount?: number;
  readonly metadataCount?: number;
  /** Wait this long between chunks (a slow store); default none. */
  readonly chunkDelayMs?: number;
  /** Bytes per chunk written; default 64 KiB. */
  readonly chunkBytes?: number;
}

export interface StandInAnswer {
  readonly path: string;
  readonly query: URLSearchParams;
  /** Bytes written so far. */
  sent: number;
  /** The whole answer was written. */
  complete: boolean;
  /** The client closed the connection before the whole answer was written. */
  cutByClient: boolean;
  readonly startedAt: number;
  closedAt?: number;
}

export interface AnswerStandIn extends Listening {
  readonly answers: StandInAnswer[];
  /** Resolves when the answer to the n-th request (0-based) has ended, whole or cut. */
  ended(index: number): Promise<StandInAnswer>;
}

export const STANDIN_METRIC = "standin_gauge";
/** 2024-03-01T00:00:00Z, the start of the generated points unless a test says otherwise. */
export const STANDIN_T0 = Date.UTC(2024, 2, 1);

export async function startAnswerStandIn(options: AnswerStandInOptions): Promise<AnswerStandIn> {
  const answers: StandInAnswer[] = [];
  const waiters = new Map<number, Array<(a: StandInAnswer) => void>>();
  const finish = (index: number) => {
    for (const resolve of waiters.get(index) ?? []) resolve(answers[index]!);
    waiters.delete(index);
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://standin");
    const answer: StandInAnswer = {
      path: url.pathname,
      query: url.searchParams,
      sent: 0,
      complete: false,
      cutByClient: false,
      startedAt: Date.now(),
    };
    const index = answers.push(answer) - 1;
    res.on("close", () => {
      answer.closedAt = Date.now();
      answer.cutByClient = !answer.complete;
      finish(index);
    });
    void send(req, res, answer, chunksFor(url, options), options);
  });
  const listening = await listenOnLoopback(server);
  return {
    ...listening,
    answers,
    ended: (index) =>
      new Promise((resolve) => {
        const a = answers[index];
        if (a?.closedAt !== undefined) return resolve(a);
        waiters.set(index, [...(waiters.get(index) ?? []), resolve]);
      }),
  };
}

/** Writes the chunks as the socket drains (and as slowly as asked), until done or closed. */
async function send(
  _req: IncomingMessage,
  res: ServerResponse,
  answer: StandInAnswer,
  chunks: Iterator<string> | undefined,
  options: AnswerStandInOptions,
): Promise<void> {
  if (chunks === undefined) {
    res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    answer.complete = true;
    return;
  }
  res.writeHead(200, { "content-type": "application/json" });
  const size = options.chunkBytes ?? 64 * 1024;
  let pending = "";
  for (;;) {
    if (res.destroyed) return;
    const next = chunks.next();
    if (!next.done) pending += next.value;
    if (pending.length < size && !next.done) continue;
    if (pending !== "") {
      const data = Buffer.from(pending, "utf8");
      pending = "";
      answer.sent += data.length;
      const drained = res.write(data);
      if (!drained) {
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off("drain", done).off("close", done);
            resolve();
          };
          res.on("drain", done).on("close", done);
        });
      }
      if (options.chunkDelayMs) await new Promise((r) => setTimeout(r, options.chunkDelayMs));
    }
    if (next.done) break;
  }
  if (res.destroyed) return;
  answer.complete = true;
  res.end();
}

function chunksFor(url: URL, options: AnswerStandInOptions): Iterator<string> | undefined {
  const path = url.pathname;
  const matrix = options.matrix ?? { bytes: 0, series: 1 };
  const seriesTotal = matrix.series ?? 1;
  const metric = matrix.metric ?? STANDIN_METRIC;
  if (path === "/-/healthy") return ["Prometheus Server is Healthy.\n"][Symbol.iterator]();
  if (path === "/api/v1/status/buildinfo")
    return [JSON.stringify({ status: "success", data: { version: "2.42.0" } })][Symbol.iterator]();
  if (path === "/api/v1/query_range" || path === "/api/v1/query") return matrixChunks(matrix, metric);
  if (path === "/api/v1/series")
    return listChunks(options.seriesCount ?? seriesTotal, (i) => JSON.stringify(labelsOf(metric, i)));
  if (path === "/api/v1/labels")
    return listChunks(options.valueCount ?? 3, (i) => JSON.stringify(`label_${pad(i)}`));
  if (path.startsWith("/api/v1/label/"))
    return listChunks(options.valueCount ?? 1, (i) => JSON.stringify(`value_${pad(i)}`));
  if (path === "/api/v1/metadata") return metadataChunks(options.metadataCount ?? 1);
  return undefined;
}

const pad = (i: number) => String(i).padStart(9, "0");

function labelsOf(metric: string, i: number): Record<string, string> {
  return { __name__: metric, instance: `host-${i}:9100`, job: "standin" };
}

function* listChunks(count: number, item: (i: number) => string): Generator<string> {
  yield '{"status":"success","data":[';
  for (let i = 0; i < count; i++) yield (i === 0 ? "" : ",") + item(i);
  yield "]}";
}

function* metadataChunks(count: number): Generator<string> {
  yield '{"status":"success","data":{';
  for (let i = 0; i < count; i++) {
    yield `${i === 0 ? "" : ","}"standin_metric_${pad(i)}":[{"type":"gauge","help":"a generated gauge","unit":""}]`;
  }
  yield "}}";
}

/** The matrix, series after series, points spread evenly; about `bytes` in all. */
function* matrixChunks(
  matrix: NonNullable<AnswerStandInOptions["matrix"]>,
  metric: string,
): Generator<string> {
  const series = matrix.series ?? 1;
  const start = matrix.startMs ?? STANDIN_T0;
  const step = matrix.stepMs ?? 15_000;
  // `[1709251200,"12.34"],` is about 21 bytes
  const perSeries = Math.max(1, Math.floor(matrix.bytes / series / 21));
  yield '{"status":"success","data":{"resultType":"matrix","result":[';
  for (let s = 0; s < series; s++) {
    yield `${s === 0 ? "" : ","}{"metric":${JSON.stringify(labelsOf(metric, s))},"values":[`;
    let batch = "";
    for (let i = 0; i < perSeries; i++) {
      const t = (start + i * step) / 1000;
      batch += `${i === 0 ? "" : ","}[${t},"${((i * 7 + s) % 10_000) / 100}"]`;
      if (batch.length >= 16_384) {
        yield batch;
        batch = "";
      }
    }
    yield `${batch}]}`;
  }
  yield "]}}";
}
