import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { PutRecordsCommand } from "@aws-sdk/client-kinesis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedKinesis, startEmbeddedKinesis } from "../../functions/local/embedded-kinesis";
import { waitFor } from "../../functions/local/ports";
import { PROJECT_ROOT } from "../../infra/paths";
import { sealRecord } from "../../lib/stream/records";
import { ShardMap } from "../../lib/stream/shard-map";
import { v1Message } from "../fixtures/remote-write";
import { remoteReadAll, seriesKey } from "../support/forwarder-remote-read";
import {
  makeTempDir,
  prometheusAvailable,
  type RunningPrometheus,
  startPrometheus,
} from "../support/prometheus";

/** `npm run forward -- --to URL` as a user runs it, against a stream named by the environment. */
const run = prometheusAvailable();
const TSX = join(PROJECT_ROOT, "node_modules", ".bin", "tsx");
const TOOL = join(PROJECT_ROOT, "functions", "local", "forward.ts");

function tool(args: string[], env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const child = spawn(TSX, [TOOL, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
  return { child, output: () => output };
}

describe.skipIf(!run)("npm run forward", () => {
  let kinesis: EmbeddedKinesis;
  let receiver: RunningPrometheus;
  let dir: string;

  beforeAll(async () => {
    dir = await makeTempDir("forwarder-cli-");
    kinesis = await startEmbeddedKinesis();
    await kinesis.createStream("cli-stream", 2);
    receiver = await startPrometheus({
      configYaml: "global:\n  scrape_interval: 1h\n",
      extraFlags: ["--web.enable-remote-write-receiver"],
    });
  }, 120_000);

  afterAll(async () => {
    await receiver?.stop();
    await kinesis?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("forwards every shard of the stream until interrupted", async () => {
    const now = Date.now();
    const records = [0, 1].map((bucket) =>
      sealRecord(
        v1Message([
          {
            labels: [["__name__", `cli_forwarded_${bucket}`]],
            samples: [{ value: bucket + 0.5, timestamp: now }],
          },
        ]),
        "v1",
        undefined,
        bucket,
        ShardMap.uniform(2),
      ),
    );
    await kinesis.client.send(
      new PutRecordsCommand({
        StreamName: "cli-stream",
        Records: records.map((r) => ({
          Data: r.data,
          PartitionKey: r.partitionKey,
          ExplicitHashKey: r.explicitHashKey,
        })),
      }),
    );
    const t = tool(["--to", `${receiver.url}/api/v1/write`], {
      KINESIS_ENDPOINT: kinesis.endpoint,
      KINESIS_STREAM_NAME: "cli-stream",
      FORWARD_DEAD_LETTER_FILE: join(dir, "dead.jsonl"),
      LOG_LEVEL: "error",
    });
    try {
      await waitFor(
        "both series in the receiver",
        async () => (await remoteReadAll(receiver.url, [["__name__", "cli_forwarded_.*"]])).size === 2,
        60_000,
        500,
      );
      const got = await remoteReadAll(receiver.url, [["__name__", "cli_forwarded_.*"]]);
      expect([...got.get(seriesKey({ __name__: "cli_forwarded_1" }))!.entries()]).toEqual([
        [String(now), "3ff8000000000000"],
      ]);
      expect(t.output()).toContain(
        `forward: cli-stream at ${kinesis.endpoint} → ${receiver.url}/api/v1/write`,
      );
    } finally {
      const exited = once(t.child, "exit");
      t.child.kill("SIGINT");
      const [code] = (await exited) as [number | null];
      expect(code).toBe(0);
    }
  }, 120_000);

  it("without a destination says how to give one, and exits 2", async () => {
    const t = tool([], { KINESIS_ENDPOINT: kinesis.endpoint, FORWARD_URL: "" });
    const [code] = (await once(t.child, "exit")) as [number | null];
    expect(code).toBe(2);
    expect(t.output()).toContain("--to http://host:9090/api/v1/write");
  }, 60_000);
});
