import {
  corrupt,
  type HttpRequest,
  type LabelSet,
  type RequestIn,
  type SampleIn,
  suiteHistogram,
  v1Request,
  v2Request,
} from "./requests";

/**
 * The receiver cases of the Prometheus Remote-Write compliance suite (prometheus/compliance,
 * `remotewrite/receiver`, its Go tests read at 67b8327), as data: each under the name the Go
 * test runner gives it (subtest names with spaces as underscores, an empty name as `#00`) and
 * with the suite's RFC level (the longest prefix carrying one, as the suite's report reads
 * them). A successful case comes twice, as the suite's runComplianceTest makes it: the MUST
 * case (any 2xx with exact counts) and the SHOULD case `… returns 204`.
 */
export type Level = "MUST" | "SHOULD" | "MAY";

export interface Expected {
  readonly samples?: number;
  readonly exemplars?: number;
  readonly histograms?: number;
  /** A 2xx is expected; otherwise a 4xx. */
  readonly success: boolean;
  /** Exactly 204 (the SHOULD variant of a successful case). */
  readonly strict?: boolean;
  /** Exactly this status. */
  readonly status?: number;
}

export interface SuiteCase {
  readonly name: string;
  readonly level: Level;
  readonly description: string;
  /** Built when the case runs (timestamps from that moment, as the suite's generator). */
  readonly request: () => HttpRequest;
  readonly expected: Expected;
}

type Counts = Pick<Expected, "samples" | "exemplars" | "histograms">;

/** Go's subtest name for `name` (spaces as underscores; an empty name is `#00`). */
const goName = (name: string) => (name === "" ? "#00" : name.replaceAll(" ", "_"));

/** The suite's runComplianceTest: a SHOULD `… returns 204` case for a success, and the MUST case. */
function compliance(
  path: string,
  name: string,
  description: string,
  request: RequestIn,
  counts: Counts,
  success: boolean,
): SuiteCase[] {
  const build = () => v2Request(request);
  const out: SuiteCase[] = [];
  if (success) {
    out.push({
      name: `${path}/${goName(`${name} returns 204`)}`,
      level: "SHOULD",
      description,
      request: build,
      expected: { ...counts, success: true, strict: true },
    });
  }
  out.push({
    name: `${path}/${goName(name)}`,
    level: "MUST",
    description,
    request: build,
    expected: { ...counts, success },
  });
  return out;
}

const basicMetric = (name: string): LabelSet => ({ __name__: name });
const jobInstance = (): LabelSet => ({ __name__: "up", job: "testjob", instance: "localhost:9090" });
const trace = (id: string): LabelSet => ({ trace_id: id });

/**
 * The suite's sample values. Its "StaleNaN" and "NaN" are Go's float64() of the integers
 * 0x7ff0000000000002 and 0x7ff8000000000001: large finite numbers, not NaN bit patterns (the
 * conformance test adds real ones).
 */
export const SUITE_VALUES: readonly [string, number][] = [
  ["1.0", 1.0],
  ["StaleNaN", Number(0x7ff0000000000002n)],
  ["NaN", Number(0x7ff8000000000001n)],
  ["Inf", Number.POSITIVE_INFINITY],
  ["-Inf", Number.NEGATIVE_INFINITY],
];

const HOUR = 3_600_000;
const MINUTE = 60_000;

function requestCases(): SuiteCase[] {
  const up = (): HttpRequest => v2Request({ samples: [{ labels: basicMetric("up"), value: 1 }] });
  const out: SuiteCase[] = [];
  for (const type of ["application/json", "image/png"]) {
    out.push({
      name: `TestBadContentTypes/${type.replaceAll("/", "_")}`,
      level: "MUST",
      description: "Test that unsupported content types are rejected with 415 status",
      request: () => {
        const r = corrupt(up(), 0x30);
        return { headers: { ...r.headers, "content-type": type }, body: r.body };
      },
      expected: { success: false, status: 415 },
    });
  }
  for (const encoding of ["gzip", "deflate"]) {
    out.push({
      name: `TestBadContentEncodings/${encoding}`,
      level: "MUST",
      description: "Test that unsupported content encodings are rejected with 415 status",
      request: () => {
        const r = corrupt(up(), 0x30);
        return { headers: { ...r.headers, "content-encoding": encoding }, body: r.body };
      },
      expected: { success: false, status: 415 },
    });
  }
  out.push({
    name: "TestCorruptRequestBody",
    level: "MUST",
    description: "Test that malformed protobuf request bodies are rejected with 4xx status",
    request: () => corrupt(up(), 0x30),
    expected: { success: false },
  });
  return out;
}

function metricCases(): SuiteCase[] {
  const out: SuiteCase[] = [];
  for (const [key, value] of SUITE_VALUES) {
    const single: [string, LabelSet, boolean][] = [
      ["simple metric", basicMetric("up"), true],
      ["simple metric with multiple labels", jobInstance(), true],
      [
        "simple metric with newlines",
        { __name__: "up", job: "test\njob\n", instance: "localhost:9090" },
        true,
      ],
      [
        "simple metric with dots",
        { __name__: "resource.cpu.usage", "job.name": "testjob", "instance.name": "localhost:9090" },
        true,
      ],
      [
        "simple metric with spaces",
        { __name__: "resource cpu usage", "job name": "testjob", "instance name": "localhost:9090" },
        true,
      ],
      ["simple metric without name label", { job: "testjob", instance: "localhost:9090" }, false],
      ["empty metric", {}, false],
    ];
    for (const [name, labels, success] of single) {
      out.push(
        ...compliance(
          `TestSingleMetric/${key}`,
          name,
          name,
          { samples: [{ labels, value }] },
          { samples: 1 },
          success,
        ),
      );
    }
  }
  out.push(
    ...compliance(
      "TestCounterWithCreatedTimestamp",
      "",
      "Counter with created timestamp",
      {
        samples: [{ labels: { __name__: "http_requests_total", job: "api" }, value: 100, createdMs: -HOUR }],
      },
      { samples: 1 },
      true,
    ),
  );
  for (const [key, value] of SUITE_VALUES) {
    const instances = (named: boolean[]): SampleIn[] =>
      named.map((n, i): SampleIn => {
        const labels: LabelSet = n
          ? { __name__: "up", job: "testjob", instance: `localhost:909${i}` }
          : { job: "testjob", instance: `localhost:909${i}` };
        return { labels, value };
      });
    const multiple: [string, SampleIn[], boolean, number][] = [
      ["multiple metrics", instances([true, true, true, true]), true, 4],
      ["multiple metrics, without name label", instances([false, false, false, false]), false, 0],
      ["multiple metrics, 1 without name label", instances([false, true, true, true]), false, 3],
    ];
    for (const [name, samples, success, valid] of multiple) {
      out.push(
        ...compliance(`TestMultipleMetrics/${key}`, name, name, { samples }, { samples: valid }, success),
      );
    }
  }
  return out;
}

function histogramCases(): SuiteCase[] {
  const out: SuiteCase[] = [];
  const table: [string, LabelSet, boolean, boolean, boolean, boolean, boolean, boolean, string][] = [
    // name, labels, positive, negative, zero, custom buckets, success, bad count, description
    [
      "basic_histogram",
      basicMetric("test_histogram"),
      true,
      true,
      true,
      false,
      true,
      false,
      "Basic histogram with positive, negative and zero buckets",
    ],
    [
      "custom_buckets_histogram",
      basicMetric("test_histogram"),
      true,
      false,
      false,
      true,
      true,
      false,
      "Histogram with custom bucket values",
    ],
    [
      "positive_only_histogram",
      { __name__: "test_histogram", job: "test" },
      true,
      false,
      true,
      false,
      true,
      false,
      "Histogram with only positive and zero buckets",
    ],
    [
      "negative_only_histogram",
      { __name__: "test_histogram", instance: "localhost" },
      false,
      true,
      false,
      false,
      true,
      false,
      "Histogram with only negative buckets",
    ],
    [
      "minimal_histogram",
      basicMetric("minimal_hist"),
      false,
      false,
      true,
      false,
      true,
      false,
      "Minimal histogram with only zero bucket",
    ],
    [
      "bad_count_histogram",
      basicMetric("minimal_hist"),
      true,
      false,
      false,
      false,
      false,
      true,
      "Histogram with bad count",
    ],
  ];
  for (const [name, labels, pos, neg, zero, custom, success, bad, description] of table) {
    out.push(
      ...compliance(
        "TestHistograms",
        name,
        description,
        { histograms: [{ labels, histogram: suiteHistogram(1.0, pos, neg, zero, custom, bad) }] },
        { histograms: 1 },
        success,
      ),
    );
  }
  const one = (path: string, description: string, request: RequestIn, counts: Counts) =>
    out.push(...compliance(path, "", description, request, counts, true));
  one(
    "TestHistogramWithCreatedTimestamp",
    "Histogram with created timestamp",
    {
      histograms: [
        {
          labels: { __name__: "request_duration_seconds", job: "api" },
          histogram: suiteHistogram(1.5, true, true, true, false, false),
          createdMs: -30 * MINUTE,
        },
      ],
    },
    { histograms: 1 },
  );
  one(
    "TestMultipleHistograms",
    "Test sending multiple histograms in a single request",
    {
      histograms: [
        {
          labels: { __name__: "hist1", job: "test" },
          histogram: suiteHistogram(10.5, true, false, true, false, false),
        },
        {
          labels: { __name__: "hist2", job: "test" },
          histogram: suiteHistogram(5.2, false, true, false, false, false),
        },
      ],
    },
    { histograms: 2 },
  );
  one(
    "TestEmptyHistogram",
    "Test histogram with no buckets",
    {
      histograms: [
        {
          labels: basicMetric("empty_hist"),
          histogram: suiteHistogram(0, false, false, false, false, false),
        },
      ],
    },
    { histograms: 1 },
  );
  const duration = { __name__: "request_duration_seconds", job: "api" };
  one(
    "TestHistogramWithMetadata",
    "Test histogram with associated metadata",
    {
      metadata: [
        {
          labels: basicMetric("request_duration_seconds"),
          type: "METRIC_TYPE_HISTOGRAM",
          help: "HTTP request duration in seconds",
          unit: "seconds",
        },
      ],
      histograms: [{ labels: duration, histogram: suiteHistogram(2.5, true, true, true, false, false) }],
    },
    { histograms: 1 },
  );
  const get = { __name__: "http_request_duration_seconds", method: "GET" };
  one(
    "TestHistogramWithExemplar",
    "Test histogram with exemplar",
    {
      exemplars: [
        { labels: get, exemplarLabels: { trace_id: "abc123def456", span_id: "span789" }, value: 1.23 },
      ],
      histograms: [{ labels: get, histogram: suiteHistogram(1.23, true, false, true, false, false) }],
    },
    { histograms: 1, exemplars: 1 },
  );
  const upload = { __name__: "response_size_bytes", service: "upload" };
  one(
    "TestHistogramWithMetadataAndExemplar",
    "Test histogram with both metadata and exemplar",
    {
      metadata: [
        {
          labels: basicMetric("response_size_bytes"),
          type: "METRIC_TYPE_HISTOGRAM",
          help: "HTTP response size in bytes",
          unit: "bytes",
        },
      ],
      exemplars: [
        {
          labels: upload,
          exemplarLabels: { trace_id: "large_upload_trace", user_id: "user456" },
          value: 10485760,
        },
      ],
      histograms: [{ labels: upload, histogram: suiteHistogram(10485760, true, true, true, false, false) }],
    },
    { histograms: 1, exemplars: 1 },
  );
  one(
    "TestMultipleHistogramsWithMetadata",
    "Test multiple histograms each with their own metadata",
    {
      histograms: [
        {
          labels: { __name__: "cpu_usage_histogram", instance: "server1" },
          histogram: suiteHistogram(0.75, true, false, true, false, false),
        },
        {
          labels: { __name__: "memory_usage_histogram", instance: "server1" },
          histogram: suiteHistogram(8589934592, true, true, false, false, false),
        },
      ],
      metadata: [
        {
          labels: basicMetric("cpu_usage_histogram"),
          type: "METRIC_TYPE_HISTOGRAM",
          help: "CPU usage distribution",
          unit: "ratio",
        },
        {
          labels: basicMetric("memory_usage_histogram"),
          type: "METRIC_TYPE_HISTOGRAM",
          help: "Memory usage distribution",
          unit: "bytes",
        },
      ],
    },
    { histograms: 2 },
  );
  return out;
}

function exemplarCases(): SuiteCase[] {
  const out: SuiteCase[] = [];
  const table: [string, LabelSet, LabelSet, number, string][] = [
    [
      "basic_exemplar",
      { __name__: "http_requests_total", job: "api" },
      trace("abc123def456"),
      1.0,
      "Basic exemplar with trace_id",
    ],
    [
      "exemplar_with_span_id",
      { __name__: "request_duration_seconds", method: "GET" },
      { trace_id: "xyz789", span_id: "span123" },
      0.125,
      "Exemplar with trace_id and span_id",
    ],
    [
      "exemplar_without_trace_id",
      { __name__: "cpu_usage", instance: "host1" },
      { user_id: "user123" },
      0.85,
      "Exemplar without trace_id (non-tracing use case)",
    ],
    [
      "exemplar_with_multiple_labels",
      { __name__: "request_latency", service: "auth" },
      { trace_id: "trace456", user: "admin", endpoint: "/login" },
      0.05,
      "Exemplar with multiple labels",
    ],
    ["exemplar_no_labels", basicMetric("simple_counter"), {}, 1.0, "Exemplar without any labels"],
    [
      "exemplar_with_special_chars",
      basicMetric("test_metric"),
      trace("trace-with-dashes_and_underscores.123"),
      42.0,
      "Exemplar with special characters in label values",
    ],
    [
      "exemplar_with_unicode",
      { __name__: "unicode_test", region: "🌍" },
      trace("unicode_trace_测试"),
      100.0,
      "Exemplar with unicode characters",
    ],
  ];
  for (const [name, labels, exemplarLabels, value, description] of table) {
    out.push(
      ...compliance(
        "TestExemplars",
        name,
        description,
        { samples: [{ labels, value }], exemplars: [{ labels, exemplarLabels, value }] },
        { samples: 1, exemplars: 1 },
        true,
      ),
    );
  }
  const counter = { __name__: "http_requests_total", job: "api" };
  out.push(
    ...compliance(
      "TestExemplarWithCreatedTimestamp",
      "",
      "Exemplar with counter that has created timestamp",
      {
        samples: [{ labels: counter, value: 250, createdMs: -2 * HOUR }],
        exemplars: [
          { labels: counter, exemplarLabels: { trace_id: "abc123", span_id: "span456" }, value: 250 },
        ],
      },
      { samples: 1, exemplars: 1 },
      true,
    ),
  );
  const series: [LabelSet, LabelSet, number][] = [
    [{ __name__: "request_duration", method: "GET" }, { trace_id: "trace1", span_id: "span1" }, 0.1],
    [{ __name__: "request_duration", method: "POST" }, { trace_id: "trace2", span_id: "span2" }, 0.25],
    [{ __name__: "error_count", service: "payment" }, { trace_id: "trace3", user: "test_user" }, 1.0],
  ];
  out.push(
    ...compliance(
      "TestMultipleExemplars",
      "",
      "Test sending multiple exemplars with matching samples",
      {
        samples: series.map(([labels, , value]) => ({ labels, value })),
        exemplars: series.map(([labels, exemplarLabels, value]) => ({ labels, exemplarLabels, value })),
      },
      { samples: 3, exemplars: 3 },
      true,
    ),
  );
  const hist = basicMetric("latency_hist");
  const timed: [number, string, number][] = [
    [0.05, "old_trace", -HOUR],
    [0.15, "recent_trace", -MINUTE],
    [0.08, "current_trace", 0],
  ];
  out.push(
    ...compliance(
      "TestExemplarTimestamps",
      "",
      "Test exemplars with different timestamps and matching samples",
      {
        samples: timed.map(([value, , offsetMs]) => ({ labels: hist, value, offsetMs })),
        exemplars: timed.map(([value, id, offsetMs]) => ({
          labels: hist,
          exemplarLabels: trace(id),
          value,
          offsetMs,
        })),
      },
      { samples: 3, exemplars: 3 },
      true,
    ),
  );
  const validation: [string, LabelSet, boolean, string][] = [
    [
      "exemplar_without_name_label",
      { job: "test" },
      false,
      "Exemplar without __name__ label should be rejected",
    ],
    [
      "exemplar_with_empty_name",
      { __name__: "" },
      false,
      "Exemplar with empty metric name should be rejected",
    ],
    [
      "exemplar_with_valid_name",
      basicMetric("valid_metric"),
      true,
      "Exemplar with valid metric name should be accepted",
    ],
  ];
  for (const [name, labels, success, description] of validation) {
    out.push({
      name: `TestExemplarValidation/${name}`,
      level: "SHOULD",
      description,
      request: () =>
        v2Request({
          samples: [{ labels, value: 1 }],
          exemplars: [{ labels, exemplarLabels: trace("test_trace"), value: 1 }],
        }),
      expected: { samples: 1, exemplars: 1, success },
    });
  }
  const special: [string, number][] = [
    ["zero_value", 0.0],
    ["negative_value", -123.456],
    ["large_value", 1e10],
    ["small_value", 1e-10],
    ["nan_value", Number(0x7ff8000000000001n)],
    ["inf_value", Number.POSITIVE_INFINITY],
    ["-inf_value", Number.NEGATIVE_INFINITY],
  ];
  for (const [name, value] of special) {
    const labels = basicMetric("test_metric");
    out.push(
      ...compliance(
        "TestExemplarSpecialValues",
        name,
        name,
        {
          samples: [{ labels, value }],
          exemplars: [{ labels, exemplarLabels: trace("special_value_trace"), value }],
        },
        { samples: 1, exemplars: 1 },
        true,
      ),
    );
  }
  return out;
}

function metadataCases(): SuiteCase[] {
  const out: SuiteCase[] = [];
  const table: [string, LabelSet, string, string, string, string][] = [
    [
      "counter_metadata",
      basicMetric("http_requests_total"),
      "METRIC_TYPE_COUNTER",
      "Total number of HTTP requests",
      "requests",
      "Counter metadata with help and unit",
    ],
    [
      "gauge_metadata",
      basicMetric("cpu_usage_percent"),
      "METRIC_TYPE_GAUGE",
      "Current CPU usage percentage",
      "percent",
      "Gauge metadata with help and unit",
    ],
    [
      "histogram_metadata",
      basicMetric("request_duration_seconds"),
      "METRIC_TYPE_HISTOGRAM",
      "Request duration in seconds",
      "seconds",
      "Histogram metadata with help and unit",
    ],
    [
      "metadata_no_help_no_unit",
      basicMetric("simple_counter"),
      "METRIC_TYPE_COUNTER",
      "",
      "",
      "Metadata without help or unit strings",
    ],
    [
      "metadata_with_special_chars",
      { __name__: "test_metric", job: "test" },
      "METRIC_TYPE_GAUGE",
      'Test metric with\nnewlines and "quotes"',
      "bytes/sec",
      "Metadata with special characters in help",
    ],
    [
      "unspecified_metadata_type",
      basicMetric("unknown_metric"),
      "METRIC_TYPE_UNSPECIFIED",
      "Unknown metric type",
      "",
      "Metadata with unspecified metric type",
    ],
    [
      "info_metadata_type",
      basicMetric("build_info"),
      "METRIC_TYPE_INFO",
      "Build information",
      "",
      "Info type metadata",
    ],
    [
      "stateset_metadata_type",
      basicMetric("node_state"),
      "METRIC_TYPE_STATESET",
      "Node state information",
      "",
      "StateSet type metadata",
    ],
    [
      "summary_metadata_type",
      basicMetric("request_latency_summary"),
      "METRIC_TYPE_SUMMARY",
      "Request latency summary",
      "seconds",
      "Summary type metadata",
    ],
    [
      "gauge_histogram_metadata_type",
      basicMetric("temperature_histogram"),
      "METRIC_TYPE_GAUGEHISTOGRAM",
      "Temperature distribution gauge histogram",
      "celsius",
      "Gauge histogram type metadata",
    ],
  ];
  for (const [name, labels, type, help, unit, description] of table) {
    const metadata = [{ labels, type, help, unit }];
    const histogram = type === "METRIC_TYPE_HISTOGRAM";
    out.push(
      ...compliance(
        "TestMetadata",
        name,
        description,
        histogram
          ? {
              metadata,
              histograms: [{ labels, histogram: suiteHistogram(1.0, true, true, true, false, false) }],
            }
          : { metadata, samples: [{ labels, value: 1 }] },
        histogram ? { histograms: 1 } : { samples: 1 },
        true,
      ),
    );
  }
  const one = (path: string, description: string, request: RequestIn, counts: Counts) =>
    out.push(...compliance(path, "", description, request, counts, true));
  one(
    "TestCounterMetadataWithCreatedTimestamp",
    "Counter with metadata and created timestamp",
    {
      samples: [{ labels: { __name__: "http_requests_total", job: "api" }, value: 150, createdMs: -HOUR }],
      metadata: [
        {
          labels: basicMetric("http_requests_total"),
          type: "METRIC_TYPE_COUNTER",
          help: "Total HTTP requests",
          unit: "requests",
        },
      ],
    },
    { samples: 1 },
  );
  one(
    "TestMetadataWithSamples",
    "Test metadata sent together with samples",
    {
      samples: [{ labels: { __name__: "http_requests_total", job: "test" }, value: 42 }],
      metadata: [
        {
          labels: basicMetric("http_requests_total"),
          type: "METRIC_TYPE_COUNTER",
          help: "Total HTTP requests",
          unit: "requests",
        },
      ],
    },
    { samples: 1 },
  );
  one(
    "TestMultipleMetadata",
    "Test sending multiple metadata entries with matching samples",
    {
      samples: [
        { labels: basicMetric("cpu_usage"), value: 85.5 },
        { labels: basicMetric("memory_usage"), value: 4096000000 },
        { labels: { __name__: "disk_usage", device: "sda1" }, value: 75.2 },
      ],
      metadata: [
        {
          labels: basicMetric("cpu_usage"),
          type: "METRIC_TYPE_GAUGE",
          help: "CPU usage percentage",
          unit: "percent",
        },
        {
          labels: basicMetric("memory_usage"),
          type: "METRIC_TYPE_GAUGE",
          help: "Memory usage in bytes",
          unit: "bytes",
        },
        {
          labels: { __name__: "disk_usage", device: "sda1" },
          type: "METRIC_TYPE_GAUGE",
          help: "Disk usage percentage",
          unit: "percent",
        },
      ],
    },
    { samples: 3 },
  );
  const complex = {
    __name__: "http_request_duration_seconds",
    job: "api-server",
    instance: "localhost:8080",
    method: "GET",
    status: "200",
    endpoint: "/api/v1/users",
  };
  one(
    "TestMetadataWithComplexLabels",
    "Test metadata with complex label sets and matching histogram",
    {
      histograms: [{ labels: complex, histogram: suiteHistogram(0.25, true, true, true, false, false) }],
      metadata: [
        {
          labels: complex,
          type: "METRIC_TYPE_HISTOGRAM",
          help: "HTTP request duration in seconds",
          unit: "seconds",
        },
      ],
    },
    { histograms: 1 },
  );
  const validation: [string, LabelSet, string, boolean, boolean, string][] = [
    [
      "metadata_without_name_label",
      { job: "test" },
      "METRIC_TYPE_COUNTER",
      false,
      false,
      "Metadata without __name__ label should be rejected",
    ],
    [
      "metadata_with_empty_name",
      { __name__: "" },
      "METRIC_TYPE_GAUGE",
      false,
      true,
      "Metadata with empty metric name should be rejected",
    ],
    [
      "metadata_with_valid_name",
      basicMetric("valid_metric_name"),
      "METRIC_TYPE_COUNTER",
      true,
      false,
      "Metadata with valid metric name should be accepted",
    ],
  ];
  for (const [name, labels, type, success, unsafe, description] of validation) {
    out.push({
      name: `TestMetadataValidation/${name}`,
      level: "SHOULD",
      description,
      request: () =>
        v2Request({
          metadata: [{ labels, type, help: "Test help", unit: "unit" }],
          samples: [{ labels, value: 1 }],
          unsafe,
        }),
      expected: { samples: 1, success },
    });
  }
  return out;
}

function combinedCases(): SuiteCase[] {
  const out: SuiteCase[] = [];
  const one = (path: string, description: string, request: RequestIn, counts: Counts) =>
    out.push(...compliance(path, "", description, request, counts, true));
  const post = { __name__: "http_requests_total", job: "api", method: "POST" };
  one(
    "TestSamplesWithMetadataAndExemplars",
    "Test samples with both metadata and exemplars",
    {
      samples: [{ labels: post, value: 1 }],
      metadata: [
        {
          labels: post,
          type: "METRIC_TYPE_COUNTER",
          help: "Total number of HTTP requests",
          unit: "requests",
        },
      ],
      exemplars: [
        { labels: post, exemplarLabels: { trace_id: "request_trace_123", user_id: "user789" }, value: 1 },
      ],
    },
    { samples: 1, exemplars: 1 },
  );
  const auth = { __name__: "request_duration_seconds", service: "auth" };
  one(
    "TestHistogramsWithMetadataAndExemplars",
    "Test histograms with both metadata and exemplars",
    {
      histograms: [{ labels: auth, histogram: suiteHistogram(0.456, true, true, true, false, false) }],
      metadata: [
        {
          labels: basicMetric("request_duration_seconds"),
          type: "METRIC_TYPE_HISTOGRAM",
          help: "HTTP request duration distribution",
          unit: "seconds",
        },
      ],
      exemplars: [
        {
          labels: auth,
          exemplarLabels: { trace_id: "slow_request_trace", endpoint: "/login" },
          value: 0.456,
        },
      ],
    },
    { histograms: 1, exemplars: 1 },
  );
  const cpu = { __name__: "cpu_usage", instance: "server1" };
  one(
    "TestComplexSamplesRequest",
    "Test complex request with samples, metadata, and exemplars",
    {
      samples: [
        { labels: cpu, value: 0.85 },
        { labels: { __name__: "memory_usage", instance: "server1" }, value: 8589934592 },
      ],
      metadata: [
        {
          labels: basicMetric("cpu_usage"),
          type: "METRIC_TYPE_GAUGE",
          help: "CPU usage ratio",
          unit: "ratio",
        },
        {
          labels: basicMetric("memory_usage"),
          type: "METRIC_TYPE_GAUGE",
          help: "Memory usage in bytes",
          unit: "bytes",
        },
      ],
      exemplars: [
        { labels: cpu, exemplarLabels: { trace_id: "high_cpu_trace", process: "worker" }, value: 0.85 },
      ],
    },
    { samples: 2, exemplars: 1 },
  );
  const users = { __name__: "response_time_hist", endpoint: "/api/v1/users" };
  one(
    "TestComplexHistogramsRequest",
    "Test complex request with histograms, metadata, and exemplars",
    {
      histograms: [
        { labels: users, histogram: suiteHistogram(0.125, true, false, true, false, false) },
        {
          labels: { __name__: "request_size_hist", method: "POST" },
          histogram: suiteHistogram(1024, false, true, true, false, false),
        },
      ],
      metadata: [
        {
          labels: basicMetric("response_time_hist"),
          type: "METRIC_TYPE_HISTOGRAM",
          help: "Response time distribution",
          unit: "seconds",
        },
        {
          labels: basicMetric("request_size_hist"),
          type: "METRIC_TYPE_HISTOGRAM",
          help: "Request size distribution",
          unit: "bytes",
        },
      ],
      exemplars: [
        { labels: users, exemplarLabels: { trace_id: "fast_response", user: "premium" }, value: 0.125 },
      ],
    },
    { histograms: 2, exemplars: 1 },
  );
  const ok = { __name__: "http_requests_total", status: "200" };
  one(
    "TestMultipleMetricFamiliesSamples",
    "Test multiple sample metric families with comprehensive metadata",
    {
      samples: [
        { labels: ok, value: 1000 },
        { labels: { __name__: "temperature_celsius", location: "datacenter1" }, value: 23.5 },
      ],
      metadata: [
        {
          labels: basicMetric("http_requests_total"),
          type: "METRIC_TYPE_COUNTER",
          help: "Total HTTP requests",
          unit: "requests",
        },
        {
          labels: basicMetric("temperature_celsius"),
          type: "METRIC_TYPE_GAUGE",
          help: "Temperature in Celsius",
          unit: "celsius",
        },
      ],
      exemplars: [{ labels: ok, exemplarLabels: trace("successful_request"), value: 1000 }],
    },
    { samples: 2, exemplars: 1 },
  );
  const handler = { __name__: "request_duration_seconds", handler: "/metrics" };
  one(
    "TestMultipleMetricFamiliesHistograms",
    "Test histogram metric families with comprehensive metadata",
    {
      histograms: [{ labels: handler, histogram: suiteHistogram(0.003, true, false, true, false, false) }],
      metadata: [
        {
          labels: basicMetric("request_duration_seconds"),
          type: "METRIC_TYPE_HISTOGRAM",
          help: "Request duration in seconds",
          unit: "seconds",
        },
      ],
      exemplars: [
        {
          labels: handler,
          exemplarLabels: { trace_id: "metrics_scrape", scraper: "prometheus" },
          value: 0.003,
        },
      ],
    },
    { histograms: 1, exemplars: 1 },
  );
  const edge: [string, string, RequestIn, Expected][] = [
    [
      "metadata_without_data",
      "Metadata sent without corresponding samples or histograms",
      {
        metadata: [
          {
            labels: basicMetric("orphan_metric"),
            type: "METRIC_TYPE_COUNTER",
            help: "Orphaned metric metadata",
            unit: "count",
          },
        ],
        unsafe: true,
      },
      { success: true },
    ],
    [
      "exemplars_without_data",
      "Exemplars sent without corresponding samples or histograms",
      {
        exemplars: [
          { labels: basicMetric("orphan_metric"), exemplarLabels: trace("orphan_trace"), value: 42 },
        ],
        unsafe: true,
      },
      { exemplars: 1, success: true },
    ],
    [
      "mixed_timestamp_data",
      "Mixed data with different timestamps",
      {
        samples: [
          { labels: basicMetric("old_metric"), value: 1, offsetMs: -HOUR },
          { labels: basicMetric("new_metric"), value: 2 },
        ],
        exemplars: [
          {
            labels: basicMetric("old_metric"),
            exemplarLabels: trace("old_trace"),
            value: 1,
            offsetMs: -30 * MINUTE,
          },
        ],
      },
      { samples: 2, exemplars: 1, success: true },
    ],
  ];
  for (const [name, description, request, expected] of edge) {
    out.push({
      name: `TestEdgeCaseCombinations/${name}`,
      level: "SHOULD",
      description,
      request: () => v2Request(request),
      expected,
    });
  }
  const many = Array.from({ length: 50 }, (_, i) => i);
  one(
    "TestManySamples",
    "Test large scale request with many samples, metadata, and exemplars",
    {
      samples: many.map((i) => ({
        labels: { __name__: `counter_metric_${i}`, series: `series_${i}` },
        value: i * 100,
      })),
      metadata: many.map((i) => ({
        labels: basicMetric(`counter_metric_${i}`),
        type: "METRIC_TYPE_COUNTER",
        help: `Counter metric number ${i}`,
        unit: "count",
      })),
      exemplars: many.map((i) => ({
        labels: { __name__: `counter_metric_${i}`, series: `series_${i}` },
        exemplarLabels: trace(`trace_${i}`),
        value: i * 100,
      })),
    },
    { samples: 50, exemplars: 50 },
  );
  one(
    "TestManyHistograms",
    "Test large scale request with many histograms, metadata, and exemplars",
    {
      histograms: many.map((i) => ({
        labels: { __name__: `histogram_metric_${i}`, bucket: `bucket_${i}` },
        histogram: suiteHistogram(i / 10, true, i % 2 === 0, true, false, false),
      })),
      metadata: many.map((i) => ({
        labels: basicMetric(`histogram_metric_${i}`),
        type: "METRIC_TYPE_HISTOGRAM",
        help: `Histogram metric number ${i}`,
        unit: "seconds",
      })),
      exemplars: many.map((i) => ({
        labels: { __name__: `histogram_metric_${i}`, bucket: `bucket_${i}` },
        exemplarLabels: trace(`trace_${i}`),
        value: i / 10,
      })),
    },
    { histograms: 50, exemplars: 50 },
  );
  const specials = {
    __name__: "test_metric",
    job: "test-job_with.special@chars",
    instance: "localhost:9090",
    environment: "test🚀",
  };
  one(
    "TestSpecialCharactersCombined",
    "Test combined request with special characters in labels and metadata",
    {
      samples: [{ labels: specials, value: 42 }],
      metadata: [
        {
          labels: basicMetric("test_metric"),
          type: "METRIC_TYPE_GAUGE",
          help: 'Test metric with special characters: äöü, newlines\nand "quotes"',
          unit: "special/units",
        },
      ],
      exemplars: [
        {
          labels: specials,
          exemplarLabels: { trace_id: "special_trace_äöü-123", span_id: "span_with.dots-and_underscores" },
          value: 42,
        },
      ],
    },
    { samples: 1, exemplars: 1 },
  );
  const v2 = { __name__: "custom_latency_hist", version: "v2" };
  one(
    "TestCustomBucketsHistogramWithExemplar",
    "Test custom buckets histogram with exemplar",
    {
      exemplars: [
        { labels: v2, exemplarLabels: { trace_id: "custom_bucket_trace", bucket: "0.1" }, value: 0.05 },
      ],
      histograms: [{ labels: v2, histogram: suiteHistogram(0.05, false, false, false, true, false) }],
    },
    { histograms: 1, exemplars: 1 },
  );
  return out;
}

function rw1Cases(): SuiteCase[] {
  return [
    {
      name: "TestRW1BasicCompatibility",
      level: "MAY",
      description: "RW2 receivers may accept RW1 sample requests with basic content-type",
      request: () =>
        v1Request([
          { labels: jobInstance(), value: 1 },
          { labels: basicMetric("http_requests_total"), value: 100 },
        ]),
      // a 1.0 answer carries no *-Written headers: the suite counts them as 0
      expected: { samples: 0, success: true },
    },
    {
      name: "TestRW1ErrorHandling",
      level: "MAY",
      description: "RW2 receivers may handle malformed RW1 requests appropriately",
      request: () => corrupt(v1Request([{ labels: basicMetric("error_test"), value: 1 }]), 0xff),
      expected: { success: false },
    },
  ];
}

/** Every receiver case of the suite, in the order of its files. */
export function receiverSuite(): SuiteCase[] {
  return [
    ...combinedCases(),
    ...exemplarCases(),
    ...histogramCases(),
    ...metadataCases(),
    ...metricCases(),
    ...requestCases(),
    ...rw1Cases(),
  ];
}
