import { Annotations, CfnOutput, Duration, Fn, Stack, type StackProps } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type { Construct } from "constructs";
import { REMOTE_WRITE_PATH } from "../lib/core/routes";
import type { Component, GatewayConfig } from "./config";
import { CONFIG_KEYS } from "./config";
import { ApiKeySecret } from "./constructs/api-key-secret";
import { Forwarder } from "./constructs/forwarder";
import { GatewayKey } from "./constructs/gateway-key";
import { GatewayMonitoring } from "./constructs/gateway-monitoring";
import { IngestStream } from "./constructs/ingest-stream";
import { MirrorApi } from "./constructs/mirror-api";
import { MirrorNetwork } from "./constructs/mirror-network";
import { RemoteWriteApi } from "./constructs/remote-write-api";
import { ReplicaTable } from "./constructs/replica-table";

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

/** What each component adds to the stack's description. */
const DESCRIBES: Readonly<Record<Component, string>> = {
  ingest: "remote_write into Kinesis",
  mirror: "the StackState Prometheus mirror",
};

/**
 * One deployment of the configured components: the ingest part (stream, remote-write API,
 * its key), the mirror part (network, mirror API, its key), and monitoring of what exists.
 */
export class GatewayStack extends Stack {
  readonly stream?: IngestStream;
  readonly ingestKey?: ApiKeySecret;
  readonly remoteWrite?: RemoteWriteApi;
  /** The table of elected replicas; present with `haDedup=true`. */
  readonly replicaTable?: ReplicaTable;
  readonly mirrorKey?: ApiKeySecret;
  /** The mirror's VPC, security group and endpoints; absent with mirrorNetwork=none. */
  readonly network?: MirrorNetwork;
  readonly mirror?: MirrorApi;
  readonly monitoring: GatewayMonitoring;
  /** Present when `forwardUrl` is configured. */
  readonly forwarder?: Forwarder;
  /** The customer-managed key (`kmsKey`), when one is configured. */
  readonly gatewayKey: GatewayKey;

  constructor(scope: Construct, id: string, props: GatewayStackProps) {
    const { config } = props;
    super(scope, id, {
      description: `Prometheus gateway: ${config.components.map((c) => DESCRIBES[c]).join(", and ")}`,
      ...props,
    });
    const obs = config.observability;
    this.gatewayKey = new GatewayKey(this, "Encryption", { encryption: config.encryption });
    const key = this.gatewayKey.key;
    const shared = {
      logKey: key,
      logRetentionDays: obs.logRetentionDays,
      logLevel: obs.logLevel,
      metricsNamespace: obs.metricsNamespace,
      keyCacheSeconds: obs.keyCacheSeconds,
    };

    // Two keys: the mirror hands its key to callers (X-MIRROR-API-KEY), so it must never unlock ingest.
    if (config.stream !== undefined && config.ingest !== undefined) {
      const ingest = config.ingest;
      this.stream = new IngestStream(this, "Ingest", { ...config.stream, encryptionKey: key });
      this.ingestKey = new ApiKeySecret(this, "IngestKey", {
        encryptionKey: key,
        description:
          "API key Prometheus presents to the remote_write endpoint (sts-api-key or basic auth user apikey)",
      });
      if (config.ha !== undefined) {
        this.replicaTable = new ReplicaTable(this, "HaReplicas", { encryptionKey: key });
      }
      this.remoteWrite = new RemoteWriteApi(this, "RemoteWrite", {
        stream: this.stream,
        keySecret: this.ingestKey,
        throttleRate: ingest.throttleRate,
        throttleBurst: ingest.throttleBurst,
        reservedConcurrency: ingest.reservedConcurrency,
        memoryMb: ingest.memoryMb,
        timeout: Duration.seconds(ingest.timeoutSeconds),
        maxBodyBytes: ingest.maxBodyBytes,
        // the map the function packs by until it has read the stream's (an on-demand stream starts with 4)
        streamShards: config.stream.mode === "provisioned" ? (config.stream.shards ?? 1) : 4,
        nameValidation: ingest.nameValidation,
        allowedCidrs: ingest.allowedCidrs,
        ha:
          config.ha !== undefined && this.replicaTable !== undefined
            ? { settings: config.ha, table: this.replicaTable }
            : undefined,
        ...shared,
        code: props.functionCode?.remoteWrite,
      });
    }

    const m = config.mirror;
    if (m !== undefined) {
      this.mirrorKey = new ApiKeySecret(this, "MirrorKey", {
        encryptionKey: key,
        description: "API key of the StackState Prometheus mirror datasource",
      });
      let privateEndpoint: ec2.IInterfaceVpcEndpoint | undefined;
      if (config.vpc !== undefined && m.secretsAccess !== undefined) {
        this.network = new MirrorNetwork(this, "MirrorNetwork", {
          vpc: config.vpc,
          prometheus: m.prometheus,
          secretsAccess: m.secretsAccess,
          // Configuration admits workspaces of one region only in endpoint mode.
          ampRegion: m.ampWorkspaces[0]?.region,
          sts: m.assumeRoleArns.length > 0,
          privateApi: m.private
            ? { existingEndpointId: m.apiVpcEndpointId, sourceCidrs: m.sourceCidrs }
            : undefined,
          logRetentionDays: obs.logRetentionDays,
          logKey: key,
        });
        privateEndpoint = this.network.apiEndpoint;
      } else if (m.apiVpcEndpointId !== undefined) {
        // No VPC of ours: a private API is associated with the caller's existing endpoint.
        privateEndpoint = ec2.InterfaceVpcEndpoint.fromInterfaceVpcEndpointAttributes(
          this,
          "MirrorApiEndpoint",
          {
            vpcEndpointId: m.apiVpcEndpointId,
            port: 443,
          },
        );
      }
      this.mirror = new MirrorApi(this, "Mirror", {
        network: this.network,
        keySecret: this.mirrorKey,
        workers: m.workers,
        throttleRate: m.throttleRate,
        throttleBurst: m.throttleBurst,
        memoryMb: m.memoryMb,
        maxAnswerBytes: m.maxAnswerBytes,
        maxSeries: m.maxSeries,
        requireKey: m.requireKey,
        errorStatus: m.errorStatus,
        prometheus: m.prometheus,
        ampWorkspaces: m.ampWorkspaces,
        assumeRoleArns: m.assumeRoleArns,
        sourceCidrs: m.sourceCidrs,
        privateEndpoint,
        setAccountLogsRole: m.apiGatewayLogsRole,
        webAclArn: m.webAclArn,
        // StackState calls without a key from its egress addresses: only those are trusted keyless.
        trustedCidrs: m.keylessCallers === "stackstateCidrs" ? m.sourceCidrs : undefined,
        ...shared,
        code: props.functionCode?.mirror,
      });
    }

    this.monitoring = new GatewayMonitoring(this, "Monitoring", {
      namespace: obs.metricsNamespace,
      ingest:
        this.remoteWrite !== undefined && this.stream !== undefined
          ? {
              function: this.remoteWrite.handler.function,
              api: this.remoteWrite.api,
              stream: this.stream.stream,
              replicaTable: this.replicaTable?.table,
            }
          : undefined,
      mirror:
        this.mirror !== undefined
          ? { function: this.mirror.handler.function, api: this.mirror.api }
          : undefined,
      alarmEmail: obs.alarmEmail,
    });

    // The optional forwarder (stream → a remote_write endpoint); off unless forwardUrl is set,
    // which the configuration accepts only with the ingest component (the stream).
    if (config.forwarder !== undefined && this.stream !== undefined) {
      this.forwarder = new Forwarder(this, "Forwarder", {
        settings: config.forwarder,
        stream: this.stream.stream,
        metricsNamespace: obs.metricsNamespace,
        keyCacheSeconds: obs.keyCacheSeconds,
        logRetentionDays: obs.logRetentionDays,
        logLevel: obs.logLevel,
        logKey: key,
        secretKey: key,
        alarmTopic: this.monitoring.topic,
        dashboard: this.monitoring.dashboard,
        code: props.functionCode?.forwarder,
      });
    }

    this.warnAboutPlaceholders(config);
    this.addOutputs(config);
  }

  /**
   * The created VPC's zones, as CloudFormation resolves them (`Fn::GetAZs`) at deploy time,
   * also when the stack is pinned to an account and region: CDK would otherwise look them up
   * with the CLI's credentials at synth, and synth stays offline.
   */
  override get availabilityZones(): string[] {
    return [Fn.select(0, Fn.getAzs()), Fn.select(1, Fn.getAzs())];
  }

  private warnAboutPlaceholders(config: GatewayConfig): void {
    const m = config.mirror;
    if (m === undefined) return;
    if (!m.private && m.sourceCidrs.length === 0) {
      Annotations.of(this).addWarningV2(
        "gateway:mirror-closed",
        "stackstateCidrs is empty: the mirror API denies every caller until StackState's egress CIDRs are configured.",
      );
    }
    if (m.prometheus?.host === CONFIG_KEYS.prometheusHost.default) {
      Annotations.of(this).addWarningV2(
        "gateway:prometheus-host",
        `prometheusHost is the placeholder "${m.prometheus.host}"; set it to your Prometheus server.`,
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

    if (this.remoteWrite !== undefined && this.ingestKey !== undefined && this.stream !== undefined) {
      const ingestArn = this.ingestKey.secret.secretArn;
      new CfnOutput(this, "RemoteWriteUrl", {
        description: `Prometheus remote_write URL (also served at ${REMOTE_WRITE_PATH})`,
        value: this.remoteWrite.url,
      });
      new CfnOutput(this, "IngestKeySecretArn", {
        description: "Secret holding the remote_write API key",
        value: ingestArn,
      });
      new CfnOutput(this, "FetchIngestKeyCommand", {
        description: "Prints the remote_write API key",
        value: fetchKey(ingestArn),
      });
      new CfnOutput(this, "StreamName", {
        description: "Kinesis stream receiving the samples",
        value: this.stream.stream.streamName,
      });
    }
    if (this.mirror !== undefined && this.mirrorKey !== undefined) {
      const mirrorArn = this.mirrorKey.secret.secretArn;
      new CfnOutput(this, "MirrorUrl", {
        description: "Base URL of the StackState Prometheus mirror datasource",
        value: this.mirror.url,
      });
      new CfnOutput(this, "MirrorKeySecretArn", {
        description: "Secret holding the mirror API key",
        value: mirrorArn,
      });
      new CfnOutput(this, "FetchMirrorKeyCommand", {
        description: "Prints the mirror API key",
        value: fetchKey(mirrorArn),
      });
      new CfnOutput(this, "MirrorAllowedTargets", {
        description:
          "Targets the mirror may call (MIRROR_ALLOWED_TARGETS): the connection details must name one",
        value: this.mirror.allowedTargets.join(","),
      });
    }
    // The smoke test exercises both parts, against a host:port Prometheus.
    const prometheus = config.mirror?.prometheus;
    if (
      this.remoteWrite !== undefined &&
      this.ingestKey !== undefined &&
      this.mirror !== undefined &&
      this.mirrorKey !== undefined &&
      prometheus !== undefined
    ) {
      new CfnOutput(this, "SmokeTestCommand", {
        description: "Checks the deployment end to end (run from the repository)",
        value: Fn.join("", [
          "npm run smoke -- --remote-write-url ",
          this.remoteWrite.url,
          " --mirror-url ",
          this.mirror.url,
          ` --prometheus ${prometheus.host}:${prometheus.port}`,
          ' --api-key "$(',
          fetchKey(this.ingestKey.secret.secretArn),
          ')" --mirror-api-key "$(',
          fetchKey(this.mirrorKey.secret.secretArn),
          ')"',
        ]),
      });
    }
    const credential = this.forwarder?.secret;
    if (credential !== undefined) {
      new CfnOutput(this, "ForwarderCredentialSecretArn", {
        description:
          "Secret the forwarder presents to its destination (password, token or header value): put the value in it",
        value: credential.secretArn,
      });
      new CfnOutput(this, "PutForwarderCredentialCommand", {
        description: "Stores the destination's credential in the forwarder's secret (replace <value>)",
        value: Fn.join("", [
          "aws secretsmanager put-secret-value --region ",
          this.region,
          " --secret-id ",
          credential.secretArn,
          " --secret-string '<value>'",
        ]),
      });
    }
    if (this.gatewayKey.key !== undefined) {
      new CfnOutput(this, "KmsKeyArn", {
        description: "Customer-managed key of the stream, the secrets and the log groups",
        value: this.gatewayKey.key.keyArn,
      });
    }
    new CfnOutput(this, "DashboardUrl", {
      description: "CloudWatch dashboard of the gateway",
      value: Fn.join("", [
        "https://console.aws.amazon.com/cloudwatch/home?region=",
        this.region,
        "#dashboards:name=",
        this.monitoring.dashboard.dashboardName,
      ]),
    });
    if (this.network?.createdVpc !== undefined) {
      new CfnOutput(this, "MirrorVpcId", {
        description: "VPC created for the mirror; Prometheus must be reachable from it",
        value: this.network.createdVpc.vpcId,
      });
    }
  }
}
