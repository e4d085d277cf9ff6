import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedKinesis, startEmbeddedKinesis } from "../../functions/local/embedded-kinesis";
import { type LocalGateway, startLocalGateway } from "../../functions/local/gateway";
import { type RunningPrometheus, startPrometheus } from "../support/prometheus";
import { type StrictKinesis, startStrictKinesis } from "../support/strict-kinesis";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy";
import {
  type Listening,
  prometheusConfig,
  prometheusPresent,
  prometheusSamples,
  remoteWriteCounters,
  sleep,
  startSyntheticTarget,
  startTallyProxy,
  streamSamples,
  type Tally,
  until,
} from "./harness";

/**
 * A Kinesis outage under a real Prometheus: the gateway reaches kinesis-local through a
 * TCP proxy that is cut for CUT_SECONDS, then restored, and behind it a front that refuses
 * what AWS refuses (test/support/strict-kinesis.ts). Prometheus must be answered 503
 * (so it keeps the data and retries) and, in the end, every sample Prometheus stored for
 * the scraped series over the whole window must be in the stream.
 */
const CUT_SECONDS = Number(process.env.OUTAGE_CUT_SECONDS ?? 30);
const STREAM = "outage-test";
const SERIES = 300;
const run = prometheusPresent("the Kinesis outage test");

describe.skipIf(!run)("Kinesis outage between the gateway and the stream", () => {
  let kinesis: EmbeddedKinesis;
  let strict: StrictKinesis;
  let proxy: TcpProxy;
  let gateway: LocalGateway;
  let front: Listening & { tally: Tally };
  let target: Awaited<ReturnType<typeof startSyntheticTarget>>;
  let prom: RunningPrometheus | undefined;
  const started = Date.now();

  beforeAll(async () => {
    kinesis = await startEmbeddedKinesis();
    await kinesis.createStream(STREAM, 2);
    strict = await startStrictKinesis({ target: kinesis.endpoint, region: kinesis.region });
    proxy = await startTcpProxy({ port: Number(new URL(strict.endpoint).port) });
    gateway = await startLocalGateway({
      port: 0,
      env: {
        KINESIS_ENDPOINT: proxy.url,
        KINESIS_STREAM_NAME: STREAM,
        PUT_DEADLINE_MS: "2000",
        RETRY_AFTER_SECONDS: "1",
        LOG_LEVEL: "error",
      },
    });
    front = await startTallyProxy(gateway.url);
    target = await startSyntheticTarget(SERIES, "outage_gauge");
  }, 90_000);

  afterAll(async () => {
    // Prometheus first, so it does not keep retrying into a closed server
    await prom?.stop();
    await front?.close();
    await target?.close();
    await gateway?.stop();
    await proxy?.close();
    await strict?.stop();
    await kinesis?.stop();
  });

  it(
    `keeps every sample through a ${CUT_SECONDS} s cut: 503 during it, nothing failed or lost`,
    async () => {
      prom = await startPrometheus({
        configYaml: prometheusConfig({
          target: target.hostPort,
          writeUrl: `${front.url}/api/v1/write`,
          apiKey: gateway.apiKey,
          scrapeInterval: "1s",
        }),
        extraFlags: ["--storage.remote.flush-deadline=2s"],
      });
      const url = prom.url;
      // the first batch comes ~8 s after start; wait for a few accepted writes
      expect(await until(async () => front.tally.count(204) >= 3, 40_000)).toBe(true);
      const before = await remoteWriteCounters(url);
      expect(before.sent).toBeGreaterThan(0);

      proxy.cut();
      const cutAt = Date.now();
      await sleep(CUT_SECONDS * 1000);
      const during503 = front.tally.count(503);
      const during2xx = front.tally.count(204);
      proxy.restore();
      const restoredAt = Date.now();

      // caught up: Prometheus has sent everything up to a scrape taken after the restore
      const caughtUp = await until(
        async () => {
          const c = await remoteWriteCounters(url);
          return c.pending === 0 && c.sentTs * 1000 >= restoredAt + 3000;
        },
        60_000,
        500,
      );
      expect(caughtUp).toBe(true);
      const at = Date.now() / 1000;
      const after = await remoteWriteCounters(url);
      const held = await prometheusSamples(
        url,
        '{job="synthetic",__name__="outage_gauge"}',
        at - started / 1000 + 5,
        at,
      );
      await prom.stop();
      prom = undefined;

      const { samples: inStream, records } = await streamSamples(
        kinesis.client,
        STREAM,
        (l) => l.__name__ === "outage_gauge",
      );
      const missing = [...held].filter((k) => !inStream.has(k));
      const duplicates = [...inStream.values()].reduce((n, c) => n + (c - 1), 0);
      console.log(
        `outage: cut ${Math.round((restoredAt - cutAt) / 1000)} s; answers ${JSON.stringify(Object.fromEntries(front.tally.statuses))}; ` +
          `Prometheus held ${held.size} samples, stream has ${inStream.size} distinct (${duplicates} duplicates, ${records} records), ` +
          `missing ${missing.length}; Prometheus counters ${JSON.stringify(after)}; proxy ${JSON.stringify(proxy.stats)}; ` +
          `strict front ${JSON.stringify(strict.stats)}`,
      );

      expect(during503).toBeGreaterThan(0);
      expect(front.tally.count(500)).toBe(0);
      expect(after.failed).toBe(0);
      expect(after.dropped).toBe(0);
      expect(after.retried).toBeGreaterThan(before.retried);
      // the window covers the cut: Prometheus scraped throughout and holds those samples
      expect(held.size).toBeGreaterThan(SERIES * (CUT_SECONDS + 5));
      expect(missing.slice(0, 5)).toEqual([]);
      expect(during2xx).toBeGreaterThanOrEqual(3);
      expect(strict.stats.refusals).toEqual([]);
    },
    (CUT_SECONDS + 150) * 1000,
  );
});
