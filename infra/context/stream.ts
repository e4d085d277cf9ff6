import { int, oneOf, type ValuesOf, within } from "../../lib/core/config";
import { MAX_RECORD_BYTES, STREAM_SHARDS } from "../../lib/ingest/config";
import { contextError, type Given } from "./read";

/** The Kinesis stream the ingest function writes (only with the ingest component). */

export type StreamMode = "on-demand" | "provisioned";

export const STREAM_KEYS = {
  streamMode: oneOf(["on-demand", "provisioned"], {
    default: "on-demand",
    doc: "`on-demand` or `provisioned`",
  }),
  // sets the stream's shard count and the function's STREAM_SHARDS
  streamShards: within(STREAM_SHARDS, {
    min: 1,
    max: 10_000,
    default: undefined,
    doc: "shard count, 1 to 10000; only with `streamMode=provisioned` (then default 1)",
  }),
  streamRetentionHours: int({ min: 24, max: 8760, default: 24, doc: "record retention, 24 to 8760 hours" }),
  // KiB: the stream's MaxRecordSizeInKiB and, times 1024, the function's MAX_RECORD_BYTES
  streamMaxRecordKiB: within(MAX_RECORD_BYTES, {
    min: 1024,
    max: 10_240,
    scale: 1024,
    default: 1024,
    doc: "the stream's record limit (`MaxRecordSizeInKiB`, 1024 to 10240) and the ingest function's `MAX_RECORD_BYTES`, set together so the function never writes a record the stream refuses; at most 4096 with the forwarder (a Lambda event holds 6 MB). Raise it only if every consumer takes records that large",
  }),
} as const;

export interface StreamSettings {
  readonly mode: StreamMode;
  /** Only for provisioned mode. */
  readonly shards?: number;
  readonly retentionHours: number;
  /** The stream's record limit, data plus partition key, KiB (Kinesis: 1024 to 10240). */
  readonly maxRecordKiB: number;
}

export function streamSettings(v: ValuesOf<typeof STREAM_KEYS>, given: Given): StreamSettings {
  const mode = v.streamMode;
  if (given("streamShards") && mode === "on-demand") {
    throw contextError("streamShards", "applies only with streamMode=provisioned");
  }
  return {
    mode,
    shards: mode === "provisioned" ? (v.streamShards ?? 1) : undefined,
    retentionHours: v.streamRetentionHours,
    maxRecordKiB: v.streamMaxRecordKiB,
  };
}
