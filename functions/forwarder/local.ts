import { createKinesisClient } from "../../lib/aws/kinesis-client";
import { type Poller, startPoller } from "../../lib/aws/kinesis-poller";
import { KinesisRecordsClient } from "../../lib/aws/kinesis-records";
import { type Env, intVar } from "../../lib/core/config";
import { ENV, FORWARD_ENV } from "../../lib/core/env-names";
import { createMemoryMetrics, type Metrics } from "../../lib/core/metrics";
import { forwarderFromEnv } from "./wiring";

export const DEFAULT_DEAD_LETTER_FILE = ".local/dead-letters.jsonl";

export interface LocalForwarder extends Poller {
  readonly url: string;
  readonly deadLetterFile: string | undefined;
}

/**
 * The forwarder as a local process: polls every shard of the stream and forwards to
 * FORWARD_URL with the FORWARD_* settings. Dead letters go to a JSON-lines file
 * (FORWARD_DEAD_LETTER_FILE, default .local/dead-letters.jsonl) and the log.
 */
export async function startLocalForwarder(
  env: Env,
  stream: { streamName: string; endpoint: string | undefined; region: string },
  opts: { start?: "TRIM_HORIZON" | "LATEST"; batchSize?: number; metrics?: Metrics } = {},
): Promise<LocalForwarder> {
  const withDefaults: Env = { ...env };
  if (withDefaults[FORWARD_ENV.deadLetterQueueUrl] === undefined) {
    withDefaults[FORWARD_ENV.deadLetterFile] ??= DEFAULT_DEAD_LETTER_FILE;
  }
  const region = stream.region ?? env[ENV.awsRegion] ?? "us-east-1";
  // the shards' slots are listed where the records are read
  const lister = KinesisRecordsClient.create({ region, endpoint: stream.endpoint, env });
  // Locally the counts are in `stats` (and the local server's /metrics); no EMF lines on stdout.
  const parts = forwarderFromEnv(withDefaults, opts.metrics ?? createMemoryMetrics(), undefined, lister);
  const file = parts.config.deadLetterFile;
  if (file !== undefined) {
    const { mkdirSync } = await import("node:fs");
    const { dirname } = await import("node:path");
    mkdirSync(dirname(file), { recursive: true });
  }
  const client = createKinesisClient({ region, endpoint: stream.endpoint });
  const poller = await startPoller({
    client,
    streamName: stream.streamName,
    start: opts.start,
    batchSize: opts.batchSize ?? intVar(env, FORWARD_ENV.batchSize, 500, 1, 10_000),
    batchBudgetMs: intVar(env, FORWARD_ENV.batchBudgetMs, 30_000, 1_000, 900_000),
    forward: parts.forward,
  });
  return {
    url: parts.config.url,
    deadLetterFile: file,
    stats: poller.stats,
    async stop() {
      await poller.stop();
      parts.metrics.flush();
      client.destroy();
      lister.destroy();
    },
  };
}
