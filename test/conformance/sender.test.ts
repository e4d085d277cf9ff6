import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../lib/core/config";
import { loadForwarderConfig } from "../../lib/forwarder/config";
import { familyName } from "../../lib/forwarder/convert";
import type { ForwardRecord } from "../../lib/forwarder/records";
import { decodeRecord } from "../../lib/stream/consumer";
import { goRune } from "../fixtures/exposition";
import {
  type CapturedRequest,
  Check,
  type Clock,
  findHistogramData,
  findSeries,
  type Handler,
  histogramCount,
  histogramSum,
  isSorted,
  type Level,
  type MockReceiver,
  type MockResponse,
  MustFailed,
  extractLabels as refsLabels,
  requireSeries,
  runForwarder,
  scrapeRecords,
  seriesLabels,
  startMockReceiver,
  virtualClock,
} from "../support/sender-suite";

/**
 * The cases of the prometheus/compliance Remote-Write sender suite (remotewrite/sender,
 * every Test* function and table entry, with its name and MUST/SHOULD/MAY/RECOMMENDED
 * level), run against the forwarder (test/support/sender-suite.ts says how). Validators
 * are the suite's, ported; where the suite's check is vacuous for a forwarder (a sender
 * that "does not crash") it is made concrete, and said so next to the case. A case that
 * does not pass is listed in NOT_PASSING with the reason, and the test holds it to that
 * (it fails when the case starts passing). The counts per level are printed at the end.
 */

interface Case {
  readonly group: string;
  readonly name: string;
  readonly level: Level;
  readonly description: string;
  run(c: Check): Promise<void>;
}

const cases: Case[] = [];
const add = (group: string, name: string, level: Level, description: string, run: Case["run"]) =>
  cases.push({ group, name, level, description, run });

/** Cases that do not pass, and why (see the report in the commit and docs/forwarder.md). */
const NOT_PASSING: Record<string, string> = {
  "TestEdgeCases/many_timeseries":
    "the suite builds its scrape with string(rune(48+i)), so from i=10 on the values are ':' ';' …, which no exposition parser takes: the scrape fails and only up=0 is sent, 1 series (a Prometheus sends only its 5 report series then, and fails the case too)",
  "TestEdgeCases/high_cardinality":
    "the same: values string(rune(48+i)) past '9' make the scrape unparseable, so only up=0 is sent (a Prometheus sends its report series only)",
};

type Validator = (c: Check, req: CapturedRequest) => void;

/**
 * The suite's runSenderTest: one scrape through the pipeline to a receiver answering 204
 * (written counts as decoded), the last request validated, if there was one.
 */
async function senderTest(
  c: Check,
  scrape: string,
  validate: Validator,
  opts: { response?: MockResponse; expectedRequests?: number } = {},
) {
  const clock = virtualClock();
  const receiver = await startMockReceiver(clock);
  try {
    receiver.setResponse({ status: 204, ...opts.response });
    const { records } = scrapeRecords(scrape, clock.now());
    const run = await runForwarder([records], receiver.url, { clock, budgetMs: 5_000 });
    if (run.error !== undefined) throw run.error;
    c.must(
      receiver.requests.length >= (opts.expectedRequests ?? 0),
      `Expected at least ${opts.expectedRequests} request(s), got ${receiver.requests.length}`,
    );
    const last = receiver.requests.at(-1);
    if (last !== undefined) validate(c, last);
  } finally {
    await receiver.close();
  }
}

/** Every scrape of the encoding cases, sent again as 1.0 below. */
const scrapes = new Map<string, string>();
const encoding = (
  group: string,
  name: string,
  level: Level,
  description: string,
  scrape: string,
  v: Validator,
) => {
  scrapes.set(`${group}/${name}`, scrape);
  add(group, name, level, description, (c) => senderTest(c, scrape, v));
};

const ct = (req: CapturedRequest) => String(req.headers["content-type"] ?? "");
const version = (req: CapturedRequest) => String(req.headers["x-prometheus-remote-write-version"] ?? "");
const names = (req: CapturedRequest) =>
  req.request.timeseries.map((ts) => seriesLabels(ts, req).__name__ ?? "");

// ---- protocol_test.go ----
{
  const g = "TestProtocolCompliance";
  const s = "test_metric 42\n";
  encoding(
    g,
    "content_type_protobuf",
    "MUST",
    "Sender MUST use Content-Type: application/x-protobuf",
    s,
    (c, r) =>
      c.must(
        ct(r).includes("application/x-protobuf"),
        "Content-Type header must contain application/x-protobuf",
      ),
  );
  encoding(
    g,
    "content_type_with_proto_param",
    "SHOULD",
    "Sender SHOULD include proto parameter in Content-Type for RW 2.0",
    s,
    (c, r) =>
      c.should(
        ct(r).includes("proto=io.prometheus.write.v2.Request"),
        "Content-Type should include proto parameter for RW 2.0",
      ),
  );
  encoding(g, "content_encoding_snappy", "MUST", "Sender MUST use Content-Encoding: snappy", s, (c, r) =>
    c.must(r.headers["content-encoding"] === "snappy", "Content-Encoding header must be 'snappy'"),
  );
  encoding(
    g,
    "version_header_present",
    "MUST",
    "Sender MUST include X-Prometheus-Remote-Write-Version header",
    s,
    (c, r) => c.must(version(r) !== "", "X-Prometheus-Remote-Write-Version header must be present"),
  );
  encoding(
    g,
    "version_header_value",
    "SHOULD",
    "Sender SHOULD use version 2.0.0 for RW 2.0 receivers",
    s,
    (c, r) =>
      c.should(version(r).startsWith("2.0"), `Version should be 2.0.x for RW 2.0, got: ${version(r)}`),
  );
  encoding(g, "user_agent_present", "MUST", "Sender MUST include User-Agent header (RFC 9110)", s, (c, r) =>
    c.must(String(r.headers["user-agent"] ?? "") !== "", "User-Agent header must be present per RFC 9110"),
  );
  encoding(
    g,
    "snappy_block_format",
    "MUST",
    "Sender MUST use snappy block format, not framed format",
    s,
    (c, r) => {
      c.must(r.body.length > 0, "Request body must not be empty");
      const framed = Buffer.from([0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x50, 0x59]);
      c.must(
        !(r.body.length >= 10 && r.body.subarray(0, 10).equals(framed)),
        "Sender must use snappy block format, not framed format",
      );
    },
  );
  encoding(
    g,
    "protobuf_parseable",
    "MUST",
    "Sender MUST send valid protobuf messages that can be parsed",
    s,
    (c, r) => {
      c.must(r.request !== undefined, "Protobuf message must be parseable");
      c.must(r.request.symbols.length > 0, "Parsed request must contain symbols");
    },
  );
  // the suite checks only that a request came; every request is also a POST
  add(
    "TestHTTPMethod",
    "TestHTTPMethod",
    "MUST",
    "Sender MUST use POST method for remote write requests",
    (c) =>
      senderTest(c, s, (c2, r) => {
        c2.must(r !== undefined, "Request must be received successfully");
        c2.must(r.method === "POST", `the method must be POST, got ${r.method}`);
      }),
  );
}

// ---- samples_test.go ----
{
  const g = "TestSampleEncoding";
  const value =
    (name: string, check: (c: Check, v: number) => void): Validator =>
    (c, r) => {
      const ts = requireSeries(c, r, name);
      c.must(ts.samples.length > 0, "Timeseries must contain samples");
      check(c, ts.samples[0]!.value);
    };
  encoding(
    g,
    "float_value_encoding",
    "MUST",
    "Sender MUST correctly encode regular float values",
    "test_metric 123.45\n",
    (c, r) => {
      c.must(r.request.timeseries.length > 0, "Request must contain timeseries");
      value("test_metric", (c2, v) => c2.must(v === 123.45, "Sample value must be correctly encoded"))(c, r);
    },
  );
  encoding(
    g,
    "integer_value_encoding",
    "MUST",
    "Sender MUST correctly encode integer values as floats",
    "test_counter_total 42\n",
    value("test_counter_total", (c, v) => c.must(v === 42, "Integer value must be encoded as float")),
  );
  encoding(
    g,
    "zero_value_encoding",
    "MUST",
    "Sender MUST correctly encode zero values",
    "test_gauge 0\n",
    value("test_gauge", (c, v) => c.must(v === 0, "Zero value must be correctly encoded")),
  );
  encoding(
    g,
    "negative_value_encoding",
    "MUST",
    "Sender MUST correctly encode negative values",
    "temperature_celsius -15.5\n",
    value("temperature_celsius", (c, v) => c.must(v === -15.5, "Negative value must be correctly encoded")),
  );
  encoding(
    g,
    "positive_infinity_encoding",
    "MUST",
    "Sender MUST correctly encode +Inf values",
    "test_gauge +Inf\n",
    value("test_gauge", (c, v) =>
      c.must(v === Number.POSITIVE_INFINITY, "Positive infinity must be correctly encoded"),
    ),
  );
  encoding(
    g,
    "negative_infinity_encoding",
    "MUST",
    "Sender MUST correctly encode -Inf values",
    "test_gauge -Inf\n",
    value("test_gauge", (c, v) =>
      c.must(v === Number.NEGATIVE_INFINITY, "Negative infinity must be correctly encoded"),
    ),
  );
  encoding(
    g,
    "nan_encoding",
    "MUST",
    "Sender MUST correctly encode NaN values",
    "test_gauge NaN\n",
    value("test_gauge", (c, v) => c.must(Number.isNaN(v), "NaN must be correctly encoded")),
  );
  encoding(
    g,
    "timestamp_milliseconds_format",
    "MUST",
    "Sender MUST encode timestamps as milliseconds since Unix epoch",
    "test_metric 42\n",
    (c, r) => {
      const ts = requireSeries(c, r, "test_metric");
      c.must(ts.samples.length > 0, "Timeseries must contain samples");
      c.must(ts.samples[0]!.timestamp > 1e12, "Timestamp should be in milliseconds, not seconds");
      c.must(ts.samples[0]!.timestamp < 1e16, "Timestamp should be in milliseconds, not nanoseconds");
    },
  );
  encoding(
    g,
    "timestamp_recent",
    "SHOULD",
    "Sender SHOULD send timestamps close to current time for fresh scrapes",
    "test_metric 42\n",
    (c, r) => {
      const ts = requireSeries(c, r, "test_metric");
      c.must(ts.samples.length > 0, "Timeseries must contain samples");
      const diff = Math.abs(Date.now() - ts.samples[0]!.timestamp);
      c.should(diff < 5 * 60 * 1000, `Timestamp should be recent (within 5 minutes), diff: ${diff}ms`);
    },
  );
  encoding(
    g,
    "multiple_samples_same_series",
    "MAY",
    "Sender MAY send multiple samples for the same series in different requests",
    "test_counter_total 100\n",
    (c, r) => {
      const ts = findSeries(r, "test_counter_total");
      if (ts) c.may(ts.samples.length > 0, "Timeseries may contain samples");
      c.may(ts !== undefined, "test_counter_total may be present");
    },
  );
  encoding(
    g,
    "large_float_values",
    "MUST",
    "Sender MUST handle very large float values",
    "test_large 1.7976931348623157e+308\n",
    value("test_large", (c, v) => c.must(v > 1e307, "Large float value must be correctly encoded")),
  );
  encoding(
    g,
    "small_float_values",
    "MUST",
    "Sender MUST handle very small float values",
    "test_small 2.2250738585072014e-308\n",
    value("test_small", (c, v) => {
      c.must(v < 1e-307, "Small float value must be correctly encoded");
      c.must(v > 0, "Small float value must be positive");
    }),
  );
  encoding(
    g,
    "scientific_notation",
    "MUST",
    "Sender MUST handle values in scientific notation",
    "test_scientific 1.23e-4\n",
    value("test_scientific", (c, v) =>
      c.must(
        Math.abs(v - 0.000123) <= 0.0000001,
        "Scientific notation value must be correctly parsed and encoded",
      ),
    ),
  );
  encoding(
    g,
    "precision_preservation",
    "SHOULD",
    "Sender SHOULD preserve float precision",
    "test_precision 0.123456789012345\n",
    (c, r) => {
      const ts = requireSeries(c, r, "test_precision");
      c.must(ts.samples.length > 0, "Timeseries must contain samples");
    },
  );
  encoding(
    g,
    "job_instance_labels_present",
    "SHOULD",
    "Sender SHOULD include job and instance labels in samples",
    "test_metric 42\n",
    (c, r) => {
      const ts = requireSeries(c, r, "test_metric");
      const labels = seriesLabels(ts, r);
      c.should((labels.job ?? "") !== "", "Sample should include 'job' label");
      c.should((labels.instance ?? "") !== "", "Sample should include 'instance' label");
    },
  );
  add(
    "TestSampleOrdering",
    "TestSampleOrdering",
    "MUST",
    "Sender MUST send samples with older timestamps before newer ones within a series",
    (c) => senderTest(c, "# Multiple metrics\nmetric_a 1\nmetric_b 2\nmetric_c 3\n", orderedWithinSeries),
  );
}

function orderedWithinSeries(c: Check, r: CapturedRequest) {
  for (const ts of r.request.timeseries) {
    for (let i = 1; i < ts.samples.length; i++)
      c.must(
        ts.samples[i - 1]!.timestamp <= ts.samples[i]!.timestamp,
        "Samples within a timeseries must be ordered by timestamp",
      );
    for (let i = 1; i < ts.histograms.length; i++)
      c.must(
        ts.histograms[i - 1]!.timestamp <= ts.histograms[i]!.timestamp,
        "Histograms within timeseries must be ordered by timestamp (oldest first)",
      );
  }
}

// ---- labels_test.go ----
{
  const g = "TestLabelValidation";
  encoding(
    g,
    "label_lexicographic_ordering",
    "MUST",
    "Labels MUST be sorted in lexicographic order",
    'test_metric{aaa="1",bbb="2",zzz="3"} 42\n',
    (c, r) => {
      const ts = r.request.timeseries.find((t) => seriesLabels(t, r).__name__ === "test_metric");
      if (ts)
        c.must(isSorted(r.request.symbols, ts.labelsRefs), "Labels must be sorted in lexicographic order");
    },
  );
  encoding(
    g,
    "metric_name_label_present",
    "MUST",
    "Timeseries MUST include __name__ label",
    "test_metric 42\n",
    (c, r) => {
      c.must(r.request.timeseries.length > 0, "Request must contain timeseries");
      for (const ts of r.request.timeseries)
        c.must((seriesLabels(ts, r).__name__ ?? "") !== "", "Timeseries must include __name__ label");
    },
  );
  encoding(
    g,
    "metric_name_format_valid",
    "MUST",
    "Metric name MUST match [a-zA-Z_:][a-zA-Z0-9_:]* regex",
    "valid_metric_name:subsystem_total 42\n",
    (c, r) => {
      for (const name of names(r)) {
        c.must(name !== "", "Metric name must not be empty");
        c.must(
          /^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name),
          `Metric name must match regex [a-zA-Z_:][a-zA-Z0-9_:]*, got: ${name}`,
        );
      }
    },
  );
  encoding(
    g,
    "label_name_format_valid",
    "MUST",
    "Label names MUST match [a-zA-Z_][a-zA-Z0-9_]* regex (except __name__)",
    'test_metric{valid_label="value",another_1="val2"} 42',
    (c, r) => {
      for (const ts of r.request.timeseries)
        for (const name of Object.keys(seriesLabels(ts, r)))
          if (name !== "")
            c.must(
              /^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name) || name === "__name__",
              `Label name must match regex [a-zA-Z_][a-zA-Z0-9_]*, got: ${name}`,
            );
    },
  );
  encoding(
    g,
    "no_duplicate_label_names",
    "MUST",
    "Timeseries MUST NOT have duplicate label names",
    'test_metric{foo="bar",baz="qux"} 42',
    (c, r) => {
      for (const ts of r.request.timeseries)
        c.must(
          ts.labelsRefs.length / 2 === Object.keys(seriesLabels(ts, r)).length,
          "No duplicate label names allowed",
        );
    },
  );
  encoding(
    g,
    "label_names_not_empty",
    "MUST",
    "Label names MUST NOT be empty",
    'test_metric{label="value"} 42',
    (c, r) => {
      for (const ts of r.request.timeseries)
        for (let i = 0; i < ts.labelsRefs.length; i += 2)
          c.must((r.request.symbols[ts.labelsRefs[i]!] ?? "") !== "", "Label names must not be empty");
    },
  );
  encoding(
    g,
    "label_values_may_be_empty",
    "MAY",
    "Label values MAY be empty strings",
    'test_metric{empty=""} 42',
    (c, r) => {
      for (const ts of r.request.timeseries)
        for (let i = 1; i < ts.labelsRefs.length; i += 2)
          c.may((r.request.symbols[ts.labelsRefs[i]!] ?? "").length >= 0, "Label values may be empty");
    },
  );
  encoding(
    g,
    "reserved_label_prefix",
    "SHOULD",
    "Labels with __ prefix SHOULD be reserved for internal use",
    'test_metric{normal="value"} 42',
    (c, r) => {
      for (const ts of r.request.timeseries)
        for (const name of Object.keys(seriesLabels(ts, r)))
          if (name !== "__name__" && name.startsWith("__"))
            c.should(false, `Labels with __ prefix should be reserved, found: ${name}`);
    },
  );
  encoding(
    g,
    "unicode_in_label_values",
    "MUST",
    "Sender MUST handle Unicode characters in label values",
    'test_metric{emoji="🚀",chinese="测试"} 42',
    (c, r) => {
      let found = false;
      for (const ts of r.request.timeseries)
        for (const v of Object.values(seriesLabels(ts, r)))
          if ([...v].some((ch) => ch.codePointAt(0)! > 127)) {
            found = true;
            c.must(v !== "", "Unicode values must be preserved");
          }
      c.may(found || r.request.timeseries.length > 0, "Unicode characters may be present in labels");
    },
  );
  encoding(
    g,
    "special_chars_in_label_values",
    "MUST",
    "Sender MUST handle special characters in label values",
    'test_metric{path="/api/v1/users",query="foo=bar&baz=qux"} 42',
    (c, r) => {
      let found = false;
      for (const ts of r.request.timeseries)
        for (const [k, v] of Object.entries(seriesLabels(ts, r)))
          if (k === "path" || k === "query") {
            c.must(v !== "", "Special characters must be preserved");
            found = true;
          }
      c.should(found || r.request.timeseries.length > 0, "Special characters should be handled correctly");
    },
  );
  encoding(
    g,
    "very_long_label_names",
    "SHOULD",
    "Sender SHOULD handle long label names (within reasonable limits)",
    'test_metric{very_long_label_name_that_exceeds_normal_length_but_is_still_valid="value"} 42',
    (c, r) => {
      for (const ts of r.request.timeseries)
        for (const k of Object.keys(seriesLabels(ts, r)))
          if (k.length > 50) c.should(k.length > 0, "Long label names should be handled");
    },
  );
  encoding(
    g,
    "very_long_label_values",
    "SHOULD",
    "Sender SHOULD handle long label values (within reasonable limits)",
    'test_metric{description="This is a very long label value that contains a lot of text to test how senders handle long strings in label values which might be common in real-world scenarios"} 42',
    (c, r) => {
      for (const ts of r.request.timeseries)
        for (const v of Object.values(seriesLabels(ts, r)))
          if (v.length > 100) c.should(v.length > 0, "Long label values should be handled");
    },
  );
  encoding(
    g,
    "many_labels_per_series",
    "SHOULD",
    "Sender SHOULD handle timeseries with many labels",
    'test_metric{l1="v1",l2="v2",l3="v3",l4="v4",l5="v5",l6="v6",l7="v7",l8="v8",l9="v9",l10="v10"} 42',
    (c, r) => {
      for (const ts of r.request.timeseries) {
        const n = Object.keys(seriesLabels(ts, r)).length;
        if (n > 5) c.should(n >= 5, "Sender should handle timeseries with many labels");
      }
    },
  );
}

// ---- symbols_test.go ----
{
  const g = "TestSymbolTable";
  encoding(
    g,
    "empty_string_at_index_zero",
    "MUST",
    "Symbol table MUST have empty string at index 0",
    "test_metric 42\n",
    (c, r) => {
      c.must(r.request.symbols.length > 0, "Symbol table must not be empty");
      c.must(
        r.request.symbols[0] === "",
        `Symbol at index 0 must be empty string, got: ${JSON.stringify(r.request.symbols[0])}`,
      );
    },
  );
  encoding(
    g,
    "string_deduplication",
    "RECOMMENDED",
    "Symbol table should deduplicate repeated strings for efficiency",
    '# Multiple metrics with same label keys/values\ntest_metric{foo="bar",baz="qux"} 1\ntest_metric{foo="bar",baz="qux"} 2\nanother_metric{foo="bar"} 3\n',
    (c, r) => {
      c.must(r.request.symbols.length > 0, "Symbol table must not be empty");
      const seen = new Map<string, number>();
      r.request.symbols.forEach((sym, i) => {
        if (sym === "") return;
        if (seen.has(sym))
          c.recommended(
            false,
            `Duplicate string ${JSON.stringify(sym)} found at indices ${seen.get(sym)} and ${i}`,
          );
        seen.set(sym, i);
      });
    },
  );
  encoding(
    g,
    "labels_refs_valid_indices",
    "MUST",
    "All label refs MUST point to valid symbol table indices",
    'test_metric{label="value"} 42\n',
    (c, r) => {
      c.must(r.request.timeseries.length > 0, "Request must contain at least one timeseries");
      for (const ts of r.request.timeseries)
        for (const ref of ts.labelsRefs)
          c.must(
            ref < r.request.symbols.length,
            `LabelsRefs entry ${ref} points outside symbol table (size: ${r.request.symbols.length})`,
          );
    },
  );
  encoding(
    g,
    "labels_refs_even_length",
    "MUST",
    "Label refs array length MUST be even (key-value pairs)",
    'test_metric{label="value"} 42\n',
    (c, r) => {
      c.must(r.request.timeseries.length > 0, "Request must contain at least one timeseries");
      for (const ts of r.request.timeseries)
        c.must(ts.labelsRefs.length % 2 === 0, `LabelsRefs has odd length ${ts.labelsRefs.length}`);
    },
  );
  add(
    "TestSymbolTableEfficiency",
    "TestSymbolTableEfficiency",
    "RECOMMENDED",
    "Symbol table should be efficiently constructed with good compression",
    (c) =>
      senderTest(
        c,
        '# Multiple series with shared labels\nhttp_requests_total{method="GET",status="200",handler="/api/v1"} 100\nhttp_requests_total{method="POST",status="200",handler="/api/v1"} 50\nhttp_requests_total{method="GET",status="404",handler="/api/v1"} 10\nhttp_requests_total{method="GET",status="200",handler="/api/v2"} 75\n',
        (c2, r) => {
          const unique = r.request.symbols.filter((s) => s !== "").length;
          c2.recommended(
            unique <= 30,
            `Symbol table should be efficiently deduplicated (found ${unique} unique symbols)`,
          );
          c2.log(
            `Symbol table contains ${unique} unique symbols (total ${r.request.symbols.length} entries)`,
          );
        },
      ),
  );
}

// ---- timestamps_test.go ----
{
  const g = "TestTimestampEncoding";
  encoding(
    g,
    "timestamp_int64_milliseconds",
    "MUST",
    "Timestamps MUST be encoded as int64 milliseconds since Unix epoch",
    "test_counter_total 42\n",
    (c, r) => {
      c.must(r.request.timeseries.length > 0, "Request must contain timeseries");
      const ts = r.request.timeseries.find((t) => t.samples.length > 0);
      if (ts) {
        c.must(ts.samples[0]!.timestamp > 1e12, "Timestamp should be in milliseconds, not seconds");
        c.must(ts.samples[0]!.timestamp < 1e16, "Timestamp should be in milliseconds, not nanoseconds");
      }
    },
  );
  encoding(
    g,
    "timestamp_ordering_within_series",
    "MUST",
    "Within a timeseries, samples MUST be ordered by timestamp (oldest first)",
    "# Multiple metrics over time\nmetric_a 1\nmetric_b 2\nmetric_c 3\n",
    orderedWithinSeries,
  );
  encoding(
    g,
    "start_timestamp_for_counters",
    "MAY",
    "Sender MAY include start_timestamp for counter metrics",
    "# TYPE test_counter counter\ntest_counter_total 100\n",
    (c, r) => {
      const ts = findSeries(r, "test_counter_total");
      const st = ts?.samples[0]?.startTimestamp ?? 0;
      if (st !== 0) {
        c.may(st > 0, "Start timestamp may be present for counters");
        c.may(st > 1e12, "Start timestamp should be in milliseconds");
      }
    },
  );
  encoding(
    g,
    "start_timestamp_for_histograms",
    "MAY",
    "Sender MAY include start_timestamp for histogram metrics",
    '# TYPE test_histogram histogram\ntest_histogram_count 100\ntest_histogram_sum 250.0\ntest_histogram_bucket{le="+Inf"} 100\n',
    (c, r) => {
      const ts = r.request.timeseries.find((t) =>
        ["test_histogram_count", "test_histogram"].includes(seriesLabels(t, r).__name__ ?? ""),
      );
      const st = ts?.samples[0]?.startTimestamp ?? 0;
      if (st !== 0) c.may(st > 0, "Start timestamp may be present for histogram samples");
    },
  );
  encoding(
    g,
    "start_timestamp_zero_handling",
    "SHOULD",
    "Start timestamp value of 0 SHOULD be treated as unset",
    "# TYPE test_counter counter\ntest_counter_total 50\n",
    (c, r) => {
      for (const ts of r.request.timeseries)
        for (const s of ts.samples)
          if (s.startTimestamp !== 0)
            c.should(s.startTimestamp > 1e12, "Non-zero start timestamp should be valid milliseconds");
    },
  );
  encoding(
    g,
    "timestamp_precision",
    "SHOULD",
    "Sender SHOULD preserve millisecond precision in timestamps",
    "test_metric 42\n",
    (c, r) => {
      const ts = r.request.timeseries.find((t) => t.samples.length > 0);
      if (ts)
        c.should(
          Math.abs(Date.now() - ts.samples[0]!.timestamp) < 10 * 60 * 1000,
          "Timestamp should be within 10 minutes of current time for fresh scrape",
        );
    },
  );
  encoding(
    g,
    "timestamp_future_values",
    "SHOULD",
    "Sender SHOULD handle timestamps slightly in the future",
    "test_metric 42\n",
    (c, r) => {
      const ts = r.request.timeseries.find((t) => t.samples.length > 0);
      const t = ts?.samples[0]?.timestamp ?? 0;
      if (t > Date.now())
        c.should(t - Date.now() < 5 * 60 * 1000, "Future timestamps should not be too far ahead (max 5 min)");
    },
  );
  encoding(
    g,
    "start_timestamp_before_sample_timestamp",
    "SHOULD",
    "Start timestamp SHOULD be before or equal to sample timestamp",
    "# TYPE test_counter counter\ntest_counter_total 100\n",
    (c, r) => {
      for (const ts of r.request.timeseries)
        for (const s of ts.samples)
          if (s.startTimestamp !== 0)
            c.should(
              s.startTimestamp <= s.timestamp,
              "Start timestamp should be before or equal to sample timestamp",
            );
    },
  );
}

// ---- histograms_test.go ----
{
  const g = "TestHistogramEncoding";
  const hist = (count: number | string, sum: number | string, extra = "") =>
    `# TYPE test_histogram histogram\ntest_histogram_count ${count}\ntest_histogram_sum ${sum}\n${extra}`;
  const anyNative = (r: CapturedRequest) => r.request.timeseries.some((t) => t.histograms.length > 0);
  encoding(
    g,
    "native_histogram_structure",
    "MUST",
    "Sender MUST correctly encode native histogram structure",
    '# TYPE test_histogram histogram\ntest_histogram_count 10\ntest_histogram_sum 25.5\ntest_histogram_bucket{le="1"} 2\ntest_histogram_bucket{le="5"} 7\ntest_histogram_bucket{le="+Inf"} 10\n',
    (c, r) => {
      const { classic, native } = findHistogramData(r, "test_histogram");
      c.must(
        classic || native !== undefined,
        "Histogram data must be present (either as count/sum/bucket or native format)",
      );
    },
  );
  encoding(
    g,
    "histogram_count_present",
    "MUST",
    "Sender MUST include histogram count",
    hist(100, 250.5, 'test_histogram_bucket{le="+Inf"} 100\n'),
    (c, r) => {
      const n = histogramCount(r, "test_histogram");
      c.may(n !== undefined, "Histogram count should be present in some form");
      if (n !== undefined) c.must(n === 100, "Histogram count value must be correct");
    },
  );
  encoding(
    g,
    "histogram_sum_present",
    "MUST",
    "Sender MUST include histogram sum",
    hist(100, 250.5, 'test_histogram_bucket{le="+Inf"} 100\n'),
    (c, r) => {
      const n = histogramSum(r, "test_histogram");
      c.may(n !== undefined, "Histogram sum should be present in some form");
      if (n !== undefined) c.must(n === 250.5, "Histogram sum value must be correct");
    },
  );
  encoding(
    g,
    "histogram_buckets_ordered",
    "SHOULD",
    "Sender SHOULD send histogram buckets in order",
    '# TYPE request_duration histogram\nrequest_duration_bucket{le="0.1"} 10\nrequest_duration_bucket{le="0.5"} 50\nrequest_duration_bucket{le="1.0"} 100\nrequest_duration_bucket{le="5.0"} 200\nrequest_duration_bucket{le="+Inf"} 250\nrequest_duration_sum 500.0\nrequest_duration_count 250\n',
    (c, r) => {
      const found = r.request.timeseries.some(
        (t) => seriesLabels(t, r).__name__ === "request_duration" && t.histograms.length > 0,
      );
      c.may(found || r.request.timeseries.length > 0, "Histogram data should be present");
    },
  );
  encoding(
    g,
    "histogram_positive_buckets",
    "MAY",
    "Native histogram MAY include positive buckets",
    "# TYPE test_native_histogram histogram\ntest_native_histogram_count 100\ntest_native_histogram_sum 250.0\n",
    (c, r) => {
      const ts = r.request.timeseries.find((t) => t.histograms.length > 0);
      if (ts) c.may(ts.histograms[0]!.positiveSpans.length > 0, "Native histogram may have positive buckets");
      c.may(
        ts !== undefined || r.request.timeseries.length > 0,
        "Histogram may be in native or classic format",
      );
    },
  );
  encoding(
    g,
    "histogram_negative_buckets",
    "MAY",
    "Native histogram MAY include negative buckets",
    hist(50, "-25.0"),
    (c, r) => c.may(anyNative(r) || r.request.timeseries.length > 0, "Histogram may be in various formats"),
  );
  encoding(
    g,
    "histogram_zero_bucket",
    "MAY",
    "Native histogram MAY include zero bucket",
    hist(10, "0.0"),
    (c, r) =>
      c.may(anyNative(r) || r.request.timeseries.length > 0, "Histogram data should be present in some form"),
  );
  encoding(
    g,
    "histogram_schema",
    "MUST",
    "Native histogram MUST specify schema if using native format",
    hist(100, "500.0"),
    (c, r) => {
      const ts = r.request.timeseries.find((t) => t.histograms.length > 0);
      if (ts) c.must(ts.histograms[0] !== undefined, "Native histogram must have schema");
    },
  );
  encoding(
    g,
    "histogram_timestamp",
    "MUST",
    "Histogram MUST include valid timestamp",
    hist(100, "250.0", 'test_histogram_bucket{le="+Inf"} 100\n'),
    (c, r) => {
      let found = false;
      for (const ts of r.request.timeseries) {
        if (seriesLabels(ts, r).__name__ === "test_histogram_count" && ts.samples.length > 0) {
          c.must(ts.samples[0]!.timestamp > 0, "Histogram timestamp must be valid");
          found = true;
          break;
        }
        if (ts.histograms.length > 0) {
          c.must(ts.histograms[0]!.timestamp > 0, "Native histogram timestamp must be valid");
          found = true;
          break;
        }
      }
      c.must(found, "Histogram must have valid timestamp");
    },
  );
  encoding(
    g,
    "histogram_no_mixed_with_samples",
    "MUST",
    "Sender MUST NOT mix histogram and sample data in same timeseries",
    hist(100, "250.0"),
    (c, r) => {
      for (const ts of r.request.timeseries)
        c.must(
          !(ts.samples.length > 0 && ts.histograms.length > 0),
          "Timeseries must not contain both samples and histograms",
        );
    },
  );
  encoding(
    g,
    "histogram_empty_buckets",
    "SHOULD",
    "Sender SHOULD handle histograms with no observations",
    hist(0, "0", 'test_histogram_bucket{le="+Inf"} 0\n'),
    (c, r) => {
      let found = false;
      const ts = findSeries(r, "test_histogram_count");
      if (ts && ts.samples.length > 0) {
        c.should(ts.samples[0]!.value === 0, "Empty histogram count should be 0");
        found = true;
      }
      c.should(found || r.request.timeseries.length > 0, "Empty histogram should be handled correctly");
    },
  );
  encoding(
    g,
    "histogram_large_counts",
    "MUST",
    "Sender MUST handle histograms with large observation counts",
    hist(1000000000, "5000000000.0", 'test_histogram_bucket{le="+Inf"} 1000000000\n'),
    (c, r) => {
      const ts = findSeries(r, "test_histogram_count");
      let found = false;
      if (ts && ts.samples.length > 0) {
        c.must(ts.samples[0]!.value === 1e9, "Large histogram count must be correctly encoded");
        found = true;
      }
      c.may(found || r.request.timeseries.length > 0, "Large histogram counts should be handled");
    },
  );
}

// ---- exemplars_test.go ----
{
  const g = "TestExemplarEncoding";
  const exLabels = (r: CapturedRequest, refs: number[]) => refsLabels(refs, r.request.symbols);
  encoding(
    g,
    "exemplar_with_trace_id",
    "MAY",
    "Sender MAY attach exemplars with trace_id to samples",
    '# TYPE http_request_duration_seconds histogram\nhttp_request_duration_seconds_bucket{le="0.1"} 50 # {trace_id="abc123xyz"} 0.05 1234567890.123\nhttp_request_duration_seconds_bucket{le="+Inf"} 100\nhttp_request_duration_seconds_sum 10.5\nhttp_request_duration_seconds_count 100\n',
    (c, r) => {
      const ts = r.request.timeseries.find((t) => t.exemplars.length > 0);
      if (ts)
        c.may(
          (exLabels(r, ts.exemplars[0]!.labelsRefs).trace_id ?? "") !== "",
          "Exemplar may include trace_id label",
        );
      c.may(
        ts !== undefined || r.request.timeseries.length > 0,
        "Exemplars may be present if supported by sender",
      );
    },
  );
  encoding(
    g,
    "exemplar_with_span_id",
    "MAY",
    "Sender MAY attach exemplars with span_id to samples",
    '# TYPE http_requests_total counter\nhttp_requests_total 1000 # {trace_id="abc123",span_id="def456"} 999 1234567890.5\n',
    (c, r) => {
      let found = false;
      for (const ts of r.request.timeseries)
        for (const ex of ts.exemplars) {
          const l = exLabels(r, ex.labelsRefs);
          if ("span_id" in l) {
            found = true;
            c.may(l.span_id!.length > 0, "Exemplar may include span_id label");
          }
        }
      c.may(found || r.request.timeseries.length > 0, "Exemplar may include span_id if supported");
    },
  );
  encoding(
    g,
    "exemplar_value_valid",
    "MUST",
    "Exemplar MUST have valid float value if present",
    '# TYPE test_counter counter\ntest_counter 100 # {trace_id="test123"} 99.5 1234567890.0\n',
    (c, r) => {
      for (const ts of r.request.timeseries)
        for (const ex of ts.exemplars) c.must(typeof ex.value === "number", "Exemplar value must be set");
    },
  );
  encoding(
    g,
    "exemplar_timestamp_valid",
    "MUST",
    "Exemplar MUST have valid timestamp if present",
    '# TYPE test_counter counter\ntest_counter 100 # {trace_id="test123"} 99 1234567890.123\n',
    (c, r) => {
      for (const ts of r.request.timeseries)
        for (const ex of ts.exemplars) {
          c.must(ex.timestamp > 0, "Exemplar timestamp must be positive");
          c.must(ex.timestamp > 1e12, "Exemplar timestamp should be in milliseconds");
        }
    },
  );
  encoding(
    g,
    "exemplar_labels_valid_refs",
    "MUST",
    "Exemplar label refs MUST point to valid symbol table indices",
    '# TYPE test_metric counter\ntest_metric 100 # {trace_id="xyz"} 99 1234567890.0\n',
    (c, r) => {
      for (const ts of r.request.timeseries)
        for (const ex of ts.exemplars)
          for (const ref of ex.labelsRefs)
            c.must(ref < r.request.symbols.length, `Exemplar label ref ${ref} must be valid symbol index`);
    },
  );
  encoding(
    g,
    "exemplar_custom_labels",
    "MAY",
    "Sender MAY attach exemplars with custom labels beyond trace/span",
    '# TYPE test_counter counter\ntest_counter 50 # {user_id="user123",request_id="req456"} 49 1234567890.0\n',
    (c, r) => {
      let found = false;
      for (const ts of r.request.timeseries)
        for (const ex of ts.exemplars)
          for (const [k, v] of Object.entries(exLabels(r, ex.labelsRefs)))
            if (k !== "trace_id" && k !== "span_id") {
              found = true;
              c.may(v !== "", `Custom exemplar labels may be used: ${k}`);
              break;
            }
      c.may(found || r.request.timeseries.length > 0, "Custom exemplar labels may be present");
    },
  );
  encoding(
    g,
    "exemplar_on_histogram",
    "MAY",
    "Sender MAY attach exemplars to histogram buckets",
    '# TYPE request_duration histogram\nrequest_duration_bucket{le="0.1"} 10 # {trace_id="hist123"} 0.05 1234567890.0\nrequest_duration_bucket{le="+Inf"} 100\nrequest_duration_sum 50.0\nrequest_duration_count 100\n',
    (c, r) => {
      const found = r.request.timeseries.some(
        (t) =>
          ["request_duration_bucket", "request_duration"].includes(seriesLabels(t, r).__name__ ?? "") &&
          t.exemplars.length > 0,
      );
      c.may(found || r.request.timeseries.length > 0, "Histogram exemplars may be present");
    },
  );
  encoding(
    g,
    "exemplar_labels_even_length",
    "MUST",
    "Exemplar label refs array MUST have even length (key-value pairs)",
    '# TYPE test_counter counter\ntest_counter 100 # {trace_id="test"} 99 1234567890.0\n',
    (c, r) => {
      for (const ts of r.request.timeseries)
        for (const ex of ts.exemplars)
          c.must(
            ex.labelsRefs.length % 2 === 0,
            `Exemplar label refs length must be even, got: ${ex.labelsRefs.length}`,
          );
    },
  );
  encoding(
    g,
    "multiple_exemplars_per_series",
    "MAY",
    "Sender MAY attach multiple exemplars to a single timeseries",
    '# TYPE test_histogram histogram\ntest_histogram_bucket{le="0.1"} 10 # {trace_id="ex1"} 0.05 1234567890.0\ntest_histogram_bucket{le="0.5"} 50 # {trace_id="ex2"} 0.3 1234567891.0\ntest_histogram_bucket{le="+Inf"} 100\ntest_histogram_sum 50.0\ntest_histogram_count 100\n',
    (c, r) => {
      const found = r.request.timeseries.some((t) => t.exemplars.length > 1);
      c.may(found || r.request.timeseries.length > 0, "Multiple exemplars may be present");
    },
  );
}

// ---- metadata_test.go ----
{
  const g = "TestMetadataEncoding";
  const COUNTER = 1;
  const GAUGE = 2;
  const HISTOGRAM = 3;
  const SUMMARY = 5;
  const typed = (
    name: string,
    scrape: string,
    level: Level,
    description: string,
    metricNames: string[],
    want: number,
    what: string,
  ) =>
    encoding(g, name, level, description, scrape, (c, r) => {
      let found = false;
      for (const ts of r.request.timeseries) {
        if (!metricNames.includes(seriesLabels(ts, r).__name__ ?? "")) continue;
        if (ts.metadata.type !== 0) {
          c.should(
            ts.metadata.type === want,
            `${what} metric should have the right type in metadata, got ${ts.metadata.type}`,
          );
          found = true;
        }
        break;
      }
      c.should(
        found || r.request.timeseries.length > 0,
        `Metadata should be present for ${what.toLowerCase()} metrics`,
      );
    });
  typed(
    "metadata_type_counter",
    "# HELP http_requests_total Total HTTP requests\n# TYPE http_requests_total counter\nhttp_requests_total 100\n",
    "SHOULD",
    "Sender SHOULD include TYPE metadata for counter metrics",
    ["http_requests_total"],
    COUNTER,
    "Counter",
  );
  typed(
    "metadata_type_gauge",
    "# HELP memory_usage_bytes Current memory usage\n# TYPE memory_usage_bytes gauge\nmemory_usage_bytes 1048576\n",
    "SHOULD",
    "Sender SHOULD include TYPE metadata for gauge metrics",
    ["memory_usage_bytes"],
    GAUGE,
    "Gauge",
  );
  typed(
    "metadata_type_histogram",
    '# HELP request_duration_seconds Request duration\n# TYPE request_duration_seconds histogram\nrequest_duration_seconds_bucket{le="+Inf"} 100\nrequest_duration_seconds_sum 50.0\nrequest_duration_seconds_count 100\n',
    "SHOULD",
    "Sender SHOULD include TYPE metadata for histogram metrics",
    ["request_duration_seconds_count", "request_duration_seconds"],
    HISTOGRAM,
    "Histogram",
  );
  typed(
    "metadata_type_summary",
    '# HELP rpc_duration_seconds RPC duration\n# TYPE rpc_duration_seconds summary\nrpc_duration_seconds{quantile="0.5"} 0.05\nrpc_duration_seconds{quantile="0.9"} 0.1\nrpc_duration_seconds_sum 100.0\nrpc_duration_seconds_count 1000\n',
    "SHOULD",
    "Sender SHOULD include TYPE metadata for summary metrics",
    ["rpc_duration_seconds"],
    SUMMARY,
    "Summary",
  );
  const help = (
    name: string,
    scrape: string,
    level: Level,
    description: string,
    metric: string,
    check: (c: Check, text: string) => void,
    message: string,
  ) =>
    encoding(g, name, level, description, scrape, (c, r) => {
      let found = false;
      const ts = r.request.timeseries.find((t) => seriesLabels(t, r).__name__ === metric);
      if (ts && ts.metadata.helpRef !== 0) {
        check(c, r.request.symbols[ts.metadata.helpRef] ?? "");
        found = true;
      }
      c.should(found || r.request.timeseries.length > 0, message);
    });
  help(
    "metadata_help_text",
    "# HELP http_requests_total The total number of HTTP requests\n# TYPE http_requests_total counter\nhttp_requests_total 100\n",
    "SHOULD",
    "Sender SHOULD include HELP text in metadata",
    "http_requests_total",
    (c, t) => {
      c.should(t.length > 0, "HELP text should be present in metadata");
      c.should(t.includes("HTTP requests"), "HELP text should contain meaningful description");
    },
    "HELP text should be present in metadata",
  );
  encoding(
    g,
    "metadata_unit",
    "MAY",
    "Sender MAY include UNIT in metadata",
    "# HELP memory_usage_bytes Memory usage\n# TYPE memory_usage_bytes gauge\n# UNIT memory_usage_bytes bytes\nmemory_usage_bytes 1048576\n",
    (c, r) => {
      const ts = r.request.timeseries.find((t) => seriesLabels(t, r).__name__ === "memory_usage_bytes");
      let found = false;
      if (ts && ts.metadata.unitRef !== 0) {
        c.may((r.request.symbols[ts.metadata.unitRef] ?? "").length > 0, "UNIT may be present in metadata");
        found = true;
      }
      c.may(found || r.request.timeseries.length > 0, "UNIT may be present in metadata");
    },
  );
  help(
    "metadata_help_with_newlines",
    "# HELP multiline_metric This is a help text\n# HELP multiline_metric that spans multiple lines\n# TYPE multiline_metric gauge\nmultiline_metric 42\n",
    "SHOULD",
    "Sender SHOULD preserve newlines in HELP text",
    "multiline_metric",
    (c, t) => c.should(t.length > 0, "HELP text should be present"),
    "Metadata should be handled correctly",
  );
  help(
    "metadata_help_with_special_chars",
    '# HELP special_metric This help contains "quotes" and \\backslashes\\\n# TYPE special_metric counter\nspecial_metric 100\n',
    "SHOULD",
    "Sender SHOULD preserve special characters in HELP text",
    "special_metric",
    (c, t) => c.should(t.length > 0, "HELP text with special characters should be preserved"),
    "Special characters in metadata should be handled",
  );
  encoding(
    g,
    "metadata_help_refs_valid",
    "MUST",
    "Metadata HelpRef MUST point to valid symbol table index if non-zero",
    "# HELP test_metric Test metric description\n# TYPE test_metric counter\ntest_metric 42\n",
    (c, r) => {
      for (const ts of r.request.timeseries) {
        if (ts.metadata.helpRef !== 0)
          c.must(ts.metadata.helpRef < r.request.symbols.length, "HelpRef must point to valid symbol index");
        if (ts.metadata.unitRef !== 0)
          c.must(ts.metadata.unitRef < r.request.symbols.length, "UnitRef must point to valid symbol index");
      }
    },
  );
  encoding(
    g,
    "metadata_consistent_across_series",
    "SHOULD",
    "Sender SHOULD send consistent metadata for the same metric family",
    '# HELP http_requests_total Total HTTP requests\n# TYPE http_requests_total counter\nhttp_requests_total{method="GET"} 100\nhttp_requests_total{method="POST"} 50\n',
    (c, r) => {
      let first: { type: number; helpRef: number } | undefined;
      for (const ts of r.request.timeseries) {
        if (seriesLabels(ts, r).__name__ !== "http_requests_total") continue;
        if (first === undefined) first = ts.metadata;
        else {
          c.should(
            first.type === ts.metadata.type,
            "Metadata type should be consistent for same metric family",
          );
          c.should(
            first.helpRef === ts.metadata.helpRef,
            "Metadata help should be consistent for same metric family",
          );
        }
      }
    },
  );
  encoding(
    g,
    "metadata_empty_help_allowed",
    "MAY",
    "Sender MAY send metrics without HELP text",
    "# TYPE no_help_metric counter\nno_help_metric 42\n",
    (c, r) => {
      const ts = r.request.timeseries.find((t) => seriesLabels(t, r).__name__ === "no_help_metric");
      if (ts) c.may(ts.metadata.helpRef >= 0, "Empty HELP text is allowed");
      c.may(ts !== undefined || r.request.timeseries.length > 0, "Metrics without HELP are allowed");
    },
  );
}

// ---- batching_test.go ----
{
  const g = "TestBatchingBehavior";
  encoding(
    g,
    "multiple_series_per_request",
    "RECOMMENDED",
    "Sender should batch multiple series in single request for efficiency",
    '# Multiple metrics to batch\nhttp_requests_total{method="GET",status="200"} 1000\nhttp_requests_total{method="POST",status="200"} 500\nhttp_requests_total{method="GET",status="404"} 50\ncpu_usage_percent 45.2\nmemory_usage_bytes 1048576\ndisk_io_bytes_total 1000000\n',
    (c, r) => {
      c.recommended(
        r.request.timeseries.length >= 3,
        `Sender should batch multiple series, got ${r.request.timeseries.length} series`,
      );
      c.recommended(new Set(names(r)).size >= 2, "Sender should batch different metrics");
    },
  );
  encoding(
    g,
    "batch_size_reasonable",
    "RECOMMENDED",
    "Sender should use reasonable batch sizes (10k series max) for performance",
    `# Large scrape to test batch size handling\n${Array.from({ length: 12000 }, (_, i) => `metric{label="${i}"} 1\n`).join("")}`,
    (c, r) => {
      const n = r.request.timeseries.length;
      c.recommended(n >= 1, "Request should contain at least one series");
      c.recommended(n <= 10000, `Batch size should be reasonable (less than 10k series), got ${n}`);
    },
  );
  encoding(
    g,
    "handles_varying_cardinality",
    "RECOMMENDED",
    "Sender should handle varying label cardinality efficiently",
    '# High cardinality metrics\napi_calls{endpoint="/users",method="GET",region="us-east",status="200"} 100\napi_calls{endpoint="/users",method="POST",region="us-east",status="201"} 50\napi_calls{endpoint="/posts",method="GET",region="us-west",status="200"} 200\napi_calls{endpoint="/posts",method="DELETE",region="eu-west",status="204"} 10\napi_calls{endpoint="/comments",method="GET",region="ap-south",status="200"} 500\nlow_cardinality_metric 42\n',
    (c, r) => {
      c.recommended(
        r.request.symbols.some((s) => s !== ""),
        "Symbol table should deduplicate",
      );
      c.recommended(r.request.timeseries.length >= 2, "Should handle mixed cardinality metrics");
    },
  );
  encoding(
    g,
    "efficient_symbol_reuse",
    "RECOMMENDED",
    "Sender should reuse symbols efficiently across batches",
    '# Metrics with shared labels\nhttp_requests{service="api",method="GET"} 100\nhttp_requests{service="api",method="POST"} 50\nhttp_requests{service="web",method="GET"} 200\nhttp_duration{service="api",method="GET"} 0.5\nhttp_duration{service="api",method="POST"} 0.3\n',
    (c, r) => {
      const counts = new Map<string, number>();
      for (const s of r.request.symbols) counts.set(s, (counts.get(s) ?? 0) + 1);
      for (const [s, n] of counts)
        if (s !== "")
          c.recommended(n === 1, `Symbol ${JSON.stringify(s)} should appear only once in table, got ${n}`);
    },
  );
  encoding(
    g,
    "metadata_batching",
    "RECOMMENDED",
    "Sender should batch metadata with samples efficiently",
    '# HELP http_requests_total Total HTTP requests\n# TYPE http_requests_total counter\nhttp_requests_total{method="GET"} 1000\nhttp_requests_total{method="POST"} 500\n\n# HELP memory_usage_bytes Current memory usage\n# TYPE memory_usage_bytes gauge\nmemory_usage_bytes 1048576\n',
    (c, r) => c.recommended(r.request.timeseries.length >= 2, "Should batch multiple series"),
  );
  add(
    "TestConcurrentRequests",
    "TestConcurrentRequests",
    "MAY",
    "Sender MAY send multiple requests in parallel",
    (c) =>
      senderTest(
        c,
        "# Multiple metrics\nmetric_1 1\nmetric_2 2\nmetric_3 3\nmetric_4 4\nmetric_5 5\n",
        (c2, r) => c2.may(r !== undefined, "At least one request should be sent"),
      ),
  );
}

// ---- combined_test.go ----
{
  const g = "TestCombinedFeatures";
  encoding(
    g,
    "samples_with_metadata",
    "SHOULD",
    "Sender SHOULD send samples with associated metadata",
    '# HELP http_requests_total Total HTTP requests received\n# TYPE http_requests_total counter\nhttp_requests_total{method="GET",status="200"} 1000\nhttp_requests_total{method="POST",status="201"} 500\n',
    (c, r) => {
      let metric = false;
      let withMetadata = false;
      for (const ts of r.request.timeseries) {
        if (seriesLabels(ts, r).__name__ !== "http_requests_total") continue;
        metric = true;
        c.should(ts.samples.length > 0, "Counter should have samples");
        if (ts.metadata.type !== 0) {
          c.should(ts.metadata.type === 1, "Metadata type should match metric type");
          withMetadata = true;
        }
        if (ts.metadata.helpRef !== 0)
          c.should(
            (r.request.symbols[ts.metadata.helpRef] ?? "").includes("HTTP requests"),
            "Help text should be meaningful",
          );
      }
      c.must(metric, "Expected to find http_requests_total metric");
      c.should(withMetadata, "Metadata should be present with samples");
    },
  );
  encoding(
    g,
    "samples_with_exemplars",
    "MAY",
    "Sender MAY send samples with attached exemplars",
    '# TYPE request_count counter\nrequest_count 1000 # {trace_id="abc123",span_id="def456"} 999 1234567890.123\n',
    (c, r) => {
      const ts = findSeries(r, "request_count");
      c.must(ts !== undefined, "Expected to find request_count metric");
      c.may((ts?.exemplars.length ?? 0) > 0, "Exemplars present");
    },
  );
  encoding(
    g,
    "histogram_with_metadata_and_exemplars",
    "MAY",
    "Sender MAY send histograms with metadata and exemplars",
    '# HELP request_duration_seconds Request duration in seconds\n# TYPE request_duration_seconds histogram\nrequest_duration_seconds_bucket{le="0.1"} 100 # {trace_id="hist123"} 0.05 1234567890.0\nrequest_duration_seconds_bucket{le="0.5"} 250\nrequest_duration_seconds_bucket{le="1.0"} 500\nrequest_duration_seconds_bucket{le="+Inf"} 1000\nrequest_duration_seconds_sum 450.5\nrequest_duration_seconds_count 1000\n',
    (c, r) => {
      const base = "request_duration_seconds";
      const parts = r.request.timeseries.filter((t) =>
        [`${base}_count`, `${base}_bucket`, base].includes(seriesLabels(t, r).__name__ ?? ""),
      );
      c.must(parts.length > 0, "Expected histogram data but none was found");
      c.may(
        parts.some((t) => t.metadata.type !== 0),
        "Histogram metadata present",
      );
      c.may(
        parts.some((t) => t.exemplars.length > 0),
        "Histogram exemplars present",
      );
    },
  );
  encoding(
    g,
    "multiple_metric_types",
    "MUST",
    "Sender MUST handle multiple metric types in same request",
    '# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 123.45\n\n# TYPE process_memory_bytes gauge\nprocess_memory_bytes 1048576\n\n# TYPE request_duration_seconds histogram\nrequest_duration_seconds_bucket{le="+Inf"} 100\nrequest_duration_seconds_sum 50.0\nrequest_duration_seconds_count 100\n',
    (c, r) => {
      const types = new Set(
        names(r).flatMap((n) =>
          n === "process_cpu_seconds_total"
            ? ["counter"]
            : n === "process_memory_bytes"
              ? ["gauge"]
              : ["request_duration_seconds_count", "request_duration_seconds"].includes(n)
                ? ["histogram"]
                : [],
        ),
      );
      c.must(types.size > 0, "Request must contain metrics");
      c.log(`Found metric types: ${[...types]}`);
    },
  );
  encoding(
    g,
    "high_cardinality_labels",
    "RECOMMENDED",
    "Sender should efficiently handle high cardinality label sets",
    '# TYPE http_requests_total counter\nhttp_requests_total{method="GET",path="/api/v1/users",status="200"} 100\nhttp_requests_total{method="GET",path="/api/v1/posts",status="200"} 200\nhttp_requests_total{method="POST",path="/api/v1/users",status="201"} 50\nhttp_requests_total{method="POST",path="/api/v1/posts",status="201"} 75\nhttp_requests_total{method="GET",path="/api/v1/comments",status="200"} 300\nhttp_requests_total{method="DELETE",path="/api/v1/users",status="204"} 10\n',
    (c, r) => {
      c.recommended(
        r.request.symbols.some((s) => s !== ""),
        "Symbol table should contain unique symbols",
      );
      c.recommended(
        names(r).filter((n) => n === "http_requests_total").length >= 6,
        "High cardinality metrics should have multiple series",
      );
    },
  );
  encoding(
    g,
    "complete_metric_family",
    "MUST",
    "Sender MUST send all components of metric family together",
    '# HELP api_request_duration_seconds API request duration\n# TYPE api_request_duration_seconds histogram\napi_request_duration_seconds_bucket{le="0.1"} 50\napi_request_duration_seconds_bucket{le="0.5"} 150\napi_request_duration_seconds_bucket{le="1.0"} 250\napi_request_duration_seconds_bucket{le="+Inf"} 300\napi_request_duration_seconds_sum 200.5\napi_request_duration_seconds_count 300\n',
    (c, r) => {
      const found = r.request.timeseries.some((t) => {
        const n = seriesLabels(t, r).__name__;
        return (
          n === "api_request_duration_seconds_count" ||
          (n === "api_request_duration_seconds" && t.histograms.length > 0)
        );
      });
      c.must(found || r.request.timeseries.length > 0, "Histogram family must include count");
    },
  );
  encoding(
    g,
    "mixed_labels_and_metadata",
    "SHOULD",
    "Sender SHOULD correctly encode metrics with many labels and metadata",
    '# HELP api_calls_total Total API calls with detailed labels\n# TYPE api_calls_total counter\napi_calls_total{service="auth",method="POST",endpoint="/login",region="us-east",status="200"} 1000\napi_calls_total{service="auth",method="POST",endpoint="/logout",region="us-east",status="200"} 500\napi_calls_total{service="users",method="GET",endpoint="/profile",region="eu-west",status="200"} 2000\n',
    (c, r) => {
      let n = 0;
      for (const ts of r.request.timeseries) {
        const l = seriesLabels(ts, r);
        if (l.__name__ !== "api_calls_total") continue;
        n++;
        c.should((l.service ?? "") !== "", "Service label should be present");
        c.should((l.method ?? "") !== "", "Method label should be present");
        c.should((l.endpoint ?? "") !== "", "Endpoint label should be present");
      }
      c.should(n >= 3, "Should have multiple series with different label combinations");
    },
  );
  encoding(
    g,
    "real_world_scenario",
    "MUST",
    "Sender MUST handle realistic mixed metric payload",
    '# Realistic scrape output with multiple metric types\n# TYPE up gauge\nup 1\n\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 45.67\n\n# TYPE go_memstats_alloc_bytes gauge\ngo_memstats_alloc_bytes 2097152\n\n# TYPE http_request_duration_seconds histogram\nhttp_request_duration_seconds_bucket{le="0.05"} 100\nhttp_request_duration_seconds_bucket{le="0.1"} 200\nhttp_request_duration_seconds_bucket{le="0.5"} 450\nhttp_request_duration_seconds_bucket{le="1.0"} 480\nhttp_request_duration_seconds_bucket{le="+Inf"} 500\nhttp_request_duration_seconds_sum 125.5\nhttp_request_duration_seconds_count 500\n\n# TYPE http_requests_total counter\nhttp_requests_total{method="GET",code="200"} 5000\nhttp_requests_total{method="POST",code="201"} 1000\n',
    (c, r) => {
      for (const ts of r.request.timeseries) {
        c.must((seriesLabels(ts, r).__name__ ?? "") !== "", "Each timeseries must have __name__");
        c.must(
          !(ts.samples.length > 0 && ts.histograms.length > 0),
          "Timeseries must not mix samples and histograms",
        );
      }
      c.must(new Set(names(r)).size >= 3, "Real-world scenario should have multiple distinct metrics");
    },
  );
}

// ---- edge_cases_test.go ----
{
  const g = "TestEdgeCases";
  encoding(
    g,
    "empty_scrape",
    "SHOULD",
    "Sender SHOULD handle scrapes with no metrics gracefully",
    "# No metrics\n",
    (c, r) => {
      c.should(true, "Sender handled empty scrape");
      c.log(`Empty scrape handled: ${r.request.timeseries.length} timeseries`);
    },
  );
  encoding(
    g,
    "huge_label_values",
    "SHOULD",
    "Sender SHOULD handle very large label values (10KB+)",
    `test_metric{large_label="${"x".repeat(10000)}"} 42\n`,
    (c, r) => {
      let found = false;
      for (const ts of r.request.timeseries)
        for (const v of Object.values(seriesLabels(ts, r)))
          if (v.length > 5000) {
            found = true;
            c.should(v.length >= 5000, "Large label value should be preserved");
          }
      c.should(found || r.request.timeseries.length === 0, "Large label values should be handled");
    },
  );
  encoding(
    g,
    "unicode_in_labels",
    "MUST",
    "Sender MUST preserve Unicode characters in labels",
    'test_metric{emoji="🚀",chinese="测试",arabic="مرحبا",vietnamese="tôi yêu việt nam"} 42\n',
    (c, r) => {
      let found = false;
      for (const ts of r.request.timeseries)
        for (const v of Object.values(seriesLabels(ts, r)))
          if ([...v].some((ch) => ch.codePointAt(0)! > 127)) {
            found = true;
            c.must(v !== "", "Unicode value must be preserved");
          }
      c.should(found || r.request.timeseries.length > 0, "Unicode characters should be preserved");
    },
  );
  {
    // built as the Go suite builds it: string(rune(48+i)) past '9' makes names and values no parser takes
    let text = "";
    for (let i = 0; i < 100; i++)
      text += `metric_${"0".repeat(3 - goRune(Math.trunc(i / 100)).length)}${goRune(48 + i)} ${goRune(48 + i)}\n`;
    encoding(
      g,
      "many_timeseries",
      "RECOMMENDED",
      "Sender should efficiently handle many timeseries",
      text,
      (c, r) => {
        c.recommended(r.request.timeseries.length >= 10, "Should handle multiple timeseries efficiently");
        c.recommended(r.request.symbols.length > 0, "Symbol table should be used");
      },
    );
  }
  {
    let text = "";
    for (let i = 0; i < 50; i++)
      text += `http_requests{path="/api/v1/endpoint_${goRune(48 + Math.trunc(i / 10))}${goRune(48 + (i % 10))}",method="GET"} ${goRune(48 + i)}\n`;
    encoding(
      g,
      "high_cardinality",
      "RECOMMENDED",
      "Sender should handle high cardinality label sets efficiently",
      text,
      (c, r) => {
        c.recommended(r.request.timeseries.length >= 20, "Should handle high cardinality metrics");
        c.recommended(
          r.request.symbols.some((s) => s !== ""),
          "Symbol table should deduplicate in high cardinality",
        );
      },
    );
  }
  encoding(
    g,
    "very_long_metric_name",
    "SHOULD",
    "Sender SHOULD handle very long metric names",
    `metric_${"very_long_name_".repeat(50)} 42\n`,
    (c, r) => {
      const found = names(r).some((n) => n.length > 100);
      c.should(found || r.request.timeseries.length > 0, "Long metric names should be handled");
    },
  );
  encoding(
    g,
    "special_float_combinations",
    "MUST",
    "Sender MUST handle special float value combinations",
    'special_values{type="nan"} NaN\nspecial_values{type="inf"} +Inf\nspecial_values{type="ninf"} -Inf\nspecial_values{type="zero"} 0\nspecial_values{type="negative"} -123.45\n',
    (c, r) => {
      const found = new Set<string>();
      for (const ts of r.request.timeseries) {
        const l = seriesLabels(ts, r);
        const v = ts.samples[0]?.value;
        if (l.__name__ !== "special_values" || v === undefined) continue;
        if (
          (l.type === "nan" && Number.isNaN(v)) ||
          (l.type === "inf" && v === Infinity) ||
          (l.type === "ninf" && v === -Infinity) ||
          (l.type === "zero" && v === 0) ||
          (l.type === "negative" && v < 0)
        )
          found.add(l.type!);
      }
      c.must(found.size >= 1, "Should handle special float values");
      c.log(`Special values handled: ${[...found]}`);
    },
  );
  encoding(
    g,
    "zero_timestamp",
    "SHOULD",
    "Sender SHOULD handle timestamp value of 0",
    "test_metric 42 0\n",
    (c, r) => {
      for (const ts of r.request.timeseries)
        if (ts.samples.length > 0)
          c.should(ts.samples[0]!.timestamp >= 0, "Timestamp should be non-negative");
    },
  );
  encoding(
    g,
    "future_timestamp",
    "SHOULD",
    "Sender SHOULD handle timestamps in the future",
    `test_metric 42 ${goRune(Math.trunc(Date.now() / 1000) + 86_400)}\n`,
    (c, r) => {
      for (const ts of r.request.timeseries) {
        const t = ts.samples[0]?.timestamp ?? 0;
        if (t > Date.now()) c.should(t - Date.now() >= 0, "Future timestamp should be handled");
      }
    },
  );
  encoding(
    g,
    "metric_name_with_colons",
    "MUST",
    "Sender MUST handle metric names with colons",
    "http:request:duration:seconds 0.5\n",
    (c, r) => {
      const found = names(r).some((n) => n.includes(":"));
      c.must(
        found || r.request.timeseries.length > 0,
        "Metric names with colons are valid and must be handled",
      );
    },
  );
  encoding(
    g,
    "stale_marker",
    "SHOULD",
    "Sender SHOULD handle stale marker (StaleNaN)",
    "test_metric StaleNaN\n",
    (c, r) => {
      const ts = findSeries(r, "test_metric");
      if (ts && ts.samples.length > 0)
        c.should(Number.isNaN(ts.samples[0]!.value), "StaleNaN should be encoded as NaN");
    },
  );
  encoding(
    g,
    "mixed_sample_and_histogram_families",
    "MUST",
    "Sender MUST handle different metric types in same payload",
    '# Counter\nrequests_total 100\n\n# Gauge\ntemperature_celsius 22.5\n\n# Histogram\nresponse_time_bucket{le="0.1"} 50\nresponse_time_bucket{le="+Inf"} 100\nresponse_time_sum 10.5\nresponse_time_count 100\n\n# Summary\nrpc_duration{quantile="0.5"} 0.05\nrpc_duration{quantile="0.9"} 0.1\nrpc_duration_sum 50.0\nrpc_duration_count 1000\n',
    (c, r) => {
      const types = new Set(
        names(r).flatMap((n) =>
          n === "requests_total"
            ? ["counter"]
            : n === "temperature_celsius"
              ? ["gauge"]
              : n.startsWith("response_time")
                ? ["histogram"]
                : n.startsWith("rpc_duration")
                  ? ["summary"]
                  : [],
        ),
      );
      c.must(types.size >= 2, "Must handle multiple metric types in same payload");
    },
  );
  {
    let text = "";
    for (let i = 0; i < 200; i++)
      text += `load_test_metric_${goRune(48 + Math.trunc(i / 100))}${goRune(48 + (Math.trunc(i / 10) % 10))}${goRune(48 + (i % 10))}{label="value_${goRune(48 + (i % 10))}"} ${goRune(48 + (i % 10))}\n`;
    add(
      "TestRobustnessUnderLoad",
      "TestRobustnessUnderLoad",
      "SHOULD",
      "Sender SHOULD remain stable under load",
      (c) =>
        senderTest(c, text, (c2, r) => {
          c2.should(r.request.timeseries.length > 0, "Should handle load test data");
          c2.should(r.request.timeseries.length >= 50, "Should batch substantial amount of data");
        }),
    );
  }
}

// ---- rw1_compat_test.go: against a receiver that takes 1.0 only (415 to 2.0), so the forwarder sends 1.0 ----
interface V1View {
  timeseries: {
    labels: Record<string, string>;
    samples: { value: number; timestamp: string }[];
    histograms: unknown[];
  }[];
  metadata: Record<string, unknown>[];
}
const asV1 = (r: CapturedRequest): V1View => {
  const d = decodeRecord(r.body, `prw1::0:${"0".repeat(32)}`);
  return { timeseries: d.series, metadata: d.metadata };
};
/** A receiver that answers 415 to 2.0 (Content-Type with proto=…v2) and takes 1.0. */
const v1Only: Handler = (req, res, _body, serve) => {
  if (String(req.headers["content-type"]).includes("io.prometheus.write.v2.Request")) {
    res.writeHead(415).end("RW 2.0 not supported, please use RW 1.0");
    return;
  }
  serve();
};

async function rw1Test(
  c: Check,
  scrape: string,
  validate: (c: Check, r: CapturedRequest, v1: V1View) => void,
) {
  const clock = virtualClock();
  const receiver = await startMockReceiver(clock, v1Only);
  try {
    const { records } = scrapeRecords(scrape, clock.now());
    const run = await runForwarder([records], receiver.url, { clock, budgetMs: 5_000 });
    if (run.error !== undefined) throw run.error;
    const last = receiver.requests.at(-1);
    c.must(last !== undefined, "a 1.0 request must arrive");
    const v = version(last!);
    c.must(v.startsWith("0.1"), `the request after the 415 must be 1.0, got ${v}`);
    validate(c, last!, asV1(last!));
  } finally {
    await receiver.close();
  }
}
{
  const g = "TestRemoteWrite1Compatibility";
  add(g, "rw1_version_header", "SHOULD", "When using RW 1.0, sender SHOULD use version 0.1.0", (c) =>
    rw1Test(c, "test_metric 42\n", (c2, r) =>
      c2.should(version(r).startsWith("0.1"), "RW 1.0 version header is acceptable"),
    ),
  );
  add(g, "rw1_content_type", "SHOULD", "RW 1.0 SHOULD use basic content-type without proto parameter", (c) =>
    rw1Test(c, "test_metric 42\n", (c2, r) => {
      c2.should(ct(r).includes("application/x-protobuf"), "RW 1.0 should use protobuf content-type");
      c2.should(!ct(r).includes("proto=io.prometheus.write.v2"), "RW 1.0 should not use v2 proto parameter");
    }),
  );
  // the suite only checks the body parses; here the sample must be there too
  add(g, "rw1_samples_encoding", "MUST", "RW 1.0 MUST encode samples correctly", (c) =>
    rw1Test(c, "test_counter_total 100\n", (c2, _r, v1) => {
      const ts = v1.timeseries.find((t) => t.labels.__name__ === "test_counter_total");
      c2.must(ts?.samples[0]?.value === 100, "the sample must arrive in the 1.0 request");
    }),
  );
  add(g, "rw1_labels_encoding", "MUST", "RW 1.0 MUST encode labels correctly", (c) =>
    rw1Test(c, 'test_metric{label="value"} 42', (c2, _r, v1) => {
      const ts = v1.timeseries.find((t) => t.labels.__name__ === "test_metric");
      c2.must(
        ts?.labels.label === "value" && ts.labels.job === "test",
        "the labels must arrive inline in the 1.0 request",
      );
    }),
  );
  add(g, "rw1_no_native_histograms", "MUST", "RW 1.0 does not support native histograms", (c) =>
    rw1Test(
      c,
      '# TYPE test_histogram histogram\ntest_histogram_count 100\ntest_histogram_sum 250.0\ntest_histogram_bucket{le="+Inf"} 100\n',
      (c2, _r, v1) => {
        for (const ts of v1.timeseries)
          c2.must(ts.histograms.length === 0, "RW 1.0 should not use native histogram encoding");
        c2.must(
          v1.timeseries.some((t) => t.labels.__name__ === "test_histogram_bucket"),
          "the classic histogram's series must arrive",
        );
      },
    ),
  );
  add(g, "rw1_no_start_timestamp", "MUST", "RW 1.0 does not support start_timestamp field", (c) =>
    rw1Test(c, "# TYPE test_counter counter\ntest_counter_total 100\n", (c2, r) => {
      // decoded as 2.0 (the suite's reading): a 1.0 body carries no start timestamps at all
      for (const ts of r.request.timeseries)
        for (const s of ts.samples)
          c2.should(s.startTimestamp === 0, "RW 1.0 should not use start_timestamp field in samples");
    }),
  );
  // the suite accepts anything here; 1.0 carries the family's metadata in WriteRequest.metadata
  add(g, "rw1_metadata_handling", "MAY", "RW 1.0 MAY send metadata separately", (c) =>
    rw1Test(
      c,
      "# HELP test_metric Test metric description\n# TYPE test_metric counter\ntest_metric 42\n",
      (c2, _r, v1) =>
        c2.may(
          v1.metadata.some(
            (m) =>
              m.metric_family_name === "test_metric" &&
              m.type === "COUNTER" &&
              m.help === "Test metric description",
          ),
          "RW 1.0 may handle metadata differently",
        ),
    ),
  );
  add(g, "rw1_symbol_table_not_used", "MUST", "RW 1.0 does not use symbol table optimization", (c) =>
    rw1Test(
      c,
      'http_requests{method="GET",status="200"} 100\nhttp_requests{method="POST",status="200"} 50\n',
      (c2, r, v1) => {
        c2.must(r.request.symbols.length === 0, "a 1.0 body has no symbol table");
        c2.must(
          v1.timeseries.filter((t) => t.labels.__name__ === "http_requests").length === 2,
          "labels are inline",
        );
      },
    ),
  );
  add(
    "TestRemoteWrite1Configuration",
    "TestRemoteWrite1Configuration",
    "SHOULD",
    "Sender SHOULD support RW 1.0 configuration for backward compatibility",
    async (c) => {
      // FORWARD_PROTOCOL=v1
      const clock = virtualClock();
      const receiver = await startMockReceiver(clock);
      try {
        const { records } = scrapeRecords("test_metric 42\n", clock.now());
        await runForwarder([records], receiver.url, { clock, budgetMs: 5_000, protocol: "v1" });
        const v = version(receiver.requests.at(-1)!);
        c.should(v.startsWith("0.1"), `Sender configured for RW 1.0, version ${v}`);
      } finally {
        await receiver.close();
      }
    },
  );
}

// ---- retry_test.go, response_test.go, error_handling_test.go: one scrape, the receiver answering as set ----

interface ScenarioResult {
  requests: CapturedRequest[];
  run: Awaited<ReturnType<typeof runForwarder>>;
  receiver: MockReceiver;
  clock: Clock;
}

async function scenario(
  scrape: string,
  budgetMs: number,
  setup: (r: MockReceiver) => void,
  opts: { handler?: Handler; batches?: number; url?: string; timeoutMs?: number } = {},
): Promise<ScenarioResult> {
  const clock = virtualClock();
  const receiver = await startMockReceiver(clock, opts.handler);
  setup(receiver);
  try {
    const batches: ForwardRecord[][] = [];
    for (let i = 0; i < (opts.batches ?? 1); i++)
      batches.push(scrapeRecords(scrape, clock.now() + i * 1000).records);
    const run = await runForwarder(batches, opts.url ?? receiver.url, {
      clock,
      budgetMs,
      timeoutMs: opts.timeoutMs ?? 2_000,
    });
    return { requests: [...receiver.requests], run, receiver, clock };
  } finally {
    await receiver.close();
  }
}

{
  const g = "TestRetryBehavior";
  const s = "test_metric 42\n";
  const noRetry = (name: string, level: Level, description: string, status: number, body: string) =>
    add(g, name, level, description, async (c) => {
      const { requests, run } = await scenario(s, 8_000, (r) => r.setResponse({ status, body }));
      c.should(requests.length <= 2, `Sender should not retry on ${status}, got ${requests.length} requests`);
      c.log(
        `Received ${requests.length} requests for ${status} response; dead letters ${run.letters.length}`,
      );
    });
  noRetry("no_retry_on_400", "MUST", "Sender MUST NOT retry on 400 Bad Request", 400, "Bad request");
  noRetry("no_retry_on_401", "MUST", "Sender MUST NOT retry on 401 Unauthorized", 401, "Unauthorized");
  noRetry("no_retry_on_404", "MUST", "Sender MUST NOT retry on 404 Not Found", 404, "Not found");
  add(g, "may_retry_on_429", "MAY", "Sender MAY retry on 429 Too Many Requests", async (c) => {
    const { requests } = await scenario(s, 8_000, (r) =>
      r.setResponse({ status: 429, headers: { "Retry-After": "1" }, body: "Too many requests" }),
    );
    c.may(requests.length >= 1, "Sender may retry on 429 Too Many Requests");
    // and no sooner than Retry-After said
    for (let i = 1; i < requests.length; i++)
      c.may(requests[i]!.at - requests[i - 1]!.at >= 1_000, "retries wait for Retry-After");
    c.log(`Received ${requests.length} requests for 429 response`);
  });
  const retry = (name: string, level: Level, description: string, status: number, body: string) =>
    add(g, name, level, description, async (c) => {
      const { requests } = await scenario(s, 8_000, (r) => r.setResponse({ status, body }));
      if (level === "MUST") c.must(requests.length >= 1, `Sender should attempt request on ${status}`);
      else c.should(requests.length >= 1, `Sender should retry on ${status}`);
      // a retry is more than the one attempt the suite settles for
      c.should(requests.length >= 2, `Sender should retry on ${status}, got ${requests.length} requests`);
    });
  retry(
    "retry_on_500",
    "MUST",
    "Sender MUST retry on 500 Internal Server Error",
    500,
    "Internal server error",
  );
  retry("retry_on_503", "MUST", "Sender MUST retry on 503 Service Unavailable", 503, "Service unavailable");
  retry("retry_on_502", "SHOULD", "Sender SHOULD retry on 502 Bad Gateway", 502, "Bad gateway");
  retry("retry_on_504", "SHOULD", "Sender SHOULD retry on 504 Gateway Timeout", 504, "Gateway timeout");
  noRetry(
    "no_retry_on_413",
    "SHOULD",
    "Sender SHOULD NOT retry on 413 Payload Too Large",
    413,
    "Payload too large",
  );
}

{
  const g = "TestBackoffBehavior";
  const s = "test_metric 42\n";
  const intervals = (rs: CapturedRequest[]) => rs.slice(1).map((r, i) => r.at - rs[i]!.at);
  add(
    g,
    "exponential_backoff_on_retries",
    "SHOULD",
    "Sender SHOULD use exponential backoff when retrying",
    async (c) => {
      const { requests } = await scenario(s, 20_000, (r) =>
        r.setResponse({ status: 503, body: "Service unavailable" }),
      );
      if (requests.length < 3) return c.should(false, "Need at least 3 requests to validate backoff pattern");
      const iv = intervals(requests);
      for (let i = 1; i < iv.length; i++)
        c.should(
          iv[i]! / iv[i - 1]! >= 0.8,
          `Backoff intervals should increase or stay similar (exponential), got ratio ${(iv[i]! / iv[i - 1]!).toFixed(2)}`,
        );
      c.log(`Intervals: ${iv.join(", ")} ms`);
    },
  );
  add(
    g,
    "backoff_required",
    "MUST",
    "Sender MUST use a backoff algorithm to prevent overwhelming the server",
    async (c) => {
      const { requests } = await scenario(s, 20_000, (r) =>
        r.setResponse({ status: 503, body: "Service unavailable" }),
      );
      c.must(requests.length >= 2, "Sender must retry on 5xx errors");
      for (const [i, iv] of intervals(requests).entries())
        c.must(
          iv >= 1,
          `Sender MUST implement backoff between all retry attempts, interval ${i + 1} was: ${iv}ms`,
        );
    },
  );
  add(g, "backoff_max_delay", "SHOULD", "Backoff SHOULD have a reasonable maximum delay", async (c) => {
    const { requests } = await scenario(s, 20_000, (r) =>
      r.setResponse({ status: 502, body: "Bad gateway" }),
    );
    for (const iv of intervals(requests)) c.should(iv <= 60_000, `Backoff interval too large: ${iv}ms`);
  });
  add(g, "backoff_with_jitter", "RECOMMENDED", "Sender MAY add jitter to backoff delays", async (c) => {
    const { requests } = await scenario(s, 20_000, (r) =>
      r.setResponse({ status: 503, body: "Service unavailable" }),
    );
    if (requests.length < 3) return c.may(false, "Jitter validation requires multiple retries");
    const iv = intervals(requests);
    c.may(iv.length > 0, "Intervals should exist for jitter analysis");
    // with jitter, the waits are not exactly the doubling sequence
    const exact = iv.every((v, i) => i === 0 || v === 2 * iv[i - 1]! || v === iv[i - 1]);
    c.recommended(!exact, `the waits are not jittered: ${iv.join(", ")}`);
    c.log(`Intervals: ${iv.join(", ")} ms`);
  });
}

{
  const g = "TestFallbackBehavior";
  const s = "test_metric 42\n";
  /**
   * 415 to the first request when it is 2.0, then the suite's receiver (Samples-Written: 1).
   * In the Go suite this receiver counts the request before asking whether it is the first,
   * so it never answers 415 and these cases pass without a fallback; here it answers 415 as
   * the cases mean it to. Three scrapes, one batch each, as a sender running for a while.
   */
  const fallback = (
    name: string,
    level: Level,
    description: string,
    validate: (c: Check, versions: string[], rs: CapturedRequest[]) => void,
  ) =>
    add(g, name, level, description, async (c) => {
      let first = true;
      const handler: Handler = (req, res, _b, serve) => {
        const v = String(req.headers["x-prometheus-remote-write-version"] ?? "");
        if (first && v.startsWith("2.0")) {
          first = false;
          res.writeHead(415).end("RW 2.0 not supported, please use RW 1.0");
          return;
        }
        first = false;
        serve();
      };
      const { requests, run } = await scenario(
        s,
        15_000,
        (r) => r.setResponse({ status: 204, samplesWritten: 1 }),
        { handler, batches: 3 },
      );
      // the 415 itself is not captured by the mock; the version list starts with it
      const versions = ["2.0.0", ...requests.map(version)];
      c.must(run.letters.length === 0, "nothing is dead-lettered");
      validate(c, versions, requests);
      c.log(`versions: ${versions.join(", ")}`);
    });
  fallback(
    "fallback_on_415_unsupported_media_type",
    "SHOULD",
    "Sender SHOULD fallback to RW 1.0 when receiving 415 Unsupported Media Type",
    (c, v) => {
      c.should(v.length >= 2, "Should see multiple requests for fallback validation");
      c.should(
        v[0]!.startsWith("2.0") && v.slice(1).some((x) => x.startsWith("0.1")),
        "Sender fell back from RW 2.0 to RW 1.0 after 415",
      );
    },
  );
  fallback(
    "retry_with_different_version",
    "SHOULD",
    "Sender SHOULD retry with RW 1.0 version (0.1.0) after 415",
    (c, v) =>
      c.should(
        v.some((x, i) => i > 0 && v[i - 1]!.startsWith("2.0") && x.startsWith("0.1")),
        "Version changed from 2.0 to 0.1",
      ),
  );
  fallback(
    "fallback_header_changes",
    "MUST",
    "Sender MUST change Content-Type header on fallback",
    (c, _v, rs) => {
      const cts = ["application/x-protobuf;proto=io.prometheus.write.v2.Request", ...rs.map(ct)];
      c.must(
        cts.slice(1).some((x) => x !== cts[0]),
        "Content-Type should change on fallback",
      );
    },
  );
  fallback(
    "accept_success_after_fallback",
    "SHOULD",
    "Sender SHOULD accept successful response after fallback",
    (c, _v, rs) => c.should(rs.length >= 1, "Should receive requests after fallback"),
  );
  fallback(
    "persistent_fallback_choice",
    "SHOULD",
    "Sender SHOULD remember successful fallback choice",
    (c, v) => {
      c.should(v.length >= 3, "Need multiple requests to validate persistent fallback");
      c.should(
        v.slice(1).every((x) => x === v[1]),
        `Sender should consistently use fallback version: ${v.join(", ")}`,
      );
    },
  );
  add(
    "TestNoFallbackOn2xx",
    "TestNoFallbackOn2xx",
    "MUST",
    "Sender MUST NOT fallback when receiving 2xx success responses",
    async (c) => {
      const { requests } = await scenario(
        s,
        12_000,
        (r) => r.setResponse({ status: 204, samplesWritten: 1 }),
        { batches: 3 },
      );
      const v = requests.map(version);
      for (const x of v)
        c.must(x === v[0], `Version should not change on successful responses: ${v.join(", ")}`);
    },
  );
}

{
  const g = "TestResponseProcessing";
  const s = "test_metric 42\n";
  const response = (
    name: string,
    level: Level,
    description: string,
    scrape: string,
    resp: MockResponse,
    validate: (c: Check, r: ScenarioResult) => void,
  ) =>
    add(g, name, level, description, async (c) =>
      validate(c, await scenario(scrape, 8_000, (r) => r.setResponse(resp))),
    );
  response(
    "ignore_response_body_on_success",
    "SHOULD",
    "Sender SHOULD ignore response body on 2xx success",
    s,
    { status: 204, body: "This body should be ignored", samplesWritten: 1 },
    (c, r) => {
      c.should(r.requests.length >= 1, "Should receive at least one request");
      c.should(
        r.run.outcomes[0]?.delivered === 1 && r.run.letters.length === 0,
        "Sender should ignore response body on successful requests",
      );
    },
  );
  response(
    "process_written_count_headers",
    "MAY",
    "Sender MAY use X-Prometheus-Remote-Write-*-Written headers",
    '# Multiple samples\ntest_counter_total{label="a"} 100\ntest_counter_total{label="b"} 200\ntest_gauge{label="c"} 50\n',
    { status: 204, samplesWritten: 3 },
    (c, r) => {
      c.may(r.requests.length >= 1, "Should receive at least one request");
      // 4 samples sent (the scrape's 3 and up), 3 confirmed: read as a partial write
      c.may(
        r.run.outcomes[0]?.partialWrites === 1,
        "Sender may process X-Prometheus-Remote-Write-*-Written headers",
      );
    },
  );
  response(
    "handle_partial_write_response",
    "SHOULD",
    "Sender SHOULD handle partial write responses (some data accepted)",
    "# Multiple samples\nsample_1 1\nsample_2 2\nsample_3 3\n",
    { status: 400, body: "Rejected 1 sample", samplesWritten: 2 },
    (c, r) => {
      c.should(r.requests.length >= 1, "Should receive at least one request");
      c.should(
        r.run.letters.length === 1 && r.run.error === undefined,
        "Sender should handle partial write responses",
      );
    },
  );
  response(
    "handle_missing_written_headers",
    "SHOULD",
    "Sender SHOULD assume 0 written if headers missing on 4xx/5xx",
    s,
    { status: 400, body: "Bad request" },
    (c, r) => {
      c.should(r.requests.length >= 1, "Should receive request even with error");
      c.should(r.run.outcomes[0]?.delivered === 0, "Sender should assume 0 written when headers missing");
    },
  );
  // the suite asserts true; here the destination's message must be in the log as it came
  response(
    "log_error_messages_verbatim",
    "MUST",
    "Sender MUST log error messages as-is without interpretation",
    s,
    { status: 400, body: "Error: Invalid label name '__invalid__'" },
    (c, r) => {
      c.must(r.requests.length >= 1, "Should receive request");
      c.must(
        r.run.logs.some((l) => l.message === "Error: Invalid label name '__invalid__'"),
        "Sender must log error messages verbatim",
      );
    },
  );
  response(
    "handle_large_error_body",
    "SHOULD",
    "Sender SHOULD handle large error response bodies",
    s,
    { status: 400, body: `Error details: ${"detailed error information; ".repeat(1000)}` },
    (c, r) => {
      c.should(r.requests.length >= 1, "Should handle large error bodies");
      c.should(
        r.run.letters.length === 1 && r.run.letters[0]!.detail.length <= 200,
        "Sender should handle large error response bodies",
      );
    },
  );
  response(
    "handle_204_no_content",
    "MUST",
    "Sender MUST accept 204 No Content as success",
    s,
    { status: 204, samplesWritten: 1 },
    (c, r) => {
      c.must(r.requests.length >= 1, "Should successfully send to 204 endpoint");
      c.must(
        r.run.outcomes[0]?.delivered === 1 && r.requests.length === 1,
        "Sender must accept 204 No Content as successful response",
      );
    },
  );
  response(
    "handle_200_ok",
    "MUST",
    "Sender MUST accept 200 OK as success",
    s,
    { status: 200, body: "OK", samplesWritten: 1 },
    (c, r) => {
      c.must(r.requests.length >= 1, "Should successfully send to 200 endpoint");
      c.must(
        r.run.outcomes[0]?.delivered === 1 && r.requests.length === 1,
        "Sender must accept 200 OK as successful response",
      );
    },
  );
  add(
    "TestContentTypeNegotiation",
    "TestContentTypeNegotiation",
    "SHOULD",
    "Sender SHOULD handle content-type negotiation",
    async (c) => {
      const { requests } = await scenario(s, 10_000, (r) =>
        r.setResponse({ status: 204, samplesWritten: 1 }),
      );
      c.should(requests.length >= 1, "Should send at least one request");
      if (requests[0])
        c.should(ct(requests[0]).includes("application/x-protobuf"), "Should use protobuf content-type");
    },
  );
}

{
  const g = "TestErrorHandling";
  const s = "test_metric 42\n";
  /** The sender did not crash, and its records are either delivered or waiting in the stream (not lost). */
  const survived = (c: Check, r: ScenarioResult, delivered: boolean) => {
    c.should(r.run.error === undefined, `the forwarder must not throw: ${String(r.run.error)}`);
    const o = r.run.outcomes[0];
    if (delivered)
      c.should(o?.delivered === 1 && o.failed === undefined, `the record is delivered: ${JSON.stringify(o)}`);
    else
      c.should(
        o?.failed !== undefined && r.run.letters.length === 0,
        `the record waits in the stream: ${JSON.stringify(o)}`,
      );
  };
  const err = (
    name: string,
    level: Level,
    description: string,
    handler: Handler,
    delivered: boolean,
    opts: { timeoutMs?: number; closed?: boolean } = {},
  ) =>
    add(g, name, level, description, async (c) => {
      let url: string | undefined;
      if (opts.closed) {
        const gone = await startMockReceiver(virtualClock());
        url = gone.url;
        await gone.close();
      }
      const r = await scenario(s, 8_000, () => {}, {
        handler,
        ...(url ? { url } : {}),
        ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
      });
      if (level === "MUST") c.must(r.run.error === undefined, "Sender must continue running after errors");
      survived(c, r, delivered);
    });
  const answer =
    (status: number, body = ""): Handler =>
    (_q, res) =>
      void res.writeHead(status).end(body);
  err(
    "handle_connection_refused",
    "SHOULD",
    "Sender SHOULD handle connection refused gracefully",
    answer(204),
    false,
    { closed: true },
  );
  err(
    "handle_timeout",
    "SHOULD",
    "Sender SHOULD handle request timeouts gracefully",
    () => {} /* never answers */,
    false,
    {
      timeoutMs: 300,
    },
  );
  // 2xx to 2.0 without written counts: the forwarder sends 1.0, which a 2xx settles
  err(
    "handle_partial_write",
    "SHOULD",
    "Sender SHOULD handle partial HTTP writes gracefully",
    answer(200, "partial"),
    true,
  );
  err(
    "handle_malformed_response",
    "SHOULD",
    "Sender SHOULD handle malformed HTTP responses",
    answer(200, "Not valid response headers\r\n"),
    true,
  );
  err(
    "sender_continues_after_errors",
    "MUST",
    "Sender MUST continue running after recoverable errors",
    answer(500, "Internal server error"),
    false,
  );
  err(
    "handle_invalid_status_code",
    "SHOULD",
    "Sender SHOULD handle invalid HTTP status codes",
    answer(999),
    false,
  );
  err(
    "handle_empty_response",
    "SHOULD",
    "Sender SHOULD handle empty responses gracefully",
    answer(200),
    true,
  );
  add(
    g,
    "handle_large_error_response",
    "SHOULD",
    "Sender SHOULD handle large error response bodies",
    async (c) => {
      const r = await scenario(s, 8_000, () => {}, { handler: answer(400, "x".repeat(1024 * 1024)) });
      c.should(
        r.run.error === undefined && r.run.letters.length === 1,
        "Sender should handle large error bodies",
      );
    },
  );
}

{
  const g = "TestNetworkErrors";
  add(g, "dns_resolution_failure", "SHOULD", "Sender SHOULD handle network errors gracefully", async (c) => {
    const clock = virtualClock();
    const { records } = scrapeRecords("test_metric 42\n", clock.now());
    const run = await runForwarder([records], "http://nonexistent.invalid.domain:9999/api/v1/write", {
      clock,
      budgetMs: 5_000,
      timeoutMs: 300,
    });
    c.should(run.error === undefined, "Sender handled network error without crashing");
    c.should(
      run.outcomes[0]?.failed?.reason.startsWith("network-error") === true && run.letters.length === 0,
      "the record waits in the stream",
    );
  });
  // the forwarder takes only http(s) destinations: another scheme is refused when it starts, naming the setting
  add(g, "invalid_url_scheme", "SHOULD", "Sender SHOULD handle network errors gracefully", async (c) => {
    let error: unknown;
    try {
      loadForwarderConfig({ FORWARD_URL: "invalid://localhost:9999" });
    } catch (e) {
      error = e;
    }
    c.should(
      error instanceof ConfigError && /FORWARD_URL/.test((error as Error).message),
      "Sender handled network error without crashing",
    );
  });
}

// ---- the same scrapes to a 1.0 destination: what 1.0 can carry arrives ----

describe("every scrape of the encoding cases, sent as 1.0", () => {
  it.each([...scrapes.entries()])("%s", async (_id, scrape) => {
    const clock = virtualClock();
    const receiver = await startMockReceiver(clock, v1Only);
    try {
      const { records } = scrapeRecords(scrape, clock.now());
      const run = await runForwarder([records], receiver.url, { clock, budgetMs: 5_000 });
      expect(run.error).toBeUndefined();
      expect(run.letters).toEqual([]);
      const sent = records.flatMap((r) => decodeRecord(r.data, r.partitionKey).series);
      const got = receiver.requests.map((r) => decodeRecord(r.body, `prw1::0:${"0".repeat(32)}`));
      const arrived = got.flatMap((d) => d.series);
      const strip = (x: { labels: unknown; samples: unknown; exemplars: unknown; histograms: unknown }) => ({
        labels: x.labels,
        samples: x.samples,
        exemplars: x.exemplars,
        histograms: x.histograms,
      });
      expect(arrived.map(strip)).toEqual(sent.map(strip));
      // 1.0 metadata: one entry per family (the series name without its part suffix)
      const families = new Set(
        got.flatMap((d) =>
          d.metadata.map(
            (m) => `${m.metric_family_name}|${m.type ?? "UNKNOWN"}|${m.help ?? ""}|${m.unit ?? ""}`,
          ),
        ),
      );
      const wanted = new Set(
        sent
          .filter(
            (x) =>
              x.metadata !== undefined &&
              (x.metadata.type !== "METRIC_TYPE_UNSPECIFIED" ||
                x.metadata.help !== "" ||
                x.metadata.unit !== ""),
          )
          .map(
            (x) =>
              `${familyName(x.labels.__name__!, TYPE_NUMBERS[String(x.metadata!.type)]!)}|${String(x.metadata!.type).replace("METRIC_TYPE_", "").replace("UNSPECIFIED", "UNKNOWN")}|${x.metadata!.help}|${x.metadata!.unit}`,
          ),
      );
      expect(families).toEqual(wanted);
    } finally {
      await receiver.close();
    }
  });
});

const TYPE_NUMBERS: Record<string, number> = {
  METRIC_TYPE_UNSPECIFIED: 0,
  METRIC_TYPE_COUNTER: 1,
  METRIC_TYPE_GAUGE: 2,
  METRIC_TYPE_HISTOGRAM: 3,
  METRIC_TYPE_GAUGEHISTOGRAM: 4,
  METRIC_TYPE_SUMMARY: 5,
  METRIC_TYPE_INFO: 6,
  METRIC_TYPE_STATESET: 7,
};

// ---- running them ----

interface Result {
  readonly level: Level;
  readonly passed: boolean;
}
const results = new Map<string, Result>();
const idOf = (k: Case) => (k.group === k.name ? k.name : `${k.group}/${k.name}`);

describe("the prometheus/compliance Remote-Write sender suite, against the forwarder", () => {
  afterAll(() => {
    const levels: Level[] = ["MUST", "SHOULD", "MAY", "RECOMMENDED"];
    const line = levels
      .map((l) => {
        const of = [...results.values()].filter((r) => r.level === l);
        return `${l} ${of.filter((r) => r.passed).length}/${of.length}`;
      })
      .join(", ");
    const all = [...results.values()];
    console.info(`sender suite: ${all.filter((r) => r.passed).length}/${all.length} cases pass (${line})`);
    for (const [id, why] of Object.entries(NOT_PASSING)) console.info(`  not passing: ${id}: ${why}`);
  });

  it("expresses every case of the suite once", () => {
    expect(cases).toHaveLength(157);
    expect(new Set(cases.map(idOf)).size).toBe(cases.length);
  });

  it.each(cases.map((k) => [`${idOf(k)} [${k.level}]`, k] as const))("%s", async (_title, k) => {
    const c = new Check();
    try {
      await k.run(c);
    } catch (err) {
      if (!(err instanceof MustFailed)) throw err;
    }
    const passed = c.failures.length === 0;
    results.set(idOf(k), { level: k.level, passed });
    if (process.env.SENDER_SUITE_REPORT) console.info(`${idOf(k)}: ${[...c.failures, ...c.logs].join("; ")}`);
    const known = NOT_PASSING[idOf(k)];
    if (known !== undefined) {
      expect(passed, `${idOf(k)} passes now; take it off NOT_PASSING`).toBe(false);
      return;
    }
    expect(c.failures, `${k.description}\n${c.logs.join("\n")}`).toEqual([]);
  });
});
