import { describe, expect, it } from "vitest";
import { MirrorError, queryRejected } from "../../../lib/mirror/errors";
import {
  classifyConditions,
  doubleSpellings,
  duration,
  escapeRegex,
  MATCH_NOTHING_REGEX,
  matchesAll,
  quote,
  rateExpr,
  renderDouble,
  renderMatcher,
  selector,
  valuesOf,
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

describe("valuesOf", () => {
  it.each([
    [{ _type: "StringValue", value: "a b" }, ["a b"]],
    [{ _type: "BooleanValue", value: true }, ["true"]],
    [{ _type: "BooleanValue", value: false }, ["false"]],
    [{ _type: "DoubleValue", value: 0.5 }, ["0.5"]],
    [{ _type: "DoubleValue", value: 3 }, ["3", "3.0"]],
    [{ _type: "DoubleValue", value: -1.25 }, ["-1.25"]],
    [{ _type: "InSetValue", value: ["A", "B", "A"] }, ["A", "B"]],
    [{ _type: "InSetValue", value: [] }, []],
  ] as const)("%j → %j", (value, expected) => {
    expect(valuesOf(value as never)).toEqual(expected);
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
      { name: "job", values: ["api"] },
      { name: "instance", values: ["x:1"] },
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
    ["empty metric name", [c("__gauge__", "")], "metric-name-invalid"],
    ["metric name with a lone surrogate", [c("__counter__", "up\ud800")], "metric-name-invalid"],
    ["empty label name", [c("__gauge__", "up"), c("", "x")], "label-name-invalid"],
    ["label name with a lone surrogate", [c("__gauge__", "up"), c("a\udc00", "x")], "label-name-invalid"],
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

  it.each([
    ["a dotted metric name (OpenTelemetry)", "http.server.request.duration"],
    ["a metric name with spaces", "resource cpu usage"],
    ["a metric name starting with a digit", "1abc"],
    ["a metric name that looks like PromQL", "up or vector(1)"],
  ])("accepts any UTF-8 metric name: %s", (_, name) => {
    expect(classifyConditions([c("__gauge__", name)]).target).toEqual({ kind: "gauge", metric: name });
  });

  it.each([
    ["a dotted label name", "service.name"],
    ["a label name with a colon", "a:b"],
    ["a label name that looks like PromQL", 'job"}'],
  ])("accepts any UTF-8 label name: %s", (_, name) => {
    expect(classifyConditions([c("__gauge__", "up"), c(name, "x")]).matchers).toEqual([
      { name, values: ["x"] },
    ]);
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
    expect(selector("up", [{ name: "job", values: ['a"b'] }])).toBe('up{job="a\\"b"}');
    expect(selector(undefined, [{ name: "job", values: ["x"] }])).toBe('{job="x"}');
  });

  it("writes names outside the legacy classes only inside string literals", () => {
    // a metric name as a __name__ matcher, which Prometheus 2 and 3 both parse
    expect(selector("http.server.request.duration", [])).toBe('{__name__="http.server.request.duration"}');
    // a label name in Prometheus 3's quoted form
    expect(selector("http.server.request.duration", [{ name: "service.name", values: ["checkout"] }])).toBe(
      '{__name__="http.server.request.duration","service.name"="checkout"}',
    );
    expect(selector("up", [{ name: "service.name", values: ["a", "b"] }])).toBe('up{"service.name"=~"a|b"}');
    expect(selector(undefined, [{ name: "k8s.pod", values: [] }])).toBe(
      `{"k8s.pod"=~${JSON.stringify(MATCH_NOTHING_REGEX)}}`,
    );
    // hostile names stay names
    expect(selector('x"} or vector(1) #', [{ name: 'job"} or vector(1) #', values: ["v"] }])).toBe(
      '{__name__="x\\"} or vector(1) #","job\\"} or vector(1) #"="v"}',
    );
    expect(selector("job:up:sum", [])).toBe("job:up:sum");
  });

  it("writes windows in whole milliseconds", () => {
    expect(duration(60_000)).toBe("60000ms");
    expect(duration(1500.2)).toBe("1501ms");
    expect(rateExpr("c_total", 90_000)).toBe("rate(c_total[90000ms])");
  });

  it("filters series by equality matchers (absent labels are empty)", () => {
    expect(matchesAll({ job: "a" }, [{ name: "job", values: ["a"] }])).toBe(true);
    expect(matchesAll({ job: "a" }, [{ name: "job", values: ["b"] }])).toBe(false);
    expect(matchesAll({ job: "a" }, [{ name: "job", values: ["b", "a"] }])).toBe(true);
    expect(matchesAll({ job: "a" }, [{ name: "job", values: [] }])).toBe(false);
    expect(matchesAll({}, [{ name: "job", values: [""] }])).toBe(true);
  });
});

describe("set and number matchers", () => {
  /** Reads an escaped regex back to the literal alternatives it stands for (inverse of escapeRegex). */
  const alternatives = (regex: string): string[] => {
    const out: string[] = [];
    let current = "";
    for (let i = 0; i < regex.length; i++) {
      const ch = regex[i]!;
      if (ch === "\\") {
        const next = regex[++i]!;
        expect("\\.+*?()|[]{}^$", `only metacharacters are escaped (${next})`).toContain(next);
        current += next;
      } else if (ch === "|") {
        out.push(current);
        current = "";
      } else {
        expect("\\.+*?()|[]{}^$", `an unescaped metacharacter ${ch}`).not.toContain(ch);
        current += ch;
      }
    }
    out.push(current);
    return out;
  };

  const HOSTILE = [
    'x"} or vector(1) or up{a="',
    "a|b",
    ".*",
    "(?i)A",
    "\\",
    "\\Q.*\\E",
    "^$",
    "[a-z]+",
    "{1,2}",
    "line\nbreak",
    "ünï ✓ 🎉",
    "",
  ];

  it("renders a set as an anchored alternation of escaped literals, each value exactly", () => {
    const rendered = renderMatcher({ name: "path", values: HOSTILE });
    expect(rendered.startsWith("path=~")).toBe(true);
    const regex = unquote(rendered.slice("path=~".length));
    expect(alternatives(regex)).toEqual(HOSTILE);
    // what Prometheus runs: ^(?:regex)$ — JavaScript's engine agrees with RE2 on these escapes
    const re = new RegExp(`^(?:${regex})$`, "u");
    for (const v of HOSTILE) expect(re.test(v), v).toBe(true);
    for (const v of ["x", "ab", "a", "A", "anything", "a|b|c", "\\\\"]) expect(re.test(v), v).toBe(false);
  });

  it("renders an empty set as a regex nothing matches, one value as equality", () => {
    expect(renderMatcher({ name: "a", values: [] })).toBe(`a=~${quote(MATCH_NOTHING_REGEX)}`);
    expect(renderMatcher({ name: "a", values: ['"'] })).toBe('a="\\""');
  });

  it("escapes exactly the RE2 metacharacters", () => {
    expect(escapeRegex("a.b*c")).toBe("a\\.b\\*c");
    expect(escapeRegex("-_/:")).toBe("-_/:");
  });

  it.each([
    [2, ["2", "2.0"]],
    [1e6, ["1000000", "1000000.0", "1e+06"]],
    [1e7, ["10000000", "1.0E7", "10000000.0", "1e+07"]],
    [1e16, ["10000000000000000", "1.0E16", "1e+16"]],
    [1e-5, ["0.00001", "1.0E-5", "1e-05"]],
    [0.25, ["0.25"]],
    [-3, ["-3", "-3.0"]],
  ])("spells %d as Java, Python, Go and JavaScript do", (n, spellings) => {
    expect(doubleSpellings(n).sort()).toEqual([...spellings].sort());
  });

  it("puts every spelling of a DoubleValue condition in the selector", () => {
    const classified = classifyConditions([
      c("__gauge__", "up"),
      { _type: "EqualityCondition", key: "double", value: { _type: "DoubleValue", value: 2 } },
      { _type: "EqualityCondition", key: "inset", value: { _type: "InSetValue", value: ["A", "B"] } },
    ]);
    expect(selector("up", classified.matchers)).toBe('up{double=~"2|2\\\\.0",inset=~"A|B"}');
  });
});

describe("a Prometheus that cannot parse a quoted name", () => {
  // what Prometheus 2.42 answers to {"service.name"="x"} (bad_data, HTTP 400)
  const said =
    'bad_data: invalid parameter "query": 1:2: parse error: unexpected string "\\"service.n"... in label matching, expected identifier or "}"';

  it("is told apart from other refusals, with what to do", () => {
    const err = queryRejected(said);
    expect(err.status).toBe(400);
    expect(err.code).toBe("utf8-names-unsupported");
    expect(err.body).toMatchObject({
      _type: "RemoteMirrorError",
      summary: "This Prometheus cannot query UTF-8 label names",
    });
    const details = (err.body as { details: string }).details;
    expect(details).toContain("[utf8-names-unsupported]");
    expect(details).toContain("Prometheus 3.0");
    expect(details).toContain("NAME_VALIDATION=legacy");
    expect(details).toContain("service.n");
  });

  it("leaves other query errors as they were", () => {
    const err = queryRejected(
      'bad_data: invalid parameter "query": 1:5: parse error: unexpected end of input',
    );
    expect(err.code).toBe("query-rejected");
  });
});
