import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { createServer as createHttpServer } from "node:http";
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
 * generated across restarts, refuses keys that cannot travel in a header, and lets its mirror
 * call only a Prometheus on this machine unless told otherwise.
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
