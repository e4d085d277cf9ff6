import { chunkLimit } from "../stream/records";
import { encodeRecordV1 } from "./encode/v1";
import { RecordBuilderV2 } from "./encode/v2";
import type { IngestOutput } from "./output";
import type { PlanOptions } from "./plan/options";
import { PlanV1 } from "./plan/v1";
import { PlanV2 } from "./plan/v2";
import { scanV1 } from "./scan/v1";
import { scanV2 } from "./scan/v2";
import type { IngestScratch } from "./scratch";
import { SealedRecords } from "./seal";

/**
 * One decoded request to its records, in four steps: scan (wire bytes to validated series,
 * scan/), plan (which series go to which record, by the shard map, plan/), encode (the
 * record bodies, encode/), seal (compressed and named, seal.ts). Throws WireError for a
 * request that is not the message it claims to be.
 *
 * `work`, when given, is a buffer that holds `buf` at its start and has free room after it
 * (the Ingestor decodes the request so): record bodies are then assembled there. Anything
 * else (undefined, or a buffer that is not `buf`'s own) assembles them in the scratch's
 * writers; the records are the same either way.
 */
export function ingestV1(
  buf: Uint8Array,
  opts: PlanOptions,
  scratch: IngestScratch,
  work?: Uint8Array,
): IngestOutput {
  const plan = new PlanV1(opts.map, opts.only, chunkLimit(opts.maxRecordBytes), scratch);
  const { written, rejected } = scanV1(buf, opts, plan, scratch);
  const room = roomAfter(buf, work);
  const out = new SealedRecords("v1", opts.tenant, opts.map);
  for (let g = 0; g < opts.map.count; g++) {
    const n = plan.count(g);
    for (let from = 0; from < n; ) {
      const to = plan.cut(g, from);
      out.seal(encodeRecordV1(buf, plan, g, from, to, plan.bodySize, room, scratch.body), g);
      from = to;
    }
  }
  return { records: out.records, groups: out.groups, written, rejected };
}

export function ingestV2(
  buf: Uint8Array,
  opts: PlanOptions,
  scratch: IngestScratch,
  work?: Uint8Array,
): IngestOutput {
  const plan = new PlanV2(opts.map, opts.only, chunkLimit(opts.maxRecordBytes));
  const { written, rejected, symbols, refPool } = scanV2(buf, opts, plan, scratch);
  const builder = new RecordBuilderV2(buf, symbols, refPool.data, plan.limit, roomAfter(buf, work), scratch);
  const out = new SealedRecords("v2", opts.tenant, opts.map);
  for (let g = 0; g < plan.groups.length; g++) {
    for (const body of builder.build(plan.groups[g]!)) out.seal(body, g);
  }
  return { records: out.records, groups: out.groups, written, rejected };
}

/** `work` when it holds `buf` at its start (the room after `buf` is free), else undefined. */
function roomAfter(buf: Uint8Array, work: Uint8Array | undefined): Uint8Array | undefined {
  return work !== undefined && work.buffer === buf.buffer && work.byteOffset === buf.byteOffset
    ? work
    : undefined;
}
