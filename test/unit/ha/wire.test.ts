import { describe, expect, it } from "vitest";
import { HaDedup } from "../../../lib/ha/dedup";
import type { ReplicaTracker } from "../../../lib/ha/tracker";
import { HaRequestWire } from "../../../lib/ha/wire";
import { Ingestor } from "../../../lib/ingest/ingest";
import { schemas, TO_OBJECT } from "../../../lib/stream/proto";
import { countRequest } from "../../../lib/stream/request-counts";
import {
  encodeV2,
  ingestSettings,
  type Labels,
  nativeHistogram,
  type SeriesSpec,
  snappy,
  v1Message,
  v2Message,
  v2Symbols,
} from "../../fixtures/remote-write";

/**
 * The passes HA deduplication makes over a decoded request before the scan: the first
 * series' cluster and replica, the replica label taken out of every series (checked by
 * decoding the result with protobufjs and the committed .proto files), and the counts of a
 * request not written. Malformed requests answer exactly what they answer without it.
 */
const wire = new HaRequestWire("cluster", "__replica__");

function haSeries(replica: string, n = 4): SeriesSpec[] {
  return Array.from({ length: n }, (_, i) => ({
    labels: [
      ["__name__", `up_${i}`],
      ["__replica__", replica],
      ["cluster", "eu-1"],
      ["job", "node"],
    ] as Labels,
    samples: [{ value: i, timestamp: 1_700_000_000_000 + i }],
    exemplars: i === 1 ? [{ labels: [["trace_id", "abc"]], value: 1, timestamp: 5 }] : [],
    histograms: i === 2 ? [nativeHistogram(1_700_000_000_000)] : [],
  }));
}

const without = (series: SeriesSpec[]) =>
  series.map((s) => ({ ...s, labels: s.labels.filter(([n]) => n !== "__replica__") }));

function decodeV1(bytes: Uint8Array) {
  return schemas().v1.toObject(schemas().v1.decode(bytes), TO_OBJECT);
}

/** A v2 request decoded, each series' labels spelled out from the symbols. */
function decodeV2(bytes: Uint8Array) {
  const msg = schemas().v2.toObject(schemas().v2.decode(bytes), TO_OBJECT) as {
    symbols: string[];
    timeseries: { labels_refs?: number[] }[];
  };
  return msg.timeseries.map((ts) => {
    const refs = ts.labels_refs ?? [];
    const labels: [string, string][] = [];
    for (let i = 0; i < refs.length; i += 2)
      labels.push([msg.symbols[refs[i]!]!, msg.symbols[refs[i + 1]!]!]);
    const { labels_refs: _, ...rest } = ts;
    return { labels, rest };
  });
}

describe("the first series' cluster and replica", () => {
  it.each(["v1", "v2"] as const)("%s: read from the first series, by the configured names", (version) => {
    const body = version === "v1" ? v1Message(haSeries("r1")) : v2Message(haSeries("r1"));
    expect(wire.labels(body, version)).toEqual({ cluster: "eu-1", replica: "r1" });
    const other = new HaRequestWire("job", "__name__");
    expect(other.labels(body, version)).toEqual({ cluster: "node", replica: "up_0" });
  });

  it.each(["v1", "v2"] as const)("%s: none unless the first series has both labels", (version) => {
    const encode = (s: SeriesSpec[]) => (version === "v1" ? v1Message(s) : v2Message(s));
    const only = (name: string) => [
      {
        labels: [
          ["__name__", "up"],
          [name, "x"],
        ] as Labels,
        samples: [{ value: 1, timestamp: 1 }],
      },
      ...haSeries("r1"),
    ];
    expect(wire.labels(encode(only("cluster")), version)).toBeUndefined();
    expect(wire.labels(encode(only("__replica__")), version)).toBeUndefined();
    expect(wire.labels(encode([]), version)).toBeUndefined();
    // an empty value is no label
    const empty = [
      {
        labels: [
          ["__name__", "up"],
          ["__replica__", ""],
          ["cluster", "c"],
        ] as Labels,
      },
    ];
    expect(wire.labels(encode(empty), version)).toBeUndefined();
  });
});

describe("taking the replica label out", () => {
  it("v1: every series decodes as it was sent, without the replica label", () => {
    const metadata = [{ type: "COUNTER", metric_family_name: "up", help: "h", unit: "" }];
    const sent = v1Message(haSeries("r1", 20), metadata);
    const buf = new Uint8Array(sent);
    const n = wire.strip(buf, "v1");
    expect(n).toBeLessThan(sent.length);
    expect(decodeV1(buf.subarray(0, n))).toEqual(decodeV1(v1Message(without(haSeries("r1", 20)), metadata)));
  });

  it("v1: both replicas' requests become the same bytes", () => {
    const a = v1Message(haSeries("replica-a"));
    const b = v1Message(haSeries("b"));
    const na = wire.strip(a, "v1");
    const nb = wire.strip(b, "v1");
    expect(Buffer.from(a.subarray(0, na)).equals(Buffer.from(b.subarray(0, nb)))).toBe(true);
  });

  it("v1: series without the label, and a request without any, are left as they are", () => {
    const plain = v1Message(without(haSeries("r1")));
    const copy = new Uint8Array(plain);
    expect(wire.strip(copy, "v1")).toBe(plain.length);
    expect(Buffer.from(copy).equals(Buffer.from(plain))).toBe(true);
  });

  it("v2: every series keeps its samples, histograms, exemplars and metadata, and loses the replica's pair", () => {
    const series = haSeries("r1", 20).map((s, i) =>
      i === 3 ? { ...s, metadata: { type: "METRIC_TYPE_GAUGE", help: "help", unit: "s" } } : s,
    );
    const sent = v2Message(series);
    const buf = new Uint8Array(sent);
    const n = wire.strip(buf, "v2");
    expect(n).toBeLessThan(sent.length);
    const got = decodeV2(buf.subarray(0, n));
    const want = decodeV2(sent).map((s) => ({ ...s, labels: s.labels.filter(([k]) => k !== "__replica__") }));
    expect(got).toEqual(want);
    expect(got.every((s) => s.labels.length === 3)).toBe(true);
  });

  it("v2: unpacked label references, and several packed fields, are taken as protobuf reads them", () => {
    const { symbols, ref } = v2Symbols();
    const labels: Labels = [
      ["__name__", "up"],
      ["__replica__", "r1"],
      ["cluster", "eu"],
    ];
    const refs = labels.flatMap(([k, v]) => [ref(k), ref(v)]);
    const series = schemas().v2.lookupType("io.prometheus.write.v2.TimeSeries") as never as {
      encode(m: unknown): { finish(): Uint8Array };
      fromObject(o: unknown): unknown;
    };
    const tail = series.encode(series.fromObject({ samples: [{ value: 1, timestamp: "7" }] })).finish();
    // labels_refs as unpacked varints (tag 0x08), then as two packed fields (tag 0x0a)
    const unpacked = Uint8Array.from([...refs.flatMap((r) => [0x08, r]), ...tail]);
    const split = Uint8Array.from([0x0a, 2, refs[0]!, refs[1]!, 0x0a, 4, ...refs.slice(2), ...tail]);
    for (const ts of [unpacked, split]) {
      const body = Uint8Array.from([...encodeV2(symbols, []), 0x2a, ts.length, ...ts]);
      const n = wire.strip(body, "v2");
      expect(decodeV2(body.subarray(0, n))).toEqual([
        {
          labels: [
            ["__name__", "up"],
            ["cluster", "eu"],
          ],
          rest: { samples: [{ value: 1, timestamp: "7" }], histograms: [], exemplars: [] },
        },
      ]);
    }
  });
});

describe("counting a request that is not written", () => {
  it.each(["v1", "v2"] as const)("%s: series, samples, histograms and exemplars", (version) => {
    const body = version === "v1" ? v1Message(haSeries("r1")) : v2Message(haSeries("r1"));
    expect(countRequest(body, version)).toEqual({ series: 4, samples: 4, histograms: 1, exemplars: 1 });
  });
});

describe("malformed requests answer what they answer without HA deduplication", () => {
  const ingestor = new Ingestor(ingestSettings());
  const dedup = new HaDedup({ clusterLabel: "cluster", replicaLabel: "__replica__" }, {} as ReplicaTracker);
  const outcome = (body: Uint8Array, version: "v1" | "v2", strip: boolean) => {
    try {
      const out = ingestor.prepare(
        body,
        version,
        undefined,
        undefined,
        undefined,
        strip ? dedup.strip : undefined,
      );
      return { written: out.written, rejected: [...out.rejected.byReason] };
    } catch (err) {
      return { error: `${(err as Error & { code?: string }).code}: ${(err as Error).message}` };
    }
  };

  it.each(["v1", "v2"] as const)("%s: cut at every byte, and bytes flipped", (version) => {
    const raw = version === "v1" ? v1Message(haSeries("r1", 3)) : v2Message(haSeries("r1", 3));
    const damaged: Uint8Array[] = [];
    for (let cut = 1; cut < raw.length; cut++) damaged.push(raw.subarray(0, cut));
    for (let at = 0; at < raw.length; at += 3) {
      const flipped = new Uint8Array(raw);
      flipped[at] = flipped[at]! ^ 0xff;
      damaged.push(flipped);
    }
    let errors = 0;
    for (const bytes of damaged) {
      const plain = outcome(snappy(bytes), version, false);
      const stripped = outcome(snappy(bytes), version, true);
      if ("error" in plain) {
        errors++;
        expect(stripped).toEqual(plain);
      } else {
        // what passes either way passes both ways (the replica label alone differs)
        expect("error" in stripped).toBe(false);
      }
    }
    expect(errors).toBeGreaterThan(damaged.length / 4);
  });
});
