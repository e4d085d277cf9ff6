import { Reader, Writer } from "../codec/wire";
import { WorkBuffer } from "../codec/work-buffer";
import { LabelScratch } from "./scan/labels";
import { IntList, RangeList } from "./scan/range-list";

/**
 * The work buffers of the ingest path, owned by one Ingestor and reused by each of its
 * requests: the scan is synchronous and nothing in these outlives a request (records are
 * compressed copies), so the next request may write over them. A request that grew one
 * past what a usual request needs leaves it to be replaced rather than kept.
 */
export class IngestScratch {
  /** The decoded request at its start, with room after it for assembling one record body. */
  readonly request = new WorkBuffer();
  /** Where record bodies are assembled when the request's room is not used. */
  readonly body = new Writer(64 * 1024);
  /** v2: the series of the record being built (its symbol table goes before them). */
  readonly recordSeries = new Writer(64 * 1024);
  /** v2: one series re-encoded, and its packed label references. */
  readonly series = new Writer(4096);
  readonly packedRefs = new Writer(256);
  /** A reader moved over one message after another (labels, series). */
  readonly reader = new Reader(new Uint8Array(0));
  /** v2: the label references of the series being scanned, then of every accepted series. */
  readonly refs = new IntList(64);
  readonly refPool = new IntList(4096);

  private labelScratch = new LabelScratch();
  private readonly seriesLists: RangeList[] = [];
  private readonly metadataLists: RangeList[] = [];
  private symbolRanges = new RangeList(1024);
  private seriesRanges = new RangeList(1024);

  /** The labels of one series at a time. */
  labels(): LabelScratch {
    if (this.labelScratch.ns.length > SCRATCH_KEEP) this.labelScratch = new LabelScratch();
    return this.labelScratch;
  }

  /** v1: `n` empty lists of series entries, one per group. */
  seriesPerGroup(n: number): RangeList[] {
    return cleared(this.seriesLists, n, 64);
  }

  /** v1: `n` empty lists of metadata entries, one per group. */
  metadataPerGroup(n: number): RangeList[] {
    return cleared(this.metadataLists, n, 4);
  }

  /** v2: the request's symbols and series, as byte ranges (empty). */
  v2Ranges(): { symbols: RangeList; series: RangeList } {
    if (this.symbolRanges.data.length > 2 * SCRATCH_KEEP) this.symbolRanges = new RangeList(1024);
    if (this.seriesRanges.data.length > 2 * SCRATCH_KEEP) this.seriesRanges = new RangeList(1024);
    this.symbolRanges.length = 0;
    this.seriesRanges.length = 0;
    return { symbols: this.symbolRanges, series: this.seriesRanges };
  }
}

/** Scratch grown past this many entries by a large request is replaced, not kept. */
const SCRATCH_KEEP = 1 << 14;

/** The first `n` lists of `pool`, emptied (created as needed). */
function cleared(pool: RangeList[], n: number, capacity: number): RangeList[] {
  while (pool.length < n) pool.push(new RangeList(capacity));
  for (let b = 0; b < n; b++) {
    if (pool[b]!.data.length > 2 * SCRATCH_KEEP) pool[b] = new RangeList(capacity);
    pool[b]!.length = 0;
  }
  return pool;
}
