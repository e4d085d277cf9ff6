import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIRROR_PATHS } from "../../../lib/core/routes";
import { snappy, v1Message } from "../../fixtures/remote-write";
import {
  parsesQuotedNames,
  prometheusAvailable,
  prometheusVersion,
  type RunningPrometheus,
} from "../../support/prometheus";
import { postToReceiver, startReceiver } from "../../support/receiver";
import { cond, post, type Served, serveMirror } from "./harness";

/**
 * UTF-8 metric and label names, as the gateway takes them by default, queried through the
 * mirror from a real Prometheus that holds them (written to its remote-write receiver): a
 * metric name outside the legacy classes is found through a `__name__` matcher, which every
 * Prometheus parses; a label name outside them needs Prometheus 3's quoted syntax, and a
 * Prometheus 2 refusing it is answered with a clear `utf8-names-unsupported`.
 */
const T0 = Date.now() - 10 * 60_000;
const NAME = "http.server.request.duration";

describe.skipIf(!prometheusAvailable())("mirror: UTF-8 names (real Prometheus)", () => {
  let prometheus: RunningPrometheus;
  let mirror: Served;
  let quoted: boolean;
  beforeAll(async () => {
    quoted = parsesQuotedNames(prometheusVersion());
    prometheus = await startReceiver();
    const samples = Array.from({ length: 10 }, (_, i) => ({ value: i, timestamp: T0 + i * 15_000 }));
    const written = await postToReceiver(
      prometheus,
      snappy(
        v1Message([
          {
            labels: [
              ["__name__", NAME],
              ["job", "api"],
              ["service.name", "checkout"],
            ],
            samples,
          },
        ]),
      ),
    );
    expect(written.status, written.text).toBe(204);
    mirror = await serveMirror({ MIRROR_ALLOWED_TARGETS: `127.0.0.1:${prometheus.port}` });
  }, 60_000);
  afterAll(async () => {
    await mirror?.close();
    await prometheus?.stop();
  });

  const metric = (conditions: unknown[]) =>
    post(mirror.url, MIRROR_PATHS.metric, {
      _type: "MetricsRequest",
      connectionDetails: { host: "127.0.0.1", port: prometheus.port, requestTimeout: 10_000 },
      query: {
        _type: "MetricsQuery",
        conditions,
        startTime: T0,
        endTime: T0 + 9 * 15_000,
        limit: 100,
      },
    });

  it("finds a dotted metric name through a __name__ matcher", async () => {
    const res = await metric([cond("__gauge__", NAME), cond("job", "api")]);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    // the stored values 0…9, each seen at the steps after it
    const values = new Set<number>(res.body.telemetry.points.map(([v]: number[]) => v));
    expect([...values].every((v) => Number.isInteger(v) && v >= 0 && v <= 9)).toBe(true);
    expect(values.size).toBeGreaterThanOrEqual(9);
  });

  it("selects by a dotted label name where Prometheus parses quoted names, and says why not where it does not", async () => {
    const res = await metric([cond("__gauge__", NAME), cond("service.name", "checkout")]);
    if (quoted) {
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return;
    }
    expect(res.status).toBe(400);
    expect(res.body._type).toBe("RemoteMirrorError");
    expect(res.body.summary).toBe("This Prometheus cannot query UTF-8 label names");
    expect(res.body.details).toContain("[utf8-names-unsupported]");
    expect(res.body.details).toContain("Prometheus 3.0");
  });

  it("a name that is not there is not found, whatever its characters", async () => {
    const res = await metric([cond("__gauge__", "no.such metric")]);
    expect(res.status).toBe(404);
    expect(res.body._type).toBe("MetricNotFoundError");
  });
});
