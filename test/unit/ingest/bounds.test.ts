import { describe, expect, it } from "vitest";
import { Ingestor } from "../../../lib/ingest/ingest";
import { rejectionMessage } from "../../../lib/ingest/respond";
import { decodeRecord } from "../../../lib/stream/consumer";
import { MAX_PARTITION_KEY_LENGTH, recordLimitBroken } from "../../../lib/stream/limits";
import { ingestSettings, type SeriesSpec, snappy, v1Message, v2Message } from "../../fixtures/remote-write";

/**
 * Nothing reaches the stream that Kinesis would refuse: metadata help, unit and family name
 * are bounded (MAX_METADATA_LENGTH), and a series that cannot fit one record with every
 * symbol it refers to is refused, while the rest of the request is written.
 */
const MiB = 1024 * 1024;
const longHelp = "h".repeat(1.3 * MiB);

const series = (name: string, n = 3): SeriesSpec => ({
  labels: [
    ["__name__", name],
    ["job", "bounds"],
  ],
  samples: Array.from({ length: n }, (_, i) => ({ value: i, timestamp: 1_700_000_000_000 + i * 15_000 })),
});

function everyRecordFits(records: { data: Uint8Array; partitionKey: string; explicitHashKey: string }[]) {
  for (const r of records) expect(recordLimitBroken(r, MiB)).toBeUndefined();
}

describe("metadata bounds (v1)", () => {
  const ingestor = new Ingestor(ingestSettings());

  it.each([
    ["help", { help: longHelp }],
    ["unit", { unit: "u".repeat(20_000) }],
    ["metric family name", { metric_family_name: "m".repeat(20_000) }],
  ])("refuses a metadata entry whose %s is too long and writes the rest", (_, over) => {
    const metadata = [
      { type: "COUNTER", metric_family_name: "ok_total", help: "fine", unit: "" },
      { type: "GAUGE", metric_family_name: "big", help: "x", unit: "", ...over },
    ];
    const out = ingestor.prepare(snappy(v1Message([series("a"), series("b")], metadata)), "v1", undefined);
    expect(out.rejected.byReason.get("metadata-too-long")).toBe(1);
    expect(out.rejected.metadata).toBe(1);
    expect(out.written).toMatchObject({ series: 2, samples: 6, metadata: 1 });
    everyRecordFits(out.records);
    const names = out.records.flatMap((r) =>
      decodeRecord(r.data, r.partitionKey).metadata.map((m) => m.metric_family_name),
    );
    expect(names).toEqual(["ok_total"]);
    expect(rejectionMessage(out)).toMatch(
      /^rejected 0 of 2 series and 1 metadata \(metadata-too-long: 1\); wrote 2 series, 6 samples/,
    );
  });

  it("keeps metadata at the limit", () => {
    const at = new Ingestor(ingestSettings({ maxMetadataLength: 100 }));
    const metadata = [
      { type: "COUNTER", metric_family_name: "x_total", help: "h".repeat(100), unit: "u".repeat(100) },
    ];
    const out = at.prepare(snappy(v1Message([series("a")], metadata)), "v1", undefined);
    expect(out.rejected.total).toBe(0);
    expect(out.written.metadata).toBe(1);
  });

  it("refuses a series whose labels alone cannot fit one record", () => {
    const wide = new Ingestor(
      ingestSettings({
        maxRecordBytes: 64 * 1024,
        limits: { ...ingestSettings().limits, maxLabelValueLength: 65536, maxLabelsPerSeries: 100 },
      }),
    );
    const labels: [string, string][] = [["__name__", "wide"]];
    for (let i = 0; i < 3; i++) labels.push([`l${i}`, "v".repeat(30_000)]);
    const out = wide.prepare(snappy(v1Message([{ labels }, series("small")])), "v1", undefined);
    expect(out.rejected.byReason.get("series-too-large")).toBe(1);
    expect(out.written.series).toBe(1);
    for (const r of out.records) expect(recordLimitBroken(r, 64 * 1024)).toBeUndefined();
  });
});

describe("metadata and symbol bounds (v2)", () => {
  const ingestor = new Ingestor(ingestSettings());

  it("writes the samples of a series whose metadata help is too long, without that metadata", () => {
    const big: SeriesSpec = { ...series("big"), metadata: { type: "COUNTER", help: longHelp, unit: "" } };
    const fine: SeriesSpec = {
      ...series("fine"),
      metadata: { type: "GAUGE", help: "fine help", unit: "bytes" },
    };
    const out = ingestor.prepare(snappy(v2Message([big, fine])), "v2", undefined);
    expect(out.rejected.byReason.get("metadata-too-long")).toBe(1);
    expect(out.written).toMatchObject({ series: 2, samples: 6, metadata: 1 });
    everyRecordFits(out.records);
    const decoded = out.records.map((r) => decodeRecord(r.data, r.partitionKey));
    const bySeries = new Map(decoded.flatMap((d) => d.series.map((s) => [s.labels.__name__, s] as const)));
    expect(bySeries.get("big")?.samples).toHaveLength(3);
    expect(bySeries.get("big")?.metadata).toBeUndefined();
    expect(bySeries.get("fine")?.samples).toHaveLength(3);
    expect(bySeries.get("fine")?.metadata).toMatchObject({ help: "fine help", unit: "bytes" });
    // no record carries the long help
    for (const r of out.records) expect(r.data.length).toBeLessThan(4096);
  });

  it("refuses a series whose label symbols cannot fit one record, and writes the rest", () => {
    const wide = new Ingestor(
      ingestSettings({
        maxRecordBytes: 64 * 1024,
        limits: { ...ingestSettings().limits, maxLabelValueLength: 65536, maxLabelsPerSeries: 100 },
      }),
    );
    const labels: [string, string][] = [["__name__", "wide"]];
    for (let i = 0; i < 3; i++) labels.push([`l${i}`, String(i).repeat(30_000)]);
    const out = wide.prepare(
      snappy(v2Message([{ labels, samples: [{ value: 1, timestamp: 1 }] }, series("small")])),
      "v2",
      undefined,
    );
    expect(out.rejected.byReason.get("series-too-large")).toBe(1);
    expect(out.written.series).toBe(1);
    for (const r of out.records) expect(recordLimitBroken(r, 64 * 1024)).toBeUndefined();
  });

  it("refuses a series whose exemplar labels cannot fit one record", () => {
    const small = new Ingestor(ingestSettings({ maxRecordBytes: 64 * 1024 }));
    const s: SeriesSpec = {
      ...series("with_exemplar"),
      exemplars: [{ labels: [["trace_id", "t".repeat(70_000)]], value: 1, timestamp: 1 }],
    };
    const out = small.prepare(snappy(v2Message([s, series("small")])), "v2", undefined);
    expect(out.rejected.byReason.get("series-too-large")).toBe(1);
    for (const r of out.records) expect(recordLimitBroken(r, 64 * 1024)).toBeUndefined();
  });
});

describe("record limit", () => {
  it("leaves room for the longest partition key in every record", () => {
    const limit = 64 * 1024;
    const ingestor = new Ingestor(ingestSettings({ maxRecordBytes: limit }));
    const many = Array.from({ length: 400 }, (_, i) => series(`m${i}`, 40));
    for (const version of ["v1", "v2"] as const) {
      const body = version === "v1" ? v1Message(many) : v2Message(many);
      // the longest tenant name a key can carry (TENANT_PATTERN)
      const out = ingestor.prepare(snappy(body), version, "t".repeat(64));
      expect(out.records.length).toBeGreaterThan(4);
      for (const r of out.records) {
        expect(r.data.length + MAX_PARTITION_KEY_LENGTH).toBeLessThanOrEqual(limit);
        expect(recordLimitBroken(r, limit)).toBeUndefined();
      }
    }
  });

  it.each([
    ["an empty partition key", { partitionKey: "" }, "partition-key-length"],
    ["a partition key of 257 characters", { partitionKey: "k".repeat(257) }, "partition-key-length"],
    ["data over the limit", { data: new Uint8Array(MiB) }, "record-too-large"],
    ["a hash key that is not decimal", { explicitHashKey: "0x10" }, "explicit-hash-key-invalid"],
    ["a hash key of 2^128", { explicitHashKey: (1n << 128n).toString() }, "explicit-hash-key-invalid"],
  ])("names %s", (_, over, reason) => {
    const record = { data: new Uint8Array(10), partitionKey: "k", explicitHashKey: "0", ...over };
    expect(recordLimitBroken(record, MiB)).toBe(reason);
  });

  it("takes a record at exactly the limit, partition key included", () => {
    const record = {
      data: new Uint8Array(MiB - 3),
      partitionKey: "key",
      explicitHashKey: ((1n << 128n) - 1n).toString(),
    };
    expect(recordLimitBroken(record, MiB)).toBeUndefined();
  });
});
