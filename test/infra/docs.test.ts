import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LOCAL_MIRROR_TARGETS } from "../../functions/local/settings";
import { CONFIG_KEYS } from "../../infra/config";
import { MIRROR_API_SETTINGS } from "../../infra/constructs/mirror-api";
import { PROJECT_ROOT } from "../../infra/paths";
import { ENV } from "../../lib/core/env-names";
import { MIRROR_DEFAULTS } from "../../lib/mirror/config";

const doc = readFileSync(join(PROJECT_ROOT, "docs", "deploy.md"), "utf8");

function rowOf(key: string): string | undefined {
  return doc.split("\n").find((line) => line.startsWith(`| \`${key}\` |`));
}

describe("the deployment configuration table (docs/deploy.md)", () => {
  it.each(Object.entries(CONFIG_KEYS))("documents %s with its default", (key, entry) => {
    const row = rowOf(key);
    expect(row, `no table row for ${key}`).toBeDefined();
    const shown =
      entry.default === undefined ? "(unset)" : entry.default === "" ? "(empty)" : `\`${entry.default}\``;
    expect(row!.split("|")[2]!.trim()).toBe(shown);
  });

  it("has no row for a key the code does not read", () => {
    const start = doc.indexOf("| Key | Default | Meaning |");
    expect(start).toBeGreaterThan(0);
    const table = doc.slice(start, doc.indexOf("\n\n", start));
    const keys = [...table.matchAll(/^\| `([A-Za-z]+)` \|/gm)].map((m) => m[1]);
    for (const key of keys) expect(Object.keys(CONFIG_KEYS)).toContain(key);
  });
});

describe("the mirror's configuration table (docs/mirror.md)", () => {
  const mirrorDoc = readFileSync(join(PROJECT_ROOT, "docs", "mirror.md"), "utf8");
  const defaultOf = (variable: string) => {
    const row = mirrorDoc.split("\n").find((line) => line.startsWith(`| \`${variable}\` |`));
    expect(row, `no table row for ${variable}`).toBeDefined();
    return row!.split("|")[2]!.trim();
  };
  const stackCap = MIRROR_API_SETTINGS.maxPrometheusCall.toMilliseconds();

  it.each([
    [ENV.mirrorRequestTimeoutMs, MIRROR_DEFAULTS.defaultRequestTimeoutMs],
    [ENV.mirrorMaxRequestTimeoutMs, MIRROR_DEFAULTS.maxRequestTimeoutMs],
    [ENV.mirrorMaxAnswerBytes, MIRROR_DEFAULTS.maxAnswerBytes],
    [ENV.mirrorMaxSeries, MIRROR_DEFAULTS.maxSeries],
  ])("documents the default of %s", (variable, value) => {
    expect(defaultOf(variable).match(/^\d+/)?.[0]).toBe(String(value));
  });

  it("documents the request timeout cap the stack sets, and deploy.md says the same", () => {
    expect(defaultOf(ENV.mirrorMaxRequestTimeoutMs)).toContain(`the stack sets ${stackCap}`);
    const sentence = doc
      .replace(/\n/g, " ")
      .match(/The stack sets `MIRROR_MAX_REQUEST_TIMEOUT_MS` to [^.]*\./)?.[0];
    expect(sentence, "deploy.md names the cap the stack sets").toBeDefined();
    expect(sentence).toContain(
      `to ${stackCap} (the function's own default is ${MIRROR_DEFAULTS.maxRequestTimeoutMs})`,
    );
    expect(sentence).toContain(`capped at ${stackCap / 1000} s`);
    expect(sentence).toContain(`its own ${MIRROR_API_SETTINGS.timeout.toSeconds()} s timeout`);
  });

  it("documents the local server's allowlist", () => {
    expect(defaultOf(ENV.mirrorAllowedTargets)).toContain(`\`${LOCAL_MIRROR_TARGETS}\``);
  });
});
