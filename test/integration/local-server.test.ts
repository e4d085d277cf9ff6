import { Agent, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedKinesis, startEmbeddedKinesis } from "../../functions/local/embedded-kinesis";
import { type LocalGateway, startLocalGateway } from "../../functions/local/gateway";
import { readAll } from "../../functions/local/stream";
import { HEALTHCHECK_PATH, MIRROR_PATHS, RECEIVER_PATH, REMOTE_WRITE_PATH } from "../../lib/core/routes";
import { realisticSeries, snappy, v1Message } from "../fixtures/remote-write";
import { type StrictKinesis, startStrictKinesis } from "../support/strict-kinesis";

/**
 * The local server's front: the remote-write paths answered from Node's request directly
 * (body limits enforced while reading, answers without reading the body where the status
 * table says so), every other route still answered by the Hono apps on the same server. The
 * server writes through a front that refuses what AWS refuses (test/support/strict-kinesis.ts).
 */
const KEY = "front-key-3c9d";
const MAX_BODY = 64 * 1024;
const STREAM = "front";
let kinesis: EmbeddedKinesis;
let strict: StrictKinesis;
let gateway: LocalGateway;

beforeAll(async () => {
  kinesis = await startEmbeddedKinesis();
  strict = await startStrictKinesis({ target: kinesis.endpoint, region: kinesis.region });
  gateway = await startLocalGateway({
    port: 0,
    apiKey: KEY,
    mirrorApiKey: "front-mirror-key-51aa",
    env: {
      KINESIS_ENDPOINT: strict.endpoint,
      KINESIS_STREAM_NAME: STREAM,
      MAX_BODY_BYTES: String(MAX_BODY),
      LOG_LEVEL: "error",
    },
  });
}, 90_000);

afterAll(async () => {
  await gateway?.stop();
  await strict?.stop();
  await kinesis?.stop();
});

const good = snappy(v1Message(realisticSeries(20, 2)));
const auth = { "sts-api-key": KEY, "content-type": "application/x-protobuf", "content-encoding": "snappy" };

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** Whether the request's socket had served a request before. */
  reused: boolean;
}

function send(
  path: string,
  init: {
    method?: string;
    headers?: Record<string, string | number>;
    body?: Uint8Array;
    agent?: Agent;
    /** Send the body chunked (no Content-Length), in two pieces. */
    chunked?: boolean;
  },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${gateway.url}${path}`,
      { method: init.method ?? "POST", headers: init.headers ?? {}, agent: init.agent ?? false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString("utf8"),
            reused: req.reusedSocket,
          }),
        );
      },
    );
    req.on("error", reject);
    if (init.chunked && init.body) {
      const half = init.body.length >> 1;
      req.write(init.body.subarray(0, half));
      req.end(init.body.subarray(half));
    } else req.end(init.body);
  });
}

/**
 * A chunked body that never ends: chunks are written until the server answers (or `capBytes`
 * went out without an answer). The request is only ever ended by destroying it after the
 * answer, so an answer proves the server answered before the body was complete.
 */
function sendEndless(
  headers: Record<string, string>,
  capBytes: number,
): Promise<{ status: number; body: string; sentBytes: number }> {
  const chunk = Buffer.alloc(16 * 1024, 0x41);
  return new Promise((resolve, reject) => {
    let sentBytes = 0;
    let answered = false;
    const req = httpRequest(`${gateway.url}${REMOTE_WRITE_PATH}`, { method: "POST", headers, agent: false });
    req.on("response", (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), sentBytes });
        req.destroy();
      });
    });
    // once answered, the server may close the connection while this side is still writing
    req.on("error", (err) => {
      if (!answered) reject(err);
    });
    const pump = () => {
      while (!answered && sentBytes < capBytes) {
        sentBytes += chunk.length;
        if (!req.write(chunk)) {
          req.once("drain", pump);
          return;
        }
      }
      if (!answered) reject(new Error(`${sentBytes} bytes sent without an answer`));
    };
    pump();
  });
}

async function recordCount(): Promise<number> {
  return (await readAll(kinesis.client, STREAM)).length;
}

describe("local server: remote-write front", () => {
  it("answers a chunked body over the limit with 413 before the sender has finished it", async () => {
    const before = await recordCount();
    const cap = 256 * MAX_BODY;
    const res = await sendEndless(auth, cap);
    expect(res.status).toBe(413);
    expect(res.body).toBe(`request body exceeds ${MAX_BODY} bytes\n`);
    expect(res.sentBytes).toBeGreaterThan(MAX_BODY);
    expect(res.sentBytes).toBeLessThan(cap);
    expect(await recordCount()).toBe(before);
    expect((await send(REMOTE_WRITE_PATH, { headers: auth, body: good })).status).toBe(204);
  });

  it("answers a Content-Length over the limit with 413 before any byte of the body is sent", async () => {
    const res = await new Promise<{ status: number; body: string; version: string | undefined }>(
      (resolve, reject) => {
        const req = httpRequest(`${gateway.url}${REMOTE_WRITE_PATH}`, {
          method: "POST",
          headers: { ...auth, "content-length": String(MAX_BODY * 100) },
          agent: false,
        });
        req.on("response", (r) => {
          const chunks: Buffer[] = [];
          r.on("data", (c: Buffer) => chunks.push(c));
          r.on("end", () => {
            resolve({
              status: r.statusCode ?? 0,
              body: Buffer.concat(chunks).toString("utf8"),
              version: r.headers["x-prometheus-remote-write-version"] as string | undefined,
            });
            req.destroy();
          });
        });
        req.on("error", reject);
        req.flushHeaders();
      },
    );
    expect(res.status).toBe(413);
    expect(res.body).toMatch(/exceeds/);
    expect(res.version).toBe("0.1.0");
  });

  it("keeps a connection serving after a body refused unread (the rest is read and dropped)", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const over = new Uint8Array(MAX_BODY + 4096);
      const refused = await send(REMOTE_WRITE_PATH, { headers: auth, body: over, agent });
      expect(refused.status).toBe(413);
      const unauthorised = await send(REMOTE_WRITE_PATH, {
        headers: { ...auth, "sts-api-key": "wrong" },
        body: good,
        agent,
      });
      expect(unauthorised.status).toBe(401);
      expect(unauthorised.reused).toBe(true);
      const accepted = await send(REMOTE_WRITE_PATH, { headers: auth, body: good, agent });
      expect(accepted.status).toBe(204);
      expect(accepted.reused).toBe(true);
      // chunked, over the limit: reading stops in the middle; the rest is dropped, not left blocking
      const chunked = await send(REMOTE_WRITE_PATH, { headers: auth, body: over, agent, chunked: true });
      expect(chunked.status).toBe(413);
      const next = await send(REMOTE_WRITE_PATH, { headers: auth, body: good, agent, chunked: true });
      expect(next.status).toBe(204);
      expect(next.reused).toBe(true);
    } finally {
      agent.destroy();
    }
  });

  it.each(["GET", "HEAD", "PUT", "DELETE"])("%s on a write path: 405 with Allow: POST", async (method) => {
    for (const path of [REMOTE_WRITE_PATH, RECEIVER_PATH]) {
      const res = await send(path, { method, headers: auth });
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe("POST");
      expect(res.body).toBe(method === "HEAD" ? "" : "method not allowed: use POST\n");
    }
  });

  it("answers a write path with a query string like the path itself", async () => {
    const before = await recordCount();
    const res = await send(`${REMOTE_WRITE_PATH}?tenant=ignored`, { headers: auth, body: good });
    expect(res.status).toBe(204);
    expect(res.headers["content-length"]).toBeUndefined();
    expect(await recordCount()).toBeGreaterThan(before);
  });

  it("text answers carry their length and content type", async () => {
    const res = await send(REMOTE_WRITE_PATH, { headers: { ...auth, "sts-api-key": "wrong" }, body: good });
    expect(res.status).toBe(401);
    expect(res.headers["content-type"]).toBe("text/plain; charset=UTF-8");
    expect(res.headers["content-length"]).toBe(String(Buffer.byteLength(res.body)));
    expect(res.headers["www-authenticate"]).toMatch(/^Basic realm="prometheus-remote-write"/);
  });

  it("survives a sender that goes away in the middle of a body", async () => {
    await new Promise<void>((resolve) => {
      const req = httpRequest(`${gateway.url}${REMOTE_WRITE_PATH}`, {
        method: "POST",
        headers: { ...auth, "content-length": String(good.length) },
        agent: false,
      });
      req.on("error", () => resolve());
      req.on("close", () => resolve());
      req.write(good.subarray(0, 100), () => req.destroy());
    });
    expect((await send(REMOTE_WRITE_PATH, { headers: auth, body: good })).status).toBe(204);
  });
});

describe("local server: the other routes on the same server", () => {
  it("answers the health check", async () => {
    const res = await send("/healthz", { method: "GET" });
    expect(res.status).toBe(200);
    expect(res.body).toBe("ok\n");
  });

  it("answers the mirror's liveness and its methods", async () => {
    const alive = await send(HEALTHCHECK_PATH, { method: "GET" });
    expect(alive.status).toBe(200);
    expect(JSON.parse(alive.body)).toEqual({ status: "OK" });
    const refused = await send(MIRROR_PATHS.connection, {
      headers: { "content-type": "application/json", "sts-api-key": "wrong" },
      body: Buffer.from(JSON.stringify({ _type: "TestConnectionRequest", connectionDetails: {} })),
    });
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.body)._type).toBe("RemoteMirrorError");
  });

  it("answers unknown paths with 404", async () => {
    expect((await send("/v1/write", { headers: auth, body: good })).status).toBe(404);
  });
});

it("sent nothing AWS would refuse", () => {
  expect(strict.stats.inspected).toBeGreaterThan(0);
  expect(strict.stats.refusals).toEqual([]);
  expect(strict.stats.recordsThrottled).toBe(0);
});
