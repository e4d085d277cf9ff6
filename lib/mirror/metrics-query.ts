import { echo } from "../core/errors";
import { alignBuckets, bucketize, pointsPerBucket } from "./aggregate";
import { badRequest, metricNotFound } from "./errors";
import type { PrometheusClient, Series } from "./prometheus-client";
import { classifyConditions, type Matcher, matchesAll, rateExpr, samplesExpr, selector } from "./promql";
import type { MetricsRequest, RawPoint, Telemetry } from "./protocol";

/**
 * Answers a metrics query. Raw requests are one range query whose step keeps the points
 * within `limit`. Aggregated requests fetch the points of whole aligned buckets and
 * aggregate them here (see aggregate.ts):
 * - `__gauge__`: the samples stored in each bucket (a range selector, real timestamps);
 * - `__counter__`: `rate()` evaluated every `pointStep` inside each bucket;
 * - `~`: the expression evaluated every `pointStep` inside each bucket.
 */

/** Prometheus refuses range queries of more than 11,000 points per series. */
export const MAX_POINTS = 11_000;
/** Raw steps finer than this only repeat samples. */
export const MIN_RAW_STEP_MS = 1000;
/** Evaluation step inside a bucket for counters and `~`: at least this (or the whole bucket). */
export const MIN_POINT_STEP_MS = 15_000;

export interface MetricsContext {
  readonly client: PrometheusClient;
  readonly counterWindowMs: number;
  /** `nan_interpretation: "ZERO"`: NaN values count as 0 instead of being left out. */
  readonly nanAsZero: boolean;
}

type Query = MetricsRequest["query"];

/** The step of a raw range query: as fine as allowed while giving at most `limit` points. */
export function rawStep(startMs: number, endMs: number, limit: number): number {
  const span = endMs - startMs;
  const points = Math.min(limit, MAX_POINTS);
  const step = points > 1 ? Math.ceil(span / (points - 1)) : span + 1;
  return Math.max(MIN_RAW_STEP_MS, step);
}

/** The window of `rate()` for a given evaluation step: max(step, configured window). */
export function counterWindow(stepMs: number, configuredMs: number): number {
  return Math.max(stepMs, configuredMs);
}

export async function queryMetrics(request: Query, ctx: MetricsContext): Promise<Telemetry> {
  // a limit of 0 would answer nothing, partial, forever: one point is the least an answer holds
  const query = { ...request, limit: Math.max(1, request.limit) };
  const { target, matchers } = classifyConditions(query.conditions);
  const sel = target.kind === "tilde" ? undefined : selector(target.metric, matchers);
  const name = target.kind === "tilde" ? target.expr : sel!;
  // Label conditions of a `~` query filter its result series; elsewhere they are in the selector.
  const filter: readonly Matcher[] = target.kind === "tilde" ? matchers : [];
  const exprFor = (stepMs: number): string =>
    target.kind === "tilde"
      ? target.expr
      : target.kind === "counter"
        ? rateExpr(sel!, counterWindow(stepMs, ctx.counterWindowMs))
        : sel!;

  const aggregation = query.aggregation ?? undefined;
  if (aggregation === undefined) {
    const step = rawStep(query.startTime, query.endTime, query.limit);
    const expr = exprFor(step);
    const series = await ctx.client.queryRange(expr, query.startTime, query.endTime, step);
    const points = usablePoints(single(series, filter, name, expr, query), ctx.nanAsZero).map(
      ([t, v]): RawPoint => [v, t],
    );
    const partial = points.length > query.limit;
    return {
      _type: "RawMetricTelemetry",
      dataFormat: ["value", "timestamp"],
      points: partial ? points.slice(0, query.limit) : points,
      isPartial: partial,
    };
  }

  const size = aggregation.bucketSizeMillis;
  const range = alignBuckets(query.startTime, query.endTime, size, Math.min(query.limit, MAX_POINTS));
  const from = range.first;
  const to = range.first + range.count * size; // exclusive
  let series: Series[];
  let expr: string;
  if (target.kind === "gauge") {
    expr = samplesExpr(sel!, to - from);
    series = await ctx.client.query(expr, to - 1);
  } else {
    const step = size / pointsPerBucket(size, range.count, MIN_POINT_STEP_MS, MAX_POINTS);
    expr = exprFor(step);
    series = await ctx.client.queryRange(expr, from, to - step, step);
  }
  const points = usablePoints(single(series, filter, name, expr, query), ctx.nanAsZero).filter(
    ([t]) => t >= from && t < to,
  );
  return {
    _type: "AggregatedMetricTelemetry",
    dataFormat: ["value", "startTimestamp", "endTimestamp"],
    points: bucketize(points, range, aggregation.method),
    isPartial: range.partial,
  };
}

/** NaN is left out (or 0 with nan_interpretation ZERO); ±Inf cannot travel in JSON and is left out. */
export function usablePoints(series: Series, nanAsZero: boolean): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const [t, v] of series.points) {
    if (Number.isNaN(v)) {
      if (nanAsZero) out.push([t, 0]);
    } else if (Number.isFinite(v)) out.push([t, v]);
  }
  return out;
}

/** The one series the conditions select: none is MetricNotFoundError, several a RemoteMirrorError. */
function single(
  series: Series[],
  filter: readonly Matcher[],
  name: string,
  expr: string,
  query: Query,
): Series {
  const matching = filter.length === 0 ? series : series.filter((s) => matchesAll(s.labels, filter));
  if (matching.length === 1) return matching[0]!;
  if (matching.length === 0) {
    const when = `${new Date(query.startTime).toISOString()} and ${new Date(query.endTime).toISOString()}`;
    throw metricNotFound(name, `no series for ${echo(expr, 300)} between ${when}`);
  }
  throw ambiguous(matching);
}

/** Names the labels whose values differ between the series, with a few example values each. */
export function differingLabels(series: readonly Series[]): Array<{ name: string; values: string[] }> {
  const names = new Set<string>();
  for (const s of series) for (const n of Object.keys(s.labels)) names.add(n);
  const out: Array<{ name: string; values: string[] }> = [];
  for (const name of [...names].sort()) {
    const values = new Set(series.map((s) => s.labels[name] ?? ""));
    if (values.size > 1) out.push({ name, values: [...values].sort() });
  }
  return out;
}

function ambiguous(series: readonly Series[]) {
  const labels = differingLabels(series);
  const listed = labels
    .slice(0, 8)
    .map(({ name, values }) => {
      const shown = values.slice(0, 3).map((v) => `"${echo(v, 40)}"`);
      return `${name} (${shown.join(", ")}${values.length > 3 ? ", …" : ""})`;
    })
    .join(", ");
  return badRequest(
    "conditions-ambiguous",
    "Conditions match several series",
    `the conditions match ${series.length} series, which differ in ${listed}; add a condition on one of these labels`,
  );
}
