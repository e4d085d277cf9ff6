import { execFile } from "node:child_process";
import { describe, expect, it } from "vitest";
import { createEmfMetrics } from "../../lib/aws/emf-metrics";
import {
  METRIC_CATALOGUE,
  METRIC_NAMES,
  type MetricKey,
  MIRROR_ENDPOINTS,
  MIRROR_ERROR_REASONS,
  OTHER_LABEL_VALUE,
  prometheusLabel,
  prometheusName,
  REQUEST_DURATION,
  SERIES_REJECT_REASONS,
} from "../../lib/core/metric-names";
import { teeMetrics } from "../../lib/core/metrics";
import {
  EXPOSITION_CONTENT_TYPE,
  escapeHelp,
  escapeLabelValue,
  formatValue,
  MetricsRegistry,
  outcomeOf,
  routeOf,
} from "../../lib/core/metrics-registry";
import { MIRROR_METHOD_PATHS, REMOTE_WRITE_PATH } from "../../lib/core/routes";
import type { RejectReason } from "../../lib/ingest/scan/validate";
import { type Family, parseExposition } from "../support/exposition-parser";
import { PROMTOOL_BIN, prometheusAvailable } from "../support/prometheus";

/**
 * /metrics: every EMF counter has its Prometheus counterpart (name, help, label) from the one
 * catalogue, the text is what Prometheus's parser and promtool accept, labels stay within
 * their fixed lists whatever is counted, and histograms are cumulative up to `+Inf`.
 */

const KEYS = Object.keys(METRIC_NAMES) as MetricKey[];
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** A registry with something in every counter (under each label value) and in the histogram. */
function busyRegistry(): MetricsRegistry {
  const registry = new MetricsRegistry();
  KEYS.forEach((key, i) => {
    const spec = METRIC_CATALOGUE[key];
    if (spec.by === undefined) registry.count(METRIC_NAMES[key], i + 1);
    else {
      for (const value of spec.by.values)
        registry.count(METRIC_NAMES[key], i + 1, { name: spec.by.dimension, value });
    }
  });
  registry.observeRequest(REMOTE_WRITE_PATH, "2xx", 0.0042);
  registry.observeRequest(REMOTE_WRITE_PATH, "2xx", 0.3);
  registry.observeRequest(REMOTE_WRITE_PATH, "5xx", 120);
  registry.observeRequest(routeOf("/api/metric"), "4xx", 0.001);
  registry.observeRequest(routeOf("/client/made/this/up"), "closed", 2);
  return registry;
}

function promtool(args: string[], input: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile(PROMTOOL_BIN, args, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : 1;
      resolve({ code, output: `${stdout}${stderr}` });
    });
    child.stdin?.end(input);
  });
}

describe("the catalogue", () => {
  it("gives every EMF metric name a Prometheus counter, with help, ending in _total", () => {
    const families = parseExposition(new MetricsRegistry().expose());
    for (const key of KEYS) {
      const name = prometheusName(METRIC_NAMES[key]);
      expect(name, key).toMatch(NAME);
      expect(name, key).toMatch(/_total$/);
      const family = families.get(name);
      expect(family, `${METRIC_NAMES[key]} has no counter ${name} on /metrics`).toBeDefined();
      expect(family!.type).toBe("counter");
      expect(family!.help).toBe(METRIC_CATALOGUE[key].help);
    }
    // nothing on /metrics besides the catalogue and the request histogram
    expect([...families.keys()].sort()).toEqual(
      [...KEYS.map((k) => prometheusName(METRIC_NAMES[k])), REQUEST_DURATION.name].sort(),
    );
  });

  it("derives distinct names in Prometheus's spelling", () => {
    expect(prometheusName("SamplesReceived")).toBe("prometheus_gateway_samples_received_total");
    expect(prometheusName("PutRecordsCalls")).toBe("prometheus_gateway_put_records_calls_total");
    expect(prometheusName("RecordsSentAsV1")).toBe("prometheus_gateway_records_sent_as_v1_total");
    const names = KEYS.map((k) => prometheusName(METRIC_NAMES[k]));
    expect(new Set(names).size).toBe(names.length);
    expect(prometheusLabel("Reason")).toBe("reason");
  });

  it("holds the series reasons to the validator's, and the endpoints to the mirror's routes", () => {
    type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
    const same: Same<RejectReason, (typeof SERIES_REJECT_REASONS)[number]> = true;
    expect(same).toBe(true);
    expect(new Set(SERIES_REJECT_REASONS).size).toBe(SERIES_REJECT_REASONS.length);
    expect(MIRROR_ENDPOINTS).toEqual([...MIRROR_METHOD_PATHS, OTHER_LABEL_VALUE]);
    expect(new Set(MIRROR_ERROR_REASONS).size).toBe(MIRROR_ERROR_REASONS.length);
  });
});

describe("counting", () => {
  it("counts what EMF counts: the same calls give the same totals on both", () => {
    const registry = new MetricsRegistry();
    const docs: Record<string, unknown>[] = [];
    const emf = createEmfMetrics(
      "Test",
      "remote-write",
      (line) => docs.push(JSON.parse(line)),
      () => 0,
    );
    const both = teeMetrics(registry.metrics(), emf);
    both.count(METRIC_NAMES.samplesReceived, 120);
    both.count(METRIC_NAMES.samplesReceived, 3);
    both.count(METRIC_NAMES.recordsWritten, 4);
    both.count(METRIC_NAMES.seriesRejected, 2, { name: "Reason", value: "label-name-invalid" });
    both.count(METRIC_NAMES.seriesRejected, 1, { name: "Reason", value: "too-many-labels" });
    both.flush();

    const families = parseExposition(registry.expose());
    const sample = (key: MetricKey, label?: string) =>
      families.get(prometheusName(METRIC_NAMES[key]))!.samples.find((s) => s.labels.reason === label)?.value;
    const emfValue = (name: string, reason?: string) =>
      docs.find((d) => d[name] !== undefined && d.Reason === reason)?.[name];
    expect(sample("samplesReceived")).toBe(123);
    expect(emfValue(METRIC_NAMES.samplesReceived)).toBe(123);
    expect(sample("recordsWritten")).toBe(emfValue(METRIC_NAMES.recordsWritten));
    expect(sample("seriesRejected", "label-name-invalid")).toBe(2);
    expect(emfValue(METRIC_NAMES.seriesRejected, "label-name-invalid")).toBe(2);
    expect(sample("seriesRejected", "too-many-labels")).toBe(1);
    expect(sample("seriesRejected", "no-labels")).toBe(0);
  });

  it("starts every series of a fixed list at 0", () => {
    const families = parseExposition(new MetricsRegistry().expose());
    const rejected = families.get(prometheusName(METRIC_NAMES.seriesRejected))!;
    expect(rejected.samples.map((s) => s.labels.reason)).toEqual([...SERIES_REJECT_REASONS]);
    expect(rejected.samples.every((s) => s.value === 0)).toBe(true);
    expect(families.get(prometheusName(METRIC_NAMES.deadLetters))!.samples).toEqual([
      { name: prometheusName(METRIC_NAMES.deadLetters), labels: {}, value: 0 },
    ]);
  });

  it("keeps labels to their lists: any other value is counted as `other`, and the text stays bounded", () => {
    const registry = new MetricsRegistry();
    const before = registry.expose().length;
    for (let i = 0; i < 5_000; i++) {
      registry.count(METRIC_NAMES.seriesRejected, 1, { name: "Reason", value: `client-${i}"}\n` });
      registry.count(METRIC_NAMES.mirrorRequests, 1, { name: "Endpoint", value: `/api/x${i}` });
      registry.observeRequest(routeOf(`/path/${i}`), "4xx", 0.01);
    }
    registry.count(METRIC_NAMES.mirrorErrors, 1); // no dimension where one is expected
    const text = registry.expose();
    expect(text).not.toContain("client-");
    expect(text).not.toContain("/api/x");
    expect(text).not.toContain("/path/");
    expect(text.length).toBeLessThan(before + 4_000);
    const families = parseExposition(text);
    const other = (key: MetricKey) =>
      families
        .get(prometheusName(METRIC_NAMES[key]))!
        .samples.find((s) => Object.values(s.labels)[0] === "other")?.value;
    expect(other("seriesRejected")).toBe(5_000);
    expect(other("mirrorRequests")).toBe(5_000);
    expect(other("mirrorErrors")).toBe(1);
    const count = families
      .get(REQUEST_DURATION.name)!
      .samples.filter((s) => s.name.endsWith("_count") && s.labels.route === "other");
    expect(count).toEqual([expect.objectContaining({ value: 5_000 })]);
  });

  it("ignores names it does not know and values that are not a positive count", () => {
    const registry = new MetricsRegistry();
    const empty = registry.expose();
    registry.count("NoSuchMetric", 5);
    registry.count(METRIC_NAMES.recordsWritten, 0);
    registry.count(METRIC_NAMES.recordsWritten, -3);
    registry.count(METRIC_NAMES.recordsWritten, Number.NaN);
    registry.count(METRIC_NAMES.recordsWritten, Number.POSITIVE_INFINITY);
    registry.observeRequest(REMOTE_WRITE_PATH, "2xx", -1);
    expect(registry.expose()).toBe(empty);
  });

  it("gives requests a route from the fixed list and an outcome by status class", () => {
    expect(routeOf(REMOTE_WRITE_PATH)).toBe(REMOTE_WRITE_PATH);
    expect(routeOf("/api/metric")).toBe("/api/metric");
    expect(routeOf("/api/metric/")).toBe("other");
    expect(routeOf("/metrics")).toBe("/metrics");
    expect([200, 204, 302, 400, 429, 503].map(outcomeOf)).toEqual(["2xx", "2xx", "3xx", "4xx", "4xx", "5xx"]);
  });
});

describe("the text format", () => {
  it("is served as version 0.0.4", () => {
    expect(EXPOSITION_CONTENT_TYPE).toBe("text/plain; version=0.0.4; charset=utf-8");
  });

  it("escapes help text and label values as the format says", () => {
    expect(escapeHelp('a\\b\nc "d"')).toBe('a\\\\b\\nc "d"');
    expect(escapeLabelValue('a\\b\nc "d"')).toBe('a\\\\b\\nc \\"d\\"');
    expect(formatValue(Number.POSITIVE_INFINITY)).toBe("+Inf");
    expect(formatValue(Number.NEGATIVE_INFINITY)).toBe("-Inf");
    expect(formatValue(Number.NaN)).toBe("NaN");
    expect(formatValue(0.25)).toBe("0.25");
    expect(formatValue(2 ** 53)).toBe("9007199254740992");
  });

  it("parses back: every sample under its family's TYPE, each family once", () => {
    const families = parseExposition(busyRegistry().expose());
    const rejected = families.get(prometheusName(METRIC_NAMES.seriesRejected))!;
    const index = KEYS.indexOf("seriesRejected");
    expect(rejected.samples).toHaveLength(SERIES_REJECT_REASONS.length);
    expect(rejected.samples.every((s) => s.value === index + 1)).toBe(true);
  });

  it("writes histograms with cumulative buckets up to +Inf, _sum and _count", () => {
    const families = parseExposition(busyRegistry().expose());
    const histogram = families.get(REQUEST_DURATION.name)!;
    expect(histogram.type).toBe("histogram");
    const of = (route: string, outcome: string) =>
      histogram.samples.filter((s) => s.labels.route === route && s.labels.outcome === outcome);
    const ok = of(REMOTE_WRITE_PATH, "2xx");
    const buckets = ok.filter((s) => s.name === `${REQUEST_DURATION.name}_bucket`);
    expect(buckets.map((b) => b.labels.le)).toEqual([...REQUEST_DURATION.buckets.map(String), "+Inf"]);
    const le = (bound: string) => buckets.find((b) => b.labels.le === bound)!.value;
    expect(le("0.0025")).toBe(0);
    expect(le("0.005")).toBe(1);
    expect(le("0.25")).toBe(1);
    expect(le("0.5")).toBe(2);
    expect(le("+Inf")).toBe(2);
    for (let i = 1; i < buckets.length; i++)
      expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
    expect(ok.find((s) => s.name.endsWith("_sum"))!.value).toBeCloseTo(0.3042, 10);
    expect(ok.find((s) => s.name.endsWith("_count"))!.value).toBe(2);
    // over the last bound: only in +Inf
    const slow = of(REMOTE_WRITE_PATH, "5xx").filter((s) => s.name.endsWith("_bucket"));
    expect(slow.filter((b) => b.value > 0).map((b) => b.labels.le)).toEqual(["+Inf"]);
    expect(of("other", "closed").find((s) => s.name.endsWith("_count"))!.value).toBe(1);
  });

  it.skipIf(!prometheusAvailable())(
    "passes promtool check metrics (Prometheus's parser and lint)",
    async () => {
      for (const text of [new MetricsRegistry().expose(), busyRegistry().expose()]) {
        const { code, output } = await promtool(["check", "metrics"], text);
        expect(output).toBe("");
        expect(code).toBe(0);
      }
      // and promtool does fail a malformed text (the check is live)
      const bad = await promtool(["check", "metrics"], '# TYPE x_total counter\nx_total{a="b"c"} 1\n');
      expect(bad.code).not.toBe(0);
    },
  );
});

describe("the parser used here is strict", () => {
  it.each([
    ["a sample before its TYPE", "x_total 1\n"],
    ["an unescaped quote", '# TYPE x_total counter\nx_total{a="b"c"} 1\n'],
    ["a bad escape", '# TYPE x_total counter\nx_total{a="b\\t"} 1\n'],
    ["a family twice", "# TYPE x_total counter\n# TYPE x_total counter\n"],
    ["no value", "# TYPE x_total counter\nx_total\n"],
    ["a histogram without +Inf", '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n'],
    ["no final line feed", "# TYPE x_total counter\nx_total 1"],
  ])("refuses %s", (_name, text) => {
    expect(() => parseExposition(text)).toThrow();
  });

  it("reads what it should", () => {
    const families: Map<string, Family> = parseExposition(
      '# HELP x_total a \\\\ b\\n c\n# TYPE x_total counter\nx_total{a="q\\"\\\\\\n",b=""} 1.5e3\n',
    );
    expect(families.get("x_total")).toEqual({
      name: "x_total",
      type: "counter",
      help: "a \\ b\n c",
      samples: [{ name: "x_total", labels: { a: 'q"\\\n', b: "" }, value: 1500 }],
    });
  });
});
