import { type Duration, RemovalPolicy } from "aws-cdk-lib";
import type * as ec2 from "aws-cdk-lib/aws-ec2";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as kms from "aws-cdk-lib/aws-kms";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as nodejs from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import { NagSuppressions } from "cdk-nag";
import { Construct } from "constructs";
import { SNAPPY_WASM_FILE, SNAPPY_WASM_PACKAGE_FILE } from "../../lib/codec/snappy-wasm-file";
import type { LogLevel } from "../../lib/core/log";
import { PROJECT_ROOT } from "../paths";

/** Lambda defaults shared by both functions; changing one here changes both. */
export const FUNCTION_DEFAULTS = {
  runtime: lambda.Runtime.NODEJS_24_X,
  architecture: lambda.Architecture.ARM_64,
  /** esbuild target matching the runtime. */
  target: "node24",
  /**
   * What the bundles leave to the runtime's AWS SDK: only the SDK's default credential chain.
   * Everything else the functions call (the forwarder's SQS client, the mirror's STS) is
   * bundled, so it runs the SDK version its tests ran. The chain is imported only where the
   * environment holds no keys (`lib/aws/default-credentials.ts`), which never happens on
   * Lambda; bundled, it would add about 330 KB to the ingest bundle, parsed at every cold start.
   */
  external: ["@aws-sdk/credential-providers"],
  tracing: lambda.Tracing.ACTIVE,
} as const;

/**
 * ESM output. CommonJS dependencies bundled into an ES module may still call `require`
 * for Node built-ins, so the bundle gets a real `require` from `createRequire`.
 */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __gatewayCreateRequire } from 'node:module'; const require = __gatewayCreateRequire(import.meta.url);";

/** How a gateway function logs (shared by every construct that creates one). */
export interface FunctionLogging {
  readonly logRetentionDays: number;
  readonly logLevel: LogLevel;
  /** Customer-managed key of the log groups (unset: CloudWatch Logs' own encryption). */
  readonly logKey?: kms.IKey;
}

/** What every API construct passes through to its function, besides its own settings. */
export interface GatewayFunctionSettings extends FunctionLogging {
  readonly metricsNamespace: string;
  readonly keyCacheSeconds: number;
  /** Pre-built code instead of bundling (template tests). */
  readonly code?: lambda.Code;
}

export interface GatewayFunctionProps extends FunctionLogging {
  /** Entry file relative to the project root, e.g. `functions/remote-write/handler.ts`. */
  readonly entry: string;
  readonly description: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly environment: Readonly<Record<string, string>>;
  readonly reservedConcurrentExecutions?: number;
  readonly vpc?: ec2.IVpc;
  readonly vpcSubnets?: ec2.SubnetSelection;
  readonly securityGroups?: ec2.ISecurityGroup[];
  /**
   * Pre-built code instead of bundling `entry` with esbuild (its handler must be
   * `index.handler`). Used by template tests; deployments bundle.
   */
  readonly code?: lambda.Code;
}

/**
 * A Node.js function bundled by the local esbuild (no Docker), with its own role, an
 * explicit log group with retention, JSON logs, source maps and X-Ray tracing.
 */
export class GatewayFunction extends Construct {
  readonly function: nodejs.NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: GatewayFunctionProps) {
    super(scope, id);

    this.logGroup = new logs.LogGroup(this, "Logs", {
      retention: props.logRetentionDays as logs.RetentionDays,
      encryptionKey: props.logKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // An explicit role keeps the permissions to what is granted below (the default role
    // would carry the AWSLambdaBasicExecutionRole managed policy, writable to every log group).
    this.role = new iam.Role(this, "Role", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: `Execution role of ${props.description}`,
    });
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
        resources: [this.logGroup.logGroupArn],
      }),
    );
    if (props.vpc !== undefined) {
      // The actions Lambda needs to manage the function's network interfaces; none of them
      // can be scoped to a resource ARN at creation time.
      this.role.addToPolicy(
        new iam.PolicyStatement({
          actions: [
            "ec2:CreateNetworkInterface",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeSubnets",
            "ec2:DeleteNetworkInterface",
            "ec2:AssignPrivateIpAddresses",
            "ec2:UnassignPrivateIpAddresses",
          ],
          resources: ["*"],
        }),
      );
    }

    const code = props.code;
    this.function = new nodejs.NodejsFunction(this, "Function", {
      description: props.description,
      runtime: FUNCTION_DEFAULTS.runtime,
      architecture: FUNCTION_DEFAULTS.architecture,
      memorySize: props.memorySize,
      timeout: props.timeout,
      tracing: FUNCTION_DEFAULTS.tracing,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      // never above INFO, so that metrics survive every logLevel (see APPLICATION_LOG_LEVEL)
      applicationLogLevelV2: APPLICATION_LOG_LEVEL[props.logLevel],
      systemLogLevelV2: lambda.SystemLogLevel.INFO,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: props.securityGroups,
      allowPublicSubnet: false,
      environment: { ...props.environment, NODE_OPTIONS: "--enable-source-maps" },
      ...(code !== undefined
        ? { code, handler: "index.handler" }
        : {
            entry: `${PROJECT_ROOT}/${props.entry}`,
            handler: "handler",
            projectRoot: PROJECT_ROOT,
            depsLockFilePath: `${PROJECT_ROOT}/package-lock.json`,
            bundling: {
              format: nodejs.OutputFormat.ESM,
              target: FUNCTION_DEFAULTS.target,
              mainFields: ["module", "main"],
              banner: ESM_REQUIRE_BANNER,
              minify: true,
              sourceMap: true,
              sourcesContent: false,
              // the AWS SDK goes into the bundle but for the default credential chain (see above)
              externalModules: [...FUNCTION_DEFAULTS.external],
              forceDockerBundling: false,
              logLevel: nodejs.LogLevel.WARNING,
              // the snappy codec's WebAssembly module goes beside the bundle, where lib/snappy.ts finds it
              commandHooks: {
                beforeBundling: () => [],
                beforeInstall: () => [],
                afterBundling: (inputDir: string, outputDir: string) => [
                  `cp "${inputDir}/${SNAPPY_WASM_PACKAGE_FILE}" "${outputDir}/${SNAPPY_WASM_FILE}"`,
                ],
              },
            },
          }),
    });
    // The X-Ray actions Lambda adds for active tracing (PutTraceSegments, PutTelemetryRecords)
    // support no resource-level permissions.
    NagSuppressions.addResourceSuppressions(
      this.role,
      [
        {
          id: "AwsSolutions-IAM5",
          reason:
            "X-Ray PutTraceSegments/PutTelemetryRecords and the Lambda VPC network-interface actions accept only Resource '*'.",
          appliesTo: ["Resource::*"],
        },
      ],
      true,
    );
    NagSuppressions.addResourceSuppressions(this.function, [
      {
        id: "Serverless-LambdaDLQ",
        reason:
          "Invoked synchronously by API Gateway only; failures are answered to the caller, nothing is queued.",
      },
    ]);
  }
}

/**
 * Lambda's application log level for a `logLevel`: min(logLevel, INFO), never above INFO.
 * Lambda's JSON log filter reads each line's `level` and counts a line without one as INFO;
 * the EMF documents the metrics come from have none, so at WARN or ERROR Lambda would drop
 * every metric, and the alarms on them (missing data is fine) would never fire. The
 * gateway's logger filters its own lines by LOG_LEVEL instead, so `warn` and `error` still
 * keep its debug and info lines out of CloudWatch.
 */
const APPLICATION_LOG_LEVEL = {
  debug: lambda.ApplicationLogLevel.DEBUG,
  info: lambda.ApplicationLogLevel.INFO,
  warn: lambda.ApplicationLogLevel.INFO,
  error: lambda.ApplicationLogLevel.INFO,
} as const satisfies Record<LogLevel, lambda.ApplicationLogLevel>;
