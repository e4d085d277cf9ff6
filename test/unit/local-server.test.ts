import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConcurrencyLimit } from "../../functions/local/mirror-limit";
import {
  LOCAL_SERVER_DEFAULTS,
  type LocalServerSettings,
  loadLocalServerSettings,
} from "../../functions/local/settings";
import { PROJECT_ROOT } from "../../infra/paths";
import { ENV } from "../../lib/core/env-names";

/** The local server's settings (and their table in docs/ingest.md) and its cap on mirror queries. */

const VARIABLES: Record<keyof LocalServerSettings, string> = {
  maxConnections: ENV.localMaxConnections,
  headersTimeoutMs: ENV.localHeadersTimeoutMs,
  requestTimeoutMs: ENV.localRequestTimeoutMs,
  minBodyBytesPerSecond: ENV.localMinBodyBytesPerSecond,
  bodyGraceMs: ENV.localBodyGraceMs,
  mirrorConcurrency: ENV.localMirrorConcurrency,
};

describe("local server settings", () => {
  it("defaults, and each variable read", () => {
    expect(loadLocalServerSettings({})).toEqual(LOCAL_SERVER_DEFAULTS);
    for (const [field, variable] of Object.entries(VARIABLES)) {
      // the two timeouts around 777, so that either may take it (headers must not exceed request)
      const env = {
        [ENV.localHeadersTimeoutMs]: "700",
        [ENV.localRequestTimeoutMs]: "800",
        [variable]: "777",
      };
      expect(loadLocalServerSettings(env)[field as keyof LocalServerSettings]).toBe(777);
    }
    expect(loadLocalServerSettings({}, { maxConnections: 3 }).maxConnections).toBe(3);
  });

  it.each([
    [{ LOCAL_MAX_CONNECTIONS: "0" }, "LOCAL_MAX_CONNECTIONS"],
    [{ LOCAL_MIRROR_CONCURRENCY: "many" }, "LOCAL_MIRROR_CONCURRENCY"],
    [{ LOCAL_HEADERS_TIMEOUT_MS: "20000", LOCAL_REQUEST_TIMEOUT_MS: "10000" }, "LOCAL_HEADERS_TIMEOUT_MS"],
  ])("refuses %j naming %s", (env, variable) => {
    expect(() => loadLocalServerSettings(env)).toThrow(new RegExp(`^${variable}:`));
  });

  it("docs/ingest.md lists every setting with its default", () => {
    const doc = readFileSync(join(PROJECT_ROOT, "docs", "ingest.md"), "utf8");
    for (const [field, variable] of Object.entries(VARIABLES)) {
      const row = doc.split("\n").find((line) => line.startsWith(`| \`${variable}\` |`));
      expect(row, `no row for ${variable}`).toBeDefined();
      expect(row!.split("|")[2]!.trim()).toBe(
        String(LOCAL_SERVER_DEFAULTS[field as keyof LocalServerSettings]),
      );
    }
  });
});

describe("the cap on mirror queries", () => {
  it("runs at most `max` at once, hands slots on in arrival order, refuses past the queue", async () => {
    const limit = new ConcurrencyLimit(2, 2, 10_000);
    expect(await limit.acquire()).toBe(true);
    expect(await limit.acquire()).toBe(true);
    const order: number[] = [];
    const third = limit.acquire().then((ok) => order.push(3) && ok);
    const fourth = limit.acquire().then((ok) => order.push(4) && ok);
    expect(await limit.acquire()).toBe(false); // the queue is full
    expect(limit.queued).toBe(2);
    limit.release();
    limit.release();
    expect(await third).toBe(true);
    expect(await fourth).toBe(true);
    expect(order).toEqual([3, 4]);
    expect(limit.inFlight).toBe(2);
    limit.release();
    limit.release();
    expect(limit.inFlight).toBe(0);
  });

  it("refuses a waiter once it has waited `maxWaitMs`, and the slot goes to the next", async () => {
    const limit = new ConcurrencyLimit(1, 4, 50);
    expect(await limit.acquire()).toBe(true);
    const started = Date.now();
    expect(await limit.acquire()).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(limit.queued).toBe(0);
    const next = limit.acquire();
    limit.release();
    expect(await next).toBe(true);
    limit.release();
    expect(limit.inFlight).toBe(0);
  });
});
