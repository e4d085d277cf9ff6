import type { KinesisClient } from "@aws-sdk/client-kinesis";
import { compress, decompress } from "../../lib/codec/snappy";
import { Reader, WIRE_LEN, Writer } from "../../lib/codec/wire";
import { decodeRecord } from "../../lib/stream/consumer";
import { streamContents } from "./stream";

/**
 * Every raw sample a real Prometheus holds, read through its remote-read API
 * (/api/v1/read), which returns samples as stored, stale markers included, with their
 * exact float64 bits. Keyed by the series' labels, then by timestamp.
 */
export type SampleMap = Map<string, Map<string, string>>;

export function seriesKey(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export async function remoteReadAll(baseUrl: string, matchers: [string, string][] = [["__name__", ".+"]]) {
  // ReadRequest{queries=1: Query{start_timestamp_ms=1, end_timestamp_ms=2, matchers=3: LabelMatcher{type=1, name=2, value=3}}}
  const query = new Writer();
  query.tag(1, 0).varint(0);
  query.tag(2, 0).varint(Date.now() + 3_600_000);
  for (const [name, value] of matchers) {
    const m = new Writer();
    m.tag(1, 0).varint(2); // RE
    m.lenField(2, new TextEncoder().encode(name));
    m.lenField(3, new TextEncoder().encode(value));
    query.lenField(3, m.finish());
  }
  const request = new Writer().lenField(1, query.finish()).finish();
  const res = await fetch(`${baseUrl}/api/v1/read`, {
    method: "POST",
    headers: {
      "content-type": "application/x-protobuf",
      "content-encoding": "snappy",
      "x-prometheus-remote-read-version": "0.1.0",
    },
    body: compress(request),
  });
  if (res.status !== 200) throw new Error(`remote read answered ${res.status}: ${await res.text()}`);
  const body = decompress(new Uint8Array(await res.arrayBuffer()), 512 * 1024 * 1024);
  const out: SampleMap = new Map();
  // ReadResponse{results=1: QueryResult{timeseries=1}}: a QueryResult has WriteRequest's shape.
  const r = new Reader(body);
  while (!r.done()) {
    const tag = r.tag();
    if (tag >>> 3 !== 1 || (tag & 7) !== WIRE_LEN) {
      r.skip(tag & 7);
      continue;
    }
    const end = r.lengthEnd();
    const result = body.subarray(r.pos, end);
    r.pos = end;
    const decoded = decodeRecord(compress(result), `prw1::0:${"0".repeat(32)}`);
    for (const s of decoded.series) addSamples(out, s.labels, s.samples);
  }
  return out;
}

function addSamples(
  out: SampleMap,
  labels: Record<string, string>,
  samples: { timestamp: string; bits: string }[],
) {
  const key = seriesKey(labels);
  let m = out.get(key);
  if (m === undefined) {
    m = new Map();
    out.set(key, m);
  }
  for (const s of samples) m.set(s.timestamp, s.bits);
}

/** Every sample in the stream (what the gateway acknowledged), in the same shape. */
export async function streamSamples(client: Pick<KinesisClient, "send">, streamName: string) {
  const { series, records } = await streamContents(client, streamName);
  const out: SampleMap = new Map();
  for (const s of series) addSamples(out, s.labels, s.samples);
  return { samples: out, records: records.length };
}

/**
 * Remote read answers in proto3, whose encoder leaves out a double equal to 0 — and
 * -0 == 0 — so a stored -0 reads back as +0. Only that one pattern is folded.
 */
const readable = (bits: string) => (bits === "8000000000000000" ? "0000000000000000" : bits);

/** Differences between what should have arrived and what did: missing or different samples. */
export function missingFrom(expected: SampleMap, actual: SampleMap, limit = 10): string[] {
  const out: string[] = [];
  for (const [key, samples] of expected) {
    const got = actual.get(key);
    for (const [ts, raw] of samples) {
      const bits = readable(raw);
      const have = got?.get(ts);
      if (have !== bits) out.push(`${key} @${ts}: want ${bits}, got ${have ?? "nothing"}`);
      if (out.length >= limit) return out;
    }
  }
  return out;
}

export function sampleCount(map: SampleMap): number {
  let n = 0;
  for (const m of map.values()) n += m.size;
  return n;
}
