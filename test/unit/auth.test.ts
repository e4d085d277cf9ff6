import { describe, expect, it } from "vitest";
import { AwsServiceError } from "../../lib/aws/aws-json";
import { parseSecret, SecretKeySource } from "../../lib/aws/secret-keys";
import type { SecretStringReader } from "../../lib/aws/secrets-manager";
import {
  checkDistinctKeys,
  checkKey,
  isHeaderSafeKey,
  keysFromEnv,
  matchKey,
  parseKeyList,
  presentedKey,
} from "../../lib/core/auth";
import { ConfigError } from "../../lib/core/config";
import { createLogger } from "../../lib/core/log";

const headers = (h: Record<string, string>) => (name: string) => h[name.toLowerCase()];
const basic = (s: string) => `Basic ${Buffer.from(s).toString("base64")}`;

describe("presented credentials", () => {
  it.each([
    [{ "sts-api-key": "abc" }, "abc"],
    [{ "sts-api-key": "  abc  " }, "abc"],
    [{ authorization: basic("apikey:abc") }, "abc"],
    [{ authorization: basic("apikey:a:b:c") }, "a:b:c"],
    [{ authorization: basic("admin:abc") }, undefined],
    [{ authorization: basic("apikey:") }, undefined],
    [{ authorization: "Bearer abc" }, undefined],
    [{ authorization: "Basic !!!" }, undefined],
    [{}, undefined],
  ])("%o → %s", (h, want) => {
    expect(presentedKey(headers(h))).toBe(want);
  });

  it("the header wins over basic auth", () => {
    expect(presentedKey(headers({ "sts-api-key": "h", authorization: basic("apikey:b") }))).toBe("h");
  });
});

describe("key matching", () => {
  const keys = [{ key: "one" }, { key: "two", tenant: "acme" }];
  it("finds the key and its tenant, in constant time over all keys", () => {
    expect(matchKey("two", keys)).toEqual({ key: "two", tenant: "acme" });
    expect(matchKey("one", keys)).toEqual({ key: "one" });
    expect(matchKey("three", keys)).toBeUndefined();
    expect(matchKey("", keys)).toBeUndefined();
  });

  it("parses API_KEYS with tenants and refuses bad tenants without echoing keys", () => {
    expect(parseKeyList("API_KEYS", "k1, acme=k2,,")).toEqual([{ key: "k1" }, { key: "k2", tenant: "acme" }]);
    expect(() => parseKeyList("API_KEYS", "bad tenant=supersecret")).toThrow(/entry 1 has an invalid tenant/);
    try {
      parseKeyList("API_KEYS", "bad tenant=supersecret");
    } catch (err) {
      expect((err as Error).message).not.toContain("supersecret");
    }
    expect(keysFromEnv({ API_KEY: "x" })).toEqual([{ key: "x" }]);
    expect(keysFromEnv({})).toBeUndefined();
  });
});

describe("what a key may hold: printable ASCII, as an HTTP header value carries it", () => {
  it.each([
    ["letters-and-digits-0123", true],
    ["punctuation!#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\"", true],
    ["inner space", true],
    ["x", true],
    ["ключ-🔑-key", false],
    ["café", false], // Latin-1: a header carries it, basic auth sends UTF-8: the two would differ
    ["tab\there", false],
    ["new\nline", false],
    ["nul\u0000", false],
    ["del\u007f", false],
    [" leading", false],
    ["trailing ", false],
    ["", false],
  ])("%j → %s", (key, ok) => {
    expect(isHeaderSafeKey(key)).toBe(ok);
    if (ok) expect(new Headers({ k: key }).get("k")).toBe(key);
  });

  it.each([
    [{ API_KEY: "ключ-🔑-key" }, /^API_KEY: the key has a character outside printable ASCII \(character 1\)/],
    [{ API_KEYS: "ok-key, acme=bad\u0001key" }, /^API_KEYS: entry 2: the key has a character outside/],
    [{ API_KEYS: "ключ" }, /^API_KEYS: entry 1:/],
  ])("keysFromEnv refuses %j naming the variable, not the key", (env, says) => {
    let error: unknown;
    try {
      keysFromEnv(env);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(says);
    expect((error as ConfigError).message).not.toMatch(/ключ|bad/);
    expect((error as ConfigError).key).toMatch(/^API_KEYS?$/);
  });

  it("checkKey returns a good key as it is", () => {
    expect(checkKey("V", "fine-key")).toBe("fine-key");
    expect(() => checkKey("V", "fine key ")).toThrow("V: the key starts or ends with a space");
  });

  it("checkDistinctKeys refuses a mirror key that also unlocks ingest, naming both variables", () => {
    const ingest = { variable: "API_KEYS", keys: [{ key: "a" }, { key: "b", tenant: "t" }] };
    expect(() =>
      checkDistinctKeys(ingest, { variable: "MIRROR_API_KEY", keys: [{ key: "c" }] }),
    ).not.toThrow();
    expect(() => checkDistinctKeys(ingest, { variable: "MIRROR_API_KEY", keys: [{ key: "b" }] })).toThrow(
      "MIRROR_API_KEY: must differ from the ingest key (API_KEYS)",
    );
  });
});

/**
 * A Secrets Manager port answering by version stage; every read recorded. (The real reader
 * over HTTP, signed and checked, is in test/integration/secret-keys.test.ts.)
 */
function secrets(answer: (id: string, stage?: string) => Promise<string | undefined>) {
  const reads: { id: string; stage?: string }[] = [];
  const reader: SecretStringReader = {
    secretString: (id, stage) => {
      reads.push({ id, stage });
      return answer(id, stage);
    },
  };
  return { reader, reads };
}

const awsError = (code: string) => new AwsServiceError(code, `${code} injected`, 400);

describe("keys in Secrets Manager", () => {
  const logs: string[] = [];
  const log = createLogger("debug", (l) => logs.push(l));

  it("accepts AWSCURRENT and AWSPREVIOUS during a rotation, and caches", async () => {
    const { reader, reads } = secrets(async (id, stage) => {
      if (id !== "arn:s") throw awsError("ResourceNotFoundException");
      return stage === "AWSCURRENT" ? "new-key" : '{"key":"old-key","tenant":"acme"}';
    });
    let now = 0;
    const source = new SecretKeySource(reader, "arn:s", 60, log, () => now);
    expect(await source.keys()).toEqual([{ key: "new-key" }, { key: "old-key", tenant: "acme" }]);
    expect(reads.map((r) => r.stage).sort()).toEqual(["AWSCURRENT", "AWSPREVIOUS"]);
    now = 59_000;
    await source.keys();
    expect(reads).toHaveLength(2);
    now = 61_000;
    await source.keys();
    expect(reads).toHaveLength(4);
  });

  it("works without a previous version, keeps the last keys when a refresh fails, never logs a key", async () => {
    let currentFails = false;
    const { reader } = secrets(async (_id, stage) => {
      if (stage === "AWSPREVIOUS") throw awsError("ResourceNotFoundException");
      if (currentFails) throw awsError("ThrottlingException");
      return "k-123";
    });
    let now = 0;
    const source = new SecretKeySource(reader, "arn:s", 1, log, () => now);
    expect(await source.keys()).toEqual([{ key: "k-123" }]);
    currentFails = true;
    now = 5_000;
    expect(await source.keys()).toEqual([{ key: "k-123" }]);
    expect(logs.join("\n")).toContain("key refresh failed");
    expect(logs.join("\n")).toContain("ThrottlingException");
    expect(logs.join("\n")).not.toContain("k-123");
  });

  it("fails clearly when the secret cannot be read at all", async () => {
    const { reader } = secrets(() => Promise.reject(awsError("AccessDeniedException")));
    const source = new SecretKeySource(reader, "arn:s", 60, log);
    await expect(source.keys()).rejects.toThrow(
      /could not read the API key secret \(AccessDeniedException\)/,
    );
  });

  it("fails the read when the previous version errs otherwise than by being missing", async () => {
    const { reader } = secrets(async (_id, stage) => {
      if (stage === "AWSPREVIOUS") throw awsError("InternalServiceError");
      return "k-456";
    });
    const source = new SecretKeySource(reader, "arn:s", 60, log);
    await expect(source.keys()).rejects.toThrow(/could not read the API key secret \(InternalServiceError\)/);
  });

  it.each([
    ["plain", "abc", { key: "abc" }],
    ["json", '{"key":"abc"}', { key: "abc" }],
    ["json with tenant", '{"key":"abc","tenant":"t1"}', { key: "abc", tenant: "t1" }],
  ])("parses a %s secret", (_n, text, want) => {
    expect(parseSecret(text)).toEqual(want);
  });

  it.each([[""], ['{"nokey":1}'], ['{"key":"abc","tenant":"bad tenant"}']])("refuses %s", (text) => {
    expect(() => parseSecret(text)).toThrow();
  });
});
