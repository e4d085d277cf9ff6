import { ConfigError, type Env, int, readEnv } from "../../lib/core/config";
import { ENV } from "../../lib/core/env-names";

/**
 * The local server's own limits: against slow or too many clients, and between the mirror and
 * ingest, which share one process and one thread. Sized for remote-write senders: Prometheus
 * gives up on a request after `remote_timeout` (30 s by default) and resends it.
 */
export interface LocalServerSettings {
  /** Open connections at most (idle keep-alive ones included); more are closed at once. */
  readonly maxConnections: number;
  /** Time for a request's headers to arrive, from its first byte (408 and close after). */
  readonly headersTimeoutMs: number;
  /** Time for a whole request to arrive, headers and body (408 and close after). */
  readonly requestTimeoutMs: number;
  /** A remote-write body arriving slower than this on average, after the grace, is cut (0: never). */
  readonly minBodyBytesPerSecond: number;
  /** How long a remote-write body may take before its rate is judged. */
  readonly bodyGraceMs: number;
  /** Mirror protocol requests in flight at most; more wait briefly, then 503. */
  readonly mirrorConcurrency: number;
}

export const LOCAL_SERVER_DEFAULTS: LocalServerSettings = Object.freeze({
  // dozens of Prometheus queue shards (max_shards: 50 by default) and vmagents, with room to spare
  maxConnections: 1024,
  // a sender writes its headers in one go; ten seconds is generous for any real one
  headersTimeoutMs: 10_000,
  // twice Prometheus's remote_timeout: a sender that needs longer has given up already
  requestTimeoutMs: 60_000,
  // a 10 MiB body (the largest accepted) at this rate would take hours; real senders are far faster
  minBodyBytesPerSecond: 1024,
  bodyGraceMs: 10_000,
  // StackState asks one query per chart; a few at a time keep ingest's share of the thread
  mirrorConcurrency: 4,
});

/** How many mirror requests may wait for a slot, per slot, and for how long. */
export const MIRROR_QUEUE_PER_SLOT = 8;
export const MIRROR_QUEUE_WAIT_MS = 5_000;
/** `Retry-After` of a mirror request refused for being one too many. */
export const MIRROR_BUSY_RETRY_AFTER_SECONDS = 2;

/**
 * What the local mirror may call without MIRROR_ALLOWED_TARGETS: a Prometheus on this machine
 * on its default port. Anything else is named in MIRROR_ALLOWED_TARGETS (`*` for any target).
 */
export const LOCAL_MIRROR_TARGETS = "127.0.0.1:9090,localhost:9090,[::1]:9090";

/** The local server's variables (docs/ingest.md, "The local server"). */
export const LOCAL_SERVER_ENV = {
  [ENV.localMaxConnections]: int({
    min: 1,
    max: 1_000_000,
    default: LOCAL_SERVER_DEFAULTS.maxConnections,
    doc: "connections open at once, 1 to 1000000",
  }),
  [ENV.localHeadersTimeoutMs]: int({
    min: 1,
    max: 600_000,
    default: LOCAL_SERVER_DEFAULTS.headersTimeoutMs,
    doc: "time for a request's headers, 1 to 600000 ms, at most LOCAL_REQUEST_TIMEOUT_MS",
  }),
  [ENV.localRequestTimeoutMs]: int({
    min: 1,
    max: 3_600_000,
    default: LOCAL_SERVER_DEFAULTS.requestTimeoutMs,
    doc: "time for a whole request, 1 to 3600000 ms",
  }),
  [ENV.localMinBodyBytesPerSecond]: int({
    min: 0,
    max: 1_073_741_824,
    default: LOCAL_SERVER_DEFAULTS.minBodyBytesPerSecond,
    doc: "least average rate of a remote-write body, 0 to 1073741824 bytes/s (0: never cut)",
  }),
  [ENV.localBodyGraceMs]: int({
    min: 1,
    max: 600_000,
    default: LOCAL_SERVER_DEFAULTS.bodyGraceMs,
    doc: "how long a body may take before its rate is judged, 1 to 600000 ms",
  }),
  [ENV.localMirrorConcurrency]: int({
    min: 1,
    max: 1024,
    default: LOCAL_SERVER_DEFAULTS.mirrorConcurrency,
    doc: "mirror queries in progress at once, 1 to 1024",
  }),
} as const;

/** Reads the local server's settings; a malformed value is a ConfigError naming its variable. */
export function loadLocalServerSettings(
  env: Env,
  overrides: Partial<LocalServerSettings> = {},
): LocalServerSettings {
  const v = readEnv(LOCAL_SERVER_ENV, env);
  const settings: LocalServerSettings = {
    maxConnections: v[ENV.localMaxConnections],
    headersTimeoutMs: v[ENV.localHeadersTimeoutMs],
    requestTimeoutMs: v[ENV.localRequestTimeoutMs],
    minBodyBytesPerSecond: v[ENV.localMinBodyBytesPerSecond],
    bodyGraceMs: v[ENV.localBodyGraceMs],
    mirrorConcurrency: v[ENV.localMirrorConcurrency],
    ...overrides,
  };
  if (settings.headersTimeoutMs > settings.requestTimeoutMs) {
    throw new ConfigError(
      `${ENV.localHeadersTimeoutMs}: must not exceed ${ENV.localRequestTimeoutMs} (${settings.requestTimeoutMs})`,
      ENV.localHeadersTimeoutMs,
    );
  }
  return Object.freeze(settings);
}
