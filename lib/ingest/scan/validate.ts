import { isUtf8 } from "node:buffer";

/**
 * Per-series label limits and reasons; the rules themselves run in labels.ts (LabelScratch). Reasons are stable identifiers: they appear in the 400 answer
 * and are the `Reason` dimension of the SeriesRejected metric.
 */
export type RejectReason =
  | "no-labels"
  | "missing-metric-name"
  | "metric-name-invalid"
  | "label-name-invalid"
  | "label-name-duplicate"
  | "label-value-empty"
  | "label-value-invalid-utf8"
  | "label-name-too-long"
  | "label-value-too-long"
  | "too-many-labels"
  | "symbol-ref-invalid"
  | "series-too-large"
  | "metadata-too-long"
  // a native histogram Prometheus's Validate() refuses (histogram.ts)
  | "histogram-count-mismatch"
  | "histogram-spans-mismatch"
  | "histogram-negative-count"
  | "histogram-schema-invalid"
  | "histogram-custom-bounds-invalid";

export interface LabelLimits {
  readonly maxLabelsPerSeries: number;
  readonly maxLabelNameLength: number;
  readonly maxLabelValueLength: number;
  /** "legacy": [a-zA-Z_:][a-zA-Z0-9_:]* names; "utf8": any non-empty UTF-8. */
  readonly nameValidation: NameValidation;
}

export type NameValidation = "legacy" | "utf8";
export const NAME_VALIDATIONS: readonly NameValidation[] = ["utf8", "legacy"];

/**
 * UTF-8 names by default: Remote-Write 2.0 says names MUST be any UTF-8 (the legacy character
 * classes are only a SHOULD), Prometheus 3 and Mimir take them in both protocol versions, and
 * a gateway that stores nothing cannot know which backend its stream will feed. A name refused
 * here is lost for good (the sender drops a 400), while one a legacy backend refuses later is
 * still in the stream. `legacy` is for a deployment whose every backend is older.
 */
export const DEFAULT_NAME_VALIDATION: NameValidation = "utf8";

export const DEFAULT_LIMITS: LabelLimits = Object.freeze({
  maxLabelsPerSeries: 30,
  maxLabelNameLength: 1024,
  maxLabelValueLength: 2048,
  nameValidation: DEFAULT_NAME_VALIDATION,
});

/** The bytes of "__name__". */
const NAME_LABEL = [0x5f, 0x5f, 0x6e, 0x61, 0x6d, 0x65, 0x5f, 0x5f];

export function isNameLabel(buf: Uint8Array, start: number, end: number): boolean {
  if (end - start !== 8) return false;
  for (let i = 0; i < 8; i++) if (buf[start + i] !== NAME_LABEL[i]) return false;
  return true;
}

/** UTF-8 check with an ASCII fast path (almost every label is ASCII). */
export function validUtf8(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    if (buf[i]! >= 0x80) return isUtf8(buf.subarray(start, end));
  }
  return true;
}

/**
 * Whether buf[start, end) is valid UTF-8, in one native call. Over a range holding several
 * strings and the framing between them, this says whether every string is valid only when
 * every framing byte is below 0x80 (a multi-byte sequence cannot span an ASCII byte).
 */
export function isUtf8Range(buf: Uint8Array, start: number, end: number): boolean {
  return isUtf8(buf.subarray(start, end));
}

/** Byte-wise comparison of two ranges (the order Prometheus sorts label names in). */
export function compareBytes(
  a: Uint8Array,
  as: number,
  ae: number,
  b: Uint8Array,
  bs: number,
  be: number,
): number {
  const n = Math.min(ae - as, be - bs);
  for (let i = 0; i < n; i++) {
    const d = a[as + i]! - b[bs + i]!;
    if (d !== 0) return d;
  }
  return ae - as - (be - bs);
}
