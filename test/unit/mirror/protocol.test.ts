import { describe, expect, it } from "vitest";
import { MirrorError } from "../../../lib/mirror/errors";
import {
  FieldValuesRequestSchema,
  MetricsRequestSchema,
  parseRequest,
  TestConnectionRequestSchema,
} from "../../../lib/mirror/protocol";

const details = { host: "prometheus", port: 9090, requestTimeout: 20000 };
const metrics = (query: Record<string, unknown>, connectionDetails: unknown = details) => ({
  _type: "MetricsRequest",
  connectionDetails,
  query: {
    _type: "MetricsQuery",
    conditions: [
      { _type: "EqualityCondition", key: "__gauge__", value: { _type: "StringValue", value: "up" } },
    ],
    startTime: 1000,
    endTime: 2000,
    limit: 10,
    ...query,
  },
});

function problem(schema: Parameters<typeof parseRequest>[0], body: unknown): MirrorError {
  try {
    parseRequest(schema, body, "MetricsRequest");
  } catch (err) {
    expect(err).toBeInstanceOf(MirrorError);
    return err as MirrorError;
  }
  throw new Error("expected a schema error");
}

describe("request schemas", () => {
  it("accepts the documented request and keeps unknown connection details", () => {
    const req = parseRequest(MetricsRequestSchema, metrics({}, { ...details, extra: 1 }), "MetricsRequest");
    expect(req.connectionDetails.port).toBe(9090);
    expect(req.connectionDetails).toHaveProperty("extra", 1);
    expect(req.query.aggregation).toBeUndefined();
  });

  it("accepts a port given as a string, scheme and pathPrefix, and nan_interpretation in any case", () => {
    const req = parseRequest(
      TestConnectionRequestSchema,
      {
        connectionDetails: {
          host: "p",
          port: "9090",
          scheme: "https",
          pathPrefix: "/prom",
          nan_interpretation: "zero",
        },
      },
      "TestConnectionRequest",
    );
    expect(req.connectionDetails).toMatchObject({
      port: 9090,
      scheme: "https",
      pathPrefix: "/prom",
      nan_interpretation: "ZERO",
    });
  });

  it.each([
    ["a missing body field", {}, "connectionDetails: "],
    ["a bad port", metrics({}, { host: "p", port: 70000 }), "connectionDetails.port"],
    ["a bad scheme", metrics({}, { ...details, scheme: "ftp" }), "connectionDetails.scheme"],
    [
      "a bad nan_interpretation",
      metrics({}, { ...details, nan_interpretation: "MAYBE" }),
      "connectionDetails.nan_interpretation",
    ],
    [
      "an unknown value type",
      metrics({ conditions: [{ key: "a", value: { _type: "ListValue", value: [] } }] }),
      "query.conditions[0].value._type",
    ],
    ["a wrong request tag", { ...metrics({}), _type: "FieldNamesRequest" }, "_type"],
    [
      "an unknown aggregation",
      metrics({ aggregation: { method: "MEDIAN", bucketSizeMillis: 1000 } }),
      "query.aggregation.method",
    ],
    [
      "a zero bucket size",
      metrics({ aggregation: { method: "MAX", bucketSizeMillis: 0 } }),
      "query.aggregation.bucketSizeMillis",
    ],
    [
      "an end before the start",
      metrics({ startTime: 5000, endTime: 1000 }),
      "query.endTime: must not be before startTime",
    ],
    ["a fractional limit", metrics({ limit: 1.5 }), "query.limit"],
    ["a body that is not an object", "text", "(body)"],
  ])("names the problem in %s", (_, body, says) => {
    const err = problem(MetricsRequestSchema, body);
    expect(err.status).toBe(400);
    expect(err.body._type).toBe("RemoteMirrorError");
    expect(err.message).toContain("Malformed MetricsRequest");
    expect(err.message).toContain(says);
  });

  it("lists at most five problems", () => {
    const err = problem(MetricsRequestSchema, { query: { conditions: [1, 2, 3, 4, 5, 6] } });
    expect(err.message).toMatch(/and \d+ more/);
  });

  it("defaults limit and offset of field value queries", () => {
    const req = parseRequest(
      FieldValuesRequestSchema,
      { connectionDetails: details, query: { field: { fieldName: "job" }, startTime: 0, endTime: 1 } },
      "FieldValuesRequest",
    );
    expect(req.query.limit).toBe(100);
    expect(req.query.offset).toBe(0);
    expect(req.query.conditions).toEqual([]);
  });
});

describe("what StackState really sends", () => {
  const INT_MAX = 2_147_483_647;
  const peerDetails = { url: "http://localhost:9000", request_timeout_seconds: 15000 };

  it("accepts Int.MaxValue limits and offsets, and a metrics request without limit", () => {
    const values = parseRequest(
      FieldValuesRequestSchema,
      {
        connectionDetails: peerDetails,
        query: { field: { fieldName: "job" }, startTime: 0, endTime: 1, limit: INT_MAX, offset: INT_MAX },
      },
      "FieldValuesRequest",
    );
    expect(values.query.limit).toBe(INT_MAX);
    expect(values.query.offset).toBe(INT_MAX);
    const req = parseRequest(
      MetricsRequestSchema,
      metrics({ limit: undefined }, peerDetails),
      "MetricsRequest",
    );
    expect(req.query.limit).toBe(1000);
  });

  it("accepts the url dialect with an aws block, and unknown fields at every level", () => {
    const req = parseRequest(
      TestConnectionRequestSchema,
      {
        connectionDetails: {
          url: "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/",
          request_timeout_seconds: 30,
          nan_interpretation: "none",
          aws: {
            role_arn: "arn:aws:iam::1:role/r",
            external_id: "x",
            token_expiry_seconds: 900,
            extra: true,
          },
          extra: 1,
        },
        extra: [],
      },
      "TestConnectionRequest",
    );
    expect(req.connectionDetails.nan_interpretation).toBe("NONE");
    expect(req.connectionDetails.aws?.role_arn).toBe("arn:aws:iam::1:role/r");
  });

  it("infers a condition value's type from its JSON type when _type is missing", () => {
    const req = parseRequest(
      MetricsRequestSchema,
      metrics({
        conditions: [
          { key: "__gauge__", value: { value: "up" } },
          { key: "s", value: "x" },
          { key: "d", value: { value: 2.0 } },
          { key: "b", value: true },
          { key: "i", value: { value: ["A", "B"] } },
          { key: "j", value: { value: ["C"], _type: "InSetValue" }, _type: "EqualityCondition" },
        ],
        latestFirst: true,
        lastFirst: false,
        metricField: "double",
        unknown: { nested: 1 },
      }),
      "MetricsRequest",
    );
    expect(req.query.conditions.map((c) => c.value)).toEqual([
      { _type: "StringValue", value: "up" },
      { _type: "StringValue", value: "x" },
      { _type: "DoubleValue", value: 2 },
      { _type: "BooleanValue", value: true },
      { _type: "InSetValue", value: ["A", "B"] },
      { _type: "InSetValue", value: ["C"] },
    ]);
  });

  it.each([
    ["neither url nor host", metrics({}, { port: 9090 }), "connectionDetails.host: required (or give url)"],
    ["a negative limit", metrics({ limit: -1 }), "query.limit"],
    [
      "an InSetValue of numbers",
      metrics({ conditions: [{ key: "a", value: { _type: "InSetValue", value: [1] } }] }),
      "query.conditions[0].value.value[0]",
    ],
    [
      "a value of no JSON type the protocol has",
      metrics({ conditions: [{ key: "a", value: { value: null } }] }),
      "query.conditions[0].value",
    ],
    [
      "a bad region",
      metrics({}, { url: "https://x/", aws: { region_name: "Mars" } }),
      "connectionDetails.aws.region_name",
    ],
  ])("still refuses %s", (_, body, says) => {
    const err = problem(MetricsRequestSchema, body);
    expect(err.status).toBe(400);
    expect(err.message).toContain(says);
  });
});
