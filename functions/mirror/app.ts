import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import {
  type AwsCredentialSource,
  CredentialsUnavailableError,
  sharedCredentialSource,
} from "../../lib/aws/credentials";
import { sigv4Signer } from "../../lib/aws/sigv4";
import { type ApiKey, isHeaderSafeKey, type KeySource, matchKey, presentedKey } from "../../lib/core/auth";
import { inRanges } from "../../lib/core/cidr";
import { HttpError } from "../../lib/core/errors";
import type { Logger } from "../../lib/core/log";
import { METRIC_DIMENSIONS, METRIC_NAMES } from "../../lib/core/metric-names";
import type { Metrics } from "../../lib/core/metrics";
import {
  HEALTHCHECK_PATH,
  MIRROR_API_PREFIX,
  MIRROR_METHOD_PATHS,
  MIRROR_PATHS,
} from "../../lib/core/routes";
import { awsSettings } from "../../lib/mirror/aws-settings";
import type { MirrorConfig } from "../../lib/mirror/config";
import { testConnection } from "../../lib/mirror/connection";
import {
  badRequest,
  credentialsUnavailable,
  internalError,
  keyUnavailable,
  MirrorError,
  methodNotAllowed,
  payloadTooLarge,
  routeNotFound,
  unauthorized,
} from "../../lib/mirror/errors";
import { fieldNames, fieldValues } from "../../lib/mirror/fields";
import { queryMetrics } from "../../lib/mirror/metrics-query";
import { PrometheusClient } from "../../lib/mirror/prometheus-client";
import {
  type ConnectionDetails,
  FieldNamesRequestSchema,
  FieldValuesRequestSchema,
  MetricsRequestSchema,
  parseRequest,
  TestConnectionRequestSchema,
} from "../../lib/mirror/protocol";
import { resolveTarget } from "../../lib/mirror/targets";

/** The header StackState verifies the mirror by (and that a caller may present a key in). */
export const MIRROR_KEY_HEADER = "X-MIRROR-API-KEY";
export const MAX_MIRROR_BODY_BYTES = 1024 * 1024;

export interface MirrorAppOptions {
  config: MirrorConfig;
  keys: KeySource;
  log: Logger;
  metrics?: Metrics;
  fetch?: typeof fetch;
  /** Where credentials for Amazon Managed Prometheus come from (default: shared by the process). */
  awsCredentials?: AwsCredentialSource;
  /**
   * The caller's source address as the front saw it (API Gateway's `sourceIp`), checked against
   * MIRROR_TRUSTED_CIDRS; never a header a caller could set. Absent: no address is known.
   */
  sourceAddress?: (c: Context) => string | undefined;
}

/** Statuses that keep their meaning in MIRROR_ERROR_STATUS=500 mode: not answers of the protocol. */
const HTTP_LEVEL_CODES = new Set([
  "unauthorized",
  "key-unavailable",
  "route-not-found",
  "method-not-allowed",
]);

/**
 * 503 for a key that was read but cannot be sent as a header value (a secret put by hand with
 * characters outside printable ASCII): answered without the header instead of failing each
 * answer with a 500.
 */
function keyNotSendable(): MirrorError {
  return new MirrorError(503, "key-unavailable", {
    _type: "RemoteMirrorError",
    summary: "Mirror unavailable",
    details: "[key-unavailable] the mirror's API key cannot be sent in a header (it must be printable ASCII)",
  });
}

/** Whether a request is one of the protocol's four methods: only their answers carry the key. */
export function isProtocolCall(method: string, path: string): boolean {
  return method === "POST" && (MIRROR_METHOD_PATHS as readonly string[]).includes(path);
}

/**
 * The StackState telemetry mirror answered from Prometheus: four POST endpoints under /api.
 * The answers of those four carry the mirror key in X-MIRROR-API-KEY (StackState compares it
 * there), errors included, except 401 (the caller is not trusted) and 503 (the key itself is
 * unavailable). Nothing else carries it: not unknown /api paths, other methods, or health.
 * A caller that presents no key is trusted only as MIRROR_REQUIRE_KEY and MIRROR_TRUSTED_CIDRS
 * allow; an untrusted caller is answered 401, without the key.
 */
export function createMirrorApp(options: MirrorAppOptions): Hono {
  const { config, keys, log, metrics } = options;
  const fetchImpl = options.fetch ?? fetch;
  const app = new Hono();
  // The reason code of a request's error, for the log line and the error metric.
  const reasons = new WeakMap<Request, string>();

  const credentials = options.awsCredentials ?? sharedCredentialSource;
  /**
   * A caller without a key: refused with MIRROR_REQUIRE_KEY; else trusted from any source, or,
   * with MIRROR_TRUSTED_CIDRS, only from those addresses (StackState's), so the key is never
   * handed to a caller the network does not vouch for.
   */
  const trustedWithoutKey = (c: Context): boolean => {
    if (config.requireKey) return false;
    if (config.trustedSources === undefined) return true;
    return inRanges(options.sourceAddress?.(c), config.trustedSources);
  };
  // An unsendable key is logged once (until a sendable one is seen), not on every request.
  let unsendableLogged = false;

  const clientFor = (details: ConnectionDetails) => {
    const target = resolveTarget(details, config.allowAnyTarget ? undefined : config.allowedTargets);
    const asked =
      details.request_timeout_seconds !== undefined
        ? details.request_timeout_seconds * 1000
        : details.requestTimeout;
    const timeoutMs = Math.max(
      1,
      Math.round(Math.min(asked ?? config.defaultRequestTimeoutMs, config.maxRequestTimeoutMs)),
    );
    const aws = details.aws ?? undefined;
    const bounds = { fetch: fetchImpl, maxAnswerBytes: config.maxAnswerBytes };
    // Prometheus ignores a `limit` it does not know (before 2.51); what AMP does with one is not documented
    if (aws === undefined) return new PrometheusClient(target, timeoutMs, { ...bounds, sendLimits: true });
    const settings = awsSettings(aws, target.host, config.awsRegion);
    return new PrometheusClient(target, timeoutMs, {
      ...bounds,
      signer: sigv4Signer(() => credentials.credentials(settings).catch(asStoreError), settings.region),
      health: "query-api",
    });
  };

  /** `nan_interpretation`, defaulting to ZERO in the url dialect and to leaving NaN out otherwise. */
  const nanAsZero = (details: ConnectionDetails) =>
    (details.nan_interpretation ?? (details.url !== undefined ? "ZERO" : "NONE")) === "ZERO";

  const errorResponse = (c: Context, err: unknown): Response => {
    const error = asMirrorError(err, log);
    reasons.set(c.req.raw, error.code);
    const status = config.errorStatus === "500" && !HTTP_LEVEL_CODES.has(error.code) ? 500 : error.status;
    return c.json(error.body, status as 400, error.headers);
  };

  // Unauthenticated liveness answers for load balancers and uptime checks (no key, no Prometheus call).
  const alive = (c: Context) => c.json({ status: "OK" });
  app.get(HEALTHCHECK_PATH, alive);
  app.get("/", alive);

  // Scoped to /api so that, mounted at the root of the local server, it leaves other routes alone.
  app.use(MIRROR_API_PREFIX, async (c, next) => {
    const started = Date.now();
    let announce: string | undefined;
    try {
      let valid: readonly ApiKey[];
      try {
        valid = await keys.keys();
      } catch {
        throw keyUnavailable();
      }
      const presented = presentedKey((name) => c.req.header(name), [MIRROR_KEY_HEADER]);
      const trusted =
        presented === undefined ? trustedWithoutKey(c) : matchKey(presented, valid) !== undefined;
      if (!trusted) throw unauthorized();
      if (isProtocolCall(c.req.method, c.req.path)) {
        const key = valid[0]?.key;
        if (key === undefined) throw keyUnavailable();
        if (!isHeaderSafeKey(key)) {
          if (!unsendableLogged) log.error("mirror key cannot be sent in a header: not printable ASCII");
          unsendableLogged = true;
          throw keyNotSendable();
        }
        unsendableLogged = false;
        announce = key;
        // on the context, so every response built from it (answers, errors, 500s) carries the key
        c.header(MIRROR_KEY_HEADER, announce);
      }
      await next();
    } catch (err) {
      c.res = errorResponse(c, err);
    }
    if (announce !== undefined) c.res.headers.set(MIRROR_KEY_HEADER, announce);
    const reason = reasons.get(c.req.raw);
    const fields = { path: c.req.path, status: c.res.status, ms: Date.now() - started, reason };
    if (c.res.status >= 500) log.warn("mirror request failed", fields);
    else log.info("mirror request", fields);
    if (metrics !== undefined) {
      metrics.count(METRIC_NAMES.mirrorRequests, 1, {
        name: METRIC_DIMENSIONS.endpoint,
        value: endpointName(c.req.path),
      });
      if (reason !== undefined)
        metrics.count(METRIC_NAMES.mirrorErrors, 1, { name: METRIC_DIMENSIONS.reason, value: reason });
    }
  });

  const limit = bodyLimit({
    maxSize: MAX_MIRROR_BODY_BYTES,
    onError: () => {
      throw payloadTooLarge(MAX_MIRROR_BODY_BYTES);
    },
  });

  app.post(MIRROR_PATHS.connection, limit, async (c) => {
    const req = parseRequest(TestConnectionRequestSchema, await jsonBody(c), "TestConnectionRequest");
    const { response, failure, version } = await testConnection(clientFor(req.connectionDetails));
    if (failure !== undefined) reasons.set(c.req.raw, failure.code);
    log.debug("connection test", { status: response.status, version });
    return c.json(response);
  });

  app.post(MIRROR_PATHS.fieldName, limit, async (c) => {
    const req = parseRequest(FieldNamesRequestSchema, await jsonBody(c), "FieldNamesRequest");
    const result = await fieldNames(req.query, clientFor(req.connectionDetails));
    return c.json({ _type: "FieldNamesResponse", isPartial: result.isPartial, fields: result.items });
  });

  app.post(MIRROR_PATHS.fieldValue, limit, async (c) => {
    const req = parseRequest(FieldValuesRequestSchema, await jsonBody(c), "FieldValuesRequest");
    const result = await fieldValues(req.query, clientFor(req.connectionDetails));
    return c.json({ _type: "FieldValuesResponse", isPartial: result.isPartial, values: result.items });
  });

  app.post(MIRROR_PATHS.metric, limit, async (c) => {
    const req = parseRequest(MetricsRequestSchema, await jsonBody(c), "MetricsRequest");
    const telemetry = await queryMetrics(req.query, {
      client: clientFor(req.connectionDetails),
      counterWindowMs: config.counterWindowMs,
      nanAsZero: nanAsZero(req.connectionDetails),
      maxSeries: config.maxSeries,
    });
    return c.json({ _type: "MetricsResponse", telemetry });
  });

  for (const path of MIRROR_METHOD_PATHS) {
    app.all(path, (c) => {
      throw methodNotAllowed(c.req.method);
    });
  }
  app.notFound((c) => errorResponse(c, routeNotFound(c.req.path)));
  app.onError((err, c) => errorResponse(c, err));
  return app;
}

async function jsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest("json-invalid", "Malformed request", "the body is not valid JSON");
  }
}

function endpointName(path: string): string {
  return (MIRROR_METHOD_PATHS as readonly string[]).includes(path) ? path : "other";
}

/**
 * The credential source's failure as the protocol's error for a store the mirror cannot
 * reach; anything else as it is. Mapped where the signer asks for credentials, so a test of
 * the connection reports it in its FAILURE answer as any other store error.
 */
export function asStoreError(err: unknown): never {
  if (err instanceof CredentialsUnavailableError) throw credentialsUnavailable(err.code, err.message);
  throw err;
}

/** Mirror errors as they are; other HTTP errors keep their status; anything else is a 500. */
function asMirrorError(err: unknown, log: Logger): MirrorError {
  if (err instanceof MirrorError) return err;
  if (err instanceof HttpError) {
    return new MirrorError(err.status, err.code, {
      _type: "RemoteMirrorError",
      summary: "Request failed",
      details: `[${err.code}] ${err.message}`,
    });
  }
  const e = err instanceof Error ? err : new Error(String(err));
  log.error("mirror bug", { error: e.name, message: e.message, stack: e.stack });
  return internalError();
}
