import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalGateway, startLocalGateway } from "../../functions/local/gateway";
import { waitFor } from "../../functions/local/ports";
import { prometheusAvailable, type RunningPrometheus, startPrometheus } from "../support/prometheus";
import { streamContents } from "../support/stream";
import { type StrictStream, startStrictStream } from "../support/strict-kinesis";
import { startVmagent, vmagentAvailable } from "../support/vmagent";

/**
 * End to end with real senders: Debian's Prometheus with basic auth, vmagent with the
 * sts-api-key header, and a Prometheus holding a wrong key. Series such as `up` and
 * `prometheus_build_info` must arrive in the stream with the values Prometheus itself
 * stores; the wrong key must get 401 and write nothing. The local server writes to
 * kinesis-local through a front that refuses what AWS refuses (test/support/strict-kinesis.ts).
 */
const KEY = "e2e-key-3b9d0c";
const run = prometheusAvailable() && vmagentAvailable();

const promConfig = (source: string, url: string, password: string) => `
global:
  scrape_interval: 1s
  external_labels:
    source: ${source}
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["127.0.0.1:{{PORT}}"]
remote_write:
  - url: ${url}
    basic_auth:
      username: apikey
      password: ${password}
    queue_config:
      batch_send_deadline: 1s
      min_backoff: 100ms
      max_backoff: 1s
`;

describe.skipIf(!run)("remote write from a real Prometheus and vmagent", () => {
  let stream: StrictStream;
  let gateway: LocalGateway;
  let good: RunningPrometheus;
  let wrong: RunningPrometheus;
  let vmagent: Awaited<ReturnType<typeof startVmagent>>;
  const stopping: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    stream = await startStrictStream({ streamName: "e2e", shards: 4 });
    gateway = await startLocalGateway({
      port: 0,
      apiKey: KEY,
      env: {
        KINESIS_ENDPOINT: stream.endpoint,
        KINESIS_STREAM_NAME: "e2e",
        AWS_REGION: stream.region,
        LOG_LEVEL: "error",
      },
    });
    const flags = ["--storage.remote.flush-deadline=2s"];
    good = await startPrometheus({
      configYaml: promConfig("basic", `${gateway.url}/api/v1/write`, KEY),
      extraFlags: flags,
    });
    stopping.push(() => good.stop());
    wrong = await startPrometheus({
      configYaml: promConfig("wrong", `${gateway.url}/receiver/prometheus/api/v1/write`, "not-the-key"),
      extraFlags: flags,
    });
    stopping.push(() => wrong.stop());
    vmagent = await startVmagent({
      url: `${gateway.url}/receiver/prometheus/api/v1/write`,
      headers: `sts-api-key:${KEY}`,
      labels: "source=vmagent",
      scrapeYaml: `scrape_configs:\n  - job_name: prometheus\n    scrape_interval: 1s\n    static_configs:\n      - targets: ["${good.url.replace("http://", "")}"]\n`,
    });
    stopping.push(() => vmagent.stop());
  }, 120_000);

  afterAll(async () => {
    // senders first, so none is left retrying against a stopped receiver
    for (const stop of stopping.reverse()) await stop().catch(() => {});
    await gateway?.stop();
    await stream?.stop();
  });

  async function seriesFrom(source: string) {
    const { series } = await streamContents(stream.kinesis.client, "e2e");
    return series.filter((s) => s.labels.source === source);
  }

  async function query(
    promql: string,
  ): Promise<{ metric: Record<string, string>; values?: [number, string][]; value?: [number, string] }[]> {
    const res = await fetch(`${good.url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as { data: { result: never[] } };
    return body.data.result;
  }

  it("Prometheus with basic auth: up and prometheus_build_info arrive with Prometheus's own values", async () => {
    await waitFor(
      "up and prometheus_build_info from Prometheus in the stream",
      async () => {
        const names = new Set((await seriesFrom("basic")).map((s) => s.labels.__name__));
        return names.has("up") && names.has("prometheus_build_info");
      },
      60_000,
      1_000,
    );
    const series = await seriesFrom("basic");

    const [build] = await query("prometheus_build_info");
    expect(build).toBeDefined();
    const streamed = series.filter((s) => s.labels.__name__ === "prometheus_build_info");
    expect(streamed.length).toBeGreaterThan(0);
    for (const s of streamed) {
      const { source: _source, ...labels } = s.labels;
      expect(labels).toEqual(build!.metric);
      for (const sample of s.samples) expect(sample.value).toBe(Number(build!.value![1]));
    }

    // every `up` sample in the stream is one Prometheus stored, at the same millisecond
    const [upRange] = await query("up[10m]");
    const stored = new Map(upRange!.values!.map(([t, v]) => [Math.round(t * 1000), Number(v)]));
    const upSamples = series.filter((s) => s.labels.__name__ === "up").flatMap((s) => s.samples);
    expect(upSamples.length).toBeGreaterThan(0);
    for (const sample of upSamples) {
      expect(stored.get(Number(sample.timestamp)), `up at ${sample.timestamp}`).toBe(sample.value);
    }
  });

  it("vmagent with the sts-api-key header: its scrape of Prometheus arrives", async () => {
    await waitFor(
      "vmagent's samples in the stream",
      async () => (await seriesFrom("vmagent")).length > 0,
      60_000,
      1_000,
    );
    const names = new Set((await seriesFrom("vmagent")).map((s) => s.labels.__name__));
    expect(names.has("up")).toBe(true);
    expect(names.has("prometheus_build_info")).toBe(true);
  });

  it("Prometheus with a wrong key: answered 401, counted as failed by Prometheus, nothing written", async () => {
    await waitFor(
      "the wrong-key Prometheus to record failed samples",
      async () => {
        const res = await fetch(
          `${wrong.url}/api/v1/query?query=${encodeURIComponent("prometheus_remote_storage_samples_failed_total")}`,
        );
        const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
        return Number(body.data.result[0]?.value[1] ?? 0) > 0;
      },
      60_000,
      1_000,
    );
    expect(wrong.output()).toMatch(/401/);
    expect(await seriesFrom("wrong")).toHaveLength(0);
  });

  it("the senders' writes made no call AWS would refuse", () => {
    expect(stream.strict.stats.inspected).toBeGreaterThan(0);
    expect(stream.strict.stats.refusals).toEqual([]);
  });
});
