import { describe, expect, it } from "vitest";
import {
  availableSnappyBackends,
  compress,
  decompress,
  decompressInto,
  SnappyError,
  snappyBackend,
  uncompressBlock,
  useSnappy,
} from "../../../lib/codec/snappy";
import { WorkBuffer } from "../../../lib/codec/work-buffer";
import { Ingestor } from "../../../lib/ingest/ingest";
import { ingestV1, ingestV2 } from "../../../lib/ingest/pipeline";
import { RangeList } from "../../../lib/ingest/scan/range-list";
import { noteSymbolRun, SymbolCheck } from "../../../lib/ingest/scan/symbols";
import { DEFAULT_LIMITS, validUtf8 } from "../../../lib/ingest/scan/validate";
import { IngestScratch } from "../../../lib/ingest/scratch";
import { decodeRecord } from "../../../lib/stream/consumer";
import { chunkLimit } from "../../../lib/stream/records";
import { ShardMap } from "../../../lib/stream/shard-map";
import { prng } from "../../fixtures/damaged-corpus";
import {
  ingestSettings,
  nativeHistogram,
  realisticSeries,
  v1Message,
  v2Message,
} from "../../fixtures/remote-write";

/**
 * The hot path's shortcuts against the general paths they stand in for: each input is
 * given to both (or built in both shapes), and the outcomes must be the same.
 */
function v(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
/** A varint padded to `width` bytes (a longer, still valid, encoding of the same number). */
function padded(n: number, width: number): number[] {
  const out = v(n);
  out[out.length - 1]! |= 0x80;
  while (out.length < width - 1) out.push(0x80);
  out.push(0);
  return out;
}
const tag = (f: number, wt: number) => v(f * 8 + wt);
const len = (f: number, b: number[]) => [...tag(f, 2), ...v(b.length), ...b];
const str = (s: string) => [...Buffer.from(s)];
const dbl = (x: number) => [...new Uint8Array(new Float64Array([x]).buffer)];
const T = 1_700_000_000_000;

/** Outcome of one request: what was written and refused, and every record decoded. */
function outcome(ingestor: Ingestor, raw: number[] | Uint8Array, version: "v1" | "v2") {
  const out = ingestor.prepare(compress(Uint8Array.from(raw)), version, undefined);
  return {
    written: out.written,
    rejected: [...out.rejected.byReason].sort(),
    records: out.records.map((r) => {
      const rec = decodeRecord(r.data, r.partitionKey);
      return { bucket: rec.key.slot, series: rec.series, metadata: rec.metadata };
    }),
  };
}

describe("v1: labels and samples in their usual encoding against the general reader", () => {
  const ingestor = new Ingestor(ingestSettings({ streamShards: 4 }));
  // each label as name-then-value with one-byte lengths (the fast path), or in a shape only
  // the general reader takes: value first, a padded length, an unknown field inside
  const labelShapes: Record<string, (n: string, val: string) => number[]> = {
    usual: (n, val) => len(1, [...len(1, str(n)), ...len(2, str(val))]),
    valueFirst: (n, val) => len(1, [...len(2, str(val)), ...len(1, str(n))]),
    paddedLength: (n, val) => {
      const body = [...len(1, str(n)), ...len(2, str(val))];
      return [...tag(1, 2), ...padded(body.length, 2), ...body];
    },
    paddedNameLength: (n, val) =>
      len(1, [...tag(1, 2), ...padded(n.length, 2), ...str(n), ...len(2, str(val))]),
    unknownField: (n, val) => len(1, [...len(1, str(n)), ...len(2, str(val)), ...tag(9, 0), 1]),
  };
  const sampleShapes: Record<string, (x: number, t: number) => number[]> = {
    usual: (x, t) => len(2, [...tag(1, 1), ...dbl(x), ...tag(2, 0), ...v(t)]),
    timestampFirst: (x, t) => len(2, [...tag(2, 0), ...v(t), ...tag(1, 1), ...dbl(x)]),
    paddedTimestamp: (x, t) => len(2, [...tag(1, 1), ...dbl(x), ...tag(2, 0), ...padded(t, 9)]),
    noTimestamp: (x) => len(2, [...tag(1, 1), ...dbl(x)]),
  };
  const labelSets: [string, string][][] = [
    [
      ["__name__", "up"],
      ["job", "node"],
      ["zone", "eu-1a"],
    ],
    [
      ["__name__", "bad-metric"],
      ["job", "node"],
    ],
    [
      ["__name__", "m"],
      ["bad.name", "x"],
    ],
    [
      ["__name__", "m"],
      ["job", ""],
    ],
    [
      ["__name__", "m"],
      ["job", "a"],
      ["job", "b"],
    ],
    [
      ["job", "a"],
      ["__name__", "unsorted"],
    ],
    [
      ["__name__", "m"],
      ["city", "Zürich ✓"],
    ],
    [["job", "no name"]],
  ];

  for (const [shape, label] of Object.entries(labelShapes)) {
    for (const [sshape, sample] of Object.entries(sampleShapes)) {
      it(`labels ${shape}, samples ${sshape}: the same outcome as the usual encoding`, () => {
        const series = (l: (n: string, val: string) => number[], s: (x: number, t: number) => number[]) =>
          labelSets.flatMap((set, i) =>
            len(1, [
              ...set.flatMap(([n, val]) => l(n, val)),
              ...s(i + 0.5, T + i),
              ...s(i + 1.5, T + i + 15),
            ]),
          );
        // an absent timestamp reads as 0
        const usualSample =
          sshape === "noTimestamp" ? (x: number) => sampleShapes.usual!(x, 0) : sampleShapes.usual!;
        const usual = outcome(ingestor, series(labelShapes.usual!, usualSample), "v1");
        const other = outcome(ingestor, series(label, sample), "v1");
        expect(other.written).toEqual(usual.written);
        expect(other.rejected).toEqual(usual.rejected);
        expect(usual.rejected.length).toBeGreaterThan(0);
        // the same series in the same buckets with the same samples
        const norm = (o: typeof usual) =>
          o.records.flatMap((r) =>
            r.series.map((s) => ({ bucket: r.bucket, labels: s.labels, samples: s.samples })),
          );
        expect(norm(other)).toEqual(norm(usual));
      });
    }
  }

  it("refuses a sample whose usual-looking timestamp runs past its message, as the general reader does", () => {
    const bad = len(1, [
      ...len(1, [...len(1, str("__name__")), ...len(2, str("m"))]),
      ...[...tag(2, 2), 12, ...tag(1, 1), ...dbl(1), ...tag(2, 0), 0x80, 0x80],
    ]);
    expect(() => ingestor.prepare(compress(Uint8Array.from(bad)), "v1", undefined)).toThrow(/malformed/);
  });
});

describe("v1: record bodies assembled in the work room against the general writer", () => {
  it("gives byte-identical records with and without the work buffer", () => {
    const specs = [
      ...realisticSeries(300, 4, 10),
      {
        labels: [
          ["job", "unsorted"],
          ["__name__", "sorted_by_the_gateway"],
        ] as [string, string][],
        samples: [{ value: 1, timestamp: T }],
      },
      { labels: [["__name__", "hist"]] as [string, string][], histograms: [nativeHistogram(T)] },
    ];
    const raw = Uint8Array.from(v1Message(specs, [{ type: "COUNTER", metric_family_name: "up", help: "h" }]));
    for (const maxRecordBytes of [1 << 20, 4000]) {
      const limit = chunkLimit(maxRecordBytes);
      const opts = {
        limits: DEFAULT_LIMITS,
        map: ShardMap.uniform(3),
        maxRecordBytes,
        maxMetadataLength: 16 * 1024,
        tenant: "t",
      };
      const work = new Uint8Array(raw.length + limit);
      work.set(raw);
      const plain = ingestV1(raw, opts, new IngestScratch());
      const inRoom = ingestV1(work.subarray(0, raw.length), opts, new IngestScratch(), work);
      // a work buffer that is not the request's own is not used
      const foreign = ingestV1(raw, opts, new IngestScratch(), new Uint8Array(raw.length + limit));
      const bytes = (o: typeof plain) =>
        o.records.map((r) => [Buffer.from(r.data).toString("hex"), r.partitionKey]);
      expect(bytes(inRoom)).toEqual(bytes(plain));
      expect(bytes(foreign)).toEqual(bytes(plain));
      expect(plain.records.length).toBeGreaterThan(maxRecordBytes < 10000 ? 3 : 2);
    }
  });
});

describe("v2: record bodies assembled in the work room against the general writer", () => {
  it("gives byte-identical records with and without the work buffer", () => {
    const specs = [
      ...realisticSeries(300, 4, 10),
      {
        labels: [
          ["__name__", "long_value"],
          ["v", "x".repeat(300)],
        ] as [string, string][],
        samples: [{ value: 1, timestamp: T }],
      },
      {
        labels: [
          ["__name__", "hist"],
          ["city", "Zürich"],
        ] as [string, string][],
        histograms: [nativeHistogram(T)],
        exemplars: [{ labels: [["trace_id", "abc"]] as [string, string][], value: 1, timestamp: T }],
        metadata: { type: "GAUGE", help: "h", unit: "s" },
      },
    ];
    const raw = Uint8Array.from(v2Message(specs, ["unused"]));
    for (const maxRecordBytes of [1 << 20, 4000]) {
      const limit = chunkLimit(maxRecordBytes);
      const opts = {
        limits: DEFAULT_LIMITS,
        map: ShardMap.uniform(3),
        maxRecordBytes,
        maxMetadataLength: 16 * 1024,
        tenant: undefined,
      };
      const work = new Uint8Array(raw.length + limit);
      work.set(raw);
      const plain = ingestV2(raw, opts, new IngestScratch());
      const inRoom = ingestV2(work.subarray(0, raw.length), opts, new IngestScratch(), work);
      // a room too small for a body: that body is assembled by the general writer
      const small = new Uint8Array(raw.length + 3000);
      small.set(raw);
      const tight = ingestV2(small.subarray(0, raw.length), opts, new IngestScratch(), small);
      const bytes = (o: typeof plain) =>
        o.records.map((r) => [Buffer.from(r.data).toString("hex"), r.partitionKey]);
      expect(bytes(inRoom)).toEqual(bytes(plain));
      expect(bytes(tight)).toEqual(bytes(plain));
      expect(plain.written.series).toBe(302);
    }
  });
});

describe("v2: the symbol UTF-8 check over runs of symbols against the per-symbol check", () => {
  /** Frames symbols as a v2 Request's field 4 entries; `wide` ones get a two-byte length. */
  function frame(symbols: number[][], wide: (i: number) => boolean = () => false) {
    const bytes: number[] = [];
    const ranges = new RangeList(8);
    const runs = new RangeList(4);
    symbols.forEach((s, i) => {
      const entryStart = bytes.length;
      bytes.push(...tag(4, 2), ...(wide(i) ? padded(s.length, 2) : v(s.length)));
      const start = bytes.length;
      bytes.push(...s);
      ranges.push(start, bytes.length);
      noteSymbolRun(runs, entryStart, start, bytes.length);
    });
    return { buf: Uint8Array.from(bytes), ranges, runs };
  }
  const slow = (buf: Uint8Array, ranges: RangeList) =>
    Array.from({ length: ranges.length }, (_, i) => validUtf8(buf, ranges.start(i), ranges.end(i)));
  const fast = (buf: Uint8Array, ranges: RangeList, runs: RangeList) => {
    const check = new SymbolCheck(buf, ranges, runs);
    return Array.from({ length: ranges.length }, (_, i) => check.ok(i));
  };

  const cases: Record<string, number[][]> = {
    ascii: [[], str("__name__"), str("up"), str("job")],
    "multi-byte sequences": [[], str("Zürich"), str("日本語"), str("😀"), str("✓")],
    // "ü" is c3 bc: cut between two symbols, each half is invalid, though the bytes
    // c3 bc would be valid if nothing stood between them
    "a sequence cut at a symbol boundary": [[], [...str("Zur"), 0xc3], [0xbc, ...str("rich")], str("ok")],
    "a four-byte sequence cut after its lead byte": [[], [0xf0], [0x9f, 0x98, 0x80], str("x")],
    "invalid bytes": [[], [0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], str("fine"), [0x80]],
    "a long symbol (two-byte length)": [
      [],
      str("a".repeat(200)),
      [...str("b".repeat(150)), 0xe2, 0x82],
      str("c"),
    ],
  };
  for (const [name, symbols] of Object.entries(cases)) {
    it(`${name}: the same verdict per symbol`, () => {
      for (const wide of [() => false, (i: number) => i % 2 === 1, () => true]) {
        const { buf, ranges, runs } = frame(symbols, wide);
        expect(fast(buf, ranges, runs)).toEqual(slow(buf, ranges));
      }
    });
  }

  it("agrees on random symbol tables (fixed seed), valid and damaged", () => {
    const r = prng(77);
    const pieces = [
      str("a"),
      str("ü"),
      str("日"),
      str("😀"),
      [0xc3],
      [0xbc],
      [0xff],
      [0xe2, 0x82],
      [0x80],
      str("z "),
    ];
    let invalid = 0;
    for (let t = 0; t < 400; t++) {
      const symbols = Array.from({ length: 1 + r.int(12) }, () =>
        Array.from({ length: r.int(6) }, () => r.pick(pieces)).flat(),
      );
      const { buf, ranges, runs } = frame(symbols, () => r.next() < 0.15);
      const want = slow(buf, ranges);
      invalid += want.filter((ok) => !ok).length;
      expect(fast(buf, ranges, runs)).toEqual(want);
    }
    expect(invalid).toBeGreaterThan(100);
  });

  it("refuses a reference out of range", () => {
    const { buf, ranges, runs } = frame([[], str("a")]);
    const check = new SymbolCheck(buf, ranges, runs);
    expect(check.ok(2)).toBe(false);
    expect(check.ok(1)).toBe(true);
  });

  it("end to end: a series on a symbol cut mid-sequence is refused, the joined text is taken", () => {
    const ingestor = new Ingestor(ingestSettings());
    const request = (syms: number[][], valueRef: number) => [
      ...syms.flatMap((s) => len(4, s)),
      ...len(5, [...len(1, [1, valueRef]), ...len(2, [...tag(1, 1), ...dbl(1), ...tag(2, 0), ...v(T)])]),
    ];
    const cut = outcome(ingestor, request([[], str("__name__"), [...str("m"), 0xc3], [0xbc]], 2), "v2");
    expect(cut.rejected).toEqual([["symbol-ref-invalid", 1]]);
    const whole = outcome(ingestor, request([[], str("__name__"), [...str("m"), 0xc3, 0xbc]], 2), "v2");
    // "mü": a UTF-8 metric name, taken under the default name rules
    expect(whole.rejected).toEqual([]);
  });
});

describe("v2: series written with labels first against the general writer", () => {
  const ingestor = new Ingestor(ingestSettings({ streamShards: 2 }));
  const symbols = ["", "__name__", "up", "job", "node", "zone", "a"].map(str);
  const sample = (i: number) => len(2, [...tag(1, 1), ...dbl(i), ...tag(2, 0), ...v(T + i)]);
  const refs = len(1, [1, 2, 3, 4, 5, 6]);
  const request = (series: number[]) => [...symbols.flatMap((s) => len(4, s)), ...len(5, series)];
  const shapes: Record<string, number[]> = {
    "labels after the samples": [...sample(1), ...sample(2), ...refs],
    "labels split around the samples": [
      ...len(1, [1, 2, 3, 4]),
      ...sample(1),
      ...sample(2),
      ...len(1, [5, 6]),
    ],
    "refs one per field": [
      ...[1, 2, 3, 4, 5, 6].flatMap((x) => [...tag(1, 0), x]),
      ...sample(1),
      ...sample(2),
    ],
    "padded refs": [
      ...tag(1, 2),
      12,
      ...[1, 2, 3, 4, 5, 6].flatMap((x) => padded(x, 2)),
      ...sample(1),
      ...sample(2),
    ],
    "created_timestamp between": [...refs, ...sample(1), ...tag(6, 0), ...v(T), ...sample(2)],
  };
  const usual = outcome(ingestor, request([...refs, ...sample(1), ...sample(2)]), "v2");
  it("takes the usual shape", () => {
    expect(usual.written).toMatchObject({ series: 1, samples: 2 });
  });
  for (const [name, series] of Object.entries(shapes)) {
    it(`${name}: the same series, labels and samples`, () => {
      const other = outcome(ingestor, request(series), "v2");
      expect(other.written).toEqual(usual.written);
      expect(other.records.map((r) => [r.bucket, r.series.map((s) => [s.labels, s.samples])])).toEqual(
        usual.records.map((r) => [r.bucket, r.series.map((s) => [s.labels, s.samples])]),
      );
    });
  }
});

describe("decompressInto: decoding into a buffer the caller owns", () => {
  const r = prng(5);
  const inputs = [
    new Uint8Array(0),
    Uint8Array.from({ length: 3000 }, () => r.int(4)),
    Uint8Array.from({ length: 70_000 }, (_, i) => (i * 31) & 0xff),
    Uint8Array.from(v1Message(realisticSeries(50, 2))),
  ];
  for (const backend of availableSnappyBackends()) {
    it(`${backend}: the same bytes as decompress, with the room asked for after them`, () => {
      const before = snappyBackend();
      useSnappy(backend);
      try {
        for (const x of inputs) {
          const body = compress(x);
          const into = new WorkBuffer();
          const decoded = decompressInto(body, 1 << 20, into, 5000);
          const work = into.bytes;
          expect(Buffer.from(decoded).equals(Buffer.from(decompress(body, 1 << 20)))).toBe(true);
          expect(work.buffer).toBe(decoded.buffer);
          expect(work.byteOffset).toBe(decoded.byteOffset);
          expect(work.length).toBeGreaterThanOrEqual(decoded.length + 5000);
        }
        // the next call reuses the buffer: a view of the previous result sees new bytes
        const own = new WorkBuffer();
        const a = decompressInto(compress(Uint8Array.from([1, 2, 3, 4])), 100, own, 0);
        decompressInto(compress(Uint8Array.from([9, 9, 9, 9])), 100, own, 0);
        expect([...a]).toEqual([9, 9, 9, 9]);
        // refusals: corrupt input, and a declared length over the limit before any decoding
        const corrupt = Uint8Array.from([0x05, 0xff, 0xff, 0xff]);
        expect(() => decompressInto(corrupt, 100, own, 0)).toThrow(SnappyError);
        try {
          decompressInto(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]), 1 << 20, own, 0);
          expect.unreachable();
        } catch (err) {
          expect((err as SnappyError).code).toBe("decoded-too-large");
        }
      } finally {
        useSnappy(before);
      }
    });
  }

  it("the JavaScript decoder writes every byte of a reused output, and refuses what it refuses without one", () => {
    const x = Uint8Array.from({ length: 5000 }, (_, i) => (i % 7) * 3);
    const c = compress(x);
    const dirty = new Uint8Array(8000).fill(0xee);
    const got = uncompressBlock(c, 1 << 20, () => dirty);
    expect(Buffer.from(got).equals(Buffer.from(x))).toBe(true);
    expect(got.buffer).toBe(dirty.buffer);
    for (let i = 0; i < 300; i++) {
      const y = c.slice(0, 1 + r.int(c.length));
      if (r.next() < 0.5) y[r.int(y.length)]! ^= 1 << r.int(8);
      const fresh = (() => {
        try {
          return Buffer.from(uncompressBlock(y, 1 << 20)).toString("hex");
        } catch {
          return "refused";
        }
      })();
      const reused = (() => {
        try {
          return Buffer.from(uncompressBlock(y, 1 << 20, (n) => new Uint8Array(n + 100).fill(0xee))).toString(
            "hex",
          );
        } catch {
          return "refused";
        }
      })();
      expect(reused).toBe(fresh);
    }
  });
});
