import type { Logger } from "../core/log";
import { METRIC_NAMES } from "../core/metric-names";
import type { Metrics } from "../core/metrics";
import type { StreamRecord } from "../stream/records";
import type { ShardMap, SlotRanges } from "../stream/shard-map";
import type { Ingestor, RequestRewrite } from "./ingest";
import type { ProtocolVersion } from "./negotiate";
import type { IngestOutput } from "./output";
import type { ShardMapSource } from "./shard-source";
import type { RecordSink } from "./sink";

/** Rounds of writing strays again before the request is answered as it stands. */
const MAX_ROUNDS = 3;

/**
 * The slots of records that landed on a shard not holding all their series: each record's
 * group (planned by `planned`) less the slots of the shard it landed on (by `fresh`). Records
 * whose shard `planned` names are in place without a look; `unknown` counts landed shards that
 * `fresh` does not know either.
 */
export function strays(
  records: readonly StreamRecord[],
  groups: readonly number[],
  planned: ShardMap,
  fresh: ShardMap,
): { ranges: SlotRanges; unknown: number } {
  const out: [number, number][] = [];
  let unknown = 0;
  for (let i = 0; i < records.length; i++) {
    const landed = records[i]!.shardId;
    const g = groups[i]!;
    if (landed === undefined || planned.shardIds[g] === landed) continue;
    const at = fresh.shardSlots(landed);
    if (at === undefined) {
      unknown++;
      continue;
    }
    const [lo, hi] = planned.slots(g);
    if (lo < at[0]) out.push([lo, Math.min(hi, at[0] - 1)]);
    if (hi > at[1]) out.push([Math.max(lo, at[1] + 1), hi]);
  }
  return { ranges: merge(out), unknown };
}

/** True when every written record landed on the shard its map planned it for. */
export function inPlace(
  records: readonly StreamRecord[],
  groups: readonly number[],
  planned: ShardMap,
): boolean {
  for (let i = 0; i < records.length; i++) {
    const landed = records[i]!.shardId;
    if (landed !== undefined && planned.shardIds[groups[i]!] !== landed) return false;
  }
  return true;
}

function merge(ranges: [number, number][]): SlotRanges {
  if (ranges.length < 2) return ranges;
  ranges.sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [ranges[0]!];
  for (let i = 1; i < ranges.length; i++) {
    const last = out[out.length - 1]!;
    const r = ranges[i]!;
    if (r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
    else out.push(r);
  }
  return out;
}

/** What writing one request needs besides its records. */
export interface PlacementContext {
  readonly ingestor: Ingestor;
  readonly sink: RecordSink;
  readonly shards: ShardMapSource;
  readonly log: Logger;
  readonly metrics: Metrics;
}

/**
 * After a request's records are written: when the answers name shards the map did not plan
 * for (the stream was split or merged since the map was read, or the map is still the default
 * one), reads the map again and writes the series that landed outside their own shard once
 * more, packed by the fresh map, so that every series' samples are in its own shard lineage
 * before the request is answered. A merge strands nothing (the merged shard holds both
 * parents' slots); a split strands the slots of the other child. The first copies stay where
 * they are: a consumer that needs strict order skips series outside the shard it reads
 * (docs/stream-format.md). Throws as the sink does when a second write fails. `rewrite`: the
 * pass the first records were planned after (Ingestor.prepare), applied again.
 */
export async function settlePlacement(
  ctx: PlacementContext,
  body: Uint8Array,
  version: ProtocolVersion,
  tenant: string | undefined,
  first: IngestOutput,
  map: ShardMap,
  answeredAt: number,
  deadline: number | undefined,
  rewrite?: RequestRewrite,
): Promise<void> {
  let records = first.records;
  let groups = first.groups;
  let planned = map;
  let answered = answeredAt;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    if (inPlace(records, groups, planned)) return;
    // any map newer than the one packed by (shared by the requests of a cold start) ...
    let fresh = await ctx.shards.readSince(planned.readAt + 1, deadline);
    if (!fresh.read || fresh.readAt <= planned.readAt) {
      ctx.metrics.count(METRIC_NAMES.placementUnverified, records.length);
      ctx.log.warn("cannot check where records landed: the shard map could not be read", {
        records: records.length,
      });
      return;
    }
    let found = strays(records, groups, planned, fresh);
    if (found.unknown > 0 && fresh.readAt < answered) {
      // ... and one read after the answer when that map does not know where they landed
      fresh = await ctx.shards.readSince(answered, deadline);
      found = strays(records, groups, planned, fresh);
    }
    const { ranges, unknown } = found;
    if (unknown > 0) {
      ctx.metrics.count(METRIC_NAMES.placementUnverified, unknown);
      ctx.log.warn("records landed on shards the fresh shard map does not hold", { records: unknown });
    }
    if (ranges.length === 0) return;
    const again = ctx.ingestor.prepare(body, version, tenant, fresh, ranges, rewrite);
    if (again.records.length === 0) return;
    ctx.metrics.count(METRIC_NAMES.recordsRerouted, again.records.length);
    ctx.log.info("series written again to their own shards after a resharding", {
      records: again.records.length,
      ranges: ranges.length,
    });
    await ctx.sink.put(again.records, deadline);
    records = again.records;
    groups = again.groups;
    planned = fresh;
    answered = Date.now();
  }
}
