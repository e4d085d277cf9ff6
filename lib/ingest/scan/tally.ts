import type { RejectReason } from "./validate";

/** What the ingest of one request produced besides records: exact counts. */
export interface Tally {
  series: number;
  samples: number;
  histograms: number;
  exemplars: number;
  metadata: number;
}

export const emptyTally = (): Tally => ({ series: 0, samples: 0, histograms: 0, exemplars: 0, metadata: 0 });

export class Rejections {
  readonly byReason = new Map<RejectReason, number>();
  total = 0;
  /** Of `total`, the metadata entries refused (the rest are series). */
  metadata = 0;
  add(reason: RejectReason): void {
    this.byReason.set(reason, (this.byReason.get(reason) ?? 0) + 1);
    this.total++;
  }
  /** A metadata entry refused (v1), or a series' metadata left out of its record (v2). */
  addMetadata(reason: RejectReason): void {
    this.add(reason);
    this.metadata++;
  }
}
