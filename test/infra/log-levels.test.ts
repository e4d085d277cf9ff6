import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENV, FORWARD_ENV } from "../../lib/core/env-names";
import { LOG_LEVELS, type LogLevel } from "../../lib/core/log";
import { METRIC_NAMES } from "../../lib/core/metric-names";
import { MIRROR_PATHS } from "../../lib/core/routes";
import { sealRecord } from "../../lib/stream/records";
import { ShardMap } from "../../lib/stream/shard-map";
import { remoteWriteEvent, restEvent } from "../fixtures/api-gateway";
import { snappy, v1Message } from "../fixtures/remote-write";
import { type AwsJsonStub, startAwsJsonStub } from "../support/aws-json-stub";
import { type ScriptedDestination, startScriptedDestination } from "../support/forwarder-destination";
import { invokeBundle } from "../support/lambda-bundle";
import {
  LAMBDA_LOG_LEVELS,
  type LambdaLogLevel,
  lambdaLevelOf,
  lambdaLogFilter,
} from "../support/lambda-log-filter";
import { type CfnResource, functionOf, resourcesOf, synthBundled, synthGateway } from "./synth";

/**
 * What reaches CloudWatch at every logLevel the stack accepts. For each level: the stack's
 * LoggingConfig and LOG_LEVEL of each function, read from the template; each function's
 * real bundle run in a fresh Node process with that LOG_LEVEL, through invocations that
 * write lines at several levels and EMF documents; then Lambda's documented log-level filter
 * (test/support/lambda-log-filter.ts) applied to what the process wrote. Every EMF document
 * must survive it (the metrics and their alarms depend on them), and of the gateway's own
 * lines exactly those at or above logLevel.
 */
const FUNCTIONS = {
  "remote-write": "Prometheus remote_write",
  mirror: "StackState Prometheus mirror",
  forwarder: "Prometheus gateway forwarder",
} as const;
type Fn = keyof typeof FUNCTIONS;

/** With a forwarder, so that the stack creates all three functions. */
const CONTEXT = { forwardUrl: "https://receiver.example.com/api/v1/write" };

// The code is the same at every logLevel (only LoggingConfig and LOG_LEVEL differ): bundled once.
const gateway = synthBundled(CONTEXT);
afterAll(() => gateway.remove());
const bundles = Object.fromEntries(
  Object.entries(FUNCTIONS).map(([fn, description]) => [fn, gateway.bundleOf(description).file]),
) as Record<Fn, string>;

const KEY = "log-levels-key-7c1e";
let secrets: AwsJsonStub;
let kinesis: AwsJsonStub;
let destination: ScriptedDestination;
beforeAll(async () => {
  secrets = await startAwsJsonStub({
    answer: ({ body }) =>
      body.VersionStage === "AWSPREVIOUS"
        ? { status: 400, body: { __type: "ResourceNotFoundException", message: "no AWSPREVIOUS" } }
        : { body: { SecretString: KEY } },
  });
  // the stream is gone: an operator must act (an error line, then a warning and a 500)
  kinesis = await startAwsJsonStub({
    answer: () => ({ status: 400, body: { __type: "ResourceNotFoundException", message: "no stream" } }),
  });
  // each batch (one request per attempt) answered 503 first, then 204: a warning, then the batch delivered
  destination = await startScriptedDestination((_req, i) => (i % 2 === 0 ? 503 : 204));
});
afterAll(async () => {
  await secrets?.close();
  await kinesis?.close();
  await destination?.close();
});

const baseEnv = () => ({
  PATH: process.env.PATH ?? "",
  AWS_REGION: "eu-west-1",
  AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
  AWS_SECRET_ACCESS_KEY: "example",
  AWS_MAX_ATTEMPTS: "1",
  AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url,
  AWS_ENDPOINT_URL_KINESIS: kinesis.url,
});

/** Nothing listens on port 9: the connection test fails, and answers so. */
const CONNECTION_TEST = restEvent(
  MIRROR_PATHS.connection,
  JSON.stringify({
    _type: "TestConnectionRequest",
    connectionDetails: { host: "127.0.0.1", port: 9, requestTimeout: 1000 },
  }),
  { "content-type": "application/json" },
);

function kinesisEvent() {
  const now = Date.now();
  const record = sealRecord(
    v1Message([{ labels: [["__name__", "log_levels"]], samples: [{ value: 1, timestamp: now }] }]),
    "v1",
    undefined,
    0,
    ShardMap.uniform(4),
  );
  return {
    Records: [
      {
        kinesis: {
          kinesisSchemaVersion: "1.0",
          partitionKey: record.partitionKey,
          sequenceNumber: "49650000000000000000000000000000001",
          data: Buffer.from(record.data).toString("base64"),
          approximateArrivalTimestamp: now / 1000,
        },
        eventSource: "aws:kinesis",
        eventVersion: "1.0",
        eventID: "shardId-000000000000:49650000000000000000000000000000001",
        eventName: "aws:kinesis:record",
        invokeIdentityArn: "arn:aws:iam::123456789012:role/forwarder",
        awsRegion: "eu-west-1",
        eventSourceARN: "arn:aws:kinesis:eu-west-1:123456789012:stream/gateway",
      },
    ],
  };
}

interface Scenario {
  readonly fn: Fn;
  /** Fresh processes, each a cold start and its invocations, with the environment beyond LOG_LEVEL. */
  readonly runs: () => { events: unknown[]; env: Record<string, string>; answers: unknown[] }[];
  /** The gateway's lines the invocations write, by level (at LOG_LEVEL=debug, all of them). */
  readonly lines: Partial<Record<LogLevel, string[]>>;
  /** Metrics the invocations count, each in an EMF document. */
  readonly metrics: string[];
}

const SCENARIOS: Record<string, Scenario> = {
  "remote-write: a wrong key, then a write with a rejected series the stream refuses": {
    fn: "remote-write",
    runs: () => [
      {
        events: [
          remoteWriteEvent("not-the-key", snappy(v1Message([]))),
          remoteWriteEvent(
            KEY,
            snappy(
              v1Message([
                { labels: [["__name__", "good_metric"]], samples: [{ value: 1, timestamp: Date.now() }] },
                { labels: [["job", "no-metric-name"]], samples: [{ value: 1, timestamp: Date.now() }] },
              ]),
            ),
          ),
        ],
        env: {
          [ENV.streamName]: "gateway-stream",
          [ENV.apiKeySecretArn]: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ingest",
        },
        answers: [{ statusCode: 401 }, { statusCode: 500 }],
      },
    ],
    lines: {
      debug: ["write refused"],
      warn: ["write failed"],
      error: ["Kinesis refused the write"],
    },
    metrics: [
      METRIC_NAMES.samplesReceived,
      METRIC_NAMES.seriesRejected,
      METRIC_NAMES.kinesisFailedPuts,
      METRIC_NAMES.streamUnusable,
    ],
  },
  "mirror: a connection test without keys, then one with keys to a Prometheus that is down": {
    fn: "mirror",
    runs: () => {
      const env = {
        [ENV.mirrorApiKeySecretArn]: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mirror",
        [ENV.mirrorAllowedTargets]: "127.0.0.1:9",
      };
      return [
        // nothing listens for Secrets Manager: the keys cannot be read, the mirror answers 503
        {
          events: [CONNECTION_TEST],
          env: { ...env, AWS_ENDPOINT_URL_SECRETS_MANAGER: "http://127.0.0.1:9" },
          answers: [{ statusCode: 503 }],
        },
        { events: [CONNECTION_TEST], env, answers: [{ statusCode: 200 }] },
      ];
    },
    lines: {
      debug: ["connection test"],
      info: ["mirror request"],
      warn: ["mirror request failed"],
      error: ["could not read the API key secret"],
    },
    metrics: [METRIC_NAMES.mirrorRequests, METRIC_NAMES.mirrorErrors],
  },
  "forwarder: a batch delivered on the second attempt": {
    fn: "forwarder",
    runs: () => [
      {
        events: [kinesisEvent()],
        env: { [FORWARD_ENV.url]: `${destination.url}/api/v1/write`, [FORWARD_ENV.auth]: "none" },
        answers: [{ batchItemFailures: [] }],
      },
    ],
    lines: {
      info: ["batch forwarded"],
      warn: ["destination answered a retryable status"],
    },
    metrics: [METRIC_NAMES.forwardedRecords, METRIC_NAMES.forwardRetries],
  },
};

const rank = (level: string) => LAMBDA_LOG_LEVELS.indexOf(level.toUpperCase() as LambdaLogLevel);

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON lines, read freely
type Line = Record<string, any>;
const parse = (line: string): Line | undefined => {
  try {
    const value = JSON.parse(line);
    return typeof value === "object" && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
};
const isEmf = (line: string) => parse(line)?._aws?.CloudWatchMetrics !== undefined;
const emfMetricNames = (lines: string[]) =>
  lines.flatMap((l) =>
    (parse(l)!._aws.CloudWatchMetrics as { Metrics: { Name: string }[] }[]).flatMap((m) =>
      m.Metrics.map((x) => x.Name),
    ),
  );

describe.each(LOG_LEVELS)("logLevel=%s", (logLevel) => {
  const { json } = synthGateway({ ...CONTEXT, logLevel });
  const functions = Object.fromEntries(
    Object.entries(FUNCTIONS).map(([fn, description]) => [fn, functionOf(json, description)]),
  ) as Record<Fn, CfnResource>;

  it("every function: JSON logs, Lambda's application log level never above INFO, LOG_LEVEL as configured", () => {
    expect(Object.keys(resourcesOf(json, "AWS::Lambda::Function"))).toHaveLength(3);
    for (const fn of Object.values(functions)) {
      const { LogFormat, ApplicationLogLevel, SystemLogLevel } = fn.Properties.LoggingConfig;
      expect({ LogFormat, SystemLogLevel }).toEqual({ LogFormat: "JSON", SystemLogLevel: "INFO" });
      expect(ApplicationLogLevel).toBe(logLevel === "debug" ? "DEBUG" : "INFO");
      expect(fn.Properties.Environment.Variables[ENV.logLevel]).toBe(logLevel);
    }
  });

  it.each(Object.entries(SCENARIOS))(
    "%s: every EMF document reaches CloudWatch, and of the gateway's lines those at or above the level",
    async (_name, scenario) => {
      const fn = functions[scenario.fn];
      const applicationLogLevel = fn.Properties.LoggingConfig.ApplicationLogLevel as string;
      const { [ENV.logLevel]: level, NODE_OPTIONS } = fn.Properties.Environment.Variables;
      const written: string[] = [];
      for (const run of scenario.runs()) {
        const out = await invokeBundle(bundles[scenario.fn], run.events, {
          ...baseEnv(),
          ...run.env,
          [ENV.logLevel]: level,
          NODE_OPTIONS,
        });
        expect(out.results).toMatchObject(run.answers);
        written.push(...out.stdout);
      }

      const emf = written.filter(isEmf);
      for (const name of scenario.metrics) expect(emfMetricNames(emf)).toContain(name);
      // the gateway's own lines: each states a level Lambda reads as stated
      const own = written.filter((l) => !isEmf(l));
      for (const line of own) {
        expect(["DEBUG", "INFO", "WARN", "ERROR"], line).toContain(parse(line)?.level);
        expect(lambdaLevelOf(line), line).toBe(parse(line)!.level);
      }

      const kept = lambdaLogFilter(written, applicationLogLevel);
      expect(kept.filter(isEmf)).toEqual(emf);
      const keptOwn = kept.filter((l) => !isEmf(l)).map((l) => parse(l)!);
      for (const line of keptOwn)
        expect(rank(line.level), JSON.stringify(line)).toBeGreaterThanOrEqual(rank(logLevel));
      for (const [lineLevel, messages] of Object.entries(scenario.lines)) {
        const shown = keptOwn.filter((l) => l.level === lineLevel.toUpperCase()).map((l) => l.msg);
        for (const message of messages) {
          if (rank(lineLevel) >= rank(logLevel))
            expect(shown, `${lineLevel} "${message}"`).toContain(message);
          else expect(keptOwn.map((l) => l.msg)).not.toContain(message);
        }
      }
    },
    30_000,
  );
});
