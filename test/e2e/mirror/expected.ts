/**
 * Expected answers computed straight from the fixture samples, written independently of the
 * mirror's code: lookback for instant values, slopes for rates, and the aggregation
 * definitions as the documentation states them.
 */

type Samples = ReadonlyArray<readonly [number, number]>;
export const LOOKBACK_MS = 5 * 60_000;

/** The value an instant query sees at t: the newest sample at or before t within the lookback. */
export function valueAt(samples: Samples, t: number): number | "none" | "ambiguous" {
  let latest: readonly [number, number] | undefined;
  for (const s of samples) if (s[0] <= t) latest = s;
  if (latest === undefined) return "none";
  const age = t - latest[0];
  if (age === LOOKBACK_MS) return "ambiguous"; // the lookback boundary differs between versions
  return age < LOOKBACK_MS ? latest[1] : "none";
}

/**
 * The per-second rate over (t − window, t] where the counter grew by the same amount between
 * every pair of samples in [t − window, t] (resets counted as restarts from 0); undefined
 * where the increments differ (the exact value there depends on Prometheus's extrapolation).
 */
export function rateAt(samples: Samples, t: number, windowMs: number): number | undefined {
  const inWindow = samples.filter(([ts]) => ts >= t - windowMs && ts <= t);
  if (inWindow.length < 3) return undefined;
  const increments: number[] = [];
  for (let i = 1; i < inWindow.length; i++) {
    const [t0, v0] = inWindow[i - 1]!;
    const [t1, v1] = inWindow[i]!;
    increments.push((v1 >= v0 ? v1 - v0 : v1) / ((t1 - t0) / 1000));
  }
  return increments.every((r) => r === increments[0]) ? increments[0] : undefined;
}

export const METHODS = [
  "MEAN",
  "MIN",
  "MAX",
  "SUM",
  "EVENT_COUNT",
  "PERCENTILE_25",
  "PERCENTILE_50",
  "PERCENTILE_75",
  "PERCENTILE_90",
  "PERCENTILE_95",
  "PERCENTILE_98",
  "PERCENTILE_99",
  "SUM_NO_ZEROS",
  "EVENT_COUNT_NO_ZEROS",
] as const;

/** One bucket's value by the documented definition; undefined = the bucket is left out. */
export function expectedBucket(
  method: (typeof METHODS)[number],
  values: readonly number[],
): number | undefined {
  if (values.length === 0) return method.endsWith("_NO_ZEROS") ? undefined : 0;
  const sorted = [...values].sort((a, b) => a - b);
  const total = values.reduce((a, b) => a + b, 0);
  if (method === "MEAN") return total / values.length;
  if (method === "MIN") return sorted[0];
  if (method === "MAX") return sorted[sorted.length - 1];
  if (method === "SUM" || method === "SUM_NO_ZEROS") return total;
  if (method === "EVENT_COUNT" || method === "EVENT_COUNT_NO_ZEROS") return values.length;
  const q = Number(method.slice("PERCENTILE_".length)) / 100;
  const pos = q * (sorted.length - 1);
  const below = sorted[Math.floor(pos)]!;
  const above = sorted[Math.ceil(pos)]!;
  return below + (above - below) * (pos - Math.floor(pos));
}

/**
 * histogram_quantile over bucket rates: find the bucket holding rank q·total and interpolate
 * linearly inside it (the first bucket starts at 0).
 */
export function histogramQuantile(
  q: number,
  bounds: readonly number[],
  cumulativeRates: readonly number[],
): number {
  const total = cumulativeRates[cumulativeRates.length - 1]!;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if (cumulativeRates[i]! >= rank) {
      if (bounds[i] === Number.POSITIVE_INFINITY) return bounds[i - 1]!;
      const lowerBound = i === 0 ? 0 : bounds[i - 1]!;
      const lowerCount = i === 0 ? 0 : cumulativeRates[i - 1]!;
      return (
        lowerBound + (bounds[i]! - lowerBound) * ((rank - lowerCount) / (cumulativeRates[i]! - lowerCount))
      );
    }
  }
  throw new Error("rank beyond the last bucket");
}
