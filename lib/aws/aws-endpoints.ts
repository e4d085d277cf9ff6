import { awsPartition } from "../core/aws-partitions";
import { ConfigError, type Env } from "../core/config";
import { echo } from "../core/errors";
import { REGION_TOKEN } from "../core/patterns";

/**
 * Where the lean AWS JSON client (aws-json.ts) sends a service's calls: the services it
 * serves, and their endpoints as the AWS SDK picks them (configured URLs, partitions, the
 * FIPS and dual-stack variants).
 */

/** Endpoint variants, as `AWS_USE_FIPS_ENDPOINT` and `AWS_USE_DUALSTACK_ENDPOINT` select them. */
export type EndpointVariant = "standard" | "fips" | "dualstack" | "fips-dualstack";

/** What the client needs to know of a service. */
export interface AwsJsonService {
  /** SigV4 signing name and endpoint prefix, e.g. `kinesis`. */
  readonly signingName: string;
  /** The service's part of the SDK's per-service endpoint variable (`AWS_ENDPOINT_URL_<ID>`). */
  readonly endpointId: string;
  /** The X-Amz-Target prefix, e.g. `Kinesis_20131202`. */
  readonly targetPrefix: string;
  /** The JSON protocol's version, the `application/x-amz-json-<v>` content type (default 1.1). */
  readonly jsonVersion?: "1.0" | "1.1";
  /**
   * Where the SDK's endpoint rules for the service depart from
   * `<name>[-fips].<region>.<dnsSuffix | dualStackDnsSuffix>`: for a variant, the partitions
   * (by id) whose endpoint for it is the host of another variant.
   */
  readonly variantHosts?: { readonly [V in EndpointVariant]?: Readonly<Record<string, EndpointVariant>> };
}

export const KINESIS_SERVICE: AwsJsonService = {
  signingName: "kinesis",
  endpointId: "KINESIS",
  targetPrefix: "Kinesis_20131202",
  // GovCloud's standard Kinesis endpoints are its FIPS ones
  variantHosts: { fips: { "aws-us-gov": "standard" } },
};

export const SECRETS_MANAGER_SERVICE: AwsJsonService = {
  signingName: "secretsmanager",
  endpointId: "SECRETS_MANAGER",
  targetPrefix: "secretsmanager",
  // the SDK sends dual-stack calls to the standard host names in these partitions
  variantHosts: {
    dualstack: { aws: "standard", "aws-cn": "standard", "aws-us-gov": "standard" },
    "fips-dualstack": { aws: "fips", "aws-us-gov": "fips" },
  },
};

export const DYNAMODB_SERVICE: AwsJsonService = {
  signingName: "dynamodb",
  endpointId: "DYNAMODB",
  targetPrefix: "DynamoDB_20120810",
  jsonVersion: "1.0",
  // GovCloud's standard DynamoDB endpoints are its FIPS ones
  variantHosts: { fips: { "aws-us-gov": "standard" } },
};

const USE_FIPS = "AWS_USE_FIPS_ENDPOINT";
const USE_DUALSTACK = "AWS_USE_DUALSTACK_ENDPOINT";

/**
 * The service's endpoint: `AWS_ENDPOINT_URL_<ID>`, else `AWS_ENDPOINT_URL` (unless
 * `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`), as the SDK reads them; else the regional
 * endpoint of the region's partition (lib/core/aws-partitions.ts),
 * `https://<service>.<region>.<dnsSuffix>`: with `AWS_USE_FIPS_ENDPOINT=true` the FIPS host
 * `<service>-fips`, with `AWS_USE_DUALSTACK_ENDPOINT=true` the partition's dual-stack suffix
 * (`api.aws`), both for both, but where the SDK's rules for the service say otherwise.
 */
export function serviceEndpoint(service: AwsJsonService, region: string, env: Env = process.env): string {
  if (env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS?.toLowerCase() !== "true") {
    const configured = env[`AWS_ENDPOINT_URL_${service.endpointId}`] || env.AWS_ENDPOINT_URL;
    if (configured) return configured;
  }
  if (!REGION_TOKEN.test(region)) throw new Error(`not an AWS region: ${echo(region, 40)}`);
  const fips = sdkFlag(env, USE_FIPS);
  const dualStack = sdkFlag(env, USE_DUALSTACK);
  const partition = awsPartition(region);
  if (fips && !partition.supportsFips) {
    throw new ConfigError(`${USE_FIPS}: the ${partition.id} partition (${region}) has no FIPS endpoints`);
  }
  if (dualStack && !partition.supportsDualStack) {
    throw new ConfigError(
      `${USE_DUALSTACK}: the ${partition.id} partition (${region}) has no dual-stack endpoints`,
    );
  }
  const asked = variantOf(fips, dualStack);
  const variant = service.variantHosts?.[asked]?.[partition.id] ?? asked;
  const host =
    variant === "fips" || variant === "fips-dualstack" ? `${service.signingName}-fips` : service.signingName;
  const suffix =
    variant === "dualstack" || variant === "fips-dualstack"
      ? partition.dualStackDnsSuffix
      : partition.dnsSuffix;
  return `https://${host}.${region}.${suffix}`;
}

function variantOf(fips: boolean, dualStack: boolean): EndpointVariant {
  if (fips) return dualStack ? "fips-dualstack" : "fips";
  return dualStack ? "dualstack" : "standard";
}

/** A boolean of the SDK's environment: `true` or `false` exactly, unset is false. */
function sdkFlag(env: Env, name: string): boolean {
  const value = env[name];
  if (value === undefined || value === "" || value === "false") return false;
  if (value === "true") return true;
  throw new ConfigError(
    `${name}: expected "true" or "false" (as the AWS SDK reads it), got "${echo(value, 20)}"`,
  );
}
