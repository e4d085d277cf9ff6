import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";
import { describe, expect, it } from "vitest";
import { NodeSha256 } from "../../../lib/aws/node-sha256";

/** The node:crypto hash the signers use, against the AWS SDK's JavaScript SHA-256 (the reference). */
const inputs: [string, string | Uint8Array][] = [
  ["empty", ""],
  ["text", "AWS4-HMAC-SHA256\n20260101T000000Z\nscope"],
  ["unicode", "ключ ✓"],
  ["bytes", Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff)],
  ["a view into a larger buffer", Uint8Array.from({ length: 300 }, (_, i) => i & 0xff).subarray(13, 250)],
];

async function both(secret: string | Uint8Array | undefined, data: string | Uint8Array) {
  const ours = new NodeSha256(secret);
  const reference = new Sha256(secret);
  ours.update(data);
  reference.update(data);
  return [
    Buffer.from(await ours.digest()).toString("hex"),
    Buffer.from(await reference.digest()).toString("hex"),
  ];
}

describe("NodeSha256", () => {
  it.each(inputs)("SHA-256 of %s equals the reference", async (_name, data) => {
    const [ours, reference] = await both(undefined, data);
    expect(ours).toBe(reference);
  });

  it.each(inputs)(
    "HMAC-SHA-256 of %s equals the reference, with a string and a byte key",
    async (_name, data) => {
      for (const key of ["AWS4secret", Uint8Array.from([1, 2, 3, 250]), new ArrayBuffer(40)]) {
        const [ours, reference] = await both(key as string | Uint8Array, data);
        expect(ours).toBe(reference);
      }
    },
  );

  it("hashes again from the start after reset()", async () => {
    const h = new NodeSha256("k");
    h.update("first");
    await h.digest();
    h.reset();
    h.update("second");
    const [, reference] = await both("k", "second");
    expect(Buffer.from(await h.digest()).toString("hex")).toBe(reference);
  });

  it("signs exactly as the signer does with the reference hash", async () => {
    const request = {
      method: "POST",
      protocol: "https:",
      hostname: "kinesis.eu-west-1.amazonaws.com",
      path: "/",
      query: {},
      headers: { host: "kinesis.eu-west-1.amazonaws.com", "x-amz-target": "Kinesis_20131202.PutRecords" },
      body: '{"StreamName":"s","Records":[]}',
    };
    const credentials = { accessKeyId: "AKID", secretAccessKey: "secret", sessionToken: "token" };
    const signingDate = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
    const sign = (sha256: typeof Sha256 | typeof NodeSha256) =>
      new SignatureV4({ credentials, region: "eu-west-1", service: "kinesis", sha256 }).sign(request, {
        signingDate,
      });
    const [ours, reference] = await Promise.all([sign(NodeSha256), sign(Sha256)]);
    expect(ours.headers.authorization).toBe(reference.headers.authorization);
    expect(ours.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKID\/20260102\/eu-west-1\/kinesis\/aws4_request/,
    );
  });
});
