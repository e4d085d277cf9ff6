import { describe, expect, it } from "vitest";
import { bool, ConfigError, int, list, oneOf, readEnv, readSettings, text } from "../../lib/core/config";
import {
  AMP_WORKSPACE_ARN,
  AWS_REGION,
  DNS_HOST,
  KMS_KEY_ARN,
  SECRET_ARN,
  WEB_ACL_ARN,
} from "../../lib/core/patterns";

const SETTINGS = {
  count: int({ min: 1, max: 10, default: 5, doc: "a count, 1 to 10" }),
  rate: int({ min: 0, max: 1, default: undefined, doc: "a share", fraction: true }),
  on: bool({ default: false, doc: "a switch" }),
  level: oneOf(["low", "high"], { default: "low", doc: "`low` or `high`", caseless: true }),
  names: list({ doc: "names", unique: "a name is listed twice" }),
  host: text({ default: undefined, doc: "a host", pattern: DNS_HOST, expected: "a host name" }),
} as const;

const context = (values: Record<string, unknown>) =>
  readSettings(SETTINGS, values, (key) => `configuration ${key}`);

function errorOf(read: () => unknown): ConfigError {
  try {
    read();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("settings", () => {
  it("read unset and blank values as their defaults", () => {
    for (const values of [{}, { count: "", on: " ", names: "" }]) {
      expect(context(values)).toEqual({ count: 5, on: false, level: "low", names: [] });
    }
  });

  it("read -c strings, typed cdk.json values and environment strings alike", () => {
    const fromText = {
      count: "7",
      rate: "0.5",
      on: "true",
      level: "HIGH",
      names: "a, b",
      host: "prom.example",
    };
    const fromJson = {
      count: 7,
      rate: 0.5,
      on: true,
      level: "high",
      names: ["a", "b"],
      host: "prom.example",
    };
    expect(context(fromText)).toEqual(context(fromJson));
    expect(readEnv(SETTINGS, fromText)).toEqual(context(fromJson));
  });

  it.each([
    [{ count: "11" }, "count", "must be between 1 and 10 (got 11)"],
    [{ count: "2.5" }, "count", "expected a whole number (got 2.5)"],
    [{ count: "lots" }, "count", 'expected a number (got "lots")'],
    [{ rate: "2" }, "rate", "must be between 0 and 1 (got 2)"],
    [{ on: "maybe" }, "on", 'expected true or false (got "maybe")'],
    [{ level: "mid" }, "level", 'expected one of low, high (got "mid")'],
    [{ names: "a,a" }, "names", "a name is listed twice"],
    [{ host: "http://prom" }, "host", 'not a host name: "http://prom"'],
    [{ host: { name: "prom" } }, "host", "expected a string"],
  ])("%j: the error names the key and says what was expected", (values, key, message) => {
    const fromContext = errorOf(() => context(values));
    expect(fromContext.key).toBe(key);
    expect(fromContext.message).toBe(`configuration ${key}: ${message}`);
    if (Object.values(values).every((v) => typeof v === "string")) {
      const fromEnv = errorOf(() => readEnv(SETTINGS, values as Record<string, string>));
      expect(fromEnv.message).toBe(`${key}: ${message}`);
    }
  });

  it("blank is a value of its own where a setting says so", () => {
    const keep = { targets: text({ default: undefined, doc: "", blankIsSet: true }) };
    expect(readEnv(keep, {}).targets).toBeUndefined();
    expect(readEnv(keep, { targets: "" }).targets).toBe("");
  });
});

describe("patterns", () => {
  it.each<[RegExp, string[], string[]]>([
    [AWS_REGION, ["eu-west-1", "us-gov-west-1", "us-isob-east-1"], ["Europe", "eu-west", "eu-west-1a"]],
    [DNS_HOST, ["prometheus.internal", "a-b.example.com"], ["http://x", "-a.example", "a..b"]],
    [
      KMS_KEY_ARN,
      ["arn:aws:kms:eu-west-1:123456789012:key/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"],
      ["arn:aws:kms:eu-west-1:123456789012:alias/gateway", "arn:aws:kms:eu-west-1:123456789012:key/*"],
    ],
    [
      SECRET_ARN,
      ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:forward-AbCdEf"],
      ["arn:aws:s3:::bucket"],
    ],
    [
      AMP_WORKSPACE_ARN,
      ["arn:aws:aps:eu-west-1:123456789012:workspace/ws-0a1b2c3d"],
      ["ws-1", "arn:aws:aps:eu-west-1:123456789012:workspace/*"],
    ],
    [
      WEB_ACL_ARN,
      ["arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/gw/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"],
      ["arn:aws:wafv2:eu-west-1:123456789012:global/webacl/gw/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"],
    ],
  ])("%s", (pattern, accepted, refused) => {
    for (const value of accepted) expect(pattern.test(value), value).toBe(true);
    for (const value of refused) expect(pattern.test(value), value).toBe(false);
  });
});
