import type { Environment } from "aws-cdk-lib";
import type { GatewayConfig } from "./config";

/** Where the stack goes, and the line synth prints about it. */
export interface StackPlacement {
  /** The stack's `env`: only the parts that are known (an unknown part stays deploy-time). */
  readonly env: Environment;
  readonly account?: string;
  readonly region?: string;
  /** One line for stderr, e.g. `PrometheusGateway: account 123456789012, region eu-west-1`. */
  readonly line: string;
}

/**
 * The account and region: the `account` and `region` context keys first, else the CLI's
 * CDK_DEFAULT_ACCOUNT and CDK_DEFAULT_REGION (its credentials and profile). Whatever is known
 * is pinned on the stack, so a template synthesized for one region cannot be deployed in another
 * by accident; whatever is unknown is left to the deployment.
 */
export function stackPlacement(
  config: Pick<GatewayConfig, "stackName" | "account" | "region">,
  env: Readonly<Record<string, string | undefined>>,
): StackPlacement {
  const pick = (given: string | undefined, variable: string) => {
    if (given !== undefined) return { value: given, from: "context" };
    const value = env[variable]?.trim();
    return value ? { value, from: variable } : undefined;
  };
  const account = pick(config.account, "CDK_DEFAULT_ACCOUNT");
  const region = pick(config.region, "CDK_DEFAULT_REGION");
  const describe = (what: string, part: { value: string; from: string } | undefined, key: string) =>
    part === undefined
      ? `${what} not set (decided at deploy time; set -c ${key}=...)`
      : `${what} ${part.value}${part.from === "context" ? "" : ` (from ${part.from})`}`;
  return {
    env: {
      ...(account !== undefined ? { account: account.value } : {}),
      ...(region !== undefined ? { region: region.value } : {}),
    },
    account: account?.value,
    region: region?.value,
    line: `${config.stackName}: ${describe("account", account, "account")}, ${describe("region", region, "region")}`,
  };
}
