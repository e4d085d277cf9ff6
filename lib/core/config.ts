import * as z from "zod/mini";

/**
 * Configuration, declared once per setting: a zod schema that reads and checks its value, the
 * default, the bounds it enforces and the text of its docs row. The same declaration serves
 * the CDK context (values typed in `-c key=value` as strings, or JSON in `cdk.json`) and the
 * functions' environment (strings), so a setting both carry cannot be read two ways. Every
 * failure is a ConfigError naming the key or variable and saying what was expected.
 *
 * zod's tree-shakable "mini" build keeps the functions' bundles small.
 */

export type Env = Record<string, string | undefined>;

/** A missing or malformed setting; the message names it (`key` too, when the caller gives one). */
export class ConfigError extends Error {
  constructor(
    message: string,
    readonly key?: string,
  ) {
    super(message);
    this.name = "ConfigError";
  }
}

/** A value as given: a string (environment, `-c`), or typed JSON (`cdk.json`). */
export type Raw = string | number | boolean | undefined;

export interface Setting<T, D extends Raw = Raw> {
  /** Reads a value that is set (not blank) into T; each failure's message says what was expected. */
  readonly schema: z.ZodMiniType<T>;
  /** What an unset value reads as (and what the docs show); undefined: no value. */
  readonly default: D;
  /** The docs row's text. */
  readonly doc: string;
  /** Inclusive bounds of a number. */
  readonly range?: readonly [number, number];
  /** Inclusive bounds of a CIDR's prefix length. */
  readonly prefixRange?: readonly [number, number];
  /** The only numbers accepted. */
  readonly allowed?: readonly number[];
  /** The only words accepted. */
  readonly values?: readonly string[];
  /** A blank value is a value of its own (an empty list), not "unset". */
  readonly blankIsSet?: boolean;
}

/** What a setting reads as: T, or T | undefined when it has no default. */
export type ValueOf<S> =
  S extends Setting<infer T, infer D> ? (undefined extends D ? T | undefined : T) : never;
export type Settings = Readonly<Record<string, Setting<unknown>>>;
export type ValuesOf<S extends Settings> = { readonly [K in keyof S]: ValueOf<S[K]> };

/** Echoed input is cut (it may be long, and it is a configuration value, never a secret). */
export function clip(text: string, max = 80): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
const shown = (value: unknown) => clip(String(value));

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const toNumber = (v: unknown) => (typeof v === "string" && DECIMAL.test(v.trim()) ? Number(v.trim()) : v);
const toText = (v: unknown) => (typeof v === "string" || typeof v === "number" ? String(v).trim() : v);
const toList = (v: unknown) =>
  (Array.isArray(v) ? v.map(String) : typeof v === "string" ? v.split(",") : [String(v)])
    .map((s) => s.trim())
    .filter((s) => s !== "");
const TRUE = ["true", "1", "yes"];
const FALSE = ["false", "0", "no"];
const toBool = (v: unknown) => {
  if (typeof v !== "string") return v;
  const word = v.trim().toLowerCase();
  return TRUE.includes(word) ? true : FALSE.includes(word) ? false : v;
};

/** A number within [min, max]; whole unless `fraction`; `allowed`: the only values accepted. */
export function int<const D extends number | undefined>(o: {
  min: number;
  max: number;
  default: D;
  doc: string;
  fraction?: boolean;
  allowed?: readonly number[];
}): Setting<number, D> {
  const between = {
    error: (i: { input: unknown }) => `must be between ${o.min} and ${o.max} (got ${i.input})`,
  };
  const { allowed } = o;
  const oneOfAllowed = (n: number) =>
    allowed === undefined || allowed.includes(n) ? undefined : `must be one of ${allowed.join(", ")}`;
  const checks = [
    z.minimum(o.min, between),
    z.maximum(o.max, between),
    ...(o.fraction ? [] : [whole()]),
    problemCheck(oneOfAllowed),
  ];
  const n = z.number({ error: (i) => `expected a number (got "${shown(i.input)}")` }).check(...checks);
  return {
    schema: z.pipe(z.transform(toNumber), n),
    default: o.default,
    doc: o.doc,
    // the values allowed state the bounds more exactly than the range
    ...(allowed === undefined ? { range: [o.min, o.max] as const } : { allowed }),
  };
}

function whole() {
  return z.refine<number>((n) => Number.isInteger(n), {
    error: (i) => `expected a whole number (got ${i.input})`,
    abort: true,
  });
}

/** A number of any fraction within [min, max]. */
export function num<const D extends number | undefined>(o: {
  min: number;
  max: number;
  default: D;
  doc: string;
}): Setting<number, D> {
  return int({ ...o, fraction: true });
}

/**
 * The same quantity with the bounds (and default) of another reader, which must lie within
 * `base`'s: `scale` converts this setting's unit to base's (e.g. 1024 for KiB against bytes).
 * A stack value the function would refuse is thus a mistake caught when this module loads.
 */
export function within<const D extends number | undefined>(
  base: Setting<number>,
  o: { min: number; max: number; default: D; doc: string; scale?: number },
): Setting<number, D> {
  const [lo = 0, hi = 0] = base.range ?? [];
  const scale = o.scale ?? 1;
  if (o.min * scale < lo || o.max * scale > hi) {
    throw new Error(`bounds ${o.min}..${o.max} (×${scale}) outside ${lo}..${hi}`);
  }
  return int(o);
}

export function bool<const D extends boolean>(o: { default: D; doc: string }): Setting<boolean, D> {
  const schema = z.pipe(
    z.transform(toBool),
    z.boolean({ error: (i) => `expected true or false (got "${shown(i.input)}")` }),
  );
  return { schema, default: o.default, doc: o.doc };
}

/** One of `values`; `caseless`: read in either case, kept as listed. */
export function oneOf<const T extends string, const D extends T | undefined>(
  values: readonly T[],
  o: { default: D; doc: string; caseless?: boolean },
): Setting<T, D> {
  const normal = (v: unknown) => {
    const text = toText(v);
    return o.caseless && typeof text === "string" ? text.toLowerCase() : text;
  };
  const schema = z.pipe(
    z.transform(normal),
    z.enum(values as [T, ...T[]], {
      error: (i) => `expected one of ${values.join(", ")} (got "${shown(i.input)}")`,
    }),
  ) as unknown as z.ZodMiniType<T>;
  return { schema, default: o.default, doc: o.doc, values };
}

/**
 * A string; `pattern` (with `expected` saying what it is) when its form is fixed, or `problem`
 * saying what is wrong with a value (undefined: nothing).
 */
export function text<const D extends string | undefined>(o: {
  default: D;
  doc: string;
  pattern?: RegExp;
  expected?: string;
  problem?: (value: string) => string | undefined;
  blankIsSet?: boolean;
}): Setting<string, D> {
  const checks = [
    ...(o.pattern === undefined ? [] : [matching(o.pattern, o.expected ?? "of the expected form")]),
    ...(o.problem === undefined ? [] : [problemCheck(o.problem)]),
  ];
  const schema = z.pipe(z.transform(toText), z.string({ error: "expected a string" }).check(...checks));
  return { schema, default: o.default, doc: o.doc, ...(o.blankIsSet ? { blankIsSet: true } : {}) };
}

/** A check whose message is what `problem` finds wrong (undefined: nothing). */
export function problemCheck<T>(problem: (value: T) => string | undefined) {
  return z.superRefine<T>((value, ctx) => {
    const message = problem(value);
    if (message !== undefined) ctx.issues.push({ code: "custom", message, input: value });
  });
}

/** A check that a string matches `pattern`; the message quotes it (`expected` says what it is not). */
export function matching(pattern: RegExp, expected: string) {
  return z.refine<string>((s) => pattern.test(s), {
    error: (i) => `not ${expected}: "${shown(i.input)}"`,
  });
}

/** A comma-separated list (or a JSON array), each item read by `item`; `unique`: none twice. */
export function list<T = string>(o: {
  default?: string;
  doc: string;
  item?: z.ZodMiniType<T>;
  unique?: string;
  blankIsSet?: boolean;
}): Setting<T[], string> {
  const item = o.item ?? (z.string() as unknown as z.ZodMiniType<T>);
  const checks =
    o.unique === undefined
      ? []
      : [z.refine<unknown[]>((xs) => new Set(xs.map(String)).size === xs.length, { error: o.unique })];
  const schema = z.pipe(
    z.transform((v): unknown => toList(v)),
    z.array(item).check(...checks),
  ) as unknown as z.ZodMiniType<T[]>;
  return { schema, default: o.default ?? "", doc: o.doc, ...(o.blankIsSet ? { blankIsSet: true } : {}) };
}

/** Whether a value counts as given: not undefined, null, or blank (unless blank is a value). */
export function isSet(value: unknown, blankIsSet = false): boolean {
  if (value === undefined || value === null) return false;
  return blankIsSet || typeof value !== "string" || value.trim() !== "";
}

/**
 * Reads every setting of `settings` from `values` (unset ones as their default) in one parse;
 * the first failure becomes a ConfigError whose message starts with `label(key)` and whose
 * `key` is the key.
 */
export function readSettings<S extends Settings>(
  settings: S,
  values: Readonly<Record<string, unknown>>,
  label: (key: string) => string,
): ValuesOf<S> {
  const shape: Record<string, z.ZodMiniType> = {};
  const given: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(settings)) {
    shape[key] = s.default === undefined ? z.optional(s.schema) : s.schema;
    given[key] = isSet(values[key], s.blankIsSet) ? values[key] : s.default;
  }
  const result = z.safeParse(z.object(shape), given);
  if (result.success) return result.data as ValuesOf<S>;
  const issue = result.error.issues[0]!;
  const key = String(issue.path[0]);
  throw new ConfigError(`${label(key)}: ${issue.message}`, key);
}

/** Reads a function's variables; an error starts with the variable's name. */
export function readEnv<S extends Settings>(settings: S, env: Env): ValuesOf<S> {
  return readSettings(settings, env, (name) => name);
}

/** Reads one setting. */
export function readSetting<T, D extends Raw>(
  setting: Setting<T, D>,
  value: unknown,
  key: string,
  label: (key: string) => string = (k) => k,
): ValueOf<Setting<T, D>> {
  return readSettings({ [key]: setting }, { [key]: value }, label)[key] as ValueOf<Setting<T, D>>;
}

/** The default as a docs table shows it. */
export function shownDefault(s: Setting<unknown>): string {
  return s.default === undefined ? "(unset)" : s.default === "" ? "(empty)" : `\`${s.default}\``;
}

/** The row of a `| Key | Default | Meaning |` table. */
export function docRow(key: string, s: Setting<unknown>): string {
  return `| \`${key}\` | ${shownDefault(s)} | ${s.doc} |`;
}

// One-off variables (the local server's, the AWS client's) read with the same schemas.

export function intVar(env: Env, name: string, fallback: number, min: number, max: number): number {
  return readSetting(int({ min, max, default: fallback, doc: "" }), env[name], name);
}

export function boolVar(env: Env, name: string, fallback: boolean): boolean {
  return readSetting(bool({ default: fallback, doc: "" }), env[name], name);
}

export function enumVar<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  return readSetting(oneOf(allowed, { default: fallback, doc: "" }), env[name], name);
}

export function stringVar(env: Env, name: string): string | undefined {
  return readSetting(text({ default: undefined, doc: "" }), env[name], name);
}
