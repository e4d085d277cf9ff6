/**
 * Writes the configuration table of docs/deploy.md from the context schemas (infra/context/):
 * `npx tsx scripts/config-table.ts`. test/infra/docs.test.ts fails while the two differ.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { configTable } from "../infra/config";
import { PROJECT_ROOT } from "../infra/paths";

const file = join(PROJECT_ROOT, "docs", "deploy.md");
const doc = readFileSync(file, "utf8");
const start = doc.indexOf("| Key | Default | Meaning |");
if (start < 0) throw new Error("docs/deploy.md has no configuration table");
const end = doc.indexOf("\n\n", start);
writeFileSync(file, `${doc.slice(0, start)}${configTable()}${doc.slice(end)}`);
