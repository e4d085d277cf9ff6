import { describe, expect, it } from "vitest";
import {
  answerTooLarge,
  badRequest,
  internalError,
  keyUnavailable,
  type MirrorError,
  methodNotAllowed,
  metricNotFound,
  payloadTooLarge,
  queryRejected,
  routeNotFound,
  storeTimeout,
  storeUnavailable,
  targetNotAllowed,
  tooManySeries,
  unauthorized,
  unsupportedFieldType,
} from "../../../lib/mirror/errors";

/** docs/mirror.md: every error's details start with its reason code in brackets. */
describe("mirror error objects", () => {
  it.each<[string, () => MirrorError]>([
    ["badRequest", () => badRequest("conditions-invalid", "Bad conditions", "no special key")],
    ["unsupportedFieldType", () => unsupportedFieldType("BOOLEAN")],
    ["unauthorized", () => unauthorized()],
    ["targetNotAllowed", () => targetNotAllowed("prometheus.example.com:9090")],
    ["metricNotFound", () => metricNotFound("up", "no series")],
    ["routeNotFound", () => routeNotFound("/api/nope")],
    ["methodNotAllowed", () => methodNotAllowed("GET")],
    ["payloadTooLarge", () => payloadTooLarge(1024)],
    ["queryRejected", () => queryRejected("parse error: unexpected end of input")],
    [
      "queryRejected (a quoted name)",
      () =>
        queryRejected('parse error: unexpected string "\\"service.n" in label matching, expected identifier'),
    ],
    ["answerTooLarge", () => answerTooLarge("/api/v1/query_range", 65536)],
    ["tooManySeries", () => tooManySeries("up", 50, "then and now", 'instance ("a", "b")')],
    ["storeUnavailable", () => storeUnavailable("prometheus-refused", "connection refused")],
    ["storeTimeout", () => storeTimeout("no answer within 20000 ms")],
    ["keyUnavailable", () => keyUnavailable()],
    ["internalError", () => internalError()],
  ])("%s: details start with [code]", (_, make) => {
    const error = make();
    expect("details" in error.body).toBe(true);
    const details = (error.body as { details: string }).details;
    expect(details.startsWith(`[${error.code}] `), details).toBe(true);
  });

  it("UnsupportedFieldTypeError keeps the protocol's mirrorType beside its details", () => {
    const error = unsupportedFieldType("BOOLEAN");
    expect(error.status).toBe(400);
    expect(error.body).toEqual({
      _type: "UnsupportedFieldTypeError",
      mirrorType: "BOOLEAN",
      details:
        "[field-type-unsupported] field type BOOLEAN is not supported: Prometheus label values are strings, ask for STRING",
    });
    expect(error.message).toBe((error.body as { details: string }).details);
  });
});
