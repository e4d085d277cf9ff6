import { describe, expect, it } from "vitest";
import { ConfigError } from "../../../lib/core/config";
import {
  ANSWER_MEMORY,
  loadMirrorConfig,
  MIRROR_DEFAULTS,
  maxAnswerBytesFor,
  parseDuration,
  staticMirrorKeys,
} from "../../../lib/mirror/config";
import { MirrorError } from "../../../lib/mirror/errors";
import { isAllowed, parseTargetPatterns, resolveTarget } from "../../../lib/mirror/targets";

describe("loadMirrorConfig", () => {
  it("defaults: any target allowed (flagged), no key required, 1m counter window", () => {
    const config = loadMirrorConfig({});
    expect(config.allowAnyTarget).toBe(true);
    expect(config.allowedTargets).toEqual([]);
    expect(config.requireKey).toBe(false);
    expect(config.counterWindowMs).toBe(60_000);
    expect(config.defaultRequestTimeoutMs).toBe(MIRROR_DEFAULTS.defaultRequestTimeoutMs);
    expect(config.maxAnswerBytes).toBe(16 * 1024 * 1024);
    expect(config.maxSeries).toBe(50);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it("reads every variable", () => {
    const config = loadMirrorConfig({
      MIRROR_ALLOWED_TARGETS: "prom:9090, *.monitoring.svc:*",
      MIRROR_REQUIRE_KEY: "true",
      MIRROR_COUNTER_WINDOW: "2m30s",
      MIRROR_REQUEST_TIMEOUT_MS: "5000",
      MIRROR_MAX_REQUEST_TIMEOUT_MS: "9000",
      MIRROR_MAX_ANSWER_BYTES: "1048576",
      MIRROR_MAX_SERIES: "7",
    });
    expect(config.maxAnswerBytes).toBe(1_048_576);
    expect(config.maxSeries).toBe(7);
    expect(config.allowAnyTarget).toBe(false);
    expect(config.allowedTargets.map((p) => p.source)).toEqual(["prom:9090", "*.monitoring.svc:*"]);
    expect(config.requireKey).toBe(true);
    expect(config.counterWindowMs).toBe(150_000);
    expect(config.defaultRequestTimeoutMs).toBe(5000);
    expect(config.maxRequestTimeoutMs).toBe(9000);
  });

  it.each([
    ["MIRROR_REQUIRE_KEY", "maybe"],
    ["MIRROR_COUNTER_WINDOW", "60"],
    ["MIRROR_COUNTER_WINDOW", "1 minute"],
    ["MIRROR_ALLOWED_TARGETS", ""],
    ["MIRROR_ALLOWED_TARGETS", "prom"],
    ["MIRROR_ALLOWED_TARGETS", "prom:99999"],
    ["MIRROR_ALLOWED_TARGETS", "pr/om:9090"],
    ["MIRROR_REQUEST_TIMEOUT_MS", "-1"],
    ["MIRROR_MAX_REQUEST_TIMEOUT_MS", "1.5"],
    ["MIRROR_ERROR_STATUS", "502"],
    ["MIRROR_ERROR_STATUS", "peer"],
    ["MIRROR_ALLOWED_TARGETS", "https://user@prom.example/"],
    ["MIRROR_MAX_ANSWER_BYTES", "32MiB"],
    ["MIRROR_MAX_ANSWER_BYTES", "1000"],
    ["MIRROR_MAX_ANSWER_BYTES", "2147483648"],
    ["MIRROR_MAX_SERIES", "0"],
    ["MIRROR_MAX_SERIES", "many"],
  ])("a malformed %s (%j) throws naming the variable", (name, value) => {
    expect(() => loadMirrorConfig({ [name]: value })).toThrow(name);
    expect(() => loadMirrorConfig({ [name]: value })).toThrow(ConfigError);
  });

  it("the default answer cap fits the mirror's default memory, and the fit grows with memory", () => {
    expect(maxAnswerBytesFor(512)).toBeGreaterThanOrEqual(MIRROR_DEFAULTS.maxAnswerBytes);
    expect(maxAnswerBytesFor(256)).toBeLessThan(MIRROR_DEFAULTS.maxAnswerBytes);
    expect(maxAnswerBytesFor(1024)).toBeGreaterThan(maxAnswerBytesFor(512));
    const { rssPerAnswerByte, baseMb, share } = ANSWER_MEMORY;
    const used = baseMb + (rssPerAnswerByte * maxAnswerBytesFor(512)) / 1024 / 1024;
    expect(used).toBeLessThanOrEqual(512 * share);
  });

  it("reads MIRROR_ERROR_STATUS (native by default) and AWS_REGION", () => {
    expect(loadMirrorConfig({}).errorStatus).toBe("native");
    expect(loadMirrorConfig({ MIRROR_ERROR_STATUS: "500" }).errorStatus).toBe("500");
    expect(loadMirrorConfig({ MIRROR_ERROR_STATUS: " Native " }).errorStatus).toBe("native");
    expect(loadMirrorConfig({ AWS_REGION: "eu-west-1" }).awsRegion).toBe("eu-west-1");
  });

  it("refuses a default timeout above the cap", () => {
    expect(() =>
      loadMirrorConfig({ MIRROR_REQUEST_TIMEOUT_MS: "30000", MIRROR_MAX_REQUEST_TIMEOUT_MS: "10000" }),
    ).toThrow("MIRROR_REQUEST_TIMEOUT_MS");
  });

  it("parses Prometheus durations", () => {
    expect(parseDuration("X", "500ms")).toBe(500);
    expect(parseDuration("X", "1h5m")).toBe(3_900_000);
    expect(() => parseDuration("X", "0s")).toThrow("X");
    expect(() => parseDuration("X", "5m garbage")).toThrow("X");
  });

  it("takes the key from MIRROR_API_KEY only, never from the ingest key API_KEY", () => {
    expect(staticMirrorKeys({ MIRROR_API_KEY: "m", API_KEY: "a" })).toEqual([{ key: "m" }]);
    expect(staticMirrorKeys({ API_KEY: "a" })).toEqual([]);
    expect(staticMirrorKeys({ MIRROR_API_KEY: " ", API_KEY: "" })).toEqual([]);
  });

  it("refuses a MIRROR_API_KEY that cannot be sent as a header value, naming it", () => {
    expect(() => loadMirrorConfig({ MIRROR_API_KEY: "ключ-🔑-key" })).toThrow(
      /^MIRROR_API_KEY: the key has a character outside printable ASCII/,
    );
  });

  it.each([
    [{ MIRROR_API_KEY: "one", API_KEY: "one" }, "(API_KEY)"],
    [{ MIRROR_API_KEY: "two", API_KEYS: "one,acme=two" }, "(API_KEYS)"],
  ])("refuses a mirror key that is also an ingest key in the same environment", (env, names) => {
    expect(() => loadMirrorConfig(env)).toThrow(`MIRROR_API_KEY: must differ from the ingest key ${names}`);
    expect(loadMirrorConfig({ ...env, MIRROR_API_KEY: "another" }).staticKeys).toEqual([{ key: "another" }]);
  });
});

describe("targets", () => {
  const patterns = parseTargetPatterns("V", "prom.example:9090,*.svc.local:*,[::1]:9090,10.0.0.*:9090");

  it.each([
    ["prom.example", 9090, true],
    ["PROM.example.", 9090, true],
    ["prom.example", 9091, false],
    ["a.b.svc.local", 1234, true],
    ["svc.local", 1234, false],
    ["::1", 9090, true],
    ["10.0.0.7", 9090, true],
    ["10.0.1.7", 9090, false],
    ["evil.example", 9090, false],
  ])("%s:%i allowed: %s", (host, port, allowed) => {
    expect(isAllowed(patterns, host, port)).toBe(allowed);
  });

  it("builds the base URL from scheme, host, port and path prefix", () => {
    expect(resolveTarget({ host: "prom.example", port: 9090 }, patterns).baseUrl).toBe(
      "http://prom.example:9090",
    );
    expect(
      resolveTarget(
        { host: "prom.example", port: 9090, scheme: "https", pathPrefix: "/prometheus/" },
        patterns,
      ).baseUrl,
    ).toBe("https://prom.example:9090/prometheus");
    expect(resolveTarget({ host: "::1", port: 9090 }, undefined).baseUrl).toBe("http://[::1]:9090");
  });

  it.each([
    ["a host with a path", { host: "prom.example/x", port: 9090 }, 400],
    ["a host with credentials", { host: "user@prom.example", port: 9090 }, 400],
    ["a host with a query", { host: "prom.example?a=1", port: 9090 }, 400],
    ["a broken IPv4 address no URL can hold", { host: "127.0.Q.1", port: 9090 }, 400],
    ["a path prefix with a query", { host: "prom.example", port: 9090, pathPrefix: "/x?y" }, 400],
    ["a path prefix without a slash", { host: "prom.example", port: 9090, pathPrefix: "x" }, 400],
    ["a target outside the list", { host: "other.example", port: 9090 }, 403],
  ])("refuses %s", (_, details, status) => {
    try {
      resolveTarget(details, patterns);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(MirrorError);
      expect((err as MirrorError).status).toBe(status);
    }
  });

  it("allows anything when no list is configured", () => {
    expect(resolveTarget({ host: "anything.example", port: 1 }, undefined).display).toBe(
      "anything.example:1",
    );
  });
});
