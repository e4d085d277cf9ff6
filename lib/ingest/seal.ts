import { type ProtocolVersion, type StreamRecord, sealRecord } from "../stream/records";
import type { ShardMap } from "../stream/shard-map";

/**
 * The records of one request, in the order they are sealed (group by group, each group's in
 * plan order): each body compressed and named (`sealRecord`: partition key with the group's
 * slots and the body's id, the group's explicit hash key), with the group it was packed for.
 */
export class SealedRecords {
  readonly records: StreamRecord[] = [];
  /** The shard-map group each record was packed for, index by index. */
  readonly groups: number[] = [];

  constructor(
    private readonly version: ProtocolVersion,
    private readonly tenant: string | undefined,
    private readonly map: ShardMap,
  ) {}

  /** Seals a body of group `g`; the body may be scratch reused at once (it is not kept). */
  seal(body: Uint8Array, g: number): void {
    this.records.push(sealRecord(body, this.version, this.tenant, g, this.map));
    this.groups.push(g);
  }
}
