import { inRanges, type ShardMap, type SlotRanges } from "../../stream/shard-map";

/**
 * Remote-Write 2.0: which series go to which group (open shard), by their slot, in request
 * order. How a group's series are cut into records is the encoder's (encode/v2.ts): a
 * record's size depends on the symbol table it builds for them.
 */
export interface Accepted {
  start: number;
  end: number;
  /** offset and count of this series' label refs, in name order, in `refPool` */
  refsAt: number;
  refsLen: number;
  /** upper bound of the re-encoded series size */
  bound: number;
  /** whether exemplars or metadata refer to symbols too (besides the labels) */
  otherRefs: boolean;
  /** whether the series' metadata is left out of its record (a help or unit too long) */
  dropMetadata: boolean;
  /**
   * Where the fields after the labels start when every labels_refs field comes first and
   * the rest runs to the end of the series (they are then copied in one go), else -1.
   */
  restStart: number;
}

export class PlanV2 {
  /** Per group, its series in request order. */
  readonly groups: Accepted[][];
  private readonly map: ShardMap;
  private readonly only: SlotRanges | undefined;

  constructor(
    map: ShardMap,
    only: SlotRanges | undefined,
    /** The largest record body. */
    readonly limit: number,
  ) {
    this.map = map;
    this.only = only;
    this.groups = Array.from({ length: map.count }, () => []);
  }

  /** Whether a series of this slot is planned at all (`only`: strays written again, and nothing else). */
  wants(slot: number): boolean {
    return this.only === undefined || inRanges(this.only, slot);
  }

  /** Whether a series of this size (re-encoded, with every symbol it refers to) fits one record alone. */
  fits(size: number): boolean {
    return size <= this.limit;
  }

  add(slot: number, series: Accepted): void {
    this.groups[this.map.group(slot)]!.push(series);
  }
}
