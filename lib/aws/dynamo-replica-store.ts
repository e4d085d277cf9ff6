import type { Env } from "../core/config";
import type { Logger } from "../core/log";
import type { ReplicaItem, ReplicaStore } from "../ha/store";
import { HA_TABLE, STALE_CLUSTER_SECONDS } from "../ha/table";
import { AwsJsonClient, AwsServiceError, DYNAMODB_SERVICE, serviceEndpoint } from "./aws-json";
import { defaultCredentials } from "./default-credentials";

/**
 * The HA replica table (lib/ha/table.ts) on DynamoDB, over the lean JSON client (JSON 1.0,
 * `X-Amz-Target: DynamoDB_20120810.<Op>`, signed with the SDK's SigV4 signer): four
 * operations, each change conditional on what the caller last saw.
 *
 * - get: GetItem, strongly consistent (a write of another instance is seen at once);
 * - create: PutItem with `attribute_not_exists(tenant)`;
 * - replace (a take-over): UpdateItem with `replica = :was AND receivedAt = :wasAt`;
 * - refresh (the elected replica seen again): UpdateItem with `replica = :me` alone;
 * - liveClusters: Query of the tenant's partition, `Select: COUNT`, filtered on items whose
 *   `expiresAt` is still ahead.
 *
 * Every write sets `expiresAt` a week after `receivedAt` (STALE_CLUSTER_SECONDS), the
 * table's TTL. A condition that does not hold (`ConditionalCheckFailedException`) is the
 * answer false; every other failure rejects as the client met it.
 */
export class DynamoReplicaStore implements ReplicaStore {
  private readonly names = {
    "#k": HA_TABLE.partitionKey,
    "#r": HA_TABLE.replica,
    "#t": HA_TABLE.receivedAt,
    "#e": HA_TABLE.expiresAt,
  };

  constructor(
    private readonly client: AwsJsonClient,
    readonly tableName: string,
  ) {}

  /**
   * A store on the table `tableName`: at `endpoint` (DYNAMODB_ENDPOINT, a local DynamoDB API:
   * fixed dummy credentials, as for a local Kinesis) or the region's DynamoDB
   * (AWS_ENDPOINT_URL_DYNAMODB and the endpoint variants as the SDK reads them) with the
   * function's own credentials. One attempt of at most 2 s and one more after throttling
   * or a 5xx; the caller's signal (its deadline) ends either sooner.
   */
  static create(o: {
    tableName: string;
    region: string;
    endpoint?: string;
    env: Env;
    log?: Logger;
  }): DynamoReplicaStore {
    const client = new AwsJsonClient({
      service: DYNAMODB_SERVICE,
      region: o.region,
      endpoint: o.endpoint ?? serviceEndpoint(DYNAMODB_SERVICE, o.region, o.env),
      credentials: o.endpoint === undefined ? defaultCredentials(o.env) : LOCAL_CREDENTIALS,
      timeoutMs: 2_000,
      connectTimeoutMs: 1_000,
      maxAttempts: 2,
      maxSockets: 16,
      ...(o.log === undefined ? {} : { log: o.log }),
    });
    return new DynamoReplicaStore(client, o.tableName);
  }

  async get(tenant: string, cluster: string, signal: AbortSignal): Promise<ReplicaItem | undefined> {
    const out = (await this.client.call(
      "GetItem",
      JSON.stringify({
        TableName: this.tableName,
        Key: this.key(tenant, cluster),
        ConsistentRead: true,
        ProjectionExpression: "#r, #t",
        ExpressionAttributeNames: { "#r": HA_TABLE.replica, "#t": HA_TABLE.receivedAt },
      }),
      signal,
    )) as { Item?: Record<string, { S?: string; N?: string }> };
    if (out.Item === undefined) return undefined;
    const replica = out.Item[HA_TABLE.replica]?.S;
    const receivedAt = Number(out.Item[HA_TABLE.receivedAt]?.N);
    if (replica === undefined || !Number.isFinite(receivedAt)) {
      throw new AwsServiceError(
        "InvalidItem",
        `the item of cluster ${cluster.slice(0, 100)} in ${this.tableName} has no replica or receivedAt`,
        200,
      );
    }
    return { replica, receivedAt };
  }

  async create(tenant: string, cluster: string, item: ReplicaItem, signal: AbortSignal): Promise<boolean> {
    return this.conditional("PutItem", signal, {
      TableName: this.tableName,
      Item: { ...this.key(tenant, cluster), ...this.attributes(item) },
      ConditionExpression: "attribute_not_exists(#k)",
      ExpressionAttributeNames: { "#k": HA_TABLE.partitionKey },
    });
  }

  async replace(
    tenant: string,
    cluster: string,
    expected: ReplicaItem,
    next: ReplicaItem,
    signal: AbortSignal,
  ): Promise<boolean> {
    const { names } = this;
    return this.conditional("UpdateItem", signal, {
      TableName: this.tableName,
      Key: this.key(tenant, cluster),
      UpdateExpression: "SET #r = :r, #t = :t, #e = :e",
      ConditionExpression: "#r = :wasR AND #t = :wasT",
      ExpressionAttributeNames: { "#r": names["#r"], "#t": names["#t"], "#e": names["#e"] },
      ExpressionAttributeValues: {
        ":r": { S: next.replica },
        ":t": { N: String(next.receivedAt) },
        ":e": { N: String(expiresAt(next.receivedAt)) },
        ":wasR": { S: expected.replica },
        ":wasT": { N: String(expected.receivedAt) },
      },
    });
  }

  async refresh(
    tenant: string,
    cluster: string,
    replica: string,
    receivedAt: number,
    signal: AbortSignal,
  ): Promise<boolean> {
    const { names } = this;
    return this.conditional("UpdateItem", signal, {
      TableName: this.tableName,
      Key: this.key(tenant, cluster),
      UpdateExpression: "SET #t = :t, #e = :e",
      ConditionExpression: "#r = :r",
      ExpressionAttributeNames: { "#r": names["#r"], "#t": names["#t"], "#e": names["#e"] },
      ExpressionAttributeValues: {
        ":r": { S: replica },
        ":t": { N: String(receivedAt) },
        ":e": { N: String(expiresAt(receivedAt)) },
      },
    });
  }

  async liveClusters(tenant: string, now: number, atMost: number, signal: AbortSignal): Promise<number> {
    let count = 0;
    let start: unknown;
    do {
      const out = (await this.client.call(
        "Query",
        JSON.stringify({
          TableName: this.tableName,
          KeyConditionExpression: "#k = :k",
          FilterExpression: "#e > :now",
          Select: "COUNT",
          ExpressionAttributeNames: { "#k": HA_TABLE.partitionKey, "#e": HA_TABLE.expiresAt },
          ExpressionAttributeValues: { ":k": { S: tenant }, ":now": { N: String(Math.floor(now / 1000)) } },
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        }),
        signal,
      )) as { Count?: number; LastEvaluatedKey?: unknown };
      count += out.Count ?? 0;
      start = out.LastEvaluatedKey;
    } while (start !== undefined && count < atMost);
    return count;
  }

  /** Closes the kept connections. */
  destroy(): void {
    this.client.destroy();
  }

  private key(tenant: string, cluster: string) {
    return { [HA_TABLE.partitionKey]: { S: tenant }, [HA_TABLE.sortKey]: { S: cluster } };
  }

  private attributes(item: ReplicaItem) {
    return {
      [HA_TABLE.replica]: { S: item.replica },
      [HA_TABLE.receivedAt]: { N: String(item.receivedAt) },
      [HA_TABLE.expiresAt]: { N: String(expiresAt(item.receivedAt)) },
    };
  }

  /** A conditional write: true when written, false when its condition did not hold. */
  private async conditional(operation: string, signal: AbortSignal, body: object): Promise<boolean> {
    try {
      await this.client.call(operation, JSON.stringify(body), signal);
      return true;
    } catch (err) {
      if (err instanceof AwsServiceError && err.name === "ConditionalCheckFailedException") return false;
      throw err;
    }
  }
}

const LOCAL_CREDENTIALS = Object.freeze({ accessKeyId: "local", secretAccessKey: "local" });

/** The TTL of an item last written at `receivedAt` (epoch ms): epoch seconds a week later. */
function expiresAt(receivedAt: number): number {
  return Math.floor(receivedAt / 1000) + STALE_CLUSTER_SECONDS;
}
