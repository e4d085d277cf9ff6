import { ENV } from "../core/env-names";
import { echo, HttpError } from "../core/errors";

/** The error objects of the telemetry-mirror protocol, as StackState reads them. */
export type ProtocolError =
  | { _type: "MetricStoreConnectionError"; details: string }
  | { _type: "MetricNotFoundError"; metric: string; details: string }
  | { _type: "UnsupportedFieldTypeError"; mirrorType: string; details: string }
  | { _type: "RemoteMirrorError"; summary: string; details: string };

/**
 * An error the mirror answers with: an HTTP status, a stable identifier (`code`, also the
 * `reason` dimension of the error metric) and the protocol error object sent as the body.
 * Messages never contain keys; user input in them is truncated with `echo`.
 */
export class MirrorError extends HttpError {
  readonly body: ProtocolError;

  constructor(status: number, code: string, body: ProtocolError, headers: Record<string, string> = {}) {
    super(status, code, describe(body), headers);
    this.body = body;
  }
}

function describe(body: ProtocolError): string {
  switch (body._type) {
    case "MetricStoreConnectionError":
      return body.details;
    case "MetricNotFoundError":
      return body.details;
    case "UnsupportedFieldTypeError":
      return body.details;
    case "RemoteMirrorError":
      return `${body.summary}: ${body.details}`;
  }
}

function remote(status: number, code: string, summary: string, details: string): MirrorError {
  return new MirrorError(status, code, {
    _type: "RemoteMirrorError",
    summary,
    details: `[${code}] ${details}`,
  });
}

/**
 * 502: no credentials to sign the store's calls with (`message` says what failed, without a
 * secret): answered as a store the mirror cannot reach.
 */
export function credentialsUnavailable(code: string, message: string): MirrorError {
  return new MirrorError(502, code, { _type: "MetricStoreConnectionError", details: `[${code}] ${message}` });
}

/** 400: the request is malformed or asks for something the mirror cannot express. */
export function badRequest(code: string, summary: string, details: string): MirrorError {
  return remote(400, code, summary, details);
}

/**
 * 400: a field type other than STRING (Prometheus labels are strings). The protocol's object
 * names only the type; `details` carries the reason code as every other error's does.
 */
export function unsupportedFieldType(mirrorType: string): MirrorError {
  const type = echo(mirrorType, 40);
  return new MirrorError(400, "field-type-unsupported", {
    _type: "UnsupportedFieldTypeError",
    mirrorType: type,
    details: `[field-type-unsupported] field type ${type} is not supported: Prometheus label values are strings, ask for STRING`,
  });
}

/** 401: missing or wrong credentials; the caller must not add the mirror key to this answer. */
export function unauthorized(): MirrorError {
  return new MirrorError(
    401,
    "unauthorized",
    {
      _type: "RemoteMirrorError",
      summary: "Unauthorized",
      details: "[unauthorized] missing or invalid credentials",
    },
    { "WWW-Authenticate": 'Basic realm="mirror", charset="UTF-8"' },
  );
}

/** 403: the connection details name a Prometheus outside MIRROR_ALLOWED_TARGETS. */
export function targetNotAllowed(target: string): MirrorError {
  return remote(
    403,
    "target-not-allowed",
    "Target not allowed",
    `${echo(target, 120)} is not in this mirror's list of allowed Prometheus targets (MIRROR_ALLOWED_TARGETS)`,
  );
}

/** 404: no series matches the query. */
export function metricNotFound(query: string, details: string): MirrorError {
  return new MirrorError(404, "metric-not-found", {
    _type: "MetricNotFoundError",
    metric: echo(query),
    details: `[metric-not-found] ${details}`,
  });
}

/** 404 / 405 / 413: requests for paths or methods the mirror does not serve, or too large. */
export function routeNotFound(path: string): MirrorError {
  return remote(404, "route-not-found", "Not found", `no endpoint at ${echo(path, 100)}`);
}
export function methodNotAllowed(method: string): MirrorError {
  return remote(405, "method-not-allowed", "Method not allowed", `${echo(method, 10)}: endpoints take POST`);
}
export function payloadTooLarge(limitBytes: number): MirrorError {
  // The rest of the body is not read: the connection cannot be reused.
  return new MirrorError(
    413,
    "body-too-large",
    {
      _type: "RemoteMirrorError",
      summary: "Request too large",
      details: `[body-too-large] the body exceeds ${limitBytes} bytes`,
    },
    { Connection: "close" },
  );
}

/**
 * What a Prometheus before 3.0 answers to a quoted name, the only way to write a label name
 * outside the legacy classes (`{"service.name"="x"}`): `parse error: unexpected string
 * "\"service.n"... in label matching, expected identifier or "}"`.
 */
const QUOTED_NAME_REFUSED = /unexpected string .{0,60} in label matching, expected identifier/;

/**
 * 400: Prometheus refused the query itself (a PromQL syntax or evaluation error); when it is a
 * Prometheus 2 refusing a quoted UTF-8 name, `utf8-names-unsupported` says so.
 */
export function queryRejected(details: string): MirrorError {
  if (QUOTED_NAME_REFUSED.test(details)) {
    return remote(
      400,
      "utf8-names-unsupported",
      "This Prometheus cannot query UTF-8 label names",
      "a label name outside [a-zA-Z_][a-zA-Z0-9_]* can only be written quoted " +
        '({"service.name"="x"}), which Prometheus 3.0 and later parse and this Prometheus does not; ' +
        `query such series from a Prometheus 3, or ingest with NAME_VALIDATION=legacy. It said: ${echo(details, 200)}`,
    );
  }
  return remote(400, "query-rejected", "Prometheus rejected the query", echo(details, 300));
}

/** A byte count as people read it: `32 MiB`, `1.5 MiB`, `512 KiB`, `900 bytes`. */
export function byteSize(bytes: number): string {
  const units: Array<[number, string]> = [
    [1024 * 1024 * 1024, "GiB"],
    [1024 * 1024, "MiB"],
    [1024, "KiB"],
  ];
  for (const [size, unit] of units) {
    if (bytes >= size) return `${Number((bytes / size).toFixed(1))} ${unit}`;
  }
  return `${bytes} bytes`;
}

/** How to narrow a query whose answer is over the cap, when nothing more specific is known. */
export const NARROW_QUERY =
  "narrow the query: add a label condition so that fewer series match, or ask for a shorter time range or fewer points";

/**
 * 400: Prometheus's answer is larger than the mirror reads (MIRROR_MAX_ANSWER_BYTES). The
 * request as asked cannot be answered; `narrow` says how to ask for less.
 */
export function answerTooLarge(path: string, capBytes: number, narrow: string = NARROW_QUERY): MirrorError {
  return remote(
    400,
    "answer-too-large",
    "Prometheus's answer is too large",
    `Prometheus's answer to ${path} is larger than the ${byteSize(capBytes)} (${capBytes} bytes) this mirror reads (${ENV.mirrorMaxAnswerBytes}); ${narrow}`,
  );
}

/**
 * 400: the conditions of a metric query select more series than the mirror looks at
 * (MIRROR_MAX_SERIES). `differing` names labels whose values differ, with examples.
 */
export function tooManySeries(
  matched: string,
  maxSeries: number,
  when: string,
  differing: string,
): MirrorError {
  const labels = differing === "" ? "" : `, which differ in ${differing}`;
  return remote(
    400,
    "too-many-series",
    "Conditions match too many series",
    `${echo(matched, 300)} matches more than ${maxSeries} series between ${when} (${ENV.mirrorMaxSeries})${labels}; add a condition on one of these labels so that one series matches`,
  );
}

/** 502: Prometheus could not be reached or answered with an error of its own. */
export function storeUnavailable(code: string, details: string): MirrorError {
  return new MirrorError(502, code, { _type: "MetricStoreConnectionError", details: `[${code}] ${details}` });
}

/** 504: Prometheus did not answer within the request timeout. */
export function storeTimeout(details: string): MirrorError {
  return new MirrorError(504, "prometheus-timeout", {
    _type: "MetricStoreConnectionError",
    details: `[prometheus-timeout] ${details}`,
  });
}

/** 503: the mirror's own key could not be read (e.g. the secret is unavailable). */
export function keyUnavailable(): MirrorError {
  return remote(503, "key-unavailable", "Mirror unavailable", "the mirror's API key could not be read");
}

/** 500: a bug; the details say nothing about internals. */
export function internalError(): MirrorError {
  return remote(500, "internal", "Internal error", "the mirror failed unexpectedly; see its logs");
}
