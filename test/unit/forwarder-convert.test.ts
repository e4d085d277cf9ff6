import { describe, expect, it } from "vitest";
import { compress } from "../../lib/codec/snappy";
import { WireError } from "../../lib/codec/wire";
import { convertV2ToV1, countV2, familyName, splitV1 } from "../../lib/forwarder/convert";
import { decodeRecord } from "../../lib/stream/consumer";
import { schemas, TO_OBJECT } from "../../lib/stream/proto";
import { bitsToFloat, nativeHistogram, STALE_NAN, v2Message } from "../fixtures/remote-write";

const KEY1 = `prw1::0:${"0".repeat(32)}`;
const KEY2 = `prw2::0:${"0".repeat(32)}`;

/** Both sides decoded by the reference decoder (protobufjs over the committed .proto files). */
const asV2 = (body: Uint8Array) => decodeRecord(compress(body), KEY2);
const asV1 = (body: Uint8Array) => decodeRecord(compress(body), KEY1);

const T = 1_700_000_000_000;

describe("Remote-Write 2.0 records rewritten as 1.0", () => {
  const body = v2Message([
    {
      labels: [
        ["__name__", "http_requests_total"],
        ["job", "api"],
        ["method", "GET"],
      ],
      samples: [
        { value: 1.5, timestamp: T },
        { value: STALE_NAN, timestamp: T + 15_000 },
        { value: -0, timestamp: T + 30_000 },
        { value: bitsToFloat("7ff8000000000001"), timestamp: T + 45_000 },
      ],
      exemplars: [{ labels: [["trace_id", "abc123"]], value: 0.25, timestamp: T - 1 }],
      metadata: { type: "METRIC_TYPE_COUNTER", help: "Requests served", unit: "" },
    },
    {
      labels: [
        ["__name__", "http_requests_total"],
        ["job", "api"],
        ["method", "POST"],
      ],
      samples: [{ value: 7, timestamp: T }],
      metadata: { type: "METRIC_TYPE_COUNTER", help: "Requests served", unit: "" },
    },
    {
      labels: [
        ["__name__", "latency_seconds"],
        ["job", "api"],
      ],
      histograms: [nativeHistogram(T), nativeHistogram(T + 15_000, 2)],
      metadata: { type: "METRIC_TYPE_HISTOGRAM", help: "Latency", unit: "seconds" },
    },
    {
      labels: [
        ["__name__", "latency_seconds_bucket"],
        ["job", "api"],
        ["le", "+Inf"],
      ],
      samples: [{ value: 3, timestamp: T }],
      metadata: { type: "METRIC_TYPE_HISTOGRAM", help: "Latency", unit: "seconds" },
    },
  ]);

  it("carries every series, label, sample (to the bit), exemplar and histogram", () => {
    const v2 = asV2(body);
    const { body: v1Body, counts } = convertV2ToV1(body);
    const v1 = asV1(v1Body);
    expect(v1.series.map((s) => s.labels)).toEqual(v2.series.map((s) => s.labels));
    expect(v1.series.map((s) => s.samples)).toEqual(v2.series.map((s) => s.samples));
    expect(v1.series.map((s) => s.exemplars)).toEqual(v2.series.map((s) => s.exemplars));
    // the reset hint is spelled differently in the two schemas; the numbers are the same
    const hint = (h: Record<string, unknown>) => ({
      ...h,
      reset_hint: String(h.reset_hint).replace("RESET_HINT_", ""),
    });
    expect(v1.series.map((s) => s.histograms)).toEqual(v2.series.map((s) => s.histograms.map(hint)));
    expect(v1.series[0]!.samples.map((s) => s.bits)).toEqual([
      "3ff8000000000000",
      "7ff0000000000002",
      "8000000000000000",
      "7ff8000000000001",
    ]);
    expect(counts).toEqual({
      series: 4,
      samples: 6,
      histograms: 2,
      exemplars: 1,
      metadata: 2,
      startTimestampsDropped: 0,
      metadataDropped: 0,
    });
    expect(countV2(body)).toEqual({ samples: 6, histograms: 2, exemplars: 1 });
  });

  it("turns per-series metadata into one 1.0 entry per family", () => {
    const v1 = asV1(convertV2ToV1(body).body);
    expect(v1.metadata).toEqual([
      { type: "COUNTER", metric_family_name: "http_requests_total", help: "Requests served" },
      { type: "HISTOGRAM", metric_family_name: "latency_seconds", help: "Latency", unit: "seconds" },
    ]);
  });

  it.each([
    ["latency_seconds_bucket", 3, "latency_seconds"],
    ["latency_seconds_count", 3, "latency_seconds"],
    ["rpc_seconds_sum", 5, "rpc_seconds"],
    ["queue_gsum", 4, "queue"],
    ["http_requests_total", 1, "http_requests_total"],
    ["jobs_count", 2, "jobs_count"],
    ["_bucket", 3, "_bucket"],
  ])("the family of %s (type %i) is %s", (metric, type, family) => {
    expect(familyName(metric, type)).toBe(family);
  });

  it("counts the start timestamps 1.0 cannot carry, and carries the rest", () => {
    const { v2 } = schemas();
    const msg = v2.fromObject({
      symbols: ["", "__name__", "c_total", "h"],
      timeseries: [
        {
          labels_refs: [1, 2],
          samples: [
            { value: 1, timestamp: String(T), start_timestamp: String(T - 60_000) },
            { value: 2, timestamp: String(T + 1), start_timestamp: "0" },
          ],
          created_timestamp: String(T - 60_000),
        },
        {
          labels_refs: [1, 3],
          histograms: [
            { ...nativeHistogram(T), reset_hint: "RESET_HINT_NO", start_timestamp: String(T - 1) },
          ],
        },
      ],
    });
    const encoded = v2.encode(msg).finish();
    const { body: v1Body, counts } = convertV2ToV1(encoded);
    expect(counts.startTimestampsDropped).toBe(3);
    const v1 = schemas().v1.toObject(schemas().v1.decode(v1Body), TO_OBJECT) as {
      timeseries: { samples?: unknown[]; histograms?: Record<string, unknown>[] }[];
    };
    expect(v1.timeseries[0]!.samples).toEqual([
      { value: 1, timestamp: String(T) },
      { value: 2, timestamp: String(T + 1) },
    ]);
    expect(v1.timeseries[1]!.histograms![0]).toMatchObject({
      count_int: nativeHistogram(T).count_int,
      timestamp: String(T),
    });
  });

  it("metadata of a series without a metric name is counted as dropped", () => {
    const noName = v2Message([
      {
        labels: [["job", "x"]],
        samples: [{ value: 1, timestamp: T }],
        metadata: { type: "METRIC_TYPE_GAUGE", help: "h", unit: "" },
      },
    ]);
    const { counts } = convertV2ToV1(noName);
    expect(counts).toMatchObject({ metadata: 0, metadataDropped: 1, samples: 1 });
  });

  it("can be cut between series into requests of a given size that together hold everything", () => {
    const many = v2Message(
      Array.from({ length: 50 }, (_, i) => ({
        labels: [
          ["__name__", `m_${i}`],
          ["instance", "a-fairly-long-instance-name:9100"],
        ] as [string, string][],
        samples: [{ value: i, timestamp: T }],
      })),
    );
    const conversion = convertV2ToV1(many);
    const parts = splitV1(conversion, 1_000);
    expect(parts.length).toBeGreaterThan(3);
    for (const part of parts) expect(part.length).toBeLessThanOrEqual(1_000);
    const names = parts.flatMap((p) => asV1(p).series.map((s) => s.labels.__name__));
    expect(names).toEqual(Array.from({ length: 50 }, (_, i) => `m_${i}`));
    expect(splitV1(conversion, 1 << 20)).toHaveLength(1);
  });

  it.each([
    [
      "a reference outside the symbols",
      schemas()
        .v2.encode(
          schemas().v2.fromObject({ symbols: ["", "__name__"], timeseries: [{ labels_refs: [1, 9] }] }),
        )
        .finish(),
      /out of range/,
    ],
    [
      "labels that are not pairs",
      schemas()
        .v2.encode(schemas().v2.fromObject({ symbols: ["", "__name__"], timeseries: [{ labels_refs: [1] }] }))
        .finish(),
      /pairs/,
    ],
    [
      "a v1 body",
      schemas()
        .v1.encode(schemas().v1.fromObject({ timeseries: [{}] }))
        .finish(),
      /reserved/,
    ],
  ])("refuses %s", (_what, bad, message) => {
    expect(() => convertV2ToV1(bad)).toThrow(WireError);
    expect(() => convertV2ToV1(bad)).toThrow(message);
  });
});
