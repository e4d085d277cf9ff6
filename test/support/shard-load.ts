import { createServer } from "node:http";
import { localRequestListener } from "../../functions/local/listener";
import { remoteWriteEndpointFromEnv } from "../../functions/remote-write/wiring";
import { compress } from "../../lib/codec/snappy";
import { METRIC_NAMES } from "../../lib/core/metric-names";
import { createMemoryMetrics } from "../../lib/core/metrics";
import { type Listening, listenOnLoopback } from "./listen";
import { ShardKinesis, type ShardKinesisStats } from "./shard-kinesis";

/**
 * Senders like Prometheus's queue shards (each its own series, one request at a time, the
 * same body again after a 5xx) writing through the local server's listener into a
 * ShardKinesis stream: what the scaling suite and `npm run bench` drive.
 */

export const STREAM = "scaling";
const KEY = "scaling-key";

/** One sender's series: pre-encoded label bytes, a sample per series per request. */
class Sender {
  private readonly labels: Buffer[];
  private timestamp: number;

  constructor(
    readonly index: number,
    series: number,
    start: number,
  ) {
    this.timestamp = start;
    this.labels = Array.from({ length: series }, (_, i) =>
      labelsOf([
        ["__name__", `scaling_metric_${i % 50}`],
        ["instance", `10.${index}.${i >> 8}.${i & 255}:9100`],
        ["job", "node"],
        ["sender", String(index)],
        ["series", String(i)],
      ]),
    );
  }

  /** The next request: every series one sample, at the next timestamp (ms), value = timestamp. */
  next(): { body: Uint8Array; timestamp: number; samples: number } {
    this.timestamp += 1000;
    const t = this.timestamp;
    const sample = Buffer.alloc(32);
    sample[0] = 0x09;
    sample.writeDoubleLE(t, 1);
    sample[9] = 0x10;
    const n = 10 + putVarint(sample, 10, t);
    const sampleField = Buffer.concat([Buffer.from([0x12, n]), sample.subarray(0, n)]);
    const parts: Buffer[] = [];
    for (const l of this.labels) {
      const series = Buffer.concat([l, sampleField]);
      parts.push(Buffer.from([0x0a]), varint(series.length), series);
    }
    return { body: compress(Buffer.concat(parts)), timestamp: t, samples: this.labels.length };
  }
}

function labelsOf(pairs: [string, string][]): Buffer {
  const out: Buffer[] = [];
  for (const [name, value] of pairs) {
    const label = Buffer.concat([field(1, Buffer.from(name)), field(2, Buffer.from(value))]);
    out.push(field(1, label));
  }
  return Buffer.concat(out);
}

function field(n: number, bytes: Buffer): Buffer {
  return Buffer.concat([Buffer.from([(n << 3) | 2]), varint(bytes.length), bytes]);
}

function varint(n: number): Buffer {
  const b = Buffer.alloc(10);
  return b.subarray(0, putVarint(b, 0, n));
}

function putVarint(b: Buffer, at: number, n: number): number {
  let i = at;
  let v = n;
  while (v >= 0x80) {
    b[i++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  b[i++] = v;
  return i - at;
}

export interface ScalingRig {
  readonly kinesis: ShardKinesis;
  readonly metrics: ReturnType<typeof createMemoryMetrics>;
  readonly gateway: Listening;
  /** Acknowledged samples so far, and requests. */
  readonly acked: { samples: number; requests: number; retries: number };
  /** Per sender: the timestamps acknowledged, in order. */
  readonly ackedTimestamps: number[][];
  /** Runs the senders until stop(); resolves when all have ended. */
  run(): Promise<void>;
  stop(): void;
  close(): Promise<void>;
}

export interface ScalingOptions {
  readonly shards: number;
  /** The whole stream's budget per second, spread over its shards. */
  readonly streamBytesPerSecond: number;
  readonly streamRecordsPerSecond: number;
  readonly senders: number;
  readonly seriesPerSender: number;
  /** Extra gateway environment (e.g. STREAM_SHARDS). */
  readonly env?: Record<string, string>;
}

export async function scalingRig(o: ScalingOptions): Promise<ScalingRig> {
  const kinesis = new ShardKinesis({
    streamName: STREAM,
    shards: o.shards,
    bytesPerSecond: o.streamBytesPerSecond / o.shards,
    recordsPerSecond: o.streamRecordsPerSecond / o.shards,
  });
  const url = await kinesis.start();
  const metrics = createMemoryMetrics();
  const { endpoint } = remoteWriteEndpointFromEnv(
    {
      KINESIS_STREAM_NAME: STREAM,
      KINESIS_ENDPOINT: url,
      AWS_REGION: "us-east-1",
      API_KEY: KEY,
      LOG_LEVEL: "error",
      ...o.env,
    },
    metrics,
  );
  const gateway = await listenOnLoopback(
    createServer(localRequestListener(endpoint, () => new Response("not here", { status: 404 }))),
  );
  const acked = { samples: 0, requests: 0, retries: 0 };
  const ackedTimestamps: number[][] = Array.from({ length: o.senders }, () => []);
  let stopped = false;
  const start = Date.UTC(2026, 0, 1);

  async function send(sender: Sender): Promise<void> {
    while (!stopped) {
      const req = sender.next();
      for (;;) {
        const res = await fetch(`${gateway.url}/api/v1/write`, {
          method: "POST",
          headers: {
            "Content-Type": "application/x-protobuf",
            "Content-Encoding": "snappy",
            "X-Prometheus-Remote-Write-Version": "0.1.0",
            "sts-api-key": KEY,
          },
          body: req.body,
        });
        await res.arrayBuffer();
        if (res.status === 204) {
          acked.samples += req.samples;
          acked.requests++;
          ackedTimestamps[sender.index]!.push(req.timestamp);
          break;
        }
        if (res.status < 500) throw new Error(`the gateway answered ${res.status}`);
        acked.retries++;
        if (stopped) return;
        // as Prometheus does after a 5xx: the same batch again after a short backoff
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  return {
    kinesis,
    metrics,
    gateway,
    acked,
    ackedTimestamps,
    run: async () => {
      const senders = Array.from({ length: o.senders }, (_, i) => new Sender(i, o.seriesPerSender, start));
      await Promise.all(senders.map(send));
    },
    stop: () => {
      stopped = true;
    },
    close: async () => {
      await gateway.close();
      await kinesis.stop();
    },
  };
}

/** Stream use over a window: share of capacity by bytes, records, and the binding one, of first copies only. */
export interface WindowUse {
  seconds: number;
  bytesShare: number;
  recordsShare: number;
  share: number;
  samplesPerSecond: number;
  recordsPerRequest: number;
}

export function snapshot(rig: ScalingRig): {
  at: number;
  stats: ShardKinesisStats;
  samples: number;
  requests: number;
} {
  return {
    at: performance.now(),
    stats: { ...rig.kinesis.stats },
    samples: rig.acked.samples,
    requests: rig.acked.requests,
  };
}

export function windowUse(
  rig: ScalingRig,
  a: ReturnType<typeof snapshot>,
  b: ReturnType<typeof snapshot>,
): WindowUse {
  const seconds = (b.at - a.at) / 1000;
  const cap = rig.kinesis.capacity();
  const bytesShare = (b.stats.freshBytes - a.stats.freshBytes) / (cap.bytes * seconds);
  const recordsShare = (b.stats.freshRecords - a.stats.freshRecords) / (cap.records * seconds);
  const requests = b.requests - a.requests;
  return {
    seconds,
    bytesShare,
    recordsShare,
    share: Math.max(bytesShare, recordsShare),
    samplesPerSecond: (b.samples - a.samples) / seconds,
    recordsPerRequest: requests === 0 ? 0 : (b.stats.freshRecords - a.stats.freshRecords) / requests,
  };
}

/** The whole stream's write budget the scaling suite and the bench drive past, at every shard count. */
export const SCALING_BUDGET = { streamBytesPerSecond: 384 * 1024, streamRecordsPerSecond: 384 } as const;

/** Awaits a condition, polling every 20 ms; throws naming `what` after `ms`. */
export async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Runs the senders, and once past the cold start (the shard map read, 8 requests answered, the
 * stream's first second of budget spent) measures the stream's use over `seconds`; the senders
 * have stopped when it resolves.
 */
export async function measureUnderLoad(rig: ScalingRig, seconds: number, ready = 20_000): Promise<WindowUse> {
  const running = rig.run();
  try {
    await until(
      () => rig.acked.requests >= 8 && (rig.metrics.totals.get(METRIC_NAMES.shardMapReads) ?? 0) >= 1,
      "load",
      ready,
    );
    await new Promise((r) => setTimeout(r, 1500));
    const a = snapshot(rig);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    return windowUse(rig, a, snapshot(rig));
  } finally {
    rig.stop();
    await running;
  }
}
