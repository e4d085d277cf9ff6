import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, describe, expect, it } from "vitest";
import { createMirrorApp } from "../../functions/mirror/app";
import { createRemoteWriteEndpoint } from "../../functions/remote-write/endpoint";
import { availableSnappyBackends, compress, type SnappyBackendName, useSnappy } from "../../lib/codec/snappy";
import { StaticKeySource } from "../../lib/core/auth";
import { silentLogger } from "../../lib/core/log";
import { createMemoryMetrics } from "../../lib/core/metrics";
import { MIRROR_PATHS } from "../../lib/core/routes";
import { DEFAULTS } from "../../lib/ingest/config";
import { Ingestor } from "../../lib/ingest/ingest";
import type { RecordSink } from "../../lib/ingest/sink";
import { loadMirrorConfig } from "../../lib/mirror/config";
import { decodeRecord } from "../../lib/stream/consumer";
import type { StreamRecord } from "../../lib/stream/records";
import { prng, type Rng } from "../fixtures/damaged-corpus";
import {
  ingestSettings,
  nativeHistogram,
  realisticSeries,
  type SeriesSpec,
  STALE_NAN,
  v1Message,
  v2Message,
} from "../fixtures/remote-write";
import { type FrontAnswer, startFronts } from "../support/fronts";

/**
 * Mutated remote-write bodies and malformed mirror JSON, thousands of each: the answer is
 * never a 5xx, nothing throws out of the front, memory stays bounded, and whatever the
 * gateway accepted decodes. Every remote-write body goes through both production fronts, the
 * local server's listener on 127.0.0.1 and the Lambda handler with API Gateway events, and
 * both must answer it alike. The seeds are fixed, so every run tries the same bodies;
 * FUZZ_SEED runs another seed instead (a seed that fails belongs in SEEDS), FUZZ_CASES
 * changes the count. `npm run fuzz` runs random seeds against the reference decoders.
 */
const SEEDS = process.env.FUZZ_SEED ? [Number(process.env.FUZZ_SEED)] : [1267226234, 20240301];
const CASES = Number(process.env.FUZZ_CASES ?? 2000);
const KEY = "fuzz-key-2b7f";
/** Live heap may grow this much over a run (caches, JIT); a leak per request would exceed it. */
const HEAP_GROWTH_LIMIT_MB = 64;

// ---------- remote-write corpus and mutations

const rich: SeriesSpec[] = [
  {
    labels: [
      ["__name__", "http_request_duration_seconds"],
      ["handler", "/api/ü"],
    ],
    exemplars: [{ labels: [["trace_id", "abc123"]], value: 0.25, timestamp: 1_700_000_000_123 }],
    histograms: [nativeHistogram(1_700_000_000_000), nativeHistogram(1_700_000_015_000, 2)],
    metadata: { type: "HISTOGRAM", help: "request latency", unit: "seconds" },
  },
  {
    labels: [
      ["__name__", "up"],
      ["job", "x"],
    ],
    samples: [
      { value: STALE_NAN, timestamp: 1_700_000_000_000 },
      { value: -0, timestamp: -1 },
    ],
  },
];
// plain copies: protobufjs hands out Buffers sharing a slab, and a Buffer's slice() is a view
const corpus: { version: "v1" | "v2"; raw: Uint8Array }[] = [
  { version: "v1", raw: Uint8Array.from(v1Message(realisticSeries(40, 2))) },
  {
    version: "v1",
    raw: Uint8Array.from(
      v1Message(rich, [{ type: "COUNTER", metric_family_name: "up", help: "h", unit: "" }]),
    ),
  },
  { version: "v2", raw: Uint8Array.from(v2Message(realisticSeries(40, 2))) },
  { version: "v2", raw: Uint8Array.from(v2Message(rich)) },
];

/** Positions where a field tag seems to start (a byte whose low bits are a valid wire type). */
function tagPositions(buf: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < buf.length; i++) {
    const wt = buf[i]! & 7;
    if ((wt === 0 || wt === 1 || wt === 2 || wt === 5) && buf[i]! >>> 3 > 0 && buf[i]! < 0x80) out.push(i);
  }
  return out;
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

const splice = (buf: Uint8Array, at: number, remove: number, insert: number[]) =>
  Uint8Array.from([...buf.subarray(0, at), ...insert, ...buf.subarray(at + remove)]);

const MUTATIONS: Record<string, (b: Uint8Array, r: Rng) => Uint8Array> = {
  bitflip(b, r) {
    const out = Uint8Array.from(b);
    for (let n = 1 + r.int(8); n > 0 && out.length > 0; n--) out[r.int(out.length)]! ^= 1 << r.int(8);
    return out;
  },
  truncate: (b, r) => b.subarray(0, r.int(b.length)),
  lyingLength(b, r) {
    const tags = tagPositions(b).filter((i) => (b[i]! & 7) === 2 && i + 1 < b.length);
    if (tags.length === 0) return b;
    const at = r.pick(tags) + 1;
    let len = 0;
    let end = at;
    while (end < b.length && b[end]! >= 0x80) end++;
    end++;
    len = r.pick([0, 1, 127, 128, 0x7fffffff, 0xffffffff, b.length, b.length * 2, r.int(300)]);
    return splice(b, at, end - at, varint(len));
  },
  hugeVarint(b, r) {
    const huge = r.pick([
      [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
      [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
      [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
      [0xff, 0xff, 0xff, 0xff, 0x0f],
      [0xff, 0xff, 0xff, 0xff, 0x1f],
    ]);
    return splice(b, r.int(b.length + 1), 0, huge);
  },
  wrongWireType(b, r) {
    const tags = tagPositions(b);
    if (tags.length === 0) return b;
    const out = Uint8Array.from(b);
    const at = r.pick(tags);
    out[at] = (out[at]! & ~7) | r.int(8);
    return out;
  },
  duplicateChunk(b, r) {
    const s = r.int(b.length + 1);
    const e = Math.min(b.length, s + r.int(64));
    return splice(b, r.int(b.length + 1), 0, [...b.subarray(s, e)]);
  },
  garbage: (_b, r) => Uint8Array.from({ length: r.int(200) }, () => r.int(256)),
  empty: () => new Uint8Array(0),
};

let bomb: Uint8Array | undefined;

interface Case {
  body: Uint8Array;
  contentType: string;
  what: string;
}

const TYPE = {
  v1: "application/x-protobuf",
  v2: "application/x-protobuf;proto=io.prometheus.write.v2.Request",
};

function remoteWriteCase(r: Rng): Case {
  const base = r.pick(corpus);
  let raw = base.raw;
  const names: string[] = [];
  for (let n = 1 + r.int(3); n > 0; n--) {
    const name = r.pick(Object.keys(MUTATIONS));
    names.push(name);
    raw = MUTATIONS[name]!(raw, r);
  }
  // v1 bytes labelled v2 and back, now and then
  const swap = r.next() < 0.15;
  const version = swap ? (base.version === "v1" ? "v2" : "v1") : base.version;
  let body = compress(raw);
  const level = r.next();
  if (level < 0.004) {
    bomb ??= compress(new Uint8Array(60 * 1024 * 1024)); // 60 MiB of zeros in ~3 MB
    body = bomb;
    names.push("decompression-bomb");
  } else if (level < 0.1) {
    body = MUTATIONS.bitflip!(body, r); // corrupt snappy
    names.push("snappy-bitflip");
  } else if (level < 0.15) {
    body = Uint8Array.from([...varint(r.pick([0xffffffff, 2 ** 27, 65 * 1024 * 1024])), ...body.subarray(1)]);
    names.push("snappy-lying-length");
  } else if (level < 0.18) {
    body = raw; // not compressed at all
    names.push("uncompressed");
  }
  return {
    body,
    contentType: TYPE[version],
    what: `${base.version}${swap ? `→${version}` : ""} ${names.join("+")}`,
  };
}

// ---------- mirror requests and mutations

const NOW = Date.UTC(2024, 2, 1);
const details = { host: "127.0.0.1", port: 9090, requestTimeout: 2000 };
const cond = (key: string, value: unknown) => ({
  _type: "EqualityCondition",
  key,
  value: { _type: "StringValue", value },
});
const mirrorBases: [string, Record<string, unknown>][] = [
  [MIRROR_PATHS.connection, { _type: "TestConnectionRequest", connectionDetails: details }],
  [
    MIRROR_PATHS.fieldName,
    {
      _type: "FieldNamesRequest",
      connectionDetails: details,
      query: {
        _type: "FieldNamesQuery",
        conditions: [cond("job", "x")],
        startTime: NOW - 3600_000,
        endTime: NOW,
        limit: 100,
        latestFirst: false,
      },
    },
  ],
  [
    MIRROR_PATHS.fieldValue,
    {
      _type: "FieldValuesRequest",
      connectionDetails: details,
      query: {
        _type: "FieldValuesQuery",
        conditions: [],
        field: { _type: "FieldDescriptor", fieldName: "job", fieldType: "STRING", classified: false },
        fieldValuePrefix: "no",
        startTime: NOW - 3600_000,
        endTime: NOW,
        limit: 10,
        offset: 0,
        latestFirst: false,
      },
    },
  ],
  [
    MIRROR_PATHS.metric,
    {
      _type: "MetricsRequest",
      connectionDetails: details,
      query: {
        _type: "MetricsQuery",
        conditions: [cond("__gauge__", "up"), cond("job", "x")],
        startTime: NOW - 3600_000,
        endTime: NOW,
        limit: 500,
        aggregation: { _type: "Aggregation", method: "MAX", bucketSizeMillis: 60_000 },
      },
    },
  ],
  [
    MIRROR_PATHS.metric,
    {
      _type: "MetricsRequest",
      connectionDetails: details,
      query: {
        _type: "MetricsQuery",
        conditions: [cond("~", "sum(rate(x[5m]))")],
        startTime: NOW - 600_000,
        endTime: NOW,
        limit: 100,
      },
    },
  ],
];

const ODD_VALUES: unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  2 ** 53,
  -(2 ** 63),
  1e308,
  Number.NaN,
  "",
  "x",
  "9".repeat(400),
  "\u0000",
  "日本語",
  [],
  {},
  [[[[[]]]]],
  { _type: "Nope" },
  "a".repeat(100_000),
  "MEAN",
  "PERCENTILE_99",
  "EVENT_COUNT_NO_ZEROS",
  "__counter__",
  "~",
  "{",
  "}[5m]",
];

function mutateJson(value: unknown, r: Rng, depth = 0): unknown {
  if (depth > 0 && r.next() < 0.15) return r.pick(ODD_VALUES);
  if (Array.isArray(value)) {
    const out = value.map((v) => mutateJson(v, r, depth + 1));
    if (r.next() < 0.2) out.push(r.pick(ODD_VALUES));
    if (r.next() < 0.1) out.length = 0;
    if (r.next() < 0.05) return Array.from({ length: 100 }, () => out[0] ?? r.pick(ODD_VALUES));
    return out;
  }
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (r.next() < 0.1) continue; // dropped
      out[k] = r.next() < 0.7 ? mutateJson(v, r, depth + 1) : v;
    }
    if (r.next() < 0.1)
      out[r.pick(["extra", "_type", "limit", "bucketSizeMillis", "__proto__"])] = r.pick(ODD_VALUES);
    return out;
  }
  if (typeof value === "number" && r.next() < 0.5) {
    return r.pick([0, -value, value * 1e9, value + 0.5, Number.MAX_SAFE_INTEGER, 1, -1, 1e300]);
  }
  return value;
}

function mirrorCase(r: Rng): { path: string; body: string; what: string } {
  const [path, base] = r.pick(mirrorBases);
  const roll = r.next();
  if (roll < 0.2) {
    const text = JSON.stringify(base);
    const cut = text.slice(0, r.int(text.length));
    return { path, body: cut, what: "truncated JSON" };
  }
  if (roll < 0.3) {
    const text = [...JSON.stringify(base)];
    for (let n = 1 + r.int(4); n > 0; n--) text[r.int(text.length)] = String.fromCharCode(r.int(128));
    return { path, body: text.join(""), what: "garbled JSON" };
  }
  if (roll < 0.35)
    return { path, body: r.pick(["", "null", "[]", "1", '"x"', "{}", "{".repeat(5000)]), what: "odd JSON" };
  return { path, body: JSON.stringify(mutateJson(base, r)), what: "mutated fields" };
}

/** Canned Prometheus API answers, so mirror requests that pass validation reach its logic. */
const fakePrometheus: typeof fetch = async (input) => {
  const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
  const ok = (data: unknown) =>
    new Response(JSON.stringify({ status: "success", data }), {
      headers: { "content-type": "application/json" },
    });
  const p = url.pathname;
  if (p.endsWith("/-/healthy")) return new Response("Prometheus Server is Healthy.\n");
  if (p.endsWith("/status/buildinfo")) return ok({ version: "2.42.0" });
  if (p.endsWith("/labels") || p.endsWith("/values")) return ok(["job", "instance", "node_cpu"]);
  // the series lookup before a metric query: one series, so the query runs
  if (p.endsWith("/series")) return ok([{ __name__: "up", job: "x" }]);
  if (p.endsWith("/metadata")) return ok({ up: [{ type: "gauge", help: "", unit: "" }] });
  if (p.endsWith("/query_range") || p.endsWith("/query")) {
    const t = Number(url.searchParams.get("start") ?? url.searchParams.get("time") ?? NOW / 1000);
    return ok({
      resultType: "matrix",
      result: [
        {
          metric: { __name__: "up", job: "x" },
          values: [
            [t, "1"],
            [t + 15, "NaN"],
            [t + 30, "+Inf"],
            [t + 45, "0.5"],
          ],
        },
      ],
    });
  }
  return new Response(JSON.stringify({ status: "error", errorType: "bad_data", error: "unknown" }), {
    status: 404,
  });
};

// ---------- the runs

setFlagsFromString("--expose-gc");
const collect = runInNewContext("gc") as () => void;

/** Live heap after a full collection, in MiB. */
function heapMB(): number {
  collect();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

const backends: SnappyBackendName[] = availableSnappyBackends();

describe("fuzzing", () => {
  afterAll(() => {
    useSnappy("auto");
  });

  it.each(backends.flatMap((backend) => SEEDS.map((seed) => [backend, seed] as const)))(
    `remote write (%s snappy, seed %i): ${CASES} mutated bodies, never a 5xx, accepted records decode`,
    async (backend, SEED) => {
      useSnappy(backend);
      const r = prng(SEED);
      let put: StreamRecord[] = [];
      const sink: RecordSink = {
        async put(records) {
          put = [...records];
        },
      };
      const endpoint = createRemoteWriteEndpoint({
        ingestor: new Ingestor(ingestSettings({ maxRecordBytes: 64 * 1024 })),
        maxBodyBytes: DEFAULTS.maxBodyBytes,
        keys: new StaticKeySource([{ key: KEY }]),
        sink,
        log: silentLogger,
        metrics: createMemoryMetrics(),
      });
      const fronts = await startFronts(endpoint);
      const statuses = new Map(fronts.map((f) => [f.name, new Map<number, number>()]));
      const startHeap = heapMB();
      let peakHeap = startHeap;
      let peakRss = process.memoryUsage.rss();
      let tried = 0;
      try {
        for (; tried < CASES; tried++) {
          const c = remoteWriteCase(r);
          const answers: FrontAnswer[] = [];
          for (const front of fronts) {
            const at = `case ${tried} (${c.what}) through the ${front.name}, FUZZ_SEED=${SEED}`;
            put = [];
            let answer: FrontAnswer;
            try {
              answer = await front.send({
                headers: { "sts-api-key": KEY, "content-type": c.contentType, "content-encoding": "snappy" },
                body: c.body,
              });
            } catch (err) {
              throw new Error(`${at} threw out of the front: ${(err as Error).stack}`);
            }
            answers.push(answer);
            const seen = statuses.get(front.name)!;
            seen.set(answer.status, (seen.get(answer.status) ?? 0) + 1);
            expect(answer.status, at).toBeLessThan(500);
            if (answer.status < 300 || put.length > 0) {
              // what was accepted must be readable by a consumer, and match the counts announced
              let samples = 0;
              for (const rec of put)
                for (const s of decodeRecord(rec.data, rec.partitionKey).series) samples += s.samples.length;
              const announced = answer.headers["x-prometheus-remote-write-samples-written"];
              if (answer.status === 204 && announced !== undefined) {
                expect(samples, at).toBe(Number(announced));
              }
            }
          }
          // one implementation behind both fronts: the same body gets the same answer
          const [first, ...others] = answers.map((a) => ({
            status: a.status,
            samples: a.headers["x-prometheus-remote-write-samples-written"],
            body: a.body,
          }));
          for (const other of others)
            expect(other, `case ${tried} (${c.what}), FUZZ_SEED=${SEED}`).toEqual(first);
          peakRss = Math.max(peakRss, process.memoryUsage.rss());
          if (tried % 500 === 0) peakHeap = Math.max(peakHeap, heapMB());
        }
      } finally {
        for (const front of fronts) await front.close();
      }
      peakHeap = Math.max(peakHeap, heapMB());
      for (const [name, seen] of statuses) {
        console.log(
          `fuzz remote write (${backend} snappy, ${name}): ${tried} bodies tried, answers ${JSON.stringify(Object.fromEntries(seen))}`,
        );
      }
      console.log(
        `fuzz remote write (${backend} snappy): live heap after GC ${startHeap.toFixed(0)} → at most ${peakHeap.toFixed(0)} MB, ` +
          `peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MB`,
      );
      // the mutations reach past the first checks: some bodies are accepted, some refused
      for (const [name, seen] of statuses) {
        expect(seen.get(204) ?? 0, name).toBeGreaterThan(0);
        expect(seen.get(400) ?? 0, name).toBeGreaterThan(0);
      }
      expect(peakHeap - startHeap).toBeLessThan(HEAP_GROWTH_LIMIT_MB);
    },
    120_000,
  );

  it.each(SEEDS)(
    `mirror (seed %i): ${CASES} malformed JSON requests, never a 5xx`,
    async (SEED) => {
      const r = prng(SEED ^ 0x5bd1e995);
      const app = createMirrorApp({
        config: loadMirrorConfig({ MIRROR_API_KEY: KEY }),
        keys: new StaticKeySource([{ key: KEY }]),
        log: silentLogger,
        metrics: createMemoryMetrics(),
        fetch: fakePrometheus,
      });
      const statuses = new Map<number, number>();
      const startHeap = heapMB();
      let peakHeap = startHeap;
      let peakRss = process.memoryUsage.rss();
      let tried = 0;
      for (; tried < CASES; tried++) {
        const c = mirrorCase(r);
        let status: number;
        let text = "";
        try {
          const res = await app.request(c.path, {
            method: "POST",
            headers: { "content-type": "application/json", "x-mirror-api-key": KEY },
            body: c.body,
          });
          text = await res.text();
          status = res.status;
        } catch (err) {
          throw new Error(
            `mirror case ${tried} (${c.what}) threw: ${(err as Error).stack} (FUZZ_SEED=${SEED})`,
          );
        }
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        expect(
          status,
          `mirror case ${tried} (${c.what}) ${c.path} ${c.body.slice(0, 300)} → ${text.slice(0, 300)}, FUZZ_SEED=${SEED}`,
        ).toBeLessThan(500);
        expect(() => JSON.parse(text), `mirror case ${tried}: answer is JSON`).not.toThrow();
        peakRss = Math.max(peakRss, process.memoryUsage.rss());
        if (tried % 500 === 0) peakHeap = Math.max(peakHeap, heapMB());
      }
      peakHeap = Math.max(peakHeap, heapMB());
      console.log(
        `fuzz mirror: ${tried} requests tried, answers ${JSON.stringify(Object.fromEntries(statuses))}; ` +
          `live heap after GC ${startHeap.toFixed(0)} → at most ${peakHeap.toFixed(0)} MB, peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MB`,
      );
      expect(statuses.get(200) ?? 0).toBeGreaterThan(0);
      expect(statuses.get(400) ?? 0).toBeGreaterThan(0);
      expect(peakHeap - startHeap).toBeLessThan(HEAP_GROWTH_LIMIT_MB);
    },
    120_000,
  );
});
