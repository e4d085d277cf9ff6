import { varintSize } from "../../codec/wire";
import { inRanges, type ShardMap, type SlotRanges } from "../../stream/shard-map";
import { sortedSeries, splitSeries } from "../encode/v1";
import type { LabelScratch } from "../scan/labels";
import type { RangeList } from "../scan/range-list";
import type { IngestScratch } from "../scratch";

/**
 * Remote-Write 1.0: which series and metadata go to which record. Each accepted series goes
 * to the group (open shard) of its slot, in request order, then its metadata; a group's
 * entries are cut into records of at most `limit` bytes, in order.
 *
 * An entry is a byte range of the request holding a whole field (tag, length and message),
 * carried into its record as it came; or, for a series re-encoded here (labels the sender did
 * not sort, or a series split over several records), a negative index into `rewritten`.
 */
export class PlanV1 {
  readonly series: RangeList[];
  readonly metadata: RangeList[];
  /** Series bodies re-encoded (each is framed as a timeseries field when written). */
  readonly rewritten: Uint8Array[] = [];
  private readonly map: ShardMap;
  private readonly only: SlotRanges | undefined;

  constructor(
    map: ShardMap,
    only: SlotRanges | undefined,
    /** The largest record body. */
    readonly limit: number,
    scratch: IngestScratch,
  ) {
    this.map = map;
    this.only = only;
    this.series = scratch.seriesPerGroup(map.count);
    this.metadata = scratch.metadataPerGroup(map.count);
  }

  /** Whether what has this slot is planned at all (`only`: strays written again, and nothing else). */
  wants(slot: number): boolean {
    return this.only === undefined || inRanges(this.only, slot);
  }

  /**
   * Plans a series whose labels are `labels` and whose entry is `buf[entryStart, end)` (its
   * message `[start, end)`): as it came, with its labels sorted, or split over several
   * records. False when it cannot fit any record (its labels alone are too large, or one of
   * its samples is).
   */
  addSeries(buf: Uint8Array, entryStart: number, start: number, end: number, labels: LabelScratch): boolean {
    const list = this.series[this.map.group(labels.hash)]!;
    let bodies: Uint8Array[] | undefined;
    if (!labels.sorted) bodies = [sortedSeries(buf, start, end, labels)];
    const size = end - start;
    if (1 + varintSize(size) + size > this.limit) {
      bodies = splitSeries(bodies?.[0] ?? buf.subarray(start, end), this.limit);
      if (bodies === undefined) return false;
    }
    if (bodies === undefined) {
      list.push(entryStart, end);
    } else {
      for (const body of bodies) {
        this.rewritten.push(body);
        list.push(-this.rewritten.length, 0);
      }
    }
    return true;
  }

  /** Plans a metadata entry `buf[entryStart, end)` whose family name has this slot. */
  addMetadata(slot: number, entryStart: number, end: number): void {
    this.metadata[this.map.group(slot)]!.push(entryStart, end);
  }

  /** Entries of group `g`: its series, then its metadata. */
  count(g: number): number {
    return this.series[g]!.length + this.metadata[g]!.length;
  }

  /**
   * The record that starts at entry `from` of group `g`: returns the end of its entries and
   * sets `bodySize` to its body's size. A record holds at least one entry.
   */
  cut(g: number, from: number): number {
    const series = this.series[g]!;
    const meta = this.metadata[g]!;
    const ns = series.length;
    const n = ns + meta.length;
    const { limit, rewritten } = this;
    let size = 0;
    let to = from;
    while (to < n) {
      const s = to < ns ? series.start(to) : meta.start(to - ns);
      let entry: number;
      if (s >= 0) {
        entry = (to < ns ? series.end(to) : meta.end(to - ns)) - s;
      } else {
        const len = rewritten[-s - 1]!.length;
        entry = 1 + varintSize(len) + len;
      }
      if (size + entry > limit && to > from) break;
      size += entry;
      to++;
    }
    this.bodySize = size;
    return to;
  }

  /** The body size of the record the last `cut` planned. */
  bodySize = 0;
}
