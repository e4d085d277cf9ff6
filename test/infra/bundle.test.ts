import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { isBuiltin } from "node:module";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedDynamoDB, startEmbeddedDynamoDB } from "../../functions/local/embedded-dynamodb";
import { FUNCTION_DEFAULTS } from "../../infra/constructs/gateway-function";
import { PROJECT_ROOT } from "../../infra/paths";
import { SNAPPY_WASM_FILE, SNAPPY_WASM_PACKAGE_FILE } from "../../lib/codec/snappy-wasm-file";
import { ENV, FORWARD_ENV } from "../../lib/core/env-names";
import { MIRROR_PATHS } from "../../lib/core/routes";
import { HA_TABLE, NO_TENANT } from "../../lib/ha/table";
import { decodeRecord } from "../../lib/stream/consumer";
import { remoteWriteEvent, restEvent } from "../fixtures/api-gateway";
import { type Labels, realisticSeries, type SeriesSpec, snappy, v1Message } from "../fixtures/remote-write";
import { type AwsJsonStub, startAwsJsonStub } from "../support/aws-json-stub";
import { invokeBundle, LAMBDA_NODE_MAJOR, lambdaNode } from "../support/lambda-bundle";
import type { StandInCredentials } from "../support/sigv4-verify";
import { type CfnResource, functionOf, resourcesOf, roleStatements, synthBundled } from "./synth";

/**
 * The real thing: every entry (the forwarder's too) bundled as `cdk synth` bundles them,
 * once for this file, in a stack with HA deduplication on, so that the remote-write
 * function's environment and IAM in the template are the ones its HA invocations are held to
 * (the bundles are the same either way; the other invocations set no HA_* variable).
 */
const gateway = synthBundled({
  forwardUrl: "https://receiver.example.com/api/v1/write",
  forwardAuth: "none",
  haDedup: "true",
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

/** Credentials of the function's role, as Lambda hands them to it. */
type RoleCredentials = Required<StandInCredentials>;

/**
 * Kinesis as the remote-write function sees it: one shard over the whole hash range, and
 * every PutRecords record taken; each call's signature checked with the role's credentials.
 */
function startKinesisStandIn(role: RoleCredentials): Promise<AwsJsonStub> {
  return startAwsJsonStub({
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
    const kinesis = await startKinesisStandIn(role);
    // HA is off: the function must not call DynamoDB at all
    const dynamo = await startAwsJsonStub({
      verify: { service: "dynamodb", region: "eu-west-1", credentials: [role] },
      answer: () => ({ status: 500, body: { __type: "InternalServerError", message: "not expected" } }),
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
          AWS_ENDPOINT_URL_DYNAMODB: dynamo.url,
        },
      );
      expect(result.statusCode).toBe(204);
      expect(dynamo.calls).toEqual([]);
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
      await dynamo.close();
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

describe("remote-write bundle with HA deduplication, as the template configures and permits it", () => {
  const REGION = "eu-west-1";
  const role: RoleCredentials = {
    accessKeyId: "ASIAHAROLE",
    secretAccessKey: "ha-role-secret",
    sessionToken: "ha-role-token",
  };
  const KEY = "bundle-ha-key-7c21";
  /** What each resource the function's variables refer to is called once deployed. */
  const DEPLOYED: Record<string, string> = {
    "AWS::Kinesis::Stream": "gateway-stream",
    "AWS::SecretsManager::Secret": `arn:aws:secretsmanager:${REGION}:123456789012:secret:ingest-AbCdEf`,
    "AWS::DynamoDB::Table": "PrometheusGateway-HaReplicasTable-1A2B3C4D5E6F",
  };

  const json = gateway.json;
  const fn = functionOf(json, "Prometheus remote_write");
  const resources = json.Resources as Record<string, CfnResource>;
  const templateVariables = fn.Properties.Environment.Variables as Record<string, unknown>;
  const tables = Object.keys(resourcesOf(json, "AWS::DynamoDB::Table"));

  /** The function's variables as Lambda sets them: each Ref resolved to what its resource is called. */
  function deployedVariables(): Record<string, string> {
    return Object.fromEntries(
      Object.entries(templateVariables).map(([name, value]) => {
        if (typeof value === "string") return [name, value];
        const ref = (value as { Ref?: string }).Ref;
        const type = ref === undefined ? undefined : resources[ref]?.Type;
        const deployed = type === undefined ? undefined : DEPLOYED[type];
        if (deployed === undefined)
          throw new Error(`${name}: no deployed value for ${JSON.stringify(value)}`);
        return [name, deployed];
      }),
    );
  }

  /** The DynamoDB actions the template grants the function's role on the table `tableId`. */
  function grantedOnTable(tableId: string): Set<string> {
    const onTable = (resource: unknown) =>
      (Array.isArray(resource) ? resource : [resource]).some(
        (r) => JSON.stringify(r) === JSON.stringify({ "Fn::GetAtt": [tableId, "Arn"] }),
      );
    return new Set(
      roleStatements(json, fn)
        .filter((s) => s.Effect === "Allow" && onTable(s.Resource))
        .flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]))
        .filter((a) => a.startsWith("dynamodb:")),
    );
  }

  let db: EmbeddedDynamoDB;
  let secrets: AwsJsonStub;
  let kinesis: AwsJsonStub;
  let dynamo: AwsJsonStub;
  /** Headers the DynamoDB stand-in passes on to dynalite, which checks the signature's form, not its value. */
  const FORWARDED = ["authorization", "x-amz-date", "x-amz-security-token", "x-amz-target", "content-type"];

  beforeAll(async () => {
    db = await startEmbeddedDynamoDB({ region: REGION });
    await db.createReplicaTable(DEPLOYED["AWS::DynamoDB::Table"]!);
    secrets = await startAwsJsonStub({
      verify: { service: "secretsmanager", region: REGION, credentials: [role] },
      answer: ({ body }) =>
        body.VersionStage === "AWSPREVIOUS"
          ? { status: 400, body: { __type: "ResourceNotFoundException", message: "no AWSPREVIOUS" } }
          : { body: { SecretString: KEY } },
    });
    kinesis = await startKinesisStandIn(role);
    // DynamoDB: each call's signature checked, then answered by dynalite, so the answers are DynamoDB's own
    dynamo = await startAwsJsonStub({
      verify: { service: "dynamodb", region: REGION, credentials: [role] },
      answer: async (call) => {
        const headers = Object.fromEntries(
          FORWARDED.flatMap((h) => (call.headers[h] === undefined ? [] : [[h, String(call.headers[h])]])),
        );
        const res = await fetch(db.endpoint, { method: "POST", headers, body: JSON.stringify(call.body) });
        return {
          status: res.status,
          body: await res.text(),
          headers: { "content-type": res.headers.get("content-type") ?? "application/x-amz-json-1.0" },
        };
      },
    });
  });

  afterAll(async () => {
    await Promise.all([secrets?.close(), kinesis?.close(), dynamo?.close()]);
    await db?.stop();
  });

  /** One warm instance of the function: a fresh Node process handling `events` in turn. */
  async function instance(events: readonly unknown[]) {
    const { results } = await invokeBundle(bundles["remote-write"].file, events, {
      PATH: process.env.PATH ?? "",
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: role.accessKeyId,
      AWS_SECRET_ACCESS_KEY: role.secretAccessKey,
      AWS_SESSION_TOKEN: role.sessionToken,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url,
      AWS_ENDPOINT_URL_KINESIS: kinesis.url,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.url,
      ...deployedVariables(),
    });
    return results as { statusCode: number; body?: string }[];
  }

  it("elects replica A (204, written without its replica label), drops B (202, nothing written), in the first instance and in a second that reads the table", async () => {
    expect(templateVariables[ENV.haDedup]).toBe("true");
    const clusterLabel = templateVariables[ENV.haClusterLabel] as string;
    const replicaLabel = templateVariables[ENV.haReplicaLabel] as string;
    /** B's values are A's plus this (the replicas scrape at slightly different times). */
    const B_OFFSET = 1e6;
    /** A replica's request: 20 series of 2 samples, its external labels on each. */
    const request = (replica: string, t0: number) => {
      const specs: SeriesSpec[] = realisticSeries(20, 2, 6, t0).map((s) => ({
        labels: [
          ...s.labels.filter(([k]) => k !== clusterLabel),
          [clusterLabel, "prod-eu-1"],
          [replicaLabel, replica],
        ].sort((a, b) => (a[0]! < b[0]! ? -1 : 1)) as Labels,
        samples: s.samples?.map((x) => ({
          ...x,
          value: replica === "replica-a" ? x.value : x.value + B_OFFSET,
        })),
      }));
      return remoteWriteEvent(KEY, snappy(v1Message(specs)));
    };
    const t0 = 1_700_000_000_000;
    const putRecords = () => kinesis.calls.filter((c) => c.target === "Kinesis_20131202.PutRecords");

    const first = await instance([
      request("replica-a", t0),
      request("replica-b", t0),
      request("replica-a", t0 + 30_000),
    ]);
    expect(first.map((r) => r.statusCode)).toEqual([204, 202, 204]);
    expect(first[1]!.body ?? "").toBe("");
    const afterFirst = putRecords().length;
    expect(afterFirst).toBeGreaterThan(0);
    // a second instance, cold: its cache is empty, so it reads the election the first one wrote
    const second = await instance([request("replica-b", t0 + 60_000), request("replica-a", t0 + 60_000)]);
    expect(second.map((r) => r.statusCode)).toEqual([202, 204]);

    // what reached the stream: A's three requests, without the replica label; nothing of B's
    const series = putRecords().flatMap((c) =>
      c.body.Records.flatMap(
        (r: { Data: string; PartitionKey: string }) =>
          decodeRecord(Buffer.from(r.Data, "base64"), r.PartitionKey).series,
      ),
    );
    expect(series).toHaveLength(3 * 20);
    for (const s of series) {
      expect(s.labels).not.toHaveProperty(replicaLabel);
      expect(s.labels[clusterLabel]).toBe("prod-eu-1");
      for (const sample of s.samples) expect(Number(sample.value)).toBeLessThan(B_OFFSET);
    }
    for (const call of kinesis.calls) expect(call.refused).toBeUndefined();

    // DynamoDB: every call signed by the role for dynamodb in the region, JSON 1.0, on the template's table, granted by its IAM
    const [tableId] = tables;
    expect(tables).toHaveLength(1);
    expect(templateVariables[ENV.haTableName]).toEqual({ Ref: tableId });
    const granted = grantedOnTable(tableId!);
    expect(granted.size).toBeGreaterThan(0);
    const calls = dynamo.calls;
    console.log(`DynamoDB calls: ${calls.map((c) => c.target.split(".")[1]).join(", ")}`);
    // instance 1: read (none), the tenant's clusters counted, created; instance 2: read
    expect(calls.map((c) => c.target)).toEqual(
      ["GetItem", "Query", "PutItem", "GetItem"].map((op) => `DynamoDB_20120810.${op}`),
    );
    for (const call of calls) {
      expect(call.refused).toBeUndefined();
      expect(call.accessKeyId).toBe(role.accessKeyId);
      expect(String(call.headers.authorization)).toMatch(
        new RegExp(`Credential=${role.accessKeyId}/\\d{8}/${REGION}/dynamodb/aws4_request`),
      );
      expect(call.contentType).toBe("application/x-amz-json-1.0");
      expect(granted).toContain(`dynamodb:${call.target.slice("DynamoDB_20120810.".length)}`);
      expect(call.body.TableName).toBe(DEPLOYED["AWS::DynamoDB::Table"]);
    }
    // the key without a tenant, and the cluster of the pair
    const [get] = calls;
    expect(get!.body.Key).toEqual({
      [HA_TABLE.partitionKey]: { S: NO_TENANT },
      [HA_TABLE.sortKey]: { S: "prod-eu-1" },
    });
  });
});
