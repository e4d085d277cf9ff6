import { clip, list, text, type ValuesOf } from "../../lib/core/config";
import { AWS_ACCOUNT, AWS_REGION, arnRegion, KMS_KEY_ARN, STACK_NAME } from "../../lib/core/patterns";
import { contextError } from "./read";

/** The stack itself: its name, where it goes, how it is encrypted and which parts it holds. */

/**
 * The parts one stack can hold. Each is deployable alone; a part that is not listed gets no
 * resources, no outputs, no alarms and no dashboard widgets.
 */
export const COMPONENTS = ["ingest", "mirror"] as const;
export type Component = (typeof COMPONENTS)[number];

/** How the stream, the secrets and the log groups are encrypted. */
export type Encryption =
  | { readonly mode: "aws-managed" }
  /** One customer-managed key created by the stack (rotation on), for all three. */
  | { readonly mode: "create" }
  /** An existing customer-managed key, by ARN; its key policy is the owner's to keep. */
  | { readonly mode: "key"; readonly keyArn: string };

export const STACK_KEYS = {
  stackName: text({
    default: "PrometheusGateway",
    doc: "CloudFormation stack name",
    problem: (name) =>
      STACK_NAME.test(name) ? undefined : "letters, digits and hyphens, starting with a letter, at most 128",
  }),
  account: text({
    default: undefined,
    doc: "AWS account id (12 digits) the stack is pinned to; unset: `CDK_DEFAULT_ACCOUNT` (the account of the CLI's credentials), else decided at deploy time ([Account and region](#account-and-region))",
    pattern: AWS_ACCOUNT,
    expected: "a 12-digit AWS account id",
  }),
  region: text({
    default: undefined,
    doc: "AWS region the stack is pinned to, e.g. `eu-west-1`; unset: `CDK_DEFAULT_REGION` (the CLI's profile or `AWS_REGION`), else decided at deploy time",
    pattern: AWS_REGION,
    expected: "an AWS region like eu-west-1",
  }),
  kmsKey: text({
    default: "aws-managed",
    doc: "encryption of the stream, the secrets and the log groups: `aws-managed` (the `aws/kinesis` and `aws/secretsmanager` keys, CloudWatch Logs' own encryption), `create` (one customer-managed key created by the stack, rotated yearly, kept after `cdk destroy`), or the ARN of an existing key in the stack's region ([security.md](security.md#customer-managed-kms-keys))",
    problem: (value) =>
      value === "aws-managed" || value === "create" || KMS_KEY_ARN.test(value)
        ? undefined
        : `expected aws-managed, create, or a KMS key ARN like arn:aws:kms:eu-west-1:123456789012:key/<id> (got "${clip(value)}")`,
  }),
  components: list({
    default: COMPONENTS.join(","),
    doc: "parts to deploy, comma-separated: `ingest` (stream and remote-write API), `mirror` (mirror API)",
  }),
} as const;

export interface StackPart {
  readonly stackName: string;
  /** The account and region the stack is pinned to (`account`/`region`); unset: taken at deploy time. */
  readonly account?: string;
  readonly region?: string;
  readonly encryption: Encryption;
  /** The parts this stack deploys, in the order of COMPONENTS. */
  readonly components: readonly Component[];
}

export function stackPart(v: ValuesOf<typeof STACK_KEYS>): StackPart {
  const { stackName, account, region } = v;
  return { stackName, account, region, encryption: encryption(v.kmsKey, region), components: components(v) };
}

/** The listed components, each once, in the order of COMPONENTS. */
export function components(v: Pick<ValuesOf<typeof STACK_KEYS>, "components">): Component[] {
  const listed = v.components;
  if (listed.length === 0) {
    throw contextError("components", `list at least one of ${COMPONENTS.join(", ")}`);
  }
  const seen = new Set<string>();
  for (const name of listed) {
    if (!(COMPONENTS as readonly string[]).includes(name)) {
      throw contextError("components", `expected ${COMPONENTS.join(", ")} (got "${clip(name)}")`);
    }
    if (seen.has(name)) throw contextError("components", `${name} is listed twice`);
    seen.add(name);
  }
  return COMPONENTS.filter((c) => seen.has(c));
}

function encryption(value: string, region: string | undefined): Encryption {
  if (value === "aws-managed" || value === "create") return { mode: value };
  const keyRegion = arnRegion(value);
  if (region !== undefined && keyRegion !== region) {
    throw contextError(
      "kmsKey",
      `the key is in ${keyRegion}, the stack in ${region}: a key serves its own region only`,
    );
  }
  return { mode: "key", keyArn: value };
}
