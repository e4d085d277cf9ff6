import { badRequest } from "../errors";
import type { AwsDetails } from "../protocol";
import { type AwsSettings, DEFAULT_ROLE_SESSION_NAME, DEFAULT_TOKEN_EXPIRY_SECONDS } from "./credentials";
import { regionFromHost } from "./sigv4";

/**
 * The signing settings of a connection details' `aws` block. The region is `region_name`,
 * else the one in an `aps-workspaces.<region>.amazonaws.com` host, else the function's own
 * (AWS_REGION); none of them is a 400.
 */
export function awsSettings(aws: AwsDetails, targetHost: string, functionRegion?: string): AwsSettings {
  const region = aws.region_name ?? regionFromHost(targetHost) ?? functionRegion;
  if (region === undefined) {
    throw badRequest(
      "aws-region-unknown",
      "Invalid connection details",
      "connectionDetails.aws.region_name: needed (the URL is not an aps-workspaces.<region>.amazonaws.com host and the mirror has no AWS_REGION)",
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
