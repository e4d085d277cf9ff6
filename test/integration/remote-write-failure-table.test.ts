import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { remoteWriteEndpointFromEnv } from "../../functions/remote-write/wiring";
import { createMemoryMetrics } from "../../lib/core/metrics";
import { realisticSeries, snappy, v1Message } from "../fixtures/remote-write";
import { type AwsJsonStub, type StubAnswer, startAwsJsonStub } from "../support/aws-json-stub";
import { FRONT_NAMES, type FrontName, LISTENER, lambdaFront, startListenerFront } from "../support/fronts";

/**
 * The table of docs/ingest.md ("Failures no retry can cure"), row by row, through the Lambda
 * handler (API Gateway events) and the local server's listener, each over the endpoint the
 * function's wiring builds, and the gateway's own Kinesis client against an AWS-shaped stand-in: what no retry
 * can cure is answered 4xx (never resent) or 500 for an operator, at once, after one call;
 * only what a retry can cure is retried, and then answered 503 with Retry-After.
 */
const KEY = "table-key-91bd";
let answer: (records: unknown[]) => StubAnswer = () => ({});
let stub: AwsJsonStub;

beforeAll(async () => {
  stub = await startAwsJsonStub({ answer: ({ body }) => answer(body.Records ?? []) });
});
afterAll(async () => {
  await stub?.close();
});

const wholeCall =
  (status: number, type: string, message = "refused") =>
  () => ({
    status,
    body: { __type: type, message },
  });
const perRecord = (code: string) => (records: unknown[]) => ({
  body: {
    FailedRecordCount: records.length,
    Records: records.map(() => ({ ErrorCode: code, ErrorMessage: "injected" })),
  },
});

async function invoke(frontName: FrontName) {
  const metrics = createMemoryMetrics();
  const { endpoint } = remoteWriteEndpointFromEnv(
    {
      KINESIS_ENDPOINT: stub.url,
      KINESIS_STREAM_NAME: "table",
      AWS_REGION: "eu-west-1",
      API_KEY: KEY,
      LOG_LEVEL: "error",
      PUT_DEADLINE_MS: "400",
      STREAM_SHARDS: "1",
    },
    metrics,
  );
  const front =
    frontName === LISTENER
      ? await startListenerFront(endpoint)
      : lambdaFront(endpoint, { remainingMs: 29_000 });
  try {
    const res = await front.send({
      headers: { "sts-api-key": KEY, "content-type": "application/x-protobuf", "content-encoding": "snappy" },
      body: snappy(v1Message(realisticSeries(10, 2))),
    });
    return { metrics, res };
  } finally {
    await front.close();
  }
}

/** What each answer's body says, by its code. */
const BODY: Record<string, RegExp> = {
  "stream-refused-records":
    /^the stream refused 1 of 1 records of this request \(\w+\); the others were written; do not resend/,
  "stream-unusable": /^the stream cannot be written \(\w+\): 1 of 1 records not written/,
  "kinesis-unavailable": /^Kinesis did not accept 1 of 1 records \(.+\); retry later/,
};

describe.each(FRONT_NAMES)("failures no retry can cure, and those it can, through the %s", (frontName) => {
  it.each<[string, (records: unknown[]) => StubAnswer, number, string, "once" | "retried"]>([
    [
      "a call refused as invalid",
      wholeCall(400, "ValidationException"),
      400,
      "stream-refused-records",
      "once",
    ],
    [
      "a call refused as unreadable",
      wholeCall(400, "SerializationException"),
      400,
      "stream-refused-records",
      "once",
    ],
    [
      "an entry refused as invalid",
      perRecord("InvalidArgumentException"),
      400,
      "stream-refused-records",
      "once",
    ],
    ["a missing stream", wholeCall(400, "ResourceNotFoundException"), 500, "stream-unusable", "once"],
    ["denied access", wholeCall(400, "AccessDeniedException"), 500, "stream-unusable", "once"],
    ["a disabled KMS key", wholeCall(400, "KMSDisabledException"), 500, "stream-unusable", "once"],
    ["an entry's KMS key denied", perRecord("KMSAccessDeniedException"), 500, "stream-unusable", "once"],
    ["an expired token", wholeCall(400, "ExpiredTokenException"), 503, "kinesis-unavailable", "once"],
    ["an unknown key", wholeCall(400, "UnrecognizedClientException"), 503, "kinesis-unavailable", "once"],
    [
      "throttling of the whole call",
      wholeCall(400, "ProvisionedThroughputExceededException"),
      503,
      "kinesis-unavailable",
      "retried",
    ],
    [
      "throttled entries",
      perRecord("ProvisionedThroughputExceededException"),
      503,
      "kinesis-unavailable",
      "retried",
    ],
    ["entries failed inside Kinesis", perRecord("InternalFailure"), 503, "kinesis-unavailable", "retried"],
    ["a 500 of the service", wholeCall(500, "InternalFailure"), 503, "kinesis-unavailable", "retried"],
  ])("%s", async (_, kinesisAnswer, status, code, calls) => {
    answer = kinesisAnswer;
    // PutRecords calls only: the shard map's ListShards meets the same failure, and is not retried per request
    const puts = () => stub.calls.filter((c) => c.target.endsWith(".PutRecords")).length;
    const before = puts();
    const { res } = await invoke(frontName);
    const made = puts() - before;
    expect(res.status).toBe(status);
    if (status === 503) expect(Number(res.headers["retry-after"])).toBeGreaterThanOrEqual(5);
    else expect(res.headers["retry-after"]).toBeUndefined();
    expect(res.body).not.toBe("internal error\n");
    if (calls === "once") expect(made).toBe(1);
    else expect(made).toBeGreaterThan(1);
    expect(res.body).toMatch(BODY[code]!);
  });
});
