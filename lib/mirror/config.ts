import { type ApiKey, checkDistinctKeys, checkKey, keysFromEnv } from "../core/auth";
import { type Cidr4, parseCidrList } from "../core/cidr";
import { boolVar, ConfigError, intVar, stringVar } from "../core/config";
import { ENV } from "../core/env-names";
import { loadSharedSettings, type SharedSettings } from "../core/settings";
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

export function loadMirrorConfig(env: Record<string, string | undefined>): MirrorConfig {
  const targets = env[ENV.mirrorAllowedTargets];
  const allowAnyTarget = targets === undefined;
  const window = env[ENV.mirrorCounterWindow];
  // whole milliseconds, at most 7 digits
  const maxRequestTimeoutMs = intVar(
    env,
    ENV.mirrorMaxRequestTimeoutMs,
    MIRROR_DEFAULTS.maxRequestTimeoutMs,
    1,
    9_999_999,
  );
  const defaultRequestTimeoutMs = intVar(
    env,
    ENV.mirrorRequestTimeoutMs,
    Math.min(MIRROR_DEFAULTS.defaultRequestTimeoutMs, maxRequestTimeoutMs),
    1,
    9_999_999,
  );
  if (defaultRequestTimeoutMs > maxRequestTimeoutMs) {
    throw new ConfigError(`${ENV.mirrorRequestTimeoutMs}: must not exceed ${ENV.mirrorMaxRequestTimeoutMs}`);
  }
  const rawStatus = env[ENV.mirrorErrorStatus]?.trim().toLowerCase() || "native";
  if (!(ERROR_STATUS_MODES as readonly string[]).includes(rawStatus)) {
    throw new ConfigError(
      `${ENV.mirrorErrorStatus}: expected "native" or "500" (got "${(env[ENV.mirrorErrorStatus] ?? "").slice(0, 20)}")`,
    );
  }
  const keySecretArn = stringVar(env, ENV.mirrorApiKeySecretArn);
  const staticKeys = staticMirrorKeys(env);
  const ingestKeys = keysFromEnv(env);
  if (ingestKeys !== undefined) {
    checkDistinctKeys(
      { variable: env[ENV.apiKeys]?.trim() ? ENV.apiKeys : ENV.apiKey, keys: ingestKeys },
      { variable: ENV.mirrorApiKey, keys: staticKeys },
    );
  }
  return Object.freeze({
    ...loadSharedSettings(env),
    ...(keySecretArn === undefined ? {} : { keySecretArn }),
    staticKeys: Object.freeze(staticKeys),
    errorStatus: rawStatus as ErrorStatusMode,
    ...(env[ENV.awsRegion]?.trim() ? { awsRegion: env[ENV.awsRegion]!.trim() } : {}),
    requireKey: boolVar(env, ENV.mirrorRequireKey, false),
    ...trustedSources(env),
    allowAnyTarget,
    allowedTargets: Object.freeze(
      allowAnyTarget ? [] : parseTargetPatterns(ENV.mirrorAllowedTargets, targets ?? ""),
    ),
    counterWindowMs:
      window === undefined || window.trim() === ""
        ? MIRROR_DEFAULTS.counterWindowMs
        : parseDuration(ENV.mirrorCounterWindow, window),
    defaultRequestTimeoutMs,
    maxRequestTimeoutMs,
    maxAnswerBytes: intVar(
      env,
      ENV.mirrorMaxAnswerBytes,
      MIRROR_DEFAULTS.maxAnswerBytes,
      ANSWER_BYTES_RANGE.min,
      ANSWER_BYTES_RANGE.max,
    ),
    maxSeries: intVar(env, ENV.mirrorMaxSeries, MIRROR_DEFAULTS.maxSeries, 1, 100_000),
  });
}

/** MIRROR_TRUSTED_CIDRS: unset means no source restriction; set but empty trusts no source. */
function trustedSources(env: Record<string, string | undefined>): { trustedSources?: readonly Cidr4[] } {
  const raw = env[ENV.mirrorTrustedCidrs];
  if (raw === undefined) return {};
  return { trustedSources: Object.freeze(parseCidrList(ENV.mirrorTrustedCidrs, raw)) };
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
