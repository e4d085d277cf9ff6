import { Match } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { type CfnResource, resourcesOf, synthGateway } from "./synth";

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
