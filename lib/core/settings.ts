import { type Env, int, readEnv, text, type ValuesOf } from "./config";
import { ENV } from "./env-names";
import { LOG_LEVEL, type LogLevel } from "./log";
import { DEFAULT_METRICS_NAMESPACE } from "./metric-names";
import { METRICS_NAMESPACE as NAMESPACE_FORM } from "./patterns";

/** KEY_CACHE_SECONDS: how long keys read from Secrets Manager are cached (0: read on every use). */
export const KEY_CACHE_SECONDS = int({
  min: 0,
  max: 86_400,
  default: 300,
  doc: "how long keys read from Secrets Manager are cached, 0 to 86400 s",
});

/** METRICS_NAMESPACE: the CloudWatch namespace of the EMF metrics. */
export const METRICS_NAMESPACE = text({
  default: DEFAULT_METRICS_NAMESPACE,
  doc: "CloudWatch namespace of the EMF metrics",
  pattern: NAMESPACE_FORM,
  expected: "a namespace of letters, digits and . _ - / # :, not starting with AWS/",
});

/** The settings every function reads the same way: log level, metrics namespace, key cache. */
export const SHARED_ENV = {
  [ENV.logLevel]: LOG_LEVEL,
  [ENV.metricsNamespace]: METRICS_NAMESPACE,
  [ENV.keyCacheSeconds]: KEY_CACHE_SECONDS,
} as const;

/** Defaults of the settings every function reads. */
export const SHARED_DEFAULTS = Object.freeze({
  keyCacheSeconds: KEY_CACHE_SECONDS.default,
  keyCacheSecondsMax: KEY_CACHE_SECONDS.range![1],
  logLevel: LOG_LEVEL.default as LogLevel,
  metricsNamespace: METRICS_NAMESPACE.default,
});

export interface SharedSettings {
  readonly logLevel: LogLevel;
  readonly metricsNamespace: string;
  readonly keyCacheSeconds: number;
}

/** Reads the shared settings; a malformed value throws a ConfigError naming its variable. */
export function loadSharedSettings(env: Env): SharedSettings {
  return sharedFrom(readEnv(SHARED_ENV, env));
}

/** The shared settings out of values read with SHARED_ENV among a function's own. */
export function sharedFrom(v: ValuesOf<typeof SHARED_ENV>): SharedSettings {
  return {
    logLevel: v[ENV.logLevel],
    metricsNamespace: v[ENV.metricsNamespace],
    keyCacheSeconds: v[ENV.keyCacheSeconds],
  };
}
