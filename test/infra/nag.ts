import { App, Aspects } from "aws-cdk-lib";
import { AwsSolutionsChecks, ServerlessChecks } from "cdk-nag";
import { parseConfig } from "../../infra/config";
import { GatewayStack } from "../../infra/gateway-stack";
import { cdkJsonContext, PREBUILT } from "./synth";

/** The configurations cdk-nag runs on (nag.test.ts), and whose acknowledgements docs/security.md lists. */
export const NAG_CONFIGURATIONS: Record<string, Record<string, string>> = {
  defaults: {},
  "created VPC, public mirror with sources, alarm email, provisioned stream": {
    stackstateCidrs: "203.0.113.0/24",
    alarmEmail: "oncall@example.com",
    streamMode: "provisioned",
    streamShards: "2",
    ingestReservedConcurrency: "50",
  },
  "imported VPC, private mirror with a created endpoint": {
    vpc: "vpc-0123456789abcdef0",
    vpcSubnetIds: "subnet-0aaaaaaaaaaaaaaa1,subnet-0bbbbbbbbbbbbbbb2",
    vpcAvailabilityZones: "eu-west-1a,eu-west-1b",
    mirrorPrivate: "true",
    stackstateCidrs: "10.1.0.0/16",
  },
  "imported VPC and security group, NAT for Secrets Manager, private mirror on an existing endpoint": {
    vpc: "vpc-0123456789abcdef0",
    vpcSubnetIds: "subnet-0aaaaaaaaaaaaaaa1",
    vpcAvailabilityZones: "eu-west-1a",
    vpcSecurityGroupId: "sg-0123456789abcdef0",
    mirrorSecretsAccess: "nat",
    mirrorPrivate: "true",
    mirrorApiVpcEndpointId: "vpce-0123456789abcdef0",
  },
  "ingest alone": { components: "ingest", alarmEmail: "oncall@example.com" },
  "ingest alone with HA-pair deduplication on a created KMS key": {
    components: "ingest",
    haDedup: "true",
    kmsKey: "create",
    alarmEmail: "oncall@example.com",
  },
  "mirror alone, created VPC": { components: "mirror", stackstateCidrs: "203.0.113.0/24" },
  "mirror alone for AMP in the created VPC, with assumable roles (AMP and STS endpoints)": {
    components: "mirror",
    ampWorkspaces: "ws-abc@eu-west-1,arn:aws:aps:eu-west-1:210987654321:workspace/ws-def",
    mirrorAssumeRoleArns: "arn:aws:iam::123456789012:role/StackStateReader",
    stackstateCidrs: "203.0.113.0/24",
    mirrorErrorStatus: "500",
  },
  "both, mirror without a VPC for AMP, public": {
    mirrorNetwork: "none",
    ampWorkspaces: "ws-abc@eu-west-1,ws-def@us-east-1",
    mirrorAssumeRoleArns: "arn:aws:iam::123456789012:role/StackStateReader",
    stackstateCidrs: "203.0.113.0/24",
  },
  "security options: created KMS key, logging role, web ACL, ingest allowlist, forwarder with a created secret":
    {
      kmsKey: "create",
      apiGatewayLogsRole: "true",
      mirrorWebAclArn:
        "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/gateway/0a1b2c3d-4e5f-6789-abcd-ef0123456789",
      ingestAllowedCidrs: "203.0.113.0/24",
      stackstateCidrs: "198.51.100.0/24",
      forwardUrl: "https://stackstate.example.com/receiver/prometheus/api/v1/write",
      forwardAuth: "header",
      forwardHeaderName: "sts-api-key",
    },
  "both on an existing KMS key, forwarder to AMP": {
    kmsKey: "arn:aws:kms:eu-west-1:123456789012:key/0a1b2c3d-4e5f-6789-abcd-ef0123456789",
    stackstateCidrs: "198.51.100.0/24",
    forwardUrl: "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-abc/api/v1/remote_write",
    forwardAuth: "sigv4",
    forwardAmpWorkspaceArn: "arn:aws:aps:eu-west-1:123456789012:workspace/ws-abc",
  },
  "mirror alone without a VPC, private on an existing endpoint": {
    components: "mirror",
    mirrorNetwork: "none",
    prometheusHost: "prometheus.example.com",
    mirrorPrivate: "true",
    mirrorApiVpcEndpointId: "vpce-0123456789abcdef0",
  },
};

export interface NagRun {
  /** Findings nobody acknowledged: "<path> <message>". */
  readonly findings: string[];
  /** Rule ids reported as "triggered but suppressed". */
  readonly suppressedRules: Set<string>;
  /** Every acknowledgement in the template: rule id and reason. */
  readonly acknowledgements: Array<{ id: string; reason: string; resource: string }>;
}

export function runNag(context: Record<string, string>): NagRun {
  const app = new App({ context: { ...cdkJsonContext(), ...context } });
  const stack = new GatewayStack(app, "NagGateway", {
    config: parseConfig(app.node.getAllContext()),
    functionCode: PREBUILT,
  });
  Aspects.of(app).add(new AwsSolutionsChecks({ logIgnores: true }));
  Aspects.of(app).add(new ServerlessChecks({ logIgnores: true }));
  const artifact = app.synth().getStackArtifact(stack.artifactId);

  const findings: string[] = [];
  const suppressedRules = new Set<string>();
  for (const message of artifact.messages) {
    const text = String(message.entry.data);
    const suppressed = /CdkNagSuppression(?:\[[^\]]*\])?: (\S+) was triggered but suppressed/.exec(text);
    if (suppressed) suppressedRules.add(suppressed[1]!);
    else if (/(AwsSolutions|Serverless)-/.test(text) && message.level !== "info") {
      findings.push(`${message.id} ${text.split("\n")[0]}`);
    }
  }

  const acknowledgements: NagRun["acknowledgements"] = [];
  const resources = artifact.template.Resources as Record<
    string,
    { Metadata?: { cdk_nag?: { rules_to_suppress?: Array<{ id: string; reason: string }> } } }
  >;
  for (const [logicalId, resource] of Object.entries(resources)) {
    for (const rule of resource.Metadata?.cdk_nag?.rules_to_suppress ?? []) {
      acknowledgements.push({ id: rule.id, reason: rule.reason, resource: logicalId });
    }
  }
  return { findings, suppressedRules, acknowledgements };
}
