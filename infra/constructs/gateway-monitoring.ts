import { Duration } from "aws-cdk-lib";
import type * as apigw from "aws-cdk-lib/aws-apigateway";
import type * as apigwv2 from "aws-cdk-lib/aws-apigatewayv2";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions";
import type * as kinesis from "aws-cdk-lib/aws-kinesis";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as sns from "aws-cdk-lib/aws-sns";
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import { NagSuppressions } from "cdk-nag";
import { Construct } from "constructs";

/** Metric names the functions emit in Embedded Metric Format (dimension `Service`). */
export const GATEWAY_METRICS = {
  samplesReceived: "SamplesReceived",
  seriesRejected: "SeriesRejected",
  recordsWritten: "RecordsWritten",
  kinesisRetries: "KinesisRetries",
  kinesisThrottled: "KinesisThrottled",
  kinesisFailedPuts: "KinesisFailedPuts",
  mirrorQueries: "MirrorQueries",
  mirrorErrors: "MirrorErrors",
} as const;

/** Values of the `Service` dimension. */
export const SERVICES = { remoteWrite: "remote-write", mirror: "mirror" } as const;

/** Every alarm looks at 5-minute sums and fires on the first occurrence. */
export const ALARM_DEFAULTS = { period: Duration.minutes(5), threshold: 1, evaluationPeriods: 1 } as const;

export interface GatewayMonitoringProps {
  readonly namespace: string;
  readonly ingestFunction: lambda.IFunction;
  readonly mirrorFunction: lambda.IFunction;
  readonly ingestApi: apigwv2.HttpApi;
  readonly mirrorApi: apigw.RestApi;
  readonly stream: kinesis.Stream;
  /** When given, an SNS topic with this email subscribed receives every alarm. */
  readonly alarmEmail?: string;
}

/** Alarms on the gateway's own health, an optional notification topic, and a dashboard. */
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

    const emf = (metricName: string, service: string) =>
      new cloudwatch.Metric({
        namespace: props.namespace,
        metricName,
        dimensionsMap: { Service: service },
        statistic: cloudwatch.Stats.SUM,
        period: p,
      });
    const ingest = props.ingestFunction;
    const mirror = props.mirrorFunction;
    const ingest5xx = props.ingestApi.metricServerError({ period: p, statistic: cloudwatch.Stats.SUM });
    const mirror5xx = props.mirrorApi.metricServerError({ period: p, statistic: cloudwatch.Stats.SUM });
    const streamThrottled = props.stream.metricPutRecordsThrottledRecords({
      period: p,
      statistic: cloudwatch.Stats.SUM,
    });

    const watch: Array<[string, cloudwatch.IMetric, string]> = [
      [
        "IngestFunctionErrors",
        ingest.metricErrors({ period: p }),
        "The remote-write function failed (crash or timeout)",
      ],
      [
        "IngestFunctionThrottles",
        ingest.metricThrottles({ period: p }),
        "Remote-write invocations were throttled",
      ],
      [
        "MirrorFunctionErrors",
        mirror.metricErrors({ period: p }),
        "The mirror function failed (crash or timeout)",
      ],
      [
        "MirrorFunctionThrottles",
        mirror.metricThrottles({ period: p }),
        "Mirror invocations exceeded `workers`",
      ],
      ["IngestApi5xx", ingest5xx, "The remote-write API answered 5xx"],
      ["MirrorApi5xx", mirror5xx, "The mirror API answered 5xx"],
      ["KinesisWriteThrottled", streamThrottled, "Kinesis rejected records for lack of write throughput"],
      [
        "KinesisThrottledPuts",
        emf(GATEWAY_METRICS.kinesisThrottled, SERVICES.remoteWrite),
        "The remote-write function saw Kinesis throttling",
      ],
      [
        "KinesisFailedPuts",
        emf(GATEWAY_METRICS.kinesisFailedPuts, SERVICES.remoteWrite),
        "Records could not be written to Kinesis before the deadline",
      ],
    ];
    for (const [name, metric, description] of watch) {
      const alarm = new cloudwatch.Alarm(this, name, {
        alarmDescription: description,
        metric,
        threshold: ALARM_DEFAULTS.threshold,
        evaluationPeriods: ALARM_DEFAULTS.evaluationPeriods,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      if (this.topic !== undefined) {
        alarm.addAlarmAction(new actions.SnsAction(this.topic));
        alarm.addOkAction(new actions.SnsAction(this.topic));
      }
      this.alarms.push(alarm);
    }

    const rejectedByReason = search(
      props.namespace,
      "Reason",
      `MetricName="${GATEWAY_METRICS.seriesRejected}"`,
    );
    const graph = (title: string, left: cloudwatch.IMetric[], width = 8) =>
      new cloudwatch.GraphWidget({ title, left, width, height: 6 });

    this.dashboard = new cloudwatch.Dashboard(this, "Dashboard", {
      defaultInterval: Duration.hours(6),
    });
    this.dashboard.addWidgets(
      graph("Samples received / records written", [
        emf(GATEWAY_METRICS.samplesReceived, SERVICES.remoteWrite),
        emf(GATEWAY_METRICS.recordsWritten, SERVICES.remoteWrite),
      ]),
      graph("Series rejected by reason", [rejectedByReason]),
      graph("Kinesis retries / throttled / failed puts", [
        emf(GATEWAY_METRICS.kinesisRetries, SERVICES.remoteWrite),
        emf(GATEWAY_METRICS.kinesisThrottled, SERVICES.remoteWrite),
        emf(GATEWAY_METRICS.kinesisFailedPuts, SERVICES.remoteWrite),
      ]),
    );
    this.dashboard.addWidgets(
      graph("Remote-write API requests / 4xx / 5xx", [
        props.ingestApi.metricCount({ period: p, statistic: cloudwatch.Stats.SUM }),
        props.ingestApi.metricClientError({ period: p, statistic: cloudwatch.Stats.SUM }),
        ingest5xx,
      ]),
      graph("Remote-write latency p99 (ms)", [
        props.ingestApi.metricLatency({ period: p, statistic: cloudwatch.Stats.p(99) }),
        ingest.metricDuration({ period: p, statistic: cloudwatch.Stats.p(99) }),
      ]),
      graph("Kinesis incoming records / write throttling", [
        props.stream.metricIncomingRecords({ period: p, statistic: cloudwatch.Stats.SUM }),
        streamThrottled,
      ]),
    );
    this.dashboard.addWidgets(
      graph("Mirror requests by endpoint", [
        search(props.namespace, "Endpoint", `Service="${SERVICES.mirror}"`),
        emf(GATEWAY_METRICS.mirrorQueries, SERVICES.mirror),
      ]),
      graph("Mirror errors by reason", [
        search(props.namespace, "Reason", `MetricName="${GATEWAY_METRICS.mirrorErrors}"`),
      ]),
      graph("Mirror API requests / 4xx / 5xx", [
        props.mirrorApi.metricCount({ period: p, statistic: cloudwatch.Stats.SUM }),
        props.mirrorApi.metricClientError({ period: p, statistic: cloudwatch.Stats.SUM }),
        mirror5xx,
      ]),
    );
    this.dashboard.addWidgets(
      graph("Function errors / throttles / concurrency", [
        ingest.metricErrors({ period: p }),
        ingest.metricThrottles({ period: p }),
        mirror.metricErrors({ period: p }),
        mirror.metricThrottles({ period: p }),
        mirror.metric("ConcurrentExecutions", { period: p, statistic: cloudwatch.Stats.MAXIMUM }),
      ]),
    );
  }
}

/** Every metric of `namespace` with dimensions {Service, <dimension>} matching `filter`, one line each. */
function search(namespace: string, dimension: string, filter: string): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: `SEARCH('{${namespace},Service,${dimension}} ${filter}', 'Sum', ${ALARM_DEFAULTS.period.toSeconds()})`,
    label: "",
    period: ALARM_DEFAULTS.period,
  });
}
