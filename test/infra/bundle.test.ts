import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { isBuiltin } from "node:module";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { FUNCTION_DEFAULTS } from "../../infra/constructs/gateway-function";
import { PROJECT_ROOT } from "../../infra/paths";
import { SNAPPY_WASM_FILE, SNAPPY_WASM_PACKAGE_FILE } from "../../lib/codec/snappy-wasm-file";
import { ENV, FORWARD_ENV } from "../../lib/core/env-names";
import { MIRROR_PATHS } from "../../lib/core/routes";
import { remoteWriteEvent, restEvent } from "../fixtures/api-gateway";
import { realisticSeries, snappy, v1Message } from "../fixtures/remote-write";
import { startAwsJsonStub } from "../support/aws-json-stub";
import { invokeBundle, LAMBDA_NODE_MAJOR, lambdaNode } from "../support/lambda-bundle";
import { synthBundled } from "./synth";

/**
 * The real thing: every entry (the forwarder's too) bundled as `cdk synth` bundles them,
 * once for this file.
 */
const gateway = synthBundled({
  forwardUrl: "https://receiver.example.com/api/v1/write",
  forwardAuth: "none",
});
afterAll(() => gateway.remove());

/** Upper bound for one bundle (minified, without source map), with the AWS SDK clients it calls. */
const BUNDLE_BUDGET_BYTES = 1_500_000;

function bundleOf(descriptionPrefix: string) {
  const bundle = gateway.bundleOf(descriptionPrefix);
  const code = readFileSync(bundle.file);
  return {
    ...bundle,
    code: code.toString("utf8"),
    bytes: code.length,
    gzipBytes: gzipSync(code, { level: 9 }).length,
    mapBytes: existsSync(`${bundle.file}.map`) ? statSync(`${bundle.file}.map`).size : 0,
  };
}

const bundles = {
  "remote-write": bundleOf("Prometheus remote_write"),
  mirror: bundleOf("StackState Prometheus mirror"),
  forwarder: bundleOf("Prometheus gateway forwarder"),
};

/** The packages a bundle still imports by name, statically or dynamically (Node's built-ins aside). */
function bareImports(code: string): string[] {
  const names = [...code.matchAll(/(?:\bfrom\s*|\bimport\(\s*)"([^".][^"]*)"/g)].map((m) => m[1]!);
  return [...new Set(names)].filter((name) => !isBuiltin(name));
}

/** Runs the bundle's handler in a fresh Node process, as the Lambda runtime would import it. */
async function invoke(file: string, event: unknown, env: Record<string, string>) {
  const { results } = await invokeBundle(file, [event], {
    PATH: process.env.PATH ?? "",
    AWS_REGION: "eu-west-1",
    AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
    AWS_SECRET_ACCESS_KEY: "example",
    // Nothing listens there: the key fetch fails fast, and the function must answer 503.
    AWS_ENDPOINT_URL_SECRETS_MANAGER: "http://127.0.0.1:9",
    AWS_MAX_ATTEMPTS: "1",
    ...env,
  });
  expect(results).toHaveLength(1);
  return results[0] as { statusCode: number; headers: Record<string, string> };
}

describe("function bundles (esbuild, ESM, the AWS SDK inside but for its credential chain)", () => {
  it(`run on Node ${LAMBDA_NODE_MAJOR}, the runtime's major version`, () => {
    const node = lambdaNode();
    console.log(`bundles run on ${node.version} (${node.bin})`);
    expect(node.version).toMatch(new RegExp(`^v${LAMBDA_NODE_MAJOR}\\.`));
  });

  it("reports the bundle sizes", () => {
    const rows = Object.entries(bundles).map(([name, b]) => ({
      function: name,
      "index.mjs (bytes)": b.bytes,
      "gzip (bytes)": b.gzipBytes,
      "source map (bytes)": b.mapBytes,
    }));
    console.table(rows);
    for (const b of Object.values(bundles)) expect(b.bytes).toBeGreaterThan(1000);
  });

  it.each(Object.entries(bundles))("%s: an ES module exporting `handler`, within budget", (_name, b) => {
    expect(b.handler).toBe("index.handler");
    expect(b.code).toMatch(/export\s*\{[^}]*\bas handler\b[^}]*\}/);
    expect(b.code.startsWith("import { createRequire")).toBe(true);
    expect(b.bytes).toBeLessThan(BUNDLE_BUDGET_BYTES);
    expect(b.mapBytes).toBeGreaterThan(0);
  });

  it.each(Object.entries(bundles))(
    "%s: the AWS SDK it calls is inside; only the default credential chain is left to the runtime, imported on demand",
    (_name, b) => {
      expect(bareImports(b.code)).toEqual([...FUNCTION_DEFAULTS.external]);
      // the chain is needed only where the environment holds no keys (never on Lambda): a dynamic import
      for (const name of FUNCTION_DEFAULTS.external) {
        expect(b.code).toMatch(new RegExp(`import\\(\\s*"${name}"\\s*\\)`));
        expect(b.code).not.toMatch(new RegExp(`from\\s*"${name}"`));
      }
    },
  );

  it("the mirror's STS client (an assumed role) and the forwarder's SQS client are bundled", () => {
    // the services' own names for the calls survive minification
    expect(bundles.mirror.code).toContain('"AWSSecurityTokenServiceV20110615"');
    expect(bundles.forwarder.code).toContain('"AmazonSQS"');
    expect(bundles["remote-write"].code).not.toContain('"AWSSecurityTokenServiceV20110615"');
  });

  it("remote-write: the snappy codec's WebAssembly module ships beside the bundle", () => {
    const shipped = join(bundles["remote-write"].dir, SNAPPY_WASM_FILE);
    expect(existsSync(shipped)).toBe(true);
    expect(readFileSync(shipped).equals(readFileSync(join(PROJECT_ROOT, SNAPPY_WASM_PACKAGE_FILE)))).toBe(
      true,
    );
    expect(bundles["remote-write"].code).toContain(SNAPPY_WASM_FILE);
  });

  it("remote-write: the bundle loads and answers an HTTP API (payload 2.0) event", async () => {
    const result = await invoke(
      bundles["remote-write"].file,
      remoteWriteEvent("not-checked-keys-unavailable", new Uint8Array([0])),
      {
        [ENV.streamName]: "gateway-stream",
        [ENV.apiKeySecretArn]: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ingest",
      },
    );
    // The key cannot be read, so nothing is trusted: a retryable 503, as Prometheus expects.
    expect(result.statusCode).toBe(503);
  });

  it("remote-write: reads its key from Secrets Manager and writes to Kinesis, both signed with the role's keys", async () => {
    const role = { accessKeyId: "ASIAROLE", secretAccessKey: "role-secret", sessionToken: "role-token" };
    const key = "bundle-key-3f9a";
    const secrets = await startAwsJsonStub({
      verify: { service: "secretsmanager", region: "eu-west-1", credentials: [role] },
      answer: ({ body }) =>
        body.VersionStage === "AWSPREVIOUS"
          ? { status: 400, body: { __type: "ResourceNotFoundException", message: "no AWSPREVIOUS" } }
          : { body: { SecretString: key } },
    });
    const kinesis = await startAwsJsonStub({
      verify: { service: "kinesis", region: "eu-west-1", credentials: [role] },
      answer: ({ target, body }) =>
        target.endsWith(".ListShards")
          ? {
              body: {
                Shards: [
                  {
                    ShardId: "s",
                    HashKeyRange: { StartingHashKey: "0", EndingHashKey: ((1n << 128n) - 1n).toString() },
                    SequenceNumberRange: { StartingSequenceNumber: "0" },
                  },
                ],
              },
            }
          : {
              body: {
                FailedRecordCount: 0,
                Records: body.Records.map((_: unknown, i: number) => ({
                  SequenceNumber: String(i),
                  ShardId: "s",
                })),
              },
            },
    });
    try {
      const result = await invoke(
        bundles["remote-write"].file,
        remoteWriteEvent(key, snappy(v1Message(realisticSeries(50, 2)))),
        {
          [ENV.streamName]: "gateway-stream",
          [ENV.apiKeySecretArn]: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ingest",
          AWS_ACCESS_KEY_ID: role.accessKeyId,
          AWS_SECRET_ACCESS_KEY: role.secretAccessKey,
          AWS_SESSION_TOKEN: role.sessionToken,
          AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url,
          AWS_ENDPOINT_URL_KINESIS: kinesis.url,
        },
      );
      expect(result.statusCode).toBe(204);
      expect(secrets.calls.map((c) => [c.target, c.body.VersionStage, c.refused]).sort()).toEqual([
        ["secretsmanager.GetSecretValue", "AWSCURRENT", undefined],
        ["secretsmanager.GetSecretValue", "AWSPREVIOUS", undefined],
      ]);
      expect(kinesis.calls.filter((c) => c.target === "Kinesis_20131202.PutRecords").length).toBeGreaterThan(
        0,
      );
      for (const call of kinesis.calls) {
        expect(call.refused).toBeUndefined();
        // the records, and the shard map they are packed by (the role's IAM allows both)
        expect(["Kinesis_20131202.PutRecords", "Kinesis_20131202.ListShards"]).toContain(call.target);
        expect(call.contentType).toBe("application/x-amz-json-1.1");
        expect(call.body.StreamName).toBe("gateway-stream");
      }
    } finally {
      await secrets.close();
      await kinesis.close();
    }
  });

  it("mirror: the bundle loads and answers a REST API proxy event", async () => {
    const body = JSON.stringify({
      _type: "TestConnectionRequest",
      connectionDetails: { host: "prometheus.internal", port: 9090, requestTimeout: 1000 },
    });
    const event = restEvent(MIRROR_PATHS.connection, body, { "content-type": "application/json" });
    const result = await invoke(bundles.mirror.file, event, {
      [ENV.mirrorApiKeySecretArn]: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mirror",
      [ENV.mirrorAllowedTargets]: "prometheus.internal:9090",
    });
    expect(result.statusCode).toBe(503);
  });

  it("forwarder: the bundle loads, and its SQS client (the bundled SDK) dead-letters a record it cannot decode", async () => {
    const role = { accessKeyId: "ASIAROLE", secretAccessKey: "role-secret", sessionToken: "role-token" };
    const sqs = await startAwsJsonStub({
      verify: { service: "sqs", region: "eu-west-1", credentials: [role] },
      answer: ({ body }) => ({
        // the SDK checks the MD5 of the body the queue says it stored
        body: {
          MessageId: "m-1",
          MD5OfMessageBody: createHash("md5").update(body.MessageBody).digest("hex"),
        },
        headers: { "content-type": "application/x-amz-json-1.0" },
      }),
    });
    const streamArn = "arn:aws:kinesis:eu-west-1:123456789012:stream/gateway";
    const sequenceNumber = "49650000000000000000000000000000000000000000000000000001";
    const event = {
      Records: [
        {
          kinesis: {
            kinesisSchemaVersion: "1.0",
            partitionKey: "k",
            sequenceNumber,
            data: Buffer.from("not a gateway record").toString("base64"),
            approximateArrivalTimestamp: 1_700_000_000.5,
          },
          eventSource: "aws:kinesis",
          eventVersion: "1.0",
          eventID: `shardId-000000000000:${sequenceNumber}`,
          eventName: "aws:kinesis:record",
          invokeIdentityArn: "arn:aws:iam::123456789012:role/forwarder",
          awsRegion: "eu-west-1",
          eventSourceARN: streamArn,
        },
      ],
    };
    try {
      const { results } = await invokeBundle(bundles.forwarder.file, [event], {
        PATH: process.env.PATH ?? "",
        AWS_REGION: "eu-west-1",
        AWS_ACCESS_KEY_ID: role.accessKeyId,
        AWS_SECRET_ACCESS_KEY: role.secretAccessKey,
        AWS_SESSION_TOKEN: role.sessionToken,
        AWS_ENDPOINT_URL_SQS: sqs.url,
        AWS_MAX_ATTEMPTS: "1",
        // nothing listens there; an undecodable record never reaches the destination
        [FORWARD_ENV.url]: "http://127.0.0.1:9/api/v1/write",
        [FORWARD_ENV.auth]: "none",
        [FORWARD_ENV.deadLetterQueueUrl]: `${sqs.url}/123456789012/forwarder-dlq`,
      });
      expect(results).toEqual([{ batchItemFailures: [] }]);
      expect(sqs.calls).toHaveLength(1);
      const [call] = sqs.calls;
      expect(call!.refused).toBeUndefined();
      expect(call!.target).toBe("AmazonSQS.SendMessage");
      expect(call!.body.QueueUrl).toBe(`${sqs.url}/123456789012/forwarder-dlq`);
      expect(call!.body.MessageBody).toContain(sequenceNumber);
    } finally {
      await sqs.close();
    }
  });
});
