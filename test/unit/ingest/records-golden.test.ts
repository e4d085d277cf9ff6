import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { availableSnappyBackends, compress, decompress, useSnappy } from "../../../lib/codec/snappy";
import { Ingestor, type IngestSettings } from "../../../lib/ingest/ingest";
import { parsePartitionKey, recordId } from "../../../lib/stream/records";
import { ShardMap, type SlotRanges, slotHashKey } from "../../../lib/stream/shard-map";
import { damagedCorpus } from "../../fixtures/damaged-corpus";
import {
  encodeV2,
  ingestSettings,
  nativeHistogram,
  realisticSeries,
  type SeriesSpec,
  STALE_NAN,
  v1Message,
  v2Message,
} from "../../fixtures/remote-write";

/**
 * The records the ingest path makes, held to golden digests: for every request of a fixed
 * corpus, under several shard maps and record limits, the digest of what `Ingestor.prepare`
 * gives (each record's partition key, explicit hash key, uncompressed body and group, the
 * counts, the rejections, or the error). The digests name the uncompressed bodies and the
 * partition keys but for their ids, checked to be the data's (`recordId`), so they hold for
 * every snappy codec; the ids themselves are held to their own digests (`ids | …`) under the
 * codecs the stream is written with, native and WebAssembly, which encode alike (the
 * JavaScript fallback does not). `GOLDEN_WRITE=1` rewrites the file from the code as it is
 * (with the WebAssembly codec, the Lambda bundle's): only when the records are meant to
 * change (a new stream format).
 */
const GOLDEN = fileURLToPath(new URL("../../fixtures/golden/ingest-records.json", import.meta.url));
const T = 1_700_000_000_000;

const sha = (bytes: Uint8Array | string) => createHash("sha256").update(bytes).digest("hex");

function shardsMap(bounds: bigint[]): ShardMap {
  const max = (1n << 128n) - 1n;
  const edges = [0n, ...bounds, max + 1n];
  return ShardMap.fromShards(
    edges.slice(0, -1).map((start, i) => ({
      shardId: `shardId-${String(i).padStart(12, "0")}`,
      startingHashKey: start.toString(),
      endingHashKey: (edges[i + 1]! - 1n).toString(),
      open: true,
    })),
    0,
  );
}

const MAPS: Record<string, ShardMap> = {
  "1 shard": ShardMap.uniform(1),
  "4 shards": ShardMap.uniform(4),
  "7 shards": ShardMap.uniform(7),
  // uneven shards, as splits leave them
  uneven: shardsMap([1n << 120n, 1n << 126n, (1n << 127n) + (1n << 125n), 3n << 126n]),
};

interface Request {
  name: string;
  version: "v1" | "v2";
  raw: Uint8Array;
}

const lbl = (...pairs: string[]): [string, string][] => {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < pairs.length; i += 2) out.push([pairs[i]!, pairs[i + 1]!]);
  return out;
};

function mixed(): SeriesSpec[] {
  return [
    ...realisticSeries(120, 3, 10),
    // unsorted labels (v1 re-sorts them)
    {
      labels: lbl("job", "api", "__name__", "http_requests_total", "code", "200"),
      samples: [{ value: 3, timestamp: T }],
    },
    // UTF-8 names and values
    {
      labels: lbl("__name__", "température", "ville", "Zürich", "emoji", "🚀"),
      samples: [{ value: 1.5, timestamp: T }],
    },
    // histograms, with and without exemplars
    {
      labels: lbl("__name__", "latency", "le_kind", "native"),
      histograms: [nativeHistogram(T), nativeHistogram(T + 15_000, 2)],
    },
    {
      labels: lbl("__name__", "requests", "job", "api"),
      samples: [
        { value: 1, timestamp: T },
        { value: STALE_NAN, timestamp: T + 15_000 },
      ],
      exemplars: [{ labels: lbl("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"), value: 1, timestamp: T }],
    },
    // rejections: no name, a bad name, an empty label value, a duplicate label
    { labels: lbl("job", "nameless"), samples: [{ value: 1, timestamp: T }] },
    { labels: lbl("__name__", "1bad-name"), samples: [{ value: 1, timestamp: T }] },
    { labels: lbl("__name__", "dup", "a", "1", "a", "2"), samples: [{ value: 1, timestamp: T }] },
    { labels: lbl("__name__", "empty_value", "a", ""), samples: [{ value: 1, timestamp: T }] },
    ...realisticSeries(40, 2, 4, T + 60_000),
  ];
}

/** A series larger than a 4000-byte record (v1 splits it, v2 refuses it), and one whose labels alone are. */
function oversize(): SeriesSpec[] {
  return [
    ...realisticSeries(10, 2, 6),
    {
      labels: lbl("__name__", "long_series", "job", "x"),
      samples: Array.from({ length: 600 }, (_, k) => ({ value: k * 1.25, timestamp: T + k * 1000 })),
    },
    {
      labels: lbl("__name__", "huge_labels", "v", "y".repeat(5000)),
      samples: [{ value: 1, timestamp: T }],
    },
    ...realisticSeries(10, 2, 6, T + 1),
  ];
}

function v2Metadata(): Uint8Array {
  const specs: SeriesSpec[] = [
    ...realisticSeries(60, 2, 8),
    {
      labels: lbl("__name__", "with_meta", "job", "m"),
      samples: [{ value: 2, timestamp: T }],
      metadata: { type: "GAUGE", help: "How much, in seconds.", unit: "seconds" },
    },
    {
      labels: lbl("__name__", "long_help", "job", "m"),
      samples: [{ value: 2, timestamp: T }],
      metadata: { type: "COUNTER", help: "h".repeat(300), unit: "" },
    },
    {
      labels: lbl("__name__", "hist_ex", "city", "Zürich"),
      histograms: [nativeHistogram(T)],
      exemplars: [{ labels: lbl("trace_id", "abc", "span_id", "def"), value: 1, timestamp: T }],
      metadata: { type: "HISTOGRAM", help: "h", unit: "s" },
    },
  ];
  return v2Message(specs, ["unused", "ünused"]);
}

function corpus(): Request[] {
  const meta = [
    { type: "COUNTER", metric_family_name: "http_requests_total", help: "Requests.", unit: "" },
    { type: "GAUGE", metric_family_name: "température", help: "Degrees.", unit: "celsius" },
    { type: "GAUGE", metric_family_name: "too_long", help: "x".repeat(300), unit: "" },
  ];
  const out: Request[] = [
    { name: "v1 realistic 2000", version: "v1", raw: v1Message(realisticSeries(500, 4)) },
    { name: "v1 mixed + metadata", version: "v1", raw: v1Message(mixed(), meta) },
    { name: "v1 oversize", version: "v1", raw: v1Message(oversize()) },
    { name: "v1 empty", version: "v1", raw: v1Message([]) },
    { name: "v2 realistic 2000", version: "v2", raw: v2Message(realisticSeries(500, 4)) },
    { name: "v2 mixed", version: "v2", raw: v2Message(mixed()) },
    { name: "v2 metadata + exemplars", version: "v2", raw: v2Metadata() },
    { name: "v2 oversize", version: "v2", raw: v2Message(oversize()) },
    {
      name: "v2 bad symbol ref",
      version: "v2",
      raw: encodeV2(
        ["", "__name__", "x"],
        [{ labels_refs: [1, 9], samples: [{ value: 1, timestamp: String(T) }] }],
      ),
    },
    { name: "v1 sent as v2", version: "v2", raw: v1Message(realisticSeries(3, 1)) },
    { name: "v2 sent as v1", version: "v1", raw: v2Message(realisticSeries(3, 1)) },
  ];
  for (const d of damagedCorpus(20261207, 160))
    out.push({ name: `damaged ${d.id}`, version: d.version, raw: d.raw });
  return out;
}

interface Setting {
  name: string;
  settings: Partial<IngestSettings>;
  map: string;
  tenant: string | undefined;
  only?: SlotRanges;
}

const SETTINGS: Setting[] = [
  { name: "defaults", settings: {}, map: "4 shards", tenant: undefined },
  { name: "1 shard, tenant", settings: {}, map: "1 shard", tenant: "acme" },
  { name: "7 shards, small records", settings: { maxRecordBytes: 4000 }, map: "7 shards", tenant: "t" },
  {
    name: "uneven, 16 KB records",
    settings: { maxRecordBytes: 16_384, maxMetadataLength: 100 },
    map: "uneven",
    tenant: "ü",
  },
  {
    name: "4 shards, only a slot range",
    settings: {},
    map: "4 shards",
    tenant: undefined,
    only: [[0x20000000, 0x9fffffff]],
  },
];

/** The outcome's digest input, and the records' ids (empty for an error). */
function outcome(ingestor: Ingestor, req: Request, s: Setting): { text: string; ids: string[] } {
  try {
    const out = ingestor.prepare(compress(req.raw), req.version, s.tenant, MAPS[s.map], s.only);
    const records = out.records.map((r, i) => [
      r.partitionKey.slice(0, r.partitionKey.lastIndexOf(":")),
      parsePartitionKey(r.partitionKey)?.id === recordId(r.data),
      r.explicitHashKey,
      sha(decompress(r.data, 64 << 20)),
      out.groups[i],
    ]);
    const ids = out.records.map((r) => parsePartitionKey(r.partitionKey)?.id ?? "");
    return { text: JSON.stringify({ records, written: out.written, rejected: out.rejected }), ids };
  } catch (err) {
    const e = err as { name?: string; code?: string; message?: string };
    return { text: JSON.stringify({ error: e.name, code: e.code, message: e.message }), ids: [] };
  }
}

/** The digests; `withIds`: also each outcome's ids (the codecs that encode alike). */
function digests(withIds: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  const requests = corpus();
  for (const s of SETTINGS) {
    const ingestor = new Ingestor(ingestSettings(s.settings));
    for (const req of requests) {
      const got = outcome(ingestor, req, s);
      out[`${s.name} | ${req.name}`] = sha(got.text).slice(0, 32);
      if (withIds) out[`ids | ${s.name} | ${req.name}`] = sha(got.ids.join(",")).slice(0, 32);
    }
  }
  return out;
}

describe("records held to golden digests", () => {
  afterAll(() => useSnappy("auto"));

  it.each(availableSnappyBackends())(
    "every request of the corpus gives the records (keys, bodies, order), counts and errors it gave (%s codec)",
    (codec) => {
      useSnappy(codec);
      const withIds = codec !== "js";
      const got = digests(withIds);
      if (process.env.GOLDEN_WRITE === "1" && codec === "wasm")
        writeFileSync(GOLDEN, `${JSON.stringify(got, null, 2)}\n`);
      const all = JSON.parse(readFileSync(GOLDEN, "utf8")) as Record<string, string>;
      const want = Object.fromEntries(
        Object.entries(all).filter(([k]) => withIds || !k.startsWith("ids | ")),
      );
      expect(Object.keys(got).length).toBeGreaterThan(withIds ? 1600 : 800);
      expect(got).toEqual(want);
    },
  );

  it("the slot of a shard map's first group is its first key", () => {
    // the uneven map is what the corpus is packed by: its groups start where the shards do
    expect(MAPS.uneven!.hashKeys[0]).toBe(slotHashKey(0));
  });
});
