import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../infra/paths";
import { NAG_CONFIGURATIONS, runNag } from "./nag";

const security = readFileSync(join(PROJECT_ROOT, "docs", "security.md"), "utf8");
const readme = readFileSync(join(PROJECT_ROOT, "README.md"), "utf8");

/** The rows of the acknowledgements table: rule and reason. */
function documented(): Array<{ id: string; reason: string }> {
  const start = security.indexOf("| Rule | On | Reason |");
  expect(start).toBeGreaterThan(0);
  const table = security.slice(
    start,
    security.indexOf("\n\n", start) === -1 ? undefined : security.indexOf("\n\n", start),
  );
  return [...table.matchAll(/^\| `([A-Za-z]+-[A-Za-z0-9]+)` \| [^|]+ \| (.+) \|$/gm)].map((m) => ({
    id: m[1]!,
    reason: m[2]!.trim(),
  }));
}

describe("docs/security.md lists the cdk-nag acknowledgements of the stack", () => {
  const inTemplates = new Map<string, { id: string; reason: string }>();
  for (const context of Object.values(NAG_CONFIGURATIONS)) {
    for (const ack of runNag(context).acknowledgements) {
      inTemplates.set(`${ack.id} ${ack.reason}`, { id: ack.id, reason: ack.reason });
    }
  }
  const rows = documented();

  it("every acknowledgement in a template is a row, with its reason", () => {
    const listed = new Set(rows.map((r) => `${r.id} ${r.reason}`));
    for (const key of inTemplates.keys()) expect(listed, key).toContain(key);
  });

  it("every row is an acknowledgement some template carries", () => {
    for (const row of rows) expect([...inTemplates.keys()]).toContain(`${row.id} ${row.reason}`);
  });
});

describe("README links the security page", () => {
  it("in one line", () => {
    expect(readme.split("\n").filter((line) => line.includes("docs/security.md"))).toHaveLength(1);
  });
});
