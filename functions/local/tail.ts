import { setTimeout as sleep } from "node:timers/promises";
import { createKinesisClient } from "../../lib/aws/kinesis-client";
import { ENV } from "../../lib/core/env-names";
import { readRecord } from "../../lib/stream/consumer";
import { exitQuietlyOnEpipe, parseCli } from "./cli";
import { localGatewayState } from "./state";
import { readStream } from "./stream";

/**
 * `npm run tail`: prints the samples that reached the stream, one per line.
 *   human:  <time> <metric>{labels} <value>   [tenant, shard]
 *   --json: {"tenant","shard","labels","timestamp","value","bits"} per line
 * Reads the stream of a running `npm start` (its embedded Kinesis), or KINESIS_ENDPOINT /
 * KINESIS_STREAM_NAME / AWS configuration from the environment. A record it cannot decode
 * is reported on stderr with its partition key, and the reading goes on. A Kinesis API it
 * cannot reach is one line on stderr: exit 1, or with follow, a wait and a retry.
 */
// The SDK warns that its 2027 releases will need Node 22; the local tools run on Node 20 too.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const values = parseCli({
  tool: "tail",
  synopsis: "npm run --silent tail -- [options]",
  description: [
    "Prints the samples that reach the stream, one line each: `<time> <metric>{labels} <value>  [tenant]`,",
    'or with --json one JSON object a line: {"tenant","shard","labels","timestamp","value","bits"}.',
    "Reads the stream of a running `npm start`, or KINESIS_ENDPOINT / KINESIS_STREAM_NAME / the AWS",
    "configuration in the environment. Progress and errors go to stderr; `npm run --silent` keeps",
    "npm's own banner off stdout, so the output can be piped.",
  ].join("\n"),
  options: {
    json: { type: "boolean", default: false, help: "print JSON lines instead of text" },
    follow: { type: "boolean", short: "f", default: true, help: "keep reading as records arrive" },
    "no-follow": {
      type: "boolean",
      default: false,
      help: "stop at the end of every shard (exit 1 if the API cannot be reached)",
    },
    latest: {
      type: "boolean",
      default: false,
      help: "only records written from now on, not the stream's oldest",
    },
    stream: { type: "string", value: "NAME", help: "the stream to read" },
    endpoint: { type: "string", value: "URL", help: "the Kinesis API to read from" },
  },
  defaults: {
    stream: "KINESIS_STREAM_NAME, else the running gateway's, else prometheus-remote-write",
    endpoint: "KINESIS_ENDPOINT, else the running gateway's embedded Kinesis, else AWS",
  },
  examples: [
    "npm run tail",
    "npm run --silent tail -- --json --no-follow | jq -r .labels.__name__ | sort | uniq -c",
    "npm run tail -- --latest --endpoint http://127.0.0.1:4567 --stream my-stream",
  ],
});
exitQuietlyOnEpipe();

const follow = values.follow && !values["no-follow"];
const region = process.env[ENV.awsRegion] ?? localGatewayState()?.region ?? "us-east-1";
const awsConfigured = Boolean(process.env.AWS_ACCESS_KEY_ID || process.env.AWS_PROFILE);

/** Where to read, looked up again on every attempt: a restarted `npm start` may move. */
function target(): { endpoint: string | undefined; streamName: string } {
  const state = localGatewayState();
  return {
    endpoint: values.endpoint ?? process.env[ENV.kinesisEndpoint] ?? state?.kinesisEndpoint,
    streamName:
      values.stream ?? process.env[ENV.streamName] ?? state?.streamName ?? "prometheus-remote-write",
  };
}

/** Why a request never reached the Kinesis API, or undefined when it did. */
function unreachable(err: unknown): string | undefined {
  const reasons: Record<string, string> = {
    ECONNREFUSED: "connection refused",
    ECONNRESET: "connection reset",
    EPIPE: "connection closed",
    ENOTFOUND: "host not found",
    EAI_AGAIN: "host not found",
    EHOSTUNREACH: "host unreachable",
    ENETUNREACH: "network unreachable",
    ETIMEDOUT: "timed out",
  };
  const seen: unknown[] = [err];
  for (let i = 0; i < seen.length && i < 16; i++) {
    const e = seen[i] as { code?: string; name?: string; cause?: unknown; errors?: unknown[] } | null;
    if (e === null || typeof e !== "object") continue;
    if (e.code && reasons[e.code]) return reasons[e.code];
    if (e.name === "TimeoutError") return "timed out";
    if (e.cause) seen.push(e.cause);
    if (Array.isArray(e.errors)) seen.push(...e.errors);
  }
  return undefined;
}

const formatLabels = (labels: Record<string, string>) => {
  const { __name__: name = "", ...rest } = labels;
  const inner = Object.entries(rest)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(",");
  return `${name}{${inner}}`;
};

function print(shardId: string, data: Uint8Array, partitionKey: string, sequence: string | undefined): void {
  const read = readRecord(data, partitionKey);
  if (!read.ok) {
    // reported, and the reading goes on: one bad record must not stop a consumer
    console.error(`tail: ${read.error.message} [shard ${shardId}, sequence ${sequence}]`);
    return;
  }
  const decoded = read.record;
  const tenant = decoded.key.tenant ?? "";
  for (const series of decoded.series) {
    for (const s of series.samples) {
      if (values.json) {
        console.log(
          JSON.stringify({
            tenant,
            shard: shardId,
            labels: series.labels,
            timestamp: Number(s.timestamp),
            value: String(s.value),
            bits: s.bits,
          }),
        );
      } else {
        const stale = s.bits === "7ff0000000000002" ? " (stale)" : "";
        const time = new Date(Number(s.timestamp)).toISOString();
        console.log(
          `${time} ${formatLabels(series.labels)} ${s.value}${stale}${tenant ? `  [${tenant}]` : ""}`,
        );
      }
    }
    for (const h of series.histograms) {
      const line = { tenant, shard: shardId, labels: series.labels, histogram: h };
      console.log(
        values.json ? JSON.stringify(line) : `${formatLabels(series.labels)} histogram ${JSON.stringify(h)}`,
      );
    }
  }
}

const controller = new AbortController();
process.on("SIGINT", () => controller.abort());
const WAIT_MIN_MS = 250;
const WAIT_MAX_MS = 5_000;
let wait = WAIT_MIN_MS;
let waiting = false;

while (!controller.signal.aborted) {
  const { endpoint, streamName } = target();
  const where = endpoint ?? "AWS";
  const hint =
    endpoint === undefined || /\/\/(127\.0\.0\.1|localhost)[:/]/.test(endpoint)
      ? "; is npm start running?"
      : "";
  if (endpoint === undefined && !awsConfigured) {
    const message =
      "tail: no running local gateway found (start one with `npm start`), and no KINESIS_ENDPOINT or AWS configuration";
    if (!follow) {
      console.error(message);
      process.exit(1);
    }
    if (!waiting) console.error(`${message}; waiting for one (Ctrl-C to stop)`);
    waiting = true;
  } else {
    const client = createKinesisClient({ region, endpoint });
    try {
      for await (const { shardId, record } of readStream(client, streamName, {
        follow,
        latest: values.latest,
        signal: controller.signal,
        onReady: () => {
          if (waiting) console.error(`tail: reading ${streamName} at ${where} again`);
          else if (!values.json) console.error(`tail: reading ${streamName} at ${where} (Ctrl-C to stop)`);
          waiting = false;
          wait = WAIT_MIN_MS;
        },
      })) {
        print(shardId, record.Data!, record.PartitionKey!, record.SequenceNumber);
      }
      break;
    } catch (err) {
      if (controller.signal.aborted) break;
      const why = unreachable(err);
      if (why === undefined) {
        const e = err as Error;
        console.error(
          `tail: ${e.name && e.name !== "Error" ? `${e.name}: ` : ""}${e.message} (stream ${streamName} at ${where})`,
        );
        process.exit(1);
      }
      const message = `tail: cannot reach the Kinesis API at ${where} (${why})${hint}`;
      if (!follow) {
        console.error(message);
        process.exit(1);
      }
      if (!waiting) console.error(`${message} Waiting for it (Ctrl-C to stop)`);
      waiting = true;
    } finally {
      client.destroy();
    }
  }
  await sleep(wait, undefined, { signal: controller.signal }).catch(() => undefined);
  wait = Math.min(wait * 2, WAIT_MAX_MS);
}
