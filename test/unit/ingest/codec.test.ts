import { describe, expect, it } from "vitest";
import { UnreadableBodyError } from "../../../lib/ingest/errors";
import { Ingestor } from "../../../lib/ingest/ingest";
import { decodeRecord } from "../../../lib/stream/consumer";
import { parsePartitionKey, recordId } from "../../../lib/stream/records";
import { ShardMap } from "../../../lib/stream/shard-map";
import {
  floatBits,
  ingestSettings,
  nativeHistogram,
  realisticSeries,
  type SeriesSpec,
  STALE_NAN,
  snappy,
  v1Message,
  v2Message,
} from "../../fixtures/remote-write";

const specials: SeriesSpec = {
  labels: [
    ["__name__", "special_values"],
    ["job", 'unicode ✓ 日本語 "quoted" \\ back\nslash'],
  ],
  samples: [
    { value: STALE_NAN, timestamp: 1_700_000_000_000 },
    { value: Number.POSITIVE_INFINITY, timestamp: 1_700_000_015_000 },
    { value: Number.NEGATIVE_INFINITY, timestamp: 1_700_000_030_000 },
    { value: -0, timestamp: 1_700_000_045_000 },
    { value: Number.MIN_VALUE, timestamp: 9_007_199_254_740_991 },
    { value: 1.7976931348623157e308, timestamp: -1 },
  ],
};

const rich: SeriesSpec = {
  labels: [
    ["__name__", "http_request_duration_seconds"],
    ["handler", "/api"],
  ],
  exemplars: [{ labels: [["trace_id", "abc123"]], value: 0.25, timestamp: 1_700_000_000_123 }],
  histograms: [nativeHistogram(1_700_000_000_000), nativeHistogram(1_700_000_015_000, 2)],
};

/** Decodes every record and indexes series by their label set. */
function decodeAll(records: { data: Uint8Array; partitionKey: string }[]) {
  const bySeries = new Map<string, ReturnType<typeof decodeRecord>["series"][number][]>();
  const metadata: Record<string, unknown>[] = [];
  for (const r of records) {
    const rec = decodeRecord(r.data, r.partitionKey);
    metadata.push(...rec.metadata);
    for (const s of rec.series) {
      const id = JSON.stringify(s.labels);
      bySeries.set(id, [...(bySeries.get(id) ?? []), s]);
    }
  }
  return { bySeries, metadata };
}

const labelKey = (labels: [string, string][]) => JSON.stringify(Object.fromEntries(labels));

describe.each(["v1", "v2"] as const)("codec round trip (%s)", (version) => {
  const encode = (series: SeriesSpec[]) => snappy(version === "v1" ? v1Message(series) : v2Message(series));
  const ingestor = new Ingestor(ingestSettings());

  it("keeps timestamps and float bits exact: stale NaN, ±Inf, -0, extremes, unicode labels", () => {
    const out = ingestor.prepare(encode([specials]), version, undefined);
    expect(out.rejected.total).toBe(0);
    expect(out.written).toMatchObject({ series: 1, samples: specials.samples!.length });
    const { bySeries } = decodeAll(out.records);
    const [got] = bySeries.get(labelKey(specials.labels))!;
    expect(got!.samples.map((s) => s.bits)).toEqual(specials.samples!.map((s) => floatBits(s.value)));
    expect(got!.samples[0]!.bits).toBe("7ff0000000000002");
    expect(got!.samples.map((s) => s.timestamp)).toEqual(specials.samples!.map((s) => String(s.timestamp)));
  });

  it("carries native histograms and exemplars unchanged", () => {
    const out = ingestor.prepare(encode([rich]), version, undefined);
    expect(out.written).toMatchObject({ series: 1, histograms: 2, exemplars: 1, samples: 0 });
    const { bySeries } = decodeAll(out.records);
    const [got] = bySeries.get(labelKey(rich.labels))!;
    expect(got!.histograms).toHaveLength(2);
    expect(got!.histograms[0]).toMatchObject({
      count_int: "12",
      sum: 42.5,
      schema: 3,
      positive_deltas: ["2", "1", "-2", "3"],
      negative_spans: [{ offset: -2, length: 2 }],
      reset_hint: version === "v1" ? "NO" : "RESET_HINT_NO",
      timestamp: "1700000000000",
    });
    expect(got!.histograms[1]).toMatchObject({ count_int: "23", sum: 85 });
    expect(got!.exemplars).toEqual([
      { labels: { trace_id: "abc123" }, value: 0.25, timestamp: "1700000000123" },
    ]);
  });

  it("writes every series of a realistic request exactly once, bit for bit", () => {
    const series = realisticSeries(500, 4);
    const out = ingestor.prepare(encode(series), version, "acme");
    expect(out.written).toMatchObject({ series: 500, samples: 2000 });
    expect(out.records.length).toBeLessThanOrEqual(4);
    const { bySeries } = decodeAll(out.records);
    expect(bySeries.size).toBe(500);
    for (const s of series) {
      const got = bySeries.get(labelKey(s.labels));
      expect(got).toHaveLength(1);
      expect(got![0]!.samples.map((x) => [x.bits, x.timestamp])).toEqual(
        s.samples!.map((x) => [floatBits(x.value), String(x.timestamp)]),
      );
    }
    for (const r of out.records) {
      const key = parsePartitionKey(r.partitionKey)!;
      expect(key.tenant).toBe("acme");
      expect(key.format).toBe(version === "v1" ? "prw1" : "prw2");
      expect(key.streamFormat).toBe(3);
      const map = ShardMap.uniform(4);
      expect(r.explicitHashKey).toBe(map.hashKeys[map.group(key.slot!)]!);
    }
  });

  it("is deterministic: the same request gives the same records and keys", () => {
    const body = encode(realisticSeries(200, 2));
    const a = ingestor.prepare(body, version, undefined).records;
    const b = ingestor.prepare(body, version, undefined).records;
    expect(b.map((r) => r.partitionKey)).toEqual(a.map((r) => r.partitionKey));
    expect(b.map((r) => Buffer.from(r.data).toString("hex"))).toEqual(
      a.map((r) => Buffer.from(r.data).toString("hex")),
    );
  });

  it("routes a series to the same bucket in every request, whatever else is in it", () => {
    const all = realisticSeries(100, 1);
    const bucketOf = (series: SeriesSpec[]) => {
      const map = new Map<string, number>();
      for (const r of ingestor.prepare(encode(series), version, undefined).records) {
        const rec = decodeRecord(r.data, r.partitionKey);
        for (const s of rec.series) map.set(JSON.stringify(s.labels), rec.key.slot!);
      }
      return map;
    };
    const whole = bucketOf(all);
    const part = bucketOf(all.slice(37, 61).reverse());
    expect(new Set(whole.values()).size).toBeGreaterThan(1);
    for (const [id, bucket] of part) expect(whole.get(id)).toBe(bucket);
  });

  it("sorts unsorted labels instead of rejecting them", () => {
    const unsorted: SeriesSpec = {
      labels: [
        ["zone", "a"],
        ["__name__", "m"],
        ["instance", "x"],
      ],
      samples: [{ value: 1, timestamp: 1 }],
    };
    const out = ingestor.prepare(encode([unsorted]), version, undefined);
    expect(out.rejected.total).toBe(0);
    const rec = decodeRecord(out.records[0]!.data, out.records[0]!.partitionKey);
    expect(Object.keys(rec.series[0]!.labels)).toEqual(["__name__", "instance", "zone"]);
  });

  it("splits records at the record size limit and loses nothing", () => {
    const small = new Ingestor(ingestSettings({ maxRecordBytes: 4096, streamShards: 2 }));
    const series = realisticSeries(300, 5);
    const out = small.prepare(encode(series), version, undefined);
    expect(out.records.length).toBeGreaterThan(4);
    for (const r of out.records) expect(r.data.length).toBeLessThanOrEqual(4096);
    const { bySeries } = decodeAll(out.records);
    expect(bySeries.size).toBe(300);
    const samples = [...bySeries.values()].flat().reduce((n, s) => n + s.samples.length, 0);
    expect(samples).toBe(1500);
  });
});

describe("v1 specifics", () => {
  const ingestor = new Ingestor(ingestSettings());

  it("carries metric metadata into the stream", () => {
    const metadata = [
      { type: "COUNTER", metric_family_name: "http_requests_total", help: "Requests.", unit: "" },
      { type: "GAUGE", metric_family_name: "temperature_celsius", help: "Heat ✓", unit: "celsius" },
    ];
    const out = ingestor.prepare(snappy(v1Message([specials], metadata)), "v1", undefined);
    expect(out.written.metadata).toBe(2);
    const { metadata: got } = decodeAll(out.records);
    expect(got).toEqual(
      expect.arrayContaining(
        metadata.map((m) =>
          expect.objectContaining({ metric_family_name: m.metric_family_name, help: m.help, type: m.type }),
        ),
      ),
    );
    expect(got).toHaveLength(2);
  });

  it("splits one series too large for a record into several, samples in order", () => {
    const small = new Ingestor(ingestSettings({ maxRecordBytes: 2048, streamShards: 1 }));
    const big: SeriesSpec = {
      labels: [
        ["__name__", "big"],
        ["job", "j"],
      ],
      samples: Array.from({ length: 1000 }, (_, k) => ({ value: k, timestamp: k })),
    };
    const out = small.prepare(snappy(v1Message([big])), "v1", undefined);
    expect(out.records.length).toBeGreaterThan(1);
    const samples = out.records.flatMap((r) =>
      decodeRecord(r.data, r.partitionKey).series.flatMap((s) => s.samples),
    );
    expect(samples.map((s) => Number(s.timestamp))).toEqual(big.samples!.map((s) => s.timestamp));
  });
});

describe("v2 specifics", () => {
  const ingestor = new Ingestor(ingestSettings());

  it("gives each record only the symbols its series use, and keeps metadata", () => {
    const series: SeriesSpec[] = [
      { ...specials, metadata: { type: "METRIC_TYPE_GAUGE", help: "special values", unit: "" } },
      ...realisticSeries(50, 1),
    ];
    const body = snappy(v2Message(series, ["unused symbol"]));
    const out = ingestor.prepare(body, "v2", undefined);
    expect(out.written).toMatchObject({ series: 51, metadata: 1 });
    const { bySeries } = decodeAll(out.records);
    expect(bySeries.get(labelKey(specials.labels))![0]!.metadata).toEqual({
      type: "METRIC_TYPE_GAUGE",
      help: "special values",
      unit: "",
    });
    // each record is named by its data: the id in its key is recordId of the bytes in the stream
    for (const r of out.records) {
      expect(decodeRecord(r.data, r.partitionKey).key).toMatchObject({
        format: "prw2",
        id: recordId(r.data),
      });
    }
    const raw = out.records.map((r) => Buffer.from(r.data).toString("latin1")).join("");
    expect(raw).not.toContain("unused symbol");
  });

  it("refuses a request whose symbols[0] is not empty", () => {
    const { v2 } = require_v2();
    const msg = v2
      .encode(v2.fromObject({ symbols: ["x", "__name__", "m"], timeseries: [{ labels_refs: [1, 2] }] }))
      .finish();
    expect(() => ingestor.prepare(snappy(msg), "v2", undefined)).toThrow(/symbols\[0\]/);
  });

  it("rejects a series with an out-of-range symbol reference", () => {
    const { v2 } = require_v2();
    const msg = v2
      .encode(
        v2.fromObject({
          symbols: ["", "__name__", "m"],
          timeseries: [
            { labels_refs: [1, 9], samples: [{ value: 1, timestamp: "1" }] },
            { labels_refs: [1, 2], samples: [{ value: 1, timestamp: "1" }] },
          ],
        }),
      )
      .finish();
    const out = ingestor.prepare(snappy(msg), "v2", undefined);
    expect(out.rejected.byReason.get("symbol-ref-invalid")).toBe(1);
    expect(out.written).toMatchObject({ series: 1, samples: 1 });
  });
});

import { schemas } from "../../../lib/stream/proto";

const require_v2 = () => schemas();

describe("request-level errors", () => {
  const ingestor = new Ingestor(ingestSettings({ maxDecodedBytes: 1 << 20 }));
  const good = v1Message(realisticSeries(3, 1));

  it.each([
    ["empty body", new Uint8Array(0), false, /empty/],
    ["corrupt snappy", Uint8Array.from([0x05, 0xff, 0xff, 0xff]), false, /snappy/],
    ["bad snappy preamble", Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), false, /snappy/],
    ["truncated protobuf", snappy(good.subarray(0, good.length - 7)), false, /malformed/],
    ["protobuf garbage", snappy(Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])), false, /malformed/],
    ["wrong wire type for timeseries", snappy(Uint8Array.from([0x08, 0x01])), false, /wire type/],
    ["decompression bomb", Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x04, 0x00]), true, /declared/],
  ])("%s", (_name, body, tooLarge, message) => {
    expect(() => ingestor.prepare(body, "v1", undefined)).toThrow(UnreadableBodyError);
    expect(() => ingestor.prepare(body, "v1", undefined)).toThrow(message);
    try {
      ingestor.prepare(body, "v1", undefined);
    } catch (err) {
      expect((err as UnreadableBodyError).tooLarge).toBe(tooLarge);
    }
  });
});
