import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ENTRIES, PROJECT_ROOT } from "../../infra/paths";
import { ENV } from "../../lib/core/env-names";
import {
  METRIC_CATALOGUE,
  METRIC_DIMENSIONS,
  METRIC_NAMES,
  METRIC_SERVICES,
} from "../../lib/core/metric-names";
import { resourcesOf, type Synthesized, synthGateway } from "./synth";

/**
 * The dashboard and the alarms must plot what the functions emit. Emitted: every
 * `.count(name, value, { name: dimension })` in the files each Lambda entry imports
 * (followed through relative imports), under the service its `createEmfMetrics(…, service)`
 * names. Names may be string literals or members of lib/metric-names.ts.
 */

/** One published metric: EMF publishes it under {Service} or {Service, <dimension>} only. */
interface MetricKey {
  readonly service: string;
  readonly name: string;
  /** The dimension besides Service, if any. */
  readonly dimension?: string;
}
const keyText = (k: MetricKey) => `${k.service} ${k.name}${k.dimension ? ` by ${k.dimension}` : ""}`;

const CONSTANTS: Record<string, Record<string, string>> = {
  METRIC_NAMES,
  METRIC_DIMENSIONS,
  METRIC_SERVICES,
};

/** A string literal, or `<CONSTANTS>.<key>`; undefined for anything computed. */
function resolveName(expression: string): string | undefined {
  const text = expression.trim();
  const literal = /^["'`]([^"'`$]*)["'`]$/.exec(text);
  if (literal) return literal[1];
  const member = /^([A-Z_]+)\.([A-Za-z0-9]+)$/.exec(text);
  if (member) return CONSTANTS[member[1]!]?.[member[2]!];
  return undefined;
}

/** The top-level arguments of every call `<marker>(...)` in `source`. */
function callArguments(source: string, marker: string): string[][] {
  const calls: string[][] = [];
  let from = 0;
  for (;;) {
    const at = source.indexOf(marker, from);
    if (at < 0) return calls;
    if (/function\s+$/.test(source.slice(Math.max(0, at - 12), at))) {
      from = at + marker.length; // a declaration, not a call
      continue;
    }
    let depth = 0;
    let current = "";
    const args: string[] = [];
    let i = at + marker.length;
    for (; i < source.length; i++) {
      const ch = source[i]!;
      if ("([{".includes(ch)) depth++;
      if (")]}".includes(ch)) {
        if (depth === 0) break;
        depth--;
      }
      if (ch === "," && depth === 0) {
        args.push(current);
        current = "";
      } else current += ch;
    }
    if (current.trim() !== "") args.push(current);
    calls.push(args);
    from = i;
  }
}

/** Files reachable from `entry` through relative imports. */
function importGraph(entry: string): string[] {
  const seen = new Set<string>();
  const queue = [resolve(PROJECT_ROOT, entry)];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const source = readFileSync(file, "utf8");
    for (const m of source.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)) {
      const base = resolve(dirname(file), m[1]!);
      const candidate = [base, `${base}.ts`, join(base, "index.ts")].find(
        (f) => existsSync(f) && f.endsWith(".ts"),
      );
      if (candidate !== undefined) queue.push(candidate);
    }
  }
  return [...seen];
}

function emittedBy(entry: string): MetricKey[] {
  const files = importGraph(entry);
  const services = new Set<string>();
  const counted: Array<Omit<MetricKey, "service">> = [];
  for (const file of files) {
    const source = readFileSync(file, "utf8");
    for (const args of callArguments(source, "createEmfMetrics(")) {
      const service = args[1] !== undefined ? resolveName(args[1]) : undefined;
      expect(
        service,
        `${relative(PROJECT_ROOT, file)}: createEmfMetrics with a computed service`,
      ).toBeDefined();
      services.add(service!);
    }
    for (const args of callArguments(source, ".count(")) {
      const name = args[0] !== undefined ? resolveName(args[0]) : undefined;
      if (name === undefined) continue;
      const dimensionArg = args[2] !== undefined ? /name:\s*([^,}]+)/.exec(args[2])?.[1] : undefined;
      counted.push({ name, dimension: dimensionArg !== undefined ? resolveName(dimensionArg) : undefined });
    }
  }
  expect(services.size, `${entry}: exactly one EMF service`).toBe(1);
  const [service] = [...services];
  return counted.map((c) => ({ service: service!, ...c }));
}

const EMITTED: MetricKey[] = [
  ...emittedBy(ENTRIES.remoteWrite),
  ...emittedBy(ENTRIES.mirror),
  ...emittedBy(ENTRIES.forwarder),
];
const emittedText = new Set(EMITTED.map(keyText));

/** The dashboard body as JSON, tokens (ARNs, names, region) replaced by a placeholder. */
function dashboardBody(json: Record<string, unknown>): {
  widgets: Array<{ properties: { metrics?: unknown[][] } }>;
} {
  const dashboards = Object.values(resourcesOf(json, "AWS::CloudWatch::Dashboard"));
  expect(dashboards).toHaveLength(1);
  const body = dashboards[0]!.Properties.DashboardBody as unknown;
  const text =
    typeof body === "string"
      ? body
      : ((body as { "Fn::Join": [string, unknown[]] })["Fn::Join"][1] as unknown[])
          .map((part) => (typeof part === "string" ? part : "TOKEN"))
          .join("");
  return JSON.parse(text);
}

/** Every metric of `namespace` the dashboard and the alarms reference. */
function referenced(json: Record<string, unknown>, namespace: string): MetricKey[] {
  const found: MetricKey[] = [];
  const fromDimensions = (name: string, dims: Array<[string, string]>) => {
    const service = dims.find(([k]) => k === METRIC_DIMENSIONS.service)?.[1];
    const others = dims.filter(([k]) => k !== METRIC_DIMENSIONS.service);
    expect(service, `${name} is plotted without a Service dimension`).toBeDefined();
    expect(others.length, `${name} with more than one extra dimension`).toBeLessThanOrEqual(1);
    found.push({ service: service!, name, dimension: others[0]?.[0] });
  };

  for (const alarm of Object.values(resourcesOf(json, "AWS::CloudWatch::Alarm"))) {
    expect(alarm.Properties.Metrics, "metric-math alarms are not checked here").toBeUndefined();
    if (alarm.Properties.Namespace !== namespace) continue;
    const dims = (alarm.Properties.Dimensions as Array<{ Name: string; Value: string }>).map(
      (d) => [d.Name, d.Value] as [string, string],
    );
    fromDimensions(alarm.Properties.MetricName, dims);
  }

  for (const widget of dashboardBody(json).widgets) {
    for (const line of widget.properties.metrics ?? []) {
      const [first] = line;
      if (typeof first === "object" && first !== null && "expression" in first) {
        const expression = String((first as { expression: string }).expression);
        if (!expression.includes(`{${namespace},`)) continue;
        const search = /^SEARCH\('\{([^}]*)\}\s+(.*)',\s*'\w+',\s*\d+\)$/.exec(expression);
        expect(search, `unexpected expression ${expression}`).not.toBeNull();
        const schema = search![1]!.split(",").slice(1);
        const terms = Object.fromEntries(
          [...search![2]!.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]),
        );
        expect(terms.MetricName, `a search without MetricName: ${expression}`).toBeDefined();
        expect(terms[METRIC_DIMENSIONS.service], `a search without Service: ${expression}`).toBeDefined();
        const dims = schema.map(
          (d) => [d, d === METRIC_DIMENSIONS.service ? terms[d]! : "*"] as [string, string],
        );
        fromDimensions(terms.MetricName!, dims);
      } else if (first === namespace) {
        const name = String(line[1]);
        const rest = line.slice(2).filter((x) => typeof x === "string") as string[];
        const dims: Array<[string, string]> = [];
        for (let i = 0; i + 1 < rest.length; i += 2) dims.push([rest[i]!, rest[i + 1]!]);
        fromDimensions(name, dims);
      }
    }
  }
  return found;
}

const CASES: Array<[string, Record<string, string>, string]> = [
  ["both components", {}, "PrometheusGateway"],
  [
    "a custom namespace",
    { metricsNamespace: "Custom/Gateway", alarmEmail: "oncall@example.com" },
    "Custom/Gateway",
  ],
  ["ingest alone", { components: "ingest" }, "PrometheusGateway"],
  ["mirror alone", { components: "mirror" }, "PrometheusGateway"],
  [
    "with the forwarder",
    { forwardUrl: "https://receiver.example.com/api/v1/write", forwardAuth: "none" },
    "PrometheusGateway",
  ],
];
const synths: Array<[string, Synthesized, string]> = CASES.map(([name, context, ns]) => [
  name,
  synthGateway(context),
  ns,
]);

describe("metric names: what the code emits", () => {
  it("finds the counters of every function", () => {
    expect([...emittedText].sort()).toEqual(
      expect.arrayContaining([
        "mirror MirrorRequests by Endpoint",
        "mirror MirrorErrors by Reason",
        "remote-write SamplesReceived",
        "remote-write SeriesRejected by Reason",
        "forwarder ForwardedRecords",
        "forwarder DeadLetters",
      ]),
    );
  });

  it("every name the code counts is declared in lib/metric-names.ts, and every declared name is counted", () => {
    const declared = Object.values(METRIC_NAMES).sort();
    expect([...new Set(EMITTED.map((k) => k.name))].sort()).toEqual(declared);
  });
});

describe("the catalogue behind /metrics", () => {
  it("names each metric's service and extra dimension as the code emits it", () => {
    for (const key of Object.keys(METRIC_CATALOGUE) as (keyof typeof METRIC_NAMES)[]) {
      const spec = METRIC_CATALOGUE[key];
      const emitted = { service: spec.service, name: METRIC_NAMES[key], dimension: spec.by?.dimension };
      expect(emittedText.has(keyText(emitted)), keyText(emitted)).toBe(true);
    }
  });
});

describe.each(synths)("dashboard and alarms (%s)", (_name, synth, namespace) => {
  const refs = referenced(synth.json, namespace);

  it("reference custom metrics at all (the scan is live)", () => {
    expect(refs.length).toBeGreaterThan(0);
  });

  it("plot only metrics the functions emit, under the dimensions they are emitted with", () => {
    const missing = refs.map(keyText).filter((k) => !emittedText.has(k));
    expect(missing).toEqual([]);
  });

  it("read the namespace the functions write to", () => {
    for (const fn of Object.values(resourcesOf(synth.json, "AWS::Lambda::Function"))) {
      expect(fn.Properties.Environment.Variables[ENV.metricsNamespace]).toBe(namespace);
    }
  });
});

describe("the check catches a plotted name nobody emits", () => {
  it("MirrorQueries (never emitted) is reported missing", () => {
    const fake = { service: METRIC_SERVICES.mirror, name: "MirrorQueries" };
    expect(emittedText.has(keyText(fake))).toBe(false);
    // MirrorRequests exists only by Endpoint: plotting it by Service alone shows nothing.
    expect(
      emittedText.has(keyText({ service: METRIC_SERVICES.mirror, name: METRIC_NAMES.mirrorRequests })),
    ).toBe(false);
  });
});
