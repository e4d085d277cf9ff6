import { type ApiKey, checkDistinctKeys, checkKey, keysFromEnv } from "../core/auth";
import { type Cidr4, cidrList, parseCidr4 } from "../core/cidr";
import { bool, ConfigError, int, oneOf, readEnv, type Settings, text } from "../core/config";
import { ENV } from "../core/env-names";
import { SHARED_ENV, type SharedSettings, sharedFrom } from "../core/settings";
import { DEFAULT_MAX_ANSWER_BYTES } from "./prometheus-client";
import { parseTargetPatterns, type TargetPattern } from "./targets";

/** The mirror's configuration, read once at cold start. */
export interface MirrorConfig extends SharedSettings {
  /** MIRROR_API_KEY_SECRET_ARN: the mirror's key in Secrets Manager (else the static keys). */
  readonly keySecretArn?: string;
  /** MIRROR_API_KEY: the static key (empty when unset); never the ingest key. */
  readonly staticKeys: readonly ApiKey[];
  /** MIRROR_REQUIRE_KEY: refuse requests that do not present a valid key (401). */
  readonly requireKey: boolean;
  /**
   * MIRROR_TRUSTED_CIDRS: without MIRROR_REQUIRE_KEY, a caller that presents no key is trusted
   * (answered, and handed the key) only from these source addresses; unset: from any source.
   * Callers that present the key are trusted from anywhere.
   */
  readonly trustedSources?: readonly Cidr4[];
  /** True when MIRROR_ALLOWED_TARGETS is unset: any Prometheus may be named (warn about it). */
  readonly allowAnyTarget: boolean;
  /** The parsed MIRROR_ALLOWED_TARGETS (empty when allowAnyTarget). */
  readonly allowedTargets: readonly TargetPattern[];
  /** MIRROR_COUNTER_WINDOW: the least window of `rate()` for `__counter__` (default 1m). */
  readonly counterWindowMs: number;
  /** MIRROR_REQUEST_TIMEOUT_MS: timeout of each Prometheus call when connection details set none. */
  readonly defaultRequestTimeoutMs: number;
  /** MIRROR_MAX_REQUEST_TIMEOUT_MS: a connection details' requestTimeout is capped at this. */
  readonly maxRequestTimeoutMs: number;
  /**
   * MIRROR_ERROR_STATUS: `native` (default) answers error objects with 400/403/404/413/502/504;
   * `500` answers every error object of the four endpoints with HTTP 500, as other mirrors do.
   */
  readonly errorStatus: ErrorStatusMode;
  /** MIRROR_MAX_ANSWER_BYTES: the most bytes of one Prometheus answer that are read. */
  readonly maxAnswerBytes: number;
  /** MIRROR_MAX_SERIES: the most series a metric query's conditions may match. */
  readonly maxSeries: number;
  /** AWS_REGION: the signing region for Amazon Managed Prometheus when neither details nor URL give one. */
  readonly awsRegion?: string;
}

export const ERROR_STATUS_MODES = ["native", "500"] as const;
export type ErrorStatusMode = (typeof ERROR_STATUS_MODES)[number];

export const MIRROR_DEFAULTS = {
  counterWindowMs: 60_000,
  defaultRequestTimeoutMs: 20_000,
  maxRequestTimeoutMs: 28_000,
  maxAnswerBytes: DEFAULT_MAX_ANSWER_BYTES,
  /**
   * One series is what a metric query answers; up to this many, Prometheus is asked and the
   * answer names how the series differ. 50 series of the most points a query asks for (11,000)
   * stay within the default answer cap at Prometheus's usual 20 to 30 bytes a point.
   */
  maxSeries: 50,
} as const;

/** Bounds of MIRROR_MAX_ANSWER_BYTES. */
export const ANSWER_BYTES_RANGE = { min: 64 * 1024, max: 1024 * 1024 * 1024 } as const;

/**
 * What reading an answer costs a function, measured (docs/performance.md, `npm run bench` part
 * 6): at the peak of reading and parsing N bytes of a Prometheus answer the process's resident
 * memory grows by about `rssPerAnswerByte` × N (the bytes, the text, the parsed JSON and the
 * series), beside the `baseMb` it holds anyway. A Lambda function serves one request at a time and
 * reads one answer at a time.
 */
export const ANSWER_MEMORY = {
  /** Measured: 7.5 to 8.3 times the answer's size at the peak. */
  rssPerAnswerByte: 9,
  /** Measured: about 90 MB before the first request. */
  baseMb: 96,
  /** The share of the function's memory that may be used, the rest left to the runtime. */
  share: 0.9,
} as const;

/** The largest MIRROR_MAX_ANSWER_BYTES a function of `memoryMb` holds (ANSWER_MEMORY). */
export function maxAnswerBytesFor(memoryMb: number): number {
  const { rssPerAnswerByte, baseMb, share } = ANSWER_MEMORY;
  const room = (memoryMb * share - baseMb) * 1024 * 1024;
  return Math.max(0, Math.floor(room / rssPerAnswerByte));
}

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** Parses a Prometheus-style duration (`1m`, `90s`, `1m30s`, `500ms`) into milliseconds. */
export function parseDuration(variable: string, raw: string): number {
  const text = raw.trim();
  const re = /(\d+)(ms|s|m|h|d|w)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    matched = re.lastIndex;
  }
  if (text === "" || matched !== text.length || total <= 0) {
    throw new ConfigError(
      `${variable}: expected a duration such as 1m, 90s or 1m30s (got "${text.slice(0, 20)}")`,
    );
  }
  return total;
}

/** MIRROR_MAX_ANSWER_BYTES: the most bytes of one Prometheus answer read (the stack's `mirrorMaxAnswerBytes`). */
export const MAX_ANSWER_BYTES = int({
  min: ANSWER_BYTES_RANGE.min,
  max: ANSWER_BYTES_RANGE.max,
  default: MIRROR_DEFAULTS.maxAnswerBytes,
  doc: "the most bytes of one Prometheus answer the mirror reads, 65536 to 1073741824",
});
/** MIRROR_MAX_SERIES (the stack's `mirrorMaxSeries`). */
export const MAX_SERIES = int({
  min: 1,
  max: 100_000,
  default: MIRROR_DEFAULTS.maxSeries,
  doc: "the most series a metric query's conditions may match before it is refused, 1 to 100000",
});
/** MIRROR_REQUIRE_KEY (the stack's `mirrorRequireKey`). */
export const REQUIRE_KEY = bool({
  default: false,
  doc: "`true`: refuse requests that do not present the key (401)",
});
/** MIRROR_ERROR_STATUS (the stack's `mirrorErrorStatus`). */
export const ERROR_STATUS = oneOf(ERROR_STATUS_MODES, {
  default: "native",
  caseless: true,
  doc: "`native`: error objects with 400/403/404/413/502/504; `500`: every error object with HTTP 500",
});
const TIMEOUT_MS = { min: 1, max: 9_999_999 } as const; // whole milliseconds, at most 7 digits

/** The mirror function's environment: one setting per variable (docs/mirror.md). */
export const MIRROR_ENV = {
  ...SHARED_ENV,
  [ENV.mirrorApiKeySecretArn]: text({ default: undefined, doc: "Secrets Manager secret holding the key" }),
  [ENV.mirrorRequireKey]: REQUIRE_KEY,
  [ENV.mirrorTrustedCidrs]: {
    ...cidrList({ doc: "callers trusted without a key; unset: any, empty: none", blankIsSet: true }),
    default: undefined,
  },
  [ENV.mirrorAllowedTargets]: text({
    default: undefined,
    doc: "comma-separated host:port patterns and URL prefixes of allowed targets; unset: any",
    blankIsSet: true,
  }),
  [ENV.mirrorErrorStatus]: ERROR_STATUS,
  [ENV.awsRegion]: text({ default: undefined, doc: "signing region for AMP" }),
  [ENV.mirrorCounterWindow]: text({ default: "1m", doc: "least `rate()` window for `__counter__`" }),
  [ENV.mirrorRequestTimeoutMs]: int({
    ...TIMEOUT_MS,
    default: undefined,
    doc: "timeout of each Prometheus call when the connection details set none (20000, at most the cap)",
  }),
  [ENV.mirrorMaxRequestTimeoutMs]: int({
    ...TIMEOUT_MS,
    default: MIRROR_DEFAULTS.maxRequestTimeoutMs,
    doc: "cap on the request timeout of each Prometheus call",
  }),
  [ENV.mirrorMaxAnswerBytes]: MAX_ANSWER_BYTES,
  [ENV.mirrorMaxSeries]: MAX_SERIES,
} as const satisfies Settings;

export function loadMirrorConfig(env: Record<string, string | undefined>): MirrorConfig {
  const v = readEnv(MIRROR_ENV, env);
  const maxRequestTimeoutMs = v[ENV.mirrorMaxRequestTimeoutMs];
  const defaultRequestTimeoutMs =
    v[ENV.mirrorRequestTimeoutMs] ?? Math.min(MIRROR_DEFAULTS.defaultRequestTimeoutMs, maxRequestTimeoutMs);
  if (defaultRequestTimeoutMs > maxRequestTimeoutMs) {
    throw new ConfigError(
      `${ENV.mirrorRequestTimeoutMs}: must not exceed ${ENV.mirrorMaxRequestTimeoutMs}`,
      ENV.mirrorRequestTimeoutMs,
    );
  }
  const keySecretArn = v[ENV.mirrorApiKeySecretArn];
  const staticKeys = staticMirrorKeys(env);
  const ingestKeys = keysFromEnv(env);
  if (ingestKeys !== undefined) {
    checkDistinctKeys(
      { variable: env[ENV.apiKeys]?.trim() ? ENV.apiKeys : ENV.apiKey, keys: ingestKeys },
      { variable: ENV.mirrorApiKey, keys: staticKeys },
    );
  }
  const targets = v[ENV.mirrorAllowedTargets];
  const trusted = v[ENV.mirrorTrustedCidrs];
  const awsRegion = v[ENV.awsRegion];
  return Object.freeze({
    ...sharedFrom(v),
    ...(keySecretArn === undefined ? {} : { keySecretArn }),
    staticKeys: Object.freeze(staticKeys),
    errorStatus: v[ENV.mirrorErrorStatus],
    ...(awsRegion === undefined ? {} : { awsRegion }),
    requireKey: v[ENV.mirrorRequireKey],
    // unset: no source restriction; set but empty: no source is trusted
    ...(trusted === undefined
      ? {}
      : { trustedSources: Object.freeze(trusted.map((c) => parseCidr4(ENV.mirrorTrustedCidrs, c))) }),
    allowAnyTarget: targets === undefined,
    allowedTargets: Object.freeze(
      targets === undefined ? [] : parseTargetPatterns(ENV.mirrorAllowedTargets, targets),
    ),
    counterWindowMs: parseDuration(ENV.mirrorCounterWindow, v[ENV.mirrorCounterWindow]),
    defaultRequestTimeoutMs,
    maxRequestTimeoutMs,
    maxAnswerBytes: v[ENV.mirrorMaxAnswerBytes],
    maxSeries: v[ENV.mirrorMaxSeries],
  });
}

/**
 * The mirror's key from plain environment variables: MIRROR_API_KEY, and never API_KEY (the
 * mirror announces its key; the ingest key must not be announced). Empty when unset (the
 * caller decides whether that is fatal); a key that is not header-safe is a ConfigError.
 */
export function staticMirrorKeys(env: Record<string, string | undefined>): ApiKey[] {
  const value = env[ENV.mirrorApiKey]?.trim();
  return value === undefined || value === "" ? [] : [{ key: checkKey(ENV.mirrorApiKey, value) }];
}
