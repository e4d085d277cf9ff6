import { describe, expect, it } from "vitest";
import { WireError } from "../../../lib/codec/wire";
import { Ingestor } from "../../../lib/ingest/ingest";
import { checkHistogram } from "../../../lib/ingest/scan/histogram";
import { checkMessage, SCHEMA } from "../../../lib/ingest/scan/schema";
import { schemas } from "../../../lib/stream/proto";
import { prng } from "../../fixtures/damaged-corpus";
import { basic, float, type H, HISTOGRAM_CASES, HISTOGRAM_T } from "../../fixtures/histograms";
import { ingestSettings, type SeriesSpec, snappy, v1Message, v2Message } from "../../fixtures/remote-write";

/**
 * Native histograms judged as Prometheus's Histogram.Validate() and FloatHistogram.Validate()
 * judge them (model/histogram), in both protocol versions: each invalid one refuses its series
 * with a stable reason, and the rest of the request is written.
 */
const T = HISTOGRAM_T;
const cases = HISTOGRAM_CASES.map(([name, h, reason]) => [name, h, reason] as const);

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
