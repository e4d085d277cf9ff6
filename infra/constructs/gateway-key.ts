import { Aws, RemovalPolicy, Stack } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import { Construct } from "constructs";
import type { Encryption } from "../config";

export interface GatewayKeyProps {
  readonly encryption: Encryption;
}

/**
 * The customer-managed KMS key of the stream, the secrets and the log groups, when one is
 * configured: created (rotation on, retained on teardown so that nothing it encrypted becomes
 * unreadable before it is gone) or imported by ARN. Absent with `aws-managed`.
 */
export class GatewayKey extends Construct {
  /** Undefined: every resource keeps its AWS-managed (or AWS-owned) key. */
  readonly key?: kms.IKey;
  /** The key the stack created (not an imported one). */
  readonly createdKey?: kms.Key;

  constructor(scope: Construct, id: string, props: GatewayKeyProps) {
    super(scope, id);
    const e = props.encryption;
    if (e.mode === "aws-managed") return;
    if (e.mode === "key") {
      // The owner's key policy must let this account's roles use it, and CloudWatch Logs (security.md).
      this.key = kms.Key.fromKeyArn(this, "Key", e.keyArn);
      return;
    }
    const stack = Stack.of(this);
    this.createdKey = new kms.Key(this, "Key", {
      description: `Prometheus gateway ${stack.stackName}: stream, secrets and log groups`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // The account's IAM policies decide who else may use it (the default key policy): the
    // functions' roles are granted exactly what they need. Kinesis and Secrets Manager use it on
    // behalf of those roles; CloudWatch Logs uses it as itself, for this account's log groups only.
    this.createdKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: "CloudWatchLogsOfThisAccount",
        principals: [new iam.ServicePrincipal(`logs.${Aws.REGION}.amazonaws.com`)],
        actions: ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        resources: ["*"],
        conditions: {
          ArnLike: {
            "kms:EncryptionContext:aws:logs:arn": `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:log-group:*`,
          },
        },
      }),
    );
    this.key = this.createdKey;
  }
}
