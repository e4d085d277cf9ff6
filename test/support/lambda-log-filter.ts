/**
 * Lambda's application log-level filter for a function with the JSON log format, as AWS
 * documents it (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html),
 * read strictly: a line that is a JSON object with a valid `level` (the values as listed, in
 * upper case) and a valid RFC 3339 `timestamp` has that level; any other line (plain text,
 * JSON without a level, an EMF document) counts as INFO. A line reaches CloudWatch Logs when
 * its level is at least the function's ApplicationLogLevel.
 */
export const LAMBDA_LOG_LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"] as const;
export type LambdaLogLevel = (typeof LAMBDA_LOG_LEVELS)[number];

const RFC3339 = /^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)$/;

/** The level Lambda assigns to one line of a function's output. */
export function lambdaLevelOf(line: string): LambdaLogLevel {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return "INFO";
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return "INFO";
  const { level, timestamp } = parsed as Record<string, unknown>;
  if (typeof timestamp !== "string" || !RFC3339.test(timestamp)) return "INFO";
  return (LAMBDA_LOG_LEVELS as readonly unknown[]).includes(level) ? (level as LambdaLogLevel) : "INFO";
}

/** The lines Lambda sends on to CloudWatch Logs at `applicationLogLevel`, in order. */
export function lambdaLogFilter(lines: readonly string[], applicationLogLevel: string): string[] {
  const min = LAMBDA_LOG_LEVELS.indexOf(applicationLogLevel as LambdaLogLevel);
  if (min < 0) throw new Error(`not an application log level: ${applicationLogLevel}`);
  return lines.filter((line) => LAMBDA_LOG_LEVELS.indexOf(lambdaLevelOf(line)) >= min);
}
