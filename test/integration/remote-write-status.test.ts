import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedKinesis, startEmbeddedKinesis } from "../../functions/local/embedded-kinesis";
import { type LocalGateway, startLocalGateway } from "../../functions/local/gateway";
import { readAll } from "../../functions/local/stream";
import { remoteWriteEndpointFromEnv } from "../../functions/remote-write/wiring";
import { compress } from "../../lib/codec/snappy";
import { createMemoryMetrics } from "../../lib/core/metrics";
import { RECEIVER_PATH } from "../../lib/core/routes";
import { realisticSeries, snappy, v1Message, v2Message } from "../fixtures/remote-write";
import { type Front, httpFront, LAMBDA, LISTENER, lambdaFront } from "../support/fronts";
import { type StrictKinesis, startStrictKinesis } from "../support/strict-kinesis";

/**
 * The status matrix through both production fronts: the local server over real HTTP, and
 * the Lambda handler (built from the same variables, as at its cold start) with API Gateway
 * HTTP API events. Every auth, content-type, encoding, size and malformed-body case, its code
 * and headers, nothing written when refused, and the server still serving afterwards. Both
 * write through a front that refuses what AWS refuses (test/support/strict-kinesis.ts); the
 * stream is read back from kinesis-local.
 */
const KEY = "matrix-key-7f3a";
const MAX_BODY = 64 * 1024;
let kinesis: EmbeddedKinesis;
let strict: StrictKinesis;
let gateway: LocalGateway;
/**
 * The local server with one connection per request, closed after the answer: some cases are
 * answered before the body is read, and a kept-alive socket reused after the reads of the
 * stream between cases could meet the server closing it.
 */
let listener: Front;
let lambda: Front;

beforeAll(async () => {
  kinesis = await startEmbeddedKinesis();
  strict = await startStrictKinesis({ target: kinesis.endpoint, region: kinesis.region });
  const env = {
    KINESIS_ENDPOINT: strict.endpoint,
    KINESIS_STREAM_NAME: "matrix",
    MAX_BODY_BYTES: String(MAX_BODY),
    MAX_DECODED_BYTES: String(1024 * 1024),
    LOG_LEVEL: "error",
  };
  gateway = await startLocalGateway({ port: 0, apiKey: KEY, env });
  listener = httpFront(gateway.url, { connections: "close" });
  lambda = lambdaFront(
    remoteWriteEndpointFromEnv({ ...env, AWS_REGION: "us-east-1", API_KEY: KEY }, createMemoryMetrics())
      .endpoint,
  );
}, 90_000);

afterAll(async () => {
  await listener?.close();
  await gateway?.stop();
  await strict?.stop();
  await kinesis?.stop();
});

const good = snappy(v1Message(realisticSeries(20, 2)));
const goodV2 = snappy(v2Message(realisticSeries(20, 2)));
const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;
const V1 = "application/x-protobuf";
const V2 = "application/x-protobuf;proto=io.prometheus.write.v2.Request";
const raw = v1Message(realisticSeries(3, 1));
/** Incompressible bytes larger than the body limit, made valid snappy. */
const huge = compress(randomBytes(MAX_BODY * 2));

interface Case {
  name: string;
  path?: string;
  method?: string;
  headers: Record<string, string>;
  body?: Uint8Array;
  status: number;
  expectHeaders?: Record<string, string | RegExp>;
  bodyMatch?: RegExp;
  writes: boolean;
}

const auth = { "sts-api-key": KEY };
const cases: Case[] = [
  {
    name: "v1 with sts-api-key",
    headers: { ...auth, "content-type": V1, "content-encoding": "snappy" },
    body: good,
    status: 204,
    writes: true,
    expectHeaders: { "x-prometheus-remote-write-version": "0.1.0" },
  },
  {
    name: "v1 with basic auth",
    headers: { authorization: basic("apikey", KEY), "content-type": V1, "content-encoding": "snappy" },
    body: good,
    status: 204,
    writes: true,
  },
  {
    name: "StackState path",
    path: RECEIVER_PATH,
    headers: { ...auth, "content-type": V1, "content-encoding": "snappy" },
    body: good,
    status: 204,
    writes: true,
  },
  {
    name: "v1 without Content-Type or Content-Encoding",
    headers: auth,
    body: good,
    status: 204,
    writes: true,
  },
  {
    name: "v1 with explicit proto",
    headers: { ...auth, "content-type": `${V1};proto=prometheus.WriteRequest`, "content-encoding": "snappy" },
    body: good,
    status: 204,
    writes: true,
  },
  {
    name: "v2",
    headers: { ...auth, "content-type": V2, "content-encoding": "snappy" },
    body: goodV2,
    status: 204,
    writes: true,
    expectHeaders: {
      "x-prometheus-remote-write-version": "2.0.0",
      "x-prometheus-remote-write-samples-written": "40",
      "x-prometheus-remote-write-histograms-written": "0",
      "x-prometheus-remote-write-exemplars-written": "0",
    },
  },
  {
    name: "no credentials",
    headers: { "content-type": V1 },
    body: good,
    status: 401,
    writes: false,
    expectHeaders: { "www-authenticate": /^Basic realm=/ },
  },
  {
    name: "wrong sts-api-key",
    headers: { "sts-api-key": "nope", "content-type": V1 },
    body: good,
    status: 401,
    writes: false,
    expectHeaders: { "www-authenticate": /^Basic realm=/ },
  },
  {
    name: "basic auth with another username",
    headers: { authorization: basic("admin", KEY) },
    body: good,
    status: 401,
    writes: false,
  },
  {
    name: "basic auth with a wrong password",
    headers: { authorization: basic("apikey", `${KEY}x`) },
    body: good,
    status: 401,
    writes: false,
  },
  {
    name: "bearer token instead of basic",
    headers: { authorization: `Bearer ${KEY}` },
    body: good,
    status: 401,
    writes: false,
  },
  {
    name: "unauthenticated and unsupported type: 401 first",
    headers: { "content-type": "application/json" },
    body: good,
    status: 401,
    writes: false,
  },
  {
    name: "JSON content type",
    headers: { ...auth, "content-type": "application/json" },
    body: good,
    status: 415,
    writes: false,
    bodyMatch: /Content-Type/,
  },
  {
    name: "unknown proto",
    headers: { ...auth, "content-type": `${V1};proto=io.prometheus.write.v9.Request` },
    body: good,
    status: 415,
    writes: false,
  },
  {
    name: "gzip encoding",
    headers: { ...auth, "content-type": V1, "content-encoding": "gzip" },
    body: good,
    status: 415,
    writes: false,
    bodyMatch: /Content-Encoding/,
  },
  {
    name: "body over the limit",
    headers: { ...auth, "content-type": V1 },
    body: huge,
    status: 413,
    writes: false,
  },
  {
    name: "declared decoded size over the limit",
    headers: { ...auth, "content-type": V1 },
    body: Uint8Array.from([0x80, 0x80, 0x80, 0x40, 0x00]),
    status: 413,
    writes: false,
    bodyMatch: /declared/,
  },
  {
    name: "empty body",
    headers: { ...auth, "content-type": V1 },
    body: new Uint8Array(0),
    status: 400,
    writes: false,
    bodyMatch: /empty/,
  },
  {
    name: "corrupt snappy",
    headers: { ...auth, "content-type": V1 },
    body: Uint8Array.from([0x10, 0xf0, 0xff, 0x00, 0x01]),
    status: 400,
    writes: false,
    bodyMatch: /snappy/,
  },
  {
    name: "not snappy at all",
    headers: { ...auth, "content-type": V1 },
    body: raw,
    status: 400,
    writes: false,
  },
  {
    name: "truncated protobuf",
    headers: { ...auth, "content-type": V1 },
    body: compress(raw.subarray(0, raw.length - 5)),
    status: 400,
    writes: false,
    bodyMatch: /malformed prometheus.WriteRequest/,
  },
  {
    // valid series first: nothing of the request is written, as Prometheus writes nothing
    name: "a histogram's bucket span cut short",
    headers: { ...auth, "content-type": V1 },
    body: compress(
      Uint8Array.from([...raw, ...[0x0a, 0x0a, 0x22, 0x08, 0x5a, 0x06, 0x08, 0x02, 0x10, 0xff, 0xff, 0xff]]),
    ),
    status: 400,
    writes: false,
    bodyMatch: /malformed prometheus.WriteRequest/,
  },
  {
    name: "v1 bytes labelled v2",
    headers: { ...auth, "content-type": V2 },
    body: good,
    status: 400,
    writes: false,
    bodyMatch: /v1 WriteRequest/,
  },
  {
    name: "v2 bytes labelled v1",
    headers: { ...auth, "content-type": V1 },
    body: goodV2,
    status: 400,
    writes: false,
    bodyMatch: /v2 Request/,
  },
  {
    name: "invalid series only",
    headers: { ...auth, "content-type": V1 },
    body: snappy(v1Message([{ labels: [["job", "x"]], samples: [{ value: 1, timestamp: 1 }] }])),
    status: 400,
    writes: false,
    bodyMatch: /missing-metric-name: 1/,
  },
  { name: "GET", method: "GET", headers: auth, status: 405, writes: false, expectHeaders: { allow: "POST" } },
  {
    name: "unknown path",
    path: "/api/v1/push",
    // no key: the ingest key is not the mirror's, whose app answers every other /api path
    headers: { "content-type": V1, "content-encoding": "snappy" },
    body: good,
    status: 404,
    writes: false,
  },
];

async function recordCount(): Promise<number> {
  return (await readAll(kinesis.client, "matrix")).length;
}

describe.each([LISTENER, LAMBDA])("remote write status matrix through the %s", (name) => {
  it.each(cases)("$name → $status", async (c) => {
    const front = name === LISTENER ? listener : lambda;
    const before = await recordCount();
    const res = await front.send({
      method: c.method ?? "POST",
      ...(c.path === undefined ? {} : { path: c.path }),
      headers: c.headers,
      ...(c.body === undefined ? {} : { body: c.body }),
    });
    const text = res.body;
    expect(res.status, text).toBe(c.status);
    for (const [header, want] of Object.entries(c.expectHeaders ?? {})) {
      const got = res.headers[header];
      if (want instanceof RegExp) expect(got).toMatch(want);
      else expect(got).toBe(want);
    }
    if (c.bodyMatch) expect(text).toMatch(c.bodyMatch);
    if (c.status >= 400) expect(text.split("\n").filter(Boolean).length).toBeLessThanOrEqual(1);
    expect(text).not.toContain(KEY);
    const after = await recordCount();
    if (c.writes) expect(after).toBeGreaterThan(before);
    else expect(after).toBe(before);
  });
});

describe("the local server after the matrix", () => {
  it("keeps idle connections longer than clients do (Go's transport: 90 s)", async () => {
    const res = await fetch(`${gateway.url}/healthz`, { headers: { connection: "keep-alive" } });
    await res.text();
    const timeout = Number(/timeout=(\d+)/.exec(res.headers.get("keep-alive") ?? "")?.[1]);
    expect(timeout).toBeGreaterThan(90);
  });

  it("is still serving after every case above", async () => {
    expect((await listener.send({ method: "GET", path: "/healthz", headers: {} })).status).toBe(200);
    const res = await listener.send({ method: "POST", path: "/api/v1/write", headers: auth, body: good });
    expect(res.status).toBe(204);
  });

  it("sent nothing AWS would refuse", () => {
    expect(strict.stats.inspected).toBeGreaterThan(0);
    expect(strict.stats.refusals).toEqual([]);
    expect(strict.stats.recordsThrottled).toBe(0);
  });
});
