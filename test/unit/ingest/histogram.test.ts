import { describe, expect, it } from "vitest";
import { WireError } from "../../../lib/codec/wire";
import { Ingestor } from "../../../lib/ingest/ingest";
import { checkHistogram } from "../../../lib/ingest/scan/histogram";
import { checkMessage, SCHEMA } from "../../../lib/ingest/scan/schema";
import type { RejectReason } from "../../../lib/ingest/scan/validate";
import { schemas } from "../../../lib/stream/proto";
import { prng } from "../../fixtures/damaged-corpus";
import {
  ingestSettings,
  nativeHistogram,
  type SeriesSpec,
  STALE_NAN,
  snappy,
  v1Message,
  v2Message,
} from "../../fixtures/remote-write";

/**
 * Native histograms judged as Prometheus's Histogram.Validate() and FloatHistogram.Validate()
 * judge them (model/histogram), in both protocol versions: each invalid one refuses its series
 * with a stable reason, and the rest of the request is written.
 */
const T = 1_700_000_000_000;
type H = Record<string, unknown>;

/** The compliance suite's histogram: positive 1,3,4,7,8 (23), negative 1,2 (3), zero 1 → 27. */
const basic = (over: H = {}): H => ({
  count_int: "27",
  sum: 1,
  schema: 0,
  zero_threshold: 1e-128,
  zero_count_int: "1",
  positive_spans: [
    { offset: 0, length: 3 },
    { offset: 2, length: 2 },
  ],
  positive_deltas: ["1", "2", "1", "3", "1"],
  negative_spans: [{ offset: 0, length: 2 }],
  negative_deltas: ["1", "1"],
  timestamp: String(T),
  ...over,
});

/** Custom buckets (schema −53): six bounds, six buckets 2,3,5,8,7,5 (30). */
const custom = (over: H = {}): H => ({
  count_int: "30",
  sum: 4,
  schema: -53,
  positive_spans: [{ offset: 0, length: 6 }],
  positive_deltas: ["2", "1", "2", "3", "-1", "-2"],
  custom_values: [0.1, 0.5, 1, 2.5, 5, 10],
  timestamp: String(T),
  ...over,
});

/** A float histogram: buckets 2.5 and 2.5, zero bucket 1, count 6. */
const float = (over: H = {}): H => ({
  count_float: 6,
  sum: 9.5,
  schema: 1,
  zero_threshold: 0.001,
  zero_count_float: 1,
  positive_spans: [{ offset: 1, length: 2 }],
  positive_counts: [2.5, 2.5],
  timestamp: String(T),
  ...over,
});

/** Everything but the given keys. */
const without = (h: H, ...keys: string[]): H =>
  Object.fromEntries(Object.entries(h).filter(([k]) => !keys.includes(k)));

const TWO_60 = 2n ** 60n;

const cases: [string, H, RejectReason | undefined][] = [
  ["the suite's basic histogram", basic(), undefined],
  ["the fixtures' histogram", nativeHistogram(T, 3), undefined],
  ["no buckets and a count of 0", { count_int: "0", sum: 0, timestamp: String(T) }, undefined],
  ["only the zero bucket", { count_int: "1", zero_count_int: "1", sum: 0, timestamp: String(T) }, undefined],
  ["schema 8, the finest", basic({ schema: 8 }), undefined],
  ["schema −4, the coarsest", basic({ schema: -4 }), undefined],
  ["schema 20 (Prometheus reduces 9…52 to 8 on receipt)", basic({ schema: 20 }), undefined],
  ["a first span with a negative offset", basic({ negative_spans: [{ offset: -3, length: 2 }] }), undefined],
  ["NaN sum: the count may exceed the buckets", basic({ sum: Number.NaN, count_int: "30" }), undefined],
  [
    "stale-marker sum: the count may exceed the buckets",
    basic({ sum: STALE_NAN, count_int: "30" }),
    undefined,
  ],
  ["custom buckets", custom(), undefined],
  [
    "custom buckets reaching the +Inf bucket",
    custom({ positive_spans: [{ offset: 1, length: 6 }] }),
    undefined,
  ],
  ["custom buckets starting at −Inf", custom({ custom_values: [-Infinity, 0.5, 1, 2.5, 5, 10] }), undefined],
  ["a float histogram", float(), undefined],
  [
    "a float count below its buckets (Prometheus checks no float count)",
    float({ count_float: 1 }),
    undefined,
  ],
  ["a float NaN bucket (not below zero)", float({ positive_counts: [Number.NaN, 2.5] }), undefined],
  ["a float -0 bucket", float({ positive_counts: [-0, 2.5] }), undefined],
  [
    "an integer histogram ignores positive_counts",
    basic({ positive_counts: [-1, -1, -1, -1, -1, -1, -1] }),
    undefined,
  ],
  ["a float histogram ignores deltas", float({ positive_deltas: ["-5"] }), undefined],
  [
    "counts at 2^60, exactly (past what a double holds)",
    {
      count_int: String(TWO_60),
      positive_spans: [{ offset: 0, length: 2 }],
      positive_deltas: [String(TWO_60 / 2n), "0"],
      sum: 1,
      timestamp: String(T),
    },
    undefined,
  ],

  [
    "the suite's bad count: 99 against 23",
    basic({ count_int: "99", ...noSide("negative"), zero_count_int: "0" }),
    "histogram-count-mismatch",
  ],
  ["a count one short", basic({ count_int: "26" }), "histogram-count-mismatch"],
  [
    "a count without the zero bucket",
    basic({ count_int: "26", zero_count_int: "1" }),
    "histogram-count-mismatch",
  ],
  [
    "NaN sum: a count below the buckets",
    basic({ sum: Number.NaN, count_int: "20" }),
    "histogram-count-mismatch",
  ],
  [
    "counts at 2^60 plus one (a double would see them equal)",
    {
      count_int: String(TWO_60 + 1n),
      positive_spans: [{ offset: 0, length: 2 }],
      positive_deltas: [String(TWO_60 / 2n), "0"],
      sum: 1,
      timestamp: String(T),
    },
    "histogram-count-mismatch",
  ],
  [
    "spans longer than the deltas",
    basic({ positive_deltas: ["1", "2", "1", "3"] }),
    "histogram-spans-mismatch",
  ],
  [
    "more deltas than the spans hold",
    basic({ negative_deltas: ["1", "1", "1"] }),
    "histogram-spans-mismatch",
  ],
  ["deltas without spans", basic({ positive_spans: [] }), "histogram-spans-mismatch"],
  [
    "a later span with a negative offset",
    basic({
      positive_spans: [
        { offset: 0, length: 3 },
        { offset: -2, length: 2 },
      ],
    }),
    "histogram-spans-mismatch",
  ],
  [
    "float counts without count_float: an integer histogram, its spans without deltas",
    without(float(), "count_float"),
    "histogram-spans-mismatch",
  ],
  [
    "float counts the spans do not hold",
    float({ positive_counts: [2.5, 2.5, 1] }),
    "histogram-spans-mismatch",
  ],
  [
    "a bucket below zero once the deltas apply",
    basic({ positive_deltas: ["1", "-2", "4", "3", "1"] }),
    "histogram-negative-count",
  ],
  [
    "a negative bucket on the negative side",
    basic({ negative_deltas: ["-1", "1"] }),
    "histogram-negative-count",
  ],
  ["a float bucket below zero", float({ positive_counts: [7.5, -2.5] }), "histogram-negative-count"],
  ["a float count below zero", float({ count_float: -1 }), "histogram-negative-count"],
  ["a float zero bucket below zero", float({ zero_count_float: -1 }), "histogram-negative-count"],
  ["schema −5", basic({ schema: -5 }), "histogram-schema-invalid"],
  ["schema 53", basic({ schema: 53 }), "histogram-schema-invalid"],
  ["schema −52", basic({ schema: -52 }), "histogram-schema-invalid"],
  [
    "custom buckets without enough bounds",
    custom({ custom_values: [0.1, 0.5, 1, 2.5] }),
    "histogram-custom-bounds-invalid",
  ],
  [
    "custom bounds not increasing",
    custom({ custom_values: [0.1, 0.5, 0.5, 2.5, 5, 10] }),
    "histogram-custom-bounds-invalid",
  ],
  [
    "a NaN custom bound",
    custom({ custom_values: [0.1, Number.NaN, 1, 2.5, 5, 10] }),
    "histogram-custom-bounds-invalid",
  ],
  [
    "a +Inf last custom bound",
    custom({ custom_values: [0.1, 0.5, 1, 2.5, 5, Infinity] }),
    "histogram-custom-bounds-invalid",
  ],
  [
    "custom buckets with a zero bucket",
    custom({ zero_count_int: "1", count_int: "31" }),
    "histogram-custom-bounds-invalid",
  ],
  [
    "custom buckets with a zero threshold",
    custom({ zero_threshold: 0.001 }),
    "histogram-custom-bounds-invalid",
  ],
  [
    "custom buckets with a negative side",
    custom({ negative_spans: [{ offset: 0, length: 1 }], negative_deltas: ["1"], count_int: "31" }),
    "histogram-custom-bounds-invalid",
  ],
  [
    "custom bounds with an exponential schema",
    basic({ custom_values: [1, 2] }),
    "histogram-custom-bounds-invalid",
  ],
  [
    "custom buckets with a negative first offset",
    custom({ positive_spans: [{ offset: -1, length: 6 }] }),
    "histogram-spans-mismatch",
  ],
];

/** The compliance suite's bad-count histogram has only its positive side. */
function noSide(side: "negative"): H {
  return { [`${side}_spans`]: [], [`${side}_deltas`]: [] };
}

const good: SeriesSpec = { labels: [["__name__", "requests_total"]], samples: [{ value: 1, timestamp: T }] };
const encode = { v1: (s: SeriesSpec[]) => v1Message(s), v2: (s: SeriesSpec[]) => v2Message(s) };
const ingestor = new Ingestor(ingestSettings());

describe.each(["v1", "v2"] as const)("native histograms as Prometheus validates them (%s)", (version) => {
  it.each(cases)("%s", (_name, h, reason) => {
    const hist: SeriesSpec = { labels: [["__name__", "latency_seconds"]], histograms: [h] };
    const out = ingestor.prepare(snappy(encode[version]([hist, good])), version, undefined);
    if (reason === undefined) {
      expect(Object.fromEntries(out.rejected.byReason)).toEqual({});
      expect(out.written).toMatchObject({ series: 2, histograms: 1, samples: 1 });
    } else {
      expect(Object.fromEntries(out.rejected.byReason)).toEqual({ [reason]: 1 });
      // the rest is written
      expect(out.written).toMatchObject({ series: 1, histograms: 0, samples: 1 });
    }
  });

  it("one bad histogram among good ones refuses its series", () => {
    const hist: SeriesSpec = {
      labels: [["__name__", "latency_seconds"]],
      histograms: [basic(), basic({ count_int: "28", timestamp: String(T + 1) })],
    };
    const out = ingestor.prepare(snappy(encode[version]([hist, good])), version, undefined);
    expect(Object.fromEntries(out.rejected.byReason)).toEqual({ "histogram-count-mismatch": 1 });
    expect(out.written.series).toBe(1);
  });

  it("a label reason comes before a histogram reason", () => {
    const hist: SeriesSpec = { labels: [["job", "x"]], histograms: [basic({ count_int: "1" })] };
    const out = ingestor.prepare(snappy(encode[version]([hist])), version, undefined);
    expect(Object.fromEntries(out.rejected.byReason)).toEqual({ "missing-metric-name": 1 });
  });
});

describe("the histogram reader's wire rules are the schema's", () => {
  const { v1, v2 } = schemas();
  const histogramBytes = (version: "v1" | "v2", h: H): Uint8Array => {
    const type = (version === "v1" ? v1 : v2).lookupType(
      version === "v1" ? ".prometheus.Histogram" : ".io.prometheus.write.v2.Histogram",
    );
    return type.encode(type.fromObject(h)).finish();
  };
  const outcome = (f: () => unknown) => {
    try {
      f();
      return "ok";
    } catch (err) {
      if (err instanceof WireError) return `WireError: ${err.message}`;
      throw err;
    }
  };

  it.each(["v1", "v2"] as const)("%s: damaged histograms fail alike, with the same message", (version) => {
    const schema = version === "v1" ? SCHEMA.v1.histogram : SCHEMA.v2.histogram;
    const bases = cases.map(([, h]) => histogramBytes(version, h));
    bases.push(
      histogramBytes(
        version,
        float({ positive_counts: [1, 2, 3, 4], positive_spans: [{ offset: 0, length: 4 }] }),
      ),
    );
    const rng = prng(version === "v1" ? 7 : 11);
    let failing = 0;
    for (let n = 0; n < 4000; n++) {
      const base = rng.pick(bases);
      const bytes = Uint8Array.from(base);
      // flip, drop, insert or cut a few bytes
      for (let k = 1 + rng.int(3); k > 0; k--) {
        const at = rng.int(bytes.length);
        bytes[at] =
          rng.int(4) === 0 ? rng.pick([0x00, 0x7f, 0x80, 0xff, 0x08, 0x10, 0x1a, 0x22]) : rng.int(256);
      }
      const cut = rng.int(6) === 0 ? bytes.subarray(0, rng.int(bytes.length + 1)) : bytes;
      const framed = new Uint8Array(cut.length + 3);
      framed.set(cut, 2);
      const want = outcome(() => checkMessage(framed, 2, 2 + cut.length, schema));
      const got = outcome(() => checkHistogram(framed, 2, 2 + cut.length, version === "v2"));
      expect(got, Buffer.from(cut).toString("hex")).toBe(want);
      if (want !== "ok") failing++;
    }
    // the damage reaches both outcomes
    expect(failing).toBeGreaterThan(500);
    expect(failing).toBeLessThan(3800);
  });
});
