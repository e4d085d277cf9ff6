import {
  nativeHistogram,
  realisticSeries,
  type SeriesSpec,
  snappy,
  v1Message,
  v2Message,
} from "../test/fixtures/remote-write";

/**
 * The request bodies every part of the benchmark posts or ingests, built once per run by
 * the protobufjs-based fixtures (independent of the hot path under test).
 */
export interface Payload {
  /** Short name used in the tables. */
  readonly name: string;
  readonly version: "v1" | "v2";
  /** Uncompressed protobuf. */
  readonly raw: Uint8Array;
  /** Snappy block, as Prometheus sends it. */
  readonly body: Uint8Array;
  readonly series: number;
  /** Float samples plus histogram samples. */
  readonly samples: number;
}

function make(name: string, version: "v1" | "v2", specs: SeriesSpec[]): Payload {
  const raw = version === "v1" ? v1Message(specs) : v2Message(specs);
  const samples = specs.reduce((n, s) => n + (s.samples?.length ?? 0) + (s.histograms?.length ?? 0), 0);
  return { name, version, raw, body: snappy(raw), series: specs.length, samples };
}

/** `series` series with `perSeries` native histogram samples each, 10 labels. */
export function histogramSeries(series: number, perSeries: number, t0 = 1_700_000_000_000): SeriesSpec[] {
  return realisticSeries(series, 0, 10, t0).map((s, i) => ({
    labels: s.labels.map(([n, v]) => [n, n === "__name__" ? `http_request_duration_seconds_${i % 20}` : v]),
    histograms: Array.from({ length: perSeries }, (_, k) => nativeHistogram(t0 + k * 15_000, 1 + (i % 7))),
  }));
}

/** 2000 samples over 500 series of 10 labels: Prometheus's default batch size. */
export const default2k = (t0?: number) =>
  make("v1 2000 samples / 500 series", "v1", realisticSeries(500, 4, 10, t0));

/** Prometheus 2.42's default batch: 500 samples (125 series of 4 samples). */
export const small500 = () => make("v1 500 samples / 125 series", "v1", realisticSeries(125, 4));

export function benchPayloads(): Payload[] {
  return [
    default2k(),
    make("v1 10000 samples / 2500 series", "v1", realisticSeries(2500, 4)),
    make("v1 histograms 2000 / 500 series", "v1", histogramSeries(500, 4)),
    make("v2 2000 samples / 500 series", "v2", realisticSeries(500, 4)),
  ];
}
