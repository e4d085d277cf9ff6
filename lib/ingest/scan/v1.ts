import { Reader, WIRE_LEN, WireError } from "../../codec/wire";
import type { PlanOptions } from "../plan/options";
import type { PlanV1 } from "../plan/v1";
import type { IngestScratch } from "../scratch";
import { checkHistogram, type HistogramReason } from "./histogram";
import { type LabelScratch, nameSlot, tenantSeed } from "./labels";
import { checkMessage, SCHEMA } from "./schema";
import { checkSample, isCanonicalSample, varintEndsAt } from "./series-checks";
import { emptyTally, Rejections, type Tally } from "./tally";

const F_TIMESERIES = 1;
const F_METADATA = 3;

/**
 * Remote-Write 1.0: scans a decoded prometheus.WriteRequest without materialising it.
 * Labels are read as byte ranges, then validated and hashed (the series' slot); samples,
 * exemplars and histograms are checked where they lie, as Prometheus would judge them. Each
 * series and metadata entry that passes goes to `plan` (which record it goes to); what does
 * not is counted by reason.
 */
export function scanV1(
  buf: Uint8Array,
  opts: PlanOptions,
  plan: PlanV1,
  scratch: IngestScratch,
): { written: Tally; rejected: Rejections } {
  const seed = tenantSeed(opts.tenant);
  const written = emptyTally();
  const rejected = new Rejections();
  const labels = scratch.labels();
  const labelReader = scratch.reader;
  const counts: SeriesCounts = { samples: 0, histograms: 0, exemplars: 0, utf8: true, histogram: undefined };
  const top = new Reader(buf);
  const inner = new Reader(buf);

  while (!top.done()) {
    const entryStart = top.pos;
    const tag = top.tag();
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field !== F_TIMESERIES && field !== F_METADATA) {
      // v2's symbols and timeseries: a v2 Request sent as v1 would otherwise pass as empty
      if (field === 4 || field === 5)
        throw new WireError(`field ${field} is not in v1: is this a v2 Request?`);
      top.skip(wt);
      continue;
    }
    top.expect(wt, WIRE_LEN, field === F_TIMESERIES ? "timeseries" : "metadata");
    const end = top.lengthEnd();
    const start = top.pos;
    top.pos = end;
    if (field === F_METADATA) {
      const nameHash = scanMetadata(inner.at(start, end), seed, opts.maxMetadataLength);
      if (nameHash < 0) {
        rejected.addMetadata("metadata-too-long");
        continue;
      }
      if (!plan.wants(nameHash)) continue;
      plan.addMetadata(nameHash, entryStart, end);
      written.metadata++;
      continue;
    }
    scanSeries(inner.at(start, end), labels, counts, labelReader);
    const reason = counts.utf8
      ? (labels.validate(buf, opts.limits, seed) ?? counts.histogram)
      : "label-value-invalid-utf8";
    if (reason !== undefined) {
      rejected.add(reason);
      continue;
    }
    if (!plan.wants(labels.hash)) continue;
    if (!plan.addSeries(buf, entryStart, start, end, labels)) {
      rejected.add("series-too-large");
      continue;
    }
    written.series++;
    written.samples += counts.samples;
    written.histograms += counts.histograms;
    written.exemplars += counts.exemplars;
  }
  return { written, rejected };
}

interface SeriesCounts {
  samples: number;
  histograms: number;
  exemplars: number;
  /** false when an exemplar's label is not valid UTF-8 (the series is then refused) */
  utf8: boolean;
  /** Why the first histogram Prometheus would refuse is refused (the series is then refused). */
  histogram: HistogramReason | undefined;
}

/**
 * Reads one TimeSeries: fills `labels`, checks the full structure of samples, exemplars
 * and histograms (they are copied into records as they came), and each histogram's
 * counts, spans and schema as Prometheus does (histogram.ts).
 */
function scanSeries(r: Reader, labels: LabelScratch, counts: SeriesCounts, labelReader: Reader): void {
  labels.reset();
  counts.samples = 0;
  counts.histograms = 0;
  counts.exemplars = 0;
  counts.utf8 = true;
  counts.histogram = undefined;
  const buf = r.buf;
  const end = r.end;
  while (r.pos < end) {
    const entryStart = r.pos;
    const tag = buf[entryStart]!;
    // fast paths: a label `0a L 0a n <name> 12 m <value>` and a sample `12 L 09 <8 bytes> 10 <varint>`,
    // every length one byte; anything else takes the general path below
    if (tag === 0x0a && entryStart + 4 < end) {
      const ms = entryStart + 2;
      const me = ms + buf[entryStart + 1]!;
      const nameEnd = ms + 2 + buf[ms + 1]!;
      if (
        buf[entryStart + 1]! < 0x80 &&
        me <= end &&
        buf[ms] === 0x0a &&
        buf[ms + 1]! < 0x80 &&
        nameEnd + 2 <= me &&
        buf[nameEnd] === 0x12 &&
        nameEnd + 2 + buf[nameEnd + 1]! === me
      ) {
        labels.push(ms + 2, nameEnd, nameEnd + 2, me, entryStart, me);
        r.pos = me;
        continue;
      }
    } else if (tag === 0x12 && entryStart + 12 < end) {
      const ms = entryStart + 2;
      const me = ms + buf[entryStart + 1]!;
      if (
        buf[entryStart + 1]! < 0x80 &&
        me <= end &&
        buf[ms] === 0x09 &&
        buf[ms + 9] === 0x10 &&
        varintEndsAt(buf, ms + 10, me)
      ) {
        counts.samples++;
        r.pos = me;
        continue;
      }
    }
    // a one-byte tag of a length-delimited field 1..4 and a one-byte length
    let msgStart: number;
    let msgEnd: number;
    let field: number;
    if (
      (tag & 7) === WIRE_LEN &&
      tag >= 0x0a &&
      tag <= 0x22 &&
      entryStart + 1 < end &&
      buf[entryStart + 1]! < 0x80
    ) {
      field = tag >>> 3;
      msgStart = entryStart + 2;
      msgEnd = msgStart + buf[entryStart + 1]!;
      if (msgEnd > end) throw new WireError("length runs past the end of the message");
    } else {
      const t = r.tag();
      field = t >>> 3;
      const wt = t & 7;
      if (field > 4) {
        r.skip(wt);
        continue;
      }
      r.expect(wt, WIRE_LEN, "timeseries field");
      msgEnd = r.lengthEnd();
      msgStart = r.pos;
    }
    switch (field) {
      case 1:
        readLabel(buf, msgStart, msgEnd, labels, entryStart, labelReader);
        break;
      case 2:
        if (!isCanonicalSample(buf, msgStart, msgEnd)) checkSample(buf, msgStart, msgEnd, 2);
        counts.samples++;
        break;
      case 3:
        if (!checkMessage(buf, msgStart, msgEnd, SCHEMA.v1.exemplar)) counts.utf8 = false;
        counts.exemplars++;
        break;
      case 4: {
        const why = checkHistogram(buf, msgStart, msgEnd, false);
        if (why !== undefined) counts.histogram ??= why;
        counts.histograms++;
        break;
      }
    }
    r.pos = msgEnd;
  }
}

/**
 * Reads a Label message's name and value byte ranges (absent fields are empty) into
 * `labels`. The canonical encoding (name then value, one-byte lengths) is read directly.
 */
function readLabel(
  buf: Uint8Array,
  start: number,
  end: number,
  labels: LabelScratch,
  entryStart: number,
  labelReader: Reader,
): void {
  if (buf[start] === 0x0a) {
    const ne = start + 2 + buf[start + 1]!;
    if (buf[start + 1]! < 0x80 && ne + 2 <= end && buf[ne] === 0x12 && buf[ne + 1]! < 0x80) {
      const ve = ne + 2 + buf[ne + 1]!;
      if (ve === end) {
        labels.push(start + 2, ne, ne + 2, ve, entryStart, end);
        return;
      }
    }
  }
  const r = labelReader;
  r.buf = buf;
  r.at(start, end);
  let ns = start;
  let ne = start;
  let vs = start;
  let ve = start;
  while (!r.done()) {
    const tag = r.tag();
    const field = tag >>> 3;
    if (field === 1 || field === 2) {
      r.expect(tag & 7, WIRE_LEN, "label");
      const e = r.lengthEnd();
      const s = r.pos;
      if (field === 1) {
        ns = s;
        ne = e;
      } else {
        vs = s;
        ve = e;
      }
      r.pos = e;
    } else {
      r.skip(tag & 7);
    }
  }
  labels.push(ns, ne, vs, ve, entryStart, end);
}

/**
 * Checks a MetricMetadata and returns the routing hash of its metric family name, or -1
 * when its family name, help or unit is longer than `maxLength` bytes.
 */
function scanMetadata(r: Reader, seed: number, maxLength: number): number {
  if (!checkMessage(r.buf, r.pos, r.end, SCHEMA.v1.metadata))
    throw new WireError("metadata: a string is not valid UTF-8");
  let slot = nameSlot(r.buf, 0, 0, seed);
  let tooLong = false;
  while (!r.done()) {
    const tag = r.tag();
    const field = tag >>> 3;
    if (field === 2 || field === 4 || field === 5) {
      r.expect(tag & 7, WIRE_LEN, "metadata string");
      const e = r.lengthEnd();
      const s = r.pos;
      if (e - s > maxLength) tooLong = true;
      if (field === 2) slot = nameSlot(r.buf, s, e, seed);
      r.pos = e;
    } else {
      r.skip(tag & 7);
    }
  }
  return tooLong ? -1 : slot;
}
