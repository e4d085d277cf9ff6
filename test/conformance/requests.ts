import type { H } from "../fixtures/histograms";
import { encodeV2, snappy, v1Message, v2Symbols } from "../fixtures/remote-write";

/**
 * Requests as the Prometheus Remote-Write compliance suite (prometheus/compliance,
 * `remotewrite/receiver`) builds them, encoded here by protobufjs with the committed .proto:
 * one TimeSeries per sample or histogram, labels in the order given (the suite's come from Go
 * maps, so unsorted as often as not), exemplars attached to the series with exactly their
 * labels, metadata to the series of its metric name, whatever is left over as series of its
 * own. Start timestamps go where the suite puts them: the old TimeSeries field 6
 * (`created_timestamp`), not rc.4's Sample and Histogram fields.
 */
export type LabelSet = Readonly<Record<string, string>>;

export interface SampleIn {
  readonly labels: LabelSet;
  readonly value: number;
  /** Milliseconds from the request's time. */
  readonly offsetMs?: number;
  /** The start ("created") timestamp, milliseconds from the request's time. */
  readonly createdMs?: number;
}

export interface HistogramIn {
  readonly labels: LabelSet;
  readonly histogram: H;
  readonly offsetMs?: number;
  readonly createdMs?: number;
}

export interface ExemplarIn {
  readonly labels: LabelSet;
  readonly exemplarLabels: LabelSet;
  readonly value: number;
  readonly offsetMs?: number;
}

export interface MetadataIn {
  readonly labels: LabelSet;
  readonly type: string;
  readonly help: string;
  readonly unit: string;
}

export interface RequestIn {
  readonly samples?: readonly SampleIn[];
  readonly histograms?: readonly HistogramIn[];
  readonly exemplars?: readonly ExemplarIn[];
  readonly metadata?: readonly MetadataIn[];
  /** Also attach metadata whose metric name is empty (the suite's `UnsafeRequest`). */
  readonly unsafe?: boolean;
}

export interface HttpRequest {
  readonly headers: Record<string, string>;
  readonly body: Uint8Array;
}

export const V2_CONTENT_TYPE = "application/x-protobuf;proto=io.prometheus.write.v2.Request";

const sameLabels = (a: LabelSet, b: LabelSet) => {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => b[k] === a[k]);
};
const seriesKey = (l: LabelSet) => JSON.stringify(Object.entries(l).sort(([x], [y]) => (x < y ? -1 : 1)));

/** A Remote-Write 2.0 request built as the suite's generator builds it. */
export function v2Request(r: RequestIn, now = Date.now()): HttpRequest {
  const { symbols, ref, refs: labelRefs } = v2Symbols();
  const refs = (l: LabelSet) => labelRefs(Object.entries(l));
  const samples = r.samples ?? [];
  const histograms = r.histograms ?? [];
  const exemplars = r.exemplars ?? [];
  const metadata = r.metadata ?? [];

  const metadataByName = new Map<string, Record<string, unknown>>();
  for (const m of metadata) {
    const name = m.labels.__name__ ?? "";
    if (name !== "" || r.unsafe) {
      metadataByName.set(name, { type: m.type, help_ref: ref(m.help), unit_ref: ref(m.unit) });
    }
  }
  const used = new Set<number>();
  /** The exemplars of one series' entry: one, or every one left for its last entry. */
  const exemplarsFor = (labels: LabelSet, last: boolean) => {
    const out: Record<string, unknown>[] = [];
    exemplars.forEach((e, i) => {
      if (used.has(i) || (out.length > 0 && !last) || !sameLabels(labels, e.labels)) return;
      used.add(i);
      out.push({
        labels_refs: refs(e.exemplarLabels),
        value: e.value,
        timestamp: String(now + (e.offsetMs ?? 0)),
      });
    });
    return out;
  };
  const lastOf = (items: readonly { labels: LabelSet }[]) => {
    const last = new Map<string, number>();
    items.forEach((x, i) => {
      last.set(seriesKey(x.labels), i);
    });
    return last;
  };
  const metadataOf = (labels: LabelSet) => {
    const name = labels.__name__ ?? "";
    return name !== "" || r.unsafe ? metadataByName.get(name) : undefined;
  };

  const timeseries: Record<string, unknown>[] = [];
  const lastSample = lastOf(samples);
  samples.forEach((s, i) => {
    const m = metadataOf(s.labels);
    timeseries.push({
      labels_refs: refs(s.labels),
      samples: [{ value: s.value, timestamp: String(now + (s.offsetMs ?? 0)) }],
      exemplars: exemplarsFor(s.labels, lastSample.get(seriesKey(s.labels)) === i),
      ...(s.createdMs === undefined ? {} : { created_timestamp: String(now + s.createdMs) }),
      ...(m ? { metadata: m } : {}),
    });
  });
  const lastHistogram = lastOf(histograms);
  histograms.forEach((h, i) => {
    const m = metadataOf(h.labels);
    timeseries.push({
      labels_refs: refs(h.labels),
      histograms: [{ ...h.histogram, timestamp: String(now + (h.offsetMs ?? 0)) }],
      exemplars: exemplarsFor(h.labels, lastHistogram.get(seriesKey(h.labels)) === i),
      ...(h.createdMs === undefined ? {} : { created_timestamp: String(now + h.createdMs) }),
      ...(m ? { metadata: m } : {}),
    });
  });
  // exemplars of no sample's or histogram's series: a series of their own
  exemplars.forEach((e, i) => {
    if (used.has(i)) return;
    if ([...samples, ...histograms].some((x) => sameLabels(x.labels, e.labels))) return;
    timeseries.push({
      labels_refs: refs(e.labels),
      exemplars: [
        { labels_refs: refs(e.exemplarLabels), value: e.value, timestamp: String(now + (e.offsetMs ?? 0)) },
      ],
    });
  });
  // metadata of no sample's or histogram's metric: a series of its own
  for (const m of metadata) {
    const name = m.labels.__name__ ?? "";
    if (name === "" || [...samples, ...histograms].some((x) => x.labels.__name__ === name)) continue;
    timeseries.push({
      labels_refs: refs(m.labels),
      metadata: { type: m.type, help_ref: ref(m.help), unit_ref: ref(m.unit) },
    });
  }

  return {
    headers: {
      "content-encoding": "snappy",
      "content-type": V2_CONTENT_TYPE,
      "x-prometheus-remote-write-version": "2.0.0",
    },
    body: snappy(encodeV2(symbols, timeseries)),
  };
}

/** A Remote-Write 1.0 request as the suite's 1.0 generator builds it (no version header). */
export function v1Request(samples: readonly SampleIn[], now = Date.now()): HttpRequest {
  const body = v1Message(
    samples.map((s) => ({
      labels: Object.entries(s.labels),
      samples: [{ value: s.value, timestamp: now + (s.offsetMs ?? 0) }],
    })),
  );
  return {
    headers: { "content-encoding": "snappy", "content-type": "application/x-protobuf" },
    body: snappy(body),
  };
}

/** The suite's damage: the first byte of the compressed body replaced. */
export function corrupt(req: HttpRequest, byte: number): HttpRequest {
  const body = Uint8Array.from(req.body);
  body[0] = byte;
  return { headers: req.headers, body };
}

/**
 * The suite's histogram: positive buckets 1,3,4,7,8 (spans 0:3, 2:2), negative 1,2, a zero
 * bucket of 1; custom buckets replace the positive side with six bounds and buckets
 * 2,3,5,8,7,5; a bad count is 99 whatever the buckets hold.
 */
export function suiteHistogram(
  sum: number,
  positive: boolean,
  negative: boolean,
  zero: boolean,
  customBuckets: boolean,
  badCount: boolean,
): H {
  let count = 0;
  const h: H = { sum };
  if (positive) {
    h.positive_spans = [
      { offset: 0, length: 3 },
      { offset: 2, length: 2 },
    ];
    h.positive_deltas = ["1", "2", "1", "3", "1"];
    count += 23;
  }
  if (negative) {
    h.negative_spans = [{ offset: 0, length: 2 }];
    h.negative_deltas = ["1", "1"];
    count += 3;
  }
  if (zero) {
    h.zero_count_int = "1";
    count += 1;
  }
  if (customBuckets) {
    h.schema = -53;
    h.custom_values = [0.1, 0.5, 1.0, 2.5, 5.0, 10.0];
    h.positive_spans = [{ offset: 0, length: 6 }];
    h.positive_deltas = ["2", "1", "2", "3", "-1", "-2"];
    count = 30;
  }
  h.count_int = String(badCount ? 99 : count);
  return h;
}
