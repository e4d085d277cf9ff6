import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StandInCredentials } from "../../support/sigv4-standin";
import { type StsStandIn, startStsStandIn } from "../../support/sts-standin";

/** The STS stand-in answers the AWS SDK's AssumeRole and refuses what STS refuses. */

const REGION = "eu-west-1";
const CALLER: StandInCredentials = {
  accessKeyId: "AKIACALLER0000000001",
  secretAccessKey: "caller-secret-0123456789",
};
const ROLE = "arn:aws:iam::123456789012:role/r";

describe("STS AssumeRole stand-in", () => {
  let sts: StsStandIn;
  const issued: StandInCredentials[] = [];
  beforeAll(async () => {
    sts = await startStsStandIn({
      region: REGION,
      callers: [CALLER],
      roles: [{ arn: ROLE, externalId: "ext" }],
      issued,
    });
  });
  afterAll(async () => {
    await sts?.close();
  });

  const client = (credentials: StandInCredentials, region = REGION) =>
    new STSClient({ region, endpoint: sts.url, credentials, maxAttempts: 1 });
  const assume = (c: STSClient, externalId = "ext", roleArn = ROLE) =>
    c.send(
      new AssumeRoleCommand({
        RoleArn: roleArn,
        RoleSessionName: "sess",
        ExternalId: externalId,
        DurationSeconds: 1200,
      }),
    );

  it("issues temporary credentials and records the call", async () => {
    const before = issued.length;
    const out = await assume(client(CALLER));
    expect(out.Credentials?.AccessKeyId).toMatch(/^ASIA/);
    expect(out.Credentials?.Expiration?.getTime()).toBeGreaterThan(Date.now() + 1_100_000);
    expect(issued.length).toBe(before + 1);
    expect(issued.at(-1)).toEqual({
      accessKeyId: out.Credentials?.AccessKeyId,
      secretAccessKey: out.Credentials?.SecretAccessKey,
      sessionToken: out.Credentials?.SessionToken,
    });
    expect(sts.calls.at(-1)).toEqual({
      roleArn: ROLE,
      externalId: "ext",
      roleSessionName: "sess",
      durationSeconds: 1200,
      callerKeyId: CALLER.accessKeyId,
      status: 200,
    });
  });

  it.each([
    [
      "a wrong secret",
      () => assume(client({ ...CALLER, secretAccessKey: "wrong" })),
      "SignatureDoesNotMatch",
    ],
    [
      "an unknown key",
      () => assume(client({ accessKeyId: "AKIANOBODY", secretAccessKey: "x" })),
      "InvalidClientTokenId",
    ],
    ["another region", () => assume(client(CALLER, "us-east-1")), "SignatureDoesNotMatch"],
    ["a wrong external id", () => assume(client(CALLER), "other"), "AccessDenied"],
    ["an unknown role", () => assume(client(CALLER), "ext", "arn:aws:iam::1:role/x"), "AccessDenied"],
  ])("refuses %s", async (_, call, code) => {
    const before = issued.length;
    const err = (await call().catch((e: unknown) => e)) as { name?: string };
    expect(err.name).toBe(code);
    expect(issued.length).toBe(before);
    expect(sts.calls.at(-1)?.refused).toContain(code);
  });

  it("refuses an unsigned request", async () => {
    const res = await fetch(sts.url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `Action=AssumeRole&Version=2011-06-15&RoleArn=${encodeURIComponent(ROLE)}&RoleSessionName=s`,
    });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("MissingAuthenticationToken");
  });
});
