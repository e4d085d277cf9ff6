import { ENV, FORWARD_ENV } from "../../lib/core/env-names";
import { startLocalForwarder } from "../forwarder/local";
import { exitQuietlyOnEpipe, parseCli, usageError } from "./cli";
import { localGatewayState } from "./state";

/**
 * `npm run forward -- --to URL`: forwards a stream to a remote_write endpoint, shard by
 * shard, with the same delivery, retry and dead-letter rules as the Lambda forwarder.
 * Reads the stream of a running `npm start` (its embedded Kinesis), or KINESIS_ENDPOINT /
 * KINESIS_STREAM_NAME / AWS configuration. Authentication: FORWARD_AUTH and friends.
 * Dead letters: FORWARD_DEAD_LETTER_FILE (default .local/dead-letters.jsonl).
 */
// The SDK warns that its 2027 releases will need Node 22; the local tools run on Node 20 too.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const values = parseCli({
  tool: "forward",
  synopsis: "npm run forward -- --to URL [options]",
  description: [
    "Forwards a stream to a remote_write endpoint, shard by shard, with the delivery, retry and",
    "dead-letter rules of the Lambda forwarder (docs/forwarder.md). Reads the stream of a running",
    "`npm start`, or KINESIS_ENDPOINT / KINESIS_STREAM_NAME / the AWS configuration in the environment.",
    "Authentication: FORWARD_AUTH and friends; dead letters: FORWARD_DEAD_LETTER_FILE",
    "(default .local/dead-letters.jsonl). Progress goes to stderr every 10 s; Ctrl-C stops it.",
  ].join("\n"),
  options: {
    to: { type: "string", value: "URL", help: "the destination's remote_write URL" },
    stream: { type: "string", value: "NAME", help: "the stream to forward" },
    endpoint: { type: "string", value: "URL", help: "the Kinesis API to read from" },
    latest: {
      type: "boolean",
      default: false,
      help: "only records written from now on, not the stream's oldest",
    },
  },
  defaults: {
    to: "FORWARD_URL",
    stream: "KINESIS_STREAM_NAME, else the running gateway's, else prometheus-remote-write",
    endpoint: "KINESIS_ENDPOINT, else the running gateway's embedded Kinesis, else AWS",
  },
  examples: [
    "npm run forward -- --to http://127.0.0.1:9091/api/v1/write",
    "npm run forward -- --to URL --latest",
    "KINESIS_ENDPOINT=http://127.0.0.1:4567 npm run forward -- --to URL --stream my-stream",
  ],
});
exitQuietlyOnEpipe();

const state = localGatewayState();
const endpoint = values.endpoint ?? process.env[ENV.kinesisEndpoint] ?? state?.kinesisEndpoint;
const streamName =
  values.stream ?? process.env[ENV.streamName] ?? state?.streamName ?? "prometheus-remote-write";
const region = process.env[ENV.awsRegion] ?? state?.region ?? "us-east-1";
const url = values.to ?? (process.env[FORWARD_ENV.url] || undefined);
if (url === undefined)
  usageError("forward", "say where to: --to http://host:9090/api/v1/write (or FORWARD_URL)");
if (!URL.canParse(url)) usageError("forward", `--to is not a URL: ${url.slice(0, 200)}`);
if (endpoint === undefined && !process.env.AWS_ACCESS_KEY_ID && !process.env.AWS_PROFILE) {
  console.error(
    "forward: no running local gateway found (start one with `npm start`), and no KINESIS_ENDPOINT or AWS configuration",
  );
  process.exit(2);
}

const forwarder = await startLocalForwarder(
  { ...process.env, [FORWARD_ENV.url]: url },
  { streamName, endpoint, region },
  { start: values.latest ? "LATEST" : "TRIM_HORIZON" },
).catch((err: Error) => {
  console.error(`forward: ${err.message}`);
  process.exit(2);
});
console.error(
  `forward: ${streamName}${endpoint ? ` at ${endpoint}` : ""} → ${new URL(url).origin}${new URL(url).pathname}` +
    `${forwarder.deadLetterFile ? ` (dead letters: ${forwarder.deadLetterFile})` : ""} (Ctrl-C to stop)`,
);
const report = setInterval(() => {
  const s = forwarder.stats;
  console.error(
    `forward: ${s.delivered} records delivered in ${s.requests} requests, ${s.retries} retries, ${s.deadLettered} dead letters, ${s.duplicates} duplicates dropped`,
  );
}, 10_000);
report.unref();

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    clearInterval(report);
    forwarder.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
