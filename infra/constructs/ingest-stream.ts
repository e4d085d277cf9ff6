import { Duration, RemovalPolicy } from "aws-cdk-lib";
import type * as iam from "aws-cdk-lib/aws-iam";
import * as kinesis from "aws-cdk-lib/aws-kinesis";
import { Construct } from "constructs";

export interface IngestStreamProps {
  readonly mode: "on-demand" | "provisioned";
  /** Provisioned mode only. */
  readonly shards?: number;
  readonly retentionHours: number;
}

/** The Kinesis Data Stream the remote-write function writes into, encrypted with the AWS-managed key. */
export class IngestStream extends Construct {
  readonly stream: kinesis.Stream;

  constructor(scope: Construct, id: string, props: IngestStreamProps) {
    super(scope, id);
    const provisioned = props.mode === "provisioned";
    this.stream = new kinesis.Stream(this, "Stream", {
      streamMode: provisioned ? kinesis.StreamMode.PROVISIONED : kinesis.StreamMode.ON_DEMAND,
      shardCount: provisioned ? (props.shards ?? 1) : undefined,
      retentionPeriod: Duration.hours(props.retentionHours),
      encryption: kinesis.StreamEncryption.MANAGED,
      // Samples are in flight only for the retention period; nothing to keep after teardown.
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }

  /** Write-only access to this one stream: PutRecord and PutRecords, nothing else. */
  grantPut(grantee: iam.IGrantable): iam.Grant {
    return this.stream.grant(grantee, "kinesis:PutRecord", "kinesis:PutRecords");
  }
}
