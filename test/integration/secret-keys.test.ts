import { afterEach, describe, expect, it } from "vitest";
import { mirrorAppFromEnv } from "../../functions/mirror/wiring";
import { createRemoteWriteEndpoint } from "../../functions/remote-write/endpoint";
import type { RecordPutter } from "../../lib/aws/kinesis-sink";
import { KinesisSink } from "../../lib/aws/kinesis-sink";
import { SecretKeySource } from "../../lib/aws/secret-keys";
import { ENV } from "../../lib/core/env-names";
import { createLogger } from "../../lib/core/log";
import { createMemoryMetrics } from "../../lib/core/metrics";
import { DEFAULTS } from "../../lib/ingest/config";
import { Ingestor } from "../../lib/ingest/ingest";
import { ingestSettings, realisticSeries, snappy, v1Message } from "../fixtures/remote-write";
import { type AwsJsonStub, type StubAnswer, type StubCall, startAwsJsonStub } from "../support/aws-json-stub";
import { FRONT_NAMES, lambdaFront, startListenerFront } from "../support/fronts";

/**
 * API keys read from Secrets Manager by the lean client, against a Secrets Manager stand-in
 * on 127.0.0.1 that checks every signature with the AWS signing library: both versions at
 * once, a missing previous version, an unreadable secret (the 503 `keys-unavailable` path),
 * and never a key in a log line or an answer.
 */
const ROLE = { accessKeyId: "ASIASECRETS", secretAccessKey: "role-secret", sessionToken: "role-token" };
const ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:gateway-keys-AbCdEf";
const CURRENT = "current-key-5b0d7e";
const PREVIOUS = "previous-key-91aa3c";

let stub: AwsJsonStub | undefined;
afterEach(async () => {
  await stub?.close();
  stub = undefined;
});

async function secretsManager(answer: (call: StubCall) => StubAnswer) {
  stub = await startAwsJsonStub({
    verify: { service: "secretsmanager", region: "eu-west-1", credentials: [ROLE] },
    answer,
  });
  return {
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: ROLE.accessKeyId,
    AWS_SECRET_ACCESS_KEY: ROLE.secretAccessKey,
    AWS_SESSION_TOKEN: ROLE.sessionToken,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: stub.url,
  };
}

const notFound: StubAnswer = {
  status: 400,
  body: {
    __type: "ResourceNotFoundException",
    Message: "Secrets Manager can't find the specified secret value for staging label: AWSPREVIOUS",
  },
};

function logger() {
  const lines: string[] = [];
  return { lines, log: createLogger("debug", (l) => lines.push(l)) };
}

describe("API keys from Secrets Manager (lean client, signed)", () => {
  it("reads AWSCURRENT and AWSPREVIOUS at once and accepts both", async () => {
    const env = await secretsManager(({ body }) => ({
      body: {
        ARN,
        SecretString:
          body.VersionStage === "AWSCURRENT" ? CURRENT : JSON.stringify({ key: PREVIOUS, tenant: "acme" }),
        VersionStages: [body.VersionStage],
      },
    }));
    const { log } = logger();
    const source = SecretKeySource.fromArn(ARN, 60, log, env);
    expect(await source.keys()).toEqual([{ key: CURRENT }, { key: PREVIOUS, tenant: "acme" }]);
    expect(
      stub!.calls.map((c) => [c.target, c.body.SecretId, c.body.VersionStage, c.refused]).sort(),
    ).toEqual([
      ["secretsmanager.GetSecretValue", ARN, "AWSCURRENT", undefined],
      ["secretsmanager.GetSecretValue", ARN, "AWSPREVIOUS", undefined],
    ]);
  });

  it("a missing previous version (ResourceNotFoundException) means only the current key", async () => {
    const env = await secretsManager(({ body }) =>
      body.VersionStage === "AWSPREVIOUS" ? notFound : { body: { ARN, SecretString: CURRENT } },
    );
    const source = SecretKeySource.fromArn(ARN, 60, logger().log, env);
    expect(await source.keys()).toEqual([{ key: CURRENT }]);
  });

  it.each(FRONT_NAMES)(
    "an unreadable secret: the remote write through the %s answers 503 keys-unavailable, and no key leaks",
    async (frontName) => {
      const env = await secretsManager(() => ({
        status: 400,
        body: {
          __type: "AccessDeniedException",
          Message: `User is not authorized to perform secretsmanager:GetSecretValue on ${ARN}`,
        },
      }));
      const { lines, log } = logger();
      let puts = 0;
      const putter: RecordPutter = {
        putRecords: async () => {
          puts++;
          return { failedRecordCount: 0, records: [] };
        },
      };
      const metrics = createMemoryMetrics();
      const endpoint = createRemoteWriteEndpoint({
        ingestor: new Ingestor(ingestSettings()),
        maxBodyBytes: DEFAULTS.maxBodyBytes,
        keys: SecretKeySource.fromArn(ARN, 60, log, env),
        sink: new KinesisSink(
          putter,
          { streamName: "s", concurrency: 1, deadlineMs: 1000, retryAfterSeconds: 5 },
          log,
          metrics,
        ),
        log,
        metrics,
      });
      const front = frontName === FRONT_NAMES[0] ? await startListenerFront(endpoint) : lambdaFront(endpoint);
      let res: Awaited<ReturnType<typeof front.send>>;
      try {
        res = await front.send({
          headers: {
            "sts-api-key": CURRENT,
            "content-type": "application/x-protobuf",
            "content-encoding": "snappy",
          },
          body: snappy(v1Message(realisticSeries(10, 1))),
        });
      } finally {
        await front.close();
      }
      expect(res.status).toBe(503);
      expect(res.headers["retry-after"]).toBe("5");
      const text = res.body;
      expect(text).toMatch(/keys-unavailable|cannot check credentials/);
      expect(puts).toBe(0);
      expect(lines.join("\n")).toMatch(/could not read the API key secret.*AccessDeniedException/);
      for (const secret of [CURRENT, ROLE.secretAccessKey, ROLE.sessionToken]) {
        expect(text).not.toContain(secret);
        expect(lines.join("\n")).not.toContain(secret);
      }
    },
  );

  it("a secret string that is not valid JSON is refused without echoing it", async () => {
    const env = await secretsManager(({ body }) =>
      body.VersionStage === "AWSPREVIOUS" ? notFound : { body: { SecretString: `{"key": ${CURRENT}` } },
    );
    const { lines, log } = logger();
    const err = await SecretKeySource.fromArn(ARN, 60, log, env)
      .keys()
      .catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect(`${(err as Error).message}\n${lines.join("\n")}`).not.toContain(CURRENT);
  });

  it("the mirror's wiring reads its key the same way (both versions, one signed round trip each)", async () => {
    const env = await secretsManager(({ body }) =>
      body.VersionStage === "AWSPREVIOUS" ? notFound : { body: { SecretString: CURRENT } },
    );
    const { app } = mirrorAppFromEnv(
      {
        ...env,
        [ENV.mirrorApiKeySecretArn]: ARN,
        [ENV.mirrorAllowedTargets]: "127.0.0.1:1",
        [ENV.logLevel]: "error",
      },
      createMemoryMetrics(),
    );
    const res = await app.request("/api/connection", {
      method: "POST",
      headers: { "content-type": "application/json", "x-mirror-api-key": CURRENT },
      body: "{",
    });
    // the key was read and matched (a malformed body is the next thing refused), and announced
    expect(res.status).toBe(400);
    expect(res.headers.get("x-mirror-api-key")).toBe(CURRENT);
    expect(stub!.calls.filter((c) => c.refused === undefined)).toHaveLength(2);
  });
});
