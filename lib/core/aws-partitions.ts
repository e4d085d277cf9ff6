/**
 * The AWS partitions: which regions belong to each, and the DNS suffixes of its endpoints.
 * The one place the code, the mirror and the stacks take an AWS host name's suffix from.
 * Values are the AWS SDK's own partition data (`@aws-sdk/core`, `partitions.json`);
 * test/unit/aws/endpoints.test.ts holds them to it.
 */

export interface AwsPartition {
  /** `aws`, `aws-cn`, `aws-us-gov`, … (the `partition` field of an ARN). */
  readonly id: string;
  /** The regions of the partition, as the SDK matches them. */
  readonly regions: RegExp;
  /** Suffix of the standard endpoints, e.g. `amazonaws.com`. */
  readonly dnsSuffix: string;
  /** Suffix of the dual-stack (IPv4 and IPv6) endpoints, e.g. `api.aws`. */
  readonly dualStackDnsSuffix: string;
  readonly supportsFips: boolean;
  readonly supportsDualStack: boolean;
}

const partition = (
  id: string,
  regions: RegExp,
  dnsSuffix: string,
  dualStackDnsSuffix: string,
): AwsPartition =>
  Object.freeze({ id, regions, dnsSuffix, dualStackDnsSuffix, supportsFips: true, supportsDualStack: true });

export const AWS_PARTITIONS: readonly AwsPartition[] = Object.freeze([
  partition("aws", /^(us|eu|ap|sa|ca|me|af|il|mx)-\w+-\d+$/, "amazonaws.com", "api.aws"),
  partition("aws-cn", /^cn-\w+-\d+$/, "amazonaws.com.cn", "api.amazonwebservices.com.cn"),
  partition("aws-eusc", /^eusc-(de)-\w+-\d+$/, "amazonaws.eu", "api.amazonwebservices.eu"),
  partition("aws-iso", /^us-iso-\w+-\d+$/, "c2s.ic.gov", "api.aws.ic.gov"),
  partition("aws-iso-b", /^us-isob-\w+-\d+$/, "sc2s.sgov.gov", "api.aws.scloud"),
  partition("aws-iso-e", /^eu-isoe-\w+-\d+$/, "cloud.adc-e.uk", "api.cloud-aws.adc-e.uk"),
  partition("aws-iso-f", /^us-isof-\w+-\d+$/, "csp.hci.ic.gov", "api.aws.hci.ic.gov"),
  partition("aws-us-gov", /^us-gov-\w+-\d+$/, "amazonaws.com", "api.aws"),
]);

/**
 * The partition of a region (or of a partition's global pseudo-region, `aws-cn-global`); a
 * region no pattern knows is in `aws`, as the SDK decides.
 */
export function awsPartition(region: string): AwsPartition {
  return (
    AWS_PARTITIONS.find((p) => p.regions.test(region) || region === `${p.id}-global`) ?? AWS_PARTITIONS[0]!
  );
}
