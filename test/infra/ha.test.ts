import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CONFIG_KEYS, ConfigError, type ConfigKeyEntry, parseConfig } from "../../infra/config";
import { ELECTION_CONFLICTS } from "../../infra/constructs/gateway-monitoring";
import { PROJECT_ROOT } from "../../infra/paths";
import { ENV } from "../../lib/core/env-names";
import {
  HA_CLUSTER_LABEL,
  HA_DEDUP,
  HA_ENV,
  HA_FAILOVER_TIMEOUT_SECONDS,
  HA_MAX_CLUSTERS,
  HA_REPLICA_LABEL,
  HA_UPDATE_TIMEOUT_SECONDS,
  loadHaSettings,
} from "../../lib/ha/config";
import { HA_TABLE, STALE_CLUSTER_SECONDS } from "../../lib/ha/table";
import {
  type CfnResource,
  functionOf,
  type PolicyStatement,
  resourcesOf,
  roleStatements,
  synthGateway,
} from "./synth";

/** HA-pair deduplication on the synthesized template: the table, the function's variables, IAM, alarms. */

const KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/0a1b2c3d-4e5f-6789-abcd-ef0123456789";
const INGEST = "Prometheus remote_write";
const MIRROR = "StackState Prometheus mirror";
const FORWARDER = "Prometheus gateway forwarder";
const HA_VARIABLES = Object.keys(HA_ENV).filter((name) => name !== ENV.dynamodbEndpoint);

const off = synthGateway({ forwardUrl: "https://receiver.example.com/api/v1/write" });
const on = synthGateway({
  haDedup: "true",
  alarmEmail: "oncall@example.com",
  forwardUrl: "https://receiver.example.com/api/v1/write",
});
const created = synthGateway({ haDedup: "true", kmsKey: "create", components: "ingest" });
const imported = synthGateway({ haDedup: "true", kmsKey: KEY_ARN, components: "ingest" });

type Statement = PolicyStatement;
const actionsOf = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const statementsOf = roleStatements;
const allStatements = (json: Record<string, unknown>): Statement[] =>
  Object.values(resourcesOf(json, "AWS::IAM::Policy")).flatMap((p) => p.Properties.PolicyDocument.Statement);

const tableOf = (json: Record<string, unknown>): [string, CfnResource] => {
  const tables = Object.entries(resourcesOf(json, "AWS::DynamoDB::Table"));
  expect(tables).toHaveLength(1);
  return tables[0]!;
};
const envOf = (json: Record<string, unknown>, prefix: string) =>
  functionOf(json, prefix).Properties.Environment.Variables as Record<string, unknown>;

function errorOf(context: Record<string, unknown>): ConfigError {
  try {
    parseConfig(context);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("off by default", () => {
  it("no table, no DynamoDB permission, no HA_* variable, no HA alarm", () => {
    off.template.resourceCountIs("AWS::DynamoDB::Table", 0);
    expect(
      allStatements(off.json)
        .flatMap(actionsOf)
        .filter((a) => a.startsWith("dynamodb:")),
    ).toEqual([]);
    for (const prefix of [INGEST, MIRROR, FORWARDER]) {
      const env = envOf(off.json, prefix);
      for (const name of HA_VARIABLES) expect(env[name], `${prefix} ${name}`).toBeUndefined();
    }
    expect(off.stack.monitoring.alarms.map((a) => a.node.id).filter((id) => id.startsWith("Ha"))).toEqual([]);
    expect(JSON.stringify(off.json)).not.toContain("AWS/DynamoDB");
    expect(off.stack.replicaTable).toBeUndefined();
  });

  it("haDedup=false given explicitly is the same", () => {
    expect(parseConfig({ haDedup: "false" }).ha).toBeUndefined();
    expect(parseConfig({}).ha).toBeUndefined();
  });
});

describe("the table of elected replicas (haDedup=true)", () => {
  it("keys of lib/ha/table.ts, on-demand, TTL on expiresAt, point-in-time recovery", () => {
    const [, table] = tableOf(on.json);
    expect(table.Properties.KeySchema).toEqual([
      { AttributeName: HA_TABLE.partitionKey, KeyType: "HASH" },
      { AttributeName: HA_TABLE.sortKey, KeyType: "RANGE" },
    ]);
    expect(table.Properties.AttributeDefinitions).toEqual([
      { AttributeName: HA_TABLE.partitionKey, AttributeType: "S" },
      { AttributeName: HA_TABLE.sortKey, AttributeType: "S" },
    ]);
    expect(table.Properties.BillingMode).toBe("PAY_PER_REQUEST");
    expect(table.Properties.ProvisionedThroughput).toBeUndefined();
    expect(table.Properties.TimeToLiveSpecification).toEqual({
      AttributeName: HA_TABLE.expiresAt,
      Enabled: true,
    });
    expect(table.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    // no index, no stream: nothing else to grant or pay for
    expect(table.Properties.GlobalSecondaryIndexes).toBeUndefined();
    expect(table.Properties.LocalSecondaryIndexes).toBeUndefined();
    expect(table.Properties.StreamSpecification).toBeUndefined();
  });

  it("removed with the stack, like the stream: elections rebuild themselves", () => {
    on.template.hasResource("AWS::DynamoDB::Table", {
      DeletionPolicy: "Delete",
      UpdateReplacePolicy: "Delete",
    });
  });

  it("aws-managed: encrypted with aws/dynamodb (KMS, no key of ours)", () => {
    const [, table] = tableOf(on.json);
    expect(table.Properties.SSESpecification).toEqual({ SSEEnabled: true });
    on.template.resourceCountIs("AWS::KMS::Key", 0);
  });

  it("kmsKey=create: the stack's key", () => {
    const [, table] = tableOf(created.json);
    const [keyId] = Object.keys(resourcesOf(created.json, "AWS::KMS::Key"));
    expect(table.Properties.SSESpecification).toEqual({
      SSEEnabled: true,
      SSEType: "KMS",
      KMSMasterKeyId: { "Fn::GetAtt": [keyId, "Arn"] },
    });
  });

  it("kmsKey=<ARN>: that key", () => {
    const [, table] = tableOf(imported.json);
    expect(table.Properties.SSESpecification).toEqual({
      SSEEnabled: true,
      SSEType: "KMS",
      KMSMasterKeyId: KEY_ARN,
    });
  });
});

describe("the remote-write function's variables", () => {
  it("HA_DEDUP=true, the defaults of the other settings, and the table's name", () => {
    const env = envOf(on.json, INGEST);
    const [tableId] = tableOf(on.json);
    expect(env[ENV.haDedup]).toBe("true");
    expect(env[ENV.haClusterLabel]).toBe(HA_CLUSTER_LABEL.default);
    expect(env[ENV.haReplicaLabel]).toBe(HA_REPLICA_LABEL.default);
    expect(env[ENV.haUpdateTimeoutSeconds]).toBe(String(HA_UPDATE_TIMEOUT_SECONDS.default));
    expect(env[ENV.haFailoverTimeoutSeconds]).toBe(String(HA_FAILOVER_TIMEOUT_SECONDS.default));
    expect(env[ENV.haMaxClusters]).toBe(String(HA_MAX_CLUSTERS.default));
    expect(env[ENV.haTableName]).toEqual({ Ref: tableId });
    // the local server's variable is never set on Lambda
    expect(env[ENV.dynamodbEndpoint]).toBeUndefined();
  });

  it("the configured values, and the function reads them back", () => {
    const { json } = synthGateway({
      components: "ingest",
      haDedup: "true",
      haClusterLabel: "ha_cluster",
      haReplicaLabel: "ha_replica",
      haUpdateTimeoutSeconds: "20",
      haFailoverTimeoutSeconds: "60",
      haMaxClusters: "7",
    });
    const env = envOf(json, INGEST);
    const literal = Object.fromEntries(
      Object.entries(env).filter(([, v]) => typeof v === "string"),
    ) as Record<string, string>;
    expect(loadHaSettings({ ...literal, [ENV.haTableName]: "replicas" })).toMatchObject({
      clusterLabel: "ha_cluster",
      replicaLabel: "ha_replica",
      updateTimeoutMs: 20_000,
      failoverTimeoutMs: 60_000,
      maxClusters: 7,
      tableName: "replicas",
    });
  });

  it.each([
    [
      "every range at its least the stack takes",
      { haUpdateTimeoutSeconds: "1", haFailoverTimeoutSeconds: "10", haMaxClusters: "1" },
    ],
    [
      "every range at its most",
      { haUpdateTimeoutSeconds: "3600", haFailoverTimeoutSeconds: "86400", haMaxClusters: "100000" },
    ],
  ])("with %s, the function reads what the stack sets", (_name, context) => {
    const { json } = synthGateway({ components: "ingest", haDedup: "true", ...context });
    const env = Object.fromEntries(
      Object.entries(envOf(json, INGEST)).filter(([, v]) => typeof v === "string"),
    ) as Record<string, string>;
    expect(loadHaSettings(env)).toBeDefined();
  });

  it("are the remote-write function's only: neither the mirror's nor the forwarder's", () => {
    for (const prefix of [MIRROR, FORWARDER]) {
      const env = envOf(on.json, prefix);
      for (const name of HA_VARIABLES) expect(env[name], `${prefix} ${name}`).toBeUndefined();
    }
  });
});

describe("IAM: the election's calls on this table, nothing more", () => {
  const dynamoStatements = (json: Record<string, unknown>) =>
    allStatements(json).filter((s) => actionsOf(s).some((a) => a.startsWith("dynamodb:")));

  it.each([
    ["aws-managed", on],
    ["kmsKey=create", created],
    ["kmsKey=<ARN>", imported],
  ])(
    "%s: GetItem, PutItem, UpdateItem and Query on the table's ARN, for the remote-write role alone",
    (_name, synth) => {
      const [tableId] = tableOf(synth.json);
      const all = dynamoStatements(synth.json);
      expect(all).toHaveLength(1);
      const [statement] = all;
      expect(statement).toEqual({
        Effect: "Allow",
        Action: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"],
        Resource: { "Fn::GetAtt": [tableId, "Arn"] },
      });
      expect(statementsOf(synth.json, functionOf(synth.json, INGEST))).toContainEqual(statement);
    },
  );

  it("aws-managed: no key permission for the table (DynamoDB uses aws/dynamodb itself)", () => {
    const ingest = statementsOf(on.json, functionOf(on.json, INGEST));
    expect(ingest.flatMap(actionsOf).filter((a) => a.startsWith("kms:"))).toEqual([]);
  });

  it.each([
    [
      "kmsKey=create",
      created,
      () => ({ "Fn::GetAtt": [Object.keys(resourcesOf(created.json, "AWS::KMS::Key"))[0], "Arn"] }),
    ],
    ["kmsKey=<ARN>", imported, () => KEY_ARN],
  ])(
    "%s: Decrypt and GenerateDataKey on the key, only through DynamoDB in the stack's region",
    (_name, synth, key) => {
      const ingest = statementsOf(synth.json, functionOf(synth.json, INGEST));
      const viaDynamo = ingest.filter((s) => JSON.stringify(s.Condition ?? {}).includes("dynamodb."));
      expect(viaDynamo).toEqual([
        {
          Effect: "Allow",
          Action: ["kms:Decrypt", "kms:GenerateDataKey"],
          Resource: key(),
          Condition: {
            StringEquals: {
              "kms:ViaService": {
                "Fn::Join": ["", ["dynamodb.", { Ref: "AWS::Region" }, ".", { Ref: "AWS::URLSuffix" }]],
              },
            },
          },
        },
      ]);
    },
  );

  it("no wildcard and no index ARN in any DynamoDB statement", () => {
    for (const synth of [on, created, imported]) {
      for (const s of dynamoStatements(synth.json)) {
        expect(JSON.stringify(s.Resource)).not.toContain("*");
        expect(JSON.stringify(s.Resource)).not.toContain("/index");
      }
    }
  });
});

describe("alarms and dashboard", () => {
  const alarms = () => resourcesOf(on.json, "AWS::CloudWatch::Alarm");
  const alarmOn = (metricName: string) => {
    const found = Object.values(alarms()).filter(
      (a) => a.Properties.Namespace === "AWS/DynamoDB" && a.Properties.MetricName === metricName,
    );
    expect(found).toHaveLength(1);
    return found[0]!;
  };

  it("three more: election conflicts, throttled reads, throttled writes", () => {
    const ids = on.stack.monitoring.alarms.map((a) => a.node.id).filter((id) => id.startsWith("Ha"));
    expect(ids.sort()).toEqual(["HaElectionConflicts", "HaTableReadThrottled", "HaTableWriteThrottled"]);
    expect(on.stack.monitoring.alarms.length - off.stack.monitoring.alarms.length).toBe(3);
  });

  it("conditional-write failures: sustained, not a failover's few", () => {
    const [tableId] = tableOf(on.json);
    expect(alarmOn("ConditionalCheckFailedRequests").Properties).toMatchObject({
      Dimensions: [{ Name: "TableName", Value: { Ref: tableId } }],
      Statistic: "Sum",
      Period: 300,
      Threshold: ELECTION_CONFLICTS.threshold,
      EvaluationPeriods: ELECTION_CONFLICTS.evaluationPeriods,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      TreatMissingData: "notBreaching",
    });
    expect(ELECTION_CONFLICTS.evaluationPeriods).toBeGreaterThan(1);
  });

  it.each(["ReadThrottleEvents", "WriteThrottleEvents"])("%s: the first occurrence", (metric) => {
    const [tableId] = tableOf(on.json);
    expect(alarmOn(metric).Properties).toMatchObject({
      Dimensions: [{ Name: "TableName", Value: { Ref: tableId } }],
      Statistic: "Sum",
      Period: 300,
      Threshold: 1,
      EvaluationPeriods: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      TreatMissingData: "notBreaching",
    });
  });

  it("notify the alarm topic like every other alarm", () => {
    const topicId = on.stack.getLogicalId(on.stack.monitoring.topic!.node.defaultChild as never);
    for (const metric of ["ConditionalCheckFailedRequests", "ReadThrottleEvents", "WriteThrottleEvents"]) {
      expect(alarmOn(metric).Properties.AlarmActions).toEqual([{ Ref: topicId }]);
      expect(alarmOn(metric).Properties.OKActions).toEqual([{ Ref: topicId }]);
    }
  });

  it("the dashboard plots the table's conflicts, throttles and consumed units", () => {
    const [dashboard] = Object.values(resourcesOf(on.json, "AWS::CloudWatch::Dashboard"));
    const body = JSON.stringify(dashboard!.Properties.DashboardBody);
    for (const metric of [
      "ConditionalCheckFailedRequests",
      "ReadThrottleEvents",
      "WriteThrottleEvents",
      "ConsumedReadCapacityUnits",
      "ConsumedWriteCapacityUnits",
    ]) {
      expect(body).toContain(metric);
    }
  });
});

describe("the context keys", () => {
  it.each<[keyof typeof CONFIG_KEYS, ConfigKeyEntry]>([
    ["haDedup", HA_DEDUP],
    ["haClusterLabel", HA_CLUSTER_LABEL],
    ["haReplicaLabel", HA_REPLICA_LABEL],
    ["haUpdateTimeoutSeconds", HA_UPDATE_TIMEOUT_SECONDS],
    ["haMaxClusters", HA_MAX_CLUSTERS],
  ])("%s is the function's own setting: the same schema and default", (key, setting) => {
    const entry = CONFIG_KEYS[key] as ConfigKeyEntry;
    expect(entry.schema).toBe(setting.schema);
    expect(entry.default).toEqual(setting.default);
    expect(entry.range).toEqual(setting.range);
  });

  it("haFailoverTimeoutSeconds lies within the function's bounds, narrower at the bottom, same default", () => {
    const entry = CONFIG_KEYS.haFailoverTimeoutSeconds as ConfigKeyEntry;
    const [min = 0, max = 0] = entry.range ?? [];
    const [lo = 0, hi = 0] = HA_FAILOVER_TIMEOUT_SECONDS.range ?? [];
    expect(min).toBeGreaterThan(lo);
    expect(max).toBeLessThanOrEqual(hi);
    expect(entry.default).toBe(HA_FAILOVER_TIMEOUT_SECONDS.default);
  });

  it("parses into the configuration, as -c text or typed cdk.json values", () => {
    const fromCli = parseConfig({ haDedup: "true", haUpdateTimeoutSeconds: "10", haMaxClusters: "5" });
    const fromJson = parseConfig({ haDedup: true, haUpdateTimeoutSeconds: 10, haMaxClusters: 5 });
    expect(fromCli.ha).toEqual(fromJson.ha);
    expect(fromCli.ha).toEqual({
      clusterLabel: "cluster",
      replicaLabel: "__replica__",
      updateTimeoutSeconds: 10,
      failoverTimeoutSeconds: 30,
      maxClusters: 5,
    });
    expect(Object.isFrozen(fromCli.ha)).toBe(true);
  });

  it("the least failover timeout beyond the update timeout and its jitter is taken", () => {
    // 20 s plus at most 5 s of jitter: 26 s is the least
    expect(
      parseConfig({ haDedup: "true", haUpdateTimeoutSeconds: "20", haFailoverTimeoutSeconds: "26" }).ha,
    ).toMatchObject({ updateTimeoutSeconds: 20, failoverTimeoutSeconds: 26 });
  });

  it.each<[string, Record<string, unknown>, string, RegExp]>([
    [
      "a failover timeout within the update timeout and its jitter",
      { haDedup: "true", haUpdateTimeoutSeconds: "20", haFailoverTimeoutSeconds: "25" },
      "haFailoverTimeoutSeconds",
      /must be more than the update timeout plus its jitter \(25 s\), got 25/,
    ],
    [
      "the default failover timeout with a longer update timeout",
      { haDedup: "true", haUpdateTimeoutSeconds: "60" },
      "haFailoverTimeoutSeconds",
      /\(65 s\), got 30/,
    ],
    [
      "a failover timeout below what the stack takes (the function's least)",
      { haDedup: "true", haUpdateTimeoutSeconds: "1", haFailoverTimeoutSeconds: "2" },
      "haFailoverTimeoutSeconds",
      /between 10 and 86400/,
    ],
    [
      "an update timeout of zero",
      { haDedup: "true", haUpdateTimeoutSeconds: "0" },
      "haUpdateTimeoutSeconds",
      /between 1 and 3600/,
    ],
    [
      "too many clusters",
      { haDedup: "true", haMaxClusters: "100001" },
      "haMaxClusters",
      /between 1 and 100000/,
    ],
    [
      "the same label twice",
      { haDedup: "true", haClusterLabel: "replica", haReplicaLabel: "replica" },
      "haReplicaLabel",
      /must differ from haClusterLabel/,
    ],
    [
      "the default replica label as the cluster label",
      { haDedup: "true", haClusterLabel: "__replica__" },
      "haReplicaLabel",
      /must differ from haClusterLabel/,
    ],
    [
      "a label that is no label name",
      { haDedup: "true", haClusterLabel: "ha-cluster" },
      "haClusterLabel",
      /not a label name/,
    ],
    ["haDedup not a boolean", { haDedup: "on" }, "haDedup", /true or false/],
    [
      "a label without haDedup",
      { haClusterLabel: "ha_cluster" },
      "haClusterLabel",
      /applies only with haDedup=true/,
    ],
    [
      "a timeout with haDedup=false",
      { haDedup: "false", haFailoverTimeoutSeconds: "60" },
      "haFailoverTimeoutSeconds",
      /applies only with haDedup=true/,
    ],
    [
      "a cluster cap without haDedup",
      { haMaxClusters: "10" },
      "haMaxClusters",
      /applies only with haDedup=true/,
    ],
    [
      "haDedup without the ingest component",
      { components: "mirror", haDedup: "true" },
      "haDedup",
      /applies only when components include ingest \(components=mirror\)/,
    ],
    [
      "an HA setting without the ingest component",
      { components: "mirror", haReplicaLabel: "replica" },
      "haReplicaLabel",
      /applies only when components include ingest/,
    ],
  ])("rejects %s, naming the key", (_name, context, key, message) => {
    const err = errorOf(context);
    expect(err.key).toBe(key);
    expect(err.message).toContain(`configuration ${key}:`);
    expect(err.message).toMatch(message);
  });
});

describe("the docs say what the stack does", () => {
  const read = (file: string) => readFileSync(join(PROJECT_ROOT, "docs", file), "utf8").replace(/\s+/g, " ");
  const deploy = read("deploy.md");
  const operations = read("operations.md");
  const WORDS = ["zero", "one", "two", "three", "four", "five", "six"];

  it("deploy.md: the alarms haDedup adds, and when the TTL removes a cluster", () => {
    const added = on.stack.monitoring.alarms.length - off.stack.monitoring.alarms.length;
    expect(deploy).toContain(`${WORDS[added]} more with \`haDedup\` (the table's)`);
    expect(deploy).toContain(`removed by the table's TTL after ${STALE_CLUSTER_SECONDS / 86_400} days`);
  });

  it("operations.md: the conflicts alarm's threshold and periods", () => {
    const { threshold, evaluationPeriods } = ELECTION_CONFLICTS;
    expect(operations).toContain(
      `**${threshold} or more in each of ${WORDS[evaluationPeriods]} 5-minute periods running**`,
    );
    expect(operations).toContain(`for ${evaluationPeriods * 5} minutes`);
  });
});
