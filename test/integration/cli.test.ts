import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { join } from "node:path";
import { PutRecordsCommand } from "@aws-sdk/client-kinesis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedKinesis, startEmbeddedKinesis } from "../../functions/local/embedded-kinesis";
import { PROJECT_ROOT } from "../../infra/paths";
import { Ingestor } from "../../lib/ingest/ingest";
import { ingestSettings, realisticSeries, snappy, v1Message } from "../fixtures/remote-write";

/** The local tools as a shell runs them: help, usage errors, closed pipes, no gateway. */
const TSX = join(PROJECT_ROOT, "node_modules", ".bin", "tsx");
const tool = (name: string) => join(PROJECT_ROOT, "functions", "local", `${name}.ts`);

async function run(name: string, args: string[], opts: { closeAfterLine?: boolean } = {}) {
  const child = spawn(TSX, [tool(name), ...args], {
    env: { ...process.env, AWS_REGION: "us-east-1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => {
    stdout += c.toString();
    // a reader like `head -1`: gone after its first line
    if (opts.closeAfterLine && stdout.includes("\n")) child.stdout.destroy();
  });
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, stdout, stderr };
}

/** A port where nothing listens: bound, read, then closed. */
async function deadPort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, "close");
  return port;
}

const stackLine = /^\s+at /m;

describe.each(["tail", "forward"])("%s", (name) => {
  it.each(["--help", "-h"])(
    "%s prints the usage on stdout and exits 0",
    async (flag) => {
      const { code, stdout, stderr } = await run(name, [flag]);
      expect(code).toBe(0);
      expect(stdout).toMatch(/^usage: /);
      expect(stdout).toContain("--endpoint URL");
      expect(stdout).toContain("examples:");
      expect(stderr).toBe("");
    },
    30_000,
  );

  it.each([
    [["--x"], `${name}: unknown option --x (see --help)`],
    [["--stream"], `${name}: option --stream needs a value (see --help)`],
    [["stray"], `${name}: unexpected argument stray (see --help)`],
  ])(
    "%j is one line on stderr and exit 2",
    async (args, line) => {
      const { code, stdout, stderr } = await run(name, args);
      expect(code).toBe(2);
      expect(stdout).toBe("");
      expect(stderr).toBe(`${line}\n`);
      expect(stderr).not.toMatch(stackLine);
    },
    30_000,
  );
});

describe("start", () => {
  it("--help prints the usage on stdout and exits 0, without starting anything", async () => {
    const { code, stdout, stderr } = await run("server", ["--help"]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^usage: npm start/);
    expect(stdout).toContain("--port PORT");
    expect(stdout).toContain("examples:");
    expect(stderr).toBe("");
  }, 30_000);

  it.each([
    [["--x"], "start: unknown option --x (see --help)"],
    [["--port", "http"], "start: --port http: expected a port number 1 to 65535 (see --help)"],
  ])(
    "%j is one line on stderr and exit 2",
    async (args, line) => {
      const { code, stdout, stderr } = await run("server", args);
      expect(code).toBe(2);
      expect(stdout).toBe("");
      expect(stderr).toBe(`${line}\n`);
    },
    30_000,
  );
});

describe("tail against a Kinesis API", () => {
  let kinesis: EmbeddedKinesis;
  const STREAM = "cli-pipe";

  beforeAll(async () => {
    kinesis = await startEmbeddedKinesis();
    await kinesis.createStream(STREAM, 1);
    const ingestor = new Ingestor(ingestSettings({ streamShards: 1 }));
    // enough samples that stdout is still being written when the reader goes away
    const records = ingestor.prepare(snappy(v1Message(realisticSeries(200, 20))), "v1", undefined).records;
    await kinesis.client.send(
      new PutRecordsCommand({
        StreamName: STREAM,
        Records: records.map((r) => ({ Data: r.data, PartitionKey: r.partitionKey })),
      }),
    );
  }, 90_000);

  afterAll(async () => {
    await kinesis?.stop();
  });

  it("ends quietly with exit 0 when its reader closes the pipe", async () => {
    const { code, stdout, stderr } = await run(
      "tail",
      ["--json", "--no-follow", "--endpoint", kinesis.endpoint, "--stream", STREAM],
      { closeAfterLine: true },
    );
    expect(JSON.parse(stdout.split("\n")[0]!)).toHaveProperty("labels");
    expect(stderr).toBe("");
    expect(code).toBe(0);
  }, 60_000);

  it("reports an endpoint where nothing listens in one line, and exits 1 without follow", async () => {
    const endpoint = `http://127.0.0.1:${await deadPort()}`;
    const { code, stdout, stderr } = await run("tail", ["--no-follow", "--endpoint", endpoint]);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toBe(
      `tail: cannot reach the Kinesis API at ${endpoint} (connection refused); is npm start running?\n`,
    );
  }, 30_000);
});
