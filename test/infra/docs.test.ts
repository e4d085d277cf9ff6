import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CONFIG_KEYS } from "../../infra/config";
import { PROJECT_ROOT } from "../../infra/paths";

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
