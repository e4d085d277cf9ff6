/**
 * The HTTP paths the gateway answers, declared once for the apps, the API Gateway routes
 * in infra/, the tools and the tests.
 */

/** StackState's receiver path (the stack's output URL uses it). */
export const RECEIVER_PATH = "/receiver/prometheus/api/v1/write";

/** The path Prometheus is usually pointed at. */
export const REMOTE_WRITE_PATH = "/api/v1/write";

/** Both remote-write paths; same behaviour on each. */
export const REMOTE_WRITE_PATHS = [RECEIVER_PATH, REMOTE_WRITE_PATH] as const;

/** The four methods of the telemetry mirror protocol, all POST. */
export const MIRROR_PATHS = {
  connection: "/api/connection",
  fieldName: "/api/field/name",
  fieldValue: "/api/field/value",
  metric: "/api/metric",
} as const;

export type MirrorPath = (typeof MIRROR_PATHS)[keyof typeof MIRROR_PATHS];

/** The mirror's methods as a list (the API Gateway resources, the Endpoint metric dimension). */
export const MIRROR_METHOD_PATHS: readonly MirrorPath[] = Object.values(MIRROR_PATHS);

/** The prefix every mirror method lives under (the mirror's middleware is scoped to it). */
export const MIRROR_API_PREFIX = "/api/*";

/** Unauthenticated liveness answer of the mirror (also answered at "/"). */
export const HEALTHCHECK_PATH = "/healthcheck";

/** The local server's own liveness answer (`npm start`). */
export const LOCAL_HEALTH_PATH = "/healthz";

/** The local server's metrics in Prometheus's text format. */
export const METRICS_PATH = "/metrics";
