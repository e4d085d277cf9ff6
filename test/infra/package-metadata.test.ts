import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../infra/paths";
import { LAMBDA_NODE_MAJOR, LAMBDA_NODE_PACKAGE } from "../support/lambda-bundle";

const read = (file: string) => readFileSync(join(PROJECT_ROOT, file), "utf8");
const pkg = JSON.parse(read("package.json")) as {
  version: string;
  license: string;
  engines: { node: string };
  devDependencies: Record<string, string>;
  optionalDependencies: Record<string, string>;
};
/** The first major number a semver range names: ">=22" → 22, "24.x" → 24, "^22.20.7" → 22. */
const majorOf = (range: string) => Number(/(\d+)/.exec(range)?.[1]);

describe("the package's metadata", () => {
  it("CHANGELOG.md's top version is package.json's version", () => {
    const top = /^## \[(\d+\.\d+\.\d+[^\]]*)\] - (\d{4}-\d{2}-\d{2}|Unreleased)$/m.exec(read("CHANGELOG.md"));
    expect(top, "no `## [x.y.z] - YYYY-MM-DD` (or `- Unreleased`) heading").not.toBeNull();
    expect(top![1]).toBe(pkg.version);
  });

  it("is licensed Apache-2.0, the LICENSE file holding the license's full text", () => {
    expect(pkg.license).toBe("Apache-2.0");
    const license = read("LICENSE");
    expect(license).toContain("Apache License\n                           Version 2.0, January 2004");
    expect(license).toContain("END OF TERMS AND CONDITIONS");
    expect(license).toContain("Copyright the prometheus-kinesis-gateway authors");
  });

  it("pins the Node the bundle tests run on to the functions' runtime, and types the oldest Node it supports", () => {
    expect(majorOf(pkg.optionalDependencies[LAMBDA_NODE_PACKAGE]!)).toBe(LAMBDA_NODE_MAJOR);
    expect(pkg.engines.node).toMatch(/^>=\d+/);
    expect(majorOf(pkg.devDependencies["@types/node"]!)).toBe(majorOf(pkg.engines.node));
    expect(majorOf(pkg.engines.node)).toBeLessThanOrEqual(LAMBDA_NODE_MAJOR);
  });
});
