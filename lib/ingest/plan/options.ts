import type { ShardMap, SlotRanges } from "../../stream/shard-map";
import type { LabelLimits } from "../scan/validate";

/** How one request's series are planned into records: label limits, the shard map, record size. */
export interface PlanOptions {
  readonly limits: LabelLimits;
  /** The stream's open shards: series are packed per group (shard), by their slot. */
  readonly map: ShardMap;
  /**
   * Only the series (and v1 metadata) whose slot lies in these ranges are planned: a second
   * pass that writes strays again to their own shard (lib/ingest/placement.ts).
   */
  readonly only?: SlotRanges;
  /** Largest record data (after compression), the partition key's room already taken off. */
  readonly maxRecordBytes: number;
  /** Longest metadata help, unit and metric family name, in bytes. */
  readonly maxMetadataLength: number;
  readonly tenant: string | undefined;
}
