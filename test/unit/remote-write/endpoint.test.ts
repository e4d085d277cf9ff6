import { describe, expect, it } from "vitest";
import {
  createRemoteWriteEndpoint,
  type RequestReader,
  TEXT_PLAIN,
} from "../../../functions/remote-write/endpoint";
import { type KeySource, StaticKeySource } from "../../../lib/core/auth";
import { createLogger } from "../../../lib/core/log";
import { createMemoryMetrics } from "../../../lib/core/metrics";
import { RECEIVER_PATH, REMOTE_WRITE_PATH } from "../../../lib/core/routes";
import { StreamWriteError } from "../../../lib/ingest/errors";
import { Ingestor } from "../../../lib/ingest/ingest";
import type { RecordSink } from "../../../lib/ingest/sink";
import type { StreamRecord } from "../../../lib/stream/records";
import { ingestSettings, realisticSeries, snappy, v1Message, v2Message } from "../../fixtures/remote-write";

/**
 * The framework-neutral endpoint on its own: which statuses it answers, in which order it
 * checks, and that it reads the body only when it has to, and never past the limit.
 */
const KEY = "endpoint-key-0d4e";
const MAX_BODY = 4096;

interface FakeRequest {
  headers: Record<string, string>;
  body: Uint8Array | Error;
  /** What the endpoint asked of the body: the limit it passed, per call. */
  bodyCalls: number[];
}

const reader: RequestReader<FakeRequest> = {
  header: (req, name) => req.headers[name],
  async body(req, maxBytes) {
    req.bodyCalls.push(maxBytes);
    if (req.body instanceof Error) throw req.body;
    return req.body.length > maxBytes ? undefined : req.body;
  },
};

function request(headers: Record<string, string>, body: Uint8Array | Error = new Uint8Array(0)): FakeRequest {
  return { headers, body, bodyCalls: [] };
}

/** The stream: accepts everything it is given, or refuses with the error given (a fault). */
function sink(fail?: Error): RecordSink & { records: StreamRecord[] } {
  const records: StreamRecord[] = [];
  return {
    records,
    async put(batch) {
      if (fail) throw fail;
      records.push(...batch);
    },
  };
}

function setup(opts: { keys?: KeySource; sink?: RecordSink & { records: StreamRecord[] } } = {}) {
  const lines: string[] = [];
  const metrics = createMemoryMetrics();
  const records = opts.sink ?? sink();
  const endpoint = createRemoteWriteEndpoint({
    ingestor: new Ingestor(ingestSettings()),
    maxBodyBytes: MAX_BODY,
    keys: opts.keys ?? new StaticKeySource([{ key: KEY }]),
    sink: records,
    log: createLogger("debug", (line) => lines.push(line)),
    metrics,
  });
  return { endpoint, lines, metrics, records };
}

const auth = { "sts-api-key": KEY, "content-type": "application/x-protobuf", "content-encoding": "snappy" };
const good = snappy(v1Message(realisticSeries(5, 2)));

describe("remote-write endpoint", () => {
  it("writes a valid body and answers 204 with the version header", async () => {
    const { endpoint, records, metrics } = setup();
    const req = request(auth, good);
    const answer = await endpoint.answer("POST", REMOTE_WRITE_PATH, req, reader);
    expect(answer).toEqual({
      status: 204,
      headers: { "X-Prometheus-Remote-Write-Version": "0.1.0" },
      body: null,
    });
    expect(req.bodyCalls).toEqual([MAX_BODY]);
    expect(records.records.length).toBeGreaterThan(0);
    expect(metrics.totals.get("SamplesReceived")).toBe(10);
  });

  it("answers v2 with the written counts", async () => {
    const { endpoint } = setup();
    const req = request(
      { ...auth, "content-type": "application/x-protobuf;proto=io.prometheus.write.v2.Request" },
      snappy(v2Message(realisticSeries(3, 2))),
    );
    const answer = await endpoint.answer("POST", RECEIVER_PATH, req, reader);
    expect(answer.status).toBe(204);
    expect(answer.headers).toEqual({
      "X-Prometheus-Remote-Write-Version": "2.0.0",
      "X-Prometheus-Remote-Write-Samples-Written": "6",
      "X-Prometheus-Remote-Write-Histograms-Written": "0",
      "X-Prometheus-Remote-Write-Exemplars-Written": "0",
    });
  });

  it("refuses a declared Content-Length over the limit without reading the body", async () => {
    const { endpoint, records } = setup();
    const req = request({ ...auth, "content-length": String(MAX_BODY + 1) }, good);
    const answer = await endpoint.answer("POST", REMOTE_WRITE_PATH, req, reader);
    expect(answer.status).toBe(413);
    expect(answer.body).toBe(`request body exceeds ${MAX_BODY} bytes\n`);
    expect(answer.headers["X-Prometheus-Remote-Write-Version"]).toBe("0.1.0");
    expect(req.bodyCalls).toEqual([]);
    expect(records.records).toHaveLength(0);
  });

  it("refuses a body the reader stopped reading at the limit", async () => {
    const { endpoint } = setup();
    const req = request(auth, new Uint8Array(MAX_BODY + 1));
    const answer = await endpoint.answer("POST", REMOTE_WRITE_PATH, req, reader);
    expect(answer.status).toBe(413);
    expect(req.bodyCalls).toEqual([MAX_BODY]);
  });

  it.each([
    ["no key", { "content-type": "application/x-protobuf" }, 401],
    ["a wrong key", { ...auth, "sts-api-key": "nope" }, 401],
    ["an unsupported type", { ...auth, "content-type": "application/json" }, 415],
    ["an unsupported encoding", { ...auth, "content-encoding": "gzip" }, 415],
  ])("answers %s with %i before reading the body", async (_, headers, status) => {
    const { endpoint } = setup();
    const req = request(headers, good);
    const answer = await endpoint.answer("POST", REMOTE_WRITE_PATH, req, reader);
    expect(answer.status).toBe(status);
    expect(answer.headers["Content-Type"]).toBe(TEXT_PLAIN);
    expect(answer.headers["X-Prometheus-Remote-Write-Version"]).toBeUndefined();
    if (status === 401)
      expect(answer.headers["WWW-Authenticate"]).toMatch(/^Basic realm="prometheus-remote-write"/);
    expect(req.bodyCalls).toEqual([]);
  });

  it("answers 503 keys-unavailable with Retry-After when the keys cannot be read", async () => {
    const { endpoint, lines } = setup({ keys: { keys: () => Promise.reject(new Error("unreachable")) } });
    const req = request(auth, good);
    const answer = await endpoint.answer("POST", REMOTE_WRITE_PATH, req, reader);
    expect(answer.status).toBe(503);
    expect(answer.headers["Retry-After"]).toBe("5");
    expect(req.bodyCalls).toEqual([]);
    expect(lines.join("\n")).toContain("keys-unavailable");
  });

  it("answers 503 with the sink's Retry-After when the stream does not take the records", async () => {
    const { endpoint } = setup({
      sink: sink(new StreamWriteError("stream-write-failed", "not accepted", 9)),
    });
    const answer = await endpoint.answer("POST", REMOTE_WRITE_PATH, request(auth, good), reader);
    expect(answer.status).toBe(503);
    expect(answer.headers["Retry-After"]).toBe("9");
    expect(answer.body).toBe("not accepted\n");
  });

  it("answers 400 when the body cannot be read to its end", async () => {
    const { endpoint } = setup();
    const answer = await endpoint.answer(
      "POST",
      REMOTE_WRITE_PATH,
      request(auth, new Error("socket hang up")),
      reader,
    );
    expect(answer.status).toBe(400);
    expect(answer.body).not.toContain("socket");
  });

  it("answers 400 naming the rejected series, with the written counts", async () => {
    const { endpoint, records } = setup();
    const body = snappy(
      v1Message([
        ...realisticSeries(2, 1),
        { labels: [["job", "x"]], samples: [{ value: 1, timestamp: 1 }] },
      ]),
    );
    const answer = await endpoint.answer("POST", REMOTE_WRITE_PATH, request(auth, body), reader);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatch(/^rejected 1 of 3 series \(missing-metric-name: 1\)/);
    expect(records.records.length).toBeGreaterThan(0);
  });

  it("answers 500 'internal error' to anything unexpected, and logs it", async () => {
    const { endpoint, lines } = setup({ sink: sink(new RangeError(`detail ${KEY}`)) });
    const answer = await endpoint.answer("POST", REMOTE_WRITE_PATH, request(auth, good), reader);
    expect(answer.status).toBe(500);
    expect(answer.body).toBe("internal error\n");
    expect(lines.join("\n")).toContain("RangeError");
  });

  it.each(["GET", "HEAD", "PUT", "OPTIONS"])(
    "answers %s with 405 and Allow: POST, reading nothing",
    async (method) => {
      const { endpoint } = setup();
      const req = request({}, good);
      const answer = await endpoint.answer(method, REMOTE_WRITE_PATH, req, reader);
      expect(answer.status).toBe(405);
      expect(answer.headers.Allow).toBe("POST");
      expect(req.bodyCalls).toEqual([]);
    },
  );

  it("answers 404 for any other path", async () => {
    const { endpoint } = setup();
    const answer = await endpoint.answer("POST", "/api/v1/write/", request(auth, good), reader);
    expect(answer.status).toBe(404);
  });
});
