import { afterEach, describe, expect, it } from "vitest";
import { SecretCredentialSource } from "../../lib/aws/secret-credential";
import { compress, decompress } from "../../lib/codec/snappy";
import { silentLogger } from "../../lib/core/log";
import { createMemoryMetrics } from "../../lib/core/metrics";
import { credentialAuthorizer, parseCredential, staticCredential } from "../../lib/forwarder/auth";
import { loadForwarderConfig } from "../../lib/forwarder/config";
import { deadLetterMessage } from "../../lib/forwarder/dead-letter";
import { HttpDestination, parseRetryAfter, REMOTE_WRITE_HEADERS } from "../../lib/forwarder/destination";
import { type DeadLetter, type ForwardOptions, forwardBatch } from "../../lib/forwarder/forward";
import { planBatch, type SendUnit, unitBody } from "../../lib/forwarder/plan";
import { checkRecord, type ForwardRecord } from "../../lib/forwarder/records";
import { schemas, TO_OBJECT } from "../../lib/stream/proto";
import { sealRecord } from "../../lib/stream/records";
import { ShardMap } from "../../lib/stream/shard-map";
import { v1Message, v2Message } from "../fixtures/remote-write";
import {
  type Answer,
  type ScriptedDestination,
  startScriptedDestination,
} from "../support/forwarder-destination";

let seq = 0;
function record(
  name: string,
  opts: { version?: "v1" | "v2"; tenant?: string; timestamp?: number; value?: number } = {},
): ForwardRecord {
  const version = opts.version ?? "v1";
  const spec = [
    {
      labels: [["__name__", name]] as [string, string][],
      samples: [{ value: opts.value ?? 1, timestamp: opts.timestamp ?? 1_700_000_000_000 }],
    },
  ];
  const body = version === "v1" ? v1Message(spec) : v2Message(spec);
  const sealed = sealRecord(body, version, opts.tenant, 0, ShardMap.uniform(1));
  seq++;
  return {
    data: sealed.data,
    partitionKey: sealed.partitionKey,
    sequenceNumber: String(1000 + seq),
    shardId: "shardId-000000000000",
  };
}

const poisonRecord = (data: Uint8Array, key = `prw1::0:${"cd".repeat(16)}`): ForwardRecord => ({
  data,
  partitionKey: key,
  sequenceNumber: String(1000 + ++seq),
  shardId: "shardId-000000000000",
});

function namesIn(body: Uint8Array): string[] {
  const msg = schemas().v1.toObject(schemas().v1.decode(decompress(body, 1 << 24)), TO_OBJECT) as {
    timeseries?: { labels: { name: string; value: string }[] }[];
  };
  return (msg.timeseries ?? []).map((ts) => ts.labels.find((l) => l.name === "__name__")!.value);
}

describe("checking records", () => {
  it.each([
    [
      "a key that is not the gateway's",
      poisonRecord(compress(v1Message([])), "some-key"),
      "partition-key-invalid",
    ],
    [
      "data that is not snappy",
      poisonRecord(new TextEncoder().encode("\u00ff\u00ff\u00ff\u00ff\u00ff\u00ffplain")),
      "snappy-corrupt",
    ],
    [
      "snappy text that is no protobuf",
      poisonRecord(compress(new TextEncoder().encode("not a protobuf"))),
      "message-invalid",
    ],
    [
      "a protobuf with none of the message's fields",
      poisonRecord(compress(new Uint8Array([0x10, 0x01]))),
      "message-invalid",
    ],
    [
      "a v1 key on a truncated series",
      poisonRecord(compress(new Uint8Array([0x0a, 0x05, 0x0a]))),
      "message-invalid",
    ],
  ])("%s is poison (%s)", (_what, rec, reason) => {
    const checked = checkRecord(rec);
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.reason).toBe(reason);
  });

  it("accepts v1 and v2 records and says which", () => {
    const a = checkRecord(record("a"));
    const b = checkRecord(record("b", { version: "v2" }));
    expect(a.ok && a.version).toBe("v1");
    expect(b.ok && b.version).toBe("v2");
  });
});

describe("planning a batch", () => {
  it("merges adjacent v1 records of one tenant, keeps v2 alone, and keeps the order", () => {
    const recs = [
      record("a"),
      record("b"),
      record("c", { version: "v2" }),
      record("d"),
      record("e", { tenant: "t1" }),
      record("f", { tenant: "t1" }),
    ];
    const plan = planBatch(recs, 1 << 20);
    const shape = plan.units.map((u) =>
      u.kind === "send"
        ? `${u.version}:${u.records.map((r) => r.record.sequenceNumber).join(",")}`
        : "poison",
    );
    const s = recs.map((r) => r.sequenceNumber);
    expect(shape).toEqual([`v1:${s[0]},${s[1]}`, `v2:${s[2]}`, `v1:${s[3]}`, `v1:${s[4]},${s[5]}`]);
  });

  it("a merged body is one WriteRequest holding every series in order", () => {
    const plan = planBatch([record("a"), record("b"), record("c")], 1 << 20);
    expect(plan.units).toHaveLength(1);
    expect(namesIn(unitBody(plan.units[0] as SendUnit))).toEqual(["a", "b", "c"]);
  });

  it("a single record is sent as it is", () => {
    const r = record("solo");
    const plan = planBatch([r], 1 << 20);
    expect(unitBody(plan.units[0] as SendUnit)).toBe(r.data);
  });

  it("stops merging at the size limit", () => {
    const recs = [record("a"), record("b"), record("c")];
    const one = decompress(recs[0]!.data, 1 << 20).length;
    const plan = planBatch(recs, one * 2);
    expect(plan.units.map((u) => (u as SendUnit).records.length)).toEqual([2, 1]);
  });

  it("drops records whose id came earlier in the batch, and poison breaks a merge", () => {
    const a = record("a");
    const bad = poisonRecord(new Uint8Array([1, 2, 3]));
    const plan = planBatch([a, { ...a, sequenceNumber: "9999" }, bad, record("b")], 1 << 20);
    expect(plan.duplicates.map((d) => d.sequenceNumber)).toEqual(["9999"]);
    expect(plan.units.map((u) => u.kind)).toEqual(["send", "poison", "send"]);
  });
});

describe("delivering a batch", () => {
  let dest: ScriptedDestination | undefined;
  afterEach(async () => {
    await dest?.close();
    dest = undefined;
  });

  async function deliver(
    records: ForwardRecord[],
    script: (i: number, names: string[]) => Answer,
    over: Partial<ForwardOptions> = {},
  ) {
    dest = await startScriptedDestination((req, i) => {
      const v2 = String(req.headers["content-type"]).includes("v2");
      return script(i, v2 ? ["(v2)"] : namesIn(req.body));
    });
    const letters: DeadLetter[] = [];
    const sleeps: number[] = [];
    const metrics = createMemoryMetrics();
    const outcome = await forwardBatch(records, {
      destination: new HttpDestination(dest.url),
      deadLetters: { send: async (l) => void letters.push(l) },
      maxRequestBytes: 1 << 20,
      timeoutMs: 2_000,
      remainingMs: () => 60_000,
      reserveMs: 0,
      sleep: async (ms) => void sleeps.push(ms),
      random: () => 0.5,
      log: silentLogger,
      metrics,
      ...over,
    });
    return { outcome, letters, sleeps, metrics, requests: dest.requests };
  }

  it.each([
    ["v1", REMOTE_WRITE_HEADERS.v1],
    ["v2", REMOTE_WRITE_HEADERS.v2],
  ] as const)("sends %s records with the matching headers", async (version, headers) => {
    // a 2.0 receiver says what it wrote
    const written = { "x-prometheus-remote-write-samples-written": "1" };
    const { outcome, requests } = await deliver([record("x", { version })], () => ({
      status: 204,
      headers: written,
    }));
    expect(outcome).toMatchObject({ delivered: 1, requests: 1, deadLettered: 0 });
    expect(requests[0]!.headers).toMatchObject(headers);
  });

  it.each([500, 503, 429])("retries %i with backoff until it is accepted", async (status) => {
    const { outcome, sleeps, requests } = await deliver([record("a"), record("b")], (i) =>
      i < 3 ? status : 204,
    );
    expect(outcome).toMatchObject({ delivered: 2, requests: 4, retries: 3 });
    expect(sleeps).toEqual([100, 200, 400]);
    expect(requests.map((r) => r.body.equals(requests[0]!.body))).toEqual([true, true, true, true]);
  });

  it("waits at least what Retry-After asks", async () => {
    const { sleeps } = await deliver([record("a")], (i) =>
      i === 0 ? { status: 429, headers: { "retry-after": "2" } } : 204,
    );
    expect(sleeps).toEqual([2000]);
  });

  it("splits a refused merged request and dead-letters only the record refused again", async () => {
    const recs = [record("good1"), record("bad"), record("good2")];
    const { outcome, letters, requests } = await deliver(recs, (_i, names) =>
      names.includes("bad") ? { status: 400, body: "out of bounds" } : 204,
    );
    expect(requests.map((r) => namesIn(r.body))).toEqual([
      ["good1", "bad", "good2"],
      ["good1"],
      ["bad"],
      ["good2"],
    ]);
    expect(outcome).toMatchObject({ delivered: 2, deadLettered: 1 });
    expect(outcome.failed).toBeUndefined();
    expect(letters).toEqual([{ record: recs[1], status: 400, reason: "rejected", detail: "out of bounds" }]);
  });

  it("when time runs out, reports the first record of the request that failed and sends nothing after it", async () => {
    let now = 0;
    const recs = [record("a"), record("b", { version: "v2" }), record("c")];
    const { outcome, letters, requests } = await deliver(recs, (i) => (i === 0 ? 204 : 503), {
      remainingMs: () => 5_000 - now,
      sleep: async (ms) => {
        now += ms;
      },
    });
    expect(outcome.failed).toEqual({ sequenceNumber: recs[1]!.sequenceNumber, reason: "status-503" });
    expect(outcome.delivered).toBe(1);
    expect(letters).toEqual([]);
    expect(requests.every((r, i) => i === 0 || String(r.headers["content-type"]).includes("v2"))).toBe(true);
  });

  it("a record refused after an attempt whose answer was lost is marked as possibly stored", async () => {
    const { outcome, letters } = await deliver([record("a")], (i) =>
      i === 0 ? "drop" : { status: 400, body: "out of order sample" },
    );
    expect(outcome).toMatchObject({ requests: 2, deadLettered: 1 });
    expect(letters.map((l) => l.reason)).toEqual(["rejected-after-resend"]);
  });

  it("network errors are retried like 5xx", async () => {
    const metrics = createMemoryMetrics();
    let now = 0;
    const outcome = await forwardBatch([record("a")], {
      destination: new HttpDestination("http://127.0.0.1:1/api/v1/write"),
      deadLetters: { send: async () => expect.fail("nothing is dead-lettered") },
      maxRequestBytes: 1 << 20,
      timeoutMs: 1_000,
      remainingMs: () => 3_000 - now,
      reserveMs: 0,
      sleep: async (ms) => {
        now += ms;
      },
      log: silentLogger,
      metrics,
    });
    expect(outcome.failed?.reason).toMatch(/^network-error/);
    expect(outcome.requests).toBeGreaterThan(3);
    expect(metrics.totals.get("ForwardBatchFailures")).toBe(1);
  });

  it.each([401, 403])(
    "a lasting %i is refused after the credentials are read again once: two requests, then a dead letter",
    async (status) => {
      const { outcome, letters, requests } = await deliver([record("a"), record("b")], () => status);
      expect(requests).toHaveLength(2);
      expect(outcome.failed).toBeUndefined();
      // about the credentials, not the records: the merged request is not split
      expect(letters.map((l) => [l.status, l.reason])).toEqual([
        [status, "rejected"],
        [status, "rejected"],
      ]);
    },
  );

  it.each([401, 403])(
    "with retryAuthFailures a lasting %i keeps the record in the stream instead of dead-lettering it",
    async (status) => {
      let now = 0;
      const { outcome, letters } = await deliver([record("a")], () => status, {
        remainingMs: () => 3_000 - now,
        sleep: async (ms) => {
          now += ms;
        },
        retryAuthFailures: true,
      });
      expect(outcome.failed?.reason).toBe(`status-${status}`);
      expect(letters).toEqual([]);
    },
  );

  it("a dead-letter queue that fails stops the batch at that record", async () => {
    const recs = [record("a"), poisonRecord(new Uint8Array([9, 9])), record("b")];
    dest = await startScriptedDestination(() => 204);
    const outcome = await forwardBatch(recs, {
      destination: new HttpDestination(dest.url),
      deadLetters: { send: async () => Promise.reject(new Error("queue down")) },
      maxRequestBytes: 1 << 20,
      timeoutMs: 1_000,
      remainingMs: () => 60_000,
      log: silentLogger,
      metrics: createMemoryMetrics(),
    });
    expect(outcome.failed).toEqual({ sequenceNumber: recs[1]!.sequenceNumber, reason: "dead-letter-failed" });
    expect(outcome.delivered).toBe(1);
    expect(dest.requests).toHaveLength(1);
  });

  it("after a 401 the credentials are read again once before the record is given up", async () => {
    let refreshed = 0;
    dest = await startScriptedDestination((_r, i) => (i === 0 ? 401 : 204));
    const d = new HttpDestination(dest.url, { headers: async () => ({}), refresh: () => void refreshed++ });
    const out = await forwardBatch([record("a")], {
      destination: d,
      deadLetters: { send: async () => expect.fail("nothing is dead-lettered") },
      maxRequestBytes: 1 << 20,
      timeoutMs: 1_000,
      remainingMs: () => 60_000,
      log: silentLogger,
      metrics: createMemoryMetrics(),
    });
    expect(refreshed).toBe(1);
    expect(out.delivered).toBe(1);
  });
});

describe("dead-letter messages", () => {
  it("carry the data when they fit, else a pointer", () => {
    const r = record("a");
    const small = JSON.parse(deadLetterMessage({ record: r, status: 400, reason: "rejected", detail: "x" }));
    expect(small).toEqual({
      partitionKey: r.partitionKey,
      sequenceNumber: r.sequenceNumber,
      shardId: r.shardId,
      status: 400,
      reason: "rejected",
      detail: "x",
      dataBytes: r.data.length,
      data: Buffer.from(r.data).toString("base64"),
    });
    const big = JSON.parse(
      deadLetterMessage(
        { record: r, reason: "snappy-corrupt", detail: "y" },
        { maxBytes: 100, streamArn: "arn:s" },
      ),
    );
    expect(big.data).toBeUndefined();
    expect(big.status).toBeNull();
    expect(big.pointer).toEqual({ streamArn: "arn:s", shardId: r.shardId, sequenceNumber: r.sequenceNumber });
  });
});

describe("configuration and credentials", () => {
  it.each([
    [{}, /FORWARD_URL: not set/],
    [{ FORWARD_URL: "ftp://x" }, /FORWARD_URL: expected http or https/],
    [{ FORWARD_URL: "http://u:hunter2@x" }, /credentials in the URL/],
    [{ FORWARD_URL: "http://x", FORWARD_AUTH: "magic" }, /FORWARD_AUTH: expected one of/],
    [{ FORWARD_URL: "http://x", FORWARD_AUTH: "basic" }, /FORWARD_USERNAME: required/],
    [{ FORWARD_URL: "http://x", FORWARD_AUTH: "bearer" }, /FORWARD_TOKEN: required/],
    [
      { FORWARD_URL: "http://x", FORWARD_AUTH: "header", FORWARD_HEADER_VALUE: "v" },
      /FORWARD_HEADER_NAME: required/,
    ],
    [{ FORWARD_URL: "http://x", FORWARD_AUTH: "sigv4" }, /FORWARD_REGION: required/],
  ])("%j fails naming the variable", (env, message) => {
    expect(() => loadForwarderConfig(env as Record<string, string>)).toThrow(message);
  });

  it("never echoes a credential in an error", () => {
    try {
      loadForwarderConfig({
        FORWARD_URL: "http://x",
        FORWARD_AUTH: "header",
        FORWARD_HEADER_NAME: "bad name",
        FORWARD_HEADER_VALUE: "s3cr3t",
      });
      expect.fail("should throw");
    } catch (err) {
      expect((err as Error).message).not.toContain("s3cr3t");
    }
  });

  it.each([
    [
      "basic",
      { FORWARD_USERNAME: "apikey", FORWARD_PASSWORD: "k1" },
      { authorization: `Basic ${Buffer.from("apikey:k1").toString("base64")}` },
    ],
    ["bearer", { FORWARD_TOKEN: "t1" }, { authorization: "Bearer t1" }],
    ["header", { FORWARD_HEADER_NAME: "sts-api-key", FORWARD_HEADER_VALUE: "k2" }, { "sts-api-key": "k2" }],
  ])("%s auth adds its header", async (kind, extra, headers) => {
    const config = loadForwarderConfig({ FORWARD_URL: "http://x", FORWARD_AUTH: kind, ...extra });
    const secret = config.auth.password ?? config.auth.token ?? config.auth.headerValue!;
    const auth = credentialAuthorizer(config.auth, staticCredential({ secret }));
    expect(await auth.headers({ url: new URL("http://x"), headers: {}, body: new Uint8Array() })).toEqual(
      headers,
    );
  });

  it.each([
    ["k3", { secret: "k3" }],
    ['{"password":"p","username":"u"}', { secret: "p", username: "u" }],
    ['{"token":"t"}', { secret: "t" }],
    ['{"key":"k"}', { secret: "k" }],
  ])("reads the secret %s", (text, want) => {
    expect(parseCredential(text)).toEqual(want);
  });

  it("reads the secret from Secrets Manager once per cache period, again after refresh", async () => {
    const reads: { secretId: string; stage: string | undefined }[] = [];
    const reader = {
      secretString: async (secretId: string, stage?: string) => {
        reads.push({ secretId, stage });
        return '{"password":"p1"}';
      },
    };
    let now = 0;
    const source = new SecretCredentialSource(reader, "arn:secret", 60, silentLogger, () => now);
    expect(await source.value()).toEqual({ secret: "p1" });
    now = 30_000;
    await source.value();
    expect(reads).toEqual([{ secretId: "arn:secret", stage: undefined }]);
    source.refresh();
    await source.value();
    expect(reads).toHaveLength(2);
  });

  it.each([
    ["3", 3000],
    ["", undefined],
    ["soon", undefined],
  ])("Retry-After %j", (value, ms) => {
    expect(parseRetryAfter(value)).toBe(ms);
  });
});
