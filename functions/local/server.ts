import { ENV } from "../../lib/core/env-names";
import { METRICS_PATH, RECEIVER_PATH, REMOTE_WRITE_PATH } from "../../lib/core/routes";
import { parseCli } from "./cli";
import { DEFAULT_PORT, startLocalGateway } from "./gateway";
import { clearLocalState, localStateDir, writeLocalState } from "./state";

/**
 * `npm start`: the gateway on one local Node server (default port 9900), with an
 * embedded Kinesis unless KINESIS_ENDPOINT or AWS configuration says otherwise.
 */
// The SDK warns that its 2027 releases will need Node 22; the local tools run on Node 20 too.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const values = parseCli({
  tool: "start",
  synopsis: "npm start [-- options]",
  description: [
    "Runs the gateway on one local Node server: remote_write ingest, the StackState mirror, /metrics,",
    "and an embedded Kinesis unless KINESIS_ENDPOINT or AWS configuration is set. Keys it generates",
    "are kept in .local/. Every setting is an environment variable (docs/ingest.md, docs/mirror.md):",
    "e.g. API_KEY, MIRROR_API_KEY, MIRROR_ALLOWED_TARGETS, FORWARD_URL, LOG_LEVEL.",
  ].join("\n"),
  options: {
    port: {
      type: "string",
      value: "PORT",
      help: "the port to listen on (127.0.0.1 unless HOST says otherwise)",
    },
    ha: {
      type: "boolean",
      help: "deduplicate HA Prometheus pairs (as HA_DEDUP=true; the elected replicas kept in an embedded DynamoDB unless DYNAMODB_ENDPOINT says otherwise)",
    },
  },
  defaults: { port: `PORT, else ${DEFAULT_PORT}` },
  examples: [
    "npm start",
    "npm start -- --port 9901",
    "npm start -- --ha",
    "LOG_LEVEL=debug FORWARD_URL=http://127.0.0.1:9091/api/v1/write npm start",
  ],
});
const portText = values.port ?? process.env[ENV.port] ?? String(DEFAULT_PORT);
if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
  process.stderr.write(`start: --port ${portText}: expected a port number 1 to 65535 (see --help)\n`);
  process.exit(2);
}
const port = Number(portText);
if (values.ha) process.env[ENV.haDedup] = "true";
// generated keys are kept in .local/, so a restart does not lock out a configured Prometheus
const gateway = await startLocalGateway({
  port,
  metricsIntervalMs: 60_000,
  stateDir: localStateDir(),
}).catch((err: Error) => {
  console.error(`cannot start the gateway: ${err.message}`);
  process.exit(1);
});

writeLocalState({
  kinesisEndpoint: gateway.kinesisEndpoint,
  streamName: gateway.streamName,
  region: process.env[ENV.awsRegion] ?? "us-east-1",
  url: gateway.url,
  port: Number(new URL(gateway.url).port),
  pid: process.pid,
  startedAt: Date.now(),
});

const write = `${gateway.url}${REMOTE_WRITE_PATH}`;
console.log(`Prometheus gateway listening on ${gateway.url}
  remote_write:  ${write}  (also ${gateway.url}${RECEIVER_PATH})
  stream:        ${gateway.streamName} (${gateway.embeddedKinesis ? `embedded Kinesis at ${gateway.kinesisEndpoint}` : (gateway.kinesisEndpoint ?? "AWS")})
  mirror:        ${gateway.url}/api/connection, /api/field/name, /api/field/value, /api/metric
  metrics:       ${gateway.url}${METRICS_PATH}  (Prometheus text format; examples/prometheus.yml scrapes it)
  API key:       ${gateway.apiKey}  (remote_write: sts-api-key or basic auth apikey:<key>)
  mirror key:    ${gateway.mirrorApiKey}  (the StackState datasource's API key; it unlocks no write)
${gateway.ha ? `  HA dedup:      per ${gateway.ha.clusterLabel}, one ${gateway.ha.replicaLabel} written (without that label), the others answered 202; table ${gateway.ha.tableName} ${gateway.ha.embedded ? `in the embedded DynamoDB (dynalite) at ${gateway.ha.dynamodbEndpoint}` : `at ${gateway.ha.dynamodbEndpoint ?? "AWS"}`}\n` : ""}${gateway.forwarder ? `  forwarding:    to ${gateway.forwarder.url}${gateway.forwarder.deadLetterFile ? ` (dead letters: ${gateway.forwarder.deadLetterFile})` : ""}\n` : ""}${gateway.notes.map((n) => `  note: ${n}\n`).join("")}
Add to prometheus.yml:

remote_write:
  - url: ${write}
    basic_auth:
      username: apikey
      password: ${gateway.apiKey}
    queue_config:
      retry_on_http_429: true

Watch what arrives: npm run tail
`);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.log("stopping…");
    clearLocalState(Number(new URL(gateway.url).port));
    gateway.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
