import { Annotations, Aws, CfnRule, Fn, RemovalPolicy, Stack, Token } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import type * as kms from "aws-cdk-lib/aws-kms";
import * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { type CreatedVpc, contextError, type ImportedVpc } from "../config";

/** Shape of the VPC created when none is given: two isolated /27 subnets, no NAT. */
export const CREATED_VPC_DEFAULTS = {
  maxAzs: 2,
  subnetCidrMask: 27,
} as const;

export interface MirrorNetworkProps {
  /** A VPC to create, or the ids of an existing one; never looked up. */
  readonly vpc: CreatedVpc | ImportedVpc;
  /** The Prometheus server the mirror calls; no egress rule for it when unset (AMP only). */
  readonly prometheus?: { readonly port: number; readonly cidr: string };
  /**
   * `endpoint`: interface endpoints for the AWS APIs the mirror calls (Secrets Manager, and
   * AMP and STS when asked for); `nat`: the subnets route out already.
   */
  readonly secretsAccess: "endpoint" | "nat";
  /**
   * The region of the AMP workspaces the mirror queries, when it queries any. In endpoint
   * mode it must be the stack's region: an aps-workspaces endpoint serves its own region only.
   */
  readonly ampRegion?: string;
  /** The mirror assumes IAM roles through STS. */
  readonly sts: boolean;
  /** Private mirror API: sources admitted to the created execute-api endpoint. */
  readonly privateApi?: { readonly existingEndpointId?: string; readonly sourceCidrs: readonly string[] };
  readonly logRetentionDays: number;
  /** Customer-managed key of the flow-log group (unset: CloudWatch Logs' own encryption). */
  readonly logKey?: kms.IKey;
}

/**
 * Where the mirror function runs: a VPC (imported by ids, or a small isolated one), the
 * function's security group (egress to the Prometheus port and to the AWS API endpoints
 * only), and the interface endpoints it needs.
 */
export class MirrorNetwork extends Construct {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  /** The mirror function's security group. */
  readonly securityGroup: ec2.ISecurityGroup;
  /** True when the security group was given by configuration (its rules are not ours). */
  readonly securityGroupImported: boolean;
  readonly secretsEndpoint?: ec2.InterfaceVpcEndpoint;
  /** Amazon Managed Service for Prometheus (`aps-workspaces`), when AMP is queried without internet. */
  readonly ampEndpoint?: ec2.InterfaceVpcEndpoint;
  /** STS, when roles are assumed without internet. */
  readonly stsEndpoint?: ec2.InterfaceVpcEndpoint;
  /** Every interface endpoint the function calls; it is created after them. */
  readonly serviceEndpoints: readonly ec2.InterfaceVpcEndpoint[];
  /** The execute-api endpoint the private mirror API admits (created or imported). */
  readonly apiEndpoint?: ec2.IInterfaceVpcEndpoint;
  readonly createdVpc?: ec2.Vpc;

  constructor(scope: Construct, id: string, props: MirrorNetworkProps) {
    super(scope, id);

    if (props.vpc.create) {
      const flowLogs = new logs.LogGroup(this, "FlowLogs", {
        retention: props.logRetentionDays as logs.RetentionDays,
        encryptionKey: props.logKey,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      this.createdVpc = new ec2.Vpc(this, "Vpc", {
        ipAddresses: ec2.IpAddresses.cidr(props.vpc.cidr),
        maxAzs: CREATED_VPC_DEFAULTS.maxAzs,
        natGateways: 0,
        subnetConfiguration: [
          {
            name: "mirror",
            subnetType: ec2.SubnetType.PRIVATE_ISOLATED,
            cidrMask: CREATED_VPC_DEFAULTS.subnetCidrMask,
          },
        ],
        flowLogs: {
          all: {
            destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs),
            trafficType: ec2.FlowLogTrafficType.ALL,
          },
        },
      });
      this.vpc = this.createdVpc;
      this.subnets = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
    } else {
      const given = props.vpc;
      this.vpc = ec2.Vpc.fromVpcAttributes(this, "Vpc", {
        vpcId: given.vpcId,
        availabilityZones: [...new Set(given.availabilityZones)],
      });
      this.subnets = {
        subnets: given.subnetIds.map((subnetId, i) => {
          const subnet = ec2.Subnet.fromSubnetAttributes(this, `Subnet${i}`, {
            subnetId,
            availabilityZone: given.availabilityZones[i],
          });
          Annotations.of(subnet).acknowledgeWarning(
            "@aws-cdk/aws-ec2:noSubnetRouteTableId",
            "Nothing here reads the subnets' route tables: the function and the endpoints only need subnet ids.",
          );
          return subnet;
        }),
      };
    }

    const givenSg = props.vpc.create ? undefined : props.vpc.securityGroupId;
    this.securityGroupImported = givenSg !== undefined;
    this.securityGroup =
      givenSg !== undefined
        ? ec2.SecurityGroup.fromSecurityGroupId(this, "FunctionSecurityGroup", givenSg, { mutable: false })
        : new ec2.SecurityGroup(this, "FunctionSecurityGroup", {
            vpc: this.vpc,
            description: "Prometheus mirror function: egress to Prometheus and Secrets Manager only",
            allowAllOutbound: false,
          });
    if (!this.securityGroupImported && props.prometheus !== undefined) {
      this.securityGroup.addEgressRule(
        ec2.Peer.ipv4(props.prometheus.cidr),
        ec2.Port.tcp(props.prometheus.port),
        "Prometheus HTTP API",
      );
    }

    const endpoints: ec2.InterfaceVpcEndpoint[] = [];
    if (props.secretsAccess === "endpoint") {
      // One endpoint per AWS API, each with its own group admitting HTTPS from the mirror only.
      const endpoint = (
        id: string,
        service: ec2.InterfaceVpcEndpointAwsService,
        what: string,
        why: string,
      ) => {
        const created = new ec2.InterfaceVpcEndpoint(this, `${id}Endpoint`, {
          vpc: this.vpc,
          service,
          subnets: this.subnets,
          privateDnsEnabled: true,
          open: false,
          securityGroups: [
            new ec2.SecurityGroup(this, `${id}EndpointSecurityGroup`, {
              vpc: this.vpc,
              description: `${what} endpoint: HTTPS from the mirror function only`,
              allowAllOutbound: false,
            }),
          ],
        });
        // Ingress on the endpoint from the function's group; egress on the function's group to the endpoint.
        created.connections.allowFrom(this.securityGroup, ec2.Port.tcp(443), why);
        endpoints.push(created);
        return created;
      };
      this.secretsEndpoint = endpoint(
        "SecretsManager",
        ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
        "Secrets Manager",
        "Mirror reads its key",
      );
      if (props.ampRegion !== undefined) {
        requireStackRegion(this, props.ampRegion);
        this.ampEndpoint = endpoint(
          "Amp",
          ec2.InterfaceVpcEndpointAwsService.PROMETHEUS_WORKSPACES,
          "Amazon Managed Service for Prometheus (aps-workspaces)",
          "Mirror queries AMP workspaces",
        );
      }
      if (props.sts) {
        this.stsEndpoint = endpoint(
          "Sts",
          ec2.InterfaceVpcEndpointAwsService.STS,
          "STS",
          "Mirror assumes roles",
        );
      }
    } else if (!this.securityGroupImported) {
      this.securityGroup.addEgressRule(
        ec2.Peer.anyIpv4(),
        ec2.Port.tcp(443),
        "AWS APIs (Secrets Manager; AMP and STS when configured), through the subnets' NAT or existing endpoints",
      );
    }
    this.serviceEndpoints = endpoints;

    if (props.privateApi !== undefined) {
      const existing = props.privateApi.existingEndpointId;
      if (existing !== undefined) {
        this.apiEndpoint = ec2.InterfaceVpcEndpoint.fromInterfaceVpcEndpointAttributes(this, "ApiEndpoint", {
          vpcEndpointId: existing,
          port: 443,
        });
      } else {
        const endpointSg = new ec2.SecurityGroup(this, "ApiEndpointSecurityGroup", {
          vpc: this.vpc,
          description: "execute-api endpoint of the private mirror API: HTTPS from the allowed sources",
          allowAllOutbound: false,
        });
        for (const cidr of props.privateApi.sourceCidrs) {
          endpointSg.addIngressRule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(443), "Mirror caller");
        }
        this.apiEndpoint = new ec2.InterfaceVpcEndpoint(this, "ApiEndpoint", {
          vpc: this.vpc,
          service: ec2.InterfaceVpcEndpointAwsService.APIGATEWAY,
          subnets: this.subnets,
          // Private DNS would redirect every execute-api name in this VPC to the endpoint,
          // breaking calls to public APIs; callers use the endpoint-specific host name instead.
          privateDnsEnabled: false,
          open: false,
          securityGroups: [endpointSg],
        });
      }
    }
  }
}

/**
 * AMP workspaces reached through the VPC endpoint must be in the stack's region. Checked at
 * synth when the stack's region is known, and otherwise by a template rule that stops the
 * deployment in any other region before anything is created.
 */
function requireStackRegion(scope: Construct, region: string): void {
  const stackRegion = Stack.of(scope).region;
  if (!Token.isUnresolved(stackRegion) && stackRegion !== region) {
    throw contextError(
      "ampWorkspaces",
      `workspaces in ${region} cannot be reached from a stack in ${stackRegion} through the aps-workspaces endpoint; deploy in ${region}, or use mirrorNetwork=none`,
    );
  }
  new CfnRule(scope, "AmpWorkspaceRegion", {
    assertions: [
      {
        assert: Fn.conditionEquals(Aws.REGION, region),
        assertDescription: `The configured AMP workspaces are in ${region}; the mirror reaches them through an aps-workspaces VPC endpoint, which serves its own region only. Deploy this stack in ${region}, or use mirrorNetwork=none.`,
      },
    ],
  });
}
