import { MIRROR_PATHS } from "../lib/core/routes";
import { MIRROR_DEFAULTS } from "../lib/mirror/config";
import {
  type AnswerStandInOptions,
  STANDIN_METRIC,
  STANDIN_T0,
  startAnswerStandIn,
} from "../test/support/answer-standin";
import type { ChildJob } from "../test/support/mirror-child";
import { runMirrorChild } from "../test/support/mirror-process";
import { fmt, table } from "./measure";

/**
 * Part 6: what the worst queries the mirror's defaults allow cost in memory. A stand-in
 * Prometheus (test/support/answer-standin.ts) streams answers far larger than the cap; the
 * mirror runs in a fresh Node process with a Lambda's heap (`--max-old-space-size=512`),
 * through the Lambda handler (one request, as a function instance serves them) and through
 * the app with two requests at once (as the local server may). The worst queries are those
 * that make the mirror parse a whole cap's worth: one series cut at the cap and answered in
 * part, and a `~` answer just under the cap, read whole. Peak heap is the largest heap in use
 * V8 reported before any garbage collection (`--trace-gc`) or sampled every 5 ms; peak RSS is
 * the kernel's high-water mark of the process.
 */

export interface MemoryRow {
  readonly query: string;
  readonly front: string;
  readonly concurrent: number;
  readonly status: string;
  readonly heapBeforeMb: number;
  readonly peakHeapMb: number;
  readonly rssBeforeMb: number;
  readonly peakRssMb: number;
  readonly heapLimitMb: number;
  readonly ms: number;
  /** Bytes of answer parsed per request (the cap, or what the stand-in sent). */
  readonly answerBytes: number;
}

const KEY = "bench-mirror-key-0123456789";
const MiB = 1024 * 1024;
const HOUR = 3_600_000;

const cond = (key: string, value: string) => ({
  _type: "EqualityCondition",
  key,
  value: { _type: "StringValue", value },
});

interface Scenario {
  readonly query: string;
  readonly standin: AnswerStandInOptions;
  readonly body: (port: number) => unknown;
  readonly answerBytes: number;
}

export async function measureMirrorMemory(rounds: number, log: (line: string) => void): Promise<MemoryRow[]> {
  const cap = MIRROR_DEFAULTS.maxAnswerBytes;
  const details = (port: number) => ({ host: "127.0.0.1", port, requestTimeout: 25_000 });
  const scenarios: Scenario[] = [
    {
      query: "a month of one gauge series (300 MB), cut at the cap: answered in part",
      standin: { matrix: { bytes: 300 * MiB, series: 1, stepMs: 1000 } },
      body: (port) => ({
        _type: "MetricsRequest",
        connectionDetails: details(port),
        query: {
          _type: "MetricsQuery",
          conditions: [cond("__gauge__", STANDIN_METRIC)],
          startTime: STANDIN_T0,
          endTime: STANDIN_T0 + 30 * 24 * HOUR,
          limit: 11_000,
          aggregation: { _type: "Aggregation", method: "PERCENTILE_99", bucketSizeMillis: HOUR },
        },
      }),
      answerBytes: cap,
    },
    {
      query: "a ~ answer just under the cap (500 series): read whole, conditions-ambiguous",
      standin: { matrix: { bytes: cap - 256 * 1024, series: 500 } },
      body: (port) => ({
        _type: "MetricsRequest",
        connectionDetails: details(port),
        query: {
          _type: "MetricsQuery",
          conditions: [cond("~", STANDIN_METRIC)],
          startTime: STANDIN_T0,
          endTime: STANDIN_T0 + HOUR,
          limit: 11_000,
        },
      }),
      answerBytes: cap - 256 * 1024,
    },
  ];
  const fronts: Array<{ front: ChildJob["front"]; concurrent: number }> = [
    { front: "lambda", concurrent: 1 },
    { front: "app", concurrent: 2 },
  ];
  const rows: MemoryRow[] = [];
  for (const scenario of scenarios) {
    for (const { front, concurrent } of fronts) {
      let worst: MemoryRow | undefined;
      for (let round = 0; round < rounds; round++) {
        const standin = await startAnswerStandIn(scenario.standin);
        try {
          const run = await runMirrorChild(
            {
              front,
              env: {
                MIRROR_API_KEY: KEY,
                MIRROR_ALLOWED_TARGETS: `127.0.0.1:${standin.port}`,
                LOG_LEVEL: "error",
              },
              key: KEY,
              requests: [{ path: MIRROR_PATHS.metric, body: scenario.body(standin.port) }],
              concurrent,
            },
            { heapMb: 512, nodeFlags: ["--trace-gc"], timeoutMs: 120_000 },
          );
          const m = run.memory;
          const row: MemoryRow = {
            query: scenario.query,
            front,
            concurrent,
            status: [...new Set(run.answers.map((a) => statusOf(a.status, a.body)))].join(", "),
            heapBeforeMb: m.heapUsedBefore / MiB,
            peakHeapMb: Math.max(m.heapUsed / MiB, peakHeapFromGcTrace(run.stdout)),
            rssBeforeMb: m.rssBefore / MiB,
            peakRssMb: m.maxRss / MiB,
            heapLimitMb: m.heapLimit / MiB,
            ms: Math.max(...run.answers.map((a) => a.ms)),
            answerBytes: scenario.answerBytes,
          };
          if (worst === undefined || row.peakRssMb > worst.peakRssMb) worst = row;
        } finally {
          await standin.close();
        }
      }
      log(
        `  ${front} ×${concurrent}: ${scenario.query}: peak heap ${fmt(worst!.peakHeapMb)} MB, RSS ${fmt(worst!.peakRssMb)} MB`,
      );
      rows.push(worst!);
    }
  }
  return rows;
}

function statusOf(status: number, body: unknown): string {
  if (status !== 200) {
    const details = (body as { details?: string } | null)?.details ?? "";
    return `${status} ${/^\[([a-z-]+)\]/.exec(details)?.[1] ?? ""}`.trim();
  }
  const partial = (body as { telemetry?: { isPartial?: boolean } } | null)?.telemetry?.isPartial;
  return partial ? "200 isPartial" : "200";
}

/**
 * The largest heap in use before a collection, from V8's `--trace-gc` lines
 * (`… Mark-Compact 150.2 (160.1) -> 80.3 (90.2) MB, …`): the heap grows only until the next one.
 */
export function peakHeapFromGcTrace(output: string): number {
  let peak = 0;
  for (const m of output.matchAll(/ ms: [^0-9]*?([\d.]+) \([\d.]+\) -> /g)) {
    peak = Math.max(peak, Number(m[1]));
  }
  return peak;
}

export function mirrorMemoryTable(rows: readonly MemoryRow[]): string {
  return table(
    [
      "worst query the defaults allow",
      "front",
      "at once",
      "answered",
      "heap before → peak, MB",
      "RSS before → peak, MB",
      "per MB of answer: heap / RSS",
      "ms",
    ],
    rows.map((r) => {
      const answerMb = (r.answerBytes / MiB) * r.concurrent;
      return [
        r.query,
        r.front === "lambda" ? "Lambda handler" : "app (local server)",
        String(r.concurrent),
        r.status,
        `${fmt(r.heapBeforeMb)} → ${fmt(r.peakHeapMb)} (limit ${fmt(r.heapLimitMb)})`,
        `${fmt(r.rssBeforeMb)} → ${fmt(r.peakRssMb)}`,
        `${fmt((r.peakHeapMb - r.heapBeforeMb) / answerMb, 2)} / ${fmt((r.peakRssMb - r.rssBeforeMb) / answerMb, 2)}`,
        fmt(r.ms),
      ];
    }),
  );
}
