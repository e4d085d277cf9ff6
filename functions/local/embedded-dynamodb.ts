import type { Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { AwsJsonClient, AwsServiceError, DYNAMODB_SERVICE } from "../../lib/aws/aws-json";
import { HA_TABLE } from "../../lib/ha/table";
import { waitFor } from "./ports";

/**
 * A DynamoDB API in this process for the local server's HA deduplication (and the tests):
 * dynalite, which answers the real API over HTTP, conditional writes included, so the local
 * server drives the very DynamoDB store (lib/aws/dynamo-replica-store.ts) the Lambda runs,
 * over the same signed JSON 1.0 calls. In memory: the elections last as long as the process
 * (a restart elects again, which costs one write per cluster).
 */
export interface EmbeddedDynamoDB {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly region: string;
  /** Creates a table of the HA replica table's shape (lib/ha/table.ts) unless it is there. */
  createReplicaTable(name: string): Promise<void>;
  /** Stops answering: closes the listener and every connection. */
  stop(): Promise<void>;
}

/** Credentials for a local DynamoDB API, which does not check them. */
const LOCAL_CREDENTIALS = Object.freeze({ accessKeyId: "local", secretAccessKey: "local" });

type Dynalite = (options: {
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
}) => Server;

/** Starts dynalite on 127.0.0.1 on a free port (`port` 0) or the one given. */
export async function startEmbeddedDynamoDB(
  opts: { region?: string; port?: number } = {},
): Promise<EmbeddedDynamoDB> {
  const dynalite = createRequire(import.meta.url)("dynalite") as Dynalite;
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const region = opts.region ?? "us-east-1";
  return {
    endpoint,
    region,
    createReplicaTable: (name) => createReplicaTable(endpoint, region, name),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Creates the HA replica table at a local DynamoDB API `endpoint` unless it is there, and waits for it. */
export async function createReplicaTable(endpoint: string, region: string, name: string): Promise<void> {
  const client = new AwsJsonClient({
    service: DYNAMODB_SERVICE,
    region,
    endpoint,
    credentials: LOCAL_CREDENTIALS,
    timeoutMs: 5_000,
  });
  const describe = async () =>
    (await client.call("DescribeTable", JSON.stringify({ TableName: name }))) as {
      Table?: { TableStatus?: string };
    };
  try {
    try {
      await describe();
    } catch (err) {
      if (!(err instanceof AwsServiceError) || err.name !== "ResourceNotFoundException") throw err;
      await client.call(
        "CreateTable",
        JSON.stringify({
          TableName: name,
          AttributeDefinitions: [
            { AttributeName: HA_TABLE.partitionKey, AttributeType: "S" },
            { AttributeName: HA_TABLE.sortKey, AttributeType: "S" },
          ],
          KeySchema: [
            { AttributeName: HA_TABLE.partitionKey, KeyType: "HASH" },
            { AttributeName: HA_TABLE.sortKey, KeyType: "RANGE" },
          ],
          BillingMode: "PAY_PER_REQUEST",
        }),
      );
    }
    await waitFor(
      `table ${name} to become ACTIVE`,
      async () => (await describe()).Table?.TableStatus === "ACTIVE",
      10_000,
      20,
    );
  } finally {
    client.destroy();
  }
}
