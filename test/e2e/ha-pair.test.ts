import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalGateway, startLocalGateway } from "../../functions/local/gateway";
import { waitFor } from "../../functions/local/ports";
import { prometheusAvailable, type RunningPrometheus, startPrometheus } from "../support/prometheus";
import { streamContents } from "../support/stream";
import { type StrictStream, startStrictStream } from "../support/strict-kinesis";

/**
 * A real HA pair: two Debian Prometheus processes with the same scrape target and the
 * external labels `cluster` (the same) and `__replica__` (their own), writing through the
 * local server with HA_DEDUP=true. Each also scrapes itself, so the stream tells which
 * replica is elected: only the elected one's self-scrape (its own `instance`) gets in.
 * The elected one is killed (SIGKILL, no flush); the other must take over within the
 * failover timeout, with no gap in the shared series longer than the timeout, no sample of
 * the shared series twice, and no `__replica__` label anywhere in the stream.
 */
const KEY = "ha-pair-key-51c0de";
const UPDATE_S = 1;
const FAILOVER_S = 3;
const SCRAPE_S = 1;
/** Prometheus's batch_send_deadline: the longest a scraped sample waits to be sent. */
const BATCH_S = 0.5;
const run = prometheusAvailable();

const promConfig = (replica: string, url: string, target: string) => `
global:
  scrape_interval: ${SCRAPE_S}s
  external_labels:
    cluster: pair-a
    __replica__: ${replica}
scrape_configs:
  - job_name: shared
    static_configs:
      - targets: ["${target}"]
  - job_name: self
    static_configs:
      - targets: ["127.0.0.1:{{PORT}}"]
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: prometheus_build_info
        action: keep
remote_write:
  - url: ${url}
    basic_auth:
      username: apikey
      password: ${KEY}
    queue_config:
      batch_send_deadline: ${BATCH_S * 1000}ms
      min_backoff: 100ms
      max_backoff: 500ms
`;

describe.skipIf(!run)("HA pair of real Prometheus processes through the local server", () => {
  let stream: StrictStream;
  let gateway: LocalGateway;
  let target: Server;
  const replicas = new Map<string, RunningPrometheus>();

  beforeAll(async () => {
    target = createServer((_req, res) => {
      res.setHeader("Content-Type", "text/plain; version=0.0.4");
      res.end("# TYPE ha_pair_shared gauge\nha_pair_shared 42\n");
    });
    await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", resolve));
    const targetAddress = `127.0.0.1:${(target.address() as AddressInfo).port}`;
    stream = await startStrictStream({ streamName: "ha-pair", shards: 2 });
    gateway = await startLocalGateway({
      port: 0,
      apiKey: KEY,
      env: {
        KINESIS_ENDPOINT: stream.endpoint,
        KINESIS_STREAM_NAME: "ha-pair",
        AWS_REGION: stream.region,
        LOG_LEVEL: "error",
        HA_DEDUP: "true",
        HA_UPDATE_TIMEOUT_SECONDS: String(UPDATE_S),
        HA_FAILOVER_TIMEOUT_SECONDS: String(FAILOVER_S),
      },
    });
    for (const replica of ["r1", "r2"]) {
      replicas.set(
        replica,
        await startPrometheus({
          configYaml: promConfig(replica, `${gateway.url}/api/v1/write`, targetAddress),
          extraFlags: ["--storage.remote.flush-deadline=1s"],
        }),
      );
    }
  }, 120_000);

  afterAll(async () => {
    for (const p of replicas.values()) await p.stop().catch(() => {});
    await gateway?.stop();
    await stream?.stop();
    await new Promise((resolve) => target?.close(resolve));
  });

  /** The replicas whose self-scrape is in the stream, by their port. */
  async function contents() {
    const { series } = await streamContents(stream.kinesis.client, "ha-pair");
    const selfPorts = new Set(
      series.filter((s) => s.labels.job === "self").map((s) => s.labels.instance?.split(":")[1]),
    );
    const elected = [...replicas].filter(([, p]) => selfPorts.has(String(p.port))).map(([r]) => r);
    return { series, elected };
  }

  /** The shared series' sample timestamps, in stream order. */
  const sharedTimes = (series: Awaited<ReturnType<typeof contents>>["series"]) =>
    series
      .filter((s) => s.labels.__name__ === "ha_pair_shared")
      .flatMap((s) => s.samples.map((x) => Number(x.timestamp)));

  it("writes one replica's samples, without its replica label, and takes over when it dies", async () => {
    await waitFor(
      "five samples of the shared series and one replica's self-scrape in the stream, the other's dropped",
      async () => {
        const { series, elected } = await contents();
        return (
          elected.length === 1 &&
          sharedTimes(series).length >= 5 &&
          /ha_requests_dropped_total\{reason="replica-not-elected"\} [1-9]/.test(gateway.metrics.expose())
        );
      },
      90_000,
      500,
    );
    const before = await contents();
    expect(before.elected).toHaveLength(1);
    const first = before.elected[0]!;
    const second = first === "r1" ? "r2" : "r1";
    const lastBefore = Math.max(...sharedTimes(before.series));

    const killedAt = Date.now();
    await replicas.get(first)!.kill();
    await waitFor(
      `${second} to take over`,
      async () => (await contents()).elected.includes(second),
      (FAILOVER_S + 20) * 1000,
      250,
    );
    const tookOverAt = Date.now();
    await waitFor(
      `three samples of the shared series from ${second}`,
      async () => sharedTimes((await contents()).series).filter((t) => t > lastBefore).length >= 3,
      30_000,
      250,
    );
    const { series } = await contents();
    for (const s of series) {
      expect(s.labels.__replica__, JSON.stringify(s.labels)).toBeUndefined();
      expect(s.labels.cluster).toBe("pair-a");
    }
    // the shared series: strictly increasing timestamps (one writer at a time), no gap over the timeout
    const shared = sharedTimes(series);
    let widest = 0;
    for (let i = 1; i < shared.length; i++) {
      expect(shared[i]!, `sample ${i} after ${shared[i - 1]}`).toBeGreaterThan(shared[i - 1]!);
      widest = Math.max(widest, shared[i]! - shared[i - 1]!);
    }
    // At most the timeout, plus what samples themselves add: the elected replica's last
    // written sample is up to a batch deadline older than its last request, and the survivor's
    // first written sample is the first scrape it sends after the timeout (one scrape
    // interval at most). The take-over itself comes within the timeout of the elected
    // replica's last seen time.
    console.log(
      `HA pair: ${first} elected, ${second} took over ${tookOverAt - killedAt} ms after the kill; widest gap in the shared series ${widest} ms`,
    );
    expect(widest).toBeLessThanOrEqual((FAILOVER_S + SCRAPE_S + BATCH_S) * 1000);
    expect(gateway.metrics.expose()).toMatch(/ha_failovers_total [1-9]/);
    // the take-over came within the timeout of the kill, plus the time a batch takes to be sent
    expect(tookOverAt - killedAt).toBeLessThanOrEqual((FAILOVER_S + UPDATE_S + 5) * 1000);
    expect(stream.strict.stats.refusals).toEqual([]);
  }, 180_000);
});
