import { existsSync, readFileSync } from "node:fs";
import { createServer, request as httpRequest, type IncomingMessage } from "node:http";
import type { KinesisClient } from "@aws-sdk/client-kinesis";
import { readAll } from "../../functions/local/stream";
import { decodeRecord } from "../../lib/stream/consumer";
import { floatBits } from "../fixtures/remote-write";
import { type Listening, listenOnLoopback } from "../support/listen";
import { PROMETHEUS_BIN } from "../support/prometheus";

/**
 * Pieces the reliability suites share: a synthetic scrape target, an HTTP proxy that
 * tallies the gateway's answers as Prometheus sees them, Prometheus's own counters and
 * raw samples, and the stream's contents as (series, timestamp, value bits) triples.
 */

/** True when the suite can run; in CI (CI=true) a missing Prometheus fails loudly. */
export function prometheusPresent(suite: string): boolean {
  if (existsSync(PROMETHEUS_BIN)) return true;
  const reason = `${PROMETHEUS_BIN} not found (Debian: apt-get install prometheus)`;
  if (process.env.CI === "true") throw new Error(`${suite} cannot run in CI: ${reason}`);
  console.warn(`Skipping ${suite}: ${reason}`);
  return false;
}

export type { Listening };

const listen = listenOnLoopback;

/**
 * A /metrics endpoint with `series` gauges (`reliability_gauge{shard, idx}`) whose values
 * change on every scrape, so every scrape yields new samples. Text is built per scrape.
 */
export async function startSyntheticTarget(series: number, metric = "reliability_gauge") {
  let scrapes = 0;
  const server = createServer((req, res) => {
    if (req.url !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    scrapes++;
    const parts: string[] = [`# TYPE ${metric} gauge\n`];
    for (let i = 0; i < series; i++) {
      parts.push(`${metric}{shard="s${i % 64}",idx="${i}"} ${scrapes * 1000 + (i % 997) + 0.5}\n`);
    }
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
    res.end(parts.join(""));
  });
  const l = await listen(server);
  return { ...l, hostPort: l.url.replace("http://", ""), scrapes: () => scrapes };
}

/** Status counts of the answers that went back through the proxy. */
export interface Tally {
  readonly statuses: Map<number, number>;
  readonly retryAfter: Set<string>;
  count(status: number): number;
  total(): number;
}

/** An HTTP proxy in front of `target` that counts each answer's status as it passes. */
export async function startTallyProxy(target: string): Promise<Listening & { tally: Tally }> {
  const statuses = new Map<number, number>();
  const retryAfter = new Set<string>();
  const to = new URL(target);
  const server = createServer((req, res) => {
    const upstream = httpRequest(
      {
        host: to.hostname,
        port: to.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (answer: IncomingMessage) => {
        const status = answer.statusCode ?? 0;
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        const ra = answer.headers["retry-after"];
        if (typeof ra === "string") retryAfter.add(ra);
        res.writeHead(status, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => {
      statuses.set(599, (statuses.get(599) ?? 0) + 1);
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  const l = await listen(server);
  return {
    ...l,
    tally: {
      statuses,
      retryAfter,
      count: (s) => statuses.get(s) ?? 0,
      total: () => [...statuses.values()].reduce((a, b) => a + b, 0),
    },
  };
}

/** Prometheus's own counters, read from its /metrics, summed over label sets by name. */
export async function promCounters(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    out.set(m[1]!, (out.get(m[1]!) ?? 0) + Number(m[3]));
  }
  return out;
}

/** The remote-write counters that say whether anything was lost or resent. */
export async function remoteWriteCounters(url: string) {
  const c = await promCounters(url);
  const get = (name: string) => c.get(name) ?? 0;
  return {
    sent: get("prometheus_remote_storage_samples_total"),
    failed: get("prometheus_remote_storage_samples_failed_total"),
    dropped: get("prometheus_remote_storage_samples_dropped_total"),
    retried: get("prometheus_remote_storage_samples_retried_total"),
    pending: get("prometheus_remote_storage_samples_pending"),
    highestTs: get("prometheus_remote_storage_highest_timestamp_in_seconds"),
    sentTs: get("prometheus_remote_storage_queue_highest_sent_timestamp_seconds"),
  };
}

/** A sample's identity: labels (sorted), timestamp in ms and the value's float64 bits. */
export type SampleKey = string;

function seriesId(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Every raw sample Prometheus holds for `selector` over the last `rangeSeconds` before
 * `at` (a range-vector query returns stored samples, not evaluated steps).
 */
export async function prometheusSamples(
  url: string,
  selector: string,
  rangeSeconds: number,
  at: number,
): Promise<Set<SampleKey>> {
  const query = `${selector}[${Math.ceil(rangeSeconds)}s]`;
  const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}&time=${at}`);
  const body = (await res.json()) as {
    status: string;
    data: { result: { metric: Record<string, string>; values: [number, string][] }[] };
  };
  if (body.status !== "success") throw new Error(`query ${query} failed: ${JSON.stringify(body)}`);
  const out = new Set<SampleKey>();
  for (const s of body.data.result) {
    const id = seriesId(s.metric);
    for (const [t, v] of s.values) out.add(`${id}@${Math.round(t * 1000)}=${floatBits(Number(v))}`);
  }
  return out;
}

/** Every float sample in the stream whose series matches `keep`, with how often each came. */
export async function streamSamples(
  client: Pick<KinesisClient, "send">,
  streamName: string,
  keep: (labels: Record<string, string>) => boolean,
): Promise<{ samples: Map<SampleKey, number>; records: number }> {
  const items = await readAll(client, streamName);
  const samples = new Map<SampleKey, number>();
  for (const { record } of items) {
    const decoded = decodeRecord(record.Data!, record.PartitionKey!);
    for (const s of decoded.series) {
      if (!keep(s.labels)) continue;
      const id = seriesId(s.labels);
      for (const x of s.samples) {
        const key = `${id}@${x.timestamp}=${x.bits}`;
        samples.set(key, (samples.get(key) ?? 0) + 1);
      }
    }
  }
  return { samples, records: items.length };
}

/** Resident set size of a process, in MiB, from /proc. */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns true or `timeoutMs` passes; returns whether it did. */
export async function until(probe: () => Promise<boolean>, timeoutMs: number, everyMs = 500) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      if (await probe()) return true;
    } catch {
      // not yet
    }
    await sleep(everyMs);
  }
  return false;
}

/** A prometheus.yml that scrapes `target` and remote-writes to `writeUrl` with basic auth. */
export function prometheusConfig(o: {
  target: string;
  writeUrl: string;
  apiKey: string;
  scrapeInterval: string;
  maxSamplesPerSend?: number;
  capacity?: number;
}): string {
  return `global:
  scrape_interval: ${o.scrapeInterval}
  evaluation_interval: 1m
scrape_configs:
  - job_name: synthetic
    scrape_interval: ${o.scrapeInterval}
    scrape_timeout: ${o.scrapeInterval}
    static_configs:
      - targets: ["${o.target}"]
remote_write:
  - url: ${o.writeUrl}
    remote_timeout: 10s
    basic_auth:
      username: apikey
      password: ${o.apiKey}
    metadata_config:
      send: false
    queue_config:
      capacity: ${o.capacity ?? 10000}
      max_shards: 4
      min_shards: 1
      max_samples_per_send: ${o.maxSamplesPerSend ?? 2000}
      batch_send_deadline: 1s
      min_backoff: 100ms
      max_backoff: 2s
`;
}
