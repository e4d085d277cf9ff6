/**
 * Structured JSON logs, one object per line (CloudWatch Logs and `jq` read them as is).
 * Nothing here ever receives a key: callers pass reasons and counts, not credentials.
 *
 * Each line carries `level` spelt as Lambda's log-level filter reads it (`DEBUG`, `INFO`,
 * `WARN`, `ERROR`) and an RFC 3339 `timestamp` (without one, Lambda ignores the level).
 * The configured level (`LOG_LEVEL`) is written in lower case and read in either case.
 */
import { oneOf, readSetting } from "./config";
import { ENV } from "./env-names";

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
/** The `level` of a line, as Lambda's JSON log filter reads it. */
const WRITTEN: Record<LogLevel, string> = { debug: "DEBUG", info: "INFO", warn: "WARN", error: "ERROR" };

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** LOG_LEVEL: the least level written; read in either case, kept in lower case. */
export const LOG_LEVEL = oneOf(LOG_LEVELS, {
  default: "info",
  caseless: true,
  doc: "`debug`, `info`, `warn`, `error`, either case",
});

export function parseLogLevel(raw: string | undefined): LogLevel {
  return readSetting(LOG_LEVEL, raw, ENV.logLevel);
}

export function createLogger(
  level: LogLevel = "info",
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  base: Record<string, unknown> = {},
): Logger {
  const min = ORDER[level];
  const emit = (lvl: LogLevel, message: string, fields?: Record<string, unknown>) => {
    if (ORDER[lvl] < min) return;
    write(
      JSON.stringify({
        level: WRITTEN[lvl],
        timestamp: new Date().toISOString(),
        msg: message,
        ...base,
        ...fields,
      }),
    );
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}

/** A logger that drops everything (tests, benchmarks). */
export const silentLogger: Logger = createLogger("error", () => {});

/**
 * An error as a log field or a reason in an answer: its name (an AWS error code, `TimeoutError`),
 * or for a plain Error its message cut to `max` characters; `unknown` for anything else.
 */
export function errorLabel(err: unknown, max: number, unknown: string): string {
  if (err instanceof Error) return err.name === "Error" ? err.message.slice(0, max) : err.name;
  return unknown;
}
