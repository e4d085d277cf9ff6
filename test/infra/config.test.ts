import { describe, expect, it } from "vitest";
import { CONFIG_KEYS, ConfigError, type ConfigKeyEntry, parseConfig } from "../../infra/config";
import { within } from "../../lib/core/config";
import { LOG_LEVEL } from "../../lib/core/log";
import { KEY_CACHE_SECONDS } from "../../lib/core/settings";
import {
  AUTH,
  loadForwarderConfig,
  MAX_REQUEST_BYTES,
  PROTOCOL,
  PROTOCOL_MEMORY_SECONDS,
  RETRY_AUTH_FAILURES,
} from "../../lib/forwarder/config";
import {
  loadIngestConfig,
  MAX_BODY_BYTES,
  MAX_RECORD_BYTES,
  NAME_VALIDATION,
  STREAM_SHARDS,
} from "../../lib/ingest/config";
import {
  ERROR_STATUS,
  loadMirrorConfig,
  MAX_ANSWER_BYTES,
  MAX_SERIES,
  maxAnswerBytesFor,
  REQUIRE_KEY,
} from "../../lib/mirror/config";
import { cdkJsonContext, functionOf, synthGateway } from "./synth";

const IMPORTED = {
  vpc: "vpc-0123456789abcdef0",
  vpcSubnetIds: "subnet-0aaaaaaaaaaaaaaa1,subnet-0bbbbbbbbbbbbbbb2",
  vpcAvailabilityZones: "eu-west-1a,eu-west-1b",
};

function errorOf(context: Record<string, unknown>): ConfigError {
  try {
    parseConfig(context);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("parseConfig", () => {
  it("gives the documented defaults for an empty context (and for cdk.json's context)", () => {
    for (const context of [{}, cdkJsonContext()]) {
      const config = parseConfig(context);
      expect(config.stream).toEqual({
        mode: "on-demand",
        shards: undefined,
        retentionHours: 24,
        maxRecordKiB: 1024,
      });
      expect(config.ingest).toMatchObject({
        throttleRate: 500,
        throttleBurst: 1000,
        reservedConcurrency: undefined,
      });
      expect(config.mirror).toMatchObject({
        workers: 20,
        throttleRate: 50,
        throttleBurst: 100,
        prometheus: { host: "prometheus.internal", port: 9090, cidr: "0.0.0.0/0" },
        sourceCidrs: [],
        private: false,
        secretsAccess: "endpoint",
        requireKey: false,
        errorStatus: "native",
        network: "vpc",
        ampWorkspaces: [],
        assumeRoleArns: [],
        memoryMb: 512,
        maxAnswerBytes: 16 * 1024 * 1024,
        maxSeries: 50,
      });
      expect(config.components).toEqual(["ingest", "mirror"]);
      expect(config.vpc).toEqual({ create: true, cidr: "10.80.0.0/24" });
      expect(config.observability).toMatchObject({
        logRetentionDays: 30,
        logLevel: "info",
        keyCacheSeconds: 60,
      });
      expect(config.observability.alarmEmail).toBeUndefined();
    }
  });

  it("reads -c strings and typed cdk.json values alike", () => {
    const fromCli = parseConfig({
      streamMode: "provisioned",
      streamShards: "4",
      workers: "8",
      mirrorPrivate: "true",
      stackstateCidrs: "203.0.113.0/24, 198.51.100.7/32",
      ingestThrottleRate: "12.5",
    });
    const fromJson = parseConfig({
      streamMode: "provisioned",
      streamShards: 4,
      workers: 8,
      mirrorPrivate: true,
      stackstateCidrs: ["203.0.113.0/24", "198.51.100.7/32"],
      ingestThrottleRate: 12.5,
    });
    expect(fromCli).toEqual(fromJson);
    expect(fromCli.stream).toEqual({
      mode: "provisioned",
      shards: 4,
      retentionHours: 24,
      maxRecordKiB: 1024,
    });
    expect(fromCli.mirror!.workers).toBe(8);
    expect(fromCli.mirror!.sourceCidrs).toEqual(["203.0.113.0/24", "198.51.100.7/32"]);
    expect(fromCli.ingest!.throttleRate).toBe(12.5);
  });

  it("reads logLevel in either case, and keeps it in lower case", () => {
    for (const given of ["warn", "WARN", "Warn"]) {
      expect(parseConfig({ logLevel: given }).observability.logLevel).toBe("warn");
    }
  });

  it("defaults a provisioned stream to one shard", () => {
    expect(parseConfig({ streamMode: "provisioned" }).stream?.shards).toBe(1);
  });

  it("imports a VPC by ids, pairing each subnet with its zone", () => {
    const config = parseConfig({ ...IMPORTED, vpcSecurityGroupId: "sg-0123456789abcdef0" });
    expect(config.vpc).toEqual({
      create: false,
      vpcId: "vpc-0123456789abcdef0",
      subnetIds: ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"],
      availabilityZones: ["eu-west-1a", "eu-west-1b"],
      securityGroupId: "sg-0123456789abcdef0",
    });
  });

  it("returns a frozen object", () => {
    const config = parseConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.mirror!.sourceCidrs)).toBe(true);
  });

  it("the mirror's answer cap follows its memory: less by default for a smaller function, more when asked of a larger one", () => {
    expect(parseConfig({ mirrorMemoryMb: "256" }).mirror?.maxAnswerBytes).toBe(maxAnswerBytesFor(256));
    expect(maxAnswerBytesFor(256)).toBeLessThan(16 * 1024 * 1024);
    expect(parseConfig({ mirrorMemoryMb: "2048" }).mirror?.maxAnswerBytes).toBe(16 * 1024 * 1024);
    expect(
      parseConfig({ mirrorMemoryMb: "1024", mirrorMaxAnswerBytes: "67108864", mirrorMaxSeries: "200" })
        .mirror,
    ).toMatchObject({ maxAnswerBytes: 67_108_864, maxSeries: 200 });
    expect(() => parseConfig({ components: "ingest", mirrorMaxAnswerBytes: "1048576" })).toThrow(
      /mirrorMaxAnswerBytes: applies only when components include mirror/,
    );
  });

  it("documents every key it reads", () => {
    for (const [key, entry] of Object.entries(CONFIG_KEYS)) {
      expect(entry.doc.length, key).toBeGreaterThan(10);
    }
  });

  it.each<[string, Record<string, unknown>, string, RegExp]>([
    ["shards with on-demand", { streamShards: "2" }, "streamShards", /provisioned/],
    ["unknown stream mode", { streamMode: "fast" }, "streamMode", /on-demand, provisioned/],
    ["retention too short", { streamRetentionHours: "12" }, "streamRetentionHours", /24 and 8760/],
    ["record limit above Kinesis's", { streamMaxRecordKiB: "10241" }, "streamMaxRecordKiB", /1024 and 10240/],
    ["record limit below Kinesis's", { streamMaxRecordKiB: "512" }, "streamMaxRecordKiB", /1024 and 10240/],
    [
      "records too large for the forwarder's events",
      { streamMaxRecordKiB: "8192", forwardUrl: "https://receiver.example.com/api/v1/write" },
      "streamMaxRecordKiB",
      /at most 4096 with the forwarder/,
    ],
    ["fractional shards", { streamMode: "provisioned", streamShards: "1.5" }, "streamShards", /whole number/],
    ["burst not a number", { ingestThrottleBurst: "lots" }, "ingestThrottleBurst", /number/],
    ["rate zero", { mirrorThrottleRate: "0" }, "mirrorThrottleRate", /between/],
    ["workers zero", { workers: "0" }, "workers", /between 1 and 1000/],
    [
      "an answer cap the mirror's memory cannot hold",
      { mirrorMaxAnswerBytes: "67108864" },
      "mirrorMaxAnswerBytes",
      /67108864 bytes do not fit mirrorMemoryMb=512: .* so at most \d+ bytes; lower the cap or raise mirrorMemoryMb/,
    ],
    [
      "the default answer cap with a smaller mirror, set explicitly",
      { mirrorMemoryMb: "256", mirrorMaxAnswerBytes: "16777216" },
      "mirrorMaxAnswerBytes",
      /do not fit mirrorMemoryMb=256/,
    ],
    [
      "an answer cap below the least",
      { mirrorMaxAnswerBytes: "1024" },
      "mirrorMaxAnswerBytes",
      /between 65536/,
    ],
    ["a series cap of zero", { mirrorMaxSeries: "0" }, "mirrorMaxSeries", /between 1 and 100000/],
    ["body larger than a Lambda event", { ingestMaxBodyBytes: "6000000" }, "ingestMaxBodyBytes", /between/],
    ["timeout beyond API Gateway's", { ingestTimeoutSeconds: "30" }, "ingestTimeoutSeconds", /5 and 29/],
    [
      "subnets with a created VPC",
      { vpcSubnetIds: "subnet-0aaaaaaaaaaaaaaa1" },
      "vpcSubnetIds",
      /existing VPC/,
    ],
    ["bad VPC id", { vpc: "default" }, "vpc", /create/],
    ["imported VPC without subnets", { vpc: IMPORTED.vpc }, "vpcSubnetIds", /required/],
    [
      "zones not matching subnets",
      { ...IMPORTED, vpcAvailabilityZones: "eu-west-1a" },
      "vpcAvailabilityZones",
      /one zone per subnet/,
    ],
    ["bad subnet id", { ...IMPORTED, vpcSubnetIds: "subnet-1,subnet-2" }, "vpcSubnetIds", /not a subnet id/],
    [
      "bad security group",
      { ...IMPORTED, vpcSecurityGroupId: "web" },
      "vpcSecurityGroupId",
      /security group/,
    ],
    ["vpcCidr with an imported VPC", { ...IMPORTED, vpcCidr: "10.1.0.0/24" }, "vpcCidr", /vpc=create/],
    ["bad CIDR", { stackstateCidrs: "203.0.113.0/24,example.com" }, "stackstateCidrs", /IPv4 CIDR/],
    ["octet out of range", { stackstateCidrs: "203.0.300.0/24" }, "stackstateCidrs", /IPv4 CIDR/],
    ["private without sources or endpoint", { mirrorPrivate: "true" }, "stackstateCidrs", /mirrorPrivate/],
    [
      "endpoint id on a public mirror",
      { mirrorApiVpcEndpointId: "vpce-0123456789abcdef0" },
      "mirrorApiVpcEndpointId",
      /mirrorPrivate=true/,
    ],
    ["nat with a created VPC", { mirrorSecretsAccess: "nat" }, "mirrorSecretsAccess", /existing VPC/],
    ["private not boolean", { mirrorPrivate: "yes please" }, "mirrorPrivate", /true or false/],
    ["bad email", { alarmEmail: "ops" }, "alarmEmail", /email/],
    ["retention CloudWatch lacks", { logRetentionDays: "31" }, "logRetentionDays", /one of/],
    ["unknown log level", { logLevel: "trace" }, "logLevel", /debug, info/],
    ["bad Prometheus host", { prometheusHost: "http://prom:9090" }, "prometheusHost", /host name/],
    ["port out of range", { prometheusPort: "70000" }, "prometheusPort", /between 1 and 65535/],
    ["typo in a key", { workerz: "5" }, "workerz", /unknown key/],
    // components
    ["no component", { components: " , " }, "components", /at least one of ingest, mirror/],
    ["unknown component", { components: "ingest,forwarder" }, "components", /expected ingest, mirror/],
    ["component twice", { components: "mirror,mirror" }, "components", /listed twice/],
    [
      "an ingest setting without ingest",
      { components: "mirror", streamMode: "provisioned" },
      "streamMode",
      /only when components include ingest \(components=mirror\)/,
    ],
    [
      "a mirror setting without the mirror",
      { components: "ingest", prometheusHost: "prom.example.com" },
      "prometheusHost",
      /only when components include mirror/,
    ],
    ["a VPC without the mirror", { components: ["ingest"], vpc: IMPORTED.vpc }, "vpc", /include mirror/],
    // mirror network, AMP, roles, error status
    ["unknown network mode", { mirrorNetwork: "public" }, "mirrorNetwork", /vpc, none/],
    [
      "a VPC with mirrorNetwork=none",
      { mirrorNetwork: "none", ampWorkspaces: "ws-abc@eu-west-1", ...IMPORTED },
      "vpc",
      /only with mirrorNetwork=vpc/,
    ],
    [
      "secrets access with mirrorNetwork=none",
      { mirrorNetwork: "none", ampWorkspaces: "ws-abc@eu-west-1", mirrorSecretsAccess: "nat" },
      "mirrorSecretsAccess",
      /only with mirrorNetwork=vpc/,
    ],
    [
      "a Prometheus CIDR with mirrorNetwork=none",
      { mirrorNetwork: "none", prometheusHost: "prom.example.com", prometheusCidr: "10.0.0.0/8" },
      "prometheusCidr",
      /only with mirrorNetwork=vpc/,
    ],
    ["mirrorNetwork=none without any target", { mirrorNetwork: "none" }, "ampWorkspaces", /no target/],
    [
      "a Prometheus port without a host, mirrorNetwork=none",
      { mirrorNetwork: "none", prometheusPort: "9090", ampWorkspaces: "ws-abc@eu-west-1" },
      "prometheusHost",
      /required with prometheusPort/,
    ],
    [
      "a private mirror without a VPC or an endpoint id",
      {
        mirrorNetwork: "none",
        ampWorkspaces: "ws-abc@eu-west-1",
        mirrorPrivate: "true",
        stackstateCidrs: "10.0.0.0/8",
      },
      "mirrorApiVpcEndpointId",
      /mirrorPrivate=true and mirrorNetwork=none/,
    ],
    ["a workspace without region", { ampWorkspaces: "ws-abc" }, "ampWorkspaces", /no valid region after @/],
    ["a workspace with a bad region", { ampWorkspaces: "ws-abc@Europe" }, "ampWorkspaces", /"ws-abc@Europe"/],
    ["a workspace id without ws-", { ampWorkspaces: "abc@eu-west-1" }, "ampWorkspaces", /workspace id/],
    [
      "an ARN of another service",
      { ampWorkspaces: "arn:aws:s3:::bucket" },
      "ampWorkspaces",
      /not an AMP workspace ARN/,
    ],
    [
      "a workspace ARN with a wildcard",
      { ampWorkspaces: "arn:aws:aps:eu-west-1:123456789012:workspace/*" },
      "ampWorkspaces",
      /workspace id/,
    ],
    [
      "a workspace listed twice",
      { ampWorkspaces: "ws-abc@eu-west-1,arn:aws:aps:eu-west-1:123456789012:workspace/ws-abc" },
      "ampWorkspaces",
      /listed twice/,
    ],
    [
      "workspaces of two regions behind endpoints",
      { ampWorkspaces: "ws-abc@eu-west-1,ws-def@us-east-1" },
      "ampWorkspaces",
      /several regions \(eu-west-1, us-east-1\)/,
    ],
    [
      "a role ARN with a wildcard",
      { mirrorAssumeRoleArns: "arn:aws:iam::123456789012:role/*" },
      "mirrorAssumeRoleArns",
      /no wildcards/,
    ],
    [
      "a user ARN as a role",
      { mirrorAssumeRoleArns: "arn:aws:iam::123456789012:user/alice" },
      "mirrorAssumeRoleArns",
      /not an IAM role ARN/,
    ],
    [
      "a role listed twice",
      { mirrorAssumeRoleArns: "arn:aws:iam::123456789012:role/a, arn:aws:iam::123456789012:role/a" },
      "mirrorAssumeRoleArns",
      /listed twice/,
    ],
    ["an unknown error status", { mirrorErrorStatus: "502" }, "mirrorErrorStatus", /native, 500/],
  ])("rejects %s, naming the key", (_name, context, key, message) => {
    const err = errorOf(context);
    expect(err.key).toBe(key);
    expect(err.message).toContain(`configuration ${key}:`);
    expect(err.message).toMatch(message);
  });

  it("components: either part alone, in a fixed order, as -c text or a JSON list", () => {
    const ingest = parseConfig({ components: "ingest" });
    expect(ingest.components).toEqual(["ingest"]);
    expect(ingest.stream).toBeDefined();
    expect(ingest.mirror).toBeUndefined();
    expect(ingest.vpc).toBeUndefined();
    const mirror = parseConfig({ components: ["mirror"] });
    expect(mirror.components).toEqual(["mirror"]);
    expect(mirror.stream).toBeUndefined();
    expect(mirror.ingest).toBeUndefined();
    expect(mirror.mirror).toBeDefined();
    expect(parseConfig({ components: "mirror, ingest" }).components).toEqual(["ingest", "mirror"]);
  });

  it("AMP workspaces by ARN or id@region; Prometheus stays a target only when configured", () => {
    const config = parseConfig({
      ampWorkspaces: "arn:aws:aps:eu-west-1:210987654321:workspace/ws-0a1b2c3d-4e5f, ws-abc@eu-west-1",
    });
    expect(config.mirror!.ampWorkspaces).toEqual([
      {
        id: "ws-0a1b2c3d-4e5f",
        region: "eu-west-1",
        arn: "arn:aws:aps:eu-west-1:210987654321:workspace/ws-0a1b2c3d-4e5f",
      },
      { id: "ws-abc", region: "eu-west-1" },
    ]);
    expect(config.mirror!.prometheus).toBeUndefined();
    const both = parseConfig({ ampWorkspaces: "ws-abc@eu-west-1", prometheusHost: "prom.example.com" });
    expect(both.mirror!.prometheus).toEqual({ host: "prom.example.com", port: 9090, cidr: "0.0.0.0/0" });
  });

  it("mirrorNetwork=none: no VPC, no secrets access; workspaces of any region; roles and error status", () => {
    const config = parseConfig({
      mirrorNetwork: "none",
      ampWorkspaces: "ws-abc@eu-west-1,ws-def@us-east-1",
      mirrorAssumeRoleArns: "arn:aws:iam::123456789012:role/path/to/StackStateReader",
      mirrorErrorStatus: 500,
    });
    expect(config.vpc).toBeUndefined();
    expect(config.mirror).toMatchObject({
      network: "none",
      secretsAccess: undefined,
      prometheus: undefined,
      errorStatus: "500",
      assumeRoleArns: ["arn:aws:iam::123456789012:role/path/to/StackStateReader"],
    });
    expect(config.mirror!.ampWorkspaces.map((w) => w.region)).toEqual(["eu-west-1", "us-east-1"]);
  });

  it("workspaces of several regions are fine where the subnets route out (nat)", () => {
    const config = parseConfig({
      ...IMPORTED,
      mirrorSecretsAccess: "nat",
      ampWorkspaces: "ws-abc@eu-west-1,ws-def@us-east-1",
    });
    expect(config.mirror!.ampWorkspaces).toHaveLength(2);
  });

  it("mirrorNetwork=none with a private API on an existing endpoint", () => {
    const config = parseConfig({
      mirrorNetwork: "none",
      prometheusHost: "prometheus.example.com",
      mirrorPrivate: "true",
      mirrorApiVpcEndpointId: "vpce-0123456789abcdef0",
    });
    expect(config.mirror).toMatchObject({ private: true, apiVpcEndpointId: "vpce-0123456789abcdef0" });
  });

  it("ignores CDK's own context keys (feature flags, cli settings)", () => {
    expect(() =>
      parseConfig({ "@aws-cdk/core:newStyleStackSynthesis": true, "cli-telemetry": false, "aws:cdk:x": 1 }),
    ).not.toThrow();
  });
});

describe("settings the stack hands to a function", () => {
  // context key → the function's own setting, and the factor from the key's unit to the variable's
  const SHARED: [keyof typeof CONFIG_KEYS, ConfigKeyEntry, number][] = [
    ["keyCacheSeconds", KEY_CACHE_SECONDS, 1],
    ["ingestMaxBodyBytes", MAX_BODY_BYTES, 1],
    ["streamMaxRecordKiB", MAX_RECORD_BYTES, 1024],
    ["streamShards", STREAM_SHARDS, 1],
    ["mirrorMaxAnswerBytes", MAX_ANSWER_BYTES, 1],
    ["mirrorMaxSeries", MAX_SERIES, 1],
    ["forwardMaxRequestBytes", MAX_REQUEST_BYTES, 1],
    ["forwardProtocolMemorySeconds", PROTOCOL_MEMORY_SECONDS, 1],
  ];

  it.each(SHARED)("%s lies within the function's bounds", (key, setting, scale) => {
    const [min = 0, max = 0] = (CONFIG_KEYS[key] as ConfigKeyEntry).range ?? [];
    const [lo = 0, hi = 0] = setting.range ?? [];
    expect(min * scale).toBeGreaterThanOrEqual(lo);
    expect(max * scale).toBeLessThanOrEqual(hi);
  });

  it.each<[keyof typeof CONFIG_KEYS, ConfigKeyEntry]>([
    ["logLevel", LOG_LEVEL],
    ["nameValidation", NAME_VALIDATION],
    ["mirrorErrorStatus", ERROR_STATUS],
    ["mirrorRequireKey", REQUIRE_KEY],
    ["forwardAuth", AUTH],
    ["forwardProtocol", PROTOCOL],
    ["forwardRetryAuthFailures", RETRY_AUTH_FAILURES],
  ])("%s is the function's own setting: the same values and default", (key, setting) => {
    const entry = CONFIG_KEYS[key] as ConfigKeyEntry;
    expect(entry.schema).toBe(setting.schema);
    expect(entry.values).toEqual(setting.values);
    expect(entry.default).toEqual(setting.default);
  });

  it("refuses to declare a narrower setting outside the function's bounds", () => {
    expect(() => within(KEY_CACHE_SECONDS, { min: 0, max: 100_000, default: 60, doc: "" })).toThrow(
      /outside 0\.\.86400/,
    );
  });

  const LITERAL = (env: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(env).filter(([, v]) => typeof v === "string")) as Record<
      string,
      string
    >;
  const envOf = (json: Record<string, unknown>, prefix: string) =>
    LITERAL(functionOf(json, prefix).Properties.Environment.Variables);

  it.each([
    ["the defaults", {}],
    [
      "every shared range at its least",
      {
        keyCacheSeconds: "1",
        ingestMaxBodyBytes: "1024",
        streamMode: "provisioned",
        streamShards: "1",
        mirrorMemoryMb: "10240",
        mirrorMaxAnswerBytes: "65536",
        mirrorMaxSeries: "1",
        logLevel: "DEBUG",
        forwardUrl: "https://receiver.example.com/api/v1/write",
        forwardMaxRequestBytes: "1024",
        forwardProtocolMemorySeconds: "0",
        forwardProtocol: "v1",
      },
    ],
    [
      "every shared range at its most",
      {
        keyCacheSeconds: "3600",
        ingestMaxBodyBytes: String(4_400_000),
        streamMode: "provisioned",
        streamShards: "10000",
        streamMaxRecordKiB: "10240",
        mirrorMemoryMb: "10240",
        mirrorMaxAnswerBytes: String(maxAnswerBytesFor(10_240)),
        mirrorMaxSeries: "100000",
        nameValidation: "legacy",
        mirrorErrorStatus: "500",
        mirrorRequireKey: "true",
      },
    ],
  ])("with %s, each function reads what the stack sets", (_name, context) => {
    const { json } = synthGateway(context);
    expect(() => loadIngestConfig(envOf(json, "Prometheus remote_write"))).not.toThrow();
    expect(() => loadMirrorConfig(envOf(json, "StackState Prometheus mirror"))).not.toThrow();
    if ("forwardUrl" in context) {
      expect(() => loadForwarderConfig(envOf(json, "Prometheus gateway forwarder"))).not.toThrow();
    }
  });
});
