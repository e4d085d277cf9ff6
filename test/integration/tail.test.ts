import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { PutRecordsCommand } from "@aws-sdk/client-kinesis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedKinesis, startEmbeddedKinesis } from "../../functions/local/embedded-kinesis";
import { Ingestor } from "../../lib/ingest/ingest";
import { sealRecord } from "../../lib/stream/records";
import { ShardMap } from "../../lib/stream/shard-map";
import { ingestSettings, realisticSeries, snappy, v1Message } from "../fixtures/remote-write";

/**
 * `npm run tail` over a real (embedded) Kinesis holding a record no decoder can read
 * between two good ones: it reports the bad record with its partition key on stderr and
 * prints every sample of the good ones.
 */
let kinesis: EmbeddedKinesis;
const STREAM = "tail-poison";

beforeAll(async () => {
  kinesis = await startEmbeddedKinesis();
  await kinesis.createStream(STREAM, 1);
}, 90_000);

afterAll(async () => {
  await kinesis?.stop();
});

describe("tail", () => {
  it("reports an undecodable record with its partition key and goes on", async () => {
    const ingestor = new Ingestor(ingestSettings({ streamShards: 1 }));
    const first = ingestor.prepare(snappy(v1Message(realisticSeries(2, 2))), "v1", undefined).records[0]!;
    const last = ingestor.prepare(
      snappy(v1Message(realisticSeries(3, 1, 4, 1_700_000_100_000))),
      "v1",
      undefined,
    ).records[0]!;
    // a series whose histogram holds a bucket span cut short
    const poison = sealRecord(
      Uint8Array.from([0x0a, 0x0a, 0x22, 0x08, 0x5a, 0x06, 0x08, 0x02, 0x10, 0xff, 0xff, 0xff]),
      "v1",
      undefined,
      0,
      ShardMap.uniform(1),
    );
    await kinesis.client.send(
      new PutRecordsCommand({
        StreamName: STREAM,
        Records: [first, poison, last].map((r) => ({ Data: r.data, PartitionKey: r.partitionKey })),
      }),
    );
    const { stdout, stderr } = await promisify(execFile)(
      join("node_modules", ".bin", "tsx"),
      [
        "functions/local/tail.ts",
        "--json",
        "--no-follow",
        "--endpoint",
        kinesis.endpoint,
        "--stream",
        STREAM,
      ],
      { env: { ...process.env, AWS_REGION: "us-east-1" }, timeout: 60_000 },
    );
    const lines = stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { timestamp: number });
    expect(lines).toHaveLength(2 * 2 + 3 * 1);
    expect(stderr).toContain("undecodable record");
    expect(stderr).toContain(poison.partitionKey);
    expect(stderr).not.toContain(first.partitionKey);
  }, 90_000);
});
