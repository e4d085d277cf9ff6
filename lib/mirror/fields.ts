import { unsupportedFieldType } from "./errors";
import type { PrometheusClient } from "./prometheus-client";
import {
  COUNTER_KEY,
  checkLabelName,
  GAUGE_KEY,
  labelMatchers,
  type Matcher,
  prefixMatcher,
  SPECIAL_KEYS,
  selector,
  TILDE_KEY,
} from "./promql";
import type {
  Condition,
  FieldDescriptor,
  FieldNamesRequest,
  FieldValue,
  FieldValuesRequest,
} from "./protocol";

/**
 * Field names and values. Field names are the three special keys followed by the label names
 * Prometheus knows for the conditions and time range; field values of `__counter__` and
 * `__gauge__` are metric names, of any other field that label's values.
 */

const descriptor = (fieldName: string): FieldDescriptor => ({
  _type: "FieldDescriptor",
  fieldName,
  fieldType: "STRING",
  classified: false,
});

/**
 * The `match[]` selector for the conditions, if any: label conditions as matchers, and a
 * `__counter__`/`__gauge__` condition as a quoted `__name__` matcher (any string is safe
 * there; a name that is not a metric name simply matches nothing). `~` cannot narrow a
 * label lookup and is ignored. `prefix` adds a matcher for values of `prefix.label` that
 * start with `prefix.text`, so that Prometheus filters by the prefix before any limit.
 */
function matchSelector(
  conditions: readonly Condition[],
  skipKey?: string,
  prefix?: { label: string; text: string },
): string | undefined {
  const relevant = conditions.filter((c) => c.key !== skipKey && c.key !== TILDE_KEY);
  const matchers: Matcher[] = labelMatchers(relevant, true);
  for (const c of relevant) {
    if ((c.key === COUNTER_KEY || c.key === GAUGE_KEY) && c.value._type === "StringValue") {
      matchers.push({ name: "__name__", values: [c.value.value] });
    }
  }
  const rendered =
    prefix === undefined || prefix.text === "" ? [] : [prefixMatcher(prefix.label, prefix.text)];
  return matchers.length === 0 && rendered.length === 0 ? undefined : selector(undefined, matchers, rendered);
}

export interface Page<T> {
  readonly items: T[];
  readonly isPartial: boolean;
}

/**
 * The most items one answer carries, whatever `limit` asks for (StackState sends Java's
 * Int.MaxValue, "no limit"): a longer list is cut here and answered with isPartial.
 */
export const MAX_FIELD_ITEMS = 10_000;
/** The most FieldValuePattern suggestions added to a cut list of values. */
export const MAX_PATTERNS = 20;
/** Characters a suggested prefix may end at. */
export const PATTERN_SEPARATORS = "_.-/:";

/**
 * How many names or values are asked of Prometheus (its `limit`, and the cut here) for a page
 * at `offset` of `limit` items: everything up to the page's end and one more (to know that more
 * remain), and never fewer than MAX_FIELD_ITEMS + 1, so that the suggestions of a cut list see
 * a long stretch of it.
 */
export function lookupLimit(offset: number, limit: number): number {
  return Math.max(offset + Math.min(limit, MAX_FIELD_ITEMS), MAX_FIELD_ITEMS) + 1;
}

/** Items [offset, offset + limit) with limit capped at MAX_FIELD_ITEMS; partial when more remain. */
export function page<T>(all: readonly T[], offset: number, limit: number): Page<T> {
  const size = Math.min(limit, MAX_FIELD_ITEMS);
  const items = all.slice(offset, offset + size);
  return { items, isPartial: offset + size < all.length };
}

/**
 * Prefixes that narrow a cut list of values, for the UI to offer as the next
 * `fieldValuePrefix`: for each value, its text up to and including the first separator
 * (`_ . - / :`) after the requested prefix; kept when at least two values share it (one would
 * be the value itself). The MAX_PATTERNS that cover the most values, answered in
 * alphabetical order as `<prefix>*`.
 */
export function valuePatterns(values: readonly string[], prefix: string): string[] {
  const counts = new Map<string, number>();
  for (const value of values) {
    if (!value.startsWith(prefix)) continue;
    let end = -1;
    for (let i = prefix.length; i < value.length - 1; i++) {
      if (PATTERN_SEPARATORS.includes(value[i]!)) {
        end = i;
        break;
      }
    }
    if (end < 0) continue;
    const candidate = value.slice(0, end + 1);
    counts.set(candidate, (counts.get(candidate) ?? 0) + 1);
  }
  return [...counts]
    .filter(([, n]) => n >= 2)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, MAX_PATTERNS)
    .map(([candidate]) => `${candidate}*`)
    .sort();
}

export async function fieldNames(
  query: FieldNamesRequest["query"],
  client: PrometheusClient,
): Promise<Page<FieldDescriptor>> {
  const labels = await client.labelNames(
    matchSelector(query.conditions),
    query.startTime,
    query.endTime,
    lookupLimit(0, query.limit),
  );
  const names = [...SPECIAL_KEYS, ...labels.items.filter((l) => l !== "__name__").sort()];
  const result = page(names, 0, query.limit);
  // a cut list of names (at the limit or the byte cap) is a partial answer
  return { items: result.items.map(descriptor), isPartial: result.isPartial || labels.truncated };
}

/** Metric type(s) a name may have according to scrape metadata (undefined: unknown). */
function metricTypes(name: string, metadata: Map<string, Set<string>>): Set<string> | undefined {
  const direct = metadata.get(name);
  if (direct !== undefined) return direct;
  const family = /^(.*)_(total|bucket|count|sum|created)$/.exec(name)?.[1];
  const types = family === undefined ? undefined : metadata.get(family);
  if (types === undefined) return undefined;
  // The series of counters, histograms and summaries (`_total`, `_bucket`, `_count`, `_sum`) count up.
  return [...types].some((t) => ["counter", "histogram", "summary", "gaugehistogram"].includes(t))
    ? new Set(["counter"])
    : types;
}

/** Whether metadata allows `name` under `__counter__`/`__gauge__`: unknown or untyped names fit both. */
function fitsKind(name: string, kind: "counter" | "gauge", metadata: Map<string, Set<string>>): boolean {
  const types = metricTypes(name, metadata);
  if (types === undefined || types.size === 0) return true;
  return types.has(kind) || types.has("unknown") || types.has("untyped");
}

export async function fieldValues(
  query: FieldValuesRequest["query"],
  client: PrometheusClient,
): Promise<Page<FieldValue>> {
  const field = query.field;
  if (field.fieldType !== undefined && field.fieldType !== "STRING")
    throw unsupportedFieldType(field.fieldType);
  const prefix = query.fieldValuePrefix ?? "";
  const want = lookupLimit(query.offset, query.limit);
  let values: string[];
  let truncated = false;
  if (field.fieldName === TILDE_KEY) {
    values = [];
  } else if (field.fieldName === COUNTER_KEY || field.fieldName === GAUGE_KEY) {
    const kind = field.fieldName === COUNTER_KEY ? "counter" : "gauge";
    const match = matchSelector(query.conditions, field.fieldName, { label: "__name__", text: prefix });
    const names = await client.labelValues("__name__", match, query.startTime, query.endTime, want);
    truncated = names.truncated;
    const candidates = names.items.filter((n) => n.startsWith(prefix));
    // metadata cut at the byte cap leaves the names after the cut untyped: listed for both kinds
    const metadata =
      candidates.length > 0 ? (await client.metadataTypes()).items : new Map<string, Set<string>>();
    values = candidates.filter((n) => fitsKind(n, kind, metadata));
  } else {
    const name = checkLabelName(field.fieldName, "query.field.fieldName");
    const match = matchSelector(query.conditions, undefined, { label: name, text: prefix });
    const all = await client.labelValues(name, match, query.startTime, query.endTime, want);
    truncated = all.truncated;
    values = all.items.filter((v) => v.startsWith(prefix));
  }
  values.sort();
  const cut = page(values, query.offset, query.limit);
  // values remain after the page, or Prometheus had more than were asked or read
  const result = { items: cut.items, isPartial: cut.isPartial || truncated };
  const items = result.items.map((value): FieldValue => ({ _type: "CompleteValue", value }));
  if (result.isPartial) {
    for (const value of valuePatterns(values, prefix)) items.push({ _type: "FieldValuePattern", value });
  }
  return { items, isPartial: result.isPartial };
}
