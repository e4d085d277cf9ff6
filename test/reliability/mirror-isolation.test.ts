import { createServer } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIRROR_PATHS, REMOTE_WRITE_PATH } from "../../lib/core/routes";
import { realisticSeries, snappy, v1Message } from "../fixtures/remote-write";
import { type Listening, listenOnLoopback } from "../support/listen";
import { type GatewayProcess, startGatewayProcess } from "./gateway-process";

/**
 * Ingest and the mirror share one process and one thread on the local server. A mirror
 * query holds its Prometheus answer and parses it on that thread, so a burst of huge queries
 * would stall ingest for all of them at once. With LOCAL_MIRROR_CONCURRENCY the stall is at
 * most what that many queries cost: here 1, so a burst of QUERIES huge queries holds ingest
 * up about as long as one of them does, and its median latency does not move.
 *
 * The gateway runs in a process of its own (with its embedded Kinesis, as `npm start`), a
 * Prometheus stand-in on 127.0.0.1 streams each answer (one series of POINTS points, about
 * 6 MB of valid JSON, generated chunk by chunk) over STREAM_MS, and remote-write requests go
 * one after another meanwhile.
 */
const POINTS = 200_000;
const STREAM_MS = 500;
const QUERIES = 6;
const T0 = 1_700_000_000;

let prometheus: Listening;
let gateway: GatewayProcess;

beforeAll(async () => {
  prometheus = await listenOnLoopback(
    createServer((req, res) => {
      // the mirror looks the series up first, then asks for its points
      if (req.url?.startsWith("/api/v1/series")) {
        res.setHeader("content-type", "application/json");
        res.end('{"status":"success","data":[{"__name__":"big"}]}');
        return;
      }
      void streamMatrix(res);
    }),
  );
  gateway = await startGatewayProcess({
    LOG_LEVEL: "error",
    MIRROR_ALLOWED_TARGETS: `127.0.0.1:${prometheus.port}`,
    LOCAL_MIRROR_CONCURRENCY: "1",
  });
}, 90_000);

afterAll(async () => {
  await gateway?.stop();
  await prometheus?.close();
});

/** A query_range answer: one series, POINTS points, written in 50 chunks over STREAM_MS. */
async function streamMatrix(res: import("node:http").ServerResponse): Promise<void> {
  res.setHeader("content-type", "application/json");
  res.write(
    '{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"big"},"values":[',
  );
  const chunks = 50;
  const per = POINTS / chunks;
  for (let c = 0; c < chunks && !res.destroyed; c++) {
    const parts: string[] = [];
    for (let i = 0; i < per; i++) {
      const n = c * per + i;
      parts.push(`${n === 0 ? "" : ","}[${T0 + n},"${(n % 997) / 7}"]`);
    }
    if (!res.write(parts.join(""))) await new Promise((r) => res.once("drain", r));
    await new Promise((r) => setTimeout(r, STREAM_MS / chunks));
  }
  res.end("]}]}}");
}

const body = snappy(v1Message(realisticSeries(50, 2)));

async function writeOnce(): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${gateway.url}${REMOTE_WRITE_PATH}`, {
    method: "POST",
    headers: {
      "sts-api-key": gateway.apiKey,
      "content-type": "application/x-protobuf",
      "content-encoding": "snappy",
    },
    body,
  });
  await res.arrayBuffer();
  expect(res.status).toBe(204);
  return performance.now() - started;
}

/** Latencies of writes sent one after another until `until` settles. */
async function writesDuring(until: Promise<unknown>): Promise<number[]> {
  let done = false;
  void until.finally(() => {
    done = true;
  });
  const out: number[] = [];
  while (!done) {
    out.push(await writeOnce());
    await new Promise((r) => setTimeout(r, 10));
  }
  return out;
}

function query(): Promise<{ status: number; text: string; retryAfter: string | null }> {
  return fetch(`${gateway.url}${MIRROR_PATHS.metric}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      connectionDetails: { host: "127.0.0.1", port: prometheus.port, requestTimeout: 25_000 },
      query: {
        conditions: [
          { _type: "EqualityCondition", key: "__gauge__", value: { _type: "StringValue", value: "big" } },
        ],
        startTime: T0 * 1000,
        endTime: (T0 + POINTS) * 1000,
        limit: 1000,
      },
    }),
  }).then(async (res) => ({
    status: res.status,
    text: await res.text(),
    retryAfter: res.headers.get("retry-after"),
  }));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe("the local server: mirror queries against ingest", () => {
  it(`a burst of ${QUERIES} huge mirror queries holds ingest up no longer than one does`, async () => {
    for (let i = 0; i < 10; i++) await writeOnce(); // warm
    const usual = await writesDuring(new Promise((r) => setTimeout(r, 1_500)));

    // what one query alone costs ingest (the worse of two tries)
    let one = 0;
    for (let i = 0; i < 2; i++) {
      const alone = query();
      one = Math.max(one, ...(await writesDuring(alone)));
      expect((await alone).status).toBe(200);
    }

    const burst = Promise.all(Array.from({ length: QUERIES }, query));
    const during = await writesDuring(burst);
    const answers = await burst;

    const report = `usual median ${median(usual).toFixed(1)} ms; one query: worst ${one.toFixed(0)} ms; burst: median ${median(during).toFixed(1)} ms, worst ${Math.max(...during).toFixed(0)} ms over ${during.length} writes; answers ${answers.map((a) => a.status).join(",")}`;
    // uncapped, the burst's answers are parsed together and the worst write waits for all of them
    expect(Math.max(...during), report).toBeLessThan(2.5 * Math.max(one, ...usual));
    expect(median(during), report).toBeLessThan(2 * median(usual) + 20);
    // every query was answered, or told to come back (waiting longer than the queue allows)
    for (const a of answers) {
      if (a.status === 503) {
        expect(a.text).toContain("mirror-busy");
        expect(a.retryAfter).toBe("2");
      } else expect(a.status, a.text.slice(0, 200)).toBe(200);
    }
    expect(answers.filter((a) => a.status === 200).length).toBeGreaterThan(0);
  }, 90_000);
});
