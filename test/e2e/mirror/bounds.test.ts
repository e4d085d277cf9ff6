import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MIRROR_PATHS } from "../../../lib/core/routes";
import { MIRROR_DEFAULTS } from "../../../lib/mirror/config";
import {
  type AnswerStandIn,
  type AnswerStandInOptions,
  STANDIN_METRIC,
  STANDIN_T0,
  startAnswerStandIn,
} from "../../support/answer-standin";
import type { ChildMemory } from "../../support/mirror-child";
import { runMirrorChild } from "../../support/mirror-process";
import { lambdaFront, localFront, type Send } from "./fronts";
import { cond, MIRROR_KEY, post, serveMirror } from "./harness";

/**
 * Prometheus answers far larger than a function's memory, and answers that come too slowly,
 * against every front: the mirror app and the Lambda handler in a fresh Node process with a
 * Lambda's 512 MB heap (an answer held whole would crash it), the local server, and the app
 * over HTTP. The stand-in generates its answers while it sends them and records how much it
 * sent before the mirror hung up.
 */

const MiB = 1024 * 1024;
const HOUR = 3_600_000;
const CAP = MIRROR_DEFAULTS.maxAnswerBytes;
/** What the sockets and streams between the stand-in and the mirror hold beyond the cap. */
const IN_FLIGHT = 16 * MiB;

const details = (s: AnswerStandIn, requestTimeout = 25_000) => ({
  host: "127.0.0.1",
  port: s.port,
  requestTimeout,
});

const metricRequest = (s: AnswerStandIn, conditions: unknown[], extra: Record<string, unknown> = {}) => ({
  _type: "MetricsRequest",
  connectionDetails: details(s),
  query: {
    _type: "MetricsQuery",
    conditions,
    startTime: STANDIN_T0,
    endTime: STANDIN_T0 + HOUR,
    limit: 11_000,
    ...extra,
  },
});

/** A `~` query over a matrix of hundreds of MB (no series lookup precedes it). */
const tilde = (s: AnswerStandIn) => metricRequest(s, [cond("~", STANDIN_METRIC)]);

/** An aggregated gauge over a month of one series' samples, hundreds of MB of them. */
const monthOfGauge = (s: AnswerStandIn) =>
  metricRequest(s, [cond("__gauge__", STANDIN_METRIC)], {
    endTime: STANDIN_T0 + 30 * 24 * HOUR,
    aggregation: { _type: "Aggregation", method: "MEAN", bucketSizeMillis: HOUR },
  });

const mirrorEnv = (s: AnswerStandIn) => ({
  MIRROR_API_KEY: MIRROR_KEY,
  MIRROR_ALLOWED_TARGETS: `127.0.0.1:${s.port}`,
  LOG_LEVEL: "error",
});

function report(what: string, memory: ChildMemory) {
  const mb = (n: number) => `${(n / MiB).toFixed(0)} MB`;
  console.info(
    `${what}: heap ${mb(memory.heapUsedBefore)} → peak ${mb(memory.heapUsed)} used / ${mb(memory.heapTotal)} reserved ` +
      `(limit ${mb(memory.heapLimit)}); RSS ${mb(memory.rssBefore)} → peak ${mb(memory.maxRss)}; ArrayBuffers peak ${mb(memory.arrayBuffers)}`,
  );
}

/** Bounded: well within the Lambda's heap and memory whatever the answer's size. */
function expectBounded(memory: ChildMemory) {
  expect(memory.heapLimit).toBeLessThan(600 * MiB); // the child ran with a Lambda's heap
  expect(memory.heapTotal).toBeLessThan(256 * MiB);
  expect(memory.maxRss).toBeLessThan(448 * MiB);
}

describe("answers larger than the function's memory (a streaming stand-in, 512 MB heap)", () => {
  let standin: AnswerStandIn | undefined;
  afterEach(async () => {
    await standin?.close();
    standin = undefined;
  });
  const start = async (options: AnswerStandInOptions) => {
    standin = await startAnswerStandIn(options);
    return standin;
  };

  it.each(["app", "lambda"] as const)(
    "%s: 400 MB of matrix for a ~ query is answer-too-large, read no further than the cap",
    async (front) => {
      const s = await start({ matrix: { bytes: 400 * MiB, series: 2000 } });
      const run = await runMirrorChild({
        front,
        env: mirrorEnv(s),
        key: MIRROR_KEY,
        requests: [{ path: MIRROR_PATHS.metric, body: tilde(s) }],
      });
      report(`${front}, 400 MB ~ answer`, run.memory);
      const [answer] = run.answers;
      expect(answer!.status).toBe(400);
      expect(answer!.body).toMatchObject({
        _type: "RemoteMirrorError",
        summary: "Prometheus's answer is too large",
      });
      const details = (answer!.body as { details: string }).details;
      expect(details).toMatch(/^\[answer-too-large\] /);
      expect(details).toContain(`(${CAP} bytes) this mirror reads (MIRROR_MAX_ANSWER_BYTES)`);
      expect(details).toContain("narrow the ~ expression");
      // answered by the cap, long before the request timeout
      expect(answer!.ms).toBeLessThan(25_000);
      const sent = await s.ended(0);
      expect(sent.path).toBe("/api/v1/query_range");
      expect(sent.cutByClient).toBe(true);
      expect(sent.sent).toBeLessThan(CAP + IN_FLIGHT);
      expectBounded(run.memory);
    },
  );

  it.each(["app", "lambda"] as const)(
    "%s: a month of one gauge series (300 MB) is answered in part: whole buckets, isPartial",
    async (front) => {
      const s = await start({ matrix: { bytes: 300 * MiB, series: 1, stepMs: 1000 } });
      const run = await runMirrorChild({
        front,
        env: mirrorEnv(s),
        key: MIRROR_KEY,
        requests: [{ path: MIRROR_PATHS.metric, body: monthOfGauge(s) }],
      });
      report(`${front}, 300 MB gauge series`, run.memory);
      const [answer] = run.answers;
      expect(answer!.status).toBe(200);
      const t = (answer!.body as { telemetry: { isPartial: boolean; points: number[][] } }).telemetry;
      expect(t.isPartial).toBe(true);
      expect(t.points.length).toBeGreaterThan(10);
      expect(t.points.length).toBeLessThan(720);
      expect(t.points[0]![1]).toBe(STANDIN_T0);
      t.points.forEach(([, start, end], i) => {
        expect(start).toBe(STANDIN_T0 + i * HOUR);
        expect(end).toBe(start! + HOUR);
      });
      expect(s.answers.map((a) => a.path)).toEqual(["/api/v1/series", "/api/v1/query"]);
      const sent = await s.ended(1);
      expect(sent.cutByClient).toBe(true);
      expect(sent.sent).toBeLessThan(CAP + IN_FLIGHT);
      expectBounded(run.memory);
    },
  );

  it("lambda: 3000 series of the metric are too-many-series after reading a few of their label sets", async () => {
    const s = await start({ matrix: { bytes: 400 * MiB, series: 3000 } });
    const run = await runMirrorChild({
      front: "lambda",
      env: mirrorEnv(s),
      key: MIRROR_KEY,
      requests: [{ path: MIRROR_PATHS.metric, body: metricRequest(s, [cond("__gauge__", STANDIN_METRIC)]) }],
    });
    const [answer] = run.answers;
    expect(answer!.status).toBe(400);
    const body = answer!.body as { _type: string; details: string };
    expect(body._type).toBe("RemoteMirrorError");
    expect(body.details).toMatch(/^\[too-many-series\] standin_gauge matches more than 50 series/);
    expect(body.details).toContain(
      'which differ in instance ("host-0:9100", "host-10:9100", "host-11:9100", …)',
    );
    // only the lookup was asked, and not even all of it was read
    expect(s.answers.map((a) => a.path)).toEqual(["/api/v1/series"]);
    expect(s.answers[0]!.query.get("limit")).toBe("51");
    expect((await s.ended(0)).sent).toBeLessThan(IN_FLIGHT);
    expectBounded(run.memory);
  });
});

describe("the local server (npm start) in front of the stand-in", () => {
  let standin: AnswerStandIn;
  let local: Awaited<ReturnType<typeof localFront>>;
  beforeAll(async () => {
    standin = await startAnswerStandIn({ matrix: { bytes: 300 * MiB, series: 1000 } });
    local = await localFront({ MIRROR_ALLOWED_TARGETS: `127.0.0.1:${standin.port}` });
  });
  afterAll(async () => {
    await local?.gateway.stop();
    await standin?.close();
  });

  it("answers 300 MB of matrix with answer-too-large and hangs up on the stand-in", async () => {
    const res = await local.send(MIRROR_PATHS.metric, tilde(standin));
    expect(res.status).toBe(400);
    expect(res.headers.get("X-MIRROR-API-KEY")).toBe(MIRROR_KEY);
    expect(res.body.details).toMatch(/^\[answer-too-large\] .*MIRROR_MAX_ANSWER_BYTES/);
    const sent = await standin.ended(standin.answers.length - 1);
    expect(sent.cutByClient).toBe(true);
    expect(sent.sent).toBeLessThan(CAP + IN_FLIGHT);
  });
});

describe("a store that answers too slowly: the request timeout ends the read", () => {
  let slow: AnswerStandIn;
  // 512 bytes every 100 ms: the whole answer would take hours
  beforeAll(async () => {
    slow = await startAnswerStandIn({
      matrix: { bytes: 64 * MiB, series: 1 },
      chunkBytes: 512,
      chunkDelayMs: 100,
    });
  });
  afterAll(async () => {
    await slow?.close();
  });

  const fronts: Array<[string, () => Promise<{ send: Send; stop: () => Promise<void> }>]> = [
    [
      "app",
      async () => {
        const served = await serveMirror({ MIRROR_ALLOWED_TARGETS: `127.0.0.1:${slow.port}` });
        return { send: (path, body) => post(served.url, path, body), stop: () => served.close() };
      },
    ],
    ["lambda", async () => ({ send: await lambdaFront(mirrorEnv(slow)), stop: async () => {} })],
    [
      "local",
      async () => {
        const { send, gateway } = await localFront({ MIRROR_ALLOWED_TARGETS: `127.0.0.1:${slow.port}` });
        return { send, stop: () => gateway.stop() };
      },
    ],
  ];

  it.each(fronts)("%s: 504 prometheus-timeout, and the stand-in sees its socket closed", async (_, make) => {
    const front = await make();
    try {
      const body = { ...tilde(slow), connectionDetails: details(slow, 1000) };
      const res = await front.send(MIRROR_PATHS.metric, body);
      expect(res.status).toBe(504);
      expect(res.body).toMatchObject({ _type: "MetricStoreConnectionError" });
      expect(res.body.details).toBe(
        `[prometheus-timeout] Prometheus at 127.0.0.1:${slow.port} did not answer within 1000 ms`,
      );
      const sent = await slow.ended(slow.answers.length - 1);
      expect(sent.cutByClient).toBe(true);
      expect(sent.sent).toBeGreaterThan(0); // the answer had begun: the body's read was cut
      // closed by the timeout, not by the end of the answer (which would take hours)
      expect(sent.closedAt! - sent.startedAt).toBeLessThan(10_000);
    } finally {
      await front.stop();
    }
  });
});
