import { Annotations, Match } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../infra/config";
import { stackPlacement } from "../../infra/environment";
import { ENV } from "../../lib/core/env-names";
import { type CfnResource, functionOf, resourcesOf, synthGateway } from "./synth";

/** The security options of docs/security.md, each on the synthesized template. */

const KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/0a1b2c3d-4e5f-6789-abcd-ef0123456789";
const WEB_ACL_ARN =
  "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/gateway/0a1b2c3d-4e5f-6789-abcd-ef0123456789";
const FORWARD = {
  forwardUrl: "https://stackstate.example.com/receiver/prometheus/api/v1/write",
  forwardAuth: "header",
  forwardHeaderName: "sts-api-key",
};

const defaults = synthGateway({ stackstateCidrs: "198.51.100.0/24", ...FORWARD });
const created = synthGateway({ kmsKey: "create", stackstateCidrs: "198.51.100.0/24", ...FORWARD });
const imported = synthGateway({ kmsKey: KEY_ARN, ...FORWARD });

const envOf = (json: Record<string, unknown>, prefix: string) =>
  functionOf(json, prefix).Properties.Environment.Variables as Record<string, unknown>;
const INGEST = "Prometheus remote_write";
const MIRROR = "StackState Prometheus mirror";

/** Every statement of every inline policy of the template. */
function statements(json: Record<string, unknown>) {
  return Object.values(resourcesOf(json, "AWS::IAM::Policy")).flatMap(
    (p: CfnResource) => p.Properties.PolicyDocument.Statement,
  ) as Array<{ Action: string | string[]; Resource: unknown }>;
}
const actions = (s: { Action: string | string[] }) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

describe("kmsKey", () => {
  it("aws-managed by default: aws/kinesis, no key of ours, no KmsKeyId on secrets or log groups", () => {
    defaults.template.resourceCountIs("AWS::KMS::Key", 0);
    defaults.template.hasResourceProperties("AWS::Kinesis::Stream", {
      StreamEncryption: { EncryptionType: "KMS", KeyId: "alias/aws/kinesis" },
    });
    for (const secret of Object.values(resourcesOf(defaults.json, "AWS::SecretsManager::Secret"))) {
      expect(secret.Properties.KmsKeyId).toBeUndefined();
    }
    for (const group of Object.values(resourcesOf(defaults.json, "AWS::Logs::LogGroup"))) {
      expect(group.Properties.KmsKeyId).toBeUndefined();
    }
    expect(Object.keys(defaults.json.Outputs as object)).not.toContain("KmsKeyArn");
  });

  it("create: one rotated key, retained, used by the stream, every secret and every log group", () => {
    created.template.resourceCountIs("AWS::KMS::Key", 1);
    created.template.hasResource("AWS::KMS::Key", {
      Properties: { EnableKeyRotation: true },
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
    });
    const [keyId] = Object.keys(resourcesOf(created.json, "AWS::KMS::Key"));
    const keyArn = { "Fn::GetAtt": [keyId, "Arn"] };
    created.template.hasResourceProperties("AWS::Kinesis::Stream", {
      StreamEncryption: { EncryptionType: "KMS", KeyId: keyArn },
    });
    const secrets = Object.values(resourcesOf(created.json, "AWS::SecretsManager::Secret"));
    expect(secrets).toHaveLength(3); // ingest key, mirror key, forwarder credential
    for (const secret of secrets) expect(secret.Properties.KmsKeyId).toEqual(keyArn);
    const groups = Object.values(resourcesOf(created.json, "AWS::Logs::LogGroup"));
    expect(groups.length).toBeGreaterThanOrEqual(6);
    for (const group of groups) expect(group.Properties.KmsKeyId).toEqual(keyArn);
    expect(Object.keys(created.json.Outputs as object)).toContain("KmsKeyArn");
  });

  it("create: the key policy lets CloudWatch Logs use it for this account's log groups only", () => {
    created.template.hasResourceProperties("AWS::KMS::Key", {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: { "Fn::Join": ["", ["logs.", { Ref: "AWS::Region" }, ".amazonaws.com"]] } },
            Action: Match.arrayWith(["kms:Decrypt*", "kms:Encrypt*", "kms:GenerateDataKey*"]),
            Condition: {
              ArnLike: {
                "kms:EncryptionContext:aws:logs:arn": Match.objectLike({ "Fn::Join": Match.anyValue() }),
              },
            },
          }),
        ]),
      },
    });
  });

  it("create: the functions get exactly the key use their writes and reads need", () => {
    const all = statements(created.json);
    const onKey = all.filter((s) => actions(s).some((a) => a.startsWith("kms:")));
    const kmsActions = new Set(onKey.flatMap(actions));
    expect(kmsActions.has("kms:GenerateDataKey")).toBe(true); // PutRecords
    expect(kmsActions.has("kms:Decrypt")).toBe(true); // secrets, the forwarder's GetRecords
    expect([...kmsActions].some((a) => a === "kms:*" || a.startsWith("kms:Create"))).toBe(false);
  });

  it("an existing key ARN: no key created, the ARN on the stream, secrets and log groups", () => {
    imported.template.resourceCountIs("AWS::KMS::Key", 0);
    imported.template.hasResourceProperties("AWS::Kinesis::Stream", {
      StreamEncryption: { EncryptionType: "KMS", KeyId: KEY_ARN },
    });
    for (const group of Object.values(resourcesOf(imported.json, "AWS::Logs::LogGroup"))) {
      expect(group.Properties.KmsKeyId).toBe(KEY_ARN);
    }
    for (const secret of Object.values(resourcesOf(imported.json, "AWS::SecretsManager::Secret"))) {
      expect(secret.Properties.KmsKeyId).toBe(KEY_ARN);
    }
  });

  it.each([
    ["arn:aws:kms:eu-west-1:123456789012:alias/gateway", /kmsKey/],
    ["arn:aws:kms:eu-west-1:123456789012:key/*", /kmsKey/],
    ["managed", /kmsKey/],
  ])("refuses %s", (value, message) => {
    expect(() => parseConfig({ kmsKey: value })).toThrow(message);
  });

  it("refuses a key of another region than the stack's", () => {
    expect(() => parseConfig({ kmsKey: KEY_ARN, region: "us-east-1" })).toThrow(
      /kmsKey: the key is in eu-west-1/,
    );
  });
});

describe("ingestAllowedCidrs", () => {
  it("unset by default: INGEST_ALLOWED_CIDRS absent, every source answered", () => {
    expect(envOf(defaults.json, INGEST)[ENV.ingestAllowedCidrs]).toBeUndefined();
  });

  it("set: the function answers only those sources", () => {
    const { json } = synthGateway({ ingestAllowedCidrs: "203.0.113.0/24,198.51.100.7/32" });
    expect(envOf(json, INGEST)[ENV.ingestAllowedCidrs]).toBe("203.0.113.0/24,198.51.100.7/32");
  });

  it.each(["203.0.113.0/33", "10.0.0.0/8,10.0.0.0/8", "2001:db8::/32"])("refuses %s", (value) => {
    expect(() => parseConfig({ ingestAllowedCidrs: value })).toThrow(/ingestAllowedCidrs/);
  });

  it("belongs to the ingest component", () => {
    expect(() => parseConfig({ components: "mirror", ingestAllowedCidrs: "203.0.113.0/24" })).toThrow(
      /ingestAllowedCidrs: applies only when components include ingest/,
    );
  });
});

describe("mirrorWebAclArn", () => {
  it("none by default", () => {
    defaults.template.resourceCountIs("AWS::WAFv2::WebACLAssociation", 0);
  });

  it("associates the given web ACL with the mirror API's stage", () => {
    const { template, json } = synthGateway({
      mirrorWebAclArn: WEB_ACL_ARN,
      stackstateCidrs: "198.51.100.0/24",
    });
    template.resourceCountIs("AWS::WAFv2::WebACLAssociation", 1);
    const [association] = Object.values(resourcesOf(json, "AWS::WAFv2::WebACLAssociation"));
    expect(association!.Properties.WebACLArn).toBe(WEB_ACL_ARN);
    const stage = Object.keys(resourcesOf(json, "AWS::ApiGateway::Stage"))[0]!;
    expect(JSON.stringify(association!.Properties.ResourceArn)).toContain(stage);
  });

  it("refuses what is not a regional web ACL", () => {
    expect(() => parseConfig({ mirrorWebAclArn: WEB_ACL_ARN.replace("regional", "global") })).toThrow(
      /mirrorWebAclArn/,
    );
  });
});

describe("the mirror key: keyless callers trusted only from stackstateCidrs", () => {
  it("by default MIRROR_TRUSTED_CIDRS is stackstateCidrs", () => {
    expect(envOf(defaults.json, MIRROR)[ENV.mirrorTrustedCidrs]).toBe("198.51.100.0/24");
    const closed = synthGateway();
    expect(envOf(closed.json, MIRROR)[ENV.mirrorTrustedCidrs]).toBe("");
  });

  it("mirrorKeylessCallers=any leaves it unset (every caller the API admits)", () => {
    const { json } = synthGateway({ mirrorKeylessCallers: "any", stackstateCidrs: "198.51.100.0/24" });
    expect(envOf(json, MIRROR)[ENV.mirrorTrustedCidrs]).toBeUndefined();
  });
});

describe("apiGatewayLogsRole", () => {
  it("false by default: the account's setting is left alone", () => {
    defaults.template.resourceCountIs("AWS::ApiGateway::Account", 0);
  });
});

describe("secrets to fill are outputs (ARN and a command, never a value)", () => {
  it("the forwarder's created credential", () => {
    const outputs = defaults.json.Outputs as Record<string, { Value: unknown }>;
    const [secretId] = Object.keys(resourcesOf(defaults.json, "AWS::SecretsManager::Secret")).filter((id) =>
      id.startsWith("ForwarderCredential"),
    );
    expect(outputs.ForwarderCredentialSecretArn?.Value).toEqual({ Ref: secretId });
    expect(JSON.stringify(outputs.PutForwarderCredentialCommand?.Value)).toContain("put-secret-value");
  });

  it("no forwarder secret output when the forwarder needs none", () => {
    const { json } = synthGateway({
      forwardUrl: "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-abc/api/v1/remote_write",
      forwardAuth: "sigv4",
      forwardAmpWorkspaceArn: "arn:aws:aps:eu-west-1:123456789012:workspace/ws-abc",
    });
    expect(Object.keys(json.Outputs as object)).not.toContain("ForwarderCredentialSecretArn");
  });
});

describe("X-Ray tracing", () => {
  it("every function traces actively, and the mirror's REST stage traces too", () => {
    const functions = Object.values(resourcesOf(defaults.json, "AWS::Lambda::Function"));
    expect(functions.length).toBe(3);
    for (const fn of functions) expect(fn.Properties.TracingConfig).toEqual({ Mode: "Active" });
    defaults.template.hasResourceProperties("AWS::ApiGateway::Stage", { TracingEnabled: true });
  });
});

describe("account and region", () => {
  it("context keys win over the CLI's defaults, and synth says which", () => {
    const placed = stackPlacement(
      { stackName: "G", account: "123456789012", region: "eu-west-1" },
      { CDK_DEFAULT_ACCOUNT: "210987654321", CDK_DEFAULT_REGION: "us-east-1" },
    );
    expect(placed.env).toEqual({ account: "123456789012", region: "eu-west-1" });
    expect(placed.line).toBe("G: account 123456789012, region eu-west-1");
  });

  it("the CLI's defaults are used when no key is set", () => {
    const placed = stackPlacement(
      { stackName: "G" },
      { CDK_DEFAULT_ACCOUNT: "210987654321", CDK_DEFAULT_REGION: "us-east-1" },
    );
    expect(placed.env).toEqual({ account: "210987654321", region: "us-east-1" });
    expect(placed.line).toBe(
      "G: account 210987654321 (from CDK_DEFAULT_ACCOUNT), region us-east-1 (from CDK_DEFAULT_REGION)",
    );
  });

  it("nothing known: an environment-agnostic stack, and the line says how to pin it", () => {
    const placed = stackPlacement({ stackName: "G" }, {});
    expect(placed.env).toEqual({});
    expect(placed.line).toContain("region not set (decided at deploy time; set -c region=...)");
  });

  it("an explicit env pins the template's region", () => {
    const { stack, template } = synthGateway({}, { env: { account: "123456789012", region: "eu-west-1" } });
    expect(stack.region).toBe("eu-west-1");
    expect(stack.account).toBe("123456789012");
    // nothing is looked up: the created VPC's zones stay Fn::GetAZs, and no error is annotated
    expect(Annotations.fromStack(stack).findError("*", Match.anyValue())).toEqual([]);
    template.hasResourceProperties("AWS::EC2::Subnet", {
      AvailabilityZone: { "Fn::Select": [0, { "Fn::GetAZs": "" }] },
    });
  });

  it.each([
    [{ account: "12345" }, /account/],
    [{ region: "Europe" }, /region/],
  ])("refuses %j", (context, message) => {
    expect(() => parseConfig(context)).toThrow(message);
  });
});
