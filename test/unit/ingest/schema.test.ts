import { describe, expect, it } from "vitest";
import { compress } from "../../../lib/codec/snappy";
import { UnreadableBodyError } from "../../../lib/ingest/errors";
import { Ingestor } from "../../../lib/ingest/ingest";
import { readRecord } from "../../../lib/stream/consumer";
import { ingestSettings } from "../../fixtures/remote-write";

/**
 * The wire structure of what ingest copies verbatim, field by field: each edge case is
 * taken (and its records decode), refuses the series, or refuses the request as malformed.
 * Where Prometheus's decoder and protobufjs disagree, the stricter one wins.
 */
const T = 1_700_000_000_000;
function v(n: bigint | number): number[] {
  let x = BigInt(n);
  const out: number[] = [];
  while (x >= 128n) {
    out.push(Number(x & 127n) | 128);
    x >>= 7n;
  }
  out.push(Number(x));
  return out;
}
const tag = (f: number, wt: number) => v(f * 8 + wt);
const len = (f: number, b: number[]) => [...tag(f, 2), ...v(b.length), ...b];
const str = (s: string) => [...Buffer.from(s)];
const dbl = (x: number) => [...new Uint8Array(new Float64Array([x]).buffer)];
const zz = (n: number) => (n << 1) ^ (n >> 31);

// ---- v1 (prometheus.WriteRequest)
const label = (n: string, value: number[]) => len(1, [...len(1, str(n)), ...len(2, value)]);
const labels = [...label("__name__", str("probe")), ...label("job", str("x"))];
const sample = (extra: number[] = []) => len(2, [...tag(1, 1), ...dbl(1), ...tag(2, 0), ...v(T), ...extra]);
const series = (...fields: number[][]) => len(1, [...labels, ...fields.flat()]);
const span = len(11, [...tag(1, 0), zz(0), ...tag(2, 0), 2]);
/** A histogram with a count of 3 and one span of 2 buckets: valid once its deltas (1, 1) or counts come. */
const hist = (...fields: number[][]) =>
  len(4, [...tag(1, 0), 3, ...tag(4, 0), zz(0), ...span, ...tag(15, 0), ...v(T), ...fields.flat()]);
const exemplar = (...fields: number[][]) => len(3, fields.flat());
const metadata = (...fields: number[][]) => len(3, fields.flat());
const TEN_BYTES_MINUS_ONE = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];

type Outcome = "taken" | "malformed" | `rejected:${string}`;
const v1Cases: [string, number[], Outcome][] = [
  [
    "a well-formed series with a histogram and an exemplar",
    series(sample(), hist(len(12, [zz(1), zz(1)])), exemplar(label("trace_id", str("a")), tag(2, 1), dbl(1))),
    "taken",
  ],
  ["deltas unpacked (one varint per field)", series(hist(tag(12, 0), [zz(1)], tag(12, 0), [zz(1)])), "taken"],
  [
    "counts unpacked (one double per field)",
    series(hist(tag(2, 1), dbl(3), tag(13, 1), dbl(1), tag(13, 1), dbl(2))),
    "taken",
  ],
  ["an unknown varint field in a histogram", series(hist(len(12, [zz(1), zz(1)]), tag(99, 0), [5])), "taken"],
  ["an unknown fixed32 field in a sample", series(sample([...tag(7, 5), 1, 2, 3, 4])), "taken"],
  [
    "reset_hint as a 10-byte (negative) varint",
    series(hist(len(12, [zz(1), zz(1)]), tag(14, 0), TEN_BYTES_MINUS_ONE)),
    "taken",
  ],
  ["sample value with wire type 0", series(len(2, [...tag(1, 0), 1, ...tag(2, 0), ...v(T)])), "malformed"],
  [
    "packed deltas whose last varint runs past the packed length",
    series(hist([...tag(12, 2), 2, zz(1), 0x82], [0x00])),
    "malformed",
  ],
  ["packed doubles of 12 bytes", series(hist(len(13, [...dbl(1), 0, 0, 0, 0]))), "malformed"],
  ["a span offset with wire type 2", series(len(4, [...tag(1, 0), 2, ...len(11, len(1, [1]))])), "malformed"],
  ["a span cut short", series(len(4, [...tag(1, 0), 2, ...len(11, [...tag(1, 0), 0x80])])), "malformed"],
  ["wire type 6 in a histogram", series(hist(tag(99, 6))), "malformed"],
  ["an unknown group in a series", series(sample(), tag(9, 3), tag(1, 0), [1], tag(9, 4)), "malformed"],
  ["a lone end-group in a series", series(sample(), tag(9, 4)), "malformed"],
  ["field number 0 in a sample", series(sample([...tag(0, 0), 1])), "malformed"],
  [
    "an 11-byte varint",
    series(len(2, [...tag(1, 1), ...dbl(1), ...tag(2, 0), ...Array(10).fill(0x80), 0])),
    "malformed",
  ],
  [
    "a 10-byte varint over 64 bits",
    series(len(2, [...tag(1, 1), ...dbl(1), ...tag(2, 0), ...Array(9).fill(0xff), 0x7f])),
    "malformed",
  ],
  [
    "reset_hint as a 6-byte varint",
    series(hist(tag(14, 0), [0x80, 0x80, 0x80, 0x80, 0x80, 0x01])),
    "malformed",
  ],
  ["a schema (sint32) with wire type 1", series(hist(tag(4, 1), dbl(0))), "malformed"],
  ["an exemplar label with wire type 0", series(sample(), exemplar(tag(1, 0), [5])), "malformed"],
  ["an exemplar value with wire type 0", series(sample(), exemplar(tag(2, 0), [5])), "malformed"],
  [
    "an exemplar label that is not UTF-8",
    series(sample(), exemplar(label("trace_id", [0xc3]))),
    "rejected:label-value-invalid-utf8",
  ],
  [
    "metadata help that is not UTF-8",
    [...series(sample()), ...metadata(tag(1, 0), [1], len(2, str("probe")), len(4, [0xe2, 0x82]))],
    "malformed",
  ],
  [
    "metadata type with wire type 2",
    [...series(sample()), ...metadata(len(1, [1]), len(2, str("probe")))],
    "malformed",
  ],
  [
    "a length over 2^32 whose low bits fit",
    len(1, [...labels, ...tag(2, 2), ...v(2n ** 32n + 19n), ...tag(1, 1), ...dbl(1), ...tag(2, 0), ...v(T)]),
    "malformed",
  ],
  ["a tag over 32 bits", len(1, [...labels, ...v((2n ** 32n + 2n) * 8n + 2n), 0]), "malformed"],
];

// ---- v2 (io.prometheus.write.v2.Request): symbols "", __name__, probe, job, x
const symbols = ["", "__name__", "probe", "job", "x"].flatMap((s) => len(4, str(s)));
const v2Series = (...fields: number[][]) => [
  ...symbols,
  ...len(5, [...len(1, [1, 2, 3, 4]), ...fields.flat()]),
];
const v2Sample = len(2, [...tag(1, 1), ...dbl(1), ...tag(2, 0), ...v(T)]);
const v2Cases: [string, number[], Outcome][] = [
  ["a well-formed series", v2Series(v2Sample), "taken"],
  [
    "labels_refs unpacked",
    [...symbols, ...len(5, [...[1, 2, 3, 4].flatMap((r) => [...tag(1, 0), r]), ...v2Sample])],
    "taken",
  ],
  ["a histogram with start_timestamp", v2Series(len(3, [...tag(1, 0), 0, ...tag(17, 0), ...v(T)])), "taken"],
  ["created_timestamp (field 6) as a varint", v2Series(v2Sample, tag(6, 0), v(T)), "taken"],
  ["a histogram start_timestamp with wire type 1", v2Series(len(3, [...tag(17, 1), ...dbl(0)])), "malformed"],
  ["created_timestamp with wire type 2", v2Series(v2Sample, len(6, [1])), "malformed"],
  [
    "an exemplar value with wire type 0",
    v2Series(v2Sample, len(4, [...len(1, [3, 4]), ...tag(2, 0), 1])),
    "malformed",
  ],
  ["metadata type with wire type 2", v2Series(v2Sample, len(5, [...len(1, [1])])), "malformed"],
  [
    "metadata help_ref over 32 bits",
    v2Series(v2Sample, len(5, [...tag(3, 0), ...v(2n ** 33n)])),
    "malformed",
  ],
  ["packed exemplar refs cut short", v2Series(v2Sample, len(4, [...tag(1, 2), 2, 3, 0x84])), "malformed"],
];

const ingestor = new Ingestor(ingestSettings());

function outcome(bytes: number[], version: "v1" | "v2"): Outcome {
  try {
    const out = ingestor.prepare(compress(Uint8Array.from(bytes)), version, undefined);
    for (const rec of out.records) {
      const read = readRecord(rec.data, rec.partitionKey);
      if (!read.ok) throw new Error(`a written record does not decode: ${read.error.reason}`);
    }
    if (out.rejected.total > 0) return `rejected:${[...out.rejected.byReason.keys()].join(",")}`;
    expect(out.records.length).toBeGreaterThan(0);
    return "taken";
  } catch (err) {
    if (err instanceof UnreadableBodyError && err.code === "protobuf-malformed") return "malformed";
    throw err;
  }
}

describe("wire structure of copied messages", () => {
  it.each(v1Cases)("v1: %s → %s", (_name, bytes, want) => {
    expect(outcome(bytes, "v1")).toBe(want);
  });
  it.each(v2Cases)("v2: %s → %s", (_name, bytes, want) => {
    expect(outcome(bytes, "v2")).toBe(want);
  });
});
