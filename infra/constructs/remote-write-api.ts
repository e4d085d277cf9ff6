import { Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import * as apigw from "aws-cdk-lib/aws-apigateway";
import * as apigwv2 from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import * as logs from "aws-cdk-lib/aws-logs";
import { NagSuppressions } from "cdk-nag";
import { Construct } from "constructs";
import { ENV } from "../../lib/core/env-names";
import { RECEIVER_PATH, REMOTE_WRITE_PATHS } from "../../lib/core/routes";
import type { HaDedupSettings } from "../config";
import { ENTRIES } from "../paths";
import type { ApiKeySecret } from "./api-key-secret";
import { GatewayFunction, type GatewayFunctionSettings } from "./gateway-function";
import type { IngestStream } from "./ingest-stream";
import type { ReplicaTable } from "./replica-table";

/** Time the function keeps for answering after it stops retrying Kinesis. */
export const PUT_DEADLINE_MARGIN = Duration.seconds(3);

export interface RemoteWriteApiProps extends GatewayFunctionSettings {
  readonly stream: IngestStream;
  readonly keySecret: ApiKeySecret;
  readonly throttleRate: number;
  readonly throttleBurst: number;
  readonly reservedConcurrency?: number;
  readonly memoryMb: number;
  readonly timeout: Duration;
  readonly maxBodyBytes: number;
  /** The stream's shards at creation (STREAM_SHARDS: the map assumed until it is read). */
  readonly streamShards: number;
  /** NAME_VALIDATION: which metric and label names the function takes. */
  readonly nameValidation: string;
  /** INGEST_ALLOWED_CIDRS: the only source addresses answered (empty: any). */
  readonly allowedCidrs?: readonly string[];
  /** HA-pair deduplication: its settings and the table of elected replicas (absent: off). */
  readonly ha?: { readonly settings: HaDedupSettings; readonly table: ReplicaTable };
}

/** The remote-write function behind an HTTP API (payload 2.0: binary bodies arrive base64-encoded). */
export class RemoteWriteApi extends Construct {
  readonly handler: GatewayFunction;
  readonly api: apigwv2.HttpApi;
  readonly stage: apigwv2.HttpStage;
  readonly accessLogs: logs.LogGroup;
  /** Full URL of StackState's receiver path. */
  readonly url: string;

  constructor(scope: Construct, id: string, props: RemoteWriteApiProps) {
    super(scope, id);

    const putDeadlineMs = props.timeout.toMilliseconds() - PUT_DEADLINE_MARGIN.toMilliseconds();
    const environment: Record<string, string> = {
      [ENV.streamName]: props.stream.stream.streamName,
      [ENV.apiKeySecretArn]: props.keySecret.secret.secretArn,
      [ENV.putDeadlineMs]: String(putDeadlineMs),
      [ENV.maxBodyBytes]: String(props.maxBodyBytes),
      [ENV.maxRecordBytes]: String(props.stream.maxRecordBytes),
      [ENV.logLevel]: props.logLevel,
      [ENV.metricsNamespace]: props.metricsNamespace,
      [ENV.keyCacheSeconds]: String(props.keyCacheSeconds),
      [ENV.nameValidation]: props.nameValidation,
    };
    environment[ENV.streamShards] = String(props.streamShards);
    if (props.allowedCidrs !== undefined && props.allowedCidrs.length > 0) {
      environment[ENV.ingestAllowedCidrs] = props.allowedCidrs.join(",");
    }
    if (props.ha !== undefined) Object.assign(environment, haEnvironment(props.ha.settings, props.ha.table));

    this.handler = new GatewayFunction(this, "Handler", {
      entry: ENTRIES.remoteWrite,
      description: "Prometheus remote_write receiver writing into Kinesis",
      memorySize: props.memoryMb,
      timeout: props.timeout,
      environment,
      logRetentionDays: props.logRetentionDays,
      logLevel: props.logLevel,
      logKey: props.logKey,
      reservedConcurrentExecutions: props.reservedConcurrency,
      code: props.code,
    });
    props.stream.grantPut(this.handler.function);
    props.keySecret.grantRead(this.handler.function);
    props.ha?.table.grantElection(this.handler.function);

    this.api = new apigwv2.HttpApi(this, "Api", {
      apiName: `${Stack.of(this).stackName}-remote-write`,
      description: "Prometheus remote_write endpoint",
      createDefaultStage: false,
    });
    const integration = new HttpLambdaIntegration("RemoteWrite", this.handler.function, {
      payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
    });
    for (const path of REMOTE_WRITE_PATHS) {
      this.api.addRoutes({ path, methods: [apigwv2.HttpMethod.POST], integration });
    }

    this.accessLogs = new logs.LogGroup(this, "AccessLogs", {
      retention: props.logRetentionDays as logs.RetentionDays,
      encryptionKey: props.logKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stage = new apigwv2.HttpStage(this, "Stage", {
      httpApi: this.api,
      stageName: "$default",
      autoDeploy: true,
      throttle: { rateLimit: props.throttleRate, burstLimit: props.throttleBurst },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogs),
        format: apigw.AccessLogFormat.custom(JSON.stringify(HTTP_API_ACCESS_LOG)),
      },
    });
    this.url = `${this.stage.url.replace(/\/$/, "")}${RECEIVER_PATH}`;

    for (const route of this.api.node.findAll()) {
      if (route instanceof apigwv2.HttpRoute) {
        NagSuppressions.addResourceSuppressions(route, [
          {
            id: "AwsSolutions-APIG4",
            reason:
              "Prometheus authenticates with the sts-api-key header or basic auth (user apikey); the function checks it against the Secrets Manager key before anything is written.",
          },
        ]);
      }
    }
  }
}

/** The HA_* variables of the function (lib/ha/config.ts reads them); none when deduplication is off. */
function haEnvironment(ha: HaDedupSettings, table: ReplicaTable): Record<string, string> {
  return {
    [ENV.haDedup]: "true",
    [ENV.haClusterLabel]: ha.clusterLabel,
    [ENV.haReplicaLabel]: ha.replicaLabel,
    [ENV.haUpdateTimeoutSeconds]: String(ha.updateTimeoutSeconds),
    [ENV.haFailoverTimeoutSeconds]: String(ha.failoverTimeoutSeconds),
    [ENV.haMaxClusters]: String(ha.maxClusters),
    [ENV.haTableName]: table.table.tableName,
  };
}

/**
 * One JSON object per request. No request headers: the API key travels in one, and it
 * must never reach a log.
 */
const HTTP_API_ACCESS_LOG = {
  requestId: "$context.requestId",
  ip: "$context.identity.sourceIp",
  requestTime: "$context.requestTime",
  routeKey: "$context.routeKey",
  status: "$context.status",
  protocol: "$context.protocol",
  responseLength: "$context.responseLength",
  latencyMs: "$context.responseLatency",
  integrationLatencyMs: "$context.integration.latency",
  integrationStatus: "$context.integration.status",
  integrationError: "$context.integrationErrorMessage",
  errorMessage: "$context.error.message",
  userAgent: "$context.identity.userAgent",
};
