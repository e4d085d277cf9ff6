import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import type { Hono } from "hono";
import { createMirrorApp } from "../../../functions/mirror/app";
import { StaticKeySource } from "../../../lib/core/auth";
import { silentLogger } from "../../../lib/core/log";
import { loadMirrorConfig } from "../../../lib/mirror/config";
import { openMetrics } from "../../fixtures/mirror/data";
import {
  backfillOpenMetrics,
  makeTempDir,
  type RunningPrometheus,
  SELF_SCRAPE_CONFIG,
  startPrometheus,
} from "../../support/prometheus";

/** The mirror over HTTP on 127.0.0.1, in front of a real Prometheus holding the fixture data. */

export const MIRROR_KEY = "mirror-test-key-0123456789";

export interface Served {
  readonly url: string;
  close(): Promise<void>;
}

export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: protocol JSON, inspected field by field in tests
  readonly body: any;
}

export async function serveApp(app: Hono): Promise<Served> {
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export async function post(
  base: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // left as text
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

/** An app with a given environment (keys fixed to MIRROR_KEY), served on 127.0.0.1. */
export async function serveMirror(
  env: Record<string, string | undefined>,
  fetchImpl: typeof fetch = fetch,
): Promise<Served> {
  const app = createMirrorApp({
    config: loadMirrorConfig(env),
    keys: new StaticKeySource([{ key: MIRROR_KEY }]),
    log: silentLogger,
    fetch: fetchImpl,
  });
  return serveApp(app);
}

export interface Harness {
  readonly prometheus: RunningPrometheus;
  readonly mirror: Served;
  readonly details: { host: string; port: number; requestTimeout: number };
  stop(): Promise<void>;
}

/**
 * Backfills the fixture, starts Prometheus (scraping itself every second, so scrape metadata
 * exists) and a mirror whose allowlist names exactly that Prometheus.
 */
export async function startHarness(): Promise<Harness> {
  const home = await makeTempDir("mirror-e2e-");
  const dataDir = join(home, "data");
  await backfillOpenMetrics(openMetrics(), dataDir);
  const prometheus = await startPrometheus({
    configYaml: SELF_SCRAPE_CONFIG,
    dataDir,
    extraFlags: ["--storage.tsdb.retention.time=3650d"],
  });
  const mirror = await serveMirror({ MIRROR_ALLOWED_TARGETS: `127.0.0.1:${prometheus.port}` });
  return {
    prometheus,
    mirror,
    details: { host: "127.0.0.1", port: prometheus.port, requestTimeout: 10_000 },
    async stop() {
      await mirror.close();
      await prometheus.stop();
      const { rm } = await import("node:fs/promises");
      await rm(home, { recursive: true, force: true });
    },
  };
}

export const str = (value: string) => ({ _type: "StringValue", value });
export const cond = (key: string, value: string) => ({ _type: "EqualityCondition", key, value: str(value) });
