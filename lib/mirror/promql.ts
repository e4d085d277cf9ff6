import { echo } from "../core/errors";
import { badRequest } from "./errors";
import type { Condition, ConditionValue } from "./protocol";

/**
 * Turning protocol conditions into PromQL. Metric and label names may be any UTF-8, as
 * Prometheus 3 (and the gateway, by default) takes them: a name in the legacy character
 * classes is written bare, any other only inside an escaped string literal — a metric name as
 * a `__name__` matcher (`{__name__="http.server.request.duration"}`, which every Prometheus
 * parses), a label name in Prometheus 3's quoted form (`{"service.name"="checkout"}`, which
 * Prometheus 2 refuses: errors.ts turns that refusal into `utf8-names-unsupported`). Values
 * are only ever escaped string literals too, so a condition can select series but never
 * change the shape of the query.
 */

/** The legacy character classes: names written bare. */
export const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
export const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export const COUNTER_KEY = "__counter__";
export const GAUGE_KEY = "__gauge__";
export const TILDE_KEY = "~";
export const SPECIAL_KEYS: readonly string[] = [COUNTER_KEY, GAUGE_KEY, TILDE_KEY];

/**
 * A label matcher: the label must have one of `values`. One value is an equality matcher,
 * several a fully anchored regex matcher over the escaped alternatives, none a matcher no
 * value satisfies.
 */
export interface Matcher {
  readonly name: string;
  readonly values: readonly string[];
}

export type Target =
  | { readonly kind: "counter" | "gauge"; readonly metric: string }
  | { readonly kind: "tilde"; readonly expr: string };

export interface ClassifiedConditions {
  readonly target: Target;
  /** Every condition other than the special one, as equality matchers. */
  readonly matchers: readonly Matcher[];
}

/** The label values a condition value stands for (a DoubleValue has several spellings). */
export function valuesOf(value: ConditionValue): string[] {
  switch (value._type) {
    case "StringValue":
      return [value.value];
    case "BooleanValue":
      return [value.value ? "true" : "false"];
    case "DoubleValue":
      return doubleSpellings(value.value);
    case "InSetValue":
      return [...new Set(value.value)];
  }
}

/** Numbers as Prometheus client libraries write them in labels (`le="0.5"`, `le="+Inf"`). */
export function renderDouble(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Number.POSITIVE_INFINITY) return "+Inf";
  if (n === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(n);
}

/**
 * The ways clients spell a number in a label value: JavaScript and Go (`2`, `0.5`, `1e+21`),
 * Go's `%v` (`1e+06`), Java's Double.toString (`2.0`, `1.0E7`) and Python's repr
 * (`2.0`, `1e+16`, `1e-05`). The shortest round-trip digits are the same in all of them;
 * only the layout differs.
 */
export function doubleSpellings(n: number): string[] {
  if (!Number.isFinite(n)) return [renderDouble(n)];
  const out = new Set<string>([String(n)]);
  if (n === 0) {
    out.add(Object.is(n, -0) ? "-0.0" : "0.0");
    return [...out];
  }
  // digits and decimal exponent: n = 0.d1d2d3... × 10^(exp+1), i.e. d1.d2d3… × 10^exp
  const [mantissa, expText] = n.toExponential().split("e") as [string, string];
  const exp = Number(expText);
  const sign = mantissa.startsWith("-") ? "-" : "";
  const digits = mantissa.replace(/^-/, "").replace(".", "");
  const fixed = (withPointZero: boolean) => {
    let text: string;
    if (exp >= digits.length - 1) text = digits + "0".repeat(exp - digits.length + 1);
    else if (exp >= 0) text = `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
    else text = `0.${"0".repeat(-exp - 1)}${digits}`;
    return sign + text + (withPointZero && !text.includes(".") ? ".0" : "");
  };
  const sci = (mant: string, e: string) => sign + mant + e;
  const head = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const twoDigit = (e: number) => `${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`;
  // Java: fixed with ".0" for 1e-3 <= |n| < 1e7, else d.dddE[-]n with at least one fraction digit
  const abs = Math.abs(n);
  out.add(abs >= 1e-3 && abs < 1e7 ? fixed(true) : sci(digits.length > 1 ? head : `${digits}.0`, `E${exp}`));
  // Python repr: fixed (".0" for integers) when -4 <= exp < 16, else d.ddde±XX
  out.add(exp >= -4 && exp < 16 ? fixed(true) : sci(head, `e${twoDigit(exp)}`));
  // Go: fmt %v / strconv 'g' -1 (d.ddde±XX when exp < -4 or exp >= 6) and strconv 'f' -1 (always fixed)
  out.add(exp >= -4 && exp < 6 ? fixed(false) : sci(head, `e${twoDigit(exp)}`));
  out.add(fixed(false));
  return [...out];
}

/**
 * Escapes every RE2 metacharacter, as Go's regexp.QuoteMeta does: the text matches only itself,
 * in PromQL (RE2) and in a JavaScript RegExp alike (the allowlist patterns use it too).
 */
export function escapeRegex(text: string): string {
  return text.replace(/[\\.+*?()|[\]{}^$]/g, "\\$&");
}

/** A regex RE2 accepts that no string matches (an empty set of alternatives). */
export const MATCH_NOTHING_REGEX = "[^\\x00-\\x{10FFFF}]";

/**
 * Quotes a string as a PromQL double-quoted literal: backslash and quote escaped, control
 * characters as `\uXXXX`, everything else (any unicode) literal. Lone surrogates cannot be
 * sent as UTF-8 and are refused.
 */
export function quote(value: string): string {
  let out = '"';
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    const ch = value[i]!;
    if (ch === "\\") out += "\\\\";
    else if (ch === '"') out += '\\"';
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (code < 0x20 || code === 0x7f) out += `\\u${code.toString(16).padStart(4, "0")}`;
    else if (code >= 0xd800 && code <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) throw loneSurrogate();
      out += ch + value[i + 1]!;
      i++;
    } else if (code >= 0xdc00 && code <= 0xdfff) throw loneSurrogate();
    else out += ch;
  }
  return `${out}"`;
}

function loneSurrogate() {
  return badRequest("value-invalid", "Invalid condition value", "a value contains a lone UTF-16 surrogate");
}

/** A UTF-16 surrogate without its pair: text that cannot be sent as UTF-8. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** A metric name: any non-empty UTF-8 text (one outside the legacy classes is written quoted). */
export function checkMetricName(name: string, where: string): string {
  if (name === "" || LONE_SURROGATE.test(name)) {
    throw badRequest(
      "metric-name-invalid",
      "Invalid metric name",
      `${where}: a metric name must be non-empty UTF-8 text`,
    );
  }
  return name;
}

/**
 * A label name in a matcher: any non-empty UTF-8 text (one outside the legacy classes is
 * written quoted), not `__name__` unless `allowName`.
 */
export function checkMatcherName(name: string, where: string, allowName = false): string {
  if (name === "" || LONE_SURROGATE.test(name)) {
    throw badRequest(
      "label-name-invalid",
      "Invalid label name",
      `${where}: a label name must be non-empty UTF-8 text`,
    );
  }
  if (name === "__name__" && !allowName) {
    throw badRequest(
      "label-name-invalid",
      "Invalid label name",
      `${where}: select the metric with ${COUNTER_KEY} or ${GAUGE_KEY}, not __name__`,
    );
  }
  return name;
}

/**
 * A label name whose values are looked up (`/api/v1/label/<name>/values`): the legacy classes
 * only, since the name travels in the URL path, where Prometheus 3 wants other names escaped.
 */
export function checkLabelName(name: string, where: string, allowName = false): string {
  if (!LABEL_NAME.test(name)) {
    throw badRequest(
      "label-name-invalid",
      "Invalid label name",
      `${where}: "${echo(name, 100)}" is not a label name whose values the mirror can look up (${LABEL_NAME.source})`,
    );
  }
  return checkMatcherName(name, where, allowName);
}

/**
 * The label matchers of every condition that is not one of the special keys. `__name__` is a
 * label like any other where `allowName` (field lookups); a metric query names its metric with
 * `__counter__` or `__gauge__` instead.
 */
export function labelMatchers(conditions: readonly Condition[], allowName = false): Matcher[] {
  const out: Matcher[] = [];
  conditions.forEach((condition, index) => {
    if (SPECIAL_KEYS.includes(condition.key)) return;
    out.push({
      name: checkMatcherName(condition.key, `conditions[${index}].key`, allowName),
      values: valuesOf(condition.value),
    });
  });
  return out;
}

/**
 * Splits conditions into the one special condition (`__counter__`, `__gauge__` or `~`,
 * exactly one required) and the label matchers.
 */
export function classifyConditions(conditions: readonly Condition[]): ClassifiedConditions {
  const special = conditions
    .map((condition, index) => ({ condition, index }))
    .filter(({ condition }) => SPECIAL_KEYS.includes(condition.key));
  if (special.length !== 1) {
    const found = special.length === 0 ? "none" : special.map(({ condition }) => condition.key).join(", ");
    throw badRequest(
      "conditions-invalid",
      "Conditions must name exactly one metric",
      `exactly one condition with key ${COUNTER_KEY}, ${GAUGE_KEY} or ${TILDE_KEY} is required (found: ${found})`,
    );
  }
  const { condition, index } = special[0]!;
  if (condition.value._type !== "StringValue") {
    throw badRequest(
      "conditions-invalid",
      "Invalid metric condition",
      `conditions[${index}]: the value of ${condition.key} must be a StringValue`,
    );
  }
  const value = condition.value.value;
  const matchers = labelMatchers(conditions);
  if (condition.key === TILDE_KEY) {
    if (value.trim() === "") {
      throw badRequest("conditions-invalid", "Empty query", `conditions[${index}]: the PromQL is empty`);
    }
    return { target: { kind: "tilde", expr: value }, matchers };
  }
  const kind = condition.key === COUNTER_KEY ? "counter" : "gauge";
  return { target: { kind, metric: checkMetricName(value, `conditions[${index}].value`) }, matchers };
}

/**
 * One matcher in PromQL: `a="x"`, or `a=~"x|y"` with every alternative regex-escaped (Prometheus
 * anchors the regex at both ends), or a regex nothing matches for an empty set. Every value
 * ends up inside one quoted string literal, so no value can change the query's shape.
 */
export function renderMatcher(m: Matcher): string {
  const name = LABEL_NAME.test(m.name) ? m.name : quote(m.name);
  if (m.values.length === 1) return `${name}=${quote(m.values[0]!)}`;
  const regex = m.values.length === 0 ? MATCH_NOTHING_REGEX : m.values.map(escapeRegex).join("|");
  return `${name}=~${quote(regex)}`;
}

/**
 * A matcher for the values of `name` that start with `prefix`: `name=~"<escaped prefix>(?s:.*)"`
 * (`(?s:…)` so that `.` matches newlines too, which it does not by default before Prometheus 3).
 */
export function prefixMatcher(name: string, prefix: string): string {
  const label = LABEL_NAME.test(name) ? name : quote(name);
  return `${label}=~${quote(`${escapeRegex(prefix)}(?s:.*)`)}`;
}

/**
 * `metric{a="x",b=~"y|z"}`, or `{a="x"}` without a metric name; a metric name outside the
 * legacy classes as the matcher `{__name__="a.b",…}`, and label names outside them quoted
 * (`{"service.name"="x"}`, Prometheus 3 syntax); `rendered` matchers (e.g. a prefixMatcher)
 * follow the others.
 */
export function selector(
  metric: string | undefined,
  matchers: readonly Matcher[],
  rendered: readonly string[] = [],
): string {
  const inner = [...matchers.map(renderMatcher), ...rendered].join(",");
  if (metric === undefined) return `{${inner}}`;
  if (!METRIC_NAME.test(metric)) {
    const name = renderMatcher({ name: "__name__", values: [metric] });
    return inner === "" ? `{${name}}` : `{${name},${inner}}`;
  }
  return inner === "" ? metric : `${metric}{${inner}}`;
}

/** A PromQL duration in milliseconds (`90000ms`), exact for any whole number of ms. */
export function duration(ms: number): string {
  return `${Math.max(1, Math.ceil(ms))}ms`;
}

/** The per-second rate of a counter over `windowMs`. */
export function rateExpr(sel: string, windowMs: number): string {
  return `rate(${sel}[${duration(windowMs)}])`;
}

/** The samples stored in the `rangeMs` before the evaluation time (an instant range selector). */
export function samplesExpr(sel: string, rangeMs: number): string {
  return `${sel}[${duration(rangeMs)}]`;
}

/** Whether a series' labels satisfy every matcher (used to filter the result of a `~` query). */
export function matchesAll(labels: Readonly<Record<string, string>>, matchers: readonly Matcher[]): boolean {
  return matchers.every((m) => m.values.includes(labels[m.name] ?? ""));
}
