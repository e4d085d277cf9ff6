/**
 * A strict reader of the Prometheus text exposition format (0.0.4), for checking what the
 * gateway serves on /metrics. Stricter than the format where that catches mistakes: every
 * sample must follow its family's `# TYPE`, a family is declared once, and a histogram's
 * buckets must be cumulative, end at `le="+Inf"` and agree with its `_count`. Anything else
 * it cannot read throws, naming the line.
 */

export interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  type: string;
  help?: string;
  readonly samples: Sample[];
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);
const FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const SUFFIXES: Record<string, readonly string[]> = {
  histogram: ["_bucket", "_sum", "_count"],
  summary: ["", "_sum", "_count"],
};

export function parseExposition(text: string): Map<string, Family> {
  if (text.length > 0 && !text.endsWith("\n")) throw new Error("the text does not end with a line feed");
  const families = new Map<string, Family>();
  const typed = new Set<string>();
  let current: Family | undefined;
  const lines = text.split("\n").slice(0, -1);
  lines.forEach((line, i) => {
    const where = `line ${i + 1} (${line.slice(0, 80)})`;
    if (line.trim() === "") return;
    if (line.startsWith("#")) {
      const meta = new RegExp(`^# (HELP|TYPE) (${NAME})(?: (.*))?$`).exec(line);
      if (meta === null) return; // a comment
      const [, kind, name, rest = ""] = meta as unknown as [string, string, string, string?];
      let family = families.get(name);
      if (family === undefined) {
        family = { name, type: "untyped", samples: [] };
        families.set(name, family);
      }
      if (kind === "HELP") {
        if (family.help !== undefined) throw new Error(`${where}: a second HELP`);
        family.help = unescapeText(rest, false, where);
      } else {
        if (typed.has(name)) throw new Error(`${where}: a second TYPE`);
        if (family.samples.length > 0) throw new Error(`${where}: TYPE after samples`);
        if (!TYPES.has(rest)) throw new Error(`${where}: unknown type`);
        family.type = rest;
        typed.add(name);
      }
      current = family;
      return;
    }
    const sample = parseSample(line, where);
    if (current === undefined || !typed.has(current.name))
      throw new Error(`${where}: a sample before its TYPE`);
    const suffixes = SUFFIXES[current.type] ?? [""];
    if (!suffixes.some((s) => sample.name === current!.name + s)) {
      throw new Error(`${where}: ${sample.name} is not part of ${current.type} ${current.name}`);
    }
    current.samples.push(sample);
  });
  for (const family of families.values()) if (family.type === "histogram") checkHistogram(family);
  return families;
}

function parseSample(line: string, where: string): Sample {
  const head = new RegExp(`^(${NAME})`).exec(line);
  if (head === null) throw new Error(`${where}: no metric name`);
  const name = head[1]!;
  let at = name.length;
  const labels: Record<string, string> = {};
  if (line[at] === "{") {
    at++;
    while (line[at] !== "}") {
      const label = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(at));
      if (label === null || !LABEL_NAME.test(label[1]!)) throw new Error(`${where}: bad label at ${at}`);
      at += label[0].length;
      let raw = "";
      for (;;) {
        const ch = line[at];
        if (ch === undefined) throw new Error(`${where}: unterminated label value`);
        if (ch === "\\") {
          raw += ch + (line[at + 1] ?? "");
          at += 2;
          continue;
        }
        at++;
        if (ch === '"') break;
        raw += ch;
      }
      if (label[1]! in labels) throw new Error(`${where}: label ${label[1]} twice`);
      labels[label[1]!] = unescapeText(raw, true, where);
      if (line[at] === ",") at++;
      else if (line[at] !== "}") throw new Error(`${where}: expected , or } at ${at}`);
    }
    at++;
  }
  const rest = line.slice(at);
  const parts = /^ (\S+)(?: (-?\d+))?$/.exec(rest);
  if (parts === null) throw new Error(`${where}: expected " value [timestamp]"`);
  return { name, labels, value: parseValue(parts[1]!, where) };
}

function parseValue(text: string, where: string): number {
  if (text === "NaN") return Number.NaN;
  if (text === "+Inf" || text === "Inf") return Number.POSITIVE_INFINITY;
  if (text === "-Inf") return Number.NEGATIVE_INFINITY;
  if (!FLOAT.test(text)) throw new Error(`${where}: bad value ${text}`);
  return Number(text);
}

/** HELP knows `\\` and `\n`; label values also `\"`. Any other escape is an error. */
function unescapeText(text: string, quotes: boolean, where: string): string {
  return text.replace(/\\(.?)/g, (_m, ch: string) => {
    if (ch === "\\") return "\\";
    if (ch === "n") return "\n";
    if (quotes && ch === '"') return '"';
    throw new Error(`${where}: bad escape \\${ch}`);
  });
}

function checkHistogram(family: Family): void {
  const groups = new Map<string, { buckets: Sample[]; sum?: number; count?: number }>();
  for (const s of family.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    let group = groups.get(key);
    if (group === undefined) {
      group = { buckets: [] };
      groups.set(key, group);
    }
    if (s.name.endsWith("_bucket")) {
      if (le === undefined) throw new Error(`${family.name}: a bucket without le`);
      group.buckets.push(s);
    } else if (s.name.endsWith("_sum")) group.sum = s.value;
    else group.count = s.value;
  }
  for (const [key, group] of groups) {
    const where = `${family.name}${key}`;
    if (group.sum === undefined || group.count === undefined) throw new Error(`${where}: no _sum or _count`);
    const bounds = group.buckets.map((b) => parseValue(b.labels.le!, where));
    for (let i = 1; i < bounds.length; i++) {
      if (!(bounds[i]! > bounds[i - 1]!)) throw new Error(`${where}: bucket bounds not increasing`);
      if (group.buckets[i]!.value < group.buckets[i - 1]!.value)
        throw new Error(`${where}: buckets not cumulative`);
    }
    const last = group.buckets.at(-1);
    if (last === undefined || last.labels.le !== "+Inf") throw new Error(`${where}: no le="+Inf" bucket`);
    if (last.value !== group.count) throw new Error(`${where}: +Inf bucket is not _count`);
  }
}
