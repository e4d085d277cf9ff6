import { ConfigError } from "../lib/core/config";
import { LOG_LEVELS, type LogLevel } from "../lib/core/log";
import { DEFAULT_METRICS_NAMESPACE } from "../lib/core/metric-names";
import { AUTH_KINDS, type AuthKind, FORWARDER_DEFAULTS } from "../lib/forwarder/config";
import { PROTOCOLS, type Protocol } from "../lib/forwarder/negotiate";
import { DEFAULT_NAME_VALIDATION, NAME_VALIDATIONS, type NameValidation } from "../lib/ingest/scan/validate";
import { ANSWER_BYTES_RANGE, ANSWER_MEMORY, MIRROR_DEFAULTS, maxAnswerBytesFor } from "../lib/mirror/config";

/**
 * The deployment's configuration: one typed, frozen object parsed from CDK context
 * (`cdk.json` or `-c key=value`). Values given on the command line arrive as strings,
 * values in `cdk.json` may be typed JSON; both are accepted. Every error names its key.
 */

export type StreamMode = "on-demand" | "provisioned";
export type SecretsAccess = "endpoint" | "nat";
/** Where the mirror function runs: in a VPC (created or imported), or outside any VPC. */
export type MirrorNetworkMode = "vpc" | "none";
/** How the mirror answers its error objects: statuses by kind, or always 500 (as the peer mirror does). */
export type MirrorErrorStatus = "native" | "500";

/**
 * The parts one stack can hold. Each is deployable alone; a part that is not listed gets no
 * resources, no outputs, no alarms and no dashboard widgets.
 */
export const COMPONENTS = ["ingest", "mirror"] as const;
export type Component = (typeof COMPONENTS)[number];

/** An Amazon Managed Service for Prometheus workspace the mirror may query. */
export interface AmpWorkspace {
  readonly id: string;
  readonly region: string;
  /** The ARN as given (its account may be another); unset for `id@region`, built with the stack's account. */
  readonly arn?: string;
}

/** Log retention values CloudWatch Logs accepts, in days. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** Largest raw body whose base64 form (4/3 larger) still fits a 6 MB synchronous Lambda event. */
export const MAX_LAMBDA_BODY_BYTES = 4_400_000;

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

/** How the stream, the secrets and the log groups are encrypted. */
export type Encryption =
  | { readonly mode: "aws-managed" }
  /** One customer-managed key created by the stack (rotation on), for all three. */
  | { readonly mode: "create" }
  /** An existing customer-managed key, by ARN; its key policy is the owner's to keep. */
  | { readonly mode: "key"; readonly keyArn: string };

export interface GatewayConfig {
  readonly stackName: string;
  /** The account and region the stack is pinned to (`account`/`region`); unset: taken at deploy time. */
  readonly account?: string;
  readonly region?: string;
  readonly encryption: Encryption;
  /** The parts this stack deploys, in the order of COMPONENTS. */
  readonly components: readonly Component[];
  /** Only with the ingest component. */
  readonly stream?: {
    readonly mode: StreamMode;
    /** Only for provisioned mode. */
    readonly shards?: number;
    readonly retentionHours: number;
    /** The stream's record limit, data plus partition key, KiB (Kinesis: 1024 to 10240). */
    readonly maxRecordKiB: number;
  };
  /** Only with the ingest component. */
  readonly ingest?: {
    readonly throttleRate: number;
    readonly throttleBurst: number;
    readonly reservedConcurrency?: number;
    readonly memoryMb: number;
    readonly timeoutSeconds: number;
    readonly maxBodyBytes: number;
    /** NAME_VALIDATION of the ingest function. */
    readonly nameValidation: NameValidation;
    /** INGEST_ALLOWED_CIDRS: the only sources the function answers (empty: any). */
    readonly allowedCidrs: readonly string[];
  };
  /** Only with the mirror component. */
  readonly mirror?: {
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
  };
  /** A VPC to create, or the ids of an existing one (never looked up); only with the mirror in a VPC. */
  readonly vpc?: CreatedVpc | ImportedVpc;
  /** The optional forwarder from the stream to a remote_write endpoint (absent: none; needs ingest). */
  readonly forwarder?: ForwarderSettings;
  readonly observability: {
    readonly alarmEmail?: string;
    readonly logRetentionDays: number;
    readonly logLevel: LogLevel;
    readonly metricsNamespace: string;
    readonly keyCacheSeconds: number;
  };
}

/** The largest record a forwarder's Lambda event can carry (base64 within the 6 MB event limit). */
const MAX_FORWARDED_RECORD_KIB = 4096;

/** Every context key, its default and meaning; the configuration table in docs/deploy.md follows this. */
export const CONFIG_KEYS = {
  stackName: { default: "PrometheusGateway", doc: "CloudFormation stack name" },
  account: {
    default: undefined,
    doc: "AWS account id (12 digits) the stack is pinned to; unset: `CDK_DEFAULT_ACCOUNT` (the CLI's credentials), else decided at deploy time",
  },
  region: {
    default: undefined,
    doc: "AWS region the stack is pinned to, e.g. `eu-west-1`; unset: `CDK_DEFAULT_REGION` (the CLI's profile or `AWS_REGION`), else decided at deploy time",
  },
  kmsKey: {
    default: "aws-managed",
    doc: "encryption of the stream, the secrets and the log groups: `aws-managed` (AWS-owned and AWS-managed keys), `create` (one customer-managed key created by the stack, rotated yearly, retained on teardown), or the ARN of an existing customer-managed key ([security.md](security.md#customer-managed-kms-keys))",
  },
  components: {
    default: "ingest,mirror",
    doc: "parts to deploy, comma-separated: `ingest` (stream and remote-write API), `mirror` (mirror API)",
  },
  streamMode: { default: "on-demand", doc: "`on-demand` or `provisioned`" },
  streamShards: {
    range: [1, 10_000],
    default: undefined,
    doc: "shard count; only with `streamMode=provisioned` (then default 1)",
  },
  streamRetentionHours: { range: [24, 8760], default: 24, doc: "record retention, 24 to 8760 hours" },
  streamMaxRecordKiB: {
    range: [1024, 10_240],
    default: 1024,
    doc: "the stream's record limit (`MaxRecordSizeInKiB`, 1024 to 10240) and the ingest function's `MAX_RECORD_BYTES`, set together; at most 4096 with the forwarder (a Lambda event holds 6 MB)",
  },
  ingestThrottleRate: {
    range: [1, 1_000_000],
    default: 500,
    doc: "remote-write API steady rate limit, requests/s",
  },
  ingestThrottleBurst: {
    range: [1, 1_000_000],
    default: 1000,
    doc: "remote-write API burst limit, requests",
  },
  ingestReservedConcurrency: {
    range: [1, 10_000],
    default: undefined,
    doc: "reserved concurrency of the ingest function (unset: none)",
  },
  ingestMemoryMb: { range: [128, 10_240], default: 1024, doc: "ingest function memory, MB (128 to 10240)" },
  ingestTimeoutSeconds: {
    range: [5, 29],
    default: 20,
    doc: "ingest function timeout, 5 to 29 s; Kinesis retries stop 3 s earlier",
  },
  ingestMaxBodyBytes: {
    range: [1024, MAX_LAMBDA_BODY_BYTES],
    default: 4_194_304,
    doc: "largest compressed remote-write body accepted, bytes",
  },
  ingestAllowedCidrs: {
    default: "",
    doc: "comma-separated source CIDRs the ingest function answers (`INGEST_ALLOWED_CIDRS`; others get 403 before the key is checked); empty: any source ([security.md](security.md#who-may-write))",
  },
  nameValidation: {
    default: DEFAULT_NAME_VALIDATION,
    doc: "`NAME_VALIDATION` for the ingest function: `utf8` (any UTF-8 metric and label names, as Prometheus 3 and Mimir take them) or `legacy` (only `[a-zA-Z_:][a-zA-Z0-9_:]*` names, when every backend the stream feeds predates Prometheus 3)",
  },
  workers: {
    range: [1, 1000],
    default: 20,
    doc: "mirror concurrency: the mirror function's reserved concurrency",
  },
  mirrorThrottleRate: { range: [1, 1_000_000], default: 50, doc: "mirror API steady rate limit, requests/s" },
  mirrorThrottleBurst: { range: [1, 1_000_000], default: 100, doc: "mirror API burst limit, requests" },
  mirrorMemoryMb: { range: [128, 10_240], default: 512, doc: "mirror function memory, MB" },
  mirrorMaxAnswerBytes: {
    range: [ANSWER_BYTES_RANGE.min, ANSWER_BYTES_RANGE.max],
    default: undefined,
    doc: "`MIRROR_MAX_ANSWER_BYTES`: the largest Prometheus answer the mirror reads, bytes (unset: 16 MiB, or less when `mirrorMemoryMb` holds less); a value `mirrorMemoryMb` cannot hold is refused ([docs/mirror.md](mirror.md#bounded-answers))",
  },
  mirrorMaxSeries: {
    range: [1, 100_000],
    default: MIRROR_DEFAULTS.maxSeries,
    doc: "`MIRROR_MAX_SERIES`: the most series a metric query's conditions may match before it is refused, 1 to 100000",
  },
  mirrorRequireKey: { default: false, doc: "`MIRROR_REQUIRE_KEY`: callers must present the mirror key" },
  mirrorKeylessCallers: {
    default: "stackstateCidrs",
    doc: "which callers presenting no key the mirror answers (and hands its key to): `stackstateCidrs` (only from those addresses, `MIRROR_TRUSTED_CIDRS`) or `any` (every caller the API admits) ([security.md](security.md#the-mirror-key))",
  },
  mirrorWebAclArn: {
    default: undefined,
    doc: "existing regional AWS WAF web ACL (`arn:aws:wafv2:<region>:<account>:regional/webacl/<name>/<id>`) associated with the mirror API's stage",
  },
  mirrorErrorStatus: {
    default: "native",
    doc: "`MIRROR_ERROR_STATUS`: `native` (400/403/404/502/504 by kind) or `500` (every error object, as the peer mirror)",
  },
  mirrorNetwork: {
    default: "vpc",
    doc: "`vpc`: the mirror runs in a VPC (created or imported); `none`: outside any VPC (AMP or public targets only)",
  },
  prometheusHost: {
    default: "prometheus.internal",
    doc: "Prometheus host the mirror queries (with `ampWorkspaces` or `mirrorNetwork=none`: only when set)",
  },
  prometheusPort: {
    range: [1, 65_535],
    default: 9090,
    doc: "Prometheus port; the mirror's only allowed egress besides HTTPS to AWS APIs",
  },
  prometheusCidr: {
    default: "0.0.0.0/0",
    doc: "narrows the mirror's egress on the Prometheus port to this CIDR (only with `mirrorNetwork=vpc`)",
  },
  ampWorkspaces: {
    default: "",
    doc: "comma-separated AMP workspaces the mirror may query: `arn:aws:aps:<region>:<account>:workspace/<id>` or `<id>@<region>`",
  },
  mirrorAssumeRoleArns: {
    default: "",
    doc: "comma-separated IAM role ARNs the mirror may assume (`aws.role_arn` of the connection details)",
  },
  stackstateCidrs: { default: "", doc: "comma-separated source CIDRs allowed to call the mirror API" },
  mirrorPrivate: {
    default: false,
    doc: "private mirror API, reachable only through an execute-api VPC endpoint",
  },
  mirrorApiVpcEndpointId: {
    default: undefined,
    doc: "existing execute-api VPC endpoint (private mirror only)",
  },
  mirrorSecretsAccess: {
    default: "endpoint",
    doc: "`endpoint`: interface endpoints in the mirror subnets for Secrets Manager (and AMP, STS when configured); `nat`: the subnets route out already",
  },
  apiGatewayLogsRole: {
    default: false,
    doc: "`true`: create a role and set it as the region's API Gateway CloudWatch Logs role (an account-wide setting REST API access logs need; kept after `cdk destroy`); `false`: leave the account setting alone (see docs/deploy.md)",
  },
  vpc: { default: "create", doc: "`create`, or the id of an existing VPC (`vpc-...`)" },
  vpcCidr: {
    prefixRange: [16, 24],
    default: "10.80.0.0/24",
    doc: "address range of the created VPC (only with `vpc=create`)",
  },
  vpcSubnetIds: { default: "", doc: "comma-separated private subnet ids of the existing VPC" },
  vpcAvailabilityZones: { default: "", doc: "comma-separated availability zones of those subnets, in order" },
  vpcSecurityGroupId: {
    default: undefined,
    doc: "existing security group for the mirror instead of creating one",
  },
  alarmEmail: { default: undefined, doc: "email subscribed to an SNS topic that receives every alarm" },
  logRetentionDays: {
    allowed: LOG_RETENTION_DAYS,
    default: 30,
    doc: "retention of function, access and flow logs, days",
  },
  logLevel: {
    default: "info",
    doc: "`LOG_LEVEL` of every function: debug, info, warn, error (either case); metrics are kept at every level ([operations.md](operations.md#log-levels))",
  },
  metricsNamespace: {
    default: DEFAULT_METRICS_NAMESPACE,
    doc: "CloudWatch namespace of the functions' metrics",
  },
  keyCacheSeconds: {
    range: [1, 3600],
    default: 60,
    doc: "how long the functions cache keys read from Secrets Manager, s",
  },
  // forwarder (docs/forwarder.md)
  forwardUrl: {
    default: undefined,
    doc: "remote_write URL (https) the forwarder delivers the stream to; unset: no forwarder",
  },
  forwardAuth: {
    default: "none",
    doc: "`none`, `basic`, `bearer`, `header` or `sigv4` (Amazon Managed Prometheus)",
  },
  forwardUsername: { default: undefined, doc: "basic auth user name (StackState: `apikey`)" },
  forwardHeaderName: {
    default: undefined,
    doc: "header carrying the secret with `forwardAuth=header` (StackState: `sts-api-key`)",
  },
  forwardSecretArn: {
    default: undefined,
    doc: "existing secret with the password, token or header value; unset: a secret is created to fill in",
  },
  forwardAmpWorkspaceArn: {
    default: undefined,
    doc: "Amazon Managed Prometheus workspace ARN; required with `forwardAuth=sigv4` (`aps:RemoteWrite` on it)",
  },
  forwardBatchSize: { range: [1, 10_000], default: 500, doc: "records per forwarder invocation, 1 to 10000" },
  forwardBatchingWindowSeconds: {
    range: [0, 300],
    default: 1,
    doc: "how long Lambda gathers records before invoking, 0 to 300 s",
  },
  forwardMaxRecordAgeSeconds: {
    range: [60, 604_800],
    default: 86400,
    doc: "records older than this are given up (their position goes to the dead-letter queue), 60 to 604800 s",
  },
  forwardRetryAttempts: {
    range: [0, 10_000],
    default: undefined,
    doc: "retries of a failing batch, 0 to 10000 (unset: until the record's maximum age)",
  },
  forwardMemoryMb: { range: [128, 10_240], default: 512, doc: "forwarder function memory, MB" },
  forwardTimeoutSeconds: {
    range: [10, 900],
    default: 60,
    doc: "forwarder function timeout, 10 to 900 s (retries happen within it)",
  },
  forwardMaxRequestBytes: {
    range: [1024, 64 * 1024 * 1024],
    default: FORWARDER_DEFAULTS.maxRequestBytes,
    doc: "largest uncompressed request when merging v1 records (and v2 records sent as 1.0), bytes",
  },
  forwardProtocol: {
    default: FORWARDER_DEFAULTS.protocol,
    doc: "Remote-Write version of v2 records: `auto` (2.0, and 1.0 to a destination that does not take 2.0), `v1` or `v2` (forced); v1 records always go as 1.0",
  },
  forwardProtocolMemorySeconds: {
    range: [0, 86_400],
    default: FORWARDER_DEFAULTS.protocolMemorySeconds,
    doc: "with `auto`, how long a fallback to 1.0 is remembered before 2.0 is tried again, 0 to 86400 s",
  },
  forwardRetryAuthFailures: {
    default: FORWARDER_DEFAULTS.retryAuthFailures,
    doc: "retry 401 and 403 like 5xx (records wait in the stream while a secret is put in place) instead of dead-lettering them",
  },
} as const satisfies Record<string, ConfigKeyEntry>;

/** One context key: its default, its meaning, and the bounds its value is checked against. */
export interface ConfigKeyEntry {
  readonly default: string | number | boolean | undefined;
  readonly doc: string;
  /** Inclusive bounds of a number. */
  readonly range?: readonly [number, number];
  /** Inclusive bounds of a CIDR's prefix length. */
  readonly prefixRange?: readonly [number, number];
  /** The only values accepted. */
  readonly allowed?: readonly (string | number)[];
}

/** The bounds of a numeric key, from CONFIG_KEYS. */
export function rangeOf(key: ConfigKey): readonly [number, number] | undefined {
  const entry: ConfigKeyEntry = CONFIG_KEYS[key];
  return entry.range;
}

export type ConfigKey = keyof typeof CONFIG_KEYS;

export { ConfigError };

/** The error for a bad context key: lib's ConfigError, naming the key. */
export function contextError(key: string, message: string): ConfigError {
  return new ConfigError(`configuration ${key}: ${message}`, key);
}

/** Keys that belong to one component: setting one for a component not deployed is a mistake. */
const COMPONENT_KEYS: Readonly<Record<Component, readonly ConfigKey[]>> = {
  ingest: [
    "streamMode",
    "streamShards",
    "streamRetentionHours",
    "streamMaxRecordKiB",
    "ingestThrottleRate",
    "ingestThrottleBurst",
    "ingestReservedConcurrency",
    "ingestMemoryMb",
    "ingestTimeoutSeconds",
    "ingestMaxBodyBytes",
    "nameValidation",
    "ingestAllowedCidrs",
    // the forwarder reads the ingest stream
    ...(Object.keys(CONFIG_KEYS).filter((k) => k.startsWith("forward")) as ConfigKey[]),
  ],
  mirror: [
    "workers",
    "mirrorThrottleRate",
    "mirrorThrottleBurst",
    "mirrorMemoryMb",
    "mirrorMaxAnswerBytes",
    "mirrorMaxSeries",
    "mirrorRequireKey",
    "mirrorErrorStatus",
    "mirrorNetwork",
    "prometheusHost",
    "prometheusPort",
    "prometheusCidr",
    "ampWorkspaces",
    "mirrorAssumeRoleArns",
    "stackstateCidrs",
    "mirrorPrivate",
    "mirrorApiVpcEndpointId",
    "mirrorSecretsAccess",
    "apiGatewayLogsRole",
    "mirrorWebAclArn",
    "mirrorKeylessCallers",
    "vpc",
    "vpcCidr",
    "vpcSubnetIds",
    "vpcAvailabilityZones",
    "vpcSecurityGroupId",
  ],
};

/** Keys that describe the mirror's VPC: meaningless with mirrorNetwork=none. */
const VPC_KEYS: readonly ConfigKey[] = [
  "vpc",
  "vpcCidr",
  "vpcSubnetIds",
  "vpcAvailabilityZones",
  "vpcSecurityGroupId",
  "mirrorSecretsAccess",
  "prometheusCidr",
];

const CIDR4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;
const HOST =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const EMAIL = /^[^@\s,]+@[^@\s,]+\.[^@\s,]+$/;
const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const WORKSPACE_ID = /^ws-[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;
const WORKSPACE_ARN = /^arn:(aws|aws-cn|aws-us-gov):aps:([^:]*):(\d{12}):workspace\/(.*)$/;
const ACCOUNT = /^\d{12}$/;
const KMS_KEY_ARN =
  /^arn:aws[a-z-]*:kms:[a-z]{2}(-[a-z]+)+-\d:\d{12}:key\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/;
const WEB_ACL_ARN =
  /^arn:aws[a-z-]*:wafv2:[a-z]{2}(-[a-z]+)+-\d:\d{12}:regional\/webacl\/[A-Za-z0-9_-]{1,128}\/[0-9a-f-]{36}$/;
const ROLE_ARN = /^arn:(aws|aws-cn|aws-us-gov):iam::\d{12}:role\/([\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;

/** Parses CDK context into the configuration; throws ConfigError naming the first bad key. */
export function parseConfig(context: Readonly<Record<string, unknown>>): GatewayConfig {
  for (const key of Object.keys(context)) {
    // Our keys are camelCase; CDK's own (feature flags, `aws:cdk:*`, `cli-telemetry`) never are.
    if (/^[a-z][A-Za-z0-9]*$/.test(key) && !(key in CONFIG_KEYS)) {
      throw contextError(key, `unknown key (known keys: ${Object.keys(CONFIG_KEYS).join(", ")})`);
    }
  }
  const r = new Reader(context);

  const components = parseComponents(r);
  for (const component of COMPONENTS) {
    if (components.includes(component)) continue;
    for (const key of COMPONENT_KEYS[component]) {
      if (r.has(key)) {
        throw contextError(
          key,
          `applies only when components include ${component} (components=${components.join(",")})`,
        );
      }
    }
  }
  const ingestPart = components.includes("ingest") ? parseIngest(r) : undefined;
  const mirrorPart = components.includes("mirror") ? parseMirror(r) : undefined;

  const alarmEmail = r.optStr("alarmEmail");
  if (alarmEmail !== undefined && !EMAIL.test(alarmEmail)) {
    throw contextError("alarmEmail", "not an email address");
  }
  const logRetentionDays = r.int("logRetentionDays", 1, 3653);
  if (!(LOG_RETENTION_DAYS as readonly number[]).includes(logRetentionDays)) {
    throw contextError("logRetentionDays", `must be one of ${LOG_RETENTION_DAYS.join(", ")}`);
  }
  const stackName = r.str("stackName");
  if (!STACK_NAME.test(stackName)) {
    throw contextError("stackName", "letters, digits and hyphens, starting with a letter, at most 128");
  }
  const metricsNamespace = r.str("metricsNamespace");
  if (!/^[A-Za-z0-9._\-/#:]{1,255}$/.test(metricsNamespace) || metricsNamespace.startsWith("AWS/")) {
    throw contextError("metricsNamespace", "letters, digits and . _ - / # :, not starting with AWS/");
  }

  const account = r.optStr("account");
  if (account !== undefined && !ACCOUNT.test(account)) {
    throw contextError("account", `not a 12-digit AWS account id: "${clip(account)}"`);
  }
  const region = r.optStr("region");
  if (region !== undefined && !REGION.test(region)) {
    throw contextError("region", `not an AWS region like eu-west-1: "${clip(region)}"`);
  }
  const encryption = parseEncryption(r, region);

  const forwarder = ingestPart === undefined ? undefined : parseForwarder(r);
  if (forwarder !== undefined && (ingestPart?.stream.maxRecordKiB ?? 0) > MAX_FORWARDED_RECORD_KIB) {
    throw contextError(
      "streamMaxRecordKiB",
      `at most ${MAX_FORWARDED_RECORD_KIB} with the forwarder: its Lambda events carry records base64-encoded within 6 MB`,
    );
  }

  return deepFreeze({
    stackName,
    account,
    region,
    encryption,
    components,
    stream: ingestPart?.stream,
    ingest: ingestPart?.ingest,
    mirror: mirrorPart?.mirror,
    vpc: mirrorPart?.vpc,
    forwarder,
    observability: {
      alarmEmail,
      logRetentionDays,
      logLevel: r.oneOf("logLevel", LOG_LEVELS, (value) => value.toLowerCase()),
      metricsNamespace,
      keyCacheSeconds: r.int("keyCacheSeconds"),
    },
  });
}

function parseComponents(r: Reader): Component[] {
  const listed = r.list("components");
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

function parseIngest(r: Reader): Pick<Required<GatewayConfig>, "stream" | "ingest"> {
  const streamMode = r.oneOf("streamMode", ["on-demand", "provisioned"] as const);
  const shardsGiven = r.has("streamShards");
  if (shardsGiven && streamMode === "on-demand") {
    throw contextError("streamShards", "applies only with streamMode=provisioned");
  }
  const shards = streamMode === "provisioned" ? (r.optInt("streamShards") ?? 1) : undefined;
  const timeoutSeconds = r.int("ingestTimeoutSeconds");
  const throttleRate = r.num("ingestThrottleRate");
  const throttleBurst = r.int("ingestThrottleBurst");
  return {
    stream: {
      mode: streamMode,
      shards,
      retentionHours: r.int("streamRetentionHours"),
      maxRecordKiB: r.int("streamMaxRecordKiB"),
    },
    ingest: {
      throttleRate,
      throttleBurst,
      reservedConcurrency: r.optInt("ingestReservedConcurrency"),
      memoryMb: r.int("ingestMemoryMb"),
      timeoutSeconds,
      maxBodyBytes: r.int("ingestMaxBodyBytes"),
      nameValidation: r.oneOf("nameValidation", NAME_VALIDATIONS),
      allowedCidrs: cidrList(r, "ingestAllowedCidrs"),
    },
  };
}

function parseMirror(r: Reader): {
  mirror: NonNullable<GatewayConfig["mirror"]>;
  vpc?: GatewayConfig["vpc"];
} {
  const network = r.oneOf("mirrorNetwork", ["vpc", "none"] as const);
  if (network === "none") {
    for (const key of VPC_KEYS) {
      if (r.has(key)) {
        throw contextError(key, "applies only with mirrorNetwork=vpc (with none the mirror is in no VPC)");
      }
    }
  }
  const vpc = network === "vpc" ? parseVpc(r) : undefined;

  const mirrorPrivate = r.bool("mirrorPrivate");
  const apiVpcEndpointId = r.optStr("mirrorApiVpcEndpointId");
  if (apiVpcEndpointId !== undefined) {
    if (!mirrorPrivate) throw contextError("mirrorApiVpcEndpointId", "applies only with mirrorPrivate=true");
    if (!/^vpce-[0-9a-f]{8,17}$/.test(apiVpcEndpointId)) {
      throw contextError("mirrorApiVpcEndpointId", `not a VPC endpoint id: "${clip(apiVpcEndpointId)}"`);
    }
  }
  if (mirrorPrivate && network === "none" && apiVpcEndpointId === undefined) {
    throw contextError(
      "mirrorApiVpcEndpointId",
      "required with mirrorPrivate=true and mirrorNetwork=none: without a VPC no execute-api endpoint can be created",
    );
  }
  const sourceCidrs = r.list("stackstateCidrs");
  for (const cidr of sourceCidrs) checkCidr("stackstateCidrs", cidr);
  if (mirrorPrivate && apiVpcEndpointId === undefined && sourceCidrs.length === 0) {
    throw contextError(
      "stackstateCidrs",
      "required with mirrorPrivate=true unless mirrorApiVpcEndpointId is given: the created endpoint admits only these sources",
    );
  }
  let secretsAccess: SecretsAccess | undefined;
  if (network === "vpc") {
    secretsAccess = r.oneOf("mirrorSecretsAccess", ["endpoint", "nat"] as const);
    if (secretsAccess === "nat" && vpc?.create === true) {
      throw contextError(
        "mirrorSecretsAccess",
        "nat needs an existing VPC with a route out; the created VPC has none",
      );
    }
  }

  const ampWorkspaces = parseAmpWorkspaces(r);
  if (secretsAccess === "endpoint") {
    const regions = [...new Set(ampWorkspaces.map((w) => w.region))];
    if (regions.length > 1) {
      throw contextError(
        "ampWorkspaces",
        `workspaces in several regions (${regions.join(", ")}): without internet the mirror reaches AMP through an aps-workspaces endpoint, which serves the stack's own region only; list that region's workspaces, or use mirrorNetwork=none, or an existing VPC with mirrorSecretsAccess=nat`,
      );
    }
  }
  const assumeRoleArns = r.list("mirrorAssumeRoleArns");
  const seenRoles = new Set<string>();
  for (const arn of assumeRoleArns) {
    if (!ROLE_ARN.test(arn)) {
      throw contextError(
        "mirrorAssumeRoleArns",
        `not an IAM role ARN like arn:aws:iam::123456789012:role/name (no wildcards): "${clip(arn)}"`,
      );
    }
    if (seenRoles.has(arn)) throw contextError("mirrorAssumeRoleArns", `"${clip(arn)}" is listed twice`);
    seenRoles.add(arn);
  }

  // Prometheus is a target when configured, and by default when nothing else is (today's behaviour).
  const prometheusGiven = r.has("prometheusHost") || r.has("prometheusPort") || r.has("prometheusCidr");
  if (network === "none" && r.has("prometheusPort") && !r.has("prometheusHost")) {
    throw contextError("prometheusHost", "required with prometheusPort when mirrorNetwork=none");
  }
  const targetsPrometheus = prometheusGiven || (network === "vpc" && ampWorkspaces.length === 0);
  if (!targetsPrometheus) {
    if (ampWorkspaces.length === 0) {
      throw contextError(
        "ampWorkspaces",
        "required with mirrorNetwork=none unless prometheusHost is set: the mirror would have no target",
      );
    }
  }
  let prometheus: NonNullable<GatewayConfig["mirror"]>["prometheus"];
  if (targetsPrometheus) {
    const host = r.str("prometheusHost");
    if (!HOST.test(host)) throw contextError("prometheusHost", `not a host name: "${clip(host)}"`);
    const cidr = r.str("prometheusCidr");
    checkCidr("prometheusCidr", cidr);
    prometheus = { host, port: r.int("prometheusPort"), cidr };
  }

  const memoryMb = r.int("mirrorMemoryMb");
  return {
    vpc,
    mirror: {
      workers: r.int("workers"),
      throttleRate: r.num("mirrorThrottleRate"),
      throttleBurst: r.int("mirrorThrottleBurst"),
      memoryMb,
      maxAnswerBytes: parseMaxAnswerBytes(r, memoryMb),
      maxSeries: r.int("mirrorMaxSeries"),
      requireKey: r.bool("mirrorRequireKey"),
      errorStatus: r.oneOf("mirrorErrorStatus", ["native", "500"] as const),
      network,
      prometheus,
      ampWorkspaces,
      assumeRoleArns,
      sourceCidrs,
      private: mirrorPrivate,
      apiVpcEndpointId,
      secretsAccess,
      apiGatewayLogsRole: r.bool("apiGatewayLogsRole"),
      webAclArn: parseWebAclArn(r),
      keylessCallers: r.oneOf("mirrorKeylessCallers", ["stackstateCidrs", "any"] as const),
    },
  };
}

/**
 * The mirror's answer cap: as configured when the function's memory holds it (refused
 * otherwise), else the function's default or what the memory holds, whichever is less.
 */
function parseMaxAnswerBytes(r: Reader, memoryMb: number): number {
  const fits = maxAnswerBytesFor(memoryMb);
  const asked = r.optInt("mirrorMaxAnswerBytes");
  if (asked === undefined) {
    if (fits < ANSWER_BYTES_RANGE.min) {
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

/** A comma-separated list of IPv4 CIDRs, each checked, none repeated. */
function cidrList(r: Reader, key: ConfigKey): string[] {
  const cidrs = r.list(key);
  for (const cidr of cidrs) checkCidr(key, cidr);
  if (new Set(cidrs).size !== cidrs.length) throw contextError(key, "a CIDR is listed twice");
  return cidrs;
}

function parseWebAclArn(r: Reader): string | undefined {
  const arn = r.optStr("mirrorWebAclArn");
  if (arn !== undefined && !WEB_ACL_ARN.test(arn)) {
    throw contextError(
      "mirrorWebAclArn",
      `not a regional WAF web ACL ARN like arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/name/id: "${clip(arn)}"`,
    );
  }
  return arn;
}

function parseEncryption(r: Reader, region: string | undefined): Encryption {
  const value = r.str("kmsKey");
  if (value === "aws-managed" || value === "create") return { mode: value };
  const m = KMS_KEY_ARN.exec(value);
  if (m === null) {
    throw contextError(
      "kmsKey",
      `expected aws-managed, create, or a KMS key ARN like arn:aws:kms:eu-west-1:123456789012:key/<id> (got "${clip(value)}")`,
    );
  }
  const keyRegion = value.split(":")[3];
  if (region !== undefined && keyRegion !== region) {
    throw contextError(
      "kmsKey",
      `the key is in ${keyRegion}, the stack in ${region}: a key serves its own region only`,
    );
  }
  return { mode: "key", keyArn: value };
}

function parseVpc(r: Reader): CreatedVpc | ImportedVpc {
  const vpcSetting = r.str("vpc");
  const subnetIds = r.list("vpcSubnetIds");
  const azs = r.list("vpcAvailabilityZones");
  const securityGroupId = r.optStr("vpcSecurityGroupId");
  if (vpcSetting === "create") {
    for (const key of ["vpcSubnetIds", "vpcAvailabilityZones", "vpcSecurityGroupId"] as const) {
      if (r.has(key)) throw contextError(key, "applies only with an existing VPC (vpc=vpc-...)");
    }
    const cidr = r.str("vpcCidr");
    checkCidr("vpcCidr", cidr);
    const prefix = Number(cidr.split("/")[1]);
    const [shortest, longest] = CONFIG_KEYS.vpcCidr.prefixRange;
    if (prefix < shortest || prefix > longest)
      throw contextError("vpcCidr", `prefix must be /${shortest} to /${longest} (two /27 subnets)`);
    return { create: true, cidr };
  }
  if (r.has("vpcCidr")) throw contextError("vpcCidr", "applies only with vpc=create");
  if (!/^vpc-[0-9a-f]{8,17}$/.test(vpcSetting)) {
    throw contextError("vpc", `expected "create" or a VPC id like vpc-0123abcd (got "${clip(vpcSetting)}")`);
  }
  if (subnetIds.length === 0) throw contextError("vpcSubnetIds", "required with an existing VPC");
  subnetIds.forEach((id) => {
    if (!/^subnet-[0-9a-f]{8,17}$/.test(id))
      throw contextError("vpcSubnetIds", `not a subnet id: "${clip(id)}"`);
  });
  if (azs.length === 0) throw contextError("vpcAvailabilityZones", "required with an existing VPC");
  if (azs.length !== subnetIds.length) {
    throw contextError(
      "vpcAvailabilityZones",
      `needs one zone per subnet in vpcSubnetIds (${subnetIds.length} subnets, ${azs.length} zones)`,
    );
  }
  azs.forEach((az) => {
    if (!/^[a-z]{2}(-[a-z]+)+-\d[a-z]$/.test(az)) {
      throw contextError("vpcAvailabilityZones", `not an availability zone: "${clip(az)}"`);
    }
  });
  if (securityGroupId !== undefined && !/^sg-[0-9a-f]{8,17}$/.test(securityGroupId)) {
    throw contextError("vpcSecurityGroupId", `not a security group id: "${clip(securityGroupId)}"`);
  }
  return { create: false, vpcId: vpcSetting, subnetIds, availabilityZones: azs, securityGroupId };
}

/** `arn:<partition>:aps:<region>:<account>:workspace/<id>` or `<id>@<region>`, comma-separated. */
function parseAmpWorkspaces(r: Reader): AmpWorkspace[] {
  const workspaces: AmpWorkspace[] = [];
  for (const entry of r.list("ampWorkspaces")) {
    const fail = (why: string) =>
      contextError(
        "ampWorkspaces",
        `"${clip(entry)}" ${why}; expected arn:aws:aps:<region>:<account>:workspace/ws-... or ws-...@<region>`,
      );
    let workspace: AmpWorkspace;
    const arn = WORKSPACE_ARN.exec(entry);
    if (arn !== null) {
      const [, , region = "", , id = ""] = arn;
      if (!REGION.test(region)) throw fail("has no valid region");
      if (!WORKSPACE_ID.test(id)) throw fail("has no valid workspace id");
      workspace = { id, region, arn: entry };
    } else if (entry.startsWith("arn:")) {
      throw fail("is not an AMP workspace ARN");
    } else {
      const at = entry.indexOf("@");
      const id = at < 0 ? entry : entry.slice(0, at);
      const region = at < 0 ? "" : entry.slice(at + 1);
      if (!WORKSPACE_ID.test(id)) throw fail("has no valid workspace id");
      if (!REGION.test(region)) throw fail("has no valid region after @");
      workspace = { id, region };
    }
    if (workspaces.some((w) => w.id === workspace.id && w.region === workspace.region)) {
      throw fail("is listed twice");
    }
    workspaces.push(workspace);
  }
  return workspaces;
}
// ---- forwarder ----

/** The forwarder's deployment settings (see docs/forwarder.md). */
export interface ForwarderSettings {
  readonly url: string;
  readonly auth: AuthKind;
  readonly username?: string;
  readonly headerName?: string;
  /** An existing secret; absent with basic/bearer/header: one is created. */
  readonly secretArn?: string;
  /** sigv4 only. */
  readonly ampWorkspaceArn?: string;
  readonly ampRegion?: string;
  readonly batchSize: number;
  readonly batchingWindowSeconds: number;
  readonly maxRecordAgeSeconds: number;
  readonly retryAttempts?: number;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  readonly maxRequestBytes: number;
  readonly protocol: Protocol;
  readonly protocolMemorySeconds: number;
  readonly retryAuthFailures: boolean;
}

const FORWARD_KEYS = Object.keys(CONFIG_KEYS).filter(
  (k) => k.startsWith("forward") && k !== "forwardUrl",
) as ConfigKey[];
const AMP_WORKSPACE_ARN = /^arn:aws[a-z-]*:aps:([a-z0-9-]+):\d{12}:workspace\/ws-[A-Za-z0-9-]+$/;
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/;

function parseForwarder(r: Reader): ForwarderSettings | undefined {
  const url = r.optStr("forwardUrl");
  if (url === undefined) {
    const stray = FORWARD_KEYS.find((k) => r.has(k));
    if (stray !== undefined) throw contextError(stray, "applies only with forwardUrl");
    return undefined;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw contextError("forwardUrl", `not a URL: "${clip(url)}"`);
  }
  if (parsed.protocol !== "https:")
    throw contextError("forwardUrl", "must be https: credentials travel with every request");
  if (parsed.username !== "" || parsed.password !== "") {
    throw contextError("forwardUrl", "no credentials in the URL; use forwardAuth and forwardSecretArn");
  }
  const auth = r.oneOf("forwardAuth", AUTH_KINDS);
  const username = r.optStr("forwardUsername");
  const headerName = r.optStr("forwardHeaderName");
  const secretArn = r.optStr("forwardSecretArn");
  const ampWorkspaceArn = r.optStr("forwardAmpWorkspaceArn");
  if ((auth === "basic") !== (username !== undefined)) {
    throw contextError(
      "forwardUsername",
      auth === "basic" ? "required with forwardAuth=basic" : "applies only with forwardAuth=basic",
    );
  }
  if ((auth === "header") !== (headerName !== undefined)) {
    throw contextError(
      "forwardHeaderName",
      auth === "header" ? "required with forwardAuth=header" : "applies only with forwardAuth=header",
    );
  }
  if (headerName !== undefined && !/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(headerName)) {
    throw contextError("forwardHeaderName", `not a header name: "${clip(headerName)}"`);
  }
  if (secretArn !== undefined) {
    if (auth === "none" || auth === "sigv4")
      throw contextError("forwardSecretArn", `not used with forwardAuth=${auth}`);
    if (!SECRET_ARN.test(secretArn))
      throw contextError("forwardSecretArn", `not a Secrets Manager secret ARN: "${clip(secretArn)}"`);
  }
  let ampRegion: string | undefined;
  if (auth === "sigv4") {
    if (ampWorkspaceArn === undefined)
      throw contextError("forwardAmpWorkspaceArn", "required with forwardAuth=sigv4");
    const m = AMP_WORKSPACE_ARN.exec(ampWorkspaceArn);
    if (m === null)
      throw contextError("forwardAmpWorkspaceArn", `not a workspace ARN: "${clip(ampWorkspaceArn)}"`);
    ampRegion = m[1];
  } else if (ampWorkspaceArn !== undefined) {
    throw contextError("forwardAmpWorkspaceArn", "applies only with forwardAuth=sigv4");
  }
  return {
    url,
    auth,
    username,
    headerName,
    secretArn,
    ampWorkspaceArn,
    ampRegion,
    batchSize: r.int("forwardBatchSize"),
    batchingWindowSeconds: r.int("forwardBatchingWindowSeconds"),
    maxRecordAgeSeconds: r.int("forwardMaxRecordAgeSeconds"),
    retryAttempts: r.optInt("forwardRetryAttempts"),
    memoryMb: r.int("forwardMemoryMb"),
    timeoutSeconds: r.int("forwardTimeoutSeconds"),
    maxRequestBytes: r.int("forwardMaxRequestBytes"),
    protocol: r.oneOf("forwardProtocol", PROTOCOLS),
    protocolMemorySeconds: r.int("forwardProtocolMemorySeconds"),
    retryAuthFailures: r.bool("forwardRetryAuthFailures"),
  };
}

// ---- end forwarder ----

/** Reads one key at a time, falling back to the default in CONFIG_KEYS. */
class Reader {
  constructor(private readonly context: Readonly<Record<string, unknown>>) {}

  has(key: ConfigKey): boolean {
    const value = this.context[key];
    return value !== undefined && value !== null && value !== "";
  }

  private raw(key: ConfigKey): unknown {
    return this.has(key) ? this.context[key] : CONFIG_KEYS[key].default;
  }

  str(key: ConfigKey): string {
    const value = this.optStr(key);
    if (value === undefined) throw contextError(key, "required");
    return value;
  }

  optStr(key: ConfigKey): string | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (typeof value !== "string" && typeof value !== "number") throw contextError(key, "expected a string");
    const text = String(value).trim();
    return text === "" ? undefined : text;
  }

  list(key: ConfigKey): string[] {
    const value = this.raw(key);
    const items = Array.isArray(value) ? value.map(String) : String(value ?? "").split(",");
    return items.map((s) => s.trim()).filter((s) => s !== "");
  }

  /** One of `allowed`, after `normalize` (e.g. to read a value in either case). */
  oneOf<T extends string>(
    key: ConfigKey,
    allowed: readonly T[],
    normalize: (value: string) => string = (value) => value,
  ): T {
    const value = normalize(this.str(key));
    if (!(allowed as readonly string[]).includes(value)) {
      throw contextError(key, `expected one of ${allowed.join(", ")} (got "${clip(value)}")`);
    }
    return value as T;
  }

  bool(key: ConfigKey): boolean {
    const value = this.raw(key);
    if (typeof value === "boolean") return value;
    if (value === "true") return true;
    if (value === "false") return false;
    throw contextError(key, `expected true or false (got "${clip(String(value))}")`);
  }

  /** A number within `min`..`max`, by default the key's range in CONFIG_KEYS. */
  num(key: ConfigKey, min?: number, max?: number): number {
    const value = this.optNum(key, min, max);
    if (value === undefined) throw contextError(key, "required");
    return value;
  }

  int(key: ConfigKey, min?: number, max?: number): number {
    const value = this.num(key, min, max);
    if (!Number.isInteger(value)) throw contextError(key, `expected a whole number (got ${value})`);
    return value;
  }

  optInt(key: ConfigKey, min?: number, max?: number): number | undefined {
    const value = this.optNum(key, min, max);
    if (value !== undefined && !Number.isInteger(value)) {
      throw contextError(key, `expected a whole number (got ${value})`);
    }
    return value;
  }

  private optNum(key: ConfigKey, givenMin?: number, givenMax?: number): number | undefined {
    const range = givenMin !== undefined && givenMax !== undefined ? [givenMin, givenMax] : rangeOf(key);
    if (range === undefined) throw new Error(`no range for ${key} in CONFIG_KEYS`);
    const [min = 0, max = 0] = range;
    const value = this.raw(key);
    if (value === undefined) return undefined;
    const n =
      typeof value === "number" ? value : typeof value === "string" ? Number(value.trim()) : Number.NaN;
    if (!Number.isFinite(n)) throw contextError(key, `expected a number (got "${clip(String(value))}")`);
    if (n < min || n > max) throw contextError(key, `must be between ${min} and ${max} (got ${n})`);
    return n;
  }
}

function checkCidr(key: ConfigKey, cidr: string): void {
  const m = CIDR4.exec(cidr);
  const ok = m?.slice(1, 5).every((octet) => Number(octet) <= 255) === true && Number(m?.[5]) <= 32;
  if (!ok) throw contextError(key, `not an IPv4 CIDR like 203.0.113.0/24: "${clip(cidr)}"`);
}

function clip(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object") {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
