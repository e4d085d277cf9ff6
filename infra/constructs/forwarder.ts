import { Duration, RemovalPolicy } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as kinesis from "aws-cdk-lib/aws-kinesis";
import type * as kms from "aws-cdk-lib/aws-kms";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as sources from "aws-cdk-lib/aws-lambda-event-sources";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import type * as sns from "aws-cdk-lib/aws-sns";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { NagSuppressions } from "cdk-nag";
import { Construct } from "constructs";
import { ENV, FORWARD_ENV } from "../../lib/core/env-names";
import { METRIC_NAMES, METRIC_SERVICES } from "../../lib/core/metric-names";
import type { ForwarderSettings } from "../config";
import { type FunctionLogging, GatewayFunction } from "./gateway-function";

export interface ForwarderProps extends FunctionLogging {
  readonly settings: ForwarderSettings;
  readonly stream: kinesis.IStream;
  readonly metricsNamespace: string;
  readonly keyCacheSeconds: number;
  /** Alarms notify this topic when given. */
  readonly alarmTopic?: sns.ITopic;
  /** The forwarder's widgets are added to this dashboard when given. */
  readonly dashboard?: cloudwatch.Dashboard;
  /** Pre-built code instead of bundling (template tests). */
  readonly code?: lambda.Code;
  /** Customer-managed key of the created credential secret (unset: `aws/secretsmanager`). */
  readonly secretKey?: kms.IKey;
}

/** Defaults next to the construct. */
export const FORWARDER_ALARMS = {
  period: Duration.minutes(5),
  /** Iterator age (ms) above which the forwarder is falling behind. */
  iteratorAgeMs: 10 * 60_000,
} as const;

/** Longest a single request to the destination may take. */
const REQUEST_TIMEOUT_MS = 10_000;

/**
 * The forwarder: a function reading the stream through an event source mapping (one batch
 * per shard at a time, so records keep their order), delivering to a remote_write endpoint,
 * with a dead-letter queue for records the destination refuses or that cannot be decoded,
 * and for the position of batches Lambda gave up on. Alarms on iterator age, dead letters
 * and errors.
 */
export class Forwarder extends Construct {
  readonly handler: GatewayFunction;
  readonly deadLetterQueue: sqs.Queue;
  readonly secret?: secretsmanager.ISecret;
  readonly eventSource: sources.KinesisEventSource;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: ForwarderProps) {
    super(scope, id);
    const s = props.settings;

    this.deadLetterQueue = new sqs.Queue(this, "DeadLetters", {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: RemovalPolicy.RETAIN,
    });
    NagSuppressions.addResourceSuppressions(this.deadLetterQueue, [
      {
        id: "AwsSolutions-SQS3",
        reason:
          "This queue is itself the forwarder's dead-letter queue; nothing consumes it automatically to fail again.",
      },
      {
        id: "Serverless-SQSRedrivePolicy",
        reason:
          "This queue is itself the forwarder's dead-letter queue; a redrive policy would need a queue behind the last one.",
      },
    ]);

    if (s.auth === "basic" || s.auth === "bearer" || s.auth === "header") {
      this.secret =
        s.secretArn !== undefined
          ? secretsmanager.Secret.fromSecretCompleteArn(this, "Credential", s.secretArn)
          : new secretsmanager.Secret(this, "Credential", {
              description:
                "Credential the forwarder presents to its remote_write destination (password, token or header value); set it with put-secret-value",
              encryptionKey: props.secretKey,
              removalPolicy: RemovalPolicy.DESTROY,
            });
      if (s.secretArn === undefined) {
        NagSuppressions.addResourceSuppressions(this.secret, [
          {
            id: "AwsSolutions-SMG4",
            reason:
              "The value is issued by the destination (StackState, Mimir and the like), not by AWS; the operator rotates it there and stores it here.",
          },
        ]);
      }
    }

    const environment: Record<string, string> = {
      [FORWARD_ENV.url]: s.url,
      [FORWARD_ENV.auth]: s.auth,
      [FORWARD_ENV.deadLetterQueueUrl]: this.deadLetterQueue.queueUrl,
      [FORWARD_ENV.maxRequestBytes]: String(s.maxRequestBytes),
      [FORWARD_ENV.protocol]: s.protocol,
      [FORWARD_ENV.protocolMemorySeconds]: String(s.protocolMemorySeconds),
      [FORWARD_ENV.retryAuthFailures]: String(s.retryAuthFailures),
      [FORWARD_ENV.timeoutMs]: String(Math.min(REQUEST_TIMEOUT_MS, s.timeoutSeconds * 1000 - 2_000)),
      [ENV.logLevel]: props.logLevel,
      [ENV.metricsNamespace]: props.metricsNamespace,
      [ENV.keyCacheSeconds]: String(props.keyCacheSeconds),
    };
    if (s.username !== undefined) environment[FORWARD_ENV.username] = s.username;
    if (s.headerName !== undefined) environment[FORWARD_ENV.headerName] = s.headerName;
    if (this.secret !== undefined) environment[FORWARD_ENV.secretArn] = this.secret.secretArn;
    if (s.ampRegion !== undefined) environment[FORWARD_ENV.region] = s.ampRegion;

    this.handler = new GatewayFunction(this, "Function", {
      entry: "functions/forwarder/handler.ts",
      description: "Prometheus gateway forwarder: stream records to a remote_write endpoint",
      memorySize: s.memoryMb,
      timeout: Duration.seconds(s.timeoutSeconds),
      environment,
      logRetentionDays: props.logRetentionDays,
      logLevel: props.logLevel,
      logKey: props.logKey,
      code: props.code,
    });
    const fn = this.handler.function;
    relabelDlqAcknowledgement(fn);

    this.deadLetterQueue.grantSendMessages(fn);
    this.secret?.grantRead(fn);
    if (s.ampWorkspaceArn !== undefined) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({ actions: ["aps:RemoteWrite"], resources: [s.ampWorkspaceArn] }),
      );
    }

    this.eventSource = new sources.KinesisEventSource(props.stream, {
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize: s.batchSize,
      maxBatchingWindow: Duration.seconds(s.batchingWindowSeconds),
      parallelizationFactor: 1,
      bisectBatchOnError: true,
      reportBatchItemFailures: true,
      maxRecordAge: Duration.seconds(s.maxRecordAgeSeconds),
      ...(s.retryAttempts !== undefined ? { retryAttempts: s.retryAttempts } : {}),
      onFailure: new sources.SqsDlq(this.deadLetterQueue),
    });
    fn.addEventSource(this.eventSource);
    // The event source mapping reads the stream with the function's role; the shard and
    // stream listing actions it needs are granted by the event source on this stream only.
    // The function lists the shards itself too (kinesis:ListShards, in that grant): the
    // slots of the shard each record came from, to drop the strays of a resharding.
    NagSuppressions.addResourceSuppressions(
      this.handler.role,
      [
        {
          id: "AwsSolutions-IAM5",
          reason:
            "kinesis:ListStreams (used by the event source mapping) supports only Resource '*'; every other action is on this stream, queue and secret.",
          appliesTo: ["Resource::*"],
        },
      ],
      true,
    );

    this.addMonitoring(props, fn);
  }

  private addMonitoring(props: ForwarderProps, fn: lambda.IFunction): void {
    const p = FORWARDER_ALARMS.period;
    const iteratorAge = fn.metric("IteratorAge", { period: p, statistic: cloudwatch.Stats.MAXIMUM });
    const deadLetters = this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
      period: p,
      statistic: cloudwatch.Stats.MAXIMUM,
    });
    const errors = fn.metricErrors({ period: p, statistic: cloudwatch.Stats.SUM });
    const watch: Array<[string, cloudwatch.IMetric, number, string]> = [
      [
        "ForwarderIteratorAge",
        iteratorAge,
        FORWARDER_ALARMS.iteratorAgeMs,
        "The forwarder is falling behind the stream (destination slow, down or refusing credentials)",
      ],
      [
        "ForwarderDeadLetters",
        deadLetters,
        1,
        "Records were dead-lettered: refused by the destination, undecodable, or given up after their maximum age",
      ],
      ["ForwarderErrors", errors, 1, "The forwarder function failed (crash or timeout)"],
    ];
    for (const [name, metric, threshold, description] of watch) {
      const alarm = new cloudwatch.Alarm(this, name, {
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      if (props.alarmTopic !== undefined) {
        alarm.addAlarmAction(new actions.SnsAction(props.alarmTopic));
        alarm.addOkAction(new actions.SnsAction(props.alarmTopic));
      }
      this.alarms.push(alarm);
    }
    const emf = (name: string) =>
      new cloudwatch.Metric({
        namespace: props.metricsNamespace,
        metricName: name,
        dimensionsMap: { Service: METRIC_SERVICES.forwarder },
        statistic: cloudwatch.Stats.SUM,
        period: p,
      });
    const graph = (title: string, left: cloudwatch.IMetric[]) =>
      new cloudwatch.GraphWidget({ title, left, width: 8, height: 6 });
    props.dashboard?.addWidgets(
      graph("Forwarder records delivered / requests / retries", [
        emf(METRIC_NAMES.forwardedRecords),
        emf(METRIC_NAMES.forwardRequests),
        emf(METRIC_NAMES.forwardRetries),
      ]),
      graph("Forwarder dead letters / duplicates / failed batches", [
        emf(METRIC_NAMES.deadLetters),
        emf(METRIC_NAMES.duplicateRecords),
        emf(METRIC_NAMES.forwardBatchFailures),
        deadLetters,
      ]),
      graph("Forwarder iterator age (ms) / errors", [iteratorAge, errors]),
      graph(
        "Forwarder 2.0: fallbacks to 1.0 / v2 records sent as 1.0 / start timestamps dropped / partial writes",
        [
          emf(METRIC_NAMES.protocolFallbacks),
          emf(METRIC_NAMES.recordsSentAsV1),
          emf(METRIC_NAMES.startTimestampsDropped),
          emf(METRIC_NAMES.partialWrites),
        ],
      ),
      graph("Forwarder strays of a resharding: series dropped / records not checked", [
        emf(METRIC_NAMES.straySeriesDropped),
        emf(METRIC_NAMES.strayCheckSkipped),
      ]),
    );
  }
}

/**
 * GatewayFunction acknowledges Serverless-LambdaDLQ for functions called synchronously by
 * API Gateway; the forwarder is called by an event source mapping, whose on-failure
 * destination is the dead-letter queue. Give the acknowledgement the forwarder's reason.
 */
function relabelDlqAcknowledgement(fn: lambda.Function): void {
  const cfn = fn.node.defaultChild as lambda.CfnFunction;
  const nag = cfn.cfnOptions.metadata?.cdk_nag as
    | { rules_to_suppress?: { id: string; reason: string }[] }
    | undefined;
  for (const rule of nag?.rules_to_suppress ?? []) {
    if (rule.id === "Serverless-LambdaDLQ") {
      rule.reason =
        "Invoked by a Kinesis event source mapping, not asynchronously; its on-failure destination is the forwarder's SQS dead-letter queue.";
    }
  }
}
