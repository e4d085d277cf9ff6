import * as z from "zod/mini";
import { cidr4 } from "../../lib/core/cidr";
import { clip, list, matching, text, type ValuesOf } from "../../lib/core/config";
import { AVAILABILITY_ZONE, SECURITY_GROUP_ID, SUBNET_ID, VPC_ID } from "../../lib/core/patterns";
import { contextError, type Given } from "./read";

/** The mirror's VPC: one to create, or the ids of an existing one (never looked up). */

export interface CreatedVpc {
  readonly create: true;
  readonly cidr: string;
}

export interface ImportedVpc {
  readonly create: false;
  readonly vpcId: string;
  readonly subnetIds: readonly string[];
  readonly availabilityZones: readonly string[];
  readonly securityGroupId?: string;
}

const item = (pattern: RegExp, expected: string) => z.string().check(matching(pattern, expected));

export const NETWORK_KEYS = {
  vpc: text({
    default: "create",
    doc: "`create`, or the id of an existing VPC (`vpc-...`)",
    problem: (value) =>
      value === "create" || VPC_ID.test(value)
        ? undefined
        : `expected "create" or a VPC id like vpc-0123abcd (got "${clip(value)}")`,
  }),
  vpcCidr: cidr4({
    default: "10.80.0.0/24",
    prefixRange: [16, 24],
    why: "two /27 subnets",
    doc: "address range of the created VPC, prefix /16 to /24 (two /27 subnets; only with `vpc=create`)",
  }),
  vpcSubnetIds: list({
    doc: "comma-separated private subnet ids of the existing VPC",
    item: item(SUBNET_ID, "a subnet id"),
  }),
  vpcAvailabilityZones: list({
    doc: "comma-separated availability zones of those subnets, in order",
    item: item(AVAILABILITY_ZONE, "an availability zone"),
  }),
  vpcSecurityGroupId: text({
    default: undefined,
    doc: "existing security group for the mirror instead of creating one",
    pattern: SECURITY_GROUP_ID,
    expected: "a security group id",
  }),
} as const;

/** Keys that only an existing VPC takes. */
const IMPORTED_ONLY = ["vpcSubnetIds", "vpcAvailabilityZones", "vpcSecurityGroupId"] as const;

export function vpcSettings(v: ValuesOf<typeof NETWORK_KEYS>, given: Given): CreatedVpc | ImportedVpc {
  if (v.vpc === "create") {
    for (const key of IMPORTED_ONLY) {
      if (given(key)) throw contextError(key, "applies only with an existing VPC (vpc=vpc-...)");
    }
    return { create: true, cidr: v.vpcCidr };
  }
  if (given("vpcCidr")) throw contextError("vpcCidr", "applies only with vpc=create");
  const subnetIds = v.vpcSubnetIds;
  const azs = v.vpcAvailabilityZones;
  if (subnetIds.length === 0) throw contextError("vpcSubnetIds", "required with an existing VPC");
  if (azs.length === 0) throw contextError("vpcAvailabilityZones", "required with an existing VPC");
  if (azs.length !== subnetIds.length) {
    throw contextError(
      "vpcAvailabilityZones",
      `needs one zone per subnet in vpcSubnetIds (${subnetIds.length} subnets, ${azs.length} zones)`,
    );
  }
  return {
    create: false,
    vpcId: v.vpc,
    subnetIds,
    availabilityZones: azs,
    securityGroupId: v.vpcSecurityGroupId,
  };
}
