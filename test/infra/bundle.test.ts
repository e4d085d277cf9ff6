import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../infra/paths";
import { SNAPPY_WASM_FILE, SNAPPY_WASM_PACKAGE_FILE } from "../../lib/codec/snappy-wasm-file";
import { ENV } from "../../lib/core/env-names";
import { MIRROR_PATHS } from "../../lib/core/routes";
import { remoteWriteEvent, restEvent } from "../fixtures/api-gateway";
import { realisticSeries, snappy, v1Message } from "../fixtures/remote-write";
import { startAwsJsonStub } from "../support/aws-json-stub";
import { invokeBundle, LAMBDA_NODE_MAJOR, lambdaNode } from "../support/lambda-bundle";
import { synthBundled } from "./synth";

/** The real thing: both entries bundled as `cdk synth` bundles them, once for this file. */
const gateway = synthBundled();
afterAll(() => gateway.remove());

/** Upper bound for one bundle (minified, without source map): the SDK stays outside. */
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
};

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

describe("function bundles (esbuild, ESM, @aws-sdk external)", () => {
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

  it("imports no AWS SDK client at start; what it loads on demand is left to the runtime", () => {
    for (const b of Object.values(bundles)) {
      // Kinesis and Secrets Manager go through the lean client: no static SDK import at all
      expect(b.code).not.toMatch(/from\s*"@aws-sdk\//);
      expect(b.code).not.toContain("@aws-sdk/middleware-");
      // the default credential chain, for when the environment holds no keys: a dynamic import, external
      expect(b.code).toMatch(/import\(\s*"@aws-sdk\/credential-providers"\s*\)/);
    }
    // STS, for an assumed role: loaded on the first AssumeRole only
    expect(bundles.mirror.code).toMatch(/import\(\s*"@aws-sdk\/client-sts"\s*\)/);
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
      answer: ({ body }) => ({
        body: {
          FailedRecordCount: 0,
          Records: body.Records.map((_: unknown, i: number) => ({ SequenceNumber: String(i), ShardId: "s" })),
        },
      }),
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
      expect(kinesis.calls.length).toBeGreaterThan(0);
      for (const call of kinesis.calls) {
        expect(call.refused).toBeUndefined();
        expect(call.target).toBe("Kinesis_20131202.PutRecords");
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
});
