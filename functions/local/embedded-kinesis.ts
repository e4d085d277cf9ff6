import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  type KinesisClient,
  ListStreamsCommand,
} from "@aws-sdk/client-kinesis";
import { createKinesisClient } from "../../lib/aws/kinesis-client";
import { freePort, waitFor } from "./ports";

export interface EmbeddedKinesis {
  readonly endpoint: string;
  readonly region: string;
  readonly client: KinesisClient;
  createStream(name: string, shards?: number): Promise<void>;
  stop(): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Starts kinesis-local (a Kinesis API implementation that runs on Node) in a child
 * process on 127.0.0.1. It ignores SIGTERM, so stop() kills it.
 */
export async function startEmbeddedKinesis(
  opts: { region?: string; quiet?: boolean } = {},
): Promise<EmbeddedKinesis> {
  // a free port can be taken by another process before kinesis-local binds it: it then
  // exits at once, and is started again on other ports
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(opts);
    } catch (err) {
      if (!(err instanceof ExitedAtStart) || attempt === 3) throw err;
    }
  }
}

/** kinesis-local ended before it answered (e.g. its port was taken meanwhile). */
class ExitedAtStart extends Error {}

async function launch(opts: { region?: string; quiet?: boolean }): Promise<EmbeddedKinesis> {
  const region = opts.region ?? "us-east-1";
  const require = createRequire(import.meta.url);
  const main = require.resolve("kinesis-local");
  const [plain, tls] = [await freePort(), await freePort()];
  const child: ChildProcess = spawn(process.execPath, ["--require", join(here, "loopback-only.cjs"), main], {
    env: {
      ...process.env,
      KINESIS_MOCK_CERT_PATH: join(dirname(main), "server.json"),
      KINESIS_MOCK_PLAIN_PORT: String(plain),
      KINESIS_MOCK_TLS_PORT: String(tls),
      AWS_REGION: region,
      LOG_LEVEL: "WARN",
      ROOT_LOG_LEVEL: "ERROR",
      CREATE_STREAM_DURATION: "100ms",
      SHARD_LIMIT: "1000",
    },
    stdio: ["ignore", opts.quiet === false ? "inherit" : "ignore", "inherit"],
  });
  let exited = false;
  child.on("exit", () => {
    exited = true;
  });
  const endpoint = `http://127.0.0.1:${plain}`;
  const client = createKinesisClient({ region, endpoint });
  const stop = async () => {
    client.destroy();
    if (exited) return;
    await new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.kill("SIGKILL");
    });
  };
  try {
    await waitFor(
      "the embedded Kinesis to answer",
      async () => {
        if (exited) throw new ExitedAtStart("kinesis-local exited during start-up");
        await client.send(new ListStreamsCommand({}));
        return true;
      },
      60_000,
      200,
      () => exited,
    );
  } catch (err) {
    await stop();
    throw exited ? new ExitedAtStart("kinesis-local exited during start-up") : err;
  }
  return {
    endpoint,
    region,
    client,
    stop,
    async createStream(name, shards = 4) {
      await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
      await waitFor(
        `stream ${name} to become ACTIVE`,
        async () => {
          const out = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
          return out.StreamDescriptionSummary?.StreamStatus === "ACTIVE";
        },
        30_000,
      );
    },
  };
}
