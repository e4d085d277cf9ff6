import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { createMirrorApp } from "../functions/mirror/app";
import { StaticKeySource } from "../lib/core/auth";
import { silentLogger } from "../lib/core/log";
import { loadMirrorConfig } from "../lib/mirror/config";
import { type RunningPrometheus, startPrometheus } from "../test/support/prometheus";
import { type SigV4StandIn, startSigV4StandIn } from "../test/support/sigv4-standin";
import { fmt, percentile, table } from "./measure";

/**
 * Part 4: what the mirror adds to a query. A Prometheus scrapes itself every second; the
 * mirror (over HTTP on 127.0.0.1, in this process) answers StackState requests for a
 * gauge, a counter (a rate) and an aggregated gauge. The Prometheus calls the mirror makes
 * for each request are recorded, and the same calls are then made directly from the same
 * client, interleaved with the mirror requests: the difference is the mirror's cost.
 * The SigV4 case queries an Amazon Managed Prometheus stand-in (which verifies every
 * signature and forwards to the same Prometheus); the direct calls replay the mirror's
 * signed requests, so the difference is the mirror's cost including signing.
 */
export interface MirrorRow {
  request: string;
  mirrorMs: number[];
  directMs: number[];
  prometheusCalls: number;
  /** Calls signed with SigV4 (Amazon Managed Prometheus). */
  signed?: boolean;
}

const KEY = "bench-mirror-key-0123456789";

export async function measureMirror(iterations: number, log: (line: string) => void): Promise<MirrorRow[]> {
  let prom: RunningPrometheus | undefined;
  let server: ReturnType<typeof serve> | undefined;
  let amp: SigV4StandIn | undefined;
  try {
    prom = await startPrometheus({
      // startPrometheus puts its own port where the config says {{PORT}}
      configYaml: [
        "global:",
        "  scrape_interval: 1s",
        "scrape_configs:",
        "  - job_name: self",
        "    static_configs:",
        "      - targets: ['127.0.0.1:{{PORT}}']",
        "",
      ].join("\n"),
    });
    const keys = {
      accessKeyId: "AKIABENCHKEY00000001",
      secretAccessKey: "bench-secret-key-0123456789abcdefghij",
    };
    amp = await startSigV4StandIn({ target: prom.url, region: "eu-west-1", credentials: [keys] });
    let recording: Array<{ url: string; headers: Record<string, string> }> | undefined;
    const recordingFetch: typeof fetch = (input, init) => {
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      recording?.push({ url, headers: { ...(init?.headers as Record<string, string> | undefined) } });
      return fetch(input, init);
    };
    const app = createMirrorApp({
      config: loadMirrorConfig({ MIRROR_API_KEY: KEY }),
      keys: new StaticKeySource([{ key: KEY }]),
      log: silentLogger,
      fetch: recordingFetch,
    });
    server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const s = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(s));
    });
    const mirrorUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    log("  waiting 15 s for Prometheus to hold some self-scraped data");
    await new Promise((r) => setTimeout(r, 15_000));

    const details = { host: "127.0.0.1", port: prom.port, requestTimeout: 10_000 };
    const cond = (key: string, value: string) => ({
      _type: "EqualityCondition",
      key,
      value: { _type: "StringValue", value },
    });
    const now = Date.now();
    const range = { startTime: now - 120_000, endTime: now, limit: 1000 };
    const signedDetails = {
      url: amp.workspaceUrl(),
      request_timeout_seconds: 10,
      aws: {
        aws_access_key_id: keys.accessKeyId,
        aws_secret_access_key: keys.secretAccessKey,
        region_name: "eu-west-1",
      },
    };
    const requests: [string, Record<string, unknown>, unknown?][] = [
      [
        "gauge (raw)",
        { conditions: [cond("__gauge__", "prometheus_tsdb_head_series"), cond("job", "self")], ...range },
      ],
      [
        "counter (rate)",
        {
          conditions: [cond("__counter__", "prometheus_http_requests_total"), cond("handler", "/metrics")],
          ...range,
        },
      ],
      [
        "aggregated (MAX, 10 s buckets)",
        {
          conditions: [cond("__gauge__", "prometheus_tsdb_head_series"), cond("job", "self")],
          ...range,
          aggregation: { _type: "Aggregation", method: "MAX", bucketSizeMillis: 10_000 },
        },
      ],
      [
        "gauge (raw), SigV4 to an AMP stand-in",
        { conditions: [cond("__gauge__", "prometheus_tsdb_head_series"), cond("job", "self")], ...range },
        signedDetails,
      ],
    ];
    const rows: MirrorRow[] = [];
    for (const [name, query, connectionDetails] of requests) {
      const body = JSON.stringify({
        _type: "MetricsRequest",
        connectionDetails: connectionDetails ?? details,
        query: { _type: "MetricsQuery", ...query },
      });
      const viaMirror = async () => {
        const res = await fetch(`${mirrorUrl}/api/metric`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-mirror-api-key": KEY },
          body,
        });
        const json = (await res.json()) as { _type?: string };
        if (res.status !== 200 || json._type !== "MetricsResponse") {
          throw new Error(`mirror answered ${res.status}: ${JSON.stringify(json).slice(0, 300)}`);
        }
      };
      recording = [];
      await viaMirror();
      const calls = recording;
      recording = undefined;
      // signed requests are replayed as signed (a signature holds for 5 minutes; re-recorded below)
      const direct = async () => {
        for (const { url, headers } of calls) {
          const res = await fetch(url, { headers });
          await res.arrayBuffer();
          if (!res.ok) throw new Error(`Prometheus answered ${res.status} for ${url}`);
        }
      };
      for (let i = 0; i < 20; i++) {
        await viaMirror();
        await direct();
      }
      const mirrorMs: number[] = [];
      const directMs: number[] = [];
      for (let i = 0; i < iterations; i++) {
        if (connectionDetails !== undefined && i % 100 === 0) {
          recording = [];
          await viaMirror();
          calls.splice(0, calls.length, ...recording);
          recording = undefined;
        }
        let t = performance.now();
        await viaMirror();
        mirrorMs.push(performance.now() - t);
        t = performance.now();
        await direct();
        directMs.push(performance.now() - t);
      }
      rows.push({
        request: name,
        mirrorMs,
        directMs,
        prometheusCalls: calls.length,
        ...(connectionDetails !== undefined ? { signed: true } : {}),
      });
    }
    return rows;
  } finally {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await amp?.close();
    await prom?.stop();
  }
}

/**
 * What the mirror adds, pair by pair: each iteration times the mirror and then the direct
 * calls back to back, so the added time is the percentile of those differences, not the
 * difference of two percentiles (two independent tails, which noise can put in either order).
 */
export function addedMs(r: Pick<MirrorRow, "mirrorMs" | "directMs">): number[] {
  return r.mirrorMs.map((m, i) => m - (r.directMs[i] ?? 0));
}

export function mirrorTable(rows: readonly MirrorRow[]): string {
  return table(
    [
      "request",
      "Prometheus calls",
      "direct p50 / p99 ms",
      "via mirror p50 / p99 ms",
      "added p50 / p99 ms (per pair)",
    ],
    rows.map((r) => {
      const added = addedMs(r);
      return [
        r.request,
        String(r.prometheusCalls),
        `${fmt(percentile(r.directMs, 50))} / ${fmt(percentile(r.directMs, 99))}`,
        `${fmt(percentile(r.mirrorMs, 50))} / ${fmt(percentile(r.mirrorMs, 99))}`,
        `${fmt(percentile(added, 50))} / ${fmt(percentile(added, 99))}`,
      ];
    }),
  );
}
