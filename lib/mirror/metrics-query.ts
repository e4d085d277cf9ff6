import { echo } from "../core/errors";
import { alignBuckets, type BucketRange, bucketize, pointsPerBucket } from "./aggregate";
import { answerTooLarge, badRequest, MirrorError, metricNotFound, tooManySeries } from "./errors";
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
 *
 * Before a `__gauge__` or `__counter__` query, its selector's series are looked up (at most
 * `maxSeries` + 1 of them): none is MetricNotFoundError at once, more than `maxSeries` a
 * `too-many-series` error naming how they differ, and exactly one lets an answer cut at the
 * byte cap be used as far as it goes (`isPartial`), since it can only hold that series.
 */

/** Prometheus refuses range queries of more than 11,000 points per series. */
export const MAX_POINTS = 11_000;
/** Raw steps finer than this only repeat samples. */
export const MIN_RAW_STEP_MS = 1000;
/** Evaluation step inside a bucket for counters and `~`: at least this (or the whole bucket). */
export const MIN_POINT_STEP_MS = 15_000;
/**
 * Prometheus's default lookback: a raw point takes the newest sample this far back, so the
 * series lookup starts this much before the query (it finds every series the query can answer).
 */
export const LOOKBACK_MS = 300_000;

export interface MetricsContext {
  readonly client: PrometheusClient;
  readonly counterWindowMs: number;
  /** `nan_interpretation: "ZERO"`: NaN values count as 0 instead of being left out. */
  readonly nanAsZero: boolean;
  /** MIRROR_MAX_SERIES: the most series the conditions may match. */
  readonly maxSeries: number;
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

/** How to ask for less when the answer of one series' points is over the cap. */
const NARROW_POINTS =
  "ask for a shorter time range, or (aggregated requests) smaller buckets, so that fewer samples are read at once";
const NARROW_TILDE =
  "narrow the ~ expression to fewer series (a label matcher or an aggregation such as sum by (...) inside it), or ask for a shorter time range or fewer points";

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
  const notFound = (expr: string) => {
    const when = `${new Date(query.startTime).toISOString()} and ${new Date(query.endTime).toISOString()}`;
    return metricNotFound(name, `no series for ${echo(expr, 300)} between ${when}`);
  };
  /**
   * Looks the selector's series up over [fromMs, toMs] (the samples the query reads):
   * true when exactly one matches, so that a cut answer holds only it.
   */
  const lookUp = async (fromMs: number, toMs: number, expr: string): Promise<boolean> => {
    if (sel === undefined) return false;
    const found = await ctx.client.series(sel, fromMs, toMs, ctx.maxSeries + 1);
    if (found.items.length === 0 && !found.truncated) throw notFound(expr);
    if (found.items.length > ctx.maxSeries || found.truncated) {
      const when = `${new Date(query.startTime).toISOString()} and ${new Date(query.endTime).toISOString()}`;
      throw tooManySeries(
        sel,
        ctx.maxSeries,
        when,
        describeDiffering(found.items.map((labels) => ({ labels }))),
      );
    }
    return found.items.length === 1;
  };

  const aggregation = query.aggregation ?? undefined;
  if (aggregation === undefined) {
    const step = rawStep(query.startTime, query.endTime, query.limit);
    const expr = exprFor(step);
    const reach = target.kind === "counter" ? counterWindow(step, ctx.counterWindowMs) : LOOKBACK_MS;
    const one = await lookUp(query.startTime - reach, query.endTime, expr);
    const answer = await narrowed(
      ctx,
      "/api/v1/query_range",
      target.kind === "tilde",
      ctx.client.queryRange(expr, query.startTime, query.endTime, step, one),
    );
    const cut = answer.truncated;
    if (cut && answer.items.length === 0) throw tooLarge(ctx, "/api/v1/query_range", NARROW_POINTS);
    const series = single(answer.items, filter, expr, notFound);
    if (cut && series.times.length === 0) throw tooLarge(ctx, "/api/v1/query_range", NARROW_POINTS);
    const points = usablePoints(series, ctx.nanAsZero).map(([t, v]): RawPoint => [v, t]);
    const partial = cut || points.length > query.limit;
    return {
      _type: "RawMetricTelemetry",
      dataFormat: ["value", "timestamp"],
      points: points.length > query.limit ? points.slice(0, query.limit) : points,
      isPartial: partial,
    };
  }

  const size = aggregation.bucketSizeMillis;
  let range = alignBuckets(query.startTime, query.endTime, size, Math.min(query.limit, MAX_POINTS));
  const from = range.first;
  const to = range.first + range.count * size; // exclusive
  let answer: { items: Series[]; truncated: boolean };
  let expr: string;
  let path: string;
  if (target.kind === "gauge") {
    expr = samplesExpr(sel!, to - from);
    path = "/api/v1/query";
    const one = await lookUp(from, to - 1, expr);
    answer = await ctx.client.query(expr, to - 1, one);
  } else {
    const step = size / pointsPerBucket(size, range.count, MIN_POINT_STEP_MS, MAX_POINTS);
    expr = exprFor(step);
    path = "/api/v1/query_range";
    const one = await lookUp(from - counterWindow(step, ctx.counterWindowMs), to - step, expr);
    answer = await narrowed(
      ctx,
      path,
      target.kind === "tilde",
      ctx.client.queryRange(expr, from, to - step, step, one),
    );
  }
  if (answer.truncated && answer.items.length === 0) throw tooLarge(ctx, path, NARROW_POINTS);
  const series = single(answer.items, filter, expr, notFound);
  if (answer.truncated) {
    // the points of the series come in time order: the buckets before the last point's are whole
    range = wholeBuckets(range, series.times);
    if (range.count === 0) throw tooLarge(ctx, path, NARROW_POINTS);
  }
  const last = range.first + range.count * size;
  return {
    _type: "AggregatedMetricTelemetry",
    dataFormat: ["value", "startTimestamp", "endTimestamp"],
    points: bucketize(usable(series, ctx.nanAsZero, from, last), range, aggregation.method),
    isPartial: range.partial,
  };
}

function tooLarge(ctx: MetricsContext, path: string, narrow: string) {
  return answerTooLarge(path, ctx.client.maxAnswerBytes, narrow);
}

/** A `~` query's answer over the cap says how to narrow the expression. */
async function narrowed<T>(
  ctx: MetricsContext,
  path: string,
  tilde: boolean,
  answer: Promise<T>,
): Promise<T> {
  try {
    return await answer;
  } catch (err) {
    if (tilde && err instanceof MirrorError && err.code === "answer-too-large") {
      throw tooLarge(ctx, path, NARROW_TILDE);
    }
    throw err;
  }
}

/** The buckets of `range` that end before the bucket of the last time in `times` (partial). */
export function wholeBuckets(range: BucketRange, times: Float64Array): BucketRange {
  const last = times.length === 0 ? range.first : times[times.length - 1]!;
  const count = Math.max(0, Math.min(range.count, Math.floor((last - range.first) / range.size)));
  return { ...range, count, partial: true };
}

/**
 * The points of a series as [timestamp, value], from `fromMs` (inclusive) to `toMs`
 * (exclusive): NaN is left out (or 0 with nan_interpretation ZERO); ±Inf cannot travel in JSON
 * and is left out. One pair at a time, so that a long series is never held twice.
 */
export function* usable(
  series: Series,
  nanAsZero: boolean,
  fromMs = Number.NEGATIVE_INFINITY,
  toMs = Number.POSITIVE_INFINITY,
): Generator<[number, number]> {
  const { times, values } = series;
  for (let i = 0; i < times.length; i++) {
    const t = times[i]!;
    if (t < fromMs || t >= toMs) continue;
    const v = values[i]!;
    if (Number.isNaN(v)) {
      if (nanAsZero) yield [t, 0];
    } else if (Number.isFinite(v)) yield [t, v];
  }
}

/** The usable points of a series (see usable) in an array. */
export function usablePoints(series: Series, nanAsZero: boolean): Array<[number, number]> {
  return [...usable(series, nanAsZero)];
}

/** The one series the conditions select: none is MetricNotFoundError, several a RemoteMirrorError. */
function single(
  series: Series[],
  filter: readonly Matcher[],
  expr: string,
  notFound: (expr: string) => Error,
): Series {
  const matching = filter.length === 0 ? series : series.filter((s) => matchesAll(s.labels, filter));
  if (matching.length === 1) return matching[0]!;
  if (matching.length === 0) throw notFound(expr);
  throw ambiguous(matching);
}

/** Names the labels whose values differ between the series, with a few example values each. */
export function differingLabels(
  series: ReadonlyArray<Pick<Series, "labels">>,
): Array<{ name: string; values: string[] }> {
  const names = new Set<string>();
  for (const s of series) for (const n of Object.keys(s.labels)) names.add(n);
  const out: Array<{ name: string; values: string[] }> = [];
  for (const name of [...names].sort()) {
    const values = new Set(series.map((s) => s.labels[name] ?? ""));
    if (values.size > 1) out.push({ name, values: [...values].sort() });
  }
  return out;
}

/** `instance ("a", "b", "c", …), job ("x", "y")`: the labels that differ, with a few values each. */
export function describeDiffering(series: ReadonlyArray<Pick<Series, "labels">>): string {
  return differingLabels(series)
    .slice(0, 8)
    .map(({ name, values }) => {
      const shown = values.slice(0, 3).map((v) => `"${echo(v, 40)}"`);
      return `${name} (${shown.join(", ")}${values.length > 3 ? ", …" : ""})`;
    })
    .join(", ");
}

function ambiguous(series: readonly Series[]) {
  return badRequest(
    "conditions-ambiguous",
    "Conditions match several series",
    `the conditions match ${series.length} series, which differ in ${describeDiffering(series)}; add a condition on one of these labels`,
  );
}
