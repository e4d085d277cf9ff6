import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalGateway, startLocalGateway } from "../../functions/local/gateway";
import { waitFor } from "../../functions/local/ports";
import { PROJECT_ROOT } from "../../infra/paths";
import { METRIC_NAMES, prometheusName, REQUEST_DURATION } from "../../lib/core/metric-names";
import { REMOTE_WRITE_PATH } from "../../lib/core/routes";
import { realisticSeries, snappy, v1Message } from "../fixtures/remote-write";
import {
  PROMTOOL_BIN,
  prometheusAvailable,
  type RunningPrometheus,
  startPrometheus,
} from "../support/prometheus";
import { type StrictStream, startStrictStream } from "../support/strict-kinesis";

/**
 * examples/prometheus.yml as a user runs it: promtool accepts it, and a real Prometheus started
 * with it (its ports and key set to this run's) remote-writes to the local server and scrapes
 * its /metrics; a query through Prometheus's HTTP API sees the gateway's counters rise after a
 * remote write.
 */
const KEY = "scrape-key-0f3a";
const EXAMPLE = join(PROJECT_ROOT, "examples", "prometheus.yml");
const run = prometheusAvailable();

describe.skipIf(!run)("examples/prometheus.yml", () => {
  it("passes promtool check config", async () => {
    const { stdout } = await promisify(execFile)(PROMTOOL_BIN, ["check", "config", EXAMPLE]);
    expect(stdout).toContain("SUCCESS");
  });

  it("is the file the README points to", () => {
    expect(readFileSync(join(PROJECT_ROOT, "README.md"), "utf8")).toContain("(examples/prometheus.yml)");
  });
});

describe.skipIf(!run)("a real Prometheus scraping the local server's /metrics", () => {
  let stream: StrictStream;
  let gateway: LocalGateway;
  let prometheus: RunningPrometheus;

  beforeAll(async () => {
    stream = await startStrictStream({ streamName: "scrape", shards: 2 });
    gateway = await startLocalGateway({
      port: 0,
      apiKey: KEY,
      env: {
        KINESIS_ENDPOINT: stream.endpoint,
        KINESIS_STREAM_NAME: "scrape",
        AWS_REGION: stream.region,
        LOG_LEVEL: "error",
      },
    });
    const config = readFileSync(EXAMPLE, "utf8")
      .replaceAll("15s", "1s")
      .replaceAll("127.0.0.1:9900", `127.0.0.1:${gateway.port}`)
      .replaceAll("127.0.0.1:9090", "127.0.0.1:{{PORT}}")
      .replace("REPLACE_WITH_THE_API_KEY", KEY);
    expect(config).toContain(`127.0.0.1:${gateway.port}/api/v1/write`);
    prometheus = await startPrometheus({
      configYaml: config,
      extraFlags: ["--storage.remote.flush-deadline=2s"],
    });
  }, 120_000);

  afterAll(async () => {
    // the sender first, so it is not left retrying against a stopped gateway
    await prometheus?.stop();
    await gateway?.stop();
    if (stream) expect(stream.strict.stats.refusals).toEqual([]);
    await stream?.stop();
  });

  async function query(
    promql: string,
  ): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const res = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as { status: string; data: { result: never[] } };
    expect(body.status).toBe("success");
    return body.data.result;
  }
  const scalar = async (promql: string) => {
    const [first] = await query(promql);
    return first === undefined ? undefined : Number(first.value[1]);
  };

  it("scrapes it (up is 1) and sees a counter rise after a remote write", async () => {
    const samples = prometheusName(METRIC_NAMES.samplesReceived);
    await waitFor(
      "the gateway's counters in Prometheus",
      async () => (await scalar(`${samples}{job="prometheus-gateway"}`)) !== undefined,
      60_000,
      500,
    );
    expect(await scalar('up{job="prometheus-gateway"}')).toBe(1);
    const before = (await scalar(`${samples}{job="prometheus-gateway"}`))!;

    const sent = 50 * 2;
    const res = await fetch(`${gateway.url}${REMOTE_WRITE_PATH}`, {
      method: "POST",
      headers: { "sts-api-key": KEY, "content-type": "application/x-protobuf", "content-encoding": "snappy" },
      body: snappy(v1Message(realisticSeries(50, 2))),
    });
    expect(res.status).toBe(204);
    await waitFor(
      `${samples} up by at least ${sent}`,
      async () => ((await scalar(`${samples}{job="prometheus-gateway"}`)) ?? 0) >= before + sent,
      60_000,
      500,
    );
  });

  it("receives Prometheus's own remote write, and has its requests in the duration histogram", async () => {
    // Prometheus's remote write (of its scrapes) reaches the gateway: the stream has records
    const records = prometheusName(METRIC_NAMES.recordsWritten);
    await waitFor(
      "records written, and the remote-write route timed",
      async () =>
        ((await scalar(`${records}{job="prometheus-gateway"}`)) ?? 0) > 0 &&
        ((await scalar(
          `sum(${REQUEST_DURATION.name}_count{job="prometheus-gateway",route="${REMOTE_WRITE_PATH}",outcome="2xx"})`,
        )) ?? 0) > 0,
      60_000,
      500,
    );
    // the histogram is one Prometheus reads as such: quantiles over its buckets
    const quantile = await scalar(
      `histogram_quantile(0.5, sum by (le) (${REQUEST_DURATION.name}_bucket{job="prometheus-gateway",route="${REMOTE_WRITE_PATH}"}))`,
    );
    expect(quantile).toBeGreaterThan(0);
    // the scrape itself is timed under /metrics
    expect(
      await scalar(`sum(${REQUEST_DURATION.name}_count{job="prometheus-gateway",route="/metrics"})`),
    ).toBeGreaterThan(0);
  });
});
