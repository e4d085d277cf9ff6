import { describe, expect, it } from "vitest";
import { ConfigError } from "../../lib/core/config";
import { createLogger, LOG_LEVELS, parseLogLevel } from "../../lib/core/log";

function capture(level: Parameters<typeof createLogger>[0]) {
  const lines: string[] = [];
  const log = createLogger(level, (line) => lines.push(line), { service: "test" });
  return { log, lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe("the logger", () => {
  it("writes one JSON object per line, its level spelt as Lambda reads it, with an RFC 3339 timestamp", () => {
    const { log, lines, parsed } = capture("debug");
    log.debug("d", { n: 1 });
    log.info("i");
    log.warn("w");
    log.error("e");
    expect(lines.every((l) => !l.includes("\n"))).toBe(true);
    expect(parsed().map((p) => [p.level, p.msg])).toEqual([
      ["DEBUG", "d"],
      ["INFO", "i"],
      ["WARN", "w"],
      ["ERROR", "e"],
    ]);
    for (const p of parsed()) {
      expect(p.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
      expect(p.service).toBe("test");
    }
    expect(parsed()[0]!.n).toBe(1);
  });

  it.each([
    ["debug", ["DEBUG", "INFO", "WARN", "ERROR"]],
    ["info", ["INFO", "WARN", "ERROR"]],
    ["warn", ["WARN", "ERROR"]],
    ["error", ["ERROR"]],
  ] as const)("at %s writes only %j", (level, written) => {
    const { log, parsed } = capture(level);
    log.debug("d");
    log.info("i");
    log.warn("w");
    log.error("e");
    expect(parsed().map((p) => p.level)).toEqual(written);
  });
});

describe("LOG_LEVEL", () => {
  it("is read in either case, and defaults to info", () => {
    for (const level of LOG_LEVELS) {
      expect(parseLogLevel(level)).toBe(level);
      expect(parseLogLevel(level.toUpperCase())).toBe(level);
    }
    expect(parseLogLevel("Warn")).toBe("warn");
    expect(parseLogLevel(undefined)).toBe("info");
  });

  it("refuses anything else, naming the variable", () => {
    expect(() => parseLogLevel("trace")).toThrow(ConfigError);
    expect(() => parseLogLevel("verbose")).toThrow(/LOG_LEVEL: expected one of debug, info, warn, error/);
  });
});
