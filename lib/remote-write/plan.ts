import type { LabelLimits, RejectReason } from "./validate";

/** What the ingest of one request produced besides records: exact counts. */
export interface Tally {
  series: number;
  samples: number;
  histograms: number;
  exemplars: number;
  metadata: number;
}

export const emptyTally = (): Tally => ({ series: 0, samples: 0, histograms: 0, exemplars: 0, metadata: 0 });

export interface PlanOptions {
  readonly limits: LabelLimits;
  /** Number of routing buckets (one ExplicitHashKey each). */
  readonly buckets: number;
  /** Largest record data (after compression). */
  readonly maxRecordBytes: number;
  readonly tenant: string | undefined;
  /** Precomputed bucketHashKey(b, buckets) for every b. */
  readonly hashKeys: readonly string[];
}

export class Rejections {
  readonly byReason = new Map<RejectReason, number>();
  total = 0;
  add(reason: RejectReason): void {
    this.byReason.set(reason, (this.byReason.get(reason) ?? 0) + 1);
    this.total++;
  }
}

/** A growable list of int pairs (byte ranges), without per-item objects. */
export class RangeList {
  data: Int32Array;
  length = 0;
  constructor(capacity = 256) {
    this.data = new Int32Array(capacity * 2);
  }
  push(a: number, b: number): void {
    if (this.length * 2 + 2 > this.data.length) {
      const next = new Int32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length * 2] = a;
    this.data[this.length * 2 + 1] = b;
    this.length++;
  }
  start(i: number): number {
    return this.data[i * 2]!;
  }
  end(i: number): number {
    return this.data[i * 2 + 1]!;
  }
}

/**
 * `hash % buckets` for a 32-bit unsigned hash, in small-integer arithmetic: the same value,
 * without the floating-point remainder a hash above 2^31 would otherwise take.
 */
export function bucketOf(hash: number, buckets: number): number {
  return (((hash >>> 16) % buckets) * (65536 % buckets) + (hash & 0xffff)) % buckets;
}
