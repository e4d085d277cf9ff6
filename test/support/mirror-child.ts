/**
 * Runs mirror requests in this process and reports what they cost it: started by
 * mirror-process.ts in a fresh Node process (e.g. with `--max-old-space-size=512`, a Lambda's
 * heap), with the job as JSON in MIRROR_CHILD_JOB. The requests go through the mirror app
 * in-process (`app`) or through the Lambda handler with API Gateway REST events (`lambda`),
 * `concurrent` copies at once. It prints one line `RESULT {answers, memory, ms}`; everything
 * else it prints (logs, EMF metrics) is the mirror's.
 */
import { getHeapStatistics } from "node:v8";
import { createMirrorApp } from "../../functions/mirror/app";
import { StaticKeySource } from "../../lib/core/auth";
import { silentLogger } from "../../lib/core/log";
import { loadMirrorConfig } from "../../lib/mirror/config";
import { restEvent } from "../fixtures/api-gateway";

export interface ChildJob {
  readonly front: "app" | "lambda";
  /** The mirror's environment (the Lambda handler reads it at its cold start). */
  readonly env: Record<string, string>;
  readonly key: string;
  readonly requests: ReadonlyArray<{ readonly path: string; readonly body: unknown }>;
  /** Copies of the requests sent at once (default 1). */
  readonly concurrent?: number;
}

export interface ChildAnswer {
  readonly status: number;
  /** The body, parsed when it is JSON; a long body is cut to its first 2000 characters. */
  readonly body: unknown;
  readonly bytes: number;
  readonly ms: number;
}

export interface ChildMemory {
  /** Highest sampled (every 5 ms and at the end) resident set size, bytes. */
  readonly rss: number;
  /** The kernel's peak resident set size of the process, bytes. */
  readonly maxRss: number;
  /** Highest sampled heap in use, bytes. */
  readonly heapUsed: number;
  /** Highest sampled heap size V8 had reserved (follows the peak of the heap in use), bytes. */
  readonly heapTotal: number;
  /** Highest sampled memory of ArrayBuffers (the answer's bytes as read), bytes. */
  readonly arrayBuffers: number;
  /** The process's heap limit, bytes. */
  readonly heapLimit: number;
  /** Before the requests: heap in use and RSS, bytes. */
  readonly heapUsedBefore: number;
  readonly rssBefore: number;
}

export const RESULT_PREFIX = "RESULT ";

type LambdaHandler = (event: unknown, context: unknown) => Promise<{ statusCode: number; body: string }>;

async function main(): Promise<void> {
  const job = JSON.parse(process.env.MIRROR_CHILD_JOB ?? "") as ChildJob;
  const headers = { "content-type": "application/json" };
  let send: (path: string, body: string) => Promise<{ status: number; text: string }>;
  if (job.front === "app") {
    const app = createMirrorApp({
      config: loadMirrorConfig(job.env),
      keys: new StaticKeySource([{ key: job.key }]),
      log: silentLogger,
    });
    send = async (path, body) => {
      const res = await app.request(path, { method: "POST", headers, body });
      return { status: res.status, text: await res.text() };
    };
  } else {
    Object.assign(process.env, job.env);
    const { handler } = (await import("../../functions/mirror/handler")) as unknown as {
      handler: LambdaHandler;
    };
    let n = 0;
    send = async (path, body) => {
      const until = Date.now() + 28_000;
      const context = { awsRequestId: `req-${++n}`, getRemainingTimeInMillis: () => until - Date.now() };
      const res = await handler(restEvent(path, body, headers), context);
      return { status: res.statusCode, text: res.body };
    };
  }

  const before = process.memoryUsage();
  const peak = { rss: before.rss, heapUsed: before.heapUsed, heapTotal: before.heapTotal, arrayBuffers: 0 };
  const sample = () => {
    const m = process.memoryUsage();
    peak.rss = Math.max(peak.rss, m.rss);
    peak.heapUsed = Math.max(peak.heapUsed, m.heapUsed);
    peak.heapTotal = Math.max(peak.heapTotal, m.heapTotal);
    peak.arrayBuffers = Math.max(peak.arrayBuffers, m.arrayBuffers);
  };
  const timer = setInterval(sample, 5);
  const started = Date.now();
  const copies = Array.from({ length: job.concurrent ?? 1 }, async () => {
    const out: ChildAnswer[] = [];
    for (const request of job.requests) {
      const t0 = Date.now();
      const res = await send(request.path, JSON.stringify(request.body));
      let body: unknown = res.text.slice(0, 2000);
      try {
        body = JSON.parse(res.text);
      } catch {
        // left as (cut) text
      }
      out.push({ status: res.status, body, bytes: res.text.length, ms: Date.now() - t0 });
    }
    return out;
  });
  const answers = (await Promise.all(copies)).flat();
  sample();
  clearInterval(timer);
  const memory: ChildMemory = {
    ...peak,
    maxRss: process.resourceUsage().maxRSS * 1024,
    heapLimit: getHeapStatistics().heap_size_limit,
    heapUsedBefore: before.heapUsed,
    rssBefore: before.rss,
  };
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify({ answers, memory, ms: Date.now() - started })}\n`);
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
