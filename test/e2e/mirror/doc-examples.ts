import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";

/**
 * The worked examples of docs/mirror.md, as the test reads them: fenced blocks whose info
 * string names their role after the language (`sh mirror-setup`, `sh mirror-example`,
 * `http mirror-answer`). Each example is followed by its answer; the setup block runs before
 * every example.
 */

/** Where the examples send their requests and where their Prometheus listens, as written. */
export const DOC_MIRROR = "127.0.0.1:9900";
export const DOC_PROMETHEUS_PORT = 9090;

export interface DocAnswer {
  readonly status: number;
  /** Header names in lower case. */
  readonly headers: ReadonlyMap<string, string>;
  // biome-ignore lint/suspicious/noExplicitAny: protocol JSON, compared field by field
  readonly body: any;
}

export interface DocExample {
  /** The heading the example sits under. */
  readonly title: string;
  /** The shell text of the request, as written. */
  readonly request: string;
  /** The method and path the curl call asks for. */
  readonly method: string;
  readonly path: string;
  readonly answer: DocAnswer;
}

export interface DocExamples {
  readonly setup: string;
  readonly examples: readonly DocExample[];
}

interface Block {
  readonly role: string;
  readonly text: string;
  readonly title: string;
}

function blocks(markdown: string): Block[] {
  const out: Block[] = [];
  let title = "";
  let fence: { role: string; lines: string[] } | undefined;
  for (const line of markdown.split("\n")) {
    if (fence !== undefined) {
      if (line === "```") {
        out.push({ role: fence.role, text: `${fence.lines.join("\n")}\n`, title });
        fence = undefined;
      } else fence.lines.push(line);
      continue;
    }
    const heading = /^#{2,4} (.+)$/.exec(line);
    if (heading) title = heading[1]!;
    const open = /^```\S*\s+(mirror-[a-z]+)\s*$/.exec(line);
    if (open) fence = { role: open[1]!, lines: [] };
    else if (line.startsWith("```")) fence = { role: "", lines: [] };
  }
  if (fence !== undefined) throw new Error(`docs/mirror.md: an unclosed code block under "${title}"`);
  return out.filter((b) => b.role !== "");
}

/** An HTTP answer as `curl -i` prints it (or as the docs show it): status line, headers, blank line, body. */
export function parseHttpAnswer(text: string): DocAnswer {
  let rest = text.replace(/\r\n/g, "\n");
  // an interim 100 Continue comes before the answer itself
  while (/^HTTP\/[\d.]+ 1\d\d/.test(rest)) rest = rest.slice(rest.indexOf("\n\n") + 2);
  const split = rest.indexOf("\n\n");
  const head = split < 0 ? rest : rest.slice(0, split);
  const bodyText = split < 0 ? "" : rest.slice(split + 2);
  const [statusLine = "", ...headerLines] = head.split("\n");
  const status = /^HTTP\/[\d.]+ (\d{3})/.exec(statusLine);
  if (!status) throw new Error(`not an HTTP answer: ${text.slice(0, 200)}`);
  const headers = new Map<string, string>();
  for (const line of headerLines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    throw new Error(`the answer's body is not JSON: ${bodyText.slice(0, 200)}`);
  }
  return { status: Number(status[1]), headers, body };
}

/** Reads the setup block and every example with its answer; a block out of place is an error. */
export function readDocExamples(markdown: string): DocExamples {
  const all = blocks(markdown);
  const setups = all.filter((b) => b.role === "mirror-setup");
  if (setups.length !== 1) throw new Error(`expected one mirror-setup block, found ${setups.length}`);
  const examples: DocExample[] = [];
  for (let i = 0; i < all.length; i++) {
    const block = all[i]!;
    if (block.role === "mirror-setup") continue;
    if (block.role !== "mirror-example")
      throw new Error(`a ${block.role} block without an example before it`);
    const next = all[i + 1];
    if (next?.role !== "mirror-answer")
      throw new Error(`the example "${block.title}" has no answer after it`);
    i++;
    const url = new RegExp(`http://${DOC_MIRROR.replace(/\./g, "\\.")}(/\\S*)`).exec(block.text);
    if (!url) throw new Error(`the example "${block.title}" does not call http://${DOC_MIRROR}`);
    examples.push({
      title: block.title,
      request: block.text,
      method: /--data-binary|-d\s|--data\s/.test(block.text) ? "POST" : "GET",
      path: url[1]!,
      answer: parseHttpAnswer(next.text),
    });
  }
  return { setup: setups[0]!.text, examples };
}

/** Whether curl and bash, which run the examples as written, are here. Like prometheusAvailable(). */
export function curlAvailable(): boolean {
  const missing = ["/usr/bin/curl", "/bin/bash"].filter((bin) => !existsSync(bin));
  if (missing.length === 0) return true;
  const reason = `${missing.join(" and ")} not found (Debian: apt-get install curl)`;
  if (process.env.CI === "true") throw new Error(`the docs' examples cannot run in CI: ${reason}`);
  console.warn(`Skipping the docs' examples: ${reason}`);
  return false;
}

/**
 * Runs an example as a reader would, in bash in `cwd` (where `.local/mirror-key` is), after
 * the setup block, with only the mirror's address and Prometheus's port replaced by those of
 * the test's servers. Returns what curl printed.
 */
export async function runDocExample(
  setup: string,
  example: DocExample,
  target: { mirror: string; prometheusPort: number; cwd: string },
): Promise<string> {
  const request = example.request
    .replaceAll(`http://${DOC_MIRROR}`, target.mirror)
    .replace(new RegExp(`\\b${DOC_PROMETHEUS_PORT}\\b`, "g"), String(target.prometheusPort));
  const script = `set -eu\n${setup}\n${request}`;
  const { stdout } = await promisify(execFile)("/bin/bash", ["-c", script], {
    cwd: target.cwd,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C" },
    timeout: 60_000,
  });
  return stdout;
}

/**
 * Where a real answer differs from the documented one in what does not change from run to
 * run: the same keys at every level, the same types, the same `_type`, status and other
 * protocol words, the same `[reason]` at the start of `details`, arrays empty where the docs
 * show them empty (and not where they do not), tuples of the same length. Numbers (values,
 * times) and label values are compared by type only. Returns the differences, by path.
 */
export function shapeDifferences(documented: unknown, actual: unknown, path = "body"): string[] {
  const kind = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);
  if (kind(documented) !== kind(actual)) {
    return [`${path}: documented ${kind(documented)}, answered ${kind(actual)} (${brief(actual)})`];
  }
  if (Array.isArray(documented)) {
    const answered = actual as unknown[];
    if ((documented.length === 0) !== (answered.length === 0)) {
      return [`${path}: documented ${documented.length} elements, answered ${answered.length}`];
    }
    const tuple = documented.every((v) => typeof v !== "object" || v === null);
    if (tuple && documented.length !== answered.length) {
      return [`${path}: documented ${brief(documented)}, answered ${brief(answered)}`];
    }
    if (tuple && path.endsWith("dataFormat")) {
      return JSON.stringify(documented) === JSON.stringify(answered)
        ? []
        : [`${path}: documented ${brief(documented)}, answered ${brief(answered)}`];
    }
    // element by element where the answer lists the same kinds in the same order (field
    // names), else each against a documented element of its kind (points, values)
    const byIndex =
      documented.length === answered.length && documented.every((d, i) => tagOf(d) === tagOf(answered[i]));
    const out: string[] = [];
    answered.forEach((element, i) => {
      const like = byIndex ? documented[i] : counterpart(documented, element);
      if (like === undefined) out.push(`${path}[${i}]: no documented element like ${brief(element)}`);
      else out.push(...shapeDifferences(like, element, `${path}[${i}]`));
    });
    return out;
  }
  if (kind(documented) === "object") {
    const doc = documented as Record<string, unknown>;
    const got = actual as Record<string, unknown>;
    const keys = (o: object) => Object.keys(o).sort().join(",");
    if (keys(doc) !== keys(got)) return [`${path}: documented keys ${keys(doc)}, answered ${keys(got)}`];
    return Object.keys(doc).flatMap((key) => {
      const sub = `${path}.${key}`;
      const d = doc[key];
      const a = got[key];
      if (typeof d === "string" && typeof a === "string") return stringDifference(key, d, a, sub);
      if (typeof d === "boolean" && d !== a) return [`${sub}: documented ${d}, answered ${String(a)}`];
      return shapeDifferences(d, a, sub);
    });
  }
  return [];
}

/** Strings that are the protocol's own words must be equal; details must keep their reason. */
const EXACT_KEYS = new Set(["_type", "status", "fieldType", "fieldName", "mirrorType", "summary"]);

function stringDifference(key: string, documented: string, actual: string, path: string): string[] {
  if (EXACT_KEYS.has(key)) {
    return documented === actual ? [] : [`${path}: documented "${documented}", answered "${brief(actual)}"`];
  }
  if (key === "details") {
    const reason = (s: string) => /^(?:[^[]*: )?\[[a-z0-9-]+\]/.exec(s)?.[0];
    const want = reason(documented);
    if (want === undefined)
      return [`${path}: the documented details carry no [reason]: "${brief(documented)}"`];
    return reason(actual) === want ? [] : [`${path}: documented "${want} …", answered "${brief(actual)}"`];
  }
  return [];
}

/** The documented element an answered one is compared with: the one of the same `_type`, else the first. */
function counterpart(documented: unknown[], element: unknown): unknown {
  if (tagOf(element) === undefined) return documented[0];
  return documented.find((d) => tagOf(d) === tagOf(element));
}

function tagOf(value: unknown): unknown {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as { _type?: unknown })._type
    : undefined;
}

function brief(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}
