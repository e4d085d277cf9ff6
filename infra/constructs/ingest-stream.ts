import { Duration, RemovalPolicy } from "aws-cdk-lib";
import type * as iam from "aws-cdk-lib/aws-iam";
import * as kinesis from "aws-cdk-lib/aws-kinesis";
import type * as kms from "aws-cdk-lib/aws-kms";
import { NagSuppressions } from "cdk-nag";
import { Construct } from "constructs";

export interface IngestStreamProps {
  readonly mode: "on-demand" | "provisioned";
  /** Provisioned mode only. */
  readonly shards?: number;
  readonly retentionHours: number;
  /** The record limit, data plus partition key, KiB (default 1024, Kinesis's). */
  readonly maxRecordKiB?: number;
  /** A customer-managed key instead of the AWS-managed `aws/kinesis`. */
  readonly encryptionKey?: kms.IKey;
}

/**
 * The Kinesis Data Stream the remote-write function writes into, encrypted with the AWS-managed
 * key, or with a customer-managed one.
 */
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
      ...(props.encryptionKey !== undefined
        ? { encryption: kinesis.StreamEncryption.KMS, encryptionKey: props.encryptionKey }
        : { encryption: kinesis.StreamEncryption.MANAGED }),
      // Samples are in flight only for the retention period; nothing to keep after teardown.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    if (props.encryptionKey !== undefined) {
      NagSuppressions.addResourceSuppressions(this.stream, [
        {
          id: "AwsSolutions-KDS3",
          reason:
            "kmsKey asks for a customer-managed key instead of aws/kinesis: its owner decides, in the key policy, who can read the stream, and can revoke it.",
        },
      ]);
    }
    this.maxRecordBytes = (props.maxRecordKiB ?? 1024) * 1024;
    if (props.maxRecordKiB !== undefined && props.maxRecordKiB !== 1024) {
      (this.stream.node.defaultChild as kinesis.CfnStream).maxRecordSizeInKiB = props.maxRecordKiB;
    }
  }

  /**
   * Write access to this one stream: PutRecord and PutRecords, and ListShards for the shard
   * map the records are packed by; nothing else (and, with a customer-managed key, the data
   * keys Kinesis generates with it for these writes).
   */
  grantPut(grantee: iam.IGrantable): iam.Grant {
    this.stream.encryptionKey?.grant(grantee, "kms:GenerateDataKey");
    return this.stream.grant(grantee, "kinesis:PutRecord", "kinesis:PutRecords", "kinesis:ListShards");
  }
}
