import { putVarint32, Reader, WIRE_LEN, Writer } from "../../codec/wire";
import type { PlanV1 } from "../plan/v1";
import type { LabelScratch } from "../scan/labels";

/**
 * Remote-Write 1.0 record bodies: each is itself a WriteRequest, its entries (series, then
 * metadata) copied from the request as they came, those that were adjacent in the request in
 * one go; series re-encoded here (labels sorted, or split) are framed as timeseries fields.
 */
const F_TIMESERIES = 1;

/**
 * The body of the record of group `g` holding entries [from, to) (`size` bytes, as planned).
 * `work`, when given, holds the request at its start and free room after it: the body is
 * then assembled there with `copyWithin` (ranges moved within one buffer, no views made),
 * else in `out`. Either way the body is a view of scratch: seal it before the next is built.
 */
export function encodeRecordV1(
  buf: Uint8Array,
  plan: PlanV1,
  g: number,
  from: number,
  to: number,
  size: number,
  work: Uint8Array | undefined,
  out: Writer,
): Uint8Array {
  const { rewritten } = plan;
  const series = plan.series[g]!;
  const meta = plan.metadata[g]!;
  const startOf = (k: number) => (k < series.length ? series.start(k) : meta.start(k - series.length));
  const endOf = (k: number) => (k < series.length ? series.end(k) : meta.end(k - series.length));
  if (work !== undefined && buf.length + size <= work.length) {
    let p = buf.length;
    for (let k = from; k < to; k++) {
      const s = startOf(k);
      if (s < 0) {
        const body = rewritten[-s - 1]!;
        work[p++] = (F_TIMESERIES << 3) | WIRE_LEN;
        p = putVarint32(work, p, body.length);
        work.set(body, p);
        p += body.length;
        continue;
      }
      let e = endOf(k);
      while (k + 1 < to && startOf(k + 1) === e) e = endOf(++k);
      work.copyWithin(p, s, e);
      p += e - s;
    }
    return work.subarray(buf.length, p);
  }
  const w = out;
  w.pos = 0;
  for (let k = from; k < to; k++) {
    const s = startOf(k);
    if (s < 0) {
      w.lenField(F_TIMESERIES, rewritten[-s - 1]!);
      continue;
    }
    let e = endOf(k);
    while (k + 1 < to && startOf(k + 1) === e) e = endOf(++k);
    w.bytes(buf, s, e);
  }
  return w.finish();
}

/** The series `buf[start, end)` re-encoded with its labels in name order and every other field as it came. */
export function sortedSeries(buf: Uint8Array, start: number, end: number, labels: LabelScratch): Uint8Array {
  const w = new Writer(end - start);
  for (let k = 0; k < labels.count; k++) {
    const i = labels.order[k]!;
    w.bytes(buf, labels.aux[i]!, labels.aux2[i]!);
  }
  const r = new Reader(buf, start, end);
  while (!r.done()) {
    const entryStart = r.pos;
    const tag = r.tag();
    r.skip(tag & 7);
    if (tag >>> 3 !== 1) w.bytes(buf, entryStart, r.pos);
  }
  return w.finish();
}

/**
 * Splits a series too large for one record into several with the same labels, each
 * carrying a run of its samples, exemplars and histograms in their original order; undefined
 * when its labels, or one of its other fields, cannot fit one record of `limit` bytes.
 */
export function splitSeries(body: Uint8Array, limit: number): Uint8Array[] | undefined {
  const head = new Writer(1024);
  const rest: Array<[number, number]> = [];
  const r = new Reader(body);
  while (!r.done()) {
    const entryStart = r.pos;
    const tag = r.tag();
    r.skip(tag & 7);
    if (tag >>> 3 === 1) head.bytes(body, entryStart, r.pos);
    else rest.push([entryStart, r.pos]);
  }
  const headBytes = head.finish();
  // room per chunk, leaving space for the record-level tag and length of the series
  const room = limit - 16 - headBytes.length;
  // labels alone that cannot fit one record
  if (room <= 0) return undefined;
  const out: Uint8Array[] = [];
  let w: Writer | undefined;
  for (const [s, e] of rest) {
    if (e - s > room) return undefined;
    if (w === undefined || w.pos + (e - s) > limit - 16) {
      if (w !== undefined) out.push(w.finish());
      w = new Writer(Math.min(limit, headBytes.length + 4096)).bytes(headBytes);
    }
    w.bytes(body, s, e);
  }
  out.push((w ?? new Writer(headBytes.length).bytes(headBytes)).finish());
  return out;
}
