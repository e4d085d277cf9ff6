import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { KinesisClient } from "@aws-sdk/client-kinesis";
import { NodeHttpHandler } from "@smithy/node-http-handler";

export interface KinesisClientOptions {
  region: string;
  /** A local Kinesis API (e.g. http://127.0.0.1:4568); unset for AWS. */
  endpoint?: string;
}

/**
 * The AWS SDK's Kinesis client over HTTP/1.1 keep-alive connections, for the local tools and
 * the forwarder's local poller: creating, describing and reading streams (the ingest path
 * writes with the lean PutRecords client, ./kinesis-records.ts, and loads no SDK client). The
 * SDK's own retries are off: a failed call surfaces at once, and the poller pauses and reads
 * again on its own terms. Local endpoints get fixed dummy credentials (local Kinesis servers do
 * not check them).
 */
export function createKinesisClient(opts: KinesisClientOptions): KinesisClient {
  const requestHandler = new NodeHttpHandler({
    connectionTimeout: 2_000,
    httpAgent: new HttpAgent({ keepAlive: true, maxSockets: 64 }),
    httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: 64 }),
  });
  return new KinesisClient({
    region: opts.region,
    maxAttempts: 1,
    requestHandler,
    ...(opts.endpoint
      ? { endpoint: opts.endpoint, credentials: { accessKeyId: "local", secretAccessKey: "local" } }
      : {}),
  });
}
