import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LOCAL_MIRROR_TARGETS, LOCAL_SERVER_ENV } from "../../functions/local/settings";
import { CONFIG_KEYS, type ConfigKeyEntry, configTable } from "../../infra/config";
import { MIRROR_API_SETTINGS } from "../../infra/constructs/mirror-api";
import { PROJECT_ROOT } from "../../infra/paths";
import type { Settings } from "../../lib/core/config";
import { ENV } from "../../lib/core/env-names";
import { FORWARDER_ENV } from "../../lib/forwarder/config";
import { HA_ENV } from "../../lib/ha/config";
import { INGEST_ENV } from "../../lib/ingest/config";
import { MIRROR_DEFAULTS, MIRROR_ENV } from "../../lib/mirror/config";
import { synthGateway } from "./synth";

const doc = readFileSync(join(PROJECT_ROOT, "docs", "deploy.md"), "utf8");

function rowOf(key: string): string | undefined {
  return doc.split("\n").find((line) => line.startsWith(`| \`${key}\` |`));
}
const meaningOf = (key: string) => rowOf(key)?.split("|").slice(3).join("|") ?? "";

describe("the deployment configuration table (docs/deploy.md)", () => {
  it.each(Object.entries(CONFIG_KEYS))("documents %s with its default", (key, entry) => {
    const row = rowOf(key);
    expect(row, `no table row for ${key}`).toBeDefined();
    const shown =
      entry.default === undefined ? "(unset)" : entry.default === "" ? "(empty)" : `\`${entry.default}\``;
    expect(row!.split("|")[2]!.trim()).toBe(shown);
  });

  const bounded = Object.entries(CONFIG_KEYS as Record<string, ConfigKeyEntry>).filter(
    ([, e]) => e.range !== undefined || e.prefixRange !== undefined || e.allowed !== undefined,
  );

  it.each(bounded)("states the bounds the code enforces for %s", (key, entry) => {
    const meaning = meaningOf(key);
    if (entry.range !== undefined) expect(meaning).toContain(`${entry.range[0]} to ${entry.range[1]}`);
    if (entry.prefixRange !== undefined) {
      expect(meaning).toContain(`/${entry.prefixRange[0]} to /${entry.prefixRange[1]}`);
    }
    if (entry.allowed !== undefined) expect(meaning).toContain(entry.allowed.join(", "));
  });

  it("is the table the schemas give (npx tsx scripts/config-table.ts writes it)", () => {
    const start = doc.indexOf("| Key | Default | Meaning |");
    expect(doc.slice(start, doc.indexOf("\n\n", start))).toBe(configTable());
  });

  const enumerated = Object.entries(CONFIG_KEYS as Record<string, ConfigKeyEntry>).filter(
    ([, e]) => e.values !== undefined,
  );

  it.each(enumerated)("names every value %s takes", (key, entry) => {
    for (const value of entry.values ?? []) expect(meaningOf(key)).toContain(value);
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

/**
 * The functions' variable tables: every variable a function's schema reads has a row (its
 * first cell names it) stating the default the schema falls back to, the bounds it enforces
 * and the words it takes.
 */
describe.each<[string, Settings, boolean]>([
  ["ingest.md", INGEST_ENV, true],
  ["ingest.md", LOCAL_SERVER_ENV, true],
  ["ingest.md", HA_ENV, true],
  ["mirror.md", MIRROR_ENV, true],
  ["forwarder.md", FORWARDER_ENV, false],
])("the variables of docs/%s", (file, settings, defaultColumn) => {
  const text = readFileSync(join(PROJECT_ROOT, "docs", file), "utf8");
  const rowOfVariable = (name: string) =>
    text.split("\n").find((line) => line.startsWith("| `") && line.split("|")[1]!.includes(`\`${name}\``));

  it.each(Object.entries(settings))("%s: a row with its default, bounds and values", (name, setting) => {
    const row = rowOfVariable(name);
    expect(row, `no row for ${name}`).toBeDefined();
    const cells = row!.split("|");
    if (setting.default !== undefined) {
      const shown = String(setting.default);
      if (defaultColumn) {
        const cell = cells[2]!.trim().replace(/`/g, "");
        expect(cell === shown || cell.startsWith(`${shown} `) || cell.startsWith(`${shown};`), cell).toBe(
          true,
        );
      } else {
        expect(row).toMatch(new RegExp(`\\b${shown}\\b`));
      }
    }
    if (setting.range !== undefined) expect(row).toContain(`${setting.range[0]} to ${setting.range[1]}`);
    for (const value of setting.values ?? []) expect(row).toContain(`\`${value}\``);
  });
});

const NUMBER_WORDS = [
  ...["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"],
  ...["eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen"],
];

describe("the alarms docs/deploy.md counts", () => {
  it("are the template's alarms, without and with the forwarder", () => {
    const plain = synthGateway().template.findResources("AWS::CloudWatch::Alarm");
    const forwarding = synthGateway({
      forwardUrl: "https://stackstate.example.com/receiver/prometheus/api/v1/write",
    }).template.findResources("AWS::CloudWatch::Alarm");
    const ingestOnly = synthGateway({ components: "ingest" }).template.findResources(
      "AWS::CloudWatch::Alarm",
    );
    const total = Object.keys(plain).length;
    const ingest = Object.keys(ingestOnly).length;
    const withForwarder = Object.keys(forwarding).length;
    const sentence = new RegExp(
      `${NUMBER_WORDS[total]} alarms \\(${NUMBER_WORDS[ingest]} for ingest, ${NUMBER_WORDS[total - ingest]} for the mirror\\), ${NUMBER_WORDS[withForwarder]} with the forwarder \\(its ${NUMBER_WORDS[withForwarder - total]}\\)`,
    );
    expect(doc).toMatch(sentence);
  });
});

describe("docs/deploy.md uses one account and region throughout", () => {
  it("bootstrap, deploy and diff commands name the same region and account", () => {
    const bootstrap = [...doc.matchAll(/cdk bootstrap aws:\/\/(\d{12})\/([a-z0-9-]+)/g)];
    expect(bootstrap.length).toBeGreaterThan(0);
    const [, account, region] = bootstrap[0]!;
    for (const m of bootstrap) expect([m[1], m[2]]).toEqual([account, region]);
    const regions = [...doc.matchAll(/-c region=([a-z0-9-]+)/g)].map((m) => m[1]);
    const accounts = [...doc.matchAll(/-c account=(\d{12})/g)].map((m) => m[1]);
    expect(regions.length).toBeGreaterThan(0);
    for (const r of regions) expect(r).toBe(region);
    for (const a of accounts) expect(a).toBe(account);
    for (const m of doc.matchAll(/AWS_REGION=([a-z0-9-]+)/g)) expect(m[1]).toBe(region);
  });
});
