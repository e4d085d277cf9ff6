import type { LabelLimits } from "./validate";

/** How one request's series are planned into records: label limits, routing buckets, record size. */
export interface PlanOptions {
  readonly limits: LabelLimits;
  /** Number of routing buckets (one ExplicitHashKey each). */
  readonly buckets: number;
  /** Largest record data (after compression), the partition key's room already taken off. */
  readonly maxRecordBytes: number;
  /** Longest metadata help, unit and metric family name, in bytes. */
  readonly maxMetadataLength: number;
  readonly tenant: string | undefined;
  /** Precomputed bucketHashKey(b, buckets) for every b. */
  readonly hashKeys: readonly string[];
}

/**
 * `hash % buckets` for a 32-bit unsigned hash, in small-integer arithmetic: the same value,
 * without the floating-point remainder a hash above 2^31 would otherwise take.
 */
export function bucketOf(hash: number, buckets: number): number {
  return (((hash >>> 16) % buckets) * (65536 % buckets) + (hash & 0xffff)) % buckets;
}
