/**
 * The counters of lib/core/metric-names.ts kept in memory and written in the Prometheus text
 * exposition format (version 0.0.4), for the local server's /metrics. The functions count
 * through the same `Metrics` calls as on AWS, by EMF name; each counter's Prometheus name,
 * help and label come from METRIC_CATALOGUE, so the two cannot drift apart.
 *
 * Bounded: a label takes only the values of its fixed list (anything else is counted under
 * `other`), so no client can grow the answer.
 */
import {
  METRIC_CATALOGUE,
  METRIC_NAMES,
  type MetricKey,
  OTHER_LABEL_VALUE,
  prometheusLabel,
  prometheusName,
  REQUEST_DURATION,
} from "./metric-names";
import type { Metrics } from "./metrics";

/** The Content-Type of the text format, as Prometheus's own client libraries send it. */
export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

interface CounterFamily {
  readonly name: string;
  readonly help: string;
  /** The Prometheus label, and the values it may take. */
  readonly label?: { readonly name: string; readonly allowed: ReadonlySet<string> };
  /** By label value ("" without a label). */
  readonly values: Map<string, number>;
}

interface HistogramSeries {
  readonly labels: readonly string[];
  /** Per bucket, the observations up to its bound (not yet cumulative). */
  readonly counts: number[];
  sum: number;
  count: number;
}

export type RequestRoute = (typeof REQUEST_DURATION.labels.route)[number];
export type RequestOutcome = (typeof REQUEST_DURATION.labels.outcome)[number];

const ROUTES: ReadonlySet<string> = new Set(REQUEST_DURATION.labels.route);

/** The route label of a request path: the path when it is one of the fixed routes, else `other`. */
export function routeOf(path: string): RequestRoute {
  return (ROUTES.has(path) ? path : OTHER_LABEL_VALUE) as RequestRoute;
}

/** The outcome label of an answered request's status. */
export function outcomeOf(status: number): RequestOutcome {
  if (status >= 500) return "5xx";
  if (status >= 400) return "4xx";
  if (status >= 300) return "3xx";
  return "2xx";
}

export class MetricsRegistry {
  private readonly counters: CounterFamily[] = [];
  private readonly byEmfName = new Map<string, CounterFamily>();
  private readonly durations = new Map<string, HistogramSeries>();

  constructor() {
    for (const key of Object.keys(METRIC_CATALOGUE) as MetricKey[]) {
      const spec = METRIC_CATALOGUE[key];
      const emfName = METRIC_NAMES[key];
      const family: CounterFamily = {
        name: prometheusName(emfName),
        help: spec.help,
        ...(spec.by
          ? { label: { name: prometheusLabel(spec.by.dimension), allowed: new Set(spec.by.values) } }
          : {}),
        values: new Map(),
      };
      // every series of a fixed list from the start, so a rate sees its first increase
      if (family.label) for (const v of family.label.allowed) family.values.set(v, 0);
      else family.values.set("", 0);
      this.counters.push(family);
      this.byEmfName.set(emfName, family);
    }
  }

  /** Adds to the counter of an EMF name; unknown names and values that are not a positive count are ignored. */
  count(name: string, value = 1, dimension?: { name: string; value: string }): void {
    const family = this.byEmfName.get(name);
    if (family === undefined || !(value > 0) || !Number.isFinite(value)) return;
    let key = "";
    if (family.label) {
      key =
        dimension !== undefined && family.label.allowed.has(dimension.value)
          ? dimension.value
          : OTHER_LABEL_VALUE;
    }
    family.values.set(key, (family.values.get(key) ?? 0) + value);
  }

  /** A `Metrics` counting into this registry; `flush` has nothing to write. */
  metrics(): Metrics {
    return { count: (name, value, dimension) => this.count(name, value, dimension), flush() {} };
  }

  /** One request's time from arrival to answer, in seconds. */
  observeRequest(route: RequestRoute, outcome: RequestOutcome, seconds: number): void {
    if (!Number.isFinite(seconds) || seconds < 0) return;
    const labels = [ROUTES.has(route) ? route : OTHER_LABEL_VALUE, outcome];
    const key = labels.join("\u0000");
    let series = this.durations.get(key);
    if (series === undefined) {
      series = { labels, counts: REQUEST_DURATION.buckets.map(() => 0), sum: 0, count: 0 };
      this.durations.set(key, series);
    }
    const bucket = REQUEST_DURATION.buckets.findIndex((bound) => seconds <= bound);
    if (bucket >= 0) series.counts[bucket]!++;
    series.sum += seconds;
    series.count++;
  }

  /** Everything, in the text exposition format: one family after another, in the catalogue's order. */
  expose(): string {
    const lines: string[] = [];
    for (const family of this.counters) {
      lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} counter`);
      for (const [value, total] of family.values) {
        const labels = family.label ? `{${family.label.name}="${escapeLabelValue(value)}"}` : "";
        lines.push(`${family.name}${labels} ${formatValue(total)}`);
      }
    }
    const { name, help, labels, buckets } = REQUEST_DURATION;
    const labelNames = Object.keys(labels);
    lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} histogram`);
    for (const series of this.durations.values()) {
      const pairs = labelNames.map((l, i) => `${l}="${escapeLabelValue(series.labels[i]!)}"`).join(",");
      let cumulative = 0;
      buckets.forEach((bound, i) => {
        cumulative += series.counts[i]!;
        lines.push(`${name}_bucket{${pairs},le="${formatValue(bound)}"} ${cumulative}`);
      });
      lines.push(`${name}_bucket{${pairs},le="+Inf"} ${series.count}`);
      lines.push(`${name}_sum{${pairs}} ${formatValue(series.sum)}`);
      lines.push(`${name}_count{${pairs}} ${series.count}`);
    }
    return `${lines.join("\n")}\n`;
  }
}

/** `# HELP` text: backslash and line feed escaped. */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** A label value: backslash, double quote and line feed escaped. */
export function escapeLabelValue(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** A sample value as Go's ParseFloat reads it. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}
