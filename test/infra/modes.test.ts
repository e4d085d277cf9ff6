import { App } from "aws-cdk-lib";
import { Match } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../infra/config";
import { GatewayStack } from "../../infra/gateway-stack";
import { ENV } from "../../lib/core/env-names";
import { type CfnResource, cdkJsonContext, PREBUILT, resourcesOf, synthGateway, warnings } from "./synth";

const IMPORTED = {
  vpc: "vpc-0123456789abcdef0",
  vpcSubnetIds: "subnet-0aaaaaaaaaaaaaaa1,subnet-0bbbbbbbbbbbbbbb2",
  vpcAvailabilityZones: "eu-west-1a,eu-west-1b",
};

function mirrorFunction(json: Record<string, unknown>): CfnResource {
  return Object.values(resourcesOf(json, "AWS::Lambda::Function")).find((f) =>
    String(f.Properties.Description).startsWith("StackState"),
  )!;
}

describe("stream modes", () => {
  it("provisioned with a shard count", () => {
    const { template } = synthGateway({ streamMode: "provisioned", streamShards: "3" });
    template.hasResourceProperties("AWS::Kinesis::Stream", {
      StreamModeDetails: { StreamMode: "PROVISIONED" },
      ShardCount: 3,
      StreamEncryption: { EncryptionType: "KMS", KeyId: "alias/aws/kinesis" },
    });
  });

  it("on-demand without a shard count", () => {
    const { template } = synthGateway({ streamMode: "on-demand", streamRetentionHours: "168" });
    template.hasResourceProperties("AWS::Kinesis::Stream", {
      StreamModeDetails: { StreamMode: "ON_DEMAND" },
      ShardCount: Match.absent(),
      RetentionPeriodHours: 168,
    });
  });
});

describe("imported VPC", () => {
  const imported = synthGateway(IMPORTED);

  it("creates no VPC, subnets or NAT, and looks nothing up", () => {
    imported.template.resourceCountIs("AWS::EC2::VPC", 0);
    imported.template.resourceCountIs("AWS::EC2::Subnet", 0);
    imported.template.resourceCountIs("AWS::EC2::NatGateway", 0);
    const missing = imported.app.synth().manifest.missing ?? [];
    expect(missing).toEqual([]);
  });

  it("places the mirror in the given subnets with a created, egress-limited security group", () => {
    const fn = mirrorFunction(imported.json);
    expect(fn.Properties.VpcConfig.SubnetIds).toEqual([
      "subnet-0aaaaaaaaaaaaaaa1",
      "subnet-0bbbbbbbbbbbbbbb2",
    ]);
    imported.template.hasResourceProperties("AWS::EC2::SecurityGroup", {
      VpcId: "vpc-0123456789abcdef0",
      SecurityGroupEgress: [Match.objectLike({ FromPort: 9090, ToPort: 9090, IpProtocol: "tcp" })],
    });
    imported.template.hasResourceProperties("AWS::EC2::VPCEndpoint", {
      VpcId: "vpc-0123456789abcdef0",
      SubnetIds: ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"],
      PrivateDnsEnabled: true,
    });
  });

  it("uses a given security group as is, adding no rules to it", () => {
    const { json, template } = synthGateway({ ...IMPORTED, vpcSecurityGroupId: "sg-0123456789abcdef0" });
    expect(mirrorFunction(json).Properties.VpcConfig.SecurityGroupIds).toEqual(["sg-0123456789abcdef0"]);
    const egress = Object.values(resourcesOf(json, "AWS::EC2::SecurityGroupEgress"));
    expect(egress.filter((e) => e.Properties.GroupId === "sg-0123456789abcdef0")).toEqual([]);
    // The endpoint still admits the given group.
    template.hasResourceProperties("AWS::EC2::SecurityGroupIngress", {
      FromPort: 443,
      SourceSecurityGroupId: "sg-0123456789abcdef0",
    });
  });

  it("with mirrorSecretsAccess=nat: no Secrets Manager endpoint, HTTPS egress instead", () => {
    const { json, template } = synthGateway({ ...IMPORTED, mirrorSecretsAccess: "nat" });
    template.resourceCountIs("AWS::EC2::VPCEndpoint", 0);
    const sg = Object.values(resourcesOf(json, "AWS::EC2::SecurityGroup"))[0]!;
    expect(sg.Properties.SecurityGroupEgress.map((r: { FromPort: number }) => r.FromPort).sort()).toEqual([
      443, 9090,
    ]);
  });
});

describe("created VPC", () => {
  it("takes its CIDR from configuration", () => {
    const { template } = synthGateway({ vpc: "create", vpcCidr: "10.99.0.0/22" });
    template.hasResourceProperties("AWS::EC2::VPC", { CidrBlock: "10.99.0.0/22" });
    template.resourceCountIs("AWS::EC2::Subnet", 2);
  });
});

describe("private mirror", () => {
  it("with a created execute-api endpoint admitting the StackState sources", () => {
    const { json, template, stack } = synthGateway({
      mirrorPrivate: "true",
      stackstateCidrs: "10.1.0.0/16",
    });
    template.hasResourceProperties("AWS::EC2::VPCEndpoint", {
      ServiceName: Match.objectLike({ "Fn::Join": ["", Match.arrayWith([".execute-api"])] }),
      PrivateDnsEnabled: false,
    });
    template.hasResourceProperties("AWS::EC2::SecurityGroup", {
      SecurityGroupIngress: [Match.objectLike({ CidrIp: "10.1.0.0/16", FromPort: 443, ToPort: 443 })],
    });
    const endpointId = stack.getLogicalId(stack.network!.apiEndpoint!.node.defaultChild as never);
    template.hasResourceProperties("AWS::ApiGateway::RestApi", {
      EndpointConfiguration: { Types: ["PRIVATE"], VpcEndpointIds: [{ Ref: endpointId }] },
      Policy: {
        Statement: [
          Match.objectLike({ Effect: "Allow" }),
          Match.objectLike({
            Effect: "Deny",
            Condition: { StringNotEquals: { "aws:SourceVpce": { Ref: endpointId } } },
          }),
          Match.objectLike({
            Effect: "Deny",
            Condition: { NotIpAddress: { "aws:VpcSourceIp": ["10.1.0.0/16"] } },
          }),
        ],
      },
    });
    const outputs = json.Outputs as Record<string, { Value: unknown }>;
    const url = JSON.stringify(outputs.MirrorUrl!.Value);
    expect(url).toContain(endpointId);
    expect(url).toContain("/mirror/");
  });

  it("with an existing execute-api endpoint", () => {
    const { template } = synthGateway({
      mirrorPrivate: "true",
      mirrorApiVpcEndpointId: "vpce-0123456789abcdef0",
    });
    // Only the Secrets Manager endpoint is created.
    template.resourceCountIs("AWS::EC2::VPCEndpoint", 1);
    template.hasResourceProperties("AWS::ApiGateway::RestApi", {
      EndpointConfiguration: { Types: ["PRIVATE"], VpcEndpointIds: ["vpce-0123456789abcdef0"] },
      Policy: {
        Statement: [
          Match.objectLike({ Effect: "Allow" }),
          Match.objectLike({
            Condition: { StringNotEquals: { "aws:SourceVpce": "vpce-0123456789abcdef0" } },
          }),
        ],
      },
    });
  });

  it("public mirror: regional, no execute-api endpoint", () => {
    const { template } = synthGateway({ mirrorPrivate: "false", stackstateCidrs: "203.0.113.9/32" });
    template.hasResourceProperties("AWS::ApiGateway::RestApi", {
      EndpointConfiguration: { Types: ["REGIONAL"] },
    });
    template.resourceCountIs("AWS::EC2::VPCEndpoint", 1);
  });
});

// ---------------------------------------------------------------------------------------
// Components, AMP, assumable roles, network modes
// ---------------------------------------------------------------------------------------

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };

/** Statements of the inline policies attached to a function's role. */
function statementsOf(json: Record<string, unknown>, fnResource: CfnResource): Statement[] {
  const roleId = fnResource.Properties.Role["Fn::GetAtt"][0] as string;
  return Object.values(resourcesOf(json, "AWS::IAM::Policy"))
    .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}
const actionsOf = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const resourcesOfStatement = (s: Statement) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]);

/** Every action any policy of the template grants. */
function allActions(json: Record<string, unknown>): string[] {
  return Object.values(resourcesOf(json, "AWS::IAM::Policy")).flatMap((p) =>
    (p.Properties.PolicyDocument.Statement as Statement[]).flatMap(actionsOf),
  );
}

const envOf = (json: Record<string, unknown>) =>
  mirrorFunction(json).Properties.Environment.Variables as Record<string, unknown>;

/** The interface endpoints of the template by service suffix (`secretsmanager`, `aps-workspaces`, ...). */
function endpointServices(json: Record<string, unknown>): string[] {
  return Object.values(resourcesOf(json, "AWS::EC2::VPCEndpoint"))
    .map((e) => JSON.stringify(e.Properties.ServiceName))
    .map((name) => /\.([a-z-]+)"\]\]\}$/.exec(name)?.[1] ?? name)
    .sort();
}

const outputNames = (json: Record<string, unknown>) => Object.keys(json.Outputs as object).sort();
const alarmIds = (stack: { monitoring: { alarms: Array<{ node: { id: string } }> } }) =>
  stack.monitoring.alarms.map((a) => a.node.id).sort();

const WS_ARN = "arn:aws:aps:eu-west-1:210987654321:workspace/ws-0a1b2c3d-4e5f";
const WS_URL = (region: string, id: string) =>
  `https://aps-workspaces.${region}.amazonaws.com/workspaces/${id}/`;
const ROLE_A = "arn:aws:iam::123456789012:role/StackStateReader";
const ROLE_B = "arn:aws:iam::210987654321:role/team/AmpQuery";

describe("components", () => {
  it("ingest alone: stream, remote-write API and its key; no mirror, VPC or REST API", () => {
    const { json, template, stack } = synthGateway({ components: "ingest" });
    template.resourceCountIs("AWS::Kinesis::Stream", 1);
    template.resourceCountIs("AWS::ApiGatewayV2::Api", 1);
    template.resourceCountIs("AWS::Lambda::Function", 1);
    template.resourceCountIs("AWS::SecretsManager::Secret", 1);
    for (const type of [
      "AWS::ApiGateway::RestApi",
      "AWS::ApiGateway::Account",
      "AWS::EC2::VPC",
      "AWS::EC2::SecurityGroup",
      "AWS::EC2::VPCEndpoint",
    ]) {
      template.resourceCountIs(type, 0);
    }
    expect(stack.mirror).toBeUndefined();
    expect(stack.mirrorKey).toBeUndefined();
    expect(stack.network).toBeUndefined();
    expect(outputNames(json)).toEqual([
      "DashboardUrl",
      "FetchIngestKeyCommand",
      "IngestKeySecretArn",
      "RemoteWriteUrl",
      "StreamName",
    ]);
    expect(alarmIds(stack)).toEqual([
      "IngestApi5xx",
      "IngestFunctionErrors",
      "IngestFunctionThrottles",
      "KinesisFailedPuts",
      "KinesisThrottledPuts",
      "KinesisWriteThrottled",
      "StreamRefusedRecords",
      "StreamUnusable",
    ]);
    const dashboard = JSON.stringify(Object.values(resourcesOf(json, "AWS::CloudWatch::Dashboard"))[0]);
    expect(dashboard).toContain("SamplesReceived");
    expect(dashboard).not.toMatch(/Mirror|AWS\/ApiGateway\\",\\"5XXError/);
    expect(json.Description).toBe("Prometheus gateway: remote_write into Kinesis");
  });

  it("mirror alone: mirror API, its network and key; no stream, ingest function or HTTP API", () => {
    const { json, template, stack } = synthGateway({ components: "mirror", prometheusHost: "10.80.0.100" });
    template.resourceCountIs("AWS::Kinesis::Stream", 0);
    template.resourceCountIs("AWS::ApiGatewayV2::Api", 0);
    template.resourceCountIs("AWS::Lambda::Function", 1);
    template.resourceCountIs("AWS::SecretsManager::Secret", 1);
    template.resourceCountIs("AWS::ApiGateway::RestApi", 1);
    template.resourceCountIs("AWS::EC2::VPC", 1);
    expect(stack.stream).toBeUndefined();
    expect(stack.remoteWrite).toBeUndefined();
    expect(stack.ingestKey).toBeUndefined();
    expect(outputNames(json)).toEqual([
      "DashboardUrl",
      "FetchMirrorKeyCommand",
      "MirrorAllowedTargets",
      "MirrorKeySecretArn",
      "MirrorUrl",
      "MirrorVpcId",
    ]);
    expect(alarmIds(stack)).toEqual(["MirrorApi5xx", "MirrorFunctionErrors", "MirrorFunctionThrottles"]);
    const dashboard = JSON.stringify(Object.values(resourcesOf(json, "AWS::CloudWatch::Dashboard"))[0]);
    expect(dashboard).toContain("MirrorRequests");
    expect(dashboard).not.toMatch(/Kinesis|SamplesReceived|remote-write|Remote-write/);
    expect(allActions(json).filter((a) => a.startsWith("kinesis:"))).toEqual([]);
    expect(json.Description).toBe("Prometheus gateway: the StackState Prometheus mirror");
  });

  it("both (the default): every output, the smoke command, eleven alarms", () => {
    const { json, stack } = synthGateway();
    expect(outputNames(json)).toEqual([
      "DashboardUrl",
      "FetchIngestKeyCommand",
      "FetchMirrorKeyCommand",
      "IngestKeySecretArn",
      "MirrorAllowedTargets",
      "MirrorKeySecretArn",
      "MirrorUrl",
      "MirrorVpcId",
      "RemoteWriteUrl",
      "SmokeTestCommand",
      "StreamName",
    ]);
    expect(stack.monitoring.alarms).toHaveLength(11);
  });
});

describe("mirror error status", () => {
  it("MIRROR_ERROR_STATUS is native by default, 500 when configured", () => {
    expect(envOf(synthGateway().json)[ENV.mirrorErrorStatus]).toBe("native");
    expect(envOf(synthGateway({ mirrorErrorStatus: "500" }).json)[ENV.mirrorErrorStatus]).toBe("500");
  });
});

describe("AMP workspaces in the created VPC (no internet)", () => {
  const amp = synthGateway({ ampWorkspaces: `ws-abc@eu-west-1, ${WS_ARN}` });
  const fnResource = mirrorFunction(amp.json);

  it("allowlists exactly the workspace URLs (no Prometheus unless configured)", () => {
    expect(envOf(amp.json)[ENV.mirrorAllowedTargets]).toBe(
      `${WS_URL("eu-west-1", "ws-abc")},${WS_URL("eu-west-1", "ws-0a1b2c3d-4e5f")}`,
    );
    const withProm = synthGateway({ ampWorkspaces: "ws-abc@eu-west-1", prometheusHost: "prom.internal" });
    expect(envOf(withProm.json)[ENV.mirrorAllowedTargets]).toBe(
      `prom.internal:9090,${WS_URL("eu-west-1", "ws-abc")}`,
    );
  });

  it("grants the four query actions on exactly those workspaces (id@region in the stack's account)", () => {
    const aps = statementsOf(amp.json, fnResource).filter((s) =>
      actionsOf(s).some((a) => a.startsWith("aps:")),
    );
    expect(aps).toHaveLength(1);
    expect(aps[0]!.Effect).toBe("Allow");
    expect(actionsOf(aps[0]!).sort()).toEqual([
      "aps:GetLabels",
      "aps:GetMetricMetadata",
      "aps:GetSeries",
      "aps:QueryMetrics",
    ]);
    expect(resourcesOfStatement(aps[0]!)).toHaveLength(2);
    expect(resourcesOfStatement(aps[0]!)).toEqual(
      expect.arrayContaining([
        {
          "Fn::Join": [
            "",
            [
              "arn:",
              { Ref: "AWS::Partition" },
              ":aps:eu-west-1:",
              { Ref: "AWS::AccountId" },
              ":workspace/ws-abc",
            ],
          ],
        },
        WS_ARN,
      ]),
    );
    // Nothing else anywhere may touch AMP or assume roles.
    expect(allActions(amp.json).filter((a) => a.startsWith("aps:"))).toHaveLength(4);
    expect(allActions(amp.json).filter((a) => a.startsWith("sts:"))).toEqual([]);
  });

  it("an aps-workspaces interface endpoint with private DNS, reached on 443 from the mirror only", () => {
    expect(endpointServices(amp.json)).toEqual(["aps-workspaces", "secretsmanager"]);
    amp.template.hasResourceProperties("AWS::EC2::VPCEndpoint", {
      VpcEndpointType: "Interface",
      PrivateDnsEnabled: true,
      ServiceName: Match.objectLike({ "Fn::Join": ["", Match.arrayWith([".aps-workspaces"])] }),
    });
    const network = amp.stack.network!;
    const fnSg = amp.stack.getLogicalId(network.securityGroup.node.defaultChild as never);
    const endpointSg = amp.stack.getLogicalId(
      network.ampEndpoint!.connections.securityGroups[0]!.node.defaultChild as never,
    );
    amp.template.hasResourceProperties("AWS::EC2::SecurityGroupEgress", {
      GroupId: { "Fn::GetAtt": [fnSg, "GroupId"] },
      IpProtocol: "tcp",
      FromPort: 443,
      ToPort: 443,
      DestinationSecurityGroupId: { "Fn::GetAtt": [endpointSg, "GroupId"] },
    });
    amp.template.hasResourceProperties("AWS::EC2::SecurityGroupIngress", {
      GroupId: { "Fn::GetAtt": [endpointSg, "GroupId"] },
      FromPort: 443,
      SourceSecurityGroupId: { "Fn::GetAtt": [fnSg, "GroupId"] },
    });
    const endpointId = amp.stack.getLogicalId(network.ampEndpoint!.node.defaultChild as never);
    expect(fnResource.DependsOn).toContain(endpointId);
  });

  it("no egress on the Prometheus port when Prometheus is not a target", () => {
    const text = JSON.stringify([
      ...Object.values(resourcesOf(amp.json, "AWS::EC2::SecurityGroup")),
      ...Object.values(resourcesOf(amp.json, "AWS::EC2::SecurityGroupEgress")),
    ]);
    expect(text).not.toContain("9090");
    expect(text).not.toContain("Prometheus HTTP API");
  });

  it("a template rule refuses deployment outside the workspaces' region", () => {
    const rules = amp.json.Rules as Record<
      string,
      { Assertions: Array<{ Assert: unknown; AssertDescription: string }> }
    >;
    const assertions = Object.entries(rules)
      .filter(([name]) => name !== "CheckBootstrapVersion")
      .flatMap(([, r]) => r.Assertions);
    expect(assertions).toHaveLength(1);
    expect(assertions[0]!.Assert).toEqual({ "Fn::Equals": [{ Ref: "AWS::Region" }, "eu-west-1"] });
    expect(assertions[0]!.AssertDescription).toMatch(/eu-west-1.*aps-workspaces/);
    expect(Object.keys(synthGateway().json.Rules as object)).toEqual(["CheckBootstrapVersion"]);
  });

  it("a stack pinned to another region is refused at synth, naming ampWorkspaces", () => {
    const app = new App({ context: cdkJsonContext() });
    const config = parseConfig({ ampWorkspaces: "ws-abc@eu-west-1" });
    expect(
      () =>
        new GatewayStack(app, "Pinned", {
          config,
          env: { account: "123456789012", region: "us-east-1" },
          functionCode: PREBUILT,
        }),
    ).toThrow(/configuration ampWorkspaces: workspaces in eu-west-1 .* stack in us-east-1/);
  });
});

describe("AMP from an existing VPC through endpoints, with a given security group", () => {
  it("the endpoints admit the given group; nothing is added to it; the output lists the targets", () => {
    const { json, template, stack } = synthGateway({
      ...IMPORTED,
      vpcSecurityGroupId: "sg-0123456789abcdef0",
      ampWorkspaces: "ws-abc@eu-west-1",
      mirrorAssumeRoleArns: ROLE_A,
    });
    expect(endpointServices(json)).toEqual(["aps-workspaces", "secretsmanager", "sts"]);
    for (const endpoint of [stack.network!.ampEndpoint!, stack.network!.stsEndpoint!]) {
      const endpointSg = stack.getLogicalId(
        endpoint.connections.securityGroups[0]!.node.defaultChild as never,
      );
      template.hasResourceProperties("AWS::EC2::SecurityGroupIngress", {
        GroupId: { "Fn::GetAtt": [endpointSg, "GroupId"] },
        FromPort: 443,
        SourceSecurityGroupId: "sg-0123456789abcdef0",
      });
    }
    const egress = Object.values(resourcesOf(json, "AWS::EC2::SecurityGroupEgress"));
    expect(egress.filter((e) => e.Properties.GroupId === "sg-0123456789abcdef0")).toEqual([]);
    template.hasResourceProperties("AWS::EC2::VPCEndpoint", {
      VpcId: "vpc-0123456789abcdef0",
      SubnetIds: ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"],
      ServiceName: Match.objectLike({ "Fn::Join": ["", Match.arrayWith([".aps-workspaces"])] }),
    });
    const outputs = json.Outputs as Record<string, { Value: unknown }>;
    expect(outputs.MirrorAllowedTargets!.Value).toBe(WS_URL("eu-west-1", "ws-abc"));
  });
});

describe("assumable roles", () => {
  it("sts:AssumeRole on exactly the configured roles, and an STS endpoint without internet", () => {
    const { json, template, stack } = synthGateway({ mirrorAssumeRoleArns: `${ROLE_A},${ROLE_B}` });
    const sts = statementsOf(json, mirrorFunction(json)).filter((s) =>
      actionsOf(s).some((a) => a.startsWith("sts:")),
    );
    expect(sts).toHaveLength(1);
    expect(actionsOf(sts[0]!)).toEqual(["sts:AssumeRole"]);
    expect(resourcesOfStatement(sts[0]!).sort()).toEqual([ROLE_A, ROLE_B].sort());
    expect(allActions(json).filter((a) => a.startsWith("sts:"))).toEqual(["sts:AssumeRole"]);
    expect(endpointServices(json)).toEqual(["secretsmanager", "sts"]);
    template.hasResourceProperties("AWS::EC2::VPCEndpoint", {
      PrivateDnsEnabled: true,
      ServiceName: Match.objectLike({ "Fn::Join": ["", Match.arrayWith([".sts"])] }),
    });
    const endpointId = stack.getLogicalId(stack.network!.stsEndpoint!.node.defaultChild as never);
    expect(mirrorFunction(json).DependsOn).toContain(endpointId);
  });

  it("none configured: no STS permission and no STS endpoint", () => {
    const { json } = synthGateway();
    expect(allActions(json).filter((a) => a.startsWith("sts:") || a.startsWith("aps:"))).toEqual([]);
    expect(endpointServices(json)).toEqual(["secretsmanager"]);
  });
});

describe("AMP from an existing VPC that routes out (nat)", () => {
  it("no endpoints, HTTPS egress; workspaces of several regions allowed", () => {
    const { json, template } = synthGateway({
      ...IMPORTED,
      mirrorSecretsAccess: "nat",
      ampWorkspaces: "ws-abc@eu-west-1,ws-def@us-east-1",
      mirrorAssumeRoleArns: ROLE_A,
    });
    template.resourceCountIs("AWS::EC2::VPCEndpoint", 0);
    expect(Object.keys(json.Rules as object)).toEqual(["CheckBootstrapVersion"]);
    const sg = Object.values(resourcesOf(json, "AWS::EC2::SecurityGroup"))[0]!;
    expect(sg.Properties.SecurityGroupEgress).toEqual([
      expect.objectContaining({ CidrIp: "0.0.0.0/0", FromPort: 443, ToPort: 443, IpProtocol: "tcp" }),
    ]);
    expect(envOf(json)[ENV.mirrorAllowedTargets]).toBe(
      `${WS_URL("eu-west-1", "ws-abc")},${WS_URL("us-east-1", "ws-def")}`,
    );
  });
});

describe("mirrorNetwork=none (AMP only, no VPC)", () => {
  const none = synthGateway({
    mirrorNetwork: "none",
    ampWorkspaces: "ws-abc@eu-west-1,ws-def@us-east-1",
    mirrorAssumeRoleArns: ROLE_A,
    stackstateCidrs: "203.0.113.0/24",
  });

  it("the function is in no VPC, and no VPC, subnet, security group or endpoint exists", () => {
    expect(mirrorFunction(none.json).Properties.VpcConfig).toBeUndefined();
    for (const type of [
      "AWS::EC2::VPC",
      "AWS::EC2::Subnet",
      "AWS::EC2::SecurityGroup",
      "AWS::EC2::SecurityGroupEgress",
      "AWS::EC2::SecurityGroupIngress",
      "AWS::EC2::VPCEndpoint",
      "AWS::EC2::FlowLog",
    ]) {
      none.template.resourceCountIs(type, 0);
    }
    expect(none.stack.network).toBeUndefined();
    expect(allActions(none.json).filter((a) => a.startsWith("ec2:"))).toEqual([]);
    expect(outputNames(none.json)).not.toContain("MirrorVpcId");
    expect(outputNames(none.json)).not.toContain("SmokeTestCommand");
  });

  it("allowlists only the workspaces, grants their query actions and the role", () => {
    expect(envOf(none.json)[ENV.mirrorAllowedTargets]).toBe(
      `${WS_URL("eu-west-1", "ws-abc")},${WS_URL("us-east-1", "ws-def")}`,
    );
    const statements = statementsOf(none.json, mirrorFunction(none.json));
    const aps = statements.find((s) => actionsOf(s).includes("aps:QueryMetrics"))!;
    expect(JSON.stringify(resourcesOfStatement(aps))).toMatch(
      /:aps:eu-west-1:.*:workspace\/ws-abc.*:aps:us-east-1:.*ws-def/,
    );
    const sts = statements.find((s) => actionsOf(s).includes("sts:AssumeRole"))!;
    expect(resourcesOfStatement(sts)).toEqual([ROLE_A]);
    expect(warnings(none.stack).some((w) => w.includes("prometheusHost"))).toBe(false);
  });

  it("a public Prometheus is allowlisted too when prometheusHost is set", () => {
    const { json } = synthGateway({
      mirrorNetwork: "none",
      prometheusHost: "prometheus.example.com",
      prometheusPort: "443",
      ampWorkspaces: "ws-abc@eu-west-1",
    });
    expect(envOf(json)[ENV.mirrorAllowedTargets]).toBe(
      `prometheus.example.com:443,${WS_URL("eu-west-1", "ws-abc")}`,
    );
  });

  it("a private mirror API is associated with the given execute-api endpoint", () => {
    const { template } = synthGateway({
      mirrorNetwork: "none",
      ampWorkspaces: "ws-abc@eu-west-1",
      mirrorPrivate: "true",
      mirrorApiVpcEndpointId: "vpce-0123456789abcdef0",
    });
    template.resourceCountIs("AWS::EC2::VPCEndpoint", 0);
    template.hasResourceProperties("AWS::ApiGateway::RestApi", {
      EndpointConfiguration: { Types: ["PRIVATE"], VpcEndpointIds: ["vpce-0123456789abcdef0"] },
      Policy: {
        Statement: [
          Match.objectLike({ Effect: "Allow" }),
          Match.objectLike({
            Condition: { StringNotEquals: { "aws:SourceVpce": "vpce-0123456789abcdef0" } },
          }),
        ],
      },
    });
  });
});
