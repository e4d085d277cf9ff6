import { Duration, RemovalPolicy } from "aws-cdk-lib";
import type * as iam from "aws-cdk-lib/aws-iam";
import * as kinesis from "aws-cdk-lib/aws-kinesis";
import { Construct } from "constructs";

export interface IngestStreamProps {
  readonly mode: "on-demand" | "provisioned";
  /** Provisioned mode only. */
  readonly shards?: number;
  readonly retentionHours: number;
  /** The record limit, data plus partition key, KiB (default 1024, Kinesis's). */
  readonly maxRecordKiB?: number;
}

/** The Kinesis Data Stream the remote-write function writes into, encrypted with the AWS-managed key. */
export class IngestStream extends Construct {
  readonly stream: kinesis.Stream;
  /** The largest record it takes, data plus partition key: what the ingest function must bound. */
  readonly maxRecordBytes: number;

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
    this.maxRecordBytes = (props.maxRecordKiB ?? 1024) * 1024;
    if (props.maxRecordKiB !== undefined && props.maxRecordKiB !== 1024) {
      (this.stream.node.defaultChild as kinesis.CfnStream).maxRecordSizeInKiB = props.maxRecordKiB;
    }
  }

  /**
   * Write access to this one stream: PutRecord and PutRecords, and ListShards for the shard
   * map the records are packed by; nothing else.
   */
  grantPut(grantee: iam.IGrantable): iam.Grant {
    return this.stream.grant(grantee, "kinesis:PutRecord", "kinesis:PutRecords", "kinesis:ListShards");
  }
}
