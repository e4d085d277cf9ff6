import { Duration } from "aws-cdk-lib";
import type * as apigw from "aws-cdk-lib/aws-apigateway";
import type * as apigwv2 from "aws-cdk-lib/aws-apigatewayv2";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import type * as kinesis from "aws-cdk-lib/aws-kinesis";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as sns from "aws-cdk-lib/aws-sns";
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import { NagSuppressions } from "cdk-nag";
import { Construct } from "constructs";
import { METRIC_DIMENSIONS, METRIC_NAMES, METRIC_SERVICES } from "../../lib/core/metric-names";

/** Every alarm looks at 5-minute sums and fires on the first occurrence. */
export const ALARM_DEFAULTS = { period: Duration.minutes(5), threshold: 1, evaluationPeriods: 1 } as const;

/**
 * The one alarm that tolerates some occurrences: conditional writes to the table of elected
 * replicas that lose a race. A failover makes every other warm instance that sees the new
 * replica lose once (a few per cluster, in one period), and instances refreshing the same
 * election at once lose now and then. A hundred in each of three periods running (one every
 * 3 s for 15 minutes) is no failover: replicas are being elected in turn.
 */
export const ELECTION_CONFLICTS = { threshold: 100, evaluationPeriods: 3 } as const;

export interface GatewayMonitoringProps {
  readonly namespace: string;
  /** The ingest component, when deployed. */
  readonly ingest?: {
    readonly function: lambda.IFunction;
    readonly api: apigwv2.HttpApi;
    readonly stream: kinesis.Stream;
    /** The table of elected replicas, with HA-pair deduplication. */
    readonly replicaTable?: dynamodb.ITable;
  };
  /** The mirror component, when deployed. */
  readonly mirror?: {
    readonly function: lambda.IFunction;
    readonly api: apigw.RestApi;
  };
  /** When given, an SNS topic with this email subscribed receives every alarm. */
  readonly alarmEmail?: string;
}

/**
 * Alarms on the gateway's own health, an optional notification topic, and a dashboard;
 * each only for the components deployed.
 */
export class GatewayMonitoring extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly topic?: sns.Topic;
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: GatewayMonitoringProps) {
    super(scope, id);
    const p = ALARM_DEFAULTS.period;

    if (props.alarmEmail !== undefined) {
      this.topic = new sns.Topic(this, "AlarmTopic", {
        displayName: "Prometheus gateway alarms",
        enforceSSL: true,
      });
      const subscription = this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
      NagSuppressions.addResourceSuppressions(subscription, [
        {
          id: "Serverless-SNSRedrivePolicy",
          reason:
            "An email that cannot be delivered has no consumer to redrive to; the alarm state stays visible in CloudWatch and on the dashboard.",
        },
      ]);
    }

    /** A metric the functions count without a second dimension (only `Service`). */
    const emf = (metricName: string, service: string) =>
      new cloudwatch.Metric({
        namespace: props.namespace,
        metricName,
        dimensionsMap: { [METRIC_DIMENSIONS.service]: service },
        statistic: cloudwatch.Stats.SUM,
        period: p,
      });
    /** One line per value of `dimension` of a metric counted with {Service, dimension}. */
    const byDimension = (metricName: string, service: string, dimension: string) =>
      new cloudwatch.MathExpression({
        expression: `SEARCH('{${props.namespace},${METRIC_DIMENSIONS.service},${dimension}} ${METRIC_DIMENSIONS.service}="${service}" MetricName="${metricName}"', 'Sum', ${p.toSeconds()})`,
        label: "",
        period: p,
      });
    const graph = (title: string, left: cloudwatch.IMetric[], width = 8) =>
      new cloudwatch.GraphWidget({ title, left, width, height: 6 });

    /** Name, metric, description; and how many in how many periods, if not ALARM_DEFAULTS'. */
    const watch: Array<
      [string, cloudwatch.IMetric, string, { threshold: number; evaluationPeriods: number }?]
    > = [];
    const rows: cloudwatch.IWidget[][] = [];
    const functionLines: cloudwatch.IMetric[] = [];

    const ingest = props.ingest;
    if (ingest !== undefined) {
      const fn = ingest.function;
      const api5xx = ingest.api.metricServerError({ period: p, statistic: cloudwatch.Stats.SUM });
      const streamThrottled = ingest.stream.metricPutRecordsThrottledRecords({
        period: p,
        statistic: cloudwatch.Stats.SUM,
      });
      const service = METRIC_SERVICES.remoteWrite;
      watch.push(
        [
          "IngestFunctionErrors",
          fn.metricErrors({ period: p }),
          "The remote-write function failed (crash or timeout)",
        ],
        [
          "IngestFunctionThrottles",
          fn.metricThrottles({ period: p }),
          "Remote-write invocations were throttled",
        ],
        ["IngestApi5xx", api5xx, "The remote-write API answered 5xx"],
        ["KinesisWriteThrottled", streamThrottled, "Kinesis rejected records for lack of write throughput"],
        [
          "KinesisThrottledPuts",
          emf(METRIC_NAMES.kinesisThrottled, service),
          "The remote-write function saw Kinesis throttling",
        ],
        [
          "KinesisFailedPuts",
          emf(METRIC_NAMES.kinesisFailedPuts, service),
          "Records could not be written to Kinesis before the deadline",
        ],
        [
          "StreamRefusedRecords",
          emf(METRIC_NAMES.recordsRefused, service),
          "Kinesis refused records for what they are (answered 400: the sender drops them)",
        ],
        [
          "StreamUnusable",
          emf(METRIC_NAMES.streamUnusable, service),
          "The stream refuses the remote-write function (missing, access or KMS key denied): answered 500 until fixed",
        ],
      );
      rows.push(
        [
          graph("Samples received / records written", [
            emf(METRIC_NAMES.samplesReceived, service),
            emf(METRIC_NAMES.recordsWritten, service),
          ]),
          graph("Series rejected by reason", [
            byDimension(METRIC_NAMES.seriesRejected, service, METRIC_DIMENSIONS.reason),
          ]),
          graph("Kinesis retries / throttled / failed / refused", [
            emf(METRIC_NAMES.kinesisRetries, service),
            emf(METRIC_NAMES.kinesisThrottled, service),
            emf(METRIC_NAMES.kinesisFailedPuts, service),
            emf(METRIC_NAMES.recordsRefused, service),
            emf(METRIC_NAMES.streamUnusable, service),
          ]),
        ],
        [
          graph("Remote-write API requests / 4xx / 5xx", [
            ingest.api.metricCount({ period: p, statistic: cloudwatch.Stats.SUM }),
            ingest.api.metricClientError({ period: p, statistic: cloudwatch.Stats.SUM }),
            api5xx,
          ]),
          graph("Remote-write latency p99 (ms)", [
            ingest.api.metricLatency({ period: p, statistic: cloudwatch.Stats.p(99) }),
            fn.metricDuration({ period: p, statistic: cloudwatch.Stats.p(99) }),
          ]),
          graph("Kinesis incoming records / write throttling", [
            ingest.stream.metricIncomingRecords({ period: p, statistic: cloudwatch.Stats.SUM }),
            streamThrottled,
          ]),
        ],
      );
      functionLines.push(fn.metricErrors({ period: p }), fn.metricThrottles({ period: p }));

      const table = ingest.replicaTable;
      if (table !== undefined) {
        const sum = { period: p, statistic: cloudwatch.Stats.SUM };
        const conflicts = table.metricConditionalCheckFailedRequests(sum);
        // On-demand tables throttle too (a partition's or the account's limits, a sudden
        // doubling); Read/WriteThrottleEvents count them by table, whatever the operation.
        const readThrottled = table.metric("ReadThrottleEvents", sum);
        const writeThrottled = table.metric("WriteThrottleEvents", sum);
        watch.push(
          [
            "HaElectionConflicts",
            conflicts,
            "Conditional writes to the HA replica table keep failing: function instances are electing replicas in turn",
            ELECTION_CONFLICTS,
          ],
          ["HaTableReadThrottled", readThrottled, "DynamoDB throttled reads of the HA replica table"],
          ["HaTableWriteThrottled", writeThrottled, "DynamoDB throttled writes to the HA replica table"],
        );
        rows.push([
          graph("HA elections: conditional-write failures / throttled reads / throttled writes", [
            conflicts,
            readThrottled,
            writeThrottled,
          ]),
          graph("HA replica table: consumed read / write units", [
            table.metricConsumedReadCapacityUnits(sum),
            table.metricConsumedWriteCapacityUnits(sum),
          ]),
        ]);
      }
    }

    const mirror = props.mirror;
    if (mirror !== undefined) {
      const fn = mirror.function;
      const api5xx = mirror.api.metricServerError({ period: p, statistic: cloudwatch.Stats.SUM });
      const service = METRIC_SERVICES.mirror;
      watch.push(
        [
          "MirrorFunctionErrors",
          fn.metricErrors({ period: p }),
          "The mirror function failed (crash or timeout)",
        ],
        [
          "MirrorFunctionThrottles",
          fn.metricThrottles({ period: p }),
          "Mirror invocations exceeded `workers`",
        ],
        ["MirrorApi5xx", api5xx, "The mirror API answered 5xx"],
      );
      rows.push([
        graph("Mirror requests by endpoint", [
          byDimension(METRIC_NAMES.mirrorRequests, service, METRIC_DIMENSIONS.endpoint),
        ]),
        graph("Mirror errors by reason", [
          byDimension(METRIC_NAMES.mirrorErrors, service, METRIC_DIMENSIONS.reason),
        ]),
        graph("Mirror API requests / 4xx / 5xx", [
          mirror.api.metricCount({ period: p, statistic: cloudwatch.Stats.SUM }),
          mirror.api.metricClientError({ period: p, statistic: cloudwatch.Stats.SUM }),
          api5xx,
        ]),
      ]);
      functionLines.push(
        fn.metricErrors({ period: p }),
        fn.metricThrottles({ period: p }),
        fn.metric("ConcurrentExecutions", { period: p, statistic: cloudwatch.Stats.MAXIMUM }),
      );
    }

    for (const [name, metric, description, limits = ALARM_DEFAULTS] of watch) {
      const alarm = new cloudwatch.Alarm(this, name, {
        alarmDescription: description,
        metric,
        threshold: limits.threshold,
        evaluationPeriods: limits.evaluationPeriods,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      if (this.topic !== undefined) {
        alarm.addAlarmAction(new actions.SnsAction(this.topic));
        alarm.addOkAction(new actions.SnsAction(this.topic));
      }
      this.alarms.push(alarm);
    }

    this.dashboard = new cloudwatch.Dashboard(this, "Dashboard", {
      defaultInterval: Duration.hours(6),
    });
    for (const row of rows) this.dashboard.addWidgets(...row);
    this.dashboard.addWidgets(graph("Function errors / throttles / concurrency", functionLines));
  }
}
