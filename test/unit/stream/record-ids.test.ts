import { afterEach, describe, expect, it } from "vitest";
import {
  availableSnappyBackends,
  compress,
  decompress,
  type SnappyBackendName,
  snappyBackend,
  useSnappy,
} from "../../../lib/codec/snappy";
import { Ingestor } from "../../../lib/ingest/ingest";
import { parsePartitionKey, recordId } from "../../../lib/stream/records";
import {
  ingestSettings,
  nativeHistogram,
  realisticSeries,
  type SeriesSpec,
  v1Message,
  v2Message,
} from "../../fixtures/remote-write";

/**
 * Record ids (stream format 3) name the record's data, the compressed body. The codecs the
 * stream is written with, the native package (the local server) and the WebAssembly one (the
 * Lambda bundle), encode a body to the same bytes, so a request resent from one to the other
 * gives the same keys and consumers drop the duplicates by id. The JavaScript codec, a
 * fallback, encodes differently: its ids differ, and nothing else in its keys.
 */
const codecs: SnappyBackendName[] = availableSnappyBackends();
if (!codecs.includes("native")) console.warn("record ids: the native snappy package is absent here");
const atStart = snappyBackend();
afterEach(() => {
  useSnappy(atStart);
});

const T = 1_700_000_000_000;
const rich: SeriesSpec[] = [
  {
    // labels out of order: the gateway re-encodes this series sorted
    labels: [
      ["job", "api"],
      ["__name__", "http_request_duration_seconds"],
      ["handler", "/v1/items"],
    ],
    exemplars: [{ labels: [["trace_id", "4bf92f3577b34da6"]], value: 0.25, timestamp: T + 123 }],
    histograms: [nativeHistogram(T), nativeHistogram(T + 15_000, 2)],
  },
  {
    labels: [
      ["__name__", "long_values"],
      ["path", "/a/b/c/".repeat(40)],
    ],
    samples: Array.from({ length: 300 }, (_, i) => ({ value: i % 7, timestamp: T + i * 15_000 })),
  },
];
/** One series with more samples than a 4000-byte record holds: v1 splits it over records. */
const long: SeriesSpec = {
  labels: [
    ["__name__", "split_me"],
    ["instance", "10.0.0.1:9100"],
  ],
  samples: Array.from({ length: 900 }, (_, i) => ({ value: Math.sin(i), timestamp: T + i * 1000 })),
};

const payloads: {
  name: string;
  version: "v1" | "v2";
  raw: Uint8Array;
  tenant?: string;
  maxRecordBytes?: number;
}[] = [
  { name: "v1, 500 series", version: "v1", raw: v1Message(realisticSeries(500, 4)), tenant: "acme" },
  { name: "v2, 300 series", version: "v2", raw: v2Message(realisticSeries(300, 2)) },
  {
    name: "v1, histograms, exemplars, unsorted labels, metadata",
    version: "v1",
    raw: v1Message(rich, [
      { type: "HISTOGRAM", metric_family_name: "http_request_duration_seconds", help: "h" },
    ]),
  },
  {
    name: "v2, histograms, exemplars, metadata",
    version: "v2",
    raw: v2Message([...rich.map((s) => ({ ...s, metadata: { type: "GAUGE", help: "h", unit: "s" } }))]),
    tenant: "t-2",
  },
  {
    name: "v1, small records and a series split over several",
    version: "v1",
    raw: v1Message([...realisticSeries(200, 3), long]),
    maxRecordBytes: 4000,
  },
  { name: "v2, small records", version: "v2", raw: v2Message(realisticSeries(200, 3)), maxRecordBytes: 4000 },
];

/** The records of `p` when `codec` compresses (the request too, as its sender's codec would). */
function recordsUnder(codec: SnappyBackendName, p: (typeof payloads)[number]) {
  useSnappy(codec);
  const ingestor = new Ingestor(
    ingestSettings(p.maxRecordBytes === undefined ? {} : { maxRecordBytes: p.maxRecordBytes }),
  );
  return ingestor.prepare(compress(p.raw), p.version, p.tenant).records;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

const results = new Map<(typeof payloads)[number], Map<SnappyBackendName, ReturnType<typeof recordsUnder>>>();
/** Every codec's records of `p`, by codec (computed once). */
function resultsOf(p: (typeof payloads)[number]) {
  let by = results.get(p);
  if (by === undefined) {
    by = new Map(codecs.map((c) => [c, recordsUnder(c, p)]));
    results.set(p, by);
  }
  return by;
}

/** The codecs whose bytes, hence ids, agree: native (when installed here) and WebAssembly. */
const reference = codecs.filter((c) => c !== "js");
const withoutId = (key: string) => key.slice(0, key.lastIndexOf(":"));

describe(`record ids under every snappy codec here (${codecs.join(", ")})`, () => {
  it("has more than one codec to compare", () => {
    expect(codecs).toContain("wasm");
    expect(codecs).toContain("js");
  });

  for (const p of payloads) {
    it(`${p.name}: native and WebAssembly write the same bytes and keys; every codec's id names its data`, () => {
      const by = resultsOf(p);
      const wasm = by.get("wasm")!;
      expect(wasm.length).toBeGreaterThan(p.maxRecordBytes === undefined ? 0 : 3);
      for (const codec of reference) {
        const records = by.get(codec)!;
        expect(
          records.map((r) => [r.partitionKey, r.explicitHashKey, hex(r.data)]),
          `${codec} against wasm`,
        ).toEqual(wasm.map((r) => [r.partitionKey, r.explicitHashKey, hex(r.data)]));
      }
      for (const [codec, records] of by) {
        expect(
          records.map((r) => withoutId(r.partitionKey)),
          `${codec} against wasm`,
        ).toEqual(wasm.map((r) => withoutId(r.partitionKey)));
      }
      for (let i = 0; i < wasm.length; i++) {
        const key = parsePartitionKey(wasm[i]!.partitionKey)!;
        expect(key.streamFormat).toBe(3);
        expect(key.format).toBe(p.version === "v1" ? "prw1" : "prw2");
        expect(key.tenant).toBe(p.tenant);
        // what each codec wrote, read back by each codec: one body; each id names its data
        const bodies = new Set<string>();
        for (const [, records] of by) {
          expect(recordId(records[i]!.data)).toBe(parsePartitionKey(records[i]!.partitionKey)!.id);
          for (const reader of codecs) {
            useSnappy(reader);
            bodies.add(hex(decompress(records[i]!.data, 1 << 24)));
          }
        }
        expect(bodies.size).toBe(1);
      }
    });
  }

  it("while the JavaScript fallback's bytes differ, and with them its ids", () => {
    let differing = 0;
    for (const p of payloads) {
      const by = resultsOf(p);
      const wasm = by.get("wasm")!;
      const js = by.get("js")!;
      for (let i = 0; i < wasm.length; i++) {
        if (hex(wasm[i]!.data) !== hex(js[i]!.data)) {
          differing++;
          expect(js[i]!.partitionKey).not.toBe(wasm[i]!.partitionKey);
        }
      }
    }
    expect(differing).toBeGreaterThan(0);
  });

  it("a body compressed twice by one codec gives the same bytes (a resend to the same gateway, the same keys)", () => {
    for (const codec of codecs) {
      for (const p of payloads) {
        expect(recordsUnder(codec, p).map((r) => r.partitionKey)).toEqual(
          resultsOf(p)
            .get(codec)!
            .map((r) => r.partitionKey),
        );
      }
    }
  });
});
