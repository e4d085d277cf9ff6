import { describe, expect, it } from "vitest";
import { asStoreError } from "../../../functions/mirror/app";
import { AwsCredentialSource, CredentialsUnavailableError } from "../../../lib/aws/credentials";
import { sigv4Signer } from "../../../lib/aws/sigv4";
import { type AwsSettings, regionFromHost } from "../../../lib/mirror/aws-settings";
import { MirrorError } from "../../../lib/mirror/errors";

/** Credential order and failures without STS (the role path runs against an STS stand-in in test/e2e/mirror/amp.test.ts). */

const base: AwsSettings = { roleSessionName: "s", durationSeconds: 900, region: "eu-west-1" };
const OWN = { accessKeyId: "AKIAOWN", secretAccessKey: "own-secret-value" };

describe("AwsCredentialSource", () => {
  it("uses given keys as they are, before the function's own credentials", async () => {
    let ownCalls = 0;
    const source = new AwsCredentialSource({
      own: async () => {
        ownCalls++;
        return OWN;
      },
    });
    const given = { ...base, accessKeyId: "AKIAGIVEN", secretAccessKey: "given-secret", sessionToken: "tok" };
    expect(source.origin(given)).toBe("given keys");
    expect(await source.credentials(given)).toEqual({
      accessKeyId: "AKIAGIVEN",
      secretAccessKey: "given-secret",
      sessionToken: "tok",
    });
    expect(ownCalls).toBe(0);
    expect(source.origin(base)).toBe("function credentials");
    expect(await source.credentials(base)).toEqual(OWN);
    expect(ownCalls).toBe(1);
    // half a key pair is no key pair
    expect(await source.credentials({ ...base, accessKeyId: "AKIAHALF" })).toEqual(OWN);
    expect(source.origin({ ...base, roleArn: "arn:aws:iam::1:role/r" })).toBe("assumed role");
  });

  it("an unavailable default chain is a 502 error object saying so, without secrets", async () => {
    const source = new AwsCredentialSource({
      own: async () => {
        throw Object.assign(new Error("Could not load credentials from any providers"), {
          name: "CredentialsProviderError",
        });
      },
    });
    const err = await source.credentials(base).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CredentialsUnavailableError);
    // the mirror answers it as a store it cannot reach
    const answered = await Promise.reject(err)
      .catch(asStoreError)
      .catch((e: unknown) => e);
    expect(answered).toBeInstanceOf(MirrorError);
    expect((answered as MirrorError).status).toBe(502);
    expect((answered as MirrorError).body).toEqual({
      _type: "MetricStoreConnectionError",
      details:
        "[aws-credentials-failed] the function's own AWS credentials could not be loaded: CredentialsProviderError (Could not load credentials from any providers)",
    });
  });
});

describe("SigV4 signing", () => {
  it.each([
    ["aps-workspaces.eu-west-1.amazonaws.com", "eu-west-1"],
    ["APS-WORKSPACES.us-gov-west-1.amazonaws.com.", "us-gov-west-1"],
    ["aps-workspaces.cn-north-1.amazonaws.com.cn", "cn-north-1"],
    ["aps-workspaces.us-iso-east-1.c2s.ic.gov", "us-iso-east-1"],
    ["aps-workspaces.us-isob-east-1.sc2s.sgov.gov", "us-isob-east-1"],
    ["aps-workspaces.eu-isoe-west-1.cloud.adc-e.uk", "eu-isoe-west-1"],
    ["aps-workspaces.us-isof-south-1.csp.hci.ic.gov", "us-isof-south-1"],
    ["aps-workspaces.eusc-de-east-1.amazonaws.eu", "eusc-de-east-1"],
    ["aps-workspaces.us-east-1.api.aws", "us-east-1"], // dual-stack
    // not a workspace host
    ["aps-workspaces.eu-west-1.amazonaws.com.evil.example", undefined],
    ["aps-workspaces.cn-north-1.amazonaws.com", undefined], // another partition's suffix
    ["aps-workspaces.eu-west-1.amazonaws.com.cn", undefined],
    ["evil-aps-workspaces.eu-west-1.amazonaws.com", undefined],
    ["127.0.0.1", undefined],
  ])("the region of the host %s is %s", (host, region) => {
    expect(regionFromHost(host)).toBe(region);
  });

  it("signs host, date, token, path and query; leaves host to the HTTP client", async () => {
    const sign = sigv4Signer(
      async () => ({ accessKeyId: "AKIAX", secretAccessKey: "s", sessionToken: "t" }),
      "eu-west-1",
    );
    const headers = await sign({
      method: "GET",
      url: new URL(
        "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/api/v1/query?query=up%7Ba%3D%22b%22%7D&time=1.000",
      ),
    });
    expect(Object.keys(headers).map((h) => h.toLowerCase())).not.toContain("host");
    expect(headers["x-amz-security-token"]).toBe("t");
    expect(headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIAX\/\d{8}\/eu-west-1\/aps\/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/,
    );
  });
});
