import { Annotations, RemovalPolicy } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import type { CreatedVpc, ImportedVpc } from "../config";

/** Shape of the VPC created when none is given: two isolated /27 subnets, no NAT. */
export const CREATED_VPC_DEFAULTS = {
  maxAzs: 2,
  subnetCidrMask: 27,
} as const;

export interface MirrorNetworkProps {
  /** A VPC to create, or the ids of an existing one; never looked up. */
  readonly vpc: CreatedVpc | ImportedVpc;
  readonly prometheusPort: number;
  readonly prometheusCidr: string;
  /** `endpoint`: an interface endpoint for Secrets Manager; `nat`: the subnets route out already. */
  readonly secretsAccess: "endpoint" | "nat";
  /** Private mirror API: sources admitted to the created execute-api endpoint. */
  readonly privateApi?: { readonly existingEndpointId?: string; readonly sourceCidrs: readonly string[] };
  readonly logRetentionDays: number;
}

/**
 * Where the mirror function runs: a VPC (imported by ids, or a small isolated one), the
 * function's security group (egress to the Prometheus port and to Secrets Manager only),
 * and the interface endpoints it needs.
 */
export class MirrorNetwork extends Construct {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  /** The mirror function's security group. */
  readonly securityGroup: ec2.ISecurityGroup;
  /** True when the security group was given by configuration (its rules are not ours). */
  readonly securityGroupImported: boolean;
  readonly secretsEndpoint?: ec2.InterfaceVpcEndpoint;
  /** The execute-api endpoint the private mirror API admits (created or imported). */
  readonly apiEndpoint?: ec2.IInterfaceVpcEndpoint;
  readonly createdVpc?: ec2.Vpc;

  constructor(scope: Construct, id: string, props: MirrorNetworkProps) {
    super(scope, id);

    if (props.vpc.create) {
      const flowLogs = new logs.LogGroup(this, "FlowLogs", {
        retention: props.logRetentionDays as logs.RetentionDays,
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
    if (!this.securityGroupImported) {
      this.securityGroup.addEgressRule(
        ec2.Peer.ipv4(props.prometheusCidr),
        ec2.Port.tcp(props.prometheusPort),
        "Prometheus HTTP API",
      );
    }

    if (props.secretsAccess === "endpoint") {
      this.secretsEndpoint = new ec2.InterfaceVpcEndpoint(this, "SecretsManagerEndpoint", {
        vpc: this.vpc,
        service: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
        subnets: this.subnets,
        privateDnsEnabled: true,
        open: false,
        securityGroups: [
          new ec2.SecurityGroup(this, "SecretsManagerEndpointSecurityGroup", {
            vpc: this.vpc,
            description: "Secrets Manager endpoint: HTTPS from the mirror function only",
            allowAllOutbound: false,
          }),
        ],
      });
      // Ingress on the endpoint from the function's group; egress on the function's group to the endpoint.
      this.secretsEndpoint.connections.allowFrom(
        this.securityGroup,
        ec2.Port.tcp(443),
        "Mirror reads its key",
      );
    } else if (!this.securityGroupImported) {
      this.securityGroup.addEgressRule(
        ec2.Peer.anyIpv4(),
        ec2.Port.tcp(443),
        "Secrets Manager's regional endpoint, through the subnets' NAT or existing endpoint",
      );
    }

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
