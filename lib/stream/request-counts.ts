import { Reader, WIRE_LEN } from "../codec/wire";
import type { ProtocolVersion } from "./records";

/** What a Remote-Write request holds: its series, and their samples, native histograms and exemplars. */
export interface RequestCounts {
  series: number;
  samples: number;
  histograms: number;
  exemplars: number;
}

/** The field numbers counted: the request's TimeSeries, and a TimeSeries' repeated messages. */
const FIELDS: Record<
  ProtocolVersion,
  { series: number; samples: number; histograms: number; exemplars: number }
> = {
  // prometheus.WriteRequest.timeseries = 1; TimeSeries: samples 2, exemplars 3, histograms 4
  v1: { series: 1, samples: 2, histograms: 4, exemplars: 3 },
  // io.prometheus.write.v2.Request.timeseries = 5; TimeSeries: samples 2, histograms 3, exemplars 4
  v2: { series: 5, samples: 2, histograms: 3, exemplars: 4 },
};

/**
 * Counts a decoded request's series and what they carry, reading only the framing (a
 * field counts when it is length-delimited, as those messages are). Throws WireError when
 * the framing is broken.
 */
export function countRequest(body: Uint8Array, version: ProtocolVersion): RequestCounts {
  const f = FIELDS[version];
  const counts: RequestCounts = { series: 0, samples: 0, histograms: 0, exemplars: 0 };
  const top = new Reader(body);
  const ts = new Reader(body);
  while (!top.done()) {
    const tag = top.tag();
    if (tag >>> 3 !== f.series || (tag & 7) !== WIRE_LEN) {
      top.skip(tag & 7);
      continue;
    }
    const end = top.lengthEnd();
    counts.series++;
    ts.at(top.pos, end);
    while (!ts.done()) {
      const t = ts.tag();
      const field = t >>> 3;
      if ((t & 7) === WIRE_LEN) {
        if (field === f.samples) counts.samples++;
        else if (field === f.histograms) counts.histograms++;
        else if (field === f.exemplars) counts.exemplars++;
      }
      ts.skip(t & 7);
    }
    top.pos = end;
  }
  return counts;
}
