import { Reader, WIRE_LEN, WIRE_VARINT, WireError } from "../../codec/wire";
import type { PlanOptions } from "../plan/options";
import type { PlanV2 } from "../plan/v2";
import type { IngestScratch } from "../scratch";
import { checkHistogram, type HistogramReason } from "./histogram";
import { tenantSeed } from "./labels";
import { type IntList, RangeList } from "./range-list";
import { forEachRef, readRefs } from "./refs-v2";
import { checkMessage, SCHEMA } from "./schema";
import { checkSample, isCanonicalSample } from "./series-checks";
import { noteSymbolRun, SymbolCheck } from "./symbols";
import { emptyTally, Rejections, type Tally } from "./tally";
import type { RejectReason } from "./validate";

/**
 * Remote-Write 2.0: io.prometheus.write.v2.Request. Strings live once in `symbols` and
 * series point at them by index. The scan reads the symbols and series as byte ranges,
 * checks each symbol's UTF-8 once, and each series' references, labels, samples, histograms,
 * exemplars and metadata where they lie; a series that passes goes to `plan` with what its
 * record needs to know (its label references in name order, a bound of its re-encoded size);
 * what does not is counted by reason.
 */
const F_SYMBOLS = 4;
const F_TIMESERIES = 5;

/** What the scan leaves for the encoder: the request's symbols and the accepted series' label refs. */
export interface ScannedV2 {
  written: Tally;
  rejected: Rejections;
  symbols: RangeList;
  refPool: IntList;
}

export function scanV2(buf: Uint8Array, opts: PlanOptions, plan: PlanV2, scratch: IngestScratch): ScannedV2 {
  const seed = tenantSeed(opts.tenant);
  const { symbols, series: seriesRanges } = scratch.v2Ranges();
  // runs of adjacent symbols framed in single bytes (`22 len`), for one UTF-8 check per run
  const symbolRuns = new RangeList(4);
  const top = new Reader(buf);
  const n = buf.length;
  while (!top.done()) {
    const entryStart = top.pos;
    // fast path: a symbol (`22 len`) or a series (`2a len len`) with a one- or two-byte length
    const t = buf[entryStart]!;
    if ((t === 0x22 || t === 0x2a) && entryStart + 2 < n) {
      let len = buf[entryStart + 1]!;
      let start = entryStart + 2;
      if (len >= 0x80) {
        const b2 = buf[entryStart + 2]!;
        len = b2 < 0x80 ? (len & 0x7f) | (b2 << 7) : -1;
        start++;
      }
      const end = start + len;
      if (len >= 0 && end <= n) {
        if (t === 0x2a) {
          seriesRanges.push(start, end);
        } else {
          symbols.push(start, end);
          noteSymbolRun(symbolRuns, entryStart, start, end);
        }
        top.pos = end;
        continue;
      }
    }
    const tag = top.tag();
    const field = tag >>> 3;
    if (field !== F_SYMBOLS && field !== F_TIMESERIES) {
      // reserved in v2, used by v1: a v1 WriteRequest sent as v2 would otherwise pass as empty
      if (field <= 3) throw new WireError(`field ${field} is reserved in v2: is this a v1 WriteRequest?`);
      top.skip(tag & 7);
      continue;
    }
    top.expect(tag & 7, WIRE_LEN, field === F_SYMBOLS ? "symbol" : "timeseries");
    const end = top.lengthEnd();
    const start = top.pos;
    (field === F_SYMBOLS ? symbols : seriesRanges).push(start, end);
    if (field === F_SYMBOLS) noteSymbolRun(symbolRuns, entryStart, start, end);
    top.pos = end;
  }
  if (symbols.length > 0 && symbols.end(0) !== symbols.start(0)) {
    throw new WireError('symbols[0] must be the empty string ""');
  }

  const symbolOk = new SymbolCheck(buf, symbols, symbolRuns);

  const written = emptyTally();
  const rejected = new Rejections();
  const labels = scratch.labels();
  const { refs, refPool } = scratch;
  refPool.length = 0;
  const r = new Reader(buf);
  const scan = newSeriesScan();

  for (let i = 0; i < seriesRanges.length; i++) {
    const start = seriesRanges.start(i);
    const end = seriesRanges.end(i);
    scanSeries(r.at(start, end), refs, symbolOk, scan, opts.maxMetadataLength);
    // labels_refs must come in pairs, each naming a symbol in range and valid UTF-8
    let reason: RejectReason | undefined =
      scan.badRef || refs.length % 2 !== 0 ? "symbol-ref-invalid" : undefined;
    if (reason === undefined) {
      labels.reset();
      const rd = refs.data;
      for (let k = 0; k + 1 < refs.length; k += 2) {
        const n = rd[k]!;
        const v = rd[k + 1]!;
        if (!symbolOk.ok(n) || !symbolOk.ok(v)) {
          reason = "symbol-ref-invalid";
          break;
        }
        labels.push(symbols.start(n), symbols.end(n), symbols.start(v), symbols.end(v), n, v);
      }
      reason ??= labels.validate(buf, opts.limits, seed) ?? scan.histogram;
    }
    if (reason !== undefined) {
      rejected.add(reason);
      continue;
    }
    if (!plan.wants(labels.hash)) continue;
    const refsAt = refPool.length;
    for (let k = 0; k < labels.count; k++) {
      const l = labels.order[k]!;
      refPool.push(labels.aux[l]!);
      refPool.push(labels.aux2[l]!);
    }
    // the series re-encoded, with every symbol it refers to: it must fit one record alone
    let symbolBytes = 2 + scan.exemplarSymbolBytes;
    if (!scan.metadataTooLong) symbolBytes += scan.metadataSymbolBytes;
    for (let k = 0; k < labels.count; k++) {
      symbolBytes += 12 + labels.ne[k]! - labels.ns[k]! + labels.ve[k]! - labels.vs[k]!;
    }
    const bound = end - start + 5 * scan.refCount + 16;
    if (!plan.fits(bound + symbolBytes)) {
      rejected.add("series-too-large");
      continue;
    }
    if (scan.metadataTooLong) rejected.addMetadata("metadata-too-long");
    const otherRefs = scan.exemplars > 0 || scan.metadata > 0;
    plan.add(labels.hash, {
      start,
      end,
      refsAt,
      refsLen: labels.count * 2,
      bound,
      otherRefs,
      dropMetadata: scan.metadataTooLong,
      restStart: scan.restStart,
    });
    written.series++;
    written.samples += scan.samples;
    written.histograms += scan.histograms;
    written.exemplars += scan.exemplars;
    if (!scan.metadataTooLong) written.metadata += scan.metadata;
  }

  return { written, rejected, symbols, refPool };
}

interface SeriesScan {
  samples: number;
  histograms: number;
  exemplars: number;
  metadata: number;
  refCount: number;
  badRef: boolean;
  restStart: number;
  /** Bytes of the symbols exemplar labels and metadata refer to (framing included). */
  exemplarSymbolBytes: number;
  metadataSymbolBytes: number;
  /** A metadata help or unit longer than the limit. */
  metadataTooLong: boolean;
  /** Why the first histogram Prometheus would refuse is refused (the series is then refused). */
  histogram: HistogramReason | undefined;
}

const newSeriesScan = (): SeriesScan => ({
  samples: 0,
  histograms: 0,
  exemplars: 0,
  metadata: 0,
  refCount: 0,
  badRef: false,
  restStart: -1,
  exemplarSymbolBytes: 0,
  metadataSymbolBytes: 0,
  metadataTooLong: false,
  histogram: undefined,
});

/** Reads labels_refs (packed or not) into `refs` and checks every other reference. */
function scanSeries(
  r: Reader,
  refs: IntList,
  symbols: SymbolCheck,
  out: SeriesScan,
  maxMetadataLength: number,
): void {
  refs.length = 0;
  out.exemplarSymbolBytes = 0;
  out.metadataSymbolBytes = 0;
  out.metadataTooLong = false;
  out.histogram = undefined;
  out.samples = 0;
  out.histograms = 0;
  out.exemplars = 0;
  out.metadata = 0;
  out.refCount = 0;
  out.badRef = false;
  const end = r.end;
  const buf = r.buf;
  // labels_refs first, then everything else: restStart is where the rest begins
  let labelsFirst = true;
  let restStart = r.pos;
  while (r.pos < end) {
    const entryStart = r.pos;
    const first = buf[entryStart]!;
    if (first === 0x0a && entryStart + 1 < end && buf[entryStart + 1]! < 0x80) {
      // packed labels_refs with a one-byte length: one-byte refs read here
      const e = entryStart + 2 + buf[entryStart + 1]!;
      if (e > end) throw new WireError("length runs past the end of the message");
      let p = entryStart + 2;
      while (p < e) {
        const b = buf[p]!;
        if (b < 0x80) {
          refs.push(b);
          p++;
        } else if (p + 1 < e && buf[p + 1]! < 0x80) {
          refs.push((b & 0x7f) | (buf[p + 1]! << 7));
          p += 2;
        } else {
          break;
        }
      }
      if (p < e) {
        r.pos = p;
        r.end = e;
        while (r.pos < e) refs.push(r.uint32());
        r.end = end;
      }
      r.pos = e;
      if (labelsFirst) restStart = e;
      else restStart = -1;
      continue;
    }
    if (first === 0x12 && entryStart + 12 < end) {
      const ms = entryStart + 2;
      const me = ms + buf[entryStart + 1]!;
      if (buf[entryStart + 1]! < 0x80 && me <= end && isCanonicalSample(buf, ms, me)) {
        out.samples++;
        r.pos = me;
        labelsFirst = false;
        continue;
      }
    }
    const tag = r.tag();
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 1) {
      readRefs(r, wt, refs);
      if (labelsFirst) restStart = r.pos;
      else restStart = -1;
      continue;
    }
    labelsFirst = false;
    if (field < 2 || field > 5) {
      // created_timestamp (int64), from senders before Prometheus 3.8
      if (field === 6) r.expect(wt, WIRE_VARINT, "created_timestamp");
      r.skip(wt);
      continue;
    }
    r.expect(wt, WIRE_LEN, "timeseries field");
    const e = r.lengthEnd();
    const s = r.pos;
    if (field === 2) {
      if (!isCanonicalSample(buf, s, e)) checkSample(buf, s, e, 3);
      out.samples++;
    } else if (field === 3) {
      const why = checkHistogram(buf, s, e, true);
      if (why !== undefined) out.histogram ??= why;
      out.histograms++;
    } else if (field === 4) {
      checkMessage(buf, s, e, SCHEMA.v2.exemplar);
      const exemplarRefs: number[] = [];
      forEachRef(buf, s, e, 1, (ref) => exemplarRefs.push(ref));
      if (exemplarRefs.length % 2 !== 0 || !exemplarRefs.every((ref) => symbols.ok(ref))) out.badRef = true;
      else for (const ref of exemplarRefs) out.exemplarSymbolBytes += 6 + symbols.length(ref);
      out.refCount += exemplarRefs.length;
      out.exemplars++;
    } else {
      checkMessage(buf, s, e, SCHEMA.v2.metadata);
      forEachRef(buf, s, e, 0, (ref) => {
        out.refCount++;
        if (!symbols.ok(ref)) {
          out.badRef = true;
          return;
        }
        const length = symbols.length(ref);
        if (length > maxMetadataLength) out.metadataTooLong = true;
        out.metadataSymbolBytes += 6 + length;
      });
      out.metadata++;
    }
    r.pos = e;
    r.end = end;
  }
  // the label refs themselves are checked by the caller, as it reads their symbols
  out.refCount += refs.length;
  out.restStart = restStart;
}
