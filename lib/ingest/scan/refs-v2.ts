import { Reader, WIRE_LEN, WIRE_VARINT } from "../../codec/wire";

/** Remote-Write 2.0: the readers of symbol references (labels_refs, exemplar and metadata refs). */

/** Reads one labels_refs field (packed or not) into `into`. */
export function readRefs(r: Reader, wt: number, into: { push(n: number): unknown }): void {
  if (wt === WIRE_VARINT) {
    into.push(r.uint32());
    return;
  }
  r.expect(wt, WIRE_LEN, "labels_refs");
  const e = r.lengthEnd();
  const end = r.end;
  r.end = e;
  while (r.pos < e) into.push(r.uint32());
  r.end = end;
}

/**
 * Calls `fn` for each symbol reference in an Exemplar (`refsField` 1: labels_refs) or a
 * Metadata message (`refsField` 0: help_ref = 3 and unit_ref = 4).
 */
export function forEachRef(
  buf: Uint8Array,
  start: number,
  end: number,
  refsField: number,
  fn: (ref: number) => void,
): void {
  const r = new Reader(buf, start, end);
  const refs: number[] = [];
  while (!r.done()) {
    const tag = r.tag();
    const field = tag >>> 3;
    if (refsField === 1 && field === 1) {
      readRefs(r, tag & 7, refs);
    } else if (refsField === 0 && (field === 3 || field === 4)) {
      r.expect(tag & 7, WIRE_VARINT, "metadata ref");
      refs.push(r.uint32());
    } else {
      r.skip(tag & 7);
    }
  }
  refs.forEach(fn);
}
