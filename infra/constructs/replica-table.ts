import { RemovalPolicy, Stack } from "aws-cdk-lib";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as kms from "aws-cdk-lib/aws-kms";
import { Construct } from "constructs";
import { HA_TABLE } from "../../lib/ha/table";

export interface ReplicaTableProps {
  /** A customer-managed key instead of the AWS-managed `aws/dynamodb`. */
  readonly encryptionKey?: kms.IKey;
}

/**
 * What the remote-write function does with the table, and nothing more: read an election
 * (GetItem), list a tenant's clusters (Query), create one (PutItem) and move it on
 * (UpdateItem), each write conditional. No Scan, no DeleteItem (the table's TTL removes
 * clusters nobody writes for), no batch calls.
 */
export const ELECTION_ACTIONS = [
  "dynamodb:GetItem",
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:Query",
] as const;

/**
 * The key use DynamoDB makes on the function's behalf with a customer-managed key: it
 * decrypts the table key for every read and write, and generates data keys with it.
 */
export const TABLE_KEY_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey"] as const;

/**
 * The DynamoDB table of elected replicas for HA-pair deduplication (lib/ha/table.ts): one
 * item per tenant and cluster, on-demand, encrypted with the stack's key choice, with
 * point-in-time recovery and a TTL that removes clusters silent for a week.
 */
export class ReplicaTable extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: ReplicaTableProps = {}) {
    super(scope, id);
    this.table = new dynamodb.Table(this, "Table", {
      partitionKey: { name: HA_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: HA_TABLE.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: HA_TABLE.expiresAt,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // like the stream: aws/dynamodb, or the stack's customer-managed key
      ...(props.encryptionKey !== undefined
        ? { encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED, encryptionKey: props.encryptionKey }
        : { encryption: dynamodb.TableEncryption.AWS_MANAGED }),
      // Elections rebuild themselves within one failover timeout; nothing to keep after teardown.
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }

  /**
   * The election's access for a function: ELECTION_ACTIONS on this table's ARN alone (it has
   * no index), and with a customer-managed key TABLE_KEY_ACTIONS on that key, only through
   * DynamoDB in the stack's region.
   */
  grantElection(grantee: iam.IGrantable): iam.Grant {
    const key = this.table.encryptionKey;
    if (key !== undefined) {
      const stack = Stack.of(this);
      grantee.grantPrincipal.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: [...TABLE_KEY_ACTIONS],
          resources: [key.keyArn],
          conditions: {
            StringEquals: { "kms:ViaService": `dynamodb.${stack.region}.${stack.urlSuffix}` },
          },
        }),
      );
    }
    return iam.Grant.addToPrincipal({
      grantee,
      actions: [...ELECTION_ACTIONS],
      resourceArns: [this.table.tableArn],
    });
  }
}
