import { Annotations, CfnOutput, Duration, Fn, Stack, type StackProps } from "aws-cdk-lib";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type { Construct } from "constructs";
import type { GatewayConfig } from "./config";
import { CONFIG_KEYS } from "./config";
import { ApiKeySecret } from "./constructs/api-key-secret";
import { Forwarder } from "./constructs/forwarder";
import { GatewayMonitoring } from "./constructs/gateway-monitoring";
import { IngestStream } from "./constructs/ingest-stream";
import { MirrorApi } from "./constructs/mirror-api";
import { MirrorNetwork } from "./constructs/mirror-network";
import { RemoteWriteApi } from "./constructs/remote-write-api";

export interface GatewayStackProps extends StackProps {
  readonly config: GatewayConfig;
  /**
   * Pre-built function code instead of bundling the entries with esbuild (handler
   * `index.handler`). Template tests use it to skip bundling; deployments leave it unset.
   */
  readonly functionCode?: {
    readonly remoteWrite: lambda.Code;
    readonly mirror: lambda.Code;
    readonly forwarder?: lambda.Code;
  };
}

/** One deployment: stream, ingest API, mirror API, their keys and their monitoring. */
export class GatewayStack extends Stack {
  readonly stream: IngestStream;
  readonly ingestKey: ApiKeySecret;
  readonly mirrorKey: ApiKeySecret;
  readonly remoteWrite: RemoteWriteApi;
  readonly network: MirrorNetwork;
  readonly mirror: MirrorApi;
  readonly monitoring: GatewayMonitoring;
  /** Present when `forwardUrl` is configured. */
  readonly forwarder?: Forwarder;

  constructor(scope: Construct, id: string, props: GatewayStackProps) {
    super(scope, id, {
      description: "Prometheus gateway: remote_write into Kinesis, and the StackState Prometheus mirror",
      ...props,
    });
    const { config } = props;
    const obs = config.observability;

    this.stream = new IngestStream(this, "Ingest", config.stream);

    // Two keys: the mirror hands its key to callers (X-MIRROR-API-KEY), so it must never unlock ingest.
    this.ingestKey = new ApiKeySecret(this, "IngestKey", {
      description:
        "API key Prometheus presents to the remote_write endpoint (sts-api-key or basic auth user apikey)",
    });
    this.mirrorKey = new ApiKeySecret(this, "MirrorKey", {
      description: "API key of the StackState Prometheus mirror datasource",
    });

    this.remoteWrite = new RemoteWriteApi(this, "RemoteWrite", {
      stream: this.stream,
      keySecret: this.ingestKey,
      throttleRate: config.ingest.throttleRate,
      throttleBurst: config.ingest.throttleBurst,
      reservedConcurrency: config.ingest.reservedConcurrency,
      memoryMb: config.ingest.memoryMb,
      timeout: Duration.seconds(config.ingest.timeoutSeconds),
      maxBodyBytes: config.ingest.maxBodyBytes,
      routingBuckets: config.ingest.routingBuckets,
      logRetentionDays: obs.logRetentionDays,
      logLevel: obs.logLevel,
      metricsNamespace: obs.metricsNamespace,
      keyCacheSeconds: obs.keyCacheSeconds,
      code: props.functionCode?.remoteWrite,
    });

    const m = config.mirror;
    this.network = new MirrorNetwork(this, "MirrorNetwork", {
      vpc: config.vpc,
      prometheusPort: m.prometheusPort,
      prometheusCidr: m.prometheusCidr,
      secretsAccess: m.secretsAccess,
      privateApi: m.private
        ? { existingEndpointId: m.apiVpcEndpointId, sourceCidrs: m.sourceCidrs }
        : undefined,
      logRetentionDays: obs.logRetentionDays,
    });
    this.mirror = new MirrorApi(this, "Mirror", {
      network: this.network,
      keySecret: this.mirrorKey,
      workers: m.workers,
      throttleRate: m.throttleRate,
      throttleBurst: m.throttleBurst,
      memoryMb: m.memoryMb,
      requireKey: m.requireKey,
      prometheusHost: m.prometheusHost,
      prometheusPort: m.prometheusPort,
      sourceCidrs: m.sourceCidrs,
      privateEndpoint: this.network.apiEndpoint,
      setAccountLogsRole: m.apiGatewayLogsRole,
      logRetentionDays: obs.logRetentionDays,
      logLevel: obs.logLevel,
      metricsNamespace: obs.metricsNamespace,
      keyCacheSeconds: obs.keyCacheSeconds,
      code: props.functionCode?.mirror,
    });

    this.monitoring = new GatewayMonitoring(this, "Monitoring", {
      namespace: obs.metricsNamespace,
      ingestFunction: this.remoteWrite.handler.function,
      mirrorFunction: this.mirror.handler.function,
      ingestApi: this.remoteWrite.api,
      mirrorApi: this.mirror.api,
      stream: this.stream.stream,
      alarmEmail: obs.alarmEmail,
    });

    // The optional forwarder (stream → a remote_write endpoint); off unless forwardUrl is set.
    if (config.forwarder !== undefined) {
      this.forwarder = new Forwarder(this, "Forwarder", {
        settings: config.forwarder,
        stream: this.stream.stream,
        metricsNamespace: obs.metricsNamespace,
        keyCacheSeconds: obs.keyCacheSeconds,
        logRetentionDays: obs.logRetentionDays,
        logLevel: obs.logLevel,
        alarmTopic: this.monitoring.topic,
        dashboard: this.monitoring.dashboard,
        code: props.functionCode?.forwarder,
      });
    }

    this.warnAboutPlaceholders(config);
    this.addOutputs(config);
  }

  private warnAboutPlaceholders(config: GatewayConfig): void {
    const m = config.mirror;
    if (!m.private && m.sourceCidrs.length === 0) {
      Annotations.of(this).addWarningV2(
        "gateway:mirror-closed",
        "stackstateCidrs is empty: the mirror API denies every caller until StackState's egress CIDRs are configured.",
      );
    }
    if (m.prometheusHost === CONFIG_KEYS.prometheusHost.default) {
      Annotations.of(this).addWarningV2(
        "gateway:prometheus-host",
        `prometheusHost is the placeholder "${m.prometheusHost}"; set it to your Prometheus server.`,
      );
    }
  }

  private addOutputs(config: GatewayConfig): void {
    const fetchKey = (secretArn: string) =>
      Fn.join("", [
        "aws secretsmanager get-secret-value --region ",
        this.region,
        " --secret-id ",
        secretArn,
        " --query SecretString --output text",
      ]);
    const ingestArn = this.ingestKey.secret.secretArn;
    const mirrorArn = this.mirrorKey.secret.secretArn;
    const target = `${config.mirror.prometheusHost}:${config.mirror.prometheusPort}`;

    new CfnOutput(this, "RemoteWriteUrl", {
      description: "Prometheus remote_write URL (also served at /api/v1/write)",
      value: this.remoteWrite.url,
    });
    new CfnOutput(this, "MirrorUrl", {
      description: "Base URL of the StackState Prometheus mirror datasource",
      value: this.mirror.url,
    });
    new CfnOutput(this, "IngestKeySecretArn", {
      description: "Secret holding the remote_write API key",
      value: ingestArn,
    });
    new CfnOutput(this, "MirrorKeySecretArn", {
      description: "Secret holding the mirror API key",
      value: mirrorArn,
    });
    new CfnOutput(this, "FetchIngestKeyCommand", {
      description: "Prints the remote_write API key",
      value: fetchKey(ingestArn),
    });
    new CfnOutput(this, "FetchMirrorKeyCommand", {
      description: "Prints the mirror API key",
      value: fetchKey(mirrorArn),
    });
    new CfnOutput(this, "SmokeTestCommand", {
      description: "Checks the deployment end to end (run from the repository)",
      value: Fn.join("", [
        "npm run smoke -- --remote-write-url ",
        this.remoteWrite.url,
        " --mirror-url ",
        this.mirror.url,
        ` --prometheus ${target}`,
        ' --api-key "$(',
        fetchKey(ingestArn),
        ')" --mirror-api-key "$(',
        fetchKey(mirrorArn),
        ')"',
      ]),
    });
    new CfnOutput(this, "StreamName", {
      description: "Kinesis stream receiving the samples",
      value: this.stream.stream.streamName,
    });
    new CfnOutput(this, "DashboardUrl", {
      description: "CloudWatch dashboard of the gateway",
      value: Fn.join("", [
        "https://console.aws.amazon.com/cloudwatch/home?region=",
        this.region,
        "#dashboards:name=",
        this.monitoring.dashboard.dashboardName,
      ]),
    });
    if (this.network.createdVpc !== undefined) {
      new CfnOutput(this, "MirrorVpcId", {
        description: "VPC created for the mirror; Prometheus must be reachable from it",
        value: this.network.createdVpc.vpcId,
      });
    }
  }
}
