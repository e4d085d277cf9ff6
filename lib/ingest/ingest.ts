import { decompressInto, SnappyError } from "../codec/snappy";
import { WireError } from "../codec/wire";
import { MAX_PARTITION_KEY_LENGTH } from "../stream/limits";
import { chunkLimit } from "../stream/records";
import { ShardMap, type SlotRanges } from "../stream/shard-map";
import { UnreadableBodyError } from "./errors";
import type { ProtocolVersion } from "./negotiate";
import type { IngestOutput } from "./output";
import { ingestV1, ingestV2 } from "./pipeline";
import type { PlanOptions } from "./plan/options";
import type { LabelLimits } from "./scan/validate";
import { IngestScratch } from "./scratch";

export type { IngestOutput } from "./output";

/** The slice of configuration the decode → validate → route path needs. */
export interface IngestSettings {
  readonly limits: LabelLimits;
  /** The shards assumed until the stream's map is read (STREAM_SHARDS): equal slices. */
  readonly streamShards: number;
  /** The stream's record limit: data plus partition key (MAX_RECORD_BYTES). */
  readonly maxRecordBytes: number;
  readonly maxDecodedBytes: number;
  /** Longest metadata help, unit and metric family name, in bytes (MAX_METADATA_LENGTH). */
  readonly maxMetadataLength: number;
}

/**
 * Turns one request body (snappy-compressed protobuf) into records ready for PutRecords,
 * with exact counts of what they carry and of what was rejected, by reason.
 * Throws UnreadableBodyError for an unreadable body, with `tooLarge` when the declared
 * decoded size is over the limit (the app answers 400 and 413).
 *
 * One Ingestor prepares one request at a time (prepare is synchronous): its work buffers
 * (`IngestScratch`: the decoded request with room for a record body after it, the scan's
 * lists, the body writers) are reused by the next request.
 */
export class Ingestor {
  /** Room after the decoded bytes for assembling one record body. */
  private readonly room: number;
  /** The largest record data: the record limit less the longest partition key. */
  private readonly maxDataBytes: number;
  /** The map a request is packed by when the caller gives none. */
  readonly defaultMap: ShardMap;
  private readonly scratch = new IngestScratch();

  constructor(private readonly settings: IngestSettings) {
    this.maxDataBytes = settings.maxRecordBytes - MAX_PARTITION_KEY_LENGTH;
    this.room = chunkLimit(this.maxDataBytes);
    this.defaultMap = ShardMap.uniform(settings.streamShards);
  }

  /**
   * `map`: the stream's open shards, the records are packed per shard; `only`: plan only the
   * series whose slot lies in these ranges (writing strays again, lib/ingest/placement.ts);
   * `rewrite`: a pass over the decoded request before it is scanned (HA deduplication takes
   * the replica label out), returning the bytes to scan.
   */
  prepare(
    body: Uint8Array,
    version: ProtocolVersion,
    tenant: string | undefined,
    map: ShardMap = this.defaultMap,
    only?: SlotRanges,
    rewrite?: RequestRewrite,
  ): IngestOutput {
    const decoded = this.decode(body);
    return this.plan(rewrite === undefined ? decoded : rewrite(decoded, version), version, tenant, map, only);
  }

  /**
   * The first step of `prepare` alone: the body decompressed into this Ingestor's work
   * buffer, valid until its next `decode` or `prepare` (copy it to keep it across an await).
   */
  decode(body: Uint8Array): Uint8Array {
    if (body.length === 0) throw new UnreadableBodyError("empty-body", "empty request body");
    try {
      // decoded bytes and work room are done with when prepare returns: records are compressed copies
      return decompressInto(body, this.settings.maxDecodedBytes, this.scratch.request, this.room);
    } catch (err) {
      if (!(err instanceof SnappyError)) throw err;
      throw new UnreadableBodyError(err.code, err.message, err.code === "decoded-too-large");
    }
  }

  /**
   * The rest of `prepare`: a decoded request to its records. `decoded` is `decode`'s answer
   * (or a prefix of it), whose room after it is then used to assemble records, or any other
   * buffer of the decoded request.
   */
  plan(
    decoded: Uint8Array,
    version: ProtocolVersion,
    tenant: string | undefined,
    map: ShardMap = this.defaultMap,
    only?: SlotRanges,
  ): IngestOutput {
    const opts: PlanOptions = {
      limits: this.settings.limits,
      map,
      ...(only === undefined ? {} : { only }),
      maxRecordBytes: this.maxDataBytes,
      maxMetadataLength: this.settings.maxMetadataLength,
      tenant,
    };
    try {
      const work = this.scratch.request.bytes;
      return version === "v1"
        ? ingestV1(decoded, opts, this.scratch, work)
        : ingestV2(decoded, opts, this.scratch, work);
    } catch (err) {
      if (err instanceof WireError) throw malformed(version, err);
      throw err;
    }
  }
}

/** A pass over a decoded request before its scan (Ingestor.prepare): the bytes to scan. */
export type RequestRewrite = (decoded: Uint8Array, version: ProtocolVersion) => Uint8Array;

/** The 400 of a body that is not the message its version says, as the scan answers it. */
export function malformed(version: ProtocolVersion, err: WireError): UnreadableBodyError {
  const schema = version === "v1" ? "prometheus.WriteRequest" : "io.prometheus.write.v2.Request";
  return new UnreadableBodyError("protobuf-malformed", `malformed ${schema}: ${err.message}`);
}
