import { type Env, intVar, stringVar } from "./config";
import { ENV } from "./env-names";
import { type LogLevel, parseLogLevel } from "./log";
import { DEFAULT_METRICS_NAMESPACE } from "./metric-names";

/** Defaults of the settings every function reads. */
export const SHARED_DEFAULTS = Object.freeze({
  /** How long keys read from Secrets Manager are cached, seconds (0: read on every use). */
  keyCacheSeconds: 300,
  keyCacheSecondsMax: 86_400,
  logLevel: "info" as LogLevel,
  metricsNamespace: DEFAULT_METRICS_NAMESPACE,
});

/** The settings every function reads the same way: log level, metrics namespace, key cache. */
export interface SharedSettings {
  readonly logLevel: LogLevel;
  readonly metricsNamespace: string;
  readonly keyCacheSeconds: number;
}

/** Reads the shared settings; a malformed value throws a ConfigError naming its variable. */
export function loadSharedSettings(env: Env): SharedSettings {
  return {
    logLevel: parseLogLevel(stringVar(env, ENV.logLevel)),
    metricsNamespace: stringVar(env, ENV.metricsNamespace) ?? SHARED_DEFAULTS.metricsNamespace,
    keyCacheSeconds: intVar(
      env,
      ENV.keyCacheSeconds,
      SHARED_DEFAULTS.keyCacheSeconds,
      0,
      SHARED_DEFAULTS.keyCacheSecondsMax,
    ),
  };
}
