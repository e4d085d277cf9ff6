/**
 * The shapes of names and identifiers the configuration, the mirror's allowlist and the AWS
 * client check: host names, URLs, IPv4 addresses, AWS regions, accounts, stack names and
 * ARNs. Declared once, so the stack's context and the functions' environment refuse alike.
 */

/** A DNS host name: labels of letters, digits and inner hyphens, at most 253 characters. */
export const DNS_HOST =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
/** A host name as clients send it: underscores inside labels and a trailing dot allowed. */
export const LENIENT_HOST =
  /^[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?)*\.?$/;
/** An IPv6 address, bracketed or not (the URL parser has the last word). */
export const IPV6_HOST = /^\[?[0-9A-Fa-f:.]+\]?$/;
/** A host pattern of an allowlist: a host name with `*` wildcards, or a bracketed IPv6 pattern. */
export const HOST_PATTERN = /^[A-Za-z0-9*._-]+$|^\[[0-9A-Fa-f:.*]+\]$/;
/** A URL path: segments of RFC 3986 path characters, each after a "/". */
export const URL_PATH = /^(\/[A-Za-z0-9._~!$&'()*+,;=:@-]+)*\/?$/;
/** An http or https URL without spaces (parsed by `URL` afterwards). */
export const HTTP_URL = /^https?:\/\/[^\s]+$/;
/** An HTTP header name (RFC 9110 token). */
export const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

/** A dotted-quad IPv4 address (each octet still to be checked against 255). */
export const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** An AWS region name, e.g. `eu-west-1`, `us-gov-west-1`, `us-isob-east-1`. */
export const AWS_REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
/** What can stand for a region in an endpoint host name: hyphenated lower-case words and digits. */
export const REGION_TOKEN = /^[a-z0-9]+(-[a-z0-9]+)+$/;
/** An availability zone of a region, e.g. `eu-west-1a`. */
export const AVAILABILITY_ZONE = /^[a-z]{2}(-[a-z]+)+-\d[a-z]$/;
/** A 12-digit AWS account id. */
export const AWS_ACCOUNT = /^\d{12}$/;
/** A CloudFormation stack name. */
export const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;
/** A CloudWatch metrics namespace of our own (`AWS/` is reserved). */
export const METRICS_NAMESPACE = /^(?!AWS\/)[A-Za-z0-9._\-/#:]{1,255}$/;
/** One email address, as an SNS email subscription takes it. */
export const EMAIL = /^[^@\s,]+@[^@\s,]+\.[^@\s,]+$/;

/** Ids of VPC resources. */
export const VPC_ID = /^vpc-[0-9a-f]{8,17}$/;
export const SUBNET_ID = /^subnet-[0-9a-f]{8,17}$/;
export const SECURITY_GROUP_ID = /^sg-[0-9a-f]{8,17}$/;
export const VPC_ENDPOINT_ID = /^vpce-[0-9a-f]{8,17}$/;

/** An Amazon Managed Service for Prometheus workspace id. */
export const AMP_WORKSPACE_ID = /^ws-[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;
/**
 * Any ARN of the `aps` service naming a workspace, split into partition, region, account and
 * the rest (checked apart, so a message can say which part is wrong).
 */
export const AMP_WORKSPACE_ARN_PARTS = /^arn:(aws|aws-cn|aws-us-gov):aps:([^:]*):(\d{12}):workspace\/(.*)$/;
/** A well-formed AMP workspace ARN; group 1 is its region. */
export const AMP_WORKSPACE_ARN = /^arn:aws[a-z-]*:aps:([a-z0-9-]+):\d{12}:workspace\/ws-[A-Za-z0-9-]+$/;
/** A Secrets Manager secret ARN. */
export const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/;
/** A KMS key ARN (a key id or a multi-Region key id; no aliases, no wildcards). */
export const KMS_KEY_ARN =
  /^arn:aws[a-z-]*:kms:[a-z]{2}(-[a-z]+)+-\d:\d{12}:key\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/;
/** A regional AWS WAF web ACL ARN. */
export const WEB_ACL_ARN =
  /^arn:aws[a-z-]*:wafv2:[a-z]{2}(-[a-z]+)+-\d:\d{12}:regional\/webacl\/[A-Za-z0-9_-]{1,128}\/[0-9a-f-]{36}$/;
/** An IAM role ARN, path allowed, no wildcards. */
export const ROLE_ARN = /^arn:(aws|aws-cn|aws-us-gov):iam::\d{12}:role\/([\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;

/** The region an ARN names (its fourth field). */
export function arnRegion(arn: string): string {
  return arn.split(":")[3] ?? "";
}
