import type { RangeList } from "./range-list";
import { isUtf8Range, validUtf8 } from "./validate";

/**
 * Whether a symbol reference is in range and its string valid UTF-8, each symbol checked at
 * most once per request. Runs of adjacent symbols whose framing is single bytes (`22 len`,
 * both below 0x80) are checked in one native call first: every byte ≥ 0x80 of such a run is
 * inside a symbol, and a multi-byte UTF-8 sequence cannot span an ASCII byte, so the run is
 * valid exactly when each of its symbols is. A run that fails is left to the per-symbol check.
 */
export class SymbolCheck {
  /** 0 unknown, 1 valid UTF-8, 2 invalid */
  private readonly state: Uint8Array;
  constructor(
    private readonly buf: Uint8Array,
    private readonly symbols: RangeList,
    runs: RangeList,
  ) {
    this.state = new Uint8Array(symbols.length);
    let k = 0;
    for (let i = 0; i < runs.length; i++) {
      const s = runs.start(i);
      const e = runs.end(i);
      while (k < symbols.length && symbols.start(k) < s) k++;
      if (!isUtf8Range(buf, s, e)) continue;
      for (; k < symbols.length && symbols.end(k) <= e; k++) this.state[k] = 1;
    }
  }

  /** The byte length of a symbol in range. */
  length(ref: number): number {
    return this.symbols.end(ref) - this.symbols.start(ref);
  }

  ok(ref: number): boolean {
    if (ref >= this.state.length) return false;
    let st = this.state[ref]!;
    if (st === 0) {
      st = validUtf8(this.buf, this.symbols.start(ref), this.symbols.end(ref)) ? 1 : 2;
      this.state[ref] = st;
    }
    return st === 1;
  }
}

/**
 * Adds the symbol entry at `entryStart` (its string at [start, end)) to `runs` when its tag
 * and length are one byte each: to the last run when it follows it directly, else as a new
 * run. Other entries (longer lengths, padded varints) are left to the per-symbol check.
 */
export function noteSymbolRun(runs: RangeList, entryStart: number, start: number, end: number): void {
  if (start !== entryStart + 2) return;
  const n = runs.length;
  if (n > 0 && runs.end(n - 1) === entryStart) runs.data[2 * n - 1] = end;
  else runs.push(entryStart, end);
}
