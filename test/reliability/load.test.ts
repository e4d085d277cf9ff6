import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedKinesis, startEmbeddedKinesis } from "../../functions/local/embedded-kinesis";
import { type RunningPrometheus, startPrometheus } from "../support/prometheus";
import { type StrictKinesis, startStrictKinesis } from "../support/strict-kinesis";
import { type GatewayProcess, startGatewayProcess } from "./gateway-process";
import {
  prometheusConfig,
  prometheusPresent,
  remoteWriteCounters,
  rssMiB,
  sleep,
  startSyntheticTarget,
  until,
} from "./harness";

/**
 * Sustained load: a real Prometheus scrapes a synthetic target of SERIES series every
 * 5 s and remote-writes everything to the gateway (in its own process, writing to
 * kinesis-local through a front that refuses what AWS refuses and holds each shard to AWS's
 * write limits, test/support/strict-kinesis.ts) for LOAD_SECONDS (SOAK_SECONDS for the long run). Nothing may fail or be
 * retried, and the gateway's memory must stay flat.
 */
const SECONDS = Number(process.env.SOAK_SECONDS ?? process.env.LOAD_SECONDS ?? 75);
const SERIES = Number(process.env.LOAD_SERIES ?? 50_000);
const SCRAPE_SECONDS = 5;
const STREAM = "load-test";
const run = prometheusPresent("the load test");

describe.skipIf(!run)(`load: ${SERIES} series every ${SCRAPE_SECONDS} s for ${SECONDS} s`, () => {
  let kinesis: EmbeddedKinesis;
  let strict: StrictKinesis;
  let gateway: GatewayProcess;
  let target: Awaited<ReturnType<typeof startSyntheticTarget>>;
  let prom: RunningPrometheus | undefined;

  beforeAll(async () => {
    kinesis = await startEmbeddedKinesis();
    await kinesis.createStream(STREAM, 4);
    strict = await startStrictKinesis({ target: kinesis.endpoint, region: kinesis.region });
    gateway = await startGatewayProcess({
      KINESIS_ENDPOINT: strict.endpoint,
      KINESIS_STREAM_NAME: STREAM,
      LOG_LEVEL: "error",
    });
    target = await startSyntheticTarget(SERIES, "load_gauge");
  }, 90_000);

  afterAll(async () => {
    await prom?.stop();
    await target?.close();
    await gateway?.stop();
    await strict?.stop();
    await kinesis?.stop();
  });

  it(
    "writes everything with no error, no retry, no failed sample, and flat gateway memory",
    async () => {
      const idleRss = rssMiB(gateway.pid);
      prom = await startPrometheus({
        configYaml: prometheusConfig({
          target: target.hostPort,
          writeUrl: `${gateway.url}/api/v1/write`,
          apiKey: gateway.apiKey,
          scrapeInterval: `${SCRAPE_SECONDS}s`,
          capacity: 20_000,
        }),
        extraFlags: ["--storage.remote.flush-deadline=5s"],
      });
      const url = prom.url;
      expect(await until(async () => (await remoteWriteCounters(url)).sent > 0, 60_000)).toBe(true);
      const startedAt = Date.now();
      const rss: { t: number; mib: number }[] = [];
      while (Date.now() - startedAt < SECONDS * 1000) {
        await sleep(5_000);
        rss.push({ t: (Date.now() - startedAt) / 1000, mib: rssMiB(gateway.pid) });
      }
      // let the queue drain, then read the counters
      await until(async () => (await remoteWriteCounters(url)).pending === 0, 30_000);
      const c = await remoteWriteCounters(url);
      const scrapes = target.scrapes();
      const third = Math.max(1, Math.floor(rss.length / 3));
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
      const early = median(rss.slice(0, third).map((x) => x.mib));
      const late = median(rss.slice(-third).map((x) => x.mib));
      console.log(
        `load: ${SERIES} series, ${scrapes} scrapes, Prometheus sent ${c.sent} samples ` +
          `(failed ${c.failed}, dropped ${c.dropped}, retried ${c.retried}, pending ${c.pending}); ` +
          `gateway RSS idle ${idleRss.toFixed(0)} MiB, first third ${early.toFixed(0)} MiB, last third ${late.toFixed(0)} MiB, ` +
          `start ${rss[0]?.mib.toFixed(0)} → end ${rss.at(-1)?.mib.toFixed(0)} MiB (max ${Math.max(...rss.map((x) => x.mib)).toFixed(0)}); ` +
          `strict front ${JSON.stringify(strict.stats)}`,
      );
      expect(c.failed).toBe(0);
      expect(c.dropped).toBe(0);
      expect(c.retried).toBe(0);
      expect(c.pending).toBe(0);
      // everything scraped while running was sent: at least the series of all but two scrapes
      expect(c.sent).toBeGreaterThanOrEqual(SERIES * Math.max(1, scrapes - 2));
      expect(late).toBeLessThan(early * 1.25 + 25);
      expect(strict.stats.refusals).toEqual([]);
    },
    (SECONDS + 180) * 1000,
  );
});
