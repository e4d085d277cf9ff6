import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { createServer as createHttpServer } from "node:http";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedKinesis, startEmbeddedKinesis } from "../../functions/local/embedded-kinesis";
import {
  type LocalGateway,
  type LocalGatewayOptions,
  startLocalGateway,
} from "../../functions/local/gateway";
import { LOCAL_MIRROR_TARGETS } from "../../functions/local/settings";
import { ConfigError } from "../../lib/core/config";
import { HEALTHCHECK_PATH, MIRROR_PATHS, REMOTE_WRITE_PATH } from "../../lib/core/routes";
import { realisticSeries, snappy, v1Message } from "../fixtures/remote-write";
import { listenOnLoopback } from "../support/listen";

/**
 * The local server is safe by default: it hands out no ingest key, keeps the keys it
 * generated across restarts, refuses keys that cannot travel in a header, lets its mirror call
 * only a Prometheus on this machine unless told otherwise, and is bounded against slow and
 * too many clients.
 */

let kinesis: EmbeddedKinesis;
const started: LocalGateway[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  kinesis = await startEmbeddedKinesis();
}, 60_000);

afterAll(async () => {
  for (const g of started) await g.stop();
  await kinesis?.stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function gateway(opts: LocalGatewayOptions = {}): Promise<LocalGateway> {
  const g = await startLocalGateway({
    port: 0,
    shards: 1,
    ...opts,
    env: {
      KINESIS_ENDPOINT: kinesis.endpoint,
      KINESIS_STREAM_NAME: "safety",
      LOG_LEVEL: "error",
      ...opts.env,
    },
  });
  started.push(g);
  return g;
}

async function stopped(g: LocalGateway): Promise<void> {
  await g.stop();
  started.splice(started.indexOf(g), 1);
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "local-safety-"));
  dirs.push(dir);
  return dir;
}

const good = snappy(v1Message(realisticSeries(5, 1)));
const write = (g: LocalGateway, key: string) =>
  fetch(`${g.url}${REMOTE_WRITE_PATH}`, {
    method: "POST",
    headers: { "sts-api-key": key, "content-type": "application/x-protobuf", "content-encoding": "snappy" },
    body: good,
  });

describe("keys", () => {
  it("no mirror answer carries the ingest key; only the protocol's answers carry the mirror's", async () => {
    const g = await gateway();
    expect(g.mirrorApiKey).not.toBe(g.apiKey);
    const json = { "content-type": "application/json" };
    const asks: Array<[string, string, RequestInit, boolean]> = [
      ["POST", "/api/x", { body: "{}", headers: json }, false],
      ["GET", "/api/x", {}, false],
      ["HEAD", "/api/x", {}, false],
      ["OPTIONS", "/api/x", {}, false],
      ["GET", MIRROR_PATHS.metric, {}, false],
      ["HEAD", MIRROR_PATHS.metric, {}, false],
      ["OPTIONS", MIRROR_PATHS.connection, {}, false],
      ["POST", `${MIRROR_PATHS.metric}/`, { body: "{}", headers: json }, false],
      ["GET", HEALTHCHECK_PATH, {}, false],
      ["GET", "/healthz", {}, false],
      ["GET", "/", {}, false],
      ["POST", MIRROR_PATHS.metric, { body: "{", headers: json }, true],
      [
        "POST",
        MIRROR_PATHS.connection,
        { body: JSON.stringify({ connectionDetails: {} }), headers: json },
        true,
      ],
    ];
    for (const [method, path, init, announces] of asks) {
      const res = await fetch(`${g.url}${path}`, { method, ...init });
      const text = await res.text();
      const headers = JSON.stringify([...res.headers]);
      expect(headers, `${method} ${path}`).not.toContain(g.apiKey);
      expect(text, `${method} ${path}`).not.toContain(g.apiKey);
      expect(res.headers.get("x-mirror-api-key"), `${method} ${path} (${res.status})`).toBe(
        announces ? g.mirrorApiKey : null,
      );
    }
  });

  it("keeps generated keys across two starts, in files only the owner can read", async () => {
    const dir = await tempDir();
    const first = await gateway({ stateDir: dir });
    const keys = { ingest: first.apiKey, mirror: first.mirrorApiKey, notes: first.notes };
    expect((await write(first, first.apiKey)).status).toBe(204);
    await stopped(first);

    const second = await gateway({ stateDir: dir });
    expect({ ingest: second.apiKey, mirror: second.mirrorApiKey, notes: second.notes }).toEqual(keys);
    expect(keys.ingest).not.toBe(keys.mirror);
    // a Prometheus configured against the first start still writes
    expect((await write(second, keys.ingest)).status).toBe(204);
    expect((await write(second, keys.mirror)).status).toBe(401);

    expect((await readdir(dir)).sort()).toEqual(["ingest-key", "mirror-key"]);
    for (const name of ["ingest-key", "mirror-key"]) {
      expect((await stat(join(dir, name))).mode & 0o777).toBe(0o600);
    }
    expect(keys.notes.join("\n")).toContain(join(dir, "ingest-key"));
  });

  it("a configured key is used as it is and nothing is written for it", async () => {
    const dir = await tempDir();
    const g = await gateway({ stateDir: dir, env: { API_KEY: "configured-ingest-key" } });
    expect(g.apiKey).toBe("configured-ingest-key");
    expect(await readdir(dir)).toEqual(["mirror-key"]);
  });

  it("the printed key is the one that writes when API_KEYS lists several", async () => {
    const g = await gateway({ env: { API_KEYS: "acme=first-listed-key,second-key" } });
    expect(g.apiKey).toBe("first-listed-key");
    expect((await write(g, g.apiKey)).status).toBe(204);
  });

  it.each([
    ["API_KEY", { API_KEY: "ключ-🔑-key" }],
    ["API_KEYS", { API_KEYS: "good-key,acme=ключ-🔑-key" }],
    ["MIRROR_API_KEY", { MIRROR_API_KEY: "ключ-🔑-key" }],
    ["API_KEY", { API_KEY: "tab\tinside" }],
  ])("refuses to start with a key that cannot be a header value, naming %s", async (variable, env) => {
    const err = await startLocalGateway({ port: 0, env: { ...env, LOG_LEVEL: "error" } }).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(new RegExp(`^${variable}:`));
    expect(err.message).toContain("printable ASCII");
    expect(err.message).not.toContain("ключ");
  });

  it.each([
    ["as options", { apiKey: "same-key-twice", mirrorApiKey: "same-key-twice" }, "API_KEY"],
    [
      "in API_KEY and MIRROR_API_KEY",
      { env: { API_KEY: "same-key", MIRROR_API_KEY: "same-key" } },
      "API_KEY",
    ],
    ["in API_KEYS and MIRROR_API_KEY", { env: { API_KEYS: "a=k1,b=k2", MIRROR_API_KEY: "k2" } }, "API_KEYS"],
  ])("refuses one key for ingest and mirror %s", async (_, opts: LocalGatewayOptions, variable) => {
    const err = await startLocalGateway({ port: 0, ...opts }).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain("MIRROR_API_KEY: must differ from the ingest key");
    expect(err.message).toContain(`(${variable})`);
  });
});

describe("the mirror's targets", () => {
  let prometheusLike: { port: number; requests: number; close(): Promise<void> };

  beforeAll(async () => {
    let requests = 0;
    const server = createHttpServer((_, res) => {
      requests++;
      res.end("Prometheus Server is Healthy.\n");
    });
    const l = await listenOnLoopback(server);
    prometheusLike = {
      port: l.port,
      get requests() {
        return requests;
      },
      close: l.close,
    };
  });
  afterAll(async () => {
    await prometheusLike?.close();
  });

  const connection = (g: LocalGateway, connectionDetails: unknown) =>
    fetch(`${g.url}${MIRROR_PATHS.connection}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ _type: "TestConnectionRequest", connectionDetails }),
    });

  it("without MIRROR_ALLOWED_TARGETS: only a Prometheus on this machine's port 9090", async () => {
    const g = await gateway();
    expect(g.notes.join("\n")).toContain("MIRROR_ALLOWED_TARGETS is not set");
    const before = prometheusLike.requests;
    for (const details of [
      { host: "127.0.0.1", port: prometheusLike.port },
      { host: "localhost", port: prometheusLike.port, pathPrefix: "/anything" },
      { url: `http://127.0.0.1:${prometheusLike.port}/` },
      { host: "10.0.0.1", port: 9090 },
      { host: "example.com", port: 443, scheme: "https" },
    ]) {
      const res = await connection(g, details);
      expect(res.status, JSON.stringify(details)).toBe(403);
      expect(JSON.stringify(await res.json())).toContain("target-not-allowed");
    }
    expect(prometheusLike.requests).toBe(before);
    for (const host of ["127.0.0.1", "localhost", "::1"]) {
      // allowed: answered by the protocol (OK, or FAILURE when no Prometheus runs there)
      const res = await connection(g, { host, port: 9090, requestTimeout: 1000 });
      expect(res.status, host).toBe(200);
      expect(await res.json()).toMatchObject({ _type: "TestConnectionResponse" });
    }
    expect(LOCAL_MIRROR_TARGETS).toBe("127.0.0.1:9090,localhost:9090,[::1]:9090");
  });

  it("MIRROR_ALLOWED_TARGETS=* is an open proxy on purpose, and said so at start", async () => {
    const g = await gateway({ env: { MIRROR_ALLOWED_TARGETS: "*" } });
    expect(g.notes.join("\n")).toContain("allows any host");
    const before = prometheusLike.requests;
    const res = await connection(g, { host: "127.0.0.1", port: prometheusLike.port });
    expect(res.status).toBe(200);
    expect(prometheusLike.requests).toBeGreaterThan(before);
  });

  it("a listed target is allowed and the default is not added to it", async () => {
    const g = await gateway({ env: { MIRROR_ALLOWED_TARGETS: `127.0.0.1:${prometheusLike.port}` } });
    const before = prometheusLike.requests;
    expect((await connection(g, { host: "127.0.0.1", port: prometheusLike.port })).status).toBe(200);
    expect(prometheusLike.requests).toBeGreaterThan(before);
    expect((await connection(g, { host: "127.0.0.1", port: 9090 })).status).toBe(403);
  });
});

/** A raw connection: what the server sent, and when it closed (ms after the start). */
function rawConnection(port: number) {
  const socket: Socket = connect(port, "127.0.0.1");
  const t0 = Date.now();
  let data = "";
  socket.on("data", (d: Buffer) => {
    data += d.toString("latin1");
  });
  socket.on("error", () => {});
  const closed = new Promise<{ ms: number; data: string }>((resolve) =>
    socket.on("close", () => resolve({ ms: Date.now() - t0, data })),
  );
  const opened = new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  return { socket, closed, opened };
}

describe("slow and too many clients", () => {
  let g: LocalGateway;
  const limits = {
    headersTimeoutMs: 400,
    requestTimeoutMs: 2_000,
    bodyGraceMs: 400,
    minBodyBytesPerSecond: 1024,
    maxConnections: 4,
  };

  beforeAll(async () => {
    g = await gateway({ apiKey: "slow-client-key", server: limits });
  });

  it("closes a connection whose headers do not arrive within the headers timeout (408)", async () => {
    const c = rawConnection(g.port);
    c.socket.write("POST /api/v1/write HTTP/1.1\r\nHost: x\r\n");
    const iv = setInterval(() => c.socket.write("X-Slow: 1\r\n"), 100);
    const { ms, data } = await c.closed;
    clearInterval(iv);
    expect(data).toMatch(/^HTTP\/1\.1 408/);
    expect(ms).toBeGreaterThanOrEqual(limits.headersTimeoutMs - 50);
    expect(ms).toBeLessThan(limits.headersTimeoutMs + 1_000);
  });

  it("cuts a remote-write body trickling in at 10 bytes/s soon after the grace, without an answer", async () => {
    const c = rawConnection(g.port);
    c.socket.write(
      "POST /api/v1/write HTTP/1.1\r\nHost: x\r\nsts-api-key: slow-client-key\r\n" +
        "Content-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\n" +
        `Content-Length: ${10 * 1024 * 1024}\r\n\r\n`,
    );
    const iv = setInterval(() => c.socket.write("a"), 100);
    const { ms, data } = await c.closed;
    clearInterval(iv);
    expect(data).toBe(""); // no 4xx: a sender resends after a broken connection, and drops after a 4xx
    expect(ms).toBeGreaterThanOrEqual(limits.bodyGraceMs - 50);
    expect(ms).toBeLessThan(limits.bodyGraceMs + 1_000);
  });

  it("lets a body in at a healthy rate through the same floor", async () => {
    const body = snappy(v1Message(realisticSeries(200, 2)));
    const c = rawConnection(g.port);
    c.socket.write(
      "POST /api/v1/write HTTP/1.1\r\nHost: x\r\nsts-api-key: slow-client-key\r\nConnection: close\r\n" +
        `Content-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    const parts = 6;
    const size = Math.ceil(body.length / parts);
    expect(body.length / (parts * 0.15)).toBeGreaterThan(limits.minBodyBytesPerSecond * 2);
    for (let i = 0; i < parts; i++) {
      await new Promise((r) => setTimeout(r, 150)); // 0.9 s in all: past the grace
      c.socket.write(body.subarray(i * size, (i + 1) * size));
    }
    const { data } = await c.closed;
    expect(data).toMatch(/^HTTP\/1\.1 204/);
  });

  it("answers a request that takes longer than the request timeout with 408 (the mirror's too)", async () => {
    const c = rawConnection(g.port);
    c.socket.write(
      `POST ${MIRROR_PATHS.metric} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n`,
    );
    const iv = setInterval(() => c.socket.write(" ".repeat(200)), 50); // 4 KB/s: no floor on the mirror's
    const { ms, data } = await c.closed;
    clearInterval(iv);
    expect(data).toMatch(/^HTTP\/1\.1 408/);
    expect(ms).toBeGreaterThanOrEqual(limits.requestTimeoutMs - 50);
    expect(ms).toBeLessThan(limits.requestTimeoutMs + 1_000);
  });

  it("keeps idle keep-alive connections past the headers timeout", async () => {
    const c = rawConnection(g.port);
    c.socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    await new Promise((r) => setTimeout(r, limits.headersTimeoutMs * 3));
    expect(c.socket.destroyed).toBe(false);
    c.socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const { data } = await c.closed;
    expect(data.match(/HTTP\/1\.1 200/g)).toHaveLength(2);
  });

  it("closes connections over the cap at once, and takes new ones when some have gone", async () => {
    // Each connection is opened and served once before the next; an idle one of the test's own
    // fetch may still be open too, so the first refusal comes at the cap or one before it.
    const held: ReturnType<typeof rawConnection>[] = [];
    let refused: { ms: number; data: string } | undefined;
    for (let i = 0; i <= limits.maxConnections && refused === undefined; i++) {
      const c = rawConnection(g.port);
      c.socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
      const outcome = await Promise.race([
        c.closed,
        waitUntil(() => c.socket.bytesRead > 0).then(() => undefined),
      ]);
      if (outcome === undefined) held.push(c);
      else refused = outcome;
    }
    expect(refused, "no connection was refused").toBeDefined();
    expect(refused!.data).toBe("");
    expect(held.length).toBeGreaterThanOrEqual(limits.maxConnections - 1);
    expect(held.length).toBeLessThanOrEqual(limits.maxConnections);
    held[0]!.socket.destroy();
    await held[0]!.closed;
    const again = rawConnection(g.port);
    again.socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect((await again.closed).data).toMatch(/^HTTP\/1\.1 200/);
    for (const c of held) c.socket.destroy();
  });
});

async function waitUntil(probe: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}
