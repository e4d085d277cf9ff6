import { execFile } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalGateway, startLocalGateway } from "../../functions/local/gateway";
import { PROJECT_ROOT } from "../../infra/paths";
import { ENV } from "../../lib/core/env-names";
import { STEP_NAMES } from "../../scripts/smoke";
import {
  prometheusAvailable,
  type RunningPrometheus,
  SELF_SCRAPE_CONFIG,
  startPrometheus,
} from "../support/prometheus";
import { type StrictStream, startStrictStream } from "../support/strict-kinesis";

/**
 * The smoke script users run after `cdk deploy`, run here the same way (a child process)
 * against the local gateway and a real Prometheus behind the mirror. The gateway writes to
 * kinesis-local through a front that refuses what AWS refuses (test/support/strict-kinesis.ts).
 */

const API_KEY = "smoke-ingest-key-0123456789";
const MIRROR_API_KEY = "smoke-mirror-key-9876543210";

interface SmokeRun {
  code: number;
  stdout: string;
  stderr: string;
}

function smoke(args: string[]): Promise<SmokeRun> {
  return new Promise((resolve) => {
    execFile(
      "npx",
      ["tsx", join(PROJECT_ROOT, "scripts/smoke.ts"), ...args],
      { cwd: PROJECT_ROOT, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const lineOf = (run: SmokeRun, step: string) =>
  run.stdout.split("\n").find((l) => l.includes(` ${step}:`)) ?? "";

describe.skipIf(!prometheusAvailable())("smoke script against the local gateway", () => {
  let prometheus: RunningPrometheus;
  let stream: StrictStream;
  let gateway: LocalGateway;
  let args: (overrides?: Record<string, string>) => string[];

  beforeAll(async () => {
    prometheus = await startPrometheus({
      configYaml: SELF_SCRAPE_CONFIG,
    });
    stream = await startStrictStream({ streamName: "smoke", shards: 4 });
    gateway = await startLocalGateway({
      port: 0,
      apiKey: API_KEY,
      mirrorApiKey: MIRROR_API_KEY,
      env: {
        [ENV.mirrorAllowedTargets]: `127.0.0.1:${prometheus.port}`,
        [ENV.kinesisEndpoint]: stream.endpoint,
        [ENV.streamName]: stream.streamName,
        [ENV.awsRegion]: stream.region,
      },
    });
    args = (overrides = {}) => {
      const values: Record<string, string> = {
        "--remote-write-url": `${gateway.url}/receiver/prometheus/api/v1/write`,
        "--mirror-url": gateway.url,
        "--api-key": gateway.apiKey,
        "--mirror-api-key": gateway.mirrorApiKey,
        "--prometheus": `127.0.0.1:${prometheus.port}`,
        "--timeout-ms": "10000",
        ...overrides,
      };
      return Object.entries(values).flat();
    };
  });

  afterAll(async () => {
    await gateway?.stop();
    await stream?.stop();
    await prometheus?.stop();
  });

  it("passes every step with the right keys and exits 0", async () => {
    const run = await smoke(args());
    expect(run.code, run.stdout + run.stderr).toBe(0);
    for (const step of Object.values(STEP_NAMES)) {
      expect(lineOf(run, step), run.stdout).toMatch(/^PASS /);
    }
    expect(run.stdout).toContain("smoke test passed (6 steps)");
    expect(run.stdout + run.stderr).not.toContain(API_KEY);
    expect(run.stdout + run.stderr).not.toContain(MIRROR_API_KEY);
  });

  it("fails the writes with a wrong API key and exits 1", async () => {
    const run = await smoke(args({ "--api-key": "wrong-key" }));
    expect(run.code).toBe(1);
    expect(lineOf(run, STEP_NAMES.refusesAnonymous)).toMatch(/^PASS /);
    for (const step of [STEP_NAMES.writeV1Header, STEP_NAMES.writeV1Basic, STEP_NAMES.writeV2]) {
      expect(lineOf(run, step), run.stdout).toMatch(/^FAIL .*401/);
    }
    expect(lineOf(run, STEP_NAMES.mirrorConnection)).toMatch(/^PASS /);
    expect(run.stdout).toContain("smoke test FAILED (3 of 6 steps failed)");
  });

  it("fails the mirror steps with a wrong mirror key and exits 1", async () => {
    const run = await smoke(args({ "--mirror-api-key": "wrong-mirror-key" }));
    expect(run.code).toBe(1);
    expect(lineOf(run, STEP_NAMES.writeV1Header)).toMatch(/^PASS /);
    expect(lineOf(run, STEP_NAMES.mirrorConnection)).toMatch(/^FAIL .*401/);
    expect(lineOf(run, STEP_NAMES.mirrorFieldNames)).toMatch(/^FAIL .*401/);
  });

  it("exits 2 with the usage when an argument is missing", async () => {
    const run = await smoke(["--remote-write-url", `${gateway.url}/api/v1/write`]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("missing --mirror-url, --api-key, --mirror-api-key");
    expect(run.stderr).toContain("usage: npm run smoke");
  });

  it("the script's writes made no call AWS would refuse", () => {
    expect(stream.strict.stats.inspected).toBeGreaterThan(0);
    expect(stream.strict.stats.refusals).toEqual([]);
  });
});
