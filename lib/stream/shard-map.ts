/**
 * Where series go on the stream (stream format 2). Every series has a 32-bit routing hash
 * (its slot, see `seriesSlot` in ./routing); slot `s` stands for the hash key
 * `s·2^96 + 2^95` of Kinesis's 128-bit hash-key space, so a series always has the same hash
 * key and its records stay in one shard lineage, however the stream is split or merged.
 *
 * A ShardMap is one snapshot of the stream's open shards, as slot ranges: the series of a
 * request are packed per shard (one group per open shard), and each record is written with
 * the hash key of its group's first slot, so it lands on the shard that holds its series
 * while the snapshot is current. A snapshot read before a split can send a record to the
 * child that does not hold all its series; the PutRecords answer names that shard, and
 * lib/ingest/placement.ts writes the strays again to their own shard.
 */

const SLOT_SHIFT = 96n;
const HALF_SLOT = 1n << 95n;
/** 2^128 - 1: the largest hash key. */
export const MAX_HASH_KEY = (1n << 128n) - 1n;
/** Slots: 0 … 2^32-1. */
export const SLOT_COUNT = 2 ** 32;

/** The hash key a slot stands for (decimal, as PutRecords takes it). */
export function slotHashKey(slot: number): string {
  return ((BigInt(slot >>> 0) << SLOT_SHIFT) + HALF_SLOT).toString();
}

/** The slot holding a hash key: the slot whose key is the largest at or below it (0 below the first). */
function slotAtOrBelow(key: bigint): number {
  if (key < HALF_SLOT) return -1;
  const s = (key - HALF_SLOT) >> SLOT_SHIFT;
  return Number(s > 0xffffffffn ? 0xffffffffn : s);
}

/** One shard as ListShards describes it. */
export interface ShardInfo {
  readonly shardId: string;
  /** Decimal hash keys, inclusive. */
  readonly startingHashKey: string;
  readonly endingHashKey: string;
  /** False once the shard was split or merged (it has an ending sequence number). */
  readonly open: boolean;
  readonly parentShardId?: string;
  readonly adjacentParentShardId?: string;
}

/** The stream's shards, open and closed, as ListShards lists them (the lean Kinesis client is one). */
export interface ShardLister {
  listShards(streamName: string, signal?: AbortSignal): Promise<ShardInfo[]>;
}

/** The slots [first, last] whose keys lie in a hash-key range; undefined when none does. */
export function slotsOf(startingHashKey: string, endingHashKey: string): [number, number] | undefined {
  const start = BigInt(startingHashKey);
  const end = BigInt(endingHashKey);
  const last = slotAtOrBelow(end);
  const first = slotAtOrBelow(start - 1n) + 1;
  if (last < 0 || first > last || first > 0xffffffff) return undefined;
  return [first, last];
}

export class ShardMap {
  /** Groups in slot order; group g covers slots [firsts[g], lasts[g]]. */
  private readonly firsts: Uint32Array;
  private readonly lasts: Uint32Array;
  /** The ExplicitHashKey of each group's records. */
  readonly hashKeys: readonly string[];
  /** Each group's slots as `<first>-<last>`, 8 hex digits each (the partition key's slots field). */
  readonly slotLabels: readonly string[];
  /** The open shard of each group, when the map came from the stream (undefined for a default map). */
  readonly shardIds: readonly (string | undefined)[];
  private readonly byId: ReadonlyMap<string, readonly [number, number]>;
  /** When the snapshot was read (epoch ms); 0 for a default map. */
  readonly readAt: number;

  private constructor(
    groups: readonly { first: number; last: number; shardId?: string }[],
    readAt: number,
    known: ReadonlyMap<string, readonly [number, number]>,
  ) {
    this.firsts = Uint32Array.from(groups, (g) => g.first);
    this.lasts = Uint32Array.from(groups, (g) => g.last);
    this.hashKeys = groups.map((g) => slotHashKey(g.first));
    this.slotLabels = groups.map((g) => `${hex8(g.first)}-${hex8(g.last)}`);
    this.shardIds = groups.map((g) => g.shardId);
    this.byId = known;
    this.readAt = readAt;
  }

  /**
   * The map a writer uses before it has read the stream's: `shards` equal slices, as a stream
   * created with that many shards (an on-demand stream starts with 4) has them.
   */
  static uniform(shards: number): ShardMap {
    const n = Math.max(1, Math.min(shards, 1 << 16));
    const groups = [];
    for (let i = 0; i < n; i++) {
      const start = (BigInt(i) * (MAX_HASH_KEY + 1n)) / BigInt(n);
      const end = (BigInt(i + 1) * (MAX_HASH_KEY + 1n)) / BigInt(n) - 1n;
      const slots = slotsOf(start.toString(), end.toString());
      if (slots !== undefined) groups.push({ first: slots[0], last: slots[1] });
    }
    return new ShardMap(groups, 0, new Map());
  }

  /**
   * The map of a stream's shards (open and closed, as ListShards lists them). Throws when the
   * open shards leave a slot uncovered or overlap, which a stream's map never does.
   */
  static fromShards(shards: readonly ShardInfo[], readAt: number): ShardMap {
    const known = new Map<string, readonly [number, number]>();
    const groups: { first: number; last: number; shardId: string }[] = [];
    for (const s of shards) {
      const slots = slotsOf(s.startingHashKey, s.endingHashKey);
      if (slots === undefined) continue;
      known.set(s.shardId, slots);
      if (s.open) groups.push({ first: slots[0], last: slots[1], shardId: s.shardId });
    }
    groups.sort((a, b) => a.first - b.first);
    let next = 0;
    for (const g of groups) {
      if (g.first !== next) throw new Error(`the open shards do not cover slot ${next} exactly once`);
      next = g.last + 1;
    }
    if (next !== SLOT_COUNT) throw new Error(`the open shards do not cover slot ${next}`);
    return new ShardMap(groups, readAt, known);
  }

  /** Number of groups (open shards with at least one slot). */
  get count(): number {
    return this.firsts.length;
  }

  /** True when the map was read from the stream. */
  get read(): boolean {
    return this.readAt > 0;
  }

  /** The group of a series' slot (binary search over the groups' first slots). */
  group(slot: number): number {
    const firsts = this.firsts;
    let lo = 0;
    let hi = firsts.length - 1;
    const s = slot >>> 0;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (firsts[mid]! <= s) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** The slots of group g, inclusive. */
  slots(g: number): [number, number] {
    return [this.firsts[g]!, this.lasts[g]!];
  }

  /** The slots of a shard this map knows (open or closed), by id. */
  shardSlots(shardId: string): readonly [number, number] | undefined {
    return this.byId.get(shardId);
  }
}

/** Sorted, disjoint slot intervals [first, last]: series to write again. */
export type SlotRanges = readonly (readonly [number, number])[];

/** True when a slot lies in one of the ranges. */
export function inRanges(ranges: SlotRanges, slot: number): boolean {
  const s = slot >>> 0;
  for (const [a, b] of ranges) if (s >= a && s <= b) return true;
  return false;
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, "0");
}
