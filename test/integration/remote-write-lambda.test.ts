import type { APIGatewayProxyEvent, Context } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedKinesis, startEmbeddedKinesis } from "../../functions/local/embedded-kinesis";
import { RECEIVER_PATH, REMOTE_WRITE_PATH } from "../../lib/core/routes";
import { httpApiEvent } from "../fixtures/api-gateway";
import { realisticSeries, snappy, v1Message, v2Message } from "../fixtures/remote-write";
import { streamContents } from "../support/stream";
import { type StrictKinesis, startStrictKinesis } from "../support/strict-kinesis";

/**
 * The Lambda entry as API Gateway calls it: HTTP API (payload 2.0) and REST API (v1)
 * events whose bodies are real snappy bytes, base64-encoded with isBase64Encoded. The handler
 * writes through a front that refuses what AWS refuses (test/support/strict-kinesis.ts); the
 * stream is read back from kinesis-local.
 */
const KEY = "lambda-key-55e1";
let kinesis: EmbeddedKinesis;
let strict: StrictKinesis;
let handler: (
  event: unknown,
  context: Context,
) => Promise<{
  statusCode: number;
  headers?: Record<string, string>;
  multiValueHeaders?: Record<string, string[]>;
  body?: string;
}>;

beforeAll(async () => {
  kinesis = await startEmbeddedKinesis();
  await kinesis.createStream("lambda", 2);
  strict = await startStrictKinesis({ target: kinesis.endpoint, region: kinesis.region });
  Object.assign(process.env, {
    KINESIS_STREAM_NAME: "lambda",
    KINESIS_ENDPOINT: strict.endpoint,
    AWS_REGION: "us-east-1",
    API_KEY: KEY,
    LOG_LEVEL: "error",
  });
  const metricsLines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  // EMF documents go to stdout; keep them out of the test output
  process.stdout.write = ((chunk: string) => {
    if (typeof chunk === "string" && chunk.includes('"_aws"')) {
      metricsLines.push(chunk);
      return true;
    }
    return write(chunk);
  }) as typeof process.stdout.write;
  ({ handler } = (await import("../../functions/remote-write/handler")) as never);
}, 90_000);

afterAll(async () => {
  await strict?.stop();
  await kinesis?.stop();
});

const context = { awsRequestId: "test", getRemainingTimeInMillis: () => 30_000 } as unknown as Context;

function restApiEvent(path: string, headers: Record<string, string>, body: Uint8Array): APIGatewayProxyEvent {
  return {
    httpMethod: "POST",
    path,
    resource: path,
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    body: Buffer.from(body).toString("base64"),
    isBase64Encoded: true,
    pathParameters: null,
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: {
      accountId: "123456789012",
      apiId: "api",
      httpMethod: "POST",
      path: `/prod${path}`,
      protocol: "HTTP/1.1",
      requestId: "r2",
      requestTimeEpoch: 0,
      resourceId: "res",
      resourcePath: path,
      stage: "prod",
      identity: { sourceIp: "192.0.2.1" } as APIGatewayProxyEvent["requestContext"]["identity"],
      authorizer: null,
    },
  };
}

const v1Headers = {
  "content-type": "application/x-protobuf",
  "content-encoding": "snappy",
  "sts-api-key": KEY,
};

describe("Lambda handler", () => {
  it("HTTP API payload 2.0, v1 body: 204 and the series are in the stream", async () => {
    const before = (await streamContents(kinesis.client, "lambda")).series.length;
    const res = await handler(
      httpApiEvent(REMOTE_WRITE_PATH, v1Headers, snappy(v1Message(realisticSeries(30, 2)))),
      context,
    );
    expect(res.statusCode, res.body).toBe(204);
    const after = (await streamContents(kinesis.client, "lambda")).series.length;
    expect(after - before).toBe(30);
  });

  it("REST API event on the StackState path, v2 body with basic auth: 204 with the written counts", async () => {
    const headers = {
      "content-type": "application/x-protobuf;proto=io.prometheus.write.v2.Request",
      "content-encoding": "snappy",
      authorization: `Basic ${Buffer.from(`apikey:${KEY}`).toString("base64")}`,
    };
    const event = restApiEvent(RECEIVER_PATH, headers, snappy(v2Message(realisticSeries(10, 3))));
    const res = await handler(event, context);
    expect(res.statusCode, res.body).toBe(204);
    // REST API responses carry multiValueHeaders
    expect(res.multiValueHeaders?.["x-prometheus-remote-write-samples-written"]).toEqual(["30"]);
    expect(res.multiValueHeaders?.["x-prometheus-remote-write-version"]).toEqual(["2.0.0"]);
  });

  it("a wrong key: 401 with WWW-Authenticate, key not echoed", async () => {
    const res = await handler(
      httpApiEvent(
        REMOTE_WRITE_PATH,
        { ...v1Headers, "sts-api-key": "wrong" },
        snappy(v1Message(realisticSeries(1, 1))),
      ),
      context,
    );
    expect(res.statusCode).toBe(401);
    const h = Object.fromEntries(Object.entries(res.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    expect(h["www-authenticate"]).toMatch(/^Basic realm=/);
    expect(res.body ?? "").not.toContain(KEY);
  });

  it("a body mangled to text (REST API without binary media types) is a clean 400", async () => {
    const body = snappy(v1Message(realisticSeries(5, 1)));
    const event = restApiEvent(REMOTE_WRITE_PATH, v1Headers, body);
    event.body = Buffer.from(body).toString("utf8");
    event.isBase64Encoded = false;
    const res = await handler(event, context);
    expect(res.statusCode).toBe(400);
  });

  it("a body sent as plain text (isBase64Encoded false) is read as its UTF-8 bytes", async () => {
    // a small request whose snappy form (one literal) is plain ASCII, so it survives as text
    const message = v1Message([{ labels: [["__name__", "up"]], samples: [{ value: 0, timestamp: 1 }] }]);
    const literal = Uint8Array.from([message.length, (message.length - 1) << 2, ...message]);
    expect(literal.every((b) => b < 0x80)).toBe(true);
    const before = (await streamContents(kinesis.client, "lambda")).series.length;
    const event = httpApiEvent(REMOTE_WRITE_PATH, v1Headers, literal);
    event.body = Buffer.from(literal).toString("latin1");
    event.isBase64Encoded = false;
    const res = await handler(event, context);
    expect(res.statusCode, res.body).toBe(204);
    expect((await streamContents(kinesis.client, "lambda")).series.length - before).toBe(1);
  });

  it("REST API headers in any case, single and multi-value, are found", async () => {
    const headers = {
      "Content-Type": "application/x-protobuf",
      "CONTENT-ENCODING": "snappy",
      "Sts-Api-Key": KEY,
    };
    const event = restApiEvent(REMOTE_WRITE_PATH, headers, snappy(v1Message(realisticSeries(4, 1))));
    const res = await handler(event, context);
    expect(res.statusCode, res.body).toBe(204);
    expect(res.multiValueHeaders?.["x-prometheus-remote-write-version"]).toEqual(["0.1.0"]);
    // only the single-value map (as a test console sends it)
    const single = restApiEvent(REMOTE_WRITE_PATH, headers, snappy(v1Message(realisticSeries(4, 1))));
    single.multiValueHeaders = {};
    expect((await handler(single, context)).statusCode).toBe(204);
  });

  it("HTTP API answers: lower-case header names, text bodies, never base64", async () => {
    const res = await handler(
      httpApiEvent(
        REMOTE_WRITE_PATH,
        { ...v1Headers, "content-type": "application/json" },
        new Uint8Array(1),
      ),
      context,
    );
    expect(res).toMatchObject({ statusCode: 415, isBase64Encoded: false });
    expect(res.headers?.["content-type"]).toBe("text/plain; charset=UTF-8");
    expect(res.body).toMatch(/^unsupported Content-Type/);
    expect(res.multiValueHeaders).toBeUndefined();
  });

  it.each(["GET", "HEAD"])("%s on a write path: 405 with Allow: POST", async (method) => {
    const event = httpApiEvent(REMOTE_WRITE_PATH, v1Headers, new Uint8Array(0));
    event.requestContext.http.method = method;
    delete event.body;
    const res = await handler(event, context);
    expect(res.statusCode).toBe(405);
    expect(res.headers?.allow).toBe("POST");
    expect(res.body).toBe(method === "HEAD" ? "" : "method not allowed: use POST\n");
  });

  it("another path: 404", async () => {
    const res = await handler(httpApiEvent("/api/v1/writes", v1Headers, new Uint8Array(1)), context);
    expect(res.statusCode).toBe(404);
  });

  it("sent nothing AWS would refuse", () => {
    expect(strict.stats.inspected).toBeGreaterThan(0);
    expect(strict.stats.refusals).toEqual([]);
    expect(strict.stats.recordsThrottled).toBe(0);
  });
});
