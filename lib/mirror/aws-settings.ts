import { awsPartition } from "../core/aws-partitions";
import { badRequest } from "./errors";
import type { AwsDetails } from "./protocol";

/** How to obtain credentials for signing calls to a store (lib/aws/credentials.ts uses these). */
export interface AwsSettings {
  readonly accessKeyId?: string;
  readonly secretAccessKey?: string;
  readonly sessionToken?: string;
  readonly roleArn?: string;
  readonly externalId?: string;
  readonly roleSessionName: string;
  /** Lifetime asked of STS (900-43200 s). */
  readonly durationSeconds: number;
  /** Signing region, also the STS region. */
  readonly region: string;
}

export const DEFAULT_ROLE_SESSION_NAME = "StackState-Prometheus-Mirror";
export const DEFAULT_TOKEN_EXPIRY_SECONDS = 900;
const WORKSPACE_HOST = /^aps-workspaces\.([a-z0-9-]+)\.([a-z0-9.-]+?)\.?$/;

/**
 * The region in an AMP workspace host (`aps-workspaces.<region>.<suffix>`), if it is one: the
 * suffix is the region's partition's (`amazonaws.com`, `amazonaws.com.cn`, … or its
 * dual-stack one, lib/core/aws-partitions.ts).
 */
export function regionFromHost(hostname: string): string | undefined {
  const match = WORKSPACE_HOST.exec(hostname.toLowerCase());
  if (match === null) return undefined;
  const [, region, suffix] = match as unknown as [string, string, string];
  const partition = awsPartition(region);
  return suffix === partition.dnsSuffix || suffix === partition.dualStackDnsSuffix ? region : undefined;
}

/**
 * The signing settings of a connection details' `aws` block. The region is `region_name`,
 * else the one in an `aps-workspaces.<region>.<partition suffix>` host, else the function's own
 * (AWS_REGION); none of them is a 400.
 */
export function awsSettings(aws: AwsDetails, targetHost: string, functionRegion?: string): AwsSettings {
  const region = aws.region_name ?? regionFromHost(targetHost) ?? functionRegion;
  if (region === undefined) {
    throw badRequest(
      "aws-region-unknown",
      "Invalid connection details",
      "connectionDetails.aws.region_name: needed (the URL is not an aps-workspaces.<region>.amazonaws.com host, nor another partition's, and the mirror has no AWS_REGION)",
    );
  }
  return {
    accessKeyId: aws.aws_access_key_id ?? undefined,
    secretAccessKey: aws.aws_secret_access_key ?? undefined,
    sessionToken: aws.aws_session_token ?? undefined,
    roleArn: aws.role_arn ?? undefined,
    externalId: aws.external_id ?? undefined,
    roleSessionName: aws.role_session_name ?? DEFAULT_ROLE_SESSION_NAME,
    durationSeconds: aws.token_expiry_seconds ?? DEFAULT_TOKEN_EXPIRY_SECONDS,
    region,
  };
}
