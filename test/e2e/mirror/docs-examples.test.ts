import { readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalGateway, startLocalGateway } from "../../../functions/local/gateway";
import { waitFor } from "../../../functions/local/ports";
import { PROJECT_ROOT } from "../../../infra/paths";
import { MIRROR_METHOD_PATHS } from "../../../lib/core/routes";
import {
  makeTempDir,
  prometheusAvailable,
  type RunningPrometheus,
  SELF_SCRAPE_CONFIG,
  startPrometheus,
} from "../../support/prometheus";
import {
  curlAvailable,
  parseHttpAnswer,
  readDocExamples,
  runDocExample,
  shapeDifferences,
} from "./doc-examples";

/**
 * The worked examples of docs/mirror.md ("By example"), run as written with bash and curl
 * against the local server (`npm start`) in front of a real Prometheus that scrapes itself,
 * as the docs' Prometheus does. Each answer must match the documented one in status, key
 * header and shape (see shapeDifferences); only the numbers and label values may differ.
 */

const doc = readFileSync(join(PROJECT_ROOT, "docs", "mirror.md"), "utf8");
const { setup, examples } = readDocExamples(doc);
const KEY_HEADER = "x-mirror-api-key";

describe("the examples of docs/mirror.md, as written", () => {
  it("show every endpoint and each kind of request the page promises", () => {
    const paths = new Set(examples.map((e) => e.path));
    for (const path of MIRROR_METHOD_PATHS) expect(paths, `no example for ${path}`).toContain(path);
    const requests = examples.map((e) => e.request);
    const some = (pattern: RegExp) => requests.some((r) => pattern.test(r));
    expect(some(/"host": "127\.0\.0\.1", "port": 9090/), "the host/port dialect").toBe(true);
    expect(some(/"url": "http:\/\/127\.0\.0\.1:9090\/"/), "the url dialect").toBe(true);
    expect(some(/"key": "__counter__"/), "a counter").toBe(true);
    expect(some(/"key": "__gauge__"/), "a gauge").toBe(true);
    expect(some(/"aggregation":/), "an aggregation").toBe(true);
    expect(some(/"key": "~"/), "a PromQL expression").toBe(true);
    expect(
      examples.some((e) => e.path.endsWith("/connection") && e.answer.status === 403),
      "a connection test refused 403",
    ).toBe(true);
    expect(
      examples.some((e) => e.answer.body?._type === "FieldValuesResponse" && e.answer.body.isPartial),
      "field value suggestions",
    ).toBe(true);
    expect(examples.some((e) => e.answer.status >= 400)).toBe(true);
  });

  it("document what every error's details start with", () => {
    for (const e of examples.filter((x) => x.answer.status >= 400)) {
      expect(e.answer.body.details, e.title).toMatch(/^\[[a-z0-9-]+\] /);
    }
  });
});

describe.skipIf(!prometheusAvailable() || !curlAvailable())("the examples of docs/mirror.md, run", () => {
  let prometheus: RunningPrometheus;
  let gateway: LocalGateway;
  let cwd: string;

  beforeAll(async () => {
    prometheus = await startPrometheus({ configYaml: SELF_SCRAPE_CONFIG });
    // where the examples run: the directory npm start was started in, with its .local/ keys
    cwd = await makeTempDir("mirror-docs-");
    gateway = await startLocalGateway({
      port: 0,
      stateDir: join(cwd, ".local"),
      env: {
        KINESIS_STREAM_NAME: "unused",
        AWS_ACCESS_KEY_ID: "unused-here",
        LOG_LEVEL: "error",
        // the local server's default allowlist, with the test Prometheus's port for 9090
        MIRROR_ALLOWED_TARGETS: `127.0.0.1:${prometheus.port},localhost:${prometheus.port}`,
      },
    });
    // the examples ask for rates at "now": Prometheus must have scraped itself a few times
    const enough = encodeURIComponent(
      'count_over_time(prometheus_http_requests_total{handler="/metrics"}[1m]) >= 3',
    );
    await waitFor(
      "three self-scrapes",
      async () => {
        const res = await fetch(`${prometheus.url}/api/v1/query?query=${enough}`);
        const body = (await res.json()) as { data?: { result?: unknown[] } };
        return (body.data?.result?.length ?? 0) > 0;
      },
      30_000,
      200,
    );
  });
  afterAll(async () => {
    await gateway?.stop();
    await prometheus?.stop();
    if (cwd) await rm(cwd, { recursive: true, force: true });
  });

  it.each(examples.map((e) => [e.title, e] as const))("%s", async (_, example) => {
    const startedAt = Date.now();
    const printed = await runDocExample(setup, example, {
      mirror: gateway.url,
      prometheusPort: prometheus.port,
      cwd,
    });
    const answer = parseHttpAnswer(printed);
    const documented = example.answer;
    const context = `${example.title}:\n${printed.slice(0, 1500)}`;
    expect(answer.status, context).toBe(documented.status);
    expect(shapeDifferences(documented.body, answer.body), context).toEqual([]);
    // the key comes back exactly where the docs show it, and it is the server's
    expect(answer.headers.has(KEY_HEADER), context).toBe(documented.headers.has(KEY_HEADER));
    expect(answer.headers.has(KEY_HEADER)).toBe(
      (MIRROR_METHOD_PATHS as readonly string[]).includes(example.path) && example.method === "POST",
    );
    if (answer.headers.has(KEY_HEADER)) expect(answer.headers.get(KEY_HEADER)).toBe(gateway.mirrorApiKey);
    for (const name of documented.headers.keys())
      expect(answer.headers.has(name), `${name}: ${context}`).toBe(true);
    // points lie in the examples' window (FROM is ten minutes before TO, TO is "now")
    const telemetry = answer.body?.telemetry;
    if (telemetry !== undefined) {
      for (const point of telemetry.points as number[][]) {
        const times = point.slice(1);
        for (const t of times) {
          expect(t).toBeLessThanOrEqual(Date.now() + 300_000);
          expect(t).toBeGreaterThanOrEqual(startedAt - 600_000 - 300_000);
        }
        if (times.length === 2) expect(times[1]! - times[0]!).toBeGreaterThan(0);
      }
    }
  });
});
