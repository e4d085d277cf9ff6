import * as z from "zod/mini";
import { cidr4, cidrList } from "../../lib/core/cidr";
import {
  bool,
  clip,
  int,
  list,
  matching,
  num,
  oneOf,
  text,
  type ValuesOf,
  within,
} from "../../lib/core/config";
import {
  AMP_WORKSPACE_ARN_PARTS,
  AMP_WORKSPACE_ID,
  AWS_REGION,
  DNS_HOST,
  ROLE_ARN,
  VPC_ENDPOINT_ID,
  WEB_ACL_ARN,
} from "../../lib/core/patterns";
import {
  ANSWER_MEMORY,
  ERROR_STATUS,
  type ErrorStatusMode,
  MAX_ANSWER_BYTES,
  MAX_SERIES,
  MIRROR_DEFAULTS,
  maxAnswerBytesFor,
  REQUIRE_KEY,
} from "../../lib/mirror/config";
import { type CreatedVpc, type ImportedVpc, NETWORK_KEYS, vpcSettings } from "./network";
import { contextError, type Given } from "./read";

/** The mirror API and function (only with the mirror component), and what it may reach. */

export type SecretsAccess = "endpoint" | "nat";
/** Where the mirror function runs: in a VPC (created or imported), or outside any VPC. */
export type MirrorNetworkMode = "vpc" | "none";
/** How the mirror answers its error objects: statuses by kind, or always 500 (as the peer mirror does). */
export type MirrorErrorStatus = ErrorStatusMode;

/** An Amazon Managed Service for Prometheus workspace the mirror may query. */
export interface AmpWorkspace {
  readonly id: string;
  readonly region: string;
  /** The ARN as given (its account may be another); unset for `id@region`, built with the stack's account. */
  readonly arn?: string;
}

export const MIRROR_KEYS = {
  workers: int({
    min: 1,
    max: 1000,
    default: 20,
    doc: "mirror concurrency: the mirror function's reserved concurrency, 1 to 1000",
  }),
  mirrorThrottleRate: num({
    min: 1,
    max: 1_000_000,
    default: 50,
    doc: "mirror API steady rate limit, requests/s, 1 to 1000000",
  }),
  mirrorThrottleBurst: int({
    min: 1,
    max: 1_000_000,
    default: 100,
    doc: "mirror API burst limit, requests, 1 to 1000000",
  }),
  mirrorMemoryMb: int({
    min: 128,
    max: 10_240,
    default: 512,
    doc: "mirror function memory, MB, 128 to 10240",
  }),
  // MIRROR_MAX_ANSWER_BYTES, MIRROR_MAX_SERIES, MIRROR_REQUIRE_KEY, MIRROR_ERROR_STATUS of the function
  mirrorMaxAnswerBytes: within(MAX_ANSWER_BYTES, {
    min: MAX_ANSWER_BYTES.range![0],
    max: MAX_ANSWER_BYTES.range![1],
    default: undefined,
    doc: "`MIRROR_MAX_ANSWER_BYTES`: the largest Prometheus answer the mirror reads, bytes, 65536 to 1073741824 (unset: 16 MiB, or less when `mirrorMemoryMb` holds less); a value `mirrorMemoryMb` cannot hold is refused ([docs/mirror.md](mirror.md#bounded-answers))",
  }),
  mirrorMaxSeries: {
    ...MAX_SERIES,
    doc: "`MIRROR_MAX_SERIES`: the most series a metric query's conditions may match before it is refused, 1 to 100000",
  },
  mirrorRequireKey: {
    ...REQUIRE_KEY,
    doc: "`MIRROR_REQUIRE_KEY`: every caller must present the mirror key (StackState then has to send it); a caller that presents a wrong key is refused either way",
  },
  mirrorKeylessCallers: oneOf(["stackstateCidrs", "any"], {
    default: "stackstateCidrs",
    doc: "which callers that present no key the mirror answers, and hands its key to: `stackstateCidrs` (only those source addresses, `MIRROR_TRUSTED_CIDRS`; others get 401 without the key) or `any` (every caller the API admits) ([security.md](security.md#the-mirror-key))",
  }),
  mirrorWebAclArn: text({
    default: undefined,
    doc: "existing regional AWS WAF web ACL (`arn:aws:wafv2:<region>:<account>:regional/webacl/<name>/<id>`) associated with the mirror API's stage ([security.md](security.md#who-may-write))",
    pattern: WEB_ACL_ARN,
    expected: "a regional WAF web ACL ARN like arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/name/id",
  }),
  mirrorErrorStatus: {
    ...ERROR_STATUS,
    doc: "`MIRROR_ERROR_STATUS`: `native` (400/403/404/502/504 by kind) or `500` (every error object, as the peer mirror)",
  },
  mirrorNetwork: oneOf(["vpc", "none"], {
    default: "vpc",
    doc: "`vpc`: the mirror runs in a VPC (created or imported); `none`: outside any VPC (AMP or public targets only)",
  }),
  prometheusHost: text({
    default: "prometheus.internal",
    doc: "Prometheus host the mirror queries (with `ampWorkspaces` or `mirrorNetwork=none`: only when set)",
    pattern: DNS_HOST,
    expected: "a host name",
  }),
  prometheusPort: int({
    min: 1,
    max: 65_535,
    default: 9090,
    doc: "Prometheus port, 1 to 65535; the mirror's only allowed egress besides HTTPS to AWS APIs",
  }),
  prometheusCidr: cidr4({
    default: "0.0.0.0/0",
    doc: "narrows the mirror's egress on the Prometheus port to this CIDR (only with `mirrorNetwork=vpc`)",
  }),
  ampWorkspaces: list({
    doc: "comma-separated AMP workspaces the mirror may query: `arn:aws:aps:<region>:<account>:workspace/<id>` or `<id>@<region>`",
  }),
  mirrorAssumeRoleArns: list({
    doc: "comma-separated IAM role ARNs the mirror may assume (`aws.role_arn` of the connection details)",
    item: z
      .string()
      .check(matching(ROLE_ARN, "an IAM role ARN like arn:aws:iam::123456789012:role/name (no wildcards)")),
    unique: "a role is listed twice",
  }),
  stackstateCidrs: cidrList({ doc: "comma-separated source CIDRs allowed to call the mirror API" }),
  mirrorPrivate: bool({
    default: false,
    doc: "private mirror API, reachable only through an execute-api VPC endpoint",
  }),
  mirrorApiVpcEndpointId: text({
    default: undefined,
    doc: "existing execute-api VPC endpoint (private mirror only)",
    pattern: VPC_ENDPOINT_ID,
    expected: "a VPC endpoint id",
  }),
  mirrorSecretsAccess: oneOf(["endpoint", "nat"], {
    default: "endpoint",
    doc: "`endpoint`: interface endpoints in the mirror subnets for Secrets Manager (and AMP, STS when configured); `nat`: the subnets route out already",
  }),
  apiGatewayLogsRole: bool({
    default: false,
    doc: "`true`: create a role and make it the region's API Gateway CloudWatch Logs role (an account-wide setting that REST API access logs need; kept after `cdk destroy`); `false`: leave the account setting alone ([below](#the-api-gateway-logging-role))",
  }),
} as const;

export interface MirrorSettings {
  /** The old mirror's `workers`: the function's reserved concurrency. */
  readonly workers: number;
  readonly throttleRate: number;
  readonly throttleBurst: number;
  readonly memoryMb: number;
  /** MIRROR_MAX_ANSWER_BYTES: the most bytes of one Prometheus answer the function reads. */
  readonly maxAnswerBytes: number;
  /** MIRROR_MAX_SERIES: the most series a metric query's conditions may match. */
  readonly maxSeries: number;
  readonly requireKey: boolean;
  readonly errorStatus: MirrorErrorStatus;
  readonly network: MirrorNetworkMode;
  /** The Prometheus server the mirror may call (host:port); unset when only AMP is targeted. */
  readonly prometheus?: {
    readonly host: string;
    readonly port: number;
    /** Destination the mirror may open connections to (on the Prometheus port only; VPC mode). */
    readonly cidr: string;
  };
  /** AMP workspaces the mirror may query (IAM, allowlist and, without internet, an endpoint). */
  readonly ampWorkspaces: readonly AmpWorkspace[];
  /** IAM roles the mirror may assume (connection details' `aws.role_arn`). */
  readonly assumeRoleArns: readonly string[];
  /** Callers allowed at the API (StackState's egress addresses). */
  readonly sourceCidrs: readonly string[];
  readonly private: boolean;
  /** An existing execute-api VPC endpoint for the private API; created when absent. */
  readonly apiVpcEndpointId?: string;
  /** How the mirror reaches AWS APIs from its VPC; unset with mirrorNetwork=none. */
  readonly secretsAccess?: SecretsAccess;
  /** Set the region's API Gateway CloudWatch Logs role (REST API access logs need one). */
  readonly apiGatewayLogsRole: boolean;
  /** An existing regional WAF web ACL to associate with the mirror API's stage. */
  readonly webAclArn?: string;
  /**
   * Which callers that present no key the function trusts: only those from `sourceCidrs`
   * (MIRROR_TRUSTED_CIDRS), or any the API admits.
   */
  readonly keylessCallers: "stackstateCidrs" | "any";
}

/** Keys that describe the mirror's VPC: meaningless with mirrorNetwork=none. */
const VPC_KEYS = [...Object.keys(NETWORK_KEYS), "mirrorSecretsAccess", "prometheusCidr"];

type MirrorValues = ValuesOf<typeof MIRROR_KEYS> & ValuesOf<typeof NETWORK_KEYS>;

export function mirrorSettings(
  v: MirrorValues,
  given: Given,
): { mirror: MirrorSettings; vpc?: CreatedVpc | ImportedVpc } {
  const network = v.mirrorNetwork;
  if (network === "none") {
    const key = VPC_KEYS.find(given);
    if (key !== undefined) {
      throw contextError(key, "applies only with mirrorNetwork=vpc (with none the mirror is in no VPC)");
    }
  }
  const vpc = network === "vpc" ? vpcSettings(v, given) : undefined;

  const apiVpcEndpointId = v.mirrorApiVpcEndpointId;
  if (apiVpcEndpointId !== undefined && !v.mirrorPrivate) {
    throw contextError("mirrorApiVpcEndpointId", "applies only with mirrorPrivate=true");
  }
  if (v.mirrorPrivate && network === "none" && apiVpcEndpointId === undefined) {
    throw contextError(
      "mirrorApiVpcEndpointId",
      "required with mirrorPrivate=true and mirrorNetwork=none: without a VPC no execute-api endpoint can be created",
    );
  }
  if (v.mirrorPrivate && apiVpcEndpointId === undefined && v.stackstateCidrs.length === 0) {
    throw contextError(
      "stackstateCidrs",
      "required with mirrorPrivate=true unless mirrorApiVpcEndpointId is given: the created endpoint admits only these sources",
    );
  }
  let secretsAccess: SecretsAccess | undefined;
  if (network === "vpc") {
    secretsAccess = v.mirrorSecretsAccess;
    if (secretsAccess === "nat" && vpc?.create === true) {
      throw contextError(
        "mirrorSecretsAccess",
        "nat needs an existing VPC with a route out; the created VPC has none",
      );
    }
  }
  const ampWorkspaces = parseAmpWorkspaces(v.ampWorkspaces);
  const regions = [...new Set(ampWorkspaces.map((w) => w.region))];
  if (secretsAccess === "endpoint" && regions.length > 1) {
    throw contextError(
      "ampWorkspaces",
      `workspaces in several regions (${regions.join(", ")}): without internet the mirror reaches AMP through an aps-workspaces endpoint, which serves the stack's own region only; list that region's workspaces, or use mirrorNetwork=none, or an existing VPC with mirrorSecretsAccess=nat`,
    );
  }
  return {
    vpc,
    mirror: {
      workers: v.workers,
      throttleRate: v.mirrorThrottleRate,
      throttleBurst: v.mirrorThrottleBurst,
      memoryMb: v.mirrorMemoryMb,
      maxAnswerBytes: answerCap(v.mirrorMaxAnswerBytes, v.mirrorMemoryMb),
      maxSeries: v.mirrorMaxSeries,
      requireKey: v.mirrorRequireKey,
      errorStatus: v.mirrorErrorStatus,
      network,
      prometheus: prometheusTarget(v, given, ampWorkspaces.length > 0),
      ampWorkspaces,
      assumeRoleArns: v.mirrorAssumeRoleArns,
      sourceCidrs: v.stackstateCidrs,
      private: v.mirrorPrivate,
      apiVpcEndpointId,
      secretsAccess,
      apiGatewayLogsRole: v.apiGatewayLogsRole,
      webAclArn: v.mirrorWebAclArn,
      keylessCallers: v.mirrorKeylessCallers,
    },
  };
}

/** Prometheus is a target when configured, and by default when nothing else is. */
function prometheusTarget(
  v: MirrorValues,
  given: Given,
  hasWorkspaces: boolean,
): MirrorSettings["prometheus"] {
  const none = v.mirrorNetwork === "none";
  if (none && given("prometheusPort") && !given("prometheusHost")) {
    throw contextError("prometheusHost", "required with prometheusPort when mirrorNetwork=none");
  }
  const configured = given("prometheusHost") || given("prometheusPort") || given("prometheusCidr");
  if (configured || (!none && !hasWorkspaces)) {
    return { host: v.prometheusHost, port: v.prometheusPort, cidr: v.prometheusCidr };
  }
  if (!hasWorkspaces) {
    throw contextError(
      "ampWorkspaces",
      "required with mirrorNetwork=none unless prometheusHost is set: the mirror would have no target",
    );
  }
  return undefined;
}

/**
 * The mirror's answer cap: as configured when the function's memory holds it (refused
 * otherwise), else the function's default or what the memory holds, whichever is less.
 */
function answerCap(asked: number | undefined, memoryMb: number): number {
  const fits = maxAnswerBytesFor(memoryMb);
  if (asked === undefined) {
    if (fits < MAX_ANSWER_BYTES.range![0]) {
      throw contextError("mirrorMemoryMb", `${memoryMb} MB cannot hold even the smallest answer cap`);
    }
    return Math.min(MIRROR_DEFAULTS.maxAnswerBytes, fits);
  }
  if (asked > fits) {
    const { rssPerAnswerByte, baseMb, share } = ANSWER_MEMORY;
    throw contextError(
      "mirrorMaxAnswerBytes",
      `${asked} bytes do not fit mirrorMemoryMb=${memoryMb}: reading and parsing an answer takes about ${rssPerAnswerByte} times its size beside ${baseMb} MB, within ${share * 100}% of the memory, so at most ${fits} bytes; lower the cap or raise mirrorMemoryMb`,
    );
  }
  return asked;
}

/** `arn:<partition>:aps:<region>:<account>:workspace/<id>` or `<id>@<region>`, each once. */
function parseAmpWorkspaces(entries: readonly string[]): AmpWorkspace[] {
  const workspaces: AmpWorkspace[] = [];
  for (const entry of entries) {
    const fail = (why: string) =>
      contextError(
        "ampWorkspaces",
        `"${clip(entry)}" ${why}; expected arn:aws:aps:<region>:<account>:workspace/ws-... or ws-...@<region>`,
      );
    let workspace: AmpWorkspace;
    const arn = AMP_WORKSPACE_ARN_PARTS.exec(entry);
    if (arn !== null) {
      const [, , region = "", , id = ""] = arn;
      if (!AWS_REGION.test(region)) throw fail("has no valid region");
      if (!AMP_WORKSPACE_ID.test(id)) throw fail("has no valid workspace id");
      workspace = { id, region, arn: entry };
    } else if (entry.startsWith("arn:")) {
      throw fail("is not an AMP workspace ARN");
    } else {
      const at = entry.indexOf("@");
      const id = at < 0 ? entry : entry.slice(0, at);
      const region = at < 0 ? "" : entry.slice(at + 1);
      if (!AMP_WORKSPACE_ID.test(id)) throw fail("has no valid workspace id");
      if (!AWS_REGION.test(region)) throw fail("has no valid region after @");
      workspace = { id, region };
    }
    if (workspaces.some((w) => w.id === workspace.id && w.region === workspace.region)) {
      throw fail("is listed twice");
    }
    workspaces.push(workspace);
  }
  return workspaces;
}
