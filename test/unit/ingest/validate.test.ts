import { describe, expect, it } from "vitest";
import { DEFAULTS } from "../../../lib/ingest/config";
import { UnsupportedContentError } from "../../../lib/ingest/errors";
import { Ingestor } from "../../../lib/ingest/ingest";
import { negotiate } from "../../../lib/ingest/negotiate";
import { DEFAULT_LIMITS, type LabelLimits, type RejectReason } from "../../../lib/ingest/scan/validate";
import { type Labels, snappy, v1Message, v2Message } from "../../fixtures/remote-write";

/** The legacy name rules, which most cases here are about. */
const limits: LabelLimits = {
  ...DEFAULT_LIMITS,
  nameValidation: "legacy",
  maxLabelsPerSeries: 5,
  maxLabelNameLength: 20,
  maxLabelValueLength: 30,
};
const make = (l: LabelLimits = limits) =>
  new Ingestor({
    limits: l,
    streamShards: 2,
    maxRecordBytes: DEFAULTS.maxRecordBytes,
    maxMetadataLength: DEFAULTS.maxMetadataLength,
    maxDecodedBytes: 1 << 20,
  });

const ok: Labels = [
  ["__name__", "good_metric"],
  ["job", "j"],
];

const cases: [string, Labels, RejectReason][] = [
  ["no labels", [], "no-labels"],
  ["no __name__", [["job", "j"]], "missing-metric-name"],
  ["metric name with a dash", [["__name__", "bad-name"]], "metric-name-invalid"],
  ["metric name starting with a digit", [["__name__", "1abc"]], "metric-name-invalid"],
  [
    "label name with a dot",
    [
      ["__name__", "m"],
      ["a.b", "x"],
    ],
    "label-name-invalid",
  ],
  [
    "label name with a colon",
    [
      ["__name__", "m"],
      ["a:b", "x"],
    ],
    "label-name-invalid",
  ],
  [
    "empty label name",
    [
      ["__name__", "m"],
      ["", "x"],
    ],
    "label-name-invalid",
  ],
  [
    "empty label value",
    [
      ["__name__", "m"],
      ["job", ""],
    ],
    "label-value-empty",
  ],
  [
    "duplicate label names",
    [
      ["__name__", "m"],
      ["job", "a"],
      ["job", "b"],
    ],
    "label-name-duplicate",
  ],
  [
    "duplicate names, unsorted",
    [
      ["job", "a"],
      ["__name__", "m"],
      ["job", "b"],
    ],
    "label-name-duplicate",
  ],
  [
    "too many labels",
    [
      ["__name__", "m"],
      ["a", "1"],
      ["b", "2"],
      ["c", "3"],
      ["d", "4"],
      ["e", "5"],
    ],
    "too-many-labels",
  ],
  [
    "label name too long",
    [
      ["__name__", "m"],
      ["n".repeat(21), "x"],
    ],
    "label-name-too-long",
  ],
  [
    "label value too long",
    [
      ["__name__", "m"],
      ["job", "v".repeat(31)],
    ],
    "label-value-too-long",
  ],
];

describe.each(["v1", "v2"] as const)("series validation (%s)", (version) => {
  const encode = (series: Labels[]) => {
    const specs = series.map((labels) => ({ labels, samples: [{ value: 1, timestamp: 1 }] }));
    return snappy(version === "v1" ? v1Message(specs) : v2Message(specs));
  };

  it.each(cases)("%s is rejected as %s, the valid series is still written", (_name, labels, reason) => {
    const out = make().prepare(encode([labels, ok]), version, undefined);
    expect([...out.rejected.byReason.entries()]).toEqual([[reason, 1]]);
    expect(out.written).toMatchObject({ series: 1, samples: 1 });
  });

  it("accepts the limits exactly", () => {
    const atLimit: Labels = [
      ["__name__", "m"],
      ["a", "v".repeat(30)],
      ["n".repeat(20), "x"],
      ["c", "3"],
      ["d", "4"],
    ];
    const out = make().prepare(encode([atLimit]), version, undefined);
    expect(out.rejected.total).toBe(0);
  });

  it("counts several reasons at once", () => {
    const out = make().prepare(encode([[], [], [["job", "x"]], ok]), version, undefined);
    expect(Object.fromEntries(out.rejected.byReason)).toEqual({ "no-labels": 2, "missing-metric-name": 1 });
    expect(out.rejected.total).toBe(3);
  });

  it("UTF-8 names are the default", () => {
    const dotted: Labels = [
      ["__name__", "http.server.request.duration"],
      ["service.name", "checkout"],
    ];
    expect(DEFAULT_LIMITS.nameValidation).toBe("utf8");
    const out = make({ ...DEFAULT_LIMITS }).prepare(encode([dotted]), version, undefined);
    expect(out.rejected.total).toBe(0);
    expect(out.written.series).toBe(1);
  });

  it("utf8 name validation accepts dotted names that legacy refuses", () => {
    const dotted: Labels = [
      ["__name__", "http.server.duration"],
      ["service.name", "checkout ✓"],
    ];
    expect(make().prepare(encode([dotted]), version, undefined).rejected.total).toBe(1);
    expect(
      make({ ...limits, nameValidation: "utf8" }).prepare(encode([dotted]), version, undefined).rejected
        .total,
    ).toBe(0);
  });
});

describe("content negotiation", () => {
  it.each([
    [undefined, undefined, "v1"],
    ["application/x-protobuf", "snappy", "v1"],
    ["application/x-protobuf;proto=prometheus.WriteRequest", "snappy", "v1"],
    ["application/x-protobuf; proto=io.prometheus.write.v2.Request", "snappy", "v2"],
    ['application/x-protobuf;proto="io.prometheus.write.v2.Request"', "SNAPPY", "v2"],
  ])("Content-Type %s, Content-Encoding %s → %s", (type, encoding, want) => {
    expect(negotiate(type, encoding)).toBe(want);
  });

  it.each([
    ["application/json", "snappy"],
    ["application/x-protobuf;proto=io.prometheus.write.v3.Request", "snappy"],
    ["text/plain", undefined],
    ["application/x-protobuf", "gzip"],
    ["application/x-protobuf", "zstd"],
  ])("Content-Type %s, Content-Encoding %s → 415", (type, encoding) => {
    expect(() => negotiate(type, encoding)).toThrow(UnsupportedContentError);
  });
});
