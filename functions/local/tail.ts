import { parseArgs } from "node:util";
import { createKinesisClient } from "../../lib/aws/kinesis-client";
import { ENV } from "../../lib/core/env-names";
import { readRecord } from "../../lib/stream/consumer";
import { readLocalState } from "./state";
import { readStream } from "./stream";

/**
 * `npm run tail`: prints the samples that reached the stream, one per line.
 *   human:  <time> <metric>{labels} <value>   [tenant, shard]
 *   --json: {"tenant","shard","labels","timestamp","value","bits"} per line
 * Reads the stream of a running `npm start` (its embedded Kinesis), or KINESIS_ENDPOINT /
 * KINESIS_STREAM_NAME / AWS configuration from the environment. A record it cannot decode
 * is reported on stderr with its partition key, and the reading goes on.
 */
// The SDK warns that its 2027 releases will need Node 22; the local tools run on Node 20 too.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const { values } = parseArgs({
  options: {
    json: { type: "boolean", default: false },
    follow: { type: "boolean", short: "f", default: true },
    "no-follow": { type: "boolean", default: false },
    latest: { type: "boolean", default: false },
    stream: { type: "string" },
    endpoint: { type: "string" },
  },
});

const state = readLocalState();
const endpoint = values.endpoint ?? process.env[ENV.kinesisEndpoint] ?? state?.kinesisEndpoint;
const streamName =
  values.stream ?? process.env[ENV.streamName] ?? state?.streamName ?? "prometheus-remote-write";
const region = process.env[ENV.awsRegion] ?? state?.region ?? "us-east-1";
if (endpoint === undefined && !process.env.AWS_ACCESS_KEY_ID && !process.env.AWS_PROFILE) {
  console.error(
    "tail: no running local gateway found (start one with `npm start`), and no KINESIS_ENDPOINT or AWS configuration",
  );
  process.exit(2);
}
const client = createKinesisClient({ region, endpoint });
const controller = new AbortController();
process.on("SIGINT", () => controller.abort());
if (!values.json)
  console.error(`tail: reading ${streamName}${endpoint ? ` at ${endpoint}` : ""} (Ctrl-C to stop)`);

const formatLabels = (labels: Record<string, string>) => {
  const { __name__: name = "", ...rest } = labels;
  const inner = Object.entries(rest)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(",");
  return `${name}{${inner}}`;
};

for await (const { shardId, record } of readStream(client, streamName, {
  follow: values.follow && !values["no-follow"],
  latest: values.latest,
  signal: controller.signal,
})) {
  const read = readRecord(record.Data!, record.PartitionKey!);
  if (!read.ok) {
    // reported, and the reading goes on: one bad record must not stop a consumer
    console.error(`tail: ${read.error.message} [shard ${shardId}, sequence ${record.SequenceNumber}]`);
    continue;
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
client.destroy();
