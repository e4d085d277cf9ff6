import { int, text, type ValuesOf, within } from "../../lib/core/config";
import { LOG_LEVEL, type LogLevel } from "../../lib/core/log";
import { EMAIL } from "../../lib/core/patterns";
import { KEY_CACHE_SECONDS, METRICS_NAMESPACE } from "../../lib/core/settings";

/** Alarms, logs and metrics: the settings every function shares, and where alarms go. */

/** Log retention values CloudWatch Logs accepts, in days. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

export const OBSERVABILITY_KEYS = {
  alarmEmail: text({
    default: undefined,
    doc: "email subscribed to an SNS topic that receives every alarm",
    problem: (email) => (EMAIL.test(email) ? undefined : "not an email address"),
  }),
  logRetentionDays: int({
    min: 1,
    max: 3653,
    allowed: LOG_RETENTION_DAYS,
    default: 30,
    doc: "retention of function, access and flow logs, days: one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653 (what CloudWatch Logs accepts)",
  }),
  // LOG_LEVEL, METRICS_NAMESPACE and KEY_CACHE_SECONDS of every function
  logLevel: {
    ...LOG_LEVEL,
    doc: "`LOG_LEVEL` of every function: debug, info, warn, error (either case); metrics are kept at every level ([operations.md](operations.md#log-levels))",
  },
  metricsNamespace: { ...METRICS_NAMESPACE, doc: "CloudWatch namespace of the functions' metrics" },
  keyCacheSeconds: within(KEY_CACHE_SECONDS, {
    min: 1,
    max: 3600,
    default: 60,
    doc: "how long the functions cache keys read from Secrets Manager, s, 1 to 3600",
  }),
} as const;

export interface Observability {
  readonly alarmEmail?: string;
  readonly logRetentionDays: number;
  readonly logLevel: LogLevel;
  readonly metricsNamespace: string;
  readonly keyCacheSeconds: number;
}

export function observability(v: ValuesOf<typeof OBSERVABILITY_KEYS>): Observability {
  const { alarmEmail, logRetentionDays, logLevel, metricsNamespace, keyCacheSeconds } = v;
  return { alarmEmail, logRetentionDays, logLevel, metricsNamespace, keyCacheSeconds };
}
