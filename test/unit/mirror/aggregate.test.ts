import { describe, expect, it } from "vitest";
import {
  aggregate,
  alignBuckets,
  bucketize,
  percentile,
  pointsPerBucket,
  skipsEmptyBuckets,
} from "../../../lib/mirror/aggregate";
import { AGGREGATION_METHODS } from "../../../lib/mirror/protocol";

const MIN = 60_000;

describe("alignBuckets", () => {
  it("rounds the start down to a multiple of the bucket size", () => {
    const r = alignBuckets(10 * MIN + 7, 20 * MIN, 5 * MIN, 100);
    expect(r).toEqual({ first: 10 * MIN, size: 5 * MIN, count: 2, partial: false });
  });

  it("includes the bucket holding the last millisecond before the end", () => {
    expect(alignBuckets(0, 5 * MIN + 1, 5 * MIN, 100).count).toBe(2);
    expect(alignBuckets(0, 5 * MIN, 5 * MIN, 100).count).toBe(1);
  });

  it("gives one bucket for an empty range", () => {
    expect(alignBuckets(7 * MIN, 7 * MIN, 5 * MIN, 100)).toEqual({
      first: 5 * MIN,
      size: 5 * MIN,
      count: 1,
      partial: false,
    });
  });

  it("cuts to the limit and says so", () => {
    expect(alignBuckets(0, 60 * MIN, MIN, 10)).toEqual({ first: 0, size: MIN, count: 10, partial: true });
  });

  it("aligns to the epoch, not to the request", () => {
    const size = 7_000; // does not divide a minute
    const r = alignBuckets(1_000_000, 1_100_000, size, 100);
    expect(r.first % size).toBe(0);
    expect(r.first).toBeLessThanOrEqual(1_000_000);
    expect(r.first + size).toBeGreaterThan(1_000_000);
  });
});

describe("aggregate", () => {
  const values = [4, 1, 3, 2];
  it.each([
    ["MEAN", 2.5],
    ["MIN", 1],
    ["MAX", 4],
    ["SUM", 10],
    ["SUM_NO_ZEROS", 10],
    ["EVENT_COUNT", 4],
    ["EVENT_COUNT_NO_ZEROS", 4],
    ["PERCENTILE_50", 2.5], // rank 1.5 between 2 and 3
    ["PERCENTILE_25", 1.75], // rank 0.75 between 1 and 2
    ["PERCENTILE_75", 3.25],
    ["PERCENTILE_90", 3.7],
    ["PERCENTILE_99", 3.97],
  ] as const)("%s of [4, 1, 3, 2] is %d", (method, expected) => {
    expect(aggregate(method, values)).toBeCloseTo(expected, 12);
  });

  it("handles every method, and a single value gives that value for all but counts", () => {
    for (const method of AGGREGATION_METHODS) {
      const expected = method.startsWith("EVENT_COUNT") ? 1 : 7;
      expect(aggregate(method, [7])).toBe(expected);
    }
  });

  it("is exact for long sums (compensated)", () => {
    const many = Array.from({ length: 100_000 }, () => 0.1);
    expect(aggregate("SUM", many)).toBeCloseTo(10_000, 9);
    expect(aggregate("MAX", many)).toBe(0.1); // no spread arguments: no stack overflow
  });

  it("percentile interpolates between closest ranks", () => {
    expect(percentile([10, 20], 0.5)).toBe(15);
    expect(percentile([10, 20, 30], 0.98)).toBeCloseTo(29.6, 12);
    expect(percentile([], 0.5)).toBeNaN();
  });
});

describe("bucketize", () => {
  const range = { first: 0, size: 10, count: 4, partial: false };
  const points: Array<[number, number]> = [
    [0, 1],
    [9, 3], // same bucket as 0
    [10, 5], // next bucket: the end is exclusive
    [35, 2],
    [40, 100], // outside the buckets
    [-1, 100],
  ];

  it("groups points by [start, end) and fills empty buckets with 0", () => {
    expect(bucketize(points, range, "SUM")).toEqual([
      [4, 0, 10],
      [5, 10, 20],
      [0, 20, 30],
      [2, 30, 40],
    ]);
  });

  it("leaves empty buckets out for the NO_ZEROS variants", () => {
    expect(bucketize(points, range, "SUM_NO_ZEROS")).toEqual([
      [4, 0, 10],
      [5, 10, 20],
      [2, 30, 40],
    ]);
    expect(bucketize(points, range, "EVENT_COUNT_NO_ZEROS").map((p) => p[0])).toEqual([2, 1, 1]);
    expect(bucketize(points, range, "EVENT_COUNT").map((p) => p[0])).toEqual([2, 1, 0, 1]);
  });

  it("keeps a bucket whose value is 0 for NO_ZEROS (it is not empty)", () => {
    expect(bucketize([[5, 0]], { first: 0, size: 10, count: 1, partial: false }, "SUM_NO_ZEROS")).toEqual([
      [0, 0, 10],
    ]);
  });

  it("knows which methods skip empty buckets", () => {
    expect(AGGREGATION_METHODS.filter(skipsEmptyBuckets)).toEqual(["SUM_NO_ZEROS", "EVENT_COUNT_NO_ZEROS"]);
  });
});

describe("pointsPerBucket", () => {
  it("steps at least 15 s and divides the bucket", () => {
    const n = pointsPerBucket(5 * MIN, 10, 15_000, 11_000);
    expect(n).toBe(20);
    expect((5 * MIN) % n).toBe(0);
  });

  it("uses the whole bucket when it is shorter than the least step", () => {
    expect(pointsPerBucket(10_000, 10, 15_000, 11_000)).toBe(1);
  });

  it("stays within the point budget", () => {
    const n = pointsPerBucket(3_600_000, 1000, 15_000, 11_000);
    expect(n * 1000).toBeLessThanOrEqual(11_000);
    expect(3_600_000 % n).toBe(0);
  });

  it("falls back to 1 when nothing divides", () => {
    expect(pointsPerBucket(1_000_003, 1, 15_000, 11_000)).toBeGreaterThanOrEqual(1);
    expect(1_000_003 % pointsPerBucket(1_000_003, 1, 15_000, 11_000)).toBe(0);
  });
});
