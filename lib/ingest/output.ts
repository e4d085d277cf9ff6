import type { StreamRecord } from "../stream/records";
import type { Rejections, Tally } from "./scan/tally";

/** What scanning one request produced: its records, what was written, what was rejected and why. */
export interface IngestOutput {
  records: StreamRecord[];
  /** The shard-map group each record was packed for, index by index. */
  groups: number[];
  written: Tally;
  rejected: Rejections;
}
