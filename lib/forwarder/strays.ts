import { compress } from "../codec/snappy";
import { Reader, WIRE_LEN, WireError, Writer } from "../codec/wire";
import { errorLabel, type Logger } from "../core/log";
import { seriesSlotOf } from "../stream/routing";
import { type ShardLister, slotsOf } from "../stream/shard-map";
import { readRefs, symbol, symbolRanges } from "./convert";
import type { CheckedRecord, GoodRecord, Version } from "./records";

/**
 * The strays of a resharding (docs/stream-format.md, "While a shard is split or merged"): a
 * record packed for a parent shard by a writer that had not yet seen the split can land on
 * the child holding its first slot while some of its series belong to the other child. The
 * gateway writes those series again to their own shard before it answers, so the first
 * copies are duplicates in the wrong shard lineage, and they may reach the destination after
 * the later samples of their series: Prometheus then refuses the whole request as out of
 * order. So in a record whose slot range is not inside the slots of the shard it was read
 * from, the series whose slot lies outside them are dropped; everything else is forwarded as
 * it came.
 */

/** A shard's slots, [first, last] inclusive. */
export type Slots = readonly [number, number];

/** Where the forwarder learns the slots of the shard a record was read from. */
export interface ShardSlotSource {
  /** The shard's slots; undefined when they cannot be known (a shard not listed, the listing failed). */
  slots(streamName: string, shardId: string): Promise<Slots | undefined>;
}

export interface ShardSlotsOptions {
  /** How long a listing is used before the stream is listed again (default 10 minutes). */
  readonly ttlMs?: number;
  /** A shard still unknown, or a failed listing, is not listed again sooner than this (default 1 s). */
  readonly retryMs?: number;
  /** Upper bound of one listing (default 5 s). */
  readonly timeoutMs?: number;
}

interface StreamShards {
  /** Slots by shard id; null for a shard whose hash-key range holds no slot. */
  shards: Map<string, Slots | null>;
  readAt: number;
  triedAt: number;
  reading?: Promise<void>;
}

/**
 * The slots of every shard of each stream, read with ListShards and cached per stream: read
 * when a stream is first asked about, again when the listing is older than its lifetime, and
 * when a shard is asked about that the listing does not hold (a child of a split or merge
 * since). One listing per stream at a time. A shard's hash-key range never changes, so a
 * failed listing keeps the shards already known; it is logged, and a shard it could not
 * name is reported unknown.
 */
export class ShardSlotsCache implements ShardSlotSource {
  private readonly streams = new Map<string, StreamShards>();
  private readonly ttlMs: number;
  private readonly retryMs: number;
  private readonly timeoutMs: number;

  constructor(
    private readonly lister: ShardLister,
    private readonly log: Logger,
    opts: ShardSlotsOptions = {},
    private readonly now: () => number = Date.now,
  ) {
    this.ttlMs = opts.ttlMs ?? 600_000;
    this.retryMs = opts.retryMs ?? 1_000;
    this.timeoutMs = opts.timeoutMs ?? 5_000;
  }

  async slots(streamName: string, shardId: string): Promise<Slots | undefined> {
    let entry = this.streams.get(streamName);
    if (entry === undefined) {
      entry = {
        shards: new Map(),
        readAt: Number.NEGATIVE_INFINITY,
        triedAt: Number.NEGATIVE_INFINITY,
      };
      this.streams.set(streamName, entry);
    }
    const fresh = this.now() - entry.readAt < this.ttlMs;
    if (!fresh || !entry.shards.has(shardId)) {
      if (entry.reading === undefined && this.now() - entry.triedAt >= this.retryMs) {
        entry.reading = this.read(streamName, entry);
      }
      await entry.reading;
    }
    return entry.shards.get(shardId) ?? undefined;
  }

  private async read(streamName: string, entry: StreamShards): Promise<void> {
    entry.triedAt = this.now();
    try {
      const listed = await this.lister.listShards(streamName, AbortSignal.timeout(this.timeoutMs));
      const shards = new Map<string, Slots | null>();
      for (const s of listed) shards.set(s.shardId, slotsOf(s.startingHashKey, s.endingHashKey) ?? null);
      entry.shards = shards;
      entry.readAt = this.now();
      this.log.debug("stream shards read", { streamName, shards: shards.size });
    } catch (err) {
      this.log.warn("cannot list the stream's shards; records of shards not known are forwarded whole", {
        streamName,
        error: errorLabel(err, 120, "unknown"),
        known: entry.shards.size,
      });
    } finally {
      entry.reading = undefined;
    }
  }
}

/** What a record body kept: the body (the original when nothing was dropped) and the series counts. */
export interface StrayCut {
  readonly body: Uint8Array;
  readonly kept: number;
  readonly dropped: number;
  /** v1 metadata entries (kept: they are not samples, and a repeated one does no harm). */
  readonly metadata: number;
}

const V1_TIMESERIES = 1;
const V1_METADATA = 3;
const V2_TIMESERIES = 5;
const utf8 = new TextDecoder();

/**
 * Drops from a record body (uncompressed) the series whose slot, computed over their decoded
 * labels and the record's tenant with the hash of the stream format that wrote the record
 * (`streamFormat`, from its partition key), lies outside `slots`. Every other top-level entry is
 * copied byte for byte, in order: kept series, v1 metadata, the v2 symbol table (whole: a
 * kept series' references stay valid, and the request stays self-contained). Throws
 * WireError when a series cannot be read.
 */
export function dropStraySeries(
  body: Uint8Array,
  version: Version,
  tenant: string | undefined,
  slots: Slots,
  streamFormat: 2 | 3,
): StrayCut {
  const slotOf = seriesSlotOf(streamFormat);
  const seriesField = version === "v1" ? V1_TIMESERIES : V2_TIMESERIES;
  const symbols = version === "v2" ? symbolRanges(body) : [];
  const [first, last] = slots;
  /** [start, end) of every top-level entry to drop. */
  const drops: number[] = [];
  let kept = 0;
  let metadata = 0;
  const top = new Reader(body);
  while (!top.done()) {
    const at = top.pos;
    const tag = top.tag();
    if (tag >>> 3 !== seriesField) {
      top.skip(tag & 7);
      if (version === "v1" && tag >>> 3 === V1_METADATA) metadata++;
      continue;
    }
    top.expect(tag & 7, WIRE_LEN, "timeseries");
    const end = top.lengthEnd();
    const labels = version === "v1" ? v1Labels(body, top.pos, end) : v2Labels(body, top.pos, end, symbols);
    top.pos = end;
    const slot = slotOf(labels, tenant);
    if (slot >= first && slot <= last) kept++;
    else drops.push(at, end);
  }
  const dropped = drops.length / 2;
  if (dropped === 0) return { body, kept, dropped, metadata };
  const out = new Writer(body.length);
  let from = 0;
  for (let i = 0; i < drops.length; i += 2) {
    out.bytes(body, from, drops[i]!);
    from = drops[i + 1]!;
  }
  out.bytes(body, from, body.length);
  return { body: out.finish(), kept, dropped, metadata };
}

/** A v1 TimeSeries' labels (field 1: Label{name=1, value=2}). */
function v1Labels(body: Uint8Array, start: number, end: number): Record<string, string> {
  const labels: Record<string, string> = {};
  const r = new Reader(body, start, end);
  const l = new Reader(body);
  while (!r.done()) {
    const tag = r.tag();
    if (tag >>> 3 !== 1) {
      r.skip(tag & 7);
      continue;
    }
    r.expect(tag & 7, WIRE_LEN, "label");
    const e = r.lengthEnd();
    let name = "";
    let value = "";
    l.at(r.pos, e);
    while (!l.done()) {
      const t = l.tag();
      const field = t >>> 3;
      if ((field === 1 || field === 2) && (t & 7) === WIRE_LEN) {
        const le = l.lengthEnd();
        const text = utf8.decode(body.subarray(l.pos, le));
        if (field === 1) name = text;
        else value = text;
        l.pos = le;
      } else l.skip(t & 7);
    }
    labels[name] = value;
    r.pos = e;
  }
  return labels;
}

/** A v2 TimeSeries' labels, through its request's symbol table. */
function v2Labels(body: Uint8Array, start: number, end: number, symbols: number[]): Record<string, string> {
  const refs: number[] = [];
  const r = new Reader(body, start, end);
  while (!r.done()) {
    const tag = r.tag();
    if (tag >>> 3 === 1) readRefs(r, tag & 7, refs);
    else r.skip(tag & 7);
  }
  if (refs.length % 2 !== 0) throw new WireError("labels_refs must come in name/value pairs");
  const text = (ref: number) => {
    const [s, e] = symbol(symbols, ref);
    return utf8.decode(body.subarray(s, e));
  };
  const labels: Record<string, string> = {};
  for (let k = 0; k < refs.length; k += 2) labels[text(refs[k]!)] = text(refs[k + 1]!);
  return labels;
}

export interface StrayOutcome {
  /** The batch's records, strays dropped: a record left with nothing to send is gone. */
  readonly items: CheckedRecord[];
  /** Series dropped as strays. */
  readonly series: number;
  /** Records that held strays only (no series and no metadata left to send): skipped whole. */
  readonly records: number;
  /** Records with slots (stream formats 2 and 3) forwarded whole because their shard's slots could not be known. */
  readonly unplaced: number;
}

/**
 * Drops the strays of a batch's records (see dropStraySeries). A record whose slot range
 * lies inside its shard's slots (every record but during a resharding) is left untouched,
 * unread; so are stream-format-1 records (they carry no slots), records whose shard cannot
 * be placed, and records whose series cannot be read (what cannot be proved a stray is
 * forwarded). A record that lost series is compressed again; its partition key stays.
 */
export async function dropStrays(
  items: readonly CheckedRecord[],
  source: ShardSlotSource,
  log: Logger,
): Promise<StrayOutcome> {
  const out: CheckedRecord[] = [];
  let series = 0;
  let records = 0;
  let unplaced = 0;
  const placed = new Map<string, Promise<Slots | undefined>>();
  const unknownShards = new Set<string>();
  for (const item of items) {
    if (
      !item.ok ||
      item.key.streamFormat === 1 ||
      item.key.slot === undefined ||
      item.key.lastSlot === undefined
    ) {
      out.push(item);
      continue;
    }
    const { streamName, shardId } = item.record;
    const where = `${streamName ?? ""}\u0000${shardId}`;
    let lookup = placed.get(where);
    if (lookup === undefined) {
      lookup = streamName === undefined ? Promise.resolve(undefined) : source.slots(streamName, shardId);
      placed.set(where, lookup);
    }
    const slots = await lookup;
    if (slots === undefined) {
      unplaced++;
      unknownShards.add(shardId);
      out.push(item);
      continue;
    }
    if (item.key.slot >= slots[0] && item.key.lastSlot <= slots[1]) {
      out.push(item);
      continue;
    }
    let cut: StrayCut;
    try {
      cut = dropStraySeries(item.body, item.version, item.key.tenant, slots, item.key.streamFormat);
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      log.warn("cannot read a record's series; forwarded whole", {
        partitionKey: item.record.partitionKey,
        error: err.message.slice(0, 120),
      });
      out.push(item);
      continue;
    }
    if (cut.dropped === 0) {
      out.push(item);
      continue;
    }
    series += cut.dropped;
    if (cut.kept === 0 && cut.metadata === 0) {
      records++;
      continue;
    }
    const kept: GoodRecord = {
      ...item,
      record: { ...item.record, data: compress(cut.body) },
      body: cut.body,
    };
    out.push(kept);
  }
  if (unplaced > 0) {
    log.warn("the slots of a shard are not known; its records are forwarded whole", {
      shardIds: [...unknownShards],
      records: unplaced,
    });
  }
  if (series > 0) log.info("stray series dropped", { series, records });
  return { items: out, series, records, unplaced };
}
