import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import {
  AwsJsonClient,
  AwsServiceError,
  errorCode,
  isCredentialError,
  KINESIS_SERVICE,
  SECRETS_MANAGER_SERVICE,
} from "../../lib/aws/aws-json";
import { KinesisRecordsClient, putRecordsBody } from "../../lib/aws/kinesis-records";
import { arnRegion, SecretsManagerReader } from "../../lib/aws/secrets-manager";
import type { Env } from "../../lib/core/config";
import { createLogger } from "../../lib/core/log";
import { type AwsJsonStub, type StubAnswer, type StubCall, startAwsJsonStub } from "../support/aws-json-stub";

/**
 * The lean AWS JSON client against local stand-ins on 127.0.0.1: every signature is checked
 * with the AWS signing library (test/support/sigv4-verify.ts), and the stand-in answers with
 * the shapes the real services use, including the ones kinesis-local cannot produce on
 * demand (throttling, 5xx, resets, no answer at all).
 */

const ROLE = {
  accessKeyId: "ASIAROLEKEY",
  secretAccessKey: "role-secret-key",
  sessionToken: "role-session-token",
};
const OTHER = { accessKeyId: "AKIAOTHERKEY", secretAccessKey: "other-secret-key" };

const stubs: AwsJsonStub[] = [];
const clients: { destroy(): void }[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  for (const s of stubs.splice(0)) await s.close();
  vi.unstubAllEnvs();
});

async function stub(
  service: string,
  region: string,
  answer: (call: StubCall) => StubAnswer | Promise<StubAnswer>,
  credentials = [ROLE, OTHER],
  clockOffsetMs = 0,
) {
  const s = await startAwsJsonStub({ verify: { service, region, credentials }, answer, clockOffsetMs });
  stubs.push(s);
  return s;
}

/** A logger whose lines the test reads. */
function logger() {
  const lines: string[] = [];
  return { lines, log: createLogger("debug", (l) => lines.push(l)) };
}

const roleEnv = (over: Env = {}): Env => ({
  AWS_ACCESS_KEY_ID: ROLE.accessKeyId,
  AWS_SECRET_ACCESS_KEY: ROLE.secretAccessKey,
  AWS_SESSION_TOKEN: ROLE.sessionToken,
  ...over,
});

function kinesisClient(env: Env, region = "eu-west-1", log = logger().log) {
  const client = KinesisRecordsClient.create({ region, env, log });
  clients.push(client);
  return client;
}

/** A bare client to the stand-in, signed with the role's keys. */
function jsonClient(url: string, over: Partial<ConstructorParameters<typeof AwsJsonClient>[0]> = {}) {
  const client = new AwsJsonClient({
    service: KINESIS_SERVICE,
    region: "eu-west-1",
    endpoint: url,
    credentials: ROLE,
    ...over,
  });
  clients.push(client);
  return client;
}

const accepted = (records: unknown[]): StubAnswer => ({
  body: {
    FailedRecordCount: 0,
    Records: records.map((_, i) => ({ SequenceNumber: `4960${i}`, ShardId: "shardId-000000000001" })),
  },
});

describe("SigV4, checked by the AWS signing library", () => {
  it("Kinesis: PutRecords signed for kinesis in the region, with the session token, as JSON 1.1", async () => {
    const s = await stub("kinesis", "eu-west-1", (call) => accepted(call.body.Records));
    const client = kinesisClient(roleEnv({ AWS_ENDPOINT_URL_KINESIS: s.url }));
    const data = new Uint8Array([0, 1, 2, 253, 254, 255]);
    const out = await client.putRecords("signed-stream", [
      { data, partitionKey: "pk-1", explicitHashKey: "170141183460469231731687303715884105728" },
      { data: data.subarray(2, 4), partitionKey: "ключ ✓" },
    ]);
    expect(out).toEqual({
      failedRecordCount: 0,
      records: [
        { sequenceNumber: "49600", shardId: "shardId-000000000001" },
        { sequenceNumber: "49601", shardId: "shardId-000000000001" },
      ],
    });
    const [call] = s.calls;
    expect(call).toMatchObject({
      target: "Kinesis_20131202.PutRecords",
      contentType: "application/x-amz-json-1.1",
      accessKeyId: ROLE.accessKeyId,
    });
    expect(call!.refused).toBeUndefined();
    expect(call!.body).toEqual({
      StreamName: "signed-stream",
      Records: [
        {
          Data: Buffer.from(data).toString("base64"),
          PartitionKey: "pk-1",
          ExplicitHashKey: "170141183460469231731687303715884105728",
        },
        { Data: Buffer.from([2, 253]).toString("base64"), PartitionKey: "ключ ✓" },
      ],
    });
  });

  it("Secrets Manager: GetSecretValue signed for secretsmanager in the secret's region", async () => {
    const s = await stub("secretsmanager", "ap-southeast-2", (call) => ({
      body: { SecretString: `value-of-${call.body.VersionStage ?? "default"}` },
    }));
    const arn = "arn:aws:secretsmanager:ap-southeast-2:123456789012:secret:keys-AbCdEf";
    const reader = SecretsManagerReader.forSecret(arn, {
      env: roleEnv({ AWS_REGION: "us-east-1", AWS_ENDPOINT_URL_SECRETS_MANAGER: s.url }),
    });
    clients.push(reader);
    expect(await reader.secretString(arn, "AWSPREVIOUS")).toBe("value-of-AWSPREVIOUS");
    expect(await reader.secretString(arn)).toBe("value-of-default");
    expect(s.calls.map((c) => [c.target, c.body, c.refused])).toEqual([
      ["secretsmanager.GetSecretValue", { SecretId: arn, VersionStage: "AWSPREVIOUS" }, undefined],
      ["secretsmanager.GetSecretValue", { SecretId: arn }, undefined],
    ]);
  });

  it.each([
    [
      "a wrong secret key",
      { ...ROLE, secretAccessKey: "not-the-secret" },
      "InvalidSignatureException",
      "mismatch",
    ],
    [
      "an unknown key id",
      { ...ROLE, accessKeyId: "AKIAUNKNOWN" },
      "UnrecognizedClientException",
      "unknown-key",
    ],
    [
      "a wrong session token",
      { ...ROLE, sessionToken: "stale-token" },
      "UnrecognizedClientException",
      "wrong-token",
    ],
  ])(
    "refused with %s: the error is named by AWS's code, logged once, and carries no secret",
    async (_what, keys, code, failure) => {
      const s = await stub("kinesis", "eu-west-1", (call) => accepted(call.body.Records));
      const { lines, log } = logger();
      const client = kinesisClient(
        {
          AWS_ACCESS_KEY_ID: keys.accessKeyId,
          AWS_SECRET_ACCESS_KEY: keys.secretAccessKey,
          AWS_SESSION_TOKEN: keys.sessionToken,
          AWS_ENDPOINT_URL_KINESIS: s.url,
        },
        "eu-west-1",
        log,
      );
      const err = await client
        .putRecords("s", [{ data: new Uint8Array([1]), partitionKey: "p" }])
        .catch((e) => e);
      expect(err).toBeInstanceOf(AwsServiceError);
      expect(err.name).toBe(code);
      expect(err.statusCode).toBe(400);
      expect(s.calls.map((c) => c.refused)).toEqual([failure]);
      expect(lines.map((l) => JSON.parse(l))).toEqual([
        expect.objectContaining({
          level: "WARN",
          msg: "AWS refused the credentials",
          error: code,
          awsService: "kinesis",
          operation: "PutRecords",
        }),
      ]);
      const text = `${err.message} ${String(err.stack)} ${lines.join("\n")}`;
      for (const secret of [keys.secretAccessKey, ROLE.secretAccessKey, keys.sessionToken])
        expect(text).not.toContain(secret);
      expect(lines.join("\n")).not.toContain(keys.accessKeyId);
      expect(lines.join("\n")).not.toMatch(/[0-9a-f]{64}/); // no signature
    },
  );

  it("signed for the region and service it is configured with (a mismatch is refused)", async () => {
    const s = await stub("kinesis", "eu-west-1", (call) => accepted(call.body.Records));
    const client = kinesisClient(roleEnv({ AWS_ENDPOINT_URL_KINESIS: s.url }), "eu-central-1");
    await expect(client.putRecords("s", [{ data: new Uint8Array([1]), partitionKey: "p" }])).rejects.toThrow(
      /wrong-region/,
    );
    const wrongService = jsonClient(s.url, { service: SECRETS_MANAGER_SERVICE });
    await expect(wrongService.call("GetSecretValue", "{}")).rejects.toThrow(/wrong-service/);
  });

  it("reads the environment's keys on every call: a changed environment signs the next call", async () => {
    const s = await stub("kinesis", "eu-west-1", (call) => accepted(call.body.Records));
    const env = roleEnv({ AWS_ENDPOINT_URL_KINESIS: s.url });
    const client = kinesisClient(env);
    const entry = [{ data: new Uint8Array([7]), partitionKey: "p" }];
    await client.putRecords("s", entry);
    env.AWS_ACCESS_KEY_ID = OTHER.accessKeyId;
    env.AWS_SECRET_ACCESS_KEY = OTHER.secretAccessKey;
    delete env.AWS_SESSION_TOKEN;
    await client.putRecords("s", entry);
    expect(s.calls.map((c) => [c.accessKeyId, c.refused])).toEqual([
      [ROLE.accessKeyId, undefined],
      [OTHER.accessKeyId, undefined],
    ]);
  });

  describe("without keys in the environment", () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), "aws-json-profile-"));
      writeFileSync(
        join(dir, "credentials"),
        `[gateway-test]\naws_access_key_id = ${OTHER.accessKeyId}\naws_secret_access_key = ${OTHER.secretAccessKey}\n`,
      );
      writeFileSync(join(dir, "config"), "");
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it("falls back to the SDK's default chain (here: a profile), loaded on first use", async () => {
      // the chain reads process.env; nothing may send it to an instance metadata service
      for (const name of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"])
        vi.stubEnv(name, undefined);
      vi.stubEnv("AWS_SHARED_CREDENTIALS_FILE", join(dir, "credentials"));
      vi.stubEnv("AWS_CONFIG_FILE", join(dir, "config"));
      vi.stubEnv("AWS_PROFILE", "gateway-test");
      vi.stubEnv("AWS_EC2_METADATA_DISABLED", "true");
      vi.stubEnv("AWS_CONTAINER_CREDENTIALS_FULL_URI", undefined);
      vi.stubEnv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", undefined);
      const s = await stub("kinesis", "eu-west-1", (call) => accepted(call.body.Records));
      const client = kinesisClient({ AWS_ENDPOINT_URL_KINESIS: s.url });
      await client.putRecords("s", [{ data: new Uint8Array([1]), partitionKey: "p" }]);
      expect(s.calls.map((c) => [c.accessKeyId, c.refused])).toEqual([[OTHER.accessKeyId, undefined]]);
    });
  });

  it("a local Kinesis endpoint (KINESIS_ENDPOINT) gets fixed dummy credentials", async () => {
    const s = await stub("kinesis", "us-east-1", (call) => accepted(call.body.Records), [
      { accessKeyId: "local", secretAccessKey: "local" },
    ]);
    const client = KinesisRecordsClient.create({ region: "us-east-1", endpoint: s.url, env: roleEnv() });
    clients.push(client);
    await client.putRecords("s", [{ data: new Uint8Array([1]), partitionKey: "p" }]);
    expect(s.calls.map((c) => [c.accessKeyId, c.refused])).toEqual([["local", undefined]]);
  });
});

describe("error answers", () => {
  const entry = [{ data: new Uint8Array([1, 2, 3]), partitionKey: "p" }];

  it.each([
    [
      "HTTP 400 with a namespaced __type and message",
      {
        status: 400,
        body: {
          __type: "com.amazonaws.kinesis.v20131202#ProvisionedThroughputExceededException",
          message: "Rate exceeded for shard shardId-000000000000",
        },
      },
      "ProvisionedThroughputExceededException",
      "Rate exceeded for shard shardId-000000000000",
    ],
    [
      "HTTP 400 with a bare __type and Message",
      {
        status: 400,
        body: { __type: "ResourceNotFoundException", Message: "Stream s under account 1 not found." },
      },
      "ResourceNotFoundException",
      "Stream s under account 1 not found.",
    ],
    [
      "the code in x-amzn-ErrorType (it wins over the body)",
      {
        status: 400,
        headers: {
          "x-amzn-ErrorType":
            "AccessDeniedException:http://internal.amazon.com/coral/com.amazon.coral.service/",
        },
        body: { __type: "SomethingElse", message: "not authorized to perform kinesis:PutRecords" },
      },
      "AccessDeniedException",
      "not authorized to perform kinesis:PutRecords",
    ],
    [
      "HTTP 500 with InternalFailure",
      { status: 500, body: { __type: "InternalFailure" } },
      "InternalFailure",
      "kinesis answered PutRecords with HTTP 500",
    ],
    [
      "HTTP 503 from something that is not the service (no JSON)",
      { status: 503, body: "<html>Service Unavailable</html>" },
      "Http503",
      "kinesis answered PutRecords with HTTP 503",
    ],
  ])("%s", async (_what, answer: StubAnswer, name, message) => {
    const s = await stub("kinesis", "eu-west-1", () => answer);
    const err = await kinesisClient(roleEnv({ AWS_ENDPOINT_URL_KINESIS: s.url }))
      .putRecords("s", entry)
      .catch((e) => e);
    expect(err).toBeInstanceOf(AwsServiceError);
    expect([err.name, err.message, err.statusCode]).toEqual([
      name,
      message,
      typeof answer === "object" ? answer.status : 0,
    ]);
  });

  it("partial failures in a 200 answer come back per entry, in order", async () => {
    const s = await stub("kinesis", "eu-west-1", (call) => ({
      body: {
        FailedRecordCount: 1,
        Records: call.body.Records.map((_: unknown, i: number) =>
          i === 1
            ? { ErrorCode: "ProvisionedThroughputExceededException", ErrorMessage: "Rate exceeded" }
            : { SequenceNumber: `5${i}`, ShardId: "shardId-000000000000" },
        ),
      },
    }));
    const out = await kinesisClient(roleEnv({ AWS_ENDPOINT_URL_KINESIS: s.url })).putRecords("s", [
      ...entry,
      ...entry,
      ...entry,
    ]);
    expect(out).toEqual({
      failedRecordCount: 1,
      records: [
        { sequenceNumber: "50", shardId: "shardId-000000000000" },
        { errorCode: "ProvisionedThroughputExceededException", errorMessage: "Rate exceeded" },
        { sequenceNumber: "52", shardId: "shardId-000000000000" },
      ],
    });
  });

  it("a connection reset is a transport error (not a service error)", async () => {
    const s = await stub("kinesis", "eu-west-1", () => "reset");
    const err = await kinesisClient(roleEnv({ AWS_ENDPOINT_URL_KINESIS: s.url }))
      .putRecords("s", entry)
      .catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(AwsServiceError);
    expect(err.code).toBe("ECONNRESET");
  });

  it("no answer: the call's signal ends it, and the client's own deadline does too", async () => {
    const s = await stub("kinesis", "eu-west-1", () => "hang");
    const client = kinesisClient(roleEnv({ AWS_ENDPOINT_URL_KINESIS: s.url }));
    const byCaller = await client.putRecords("s", entry, AbortSignal.timeout(150)).catch((e) => e);
    expect(byCaller.name).toBe("TimeoutError");
    const own = jsonClient(s.url, { timeoutMs: 150 });
    const byClient = (await own.call("PutRecords", "{}").catch((e) => e)) as Error;
    expect(byClient.name).toBe("TimeoutError");
    expect(byClient.message).toMatch(/no answer from 127\.0\.0\.1:\d+ within 150 ms/);
    expect(s.calls).toHaveLength(2);
  });

  it("retries 5xx, throttling and transport failures when asked to, never a refusal", async () => {
    const answers: StubAnswer[] = [
      { status: 500, body: { __type: "InternalFailure" } },
      "reset",
      { status: 400, body: { __type: "ThrottlingException" } },
      { body: { ok: 1 } },
    ];
    const s = await stub("secretsmanager", "eu-west-1", (call) => answers[call.n - 1] ?? { status: 500 });
    const client = jsonClient(s.url, { service: SECRETS_MANAGER_SERVICE, maxAttempts: 4 });
    expect(await client.call("GetSecretValue", "{}")).toEqual({ ok: 1 });
    expect(s.calls).toHaveLength(4);

    const refusing = await stub("secretsmanager", "eu-west-1", () => ({
      status: 400,
      body: { __type: "AccessDeniedException", message: "no" },
    }));
    const once = jsonClient(refusing.url, { service: SECRETS_MANAGER_SERVICE, maxAttempts: 4 });
    await expect(once.call("GetSecretValue", "{}")).rejects.toMatchObject({ name: "AccessDeniedException" });
    expect(refusing.calls).toHaveLength(1);
  });

  it("a 200 answer that is not JSON is an error that does not echo the body", async () => {
    const s = await stub("secretsmanager", "eu-west-1", () => ({ body: '{"SecretString":"hunter2-secret' }));
    const client = jsonClient(s.url, { service: SECRETS_MANAGER_SERVICE });
    const err = (await client.call("GetSecretValue", "{}").catch((e) => e)) as Error;
    expect(err.name).toBe("InvalidResponse");
    expect(`${err.message} ${err.stack}`).not.toContain("hunter2");
  });
});

describe("clock skew, corrected as the SDK does", () => {
  const body = putRecordsBody("s", [{ data: new Uint8Array([1]), partitionKey: "p" }]);
  const TEN_MINUTES = 10 * 60_000;

  it.each([
    [
      "behind",
      TEN_MINUTES,
      /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 5 min\.\)$/,
    ],
    [
      "ahead of",
      -TEN_MINUTES,
      /^Signature not yet current: \d{8}T\d{6}Z is still later than \d{8}T\d{6}Z \(\d{8}T\d{6}Z \+ 5 min\.\)$/,
    ],
  ])(
    "a clock 10 minutes %s the server's: the refusal's Date sets the offset, the call goes again at once, the next needs no retry",
    async (_what, serverOffset, wording) => {
      const s = await stub(
        "kinesis",
        "eu-west-1",
        (call) => accepted(call.body.Records),
        [ROLE],
        serverOffset,
      );
      const { lines, log } = logger();
      const client = jsonClient(s.url, { log }); // one attempt per call
      expect(await client.call("PutRecords", body)).toMatchObject({ FailedRecordCount: 0 });
      expect(s.calls.map((c) => c.refused)).toEqual(["expired", undefined]);
      expect(s.calls[0]!.refusal).toMatchObject({ code: "InvalidSignatureException" });
      expect(s.calls[0]!.refusal!.message).toMatch(wording);
      // the Date header counts whole seconds
      expect(Math.abs(client.systemClockOffset - serverOffset)).toBeLessThan(2_000);
      await client.call("PutRecords", body);
      expect(s.calls.map((c) => c.refused)).toEqual(["expired", undefined, undefined]);
      expect(lines).toEqual([]);
    },
  );

  it("the Secrets Manager reader (three attempts) corrects its clock the same way, in one extra call", async () => {
    const s = await stub(
      "secretsmanager",
      "eu-west-1",
      () => ({ body: { SecretString: "v" } }),
      [ROLE],
      TEN_MINUTES,
    );
    const arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:keys-AbCdEf";
    const reader = SecretsManagerReader.forSecret(arn, {
      env: roleEnv({ AWS_ENDPOINT_URL_SECRETS_MANAGER: s.url }),
    });
    clients.push(reader);
    expect(await reader.secretString(arn)).toBe("v");
    expect(await reader.secretString(arn)).toBe("v");
    expect(s.calls.map((c) => c.refused)).toEqual(["expired", undefined, undefined]);
  });

  it.each([1, 4])(
    "a server that keeps refusing for the time: one retry, then its error (maxAttempts %i)",
    async (maxAttempts) => {
      // an hour ahead: refused for the signature's time, then for anything else it sees
      const HOUR = 3_600_000;
      const skewed: StubAnswer = {
        status: 400,
        body: {
          __type: "RequestTimeTooSkewed",
          message: "The difference between the request time and the server's time is too large.",
        },
      };
      const s = await stub("kinesis", "eu-west-1", () => skewed, [ROLE], HOUR);
      const { lines, log } = logger();
      const client = jsonClient(s.url, { maxAttempts, log });
      const err = (await client.call("PutRecords", body).catch((e) => e)) as AwsServiceError;
      expect(err).toBeInstanceOf(AwsServiceError);
      expect(err.name).toBe("RequestTimeTooSkewed");
      expect(s.calls.map((c) => c.refused)).toEqual(["expired", undefined]);
      expect(Math.abs(client.systemClockOffset - HOUR)).toBeLessThan(2_000);
      expect(lines).toEqual([]);
    },
  );

  it("an access refusal from a server 4.5 minutes ahead is taken for skew (the SDK's list has it); with the clocks agreeing it is not", async () => {
    // within AWS's 5 minutes, so the signature passes, but past the SDK's 4-minute threshold
    const AHEAD = 270_000;
    const denied: StubAnswer = {
      status: 400,
      body: { __type: "AccessDeniedException", message: "not authorized" },
    };
    const skewed = await stub(
      "kinesis",
      "eu-west-1",
      (call) => (call.n === 1 ? denied : { body: { ok: 1 } }),
      [ROLE],
      AHEAD,
    );
    const corrected = jsonClient(skewed.url);
    expect(await corrected.call("PutRecords", body)).toEqual({ ok: 1 });
    expect(skewed.calls).toHaveLength(2);
    expect(Math.abs(corrected.systemClockOffset - AHEAD)).toBeLessThan(2_000);

    const agreeing = await stub("kinesis", "eu-west-1", () => denied);
    const client = jsonClient(agreeing.url, { maxAttempts: 3 });
    await expect(client.call("PutRecords", body)).rejects.toMatchObject({ name: "AccessDeniedException" });
    expect(agreeing.calls).toHaveLength(1);
    expect(client.systemClockOffset).toBe(0);
  });

  it.each([
    ["a cached answer (Age)", { __type: "RequestExpired" }, { age: "30" }],
    ["an error that is not about time", { __type: "ResourceNotFoundException" }, {}],
  ])("%s: its Date does not move the clock", async (_what, errorBody, headers) => {
    const s = await stub("kinesis", "eu-west-1", () => ({
      status: 400,
      headers: { date: new Date(Date.now() + 3_600_000).toUTCString(), ...headers },
      body: errorBody,
    }));
    const client = jsonClient(s.url, { maxAttempts: 3 });
    await expect(client.call("PutRecords", body)).rejects.toMatchObject({ name: errorBody.__type });
    expect(s.calls).toHaveLength(1);
    expect(client.systemClockOffset).toBe(0);
  });
});

describe("refused credentials end the call at once", () => {
  it.each([
    ["ExpiredTokenException", "The security token included in the request is expired"],
    ["ExpiredToken", "The security token included in the request is expired"],
    ["UnrecognizedClientException", "The security token included in the request is invalid."],
    ["InvalidClientTokenId", "The security token included in the request is invalid."],
    [
      "InvalidSignatureException",
      "The request signature we calculated does not match the signature you provided.",
    ],
    ["IncompleteSignature", "Authorization header requires 'Signature' parameter."],
    ["MissingAuthenticationToken", "Missing Authentication Token"],
    ["AccessDeniedException", "User is not authorized to perform: secretsmanager:GetSecretValue"],
  ])(
    "%s: one call whatever maxAttempts, one warning line, the error named by the code",
    async (code, message) => {
      const s = await stub("secretsmanager", "eu-west-1", () => ({
        status: 400,
        headers: { "x-amzn-RequestId": "req-1" },
        body: { __type: code, message },
      }));
      const { lines, log } = logger();
      const client = jsonClient(s.url, { service: SECRETS_MANAGER_SERVICE, maxAttempts: 5, log });
      const err = (await client.call("GetSecretValue", "{}").catch((e) => e)) as AwsServiceError;
      expect(err).toBeInstanceOf(AwsServiceError);
      expect([err.name, err.message]).toEqual([code, message]);
      expect(isCredentialError(err.name, err.message)).toBe(true);
      expect(s.calls).toHaveLength(1);
      expect(lines.map((l) => JSON.parse(l))).toEqual([
        {
          level: "WARN",
          timestamp: expect.any(String),
          msg: "AWS refused the credentials",
          error: code,
          awsService: "secretsmanager",
          operation: "GetSecretValue",
          status: 400,
          requestId: "req-1",
        },
      ]);
    },
  );

  it.each([
    ["ThrottlingException", ""],
    ["ResourceNotFoundException", ""],
    [
      "InvalidSignatureException",
      "Signature expired: 20240301T120000Z is now earlier than 20240301T120500Z (20240301T121000Z - 5 min.)",
    ],
    ["RequestExpired", "Request has expired."],
  ])("%s is not a credential refusal", (name, message) => {
    expect(isCredentialError(name, message)).toBe(false);
  });
});

describe("error codes and bodies", () => {
  it.each([
    ["com.amazonaws.kinesis.v20131202#ResourceNotFoundException", "ResourceNotFoundException"],
    [
      "ResourceNotFoundException:http://internal.amazon.com/coral/com.amazonaws.kinesis/",
      "ResourceNotFoundException",
    ],
    ["ThrottlingException", "ThrottlingException"],
    ["aws.protocoltests#ComplexError:http://x, other", "ComplexError"],
  ])("error code of %s is %s", (raw, want) => {
    expect(errorCode(raw)).toBe(want);
  });

  it("the region of a secret comes from its ARN", () => {
    expect(arnRegion("arn:aws:secretsmanager:eu-north-1:123456789012:secret:k-1")).toBe("eu-north-1");
    expect(arnRegion("arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:k-1")).toBe("cn-north-1");
    expect(arnRegion("my-secret-name")).toBeUndefined();
  });

  it("the PutRecords body is the JSON the SDK would send", () => {
    const data = Uint8Array.from({ length: 256 }, (_, i) => i);
    const entries = [
      { data: data.subarray(10, 200), partitionKey: 'quote " back \\ slash', explicitHashKey: "42" },
      { data, partitionKey: "ünïcødé", explicitHashKey: "" },
    ];
    expect(JSON.parse(putRecordsBody("stream-\u2028", entries))).toEqual({
      StreamName: "stream-\u2028",
      Records: [
        {
          Data: Buffer.from(data.subarray(10, 200)).toString("base64"),
          PartitionKey: 'quote " back \\ slash',
          ExplicitHashKey: "42",
        },
        { Data: Buffer.from(data).toString("base64"), PartitionKey: "ünïcødé" },
      ],
    });
  });
});
