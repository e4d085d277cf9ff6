import { ArnFormat, Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import * as apigw from "aws-cdk-lib/aws-apigateway";
import type * as ec2 from "aws-cdk-lib/aws-ec2";
import * as iam from "aws-cdk-lib/aws-iam";
import * as logs from "aws-cdk-lib/aws-logs";
import * as wafv2 from "aws-cdk-lib/aws-wafv2";
import { NagSuppressions } from "cdk-nag";
import { Construct } from "constructs";
import { awsPartition } from "../../lib/core/aws-partitions";
import { ENV } from "../../lib/core/env-names";
import { MIRROR_METHOD_PATHS } from "../../lib/core/routes";
import type { AmpWorkspace, MirrorErrorStatus } from "../config";
import { ENTRIES } from "../paths";
import type { ApiKeySecret } from "./api-key-secret";
import { GatewayFunction, type GatewayFunctionSettings } from "./gateway-function";
import type { MirrorNetwork } from "./mirror-network";

/** Deployment settings of the mirror API (the function reads its own defaults from lib/mirror/config.ts). */
export const MIRROR_API_SETTINGS = {
  stageName: "mirror",
  /** REST API integrations time out at 29 s; StackState's requestTimeout is typically 20 s. */
  timeout: Duration.seconds(28),
  /** Cap on a Prometheus call, leaving the function time to answer before its own timeout. */
  maxPrometheusCall: Duration.seconds(25),
} as const;

/** IAM actions of the AMP query API, the only ones the mirror needs on a workspace. */
export const AMP_QUERY_ACTIONS = [
  "aps:QueryMetrics",
  "aps:GetLabels",
  "aps:GetSeries",
  "aps:GetMetricMetadata",
] as const;

/** The query base URL of an AMP workspace: the allowlist entry and the connection details' `url`. */
export function ampWorkspaceUrl(workspace: AmpWorkspace): string {
  const { dnsSuffix } = awsPartition(workspace.region);
  return `https://aps-workspaces.${workspace.region}.${dnsSuffix}/workspaces/${workspace.id}/`;
}

export interface MirrorApiProps extends GatewayFunctionSettings {
  /** The VPC the function runs in; none: outside any VPC. */
  readonly network?: MirrorNetwork;
  readonly keySecret: ApiKeySecret;
  readonly workers: number;
  readonly throttleRate: number;
  readonly throttleBurst: number;
  readonly memoryMb: number;
  /** MIRROR_MAX_ANSWER_BYTES (checked against memoryMb by the configuration). */
  readonly maxAnswerBytes: number;
  /** MIRROR_MAX_SERIES. */
  readonly maxSeries: number;
  readonly requireKey: boolean;
  readonly errorStatus: MirrorErrorStatus;
  /** The Prometheus server the mirror may call; unset when only AMP is targeted. */
  readonly prometheus?: { readonly host: string; readonly port: number };
  /** AMP workspaces the mirror may query: allowlisted and granted the query actions. */
  readonly ampWorkspaces: readonly AmpWorkspace[];
  /** Roles the mirror may assume (sts:AssumeRole on exactly these). */
  readonly assumeRoleArns: readonly string[];
  /** Source CIDRs allowed to call (public: aws:SourceIp; private: aws:VpcSourceIp). */
  readonly sourceCidrs: readonly string[];
  /** Private API: admitted only through this execute-api endpoint, which is associated with it. */
  readonly privateEndpoint?: ec2.IVpcEndpoint;
  /**
   * Set the region's API Gateway CloudWatch Logs role: REST API access logs cannot be
   * written without one. The role is retained on teardown, since other APIs may use it.
   */
  readonly setAccountLogsRole: boolean;
  /** An existing regional WAF web ACL associated with the stage. */
  readonly webAclArn?: string;
  /**
   * MIRROR_TRUSTED_CIDRS: callers presenting no key are trusted only from these addresses;
   * undefined: from any address the API admits.
   */
  readonly trustedCidrs?: readonly string[];
}

/**
 * The StackState Prometheus mirror: a function (in a VPC, or in none when it only calls AWS
 * and public targets) behind a REST API whose resource policy admits only the configured
 * callers (or only a VPC endpoint).
 */
export class MirrorApi extends Construct {
  readonly handler: GatewayFunction;
  readonly api: apigw.RestApi;
  readonly accessLogs: logs.LogGroup;
  /** The base URL StackState is configured with (ends with `/`). */
  readonly url: string;
  /** MIRROR_ALLOWED_TARGETS, entry by entry. */
  readonly allowedTargets: readonly string[];

  constructor(scope: Construct, id: string, props: MirrorApiProps) {
    super(scope, id);
    const { network } = props;
    const stack = Stack.of(this);
    const workspaceArns = props.ampWorkspaces.map(
      (w) =>
        w.arn ??
        stack.formatArn({
          service: "aps",
          region: w.region,
          resource: "workspace",
          resourceName: w.id,
          arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
        }),
    );
    this.allowedTargets = [
      ...(props.prometheus !== undefined ? [`${props.prometheus.host}:${props.prometheus.port}`] : []),
      ...props.ampWorkspaces.map(ampWorkspaceUrl),
    ];

    this.handler = new GatewayFunction(this, "Handler", {
      entry: ENTRIES.mirror,
      description: "StackState Prometheus mirror",
      memorySize: props.memoryMb,
      timeout: MIRROR_API_SETTINGS.timeout,
      environment: {
        [ENV.mirrorApiKeySecretArn]: props.keySecret.secret.secretArn,
        [ENV.mirrorAllowedTargets]: this.allowedTargets.join(","),
        [ENV.mirrorRequireKey]: String(props.requireKey),
        ...(props.trustedCidrs !== undefined
          ? { [ENV.mirrorTrustedCidrs]: props.trustedCidrs.join(",") }
          : {}),
        [ENV.mirrorErrorStatus]: props.errorStatus,
        [ENV.mirrorMaxRequestTimeoutMs]: String(MIRROR_API_SETTINGS.maxPrometheusCall.toMilliseconds()),
        [ENV.mirrorMaxAnswerBytes]: String(props.maxAnswerBytes),
        [ENV.mirrorMaxSeries]: String(props.maxSeries),
        [ENV.logLevel]: props.logLevel,
        [ENV.metricsNamespace]: props.metricsNamespace,
        [ENV.keyCacheSeconds]: String(props.keyCacheSeconds),
      },
      logRetentionDays: props.logRetentionDays,
      logLevel: props.logLevel,
      logKey: props.logKey,
      // The old mirror's worker pool: at most this many requests are served at once.
      reservedConcurrentExecutions: props.workers,
      vpc: network?.vpc,
      vpcSubnets: network?.subnets,
      securityGroups: network !== undefined ? [network.securityGroup] : undefined,
      code: props.code,
    });
    props.keySecret.grantRead(this.handler.function);
    if (workspaceArns.length > 0) {
      this.handler.role.addToPolicy(
        new iam.PolicyStatement({ actions: [...AMP_QUERY_ACTIONS], resources: workspaceArns }),
      );
    }
    if (props.assumeRoleArns.length > 0) {
      this.handler.role.addToPolicy(
        new iam.PolicyStatement({ actions: ["sts:AssumeRole"], resources: [...props.assumeRoleArns] }),
      );
    }
    for (const endpoint of network?.serviceEndpoints ?? []) {
      // Creating the function before its endpoints exist would make cold starts fail.
      this.handler.function.node.addDependency(endpoint);
    }

    this.accessLogs = new logs.LogGroup(this, "AccessLogs", {
      retention: props.logRetentionDays as logs.RetentionDays,
      encryptionKey: props.logKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const endpoint = props.privateEndpoint;
    this.api = new apigw.RestApi(this, "Api", {
      restApiName: `${Stack.of(this).stackName}-mirror`,
      description: "StackState Prometheus mirror",
      endpointConfiguration:
        endpoint !== undefined
          ? { types: [apigw.EndpointType.PRIVATE], vpcEndpoints: [endpoint] }
          : { types: [apigw.EndpointType.REGIONAL] },
      policy: callerPolicy(props.sourceCidrs, endpoint?.vpcEndpointId),
      cloudWatchRole: props.setAccountLogsRole,
      cloudWatchRoleRemovalPolicy: props.setAccountLogsRole ? RemovalPolicy.RETAIN : undefined,
      deployOptions: {
        stageName: MIRROR_API_SETTINGS.stageName,
        throttlingRateLimit: props.throttleRate,
        throttlingBurstLimit: props.throttleBurst,
        tracingEnabled: true,
        metricsEnabled: true,
        accessLogDestination: new apigw.LogGroupLogDestination(this.accessLogs),
        accessLogFormat: apigw.AccessLogFormat.custom(JSON.stringify(REST_API_ACCESS_LOG)),
      },
    });
    const integration = new apigw.LambdaIntegration(this.handler.function, {
      proxy: true,
      allowTestInvoke: false,
    });
    for (const path of MIRROR_METHOD_PATHS) {
      this.api.root.resourceForPath(path).addMethod("POST", integration, {
        authorizationType: apigw.AuthorizationType.NONE,
      });
    }

    const logsRole = this.api.node.tryFindChild("CloudWatchRole");
    if (logsRole !== undefined) {
      NagSuppressions.addResourceSuppressions(logsRole, [
        {
          id: "AwsSolutions-IAM4",
          reason:
            "AmazonAPIGatewayPushToCloudWatchLogs is the AWS-maintained policy API Gateway's account-level logging role is meant to carry.",
          appliesTo: [
            "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
          ],
        },
      ]);
    }

    if (props.webAclArn !== undefined) {
      new wafv2.CfnWebACLAssociation(this, "WebAcl", {
        resourceArn: this.api.deploymentStage.stageArn,
        webAclArn: props.webAclArn,
      });
    }

    // The stack's outputs name the URL; drop the default "Endpoint" output of RestApi.
    this.api.node.tryRemoveChild("Endpoint");

    this.url =
      endpoint !== undefined
        ? // The endpoint-associated host name resolves without private DNS, from the VPC and networks joined to it.
          `https://${this.api.restApiId}-${endpoint.vpcEndpointId}.execute-api.${Stack.of(this).region}.${Stack.of(this).urlSuffix}/${MIRROR_API_SETTINGS.stageName}/`
        : this.api.url;

    NagSuppressions.addResourceSuppressions(
      this.api,
      [
        {
          id: "AwsSolutions-APIG2",
          reason:
            "The mirror validates every request body itself and answers in the protocol's own error format.",
        },
        ...(props.webAclArn === undefined
          ? [
              {
                id: "AwsSolutions-APIG3",
                reason:
                  "Callers are restricted by the resource policy (source CIDRs or VPC endpoint); a web ACL is associated when mirrorWebAclArn is set.",
              },
            ]
          : []),
        {
          id: "AwsSolutions-APIG4",
          reason:
            "StackState calls the mirror without credentials (it checks the X-MIRROR-API-KEY response header); the resource policy admits only the configured callers.",
        },
        {
          id: "AwsSolutions-COG4",
          reason: "StackState cannot present Cognito tokens; callers are restricted by the resource policy.",
        },
        {
          id: "AwsSolutions-APIG6",
          reason:
            "Every request is in the JSON access log; execution logs would repeat them at extra cost and could carry request details.",
        },
      ],
      true,
    );
  }
}

/**
 * Who may invoke the API. Public: only `sourceCidrs` (none: nobody). Private: only through
 * the endpoint, and, when CIDRs are given, only from those addresses inside the VPC.
 */
export function callerPolicy(sourceCidrs: readonly string[], endpointId?: string): iam.PolicyDocument {
  const invoke = {
    actions: ["execute-api:Invoke"],
    resources: ["execute-api:/*"],
    principals: [new iam.AnyPrincipal()],
  };
  const statements = [new iam.PolicyStatement({ ...invoke, effect: iam.Effect.ALLOW })];
  if (endpointId !== undefined) {
    statements.push(
      new iam.PolicyStatement({
        ...invoke,
        effect: iam.Effect.DENY,
        conditions: { StringNotEquals: { "aws:SourceVpce": endpointId } },
      }),
    );
    if (sourceCidrs.length > 0) {
      statements.push(
        new iam.PolicyStatement({
          ...invoke,
          effect: iam.Effect.DENY,
          conditions: { NotIpAddress: { "aws:VpcSourceIp": [...sourceCidrs] } },
        }),
      );
    }
  } else if (sourceCidrs.length > 0) {
    statements.push(
      new iam.PolicyStatement({
        ...invoke,
        effect: iam.Effect.DENY,
        conditions: { NotIpAddress: { "aws:SourceIp": [...sourceCidrs] } },
      }),
    );
  } else {
    // No allowed callers configured: fail closed.
    statements.push(new iam.PolicyStatement({ ...invoke, effect: iam.Effect.DENY }));
  }
  return new iam.PolicyDocument({ statements });
}

/** One JSON object per request; no headers (a key could travel in one). */
const REST_API_ACCESS_LOG = {
  requestId: "$context.requestId",
  ip: "$context.identity.sourceIp",
  vpceId: "$context.identity.vpceId",
  requestTime: "$context.requestTime",
  httpMethod: "$context.httpMethod",
  resourcePath: "$context.resourcePath",
  status: "$context.status",
  protocol: "$context.protocol",
  responseLength: "$context.responseLength",
  latencyMs: "$context.responseLatency",
  integrationLatencyMs: "$context.integration.latency",
  integrationStatus: "$context.integration.status",
  errorMessage: "$context.error.message",
  userAgent: "$context.identity.userAgent",
};
