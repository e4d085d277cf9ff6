import { describe, expect, it } from "vitest";
import { MirrorError } from "../../../lib/mirror/errors";
import {
  classifyConditions,
  duration,
  matchesAll,
  quote,
  rateExpr,
  renderDouble,
  renderValue,
  selector,
} from "../../../lib/mirror/promql";
import type { Condition } from "../../../lib/mirror/protocol";

const c = (key: string, value: string): Condition => ({
  _type: "EqualityCondition",
  key,
  value: { _type: "StringValue", value },
});

/** Reads a PromQL double-quoted literal back, following Go's escape rules (as Prometheus does). */
function unquote(literal: string): string {
  expect(literal.startsWith('"') && literal.endsWith('"')).toBe(true);
  const body = literal.slice(1, -1);
  let out = "";
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    expect(ch, "an unescaped quote would end the literal").not.toBe('"');
    expect(ch, "a raw newline is not allowed in a literal").not.toBe("\n");
    if (ch !== "\\") {
      out += ch;
      continue;
    }
    const next = body[++i]!;
    const simple: Record<string, string> = { "\\": "\\", '"': '"', n: "\n", r: "\r", t: "\t" };
    if (next in simple) out += simple[next];
    else if (next === "u") {
      out += String.fromCharCode(Number.parseInt(body.slice(i + 1, i + 5), 16));
      i += 4;
    } else throw new Error(`unexpected escape \\${next}`);
  }
  return out;
}

describe("quote", () => {
  it.each([
    "plain",
    'quote " inside',
    "back\\slash",
    'x"} or vector(1) or up{a="',
    "line\nbreak\r\ttab",
    "bell\u0007 nul\u0000 del\u007f",
    "ünïcødé ✓ 日本語 🎉",
    '\\"',
    "",
  ])("round-trips %j as one literal", (value) => {
    const literal = quote(value);
    expect(unquote(literal)).toBe(value);
  });

  it("escapes control characters as \\u sequences", () => {
    expect(quote("a\u0001b")).toBe('"a\\u0001b"');
  });

  it("refuses lone surrogates", () => {
    expect(() => quote("\ud800x")).toThrow(MirrorError);
    expect(() => quote("x\udc00")).toThrow(MirrorError);
  });
});

describe("renderValue", () => {
  it.each([
    [{ _type: "StringValue", value: "a b" }, "a b"],
    [{ _type: "BooleanValue", value: true }, "true"],
    [{ _type: "BooleanValue", value: false }, "false"],
    [{ _type: "DoubleValue", value: 0.5 }, "0.5"],
    [{ _type: "DoubleValue", value: 3 }, "3"],
    [{ _type: "DoubleValue", value: -1.25 }, "-1.25"],
  ] as const)("%j → %s", (value, expected) => {
    expect(renderValue(value)).toBe(expected);
  });

  it("writes infinities and NaN as Prometheus does", () => {
    expect(renderDouble(Number.POSITIVE_INFINITY)).toBe("+Inf");
    expect(renderDouble(Number.NEGATIVE_INFINITY)).toBe("-Inf");
    expect(renderDouble(Number.NaN)).toBe("NaN");
  });
});

describe("classifyConditions", () => {
  it("takes the metric from __gauge__ and the rest as matchers", () => {
    const out = classifyConditions([c("job", "api"), c("__gauge__", "up"), c("instance", "x:1")]);
    expect(out.target).toEqual({ kind: "gauge", metric: "up" });
    expect(out.matchers).toEqual([
      { name: "job", value: "api" },
      { name: "instance", value: "x:1" },
    ]);
  });

  it("recognises __counter__ and ~", () => {
    expect(classifyConditions([c("__counter__", "http_requests_total")]).target.kind).toBe("counter");
    expect(classifyConditions([c("~", "sum(up)")]).target).toEqual({ kind: "tilde", expr: "sum(up)" });
  });

  it.each([
    ["none", [c("job", "a")], "found: none"],
    ["two", [c("__gauge__", "a"), c("__counter__", "b")], "found: __gauge__, __counter__"],
    ["twice the same", [c("~", "up"), c("~", "up")], "found: ~, ~"],
  ])("refuses %s special conditions", (_, conditions, says) => {
    try {
      classifyConditions(conditions);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(MirrorError);
      expect((err as MirrorError).status).toBe(400);
      expect((err as MirrorError).body._type).toBe("RemoteMirrorError");
      expect((err as MirrorError).message).toContain(says);
    }
  });

  it.each([
    ["metric name", [c("__gauge__", "up or vector(1)")], "metric-name-invalid"],
    ["metric name starting with a digit", [c("__counter__", "1abc")], "metric-name-invalid"],
    ["label name", [c("__gauge__", "up"), c('job"}', "x")], "label-name-invalid"],
    ["label name with a colon", [c("__gauge__", "up"), c("a:b", "x")], "label-name-invalid"],
    ["__name__ as a label", [c("__gauge__", "up"), c("__name__", "x")], "label-name-invalid"],
    [
      "non-string metric",
      [{ _type: "EqualityCondition", key: "__gauge__", value: { _type: "DoubleValue", value: 1 } }],
      "StringValue",
    ],
    ["empty PromQL", [c("~", "  ")], "empty"],
  ] as const)("refuses an invalid %s", (_, conditions, says) => {
    expect(() => classifyConditions(conditions as readonly Condition[])).toThrow(says);
  });

  it("accepts colons in metric names (recording rules)", () => {
    expect(classifyConditions([c("__gauge__", "job:up:sum")]).target).toEqual({
      kind: "gauge",
      metric: "job:up:sum",
    });
  });
});

describe("selector and expressions", () => {
  it("builds selectors with quoted values", () => {
    expect(selector("up", [])).toBe("up");
    expect(selector("up", [{ name: "job", value: 'a"b' }])).toBe('up{job="a\\"b"}');
    expect(selector(undefined, [{ name: "job", value: "x" }])).toBe('{job="x"}');
  });

  it("writes windows in whole milliseconds", () => {
    expect(duration(60_000)).toBe("60000ms");
    expect(duration(1500.2)).toBe("1501ms");
    expect(rateExpr("c_total", 90_000)).toBe("rate(c_total[90000ms])");
  });

  it("filters series by equality matchers (absent labels are empty)", () => {
    expect(matchesAll({ job: "a" }, [{ name: "job", value: "a" }])).toBe(true);
    expect(matchesAll({ job: "a" }, [{ name: "job", value: "b" }])).toBe(false);
    expect(matchesAll({}, [{ name: "job", value: "" }])).toBe(true);
  });
});
