import type { AggregatedPoint, AggregationMethod } from "./protocol";

/**
 * Bucket alignment and the aggregation methods, as pure functions. Buckets are
 * [start, start + size) with start a multiple of the bucket size (epoch milliseconds).
 */

export interface BucketRange {
  /** Start of the first bucket: the request's startTime rounded down to a multiple of the size. */
  readonly first: number;
  readonly size: number;
  readonly count: number;
  /** True when the buckets were cut to the limit (the rest is asked for again). */
  readonly partial: boolean;
}

/**
 * The buckets covering [startMs, endMs): from the bucket holding startMs up to the one holding
 * the last millisecond before endMs (one bucket when startMs = endMs). At most `limit` buckets.
 */
export function alignBuckets(startMs: number, endMs: number, size: number, limit: number): BucketRange {
  const first = Math.floor(startMs / size) * size;
  const last = endMs > startMs ? Math.floor((endMs - 1) / size) * size : first;
  const all = (last - first) / size + 1;
  const count = Math.min(all, limit);
  return { first, size, count, partial: count < all };
}

/**
 * Linear interpolation between closest ranks over sorted values: the p-quantile sits at rank
 * p·(n−1) (0-based), as Prometheus's quantile_over_time computes it.
 */
export function percentile(sorted: readonly number[], p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = p * (n - 1);
  const lower = Math.floor(rank);
  const upper = Math.min(lower + 1, n - 1);
  const weight = rank - lower;
  return sorted[lower]! * (1 - weight) + sorted[upper]! * weight;
}

const PERCENTILES: Partial<Record<AggregationMethod, number>> = {
  PERCENTILE_25: 0.25,
  PERCENTILE_50: 0.5,
  PERCENTILE_75: 0.75,
  PERCENTILE_90: 0.9,
  PERCENTILE_95: 0.95,
  PERCENTILE_98: 0.98,
  PERCENTILE_99: 0.99,
};

/** Whether an empty bucket is left out (NO_ZEROS variants) instead of answered with 0. */
export function skipsEmptyBuckets(method: AggregationMethod): boolean {
  return method === "SUM_NO_ZEROS" || method === "EVENT_COUNT_NO_ZEROS";
}

/** The value of one non-empty bucket. */
export function aggregate(method: AggregationMethod, values: readonly number[]): number {
  switch (method) {
    case "MEAN":
      return sum(values) / values.length;
    case "MIN":
      return values.reduce((a, b) => Math.min(a, b));
    case "MAX":
      return values.reduce((a, b) => Math.max(a, b));
    case "SUM":
    case "SUM_NO_ZEROS":
      return sum(values);
    case "EVENT_COUNT":
    case "EVENT_COUNT_NO_ZEROS":
      return values.length;
    default: {
      const p = PERCENTILES[method];
      if (p === undefined) throw new Error(`no aggregation for ${method}`);
      return percentile(
        [...values].sort((a, b) => a - b),
        p,
      );
    }
  }
}

/** Kahan summation, so long buckets do not drift. */
function sum(values: readonly number[]): number {
  let total = 0;
  let carry = 0;
  for (const v of values) {
    const y = v - carry;
    const t = total + y;
    carry = t - total - y;
    total = t;
  }
  return total;
}

/**
 * Groups [timestamp, value] points into the buckets and aggregates each. Points outside the
 * buckets are ignored. Empty buckets give 0, or are left out for the NO_ZEROS variants.
 */
export function bucketize(
  points: Iterable<readonly [number, number]>,
  range: BucketRange,
  method: AggregationMethod,
): AggregatedPoint[] {
  const groups: number[][] = Array.from({ length: range.count }, () => []);
  for (const [t, v] of points) {
    const index = Math.floor((t - range.first) / range.size);
    if (index >= 0 && index < range.count) groups[index]!.push(v);
  }
  const out: AggregatedPoint[] = [];
  groups.forEach((values, index) => {
    const start = range.first + index * range.size;
    const end = start + range.size;
    if (values.length > 0) out.push([aggregate(method, values), start, end]);
    else if (!skipsEmptyBuckets(method)) out.push([0, start, end]);
  });
  return out;
}

/**
 * How many evaluation points per bucket for counters and `~` queries: the step divides the
 * bucket size, is at least `minStepMs` (or the whole bucket when that is smaller), and the
 * whole query stays within `maxPoints` points.
 */
export function pointsPerBucket(size: number, buckets: number, minStepMs: number, maxPoints: number): number {
  const cap = Math.max(1, Math.min(Math.floor(size / minStepMs), Math.floor(maxPoints / buckets)));
  for (let n = cap; n > 1; n--) if (size % n === 0) return n;
  return 1;
}
