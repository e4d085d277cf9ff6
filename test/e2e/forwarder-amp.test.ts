import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedKinesis, startEmbeddedKinesis } from "../../functions/local/embedded-kinesis";
import { type LocalGateway, startLocalGateway } from "../../functions/local/gateway";
import { waitFor } from "../../functions/local/ports";
import { compress } from "../../lib/codec/snappy";
import { STALE_NAN, v1Message } from "../fixtures/remote-write";
import { remoteReadAll, seriesKey } from "../support/forwarder-remote-read";
import {
  makeTempDir,
  prometheusAvailable,
  type RunningPrometheus,
  startPrometheus,
} from "../support/prometheus";
import { type SigV4StandIn, startSigV4StandIn } from "../support/sigv4-standin";
import { type StrictKinesis, startStrictKinesis } from "../support/strict-kinesis";

/**
 * Forwarding to Amazon Managed Service for Prometheus: the forwarder signs with SigV4
 * (service aps) using credentials from the default provider chain, here the environment
 * variables a Lambda role provides. The stand-in recomputes every signature with the AWS
 * signing library and forwards what it accepts to a real Prometheus. The gateway writes to
 * kinesis-local through a front that refuses what AWS refuses (test/support/strict-kinesis.ts).
 */
const run = prometheusAvailable();
const KEY = "amp-e2e-key";
const CREDS = {
  accessKeyId: "AKIAFORWARDERTEST01",
  secretAccessKey: "forwarder/secret/key/for/the/stand-in",
  sessionToken: "session-token-of-the-function-role",
};

describe.skipIf(!run)("forwarding to Amazon Managed Prometheus (SigV4)", () => {
  let receiver: RunningPrometheus;
  let standIn: SigV4StandIn;
  let kinesis: EmbeddedKinesis;
  let strict: StrictKinesis;
  let gateway: LocalGateway;
  let dir: string;
  const saved = { ...process.env };

  beforeAll(async () => {
    dir = await makeTempDir("forwarder-amp-");
    receiver = await startPrometheus({
      configYaml: "global:\n  scrape_interval: 1h\n",
      extraFlags: ["--web.enable-remote-write-receiver"],
    });
    standIn = await startSigV4StandIn({ target: receiver.url, region: "eu-west-1", credentials: [CREDS] });
    kinesis = await startEmbeddedKinesis();
    strict = await startStrictKinesis({ target: kinesis.endpoint, region: kinesis.region });
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: CREDS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDS.secretAccessKey,
      AWS_SESSION_TOKEN: CREDS.sessionToken,
    });
    gateway = await startLocalGateway({
      port: 0,
      apiKey: KEY,
      shards: 2,
      env: {
        KINESIS_ENDPOINT: strict.endpoint,
        KINESIS_STREAM_NAME: "forwarder-amp",
        LOG_LEVEL: "error",
        FORWARD_URL: `${standIn.workspaceUrl()}api/v1/remote_write`,
        FORWARD_AUTH: "sigv4",
        FORWARD_REGION: "eu-west-1",
        FORWARD_DEAD_LETTER_FILE: join(dir, "dead-letters.jsonl"),
      },
    });
  }, 120_000);

  afterAll(async () => {
    process.env = saved;
    await gateway?.stop();
    await strict?.stop();
    await kinesis?.stop();
    await standIn?.close();
    await receiver?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("every sample written to the gateway arrives through the signature check", async () => {
    const now = Date.now();
    const series = Array.from({ length: 40 }, (_, i) => ({
      labels: [
        ["__name__", "amp_forwarded"],
        ["i", String(i)],
      ] as [string, string][],
      samples: [
        { value: i + 0.25, timestamp: now - 2_000 },
        { value: i === 7 ? STALE_NAN : -i - 0.5, timestamp: now - 1_000 },
      ],
    }));
    const res = await fetch(`${gateway.url}/api/v1/write`, {
      method: "POST",
      headers: {
        "content-type": "application/x-protobuf",
        "content-encoding": "snappy",
        "x-prometheus-remote-write-version": "0.1.0",
        "sts-api-key": KEY,
      },
      body: compress(v1Message(series)),
    });
    expect(res.status).toBe(204);

    await waitFor(
      "40 series in the Prometheus behind the stand-in",
      async () => (await remoteReadAll(receiver.url, [["__name__", "amp_forwarded"]])).size === 40,
      60_000,
      500,
    );
    const got = await remoteReadAll(receiver.url, [["__name__", "amp_forwarded"]]);
    const bits = (v: number) => {
      const b = Buffer.alloc(8);
      b.writeDoubleLE(v);
      return b.readBigUInt64LE().toString(16).padStart(16, "0");
    };
    for (let i = 0; i < 40; i++) {
      const samples = got.get(seriesKey({ __name__: "amp_forwarded", i: String(i) }));
      expect([...samples!.entries()]).toEqual([
        [String(now - 2_000), bits(i + 0.25)],
        [String(now - 1_000), i === 7 ? "7ff0000000000002" : bits(-i - 0.5)],
      ]);
    }
    const writes = standIn.requests.filter((r) => r.url.endsWith("/api/v1/remote_write"));
    expect(writes.length).toBeGreaterThan(0);
    expect(
      writes.every((r) => r.status === 204 && r.refused === undefined && r.accessKeyId === CREDS.accessKeyId),
    ).toBe(true);
    expect(gateway.forwarder!.stats.deadLettered).toBe(0);
    expect(strict.stats.inspected).toBeGreaterThan(0);
    expect(strict.stats.refusals).toEqual([]);
  });
});
