import { Match } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { FUNCTION_DEFAULTS } from "../../infra/constructs/gateway-function";
import { PUT_DEADLINE_MARGIN } from "../../infra/constructs/remote-write-api";
import { ENV } from "../../lib/core/env-names";
import { MIRROR_METHOD_PATHS, RECEIVER_PATH, REMOTE_WRITE_PATHS } from "../../lib/core/routes";
import { type CfnResource, resourcesOf, synthGateway, warnings } from "./synth";

// Two syntheses for the whole file: the defaults, and non-default values that must flow through.
const defaults = synthGateway();
const custom = synthGateway({
  stackName: "GatewayCustom",
  streamRetentionHours: "48",
  ingestThrottleRate: "123",
  ingestThrottleBurst: "456",
  ingestReservedConcurrency: "9",
  ingestTimeoutSeconds: "15",
  streamMode: "provisioned",
  streamShards: "16",
  nameValidation: "legacy",
  workers: "7",
  mirrorThrottleRate: "11",
  mirrorThrottleBurst: "22",
  mirrorMaxAnswerBytes: "8388608",
  mirrorMaxSeries: "20",
  prometheusHost: "prometheus.example.internal",
  prometheusPort: "9091",
  prometheusCidr: "10.20.0.0/16",
  stackstateCidrs: "203.0.113.0/24,198.51.100.7/32",
  alarmEmail: "oncall@example.com",
  logRetentionDays: "14",
  logLevel: "debug",
  metricsNamespace: "Custom/Gateway",
  keyCacheSeconds: "90",
});

/** The one Lambda function whose description starts with `prefix`. */
function fn(json: Record<string, unknown>, prefix: string): [string, CfnResource] {
  const found = Object.entries(resourcesOf(json, "AWS::Lambda::Function")).filter(([, r]) =>
    String(r.Properties.Description).startsWith(prefix),
  );
  expect(found).toHaveLength(1);
  return found[0]!;
}
const ingestFn = (json: Record<string, unknown>) => fn(json, "Prometheus remote_write");
const mirrorFn = (json: Record<string, unknown>) => fn(json, "StackState Prometheus mirror");

/** Statements of the inline policy attached to the role of a function. */
function statementsOf(json: Record<string, unknown>, fnResource: CfnResource) {
  const roleId = fnResource.Properties.Role["Fn::GetAtt"][0] as string;
  const policies = Object.values(resourcesOf(json, "AWS::IAM::Policy")).filter((p) =>
    p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId),
  );
  return policies.flatMap((p) => p.Properties.PolicyDocument.Statement) as Array<{
    Action: string | string[];
    Resource: unknown;
    Effect: string;
  }>;
}
const actionsOf = (s: { Action: string | string[] }) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

describe("the stream", () => {
  it("is on-demand, encrypted with the AWS-managed key, with 24 h retention by default", () => {
    defaults.template.resourceCountIs("AWS::Kinesis::Stream", 1);
    defaults.template.hasResourceProperties("AWS::Kinesis::Stream", {
      StreamModeDetails: { StreamMode: "ON_DEMAND" },
      StreamEncryption: { EncryptionType: "KMS", KeyId: "alias/aws/kinesis" },
      RetentionPeriodHours: 24,
      ShardCount: Match.absent(),
    });
  });

  it("takes its retention from configuration", () => {
    custom.template.hasResourceProperties("AWS::Kinesis::Stream", { RetentionPeriodHours: 48 });
  });

  it("takes Kinesis's default record limit, and tells the ingest function the same", () => {
    defaults.template.hasResourceProperties("AWS::Kinesis::Stream", { MaxRecordSizeInKiB: Match.absent() });
    expect(ingestFn(defaults.json)[1].Properties.Environment.Variables[ENV.maxRecordBytes]).toBe("1048576");
  });

  it("raises the stream's record limit and the ingest function's together", () => {
    const large = synthGateway({ stackName: "GatewayLargeRecords", streamMaxRecordKiB: "4096" });
    large.template.hasResourceProperties("AWS::Kinesis::Stream", { MaxRecordSizeInKiB: 4096 });
    expect(ingestFn(large.json)[1].Properties.Environment.Variables[ENV.maxRecordBytes]).toBe("4194304");
  });
});

describe("the functions", () => {
  it.each([
    ["ingest", ingestFn],
    ["mirror", mirrorFn],
  ])("%s: Node 24 on ARM64, traced, JSON logs into its own log group, source maps", (_name, pick) => {
    const [, resource] = pick(defaults.json);
    expect(resource.Properties).toMatchObject({
      Runtime: "nodejs24.x",
      Architectures: ["arm64"],
      TracingConfig: { Mode: "Active" },
      LoggingConfig: { LogFormat: "JSON", ApplicationLogLevel: "INFO", SystemLogLevel: "INFO" },
    });
    expect(resource.Properties.Environment.Variables.NODE_OPTIONS).toBe("--enable-source-maps");
    const logGroupId = resource.Properties.LoggingConfig.LogGroup.Ref as string;
    expect(
      (defaults.json.Resources as Record<string, CfnResource>)[logGroupId]?.Properties.RetentionInDays,
    ).toBe(30);
  });

  it("every function of the template runs on nodejs24.x, the forwarder's too", () => {
    const withForwarder = synthGateway({
      stackName: "GatewayEveryFunction",
      forwardUrl: "https://receiver.example.com/api/v1/write",
    });
    const functions = Object.values(resourcesOf(withForwarder.json, "AWS::Lambda::Function"));
    // the three of the gateway, and no function of CDK's own (a custom resource) on another runtime
    expect(functions).toHaveLength(3);
    for (const f of functions) expect(f.Properties.Runtime).toBe("nodejs24.x");
    expect(FUNCTION_DEFAULTS.runtime.name).toBe("nodejs24.x");
    expect(FUNCTION_DEFAULTS.target).toBe("node24");
  });

  it("log retention and level follow configuration", () => {
    const [, resource] = ingestFn(custom.json);
    expect(resource.Properties.LoggingConfig.ApplicationLogLevel).toBe("DEBUG");
    expect(resource.Properties.Environment.Variables[ENV.logLevel]).toBe("debug");
    for (const group of Object.values(resourcesOf(custom.json, "AWS::Logs::LogGroup"))) {
      expect(group.Properties.RetentionInDays).toBe(14);
    }
  });

  it("ingest environment: the stream, the key secret, a put deadline below the timeout, limits", () => {
    const [, resource] = ingestFn(custom.json);
    const env = resource.Properties.Environment.Variables;
    expect(resource.Properties.Timeout).toBe(15);
    expect(env[ENV.streamName]).toEqual({
      Ref: custom.stack.getLogicalId(custom.stack.stream!.stream.node.defaultChild as never),
    });
    expect(env[ENV.apiKeySecretArn]).toEqual({
      Ref: custom.stack.getLogicalId(custom.stack.ingestKey!.secret.node.defaultChild as never),
    });
    expect(Number(env[ENV.putDeadlineMs])).toBe(15_000 - PUT_DEADLINE_MARGIN.toMilliseconds());
    expect(Number(env[ENV.putDeadlineMs])).toBeLessThan(resource.Properties.Timeout * 1000);
    expect(env).toMatchObject({
      [ENV.maxBodyBytes]: "4194304",
      [ENV.metricsNamespace]: "Custom/Gateway",
      [ENV.keyCacheSeconds]: "90",
      [ENV.streamShards]: "16",
      [ENV.nameValidation]: "legacy",
    });
    // an on-demand stream starts with 4 shards: the map assumed until the function reads it
    expect(ingestFn(defaults.json)[1].Properties.Environment.Variables[ENV.streamShards]).toBe("4");
    // UTF-8 names unless configured
    expect(ingestFn(defaults.json)[1].Properties.Environment.Variables[ENV.nameValidation]).toBe("utf8");
    expect(resource.Properties.ReservedConcurrentExecutions).toBe(9);
  });

  it("ingest has no reserved concurrency unless configured", () => {
    expect(ingestFn(defaults.json)[1].Properties.ReservedConcurrentExecutions).toBeUndefined();
  });

  it("mirror environment: its own key secret, the allowed Prometheus target, a call cap below the timeout", () => {
    const [, resource] = mirrorFn(custom.json);
    const env = resource.Properties.Environment.Variables;
    expect(env[ENV.mirrorApiKeySecretArn]).toEqual({
      Ref: custom.stack.getLogicalId(custom.stack.mirrorKey!.secret.node.defaultChild as never),
    });
    expect(env[ENV.mirrorAllowedTargets]).toBe("prometheus.example.internal:9091");
    expect(env[ENV.mirrorRequireKey]).toBe("false");
    expect(Number(env[ENV.mirrorMaxRequestTimeoutMs])).toBeLessThan(resource.Properties.Timeout * 1000);
    expect(env[ENV.apiKeySecretArn]).toBeUndefined();
  });

  it("mirror environment: the answer cap and the series cap, by default and as configured", () => {
    const vars = (json: Record<string, unknown>) => mirrorFn(json)[1].Properties.Environment.Variables;
    expect(vars(defaults.json)[ENV.mirrorMaxAnswerBytes]).toBe(String(16 * 1024 * 1024));
    expect(vars(defaults.json)[ENV.mirrorMaxSeries]).toBe("50");
    expect(vars(custom.json)[ENV.mirrorMaxAnswerBytes]).toBe("8388608");
    expect(vars(custom.json)[ENV.mirrorMaxSeries]).toBe("20");
  });

  it("the mirror's reserved concurrency is `workers`", () => {
    expect(mirrorFn(defaults.json)[1].Properties.ReservedConcurrentExecutions).toBe(20);
    expect(mirrorFn(custom.json)[1].Properties.ReservedConcurrentExecutions).toBe(7);
  });
});

describe("least privilege", () => {
  it("ingest may only put records into this stream and read its own key", () => {
    const [, resource] = ingestFn(defaults.json);
    const statements = statementsOf(defaults.json, resource);
    const kinesis = statements.filter((s) => actionsOf(s).some((a) => a.startsWith("kinesis:")));
    expect(kinesis).toHaveLength(1);
    expect(actionsOf(kinesis[0]!).sort()).toEqual([
      "kinesis:ListShards",
      "kinesis:PutRecord",
      "kinesis:PutRecords",
    ]);
    const streamId = defaults.stack.getLogicalId(defaults.stack.stream!.stream.node.defaultChild as never);
    expect(kinesis[0]!.Resource).toEqual({ "Fn::GetAtt": [streamId, "Arn"] });

    const secrets = statements.filter((s) => actionsOf(s).some((a) => a.startsWith("secretsmanager:")));
    expect(secrets).toHaveLength(1);
    expect(actionsOf(secrets[0]!).sort()).toEqual([
      "secretsmanager:DescribeSecret",
      "secretsmanager:GetSecretValue",
    ]);
    const ingestKeyId = defaults.stack.getLogicalId(
      defaults.stack.ingestKey!.secret.node.defaultChild as never,
    );
    expect(secrets[0]!.Resource).toEqual({ Ref: ingestKeyId });
  });

  it("no statement anywhere grants a Kinesis, Secrets Manager or log action on a wildcard resource", () => {
    for (const policy of Object.values(resourcesOf(defaults.json, "AWS::IAM::Policy"))) {
      for (const statement of policy.Properties.PolicyDocument.Statement) {
        const actions = actionsOf(statement);
        const wildcard = JSON.stringify(statement.Resource).includes("*");
        const sensitive = actions.some((a) => /^(kinesis|secretsmanager|logs):/.test(a) || a === "*");
        expect(wildcard && sensitive, JSON.stringify(statement)).toBe(false);
      }
    }
  });

  it("the mirror cannot read the ingest key, nor write to the stream", () => {
    const [, resource] = mirrorFn(defaults.json);
    const statements = statementsOf(defaults.json, resource);
    const ingestKeyId = defaults.stack.getLogicalId(
      defaults.stack.ingestKey!.secret.node.defaultChild as never,
    );
    expect(JSON.stringify(statements)).not.toContain(ingestKeyId);
    expect(statements.flatMap(actionsOf).filter((a) => a.startsWith("kinesis:"))).toEqual([]);
  });

  it("the functions' roles carry no managed policies", () => {
    for (const role of Object.values(resourcesOf(defaults.json, "AWS::IAM::Role"))) {
      if (role.Properties.AssumeRolePolicyDocument.Statement[0].Principal.Service !== "lambda.amazonaws.com")
        continue;
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });
});

describe("keys", () => {
  it("two separate generated secrets, with no value in the template", () => {
    defaults.template.resourceCountIs("AWS::SecretsManager::Secret", 2);
    for (const secret of Object.values(resourcesOf(defaults.json, "AWS::SecretsManager::Secret"))) {
      expect(secret.Properties.SecretString).toBeUndefined();
      expect(secret.Properties.GenerateSecretString).toMatchObject({
        PasswordLength: 40,
        ExcludePunctuation: true,
      });
    }
  });

  it("ingest and mirror read two different secrets, and neither function may read the other's", () => {
    const ingestKeyId = defaults.stack.getLogicalId(
      defaults.stack.ingestKey!.secret.node.defaultChild as never,
    );
    const mirrorKeyId = defaults.stack.getLogicalId(
      defaults.stack.mirrorKey!.secret.node.defaultChild as never,
    );
    expect(ingestKeyId).not.toBe(mirrorKeyId);
    const [, ingest] = ingestFn(defaults.json);
    const [, mirror] = mirrorFn(defaults.json);
    expect(ingest.Properties.Environment.Variables[ENV.apiKeySecretArn]).toEqual({ Ref: ingestKeyId });
    expect(mirror.Properties.Environment.Variables[ENV.mirrorApiKeySecretArn]).toEqual({ Ref: mirrorKeyId });
    expect(JSON.stringify(statementsOf(defaults.json, ingest))).not.toContain(mirrorKeyId);
    expect(JSON.stringify(statementsOf(defaults.json, mirror))).not.toContain(ingestKeyId);
  });

  it("no function is given a key in its environment, only secret ARNs", () => {
    for (const resource of Object.values(resourcesOf(custom.json, "AWS::Lambda::Function"))) {
      const names = Object.keys(resource.Properties.Environment.Variables);
      expect(names).not.toContain(ENV.apiKey);
      expect(names).not.toContain(ENV.apiKeys);
      expect(names).not.toContain(ENV.mirrorApiKey);
    }
  });

  it("nothing in the template resolves a secret value (no dynamic references, no SecretString reads)", () => {
    const text = JSON.stringify(custom.json);
    expect(text).not.toMatch(/resolve:secretsmanager/);
    expect(text).not.toMatch(/SecretString"?\s*[,}\]]/);
  });
});

describe("the remote-write API", () => {
  it("is an HTTP API routing both paths to the function with payload 2.0", () => {
    defaults.template.resourceCountIs("AWS::ApiGatewayV2::Api", 1);
    defaults.template.hasResourceProperties("AWS::ApiGatewayV2::Api", { ProtocolType: "HTTP" });
    const routes = Object.values(resourcesOf(defaults.json, "AWS::ApiGatewayV2::Route")).map(
      (r) => r.Properties.RouteKey,
    );
    expect(routes.sort()).toEqual(REMOTE_WRITE_PATHS.map((p) => `POST ${p}`).sort());
    defaults.template.hasResourceProperties("AWS::ApiGatewayV2::Integration", {
      IntegrationType: "AWS_PROXY",
      PayloadFormatVersion: "2.0",
    });
  });

  it("stage throttling and access logs come from configuration", () => {
    defaults.template.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      StageName: "$default",
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 500, ThrottlingBurstLimit: 1000 },
    });
    custom.template.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      DefaultRouteSettings: { ThrottlingRateLimit: 123, ThrottlingBurstLimit: 456 },
      AccessLogSettings: {
        DestinationArn: Match.anyValue(),
        Format: Match.stringLikeRegexp("\\$context.status"),
      },
    });
  });

  it("access logs never include request headers", () => {
    const stage = Object.values(resourcesOf(defaults.json, "AWS::ApiGatewayV2::Stage"))[0]!;
    const format = JSON.parse(stage.Properties.AccessLogSettings.Format);
    expect(JSON.stringify(format)).not.toMatch(/requestHeader|authorization|sts-api-key/i);
  });
});

describe("the mirror API", () => {
  it("is a regional REST API with the four POST methods, proxied to the function", () => {
    defaults.template.resourceCountIs("AWS::ApiGateway::RestApi", 1);
    defaults.template.hasResourceProperties("AWS::ApiGateway::RestApi", {
      EndpointConfiguration: { Types: ["REGIONAL"] },
    });
    const methods = Object.values(resourcesOf(defaults.json, "AWS::ApiGateway::Method"));
    expect(methods).toHaveLength(MIRROR_METHOD_PATHS.length);
    for (const method of methods) {
      expect(method.Properties).toMatchObject({
        HttpMethod: "POST",
        AuthorizationType: "NONE",
        Integration: { Type: "AWS_PROXY" },
      });
    }
    const paths = Object.values(resourcesOf(defaults.json, "AWS::ApiGateway::Resource")).map(
      (r) => r.Properties.PathPart,
    );
    expect(paths.sort()).toEqual(["api", "connection", "field", "metric", "name", "value"]);
  });

  it("the resource policy admits only the configured source CIDRs", () => {
    custom.template.hasResourceProperties("AWS::ApiGateway::RestApi", {
      Policy: {
        Statement: [
          { Effect: "Allow", Action: "execute-api:Invoke", Resource: "execute-api:/*" },
          {
            Effect: "Deny",
            Action: "execute-api:Invoke",
            Resource: "execute-api:/*",
            Condition: { NotIpAddress: { "aws:SourceIp": ["203.0.113.0/24", "198.51.100.7/32"] } },
          },
        ],
      },
    });
  });

  it("without configured sources it denies every caller, and says so at synth", () => {
    const api = Object.values(resourcesOf(defaults.json, "AWS::ApiGateway::RestApi"))[0]!;
    const statements = api.Properties.Policy.Statement as Array<{ Effect: string; Condition?: unknown }>;
    expect(statements.some((s) => s.Effect === "Deny" && s.Condition === undefined)).toBe(true);
    expect(warnings(defaults.stack).some((w) => w.includes("stackstateCidrs is empty"))).toBe(true);
    expect(warnings(custom.stack).some((w) => w.includes("stackstateCidrs is empty"))).toBe(false);
  });

  it("stage throttling, tracing and JSON access logs come from configuration", () => {
    custom.template.hasResourceProperties("AWS::ApiGateway::Stage", {
      StageName: "mirror",
      TracingEnabled: true,
      MethodSettings: Match.arrayWith([
        Match.objectLike({
          HttpMethod: "*",
          ResourcePath: "/*",
          ThrottlingRateLimit: 11,
          ThrottlingBurstLimit: 22,
        }),
      ]),
      AccessLogSetting: {
        DestinationArn: Match.anyValue(),
        Format: Match.stringLikeRegexp("\\$context.requestId"),
      },
    });
  });

  it("leaves the account's API Gateway logging role alone unless asked, and then retains it on teardown", () => {
    defaults.template.resourceCountIs("AWS::ApiGateway::Account", 0);
    expect(
      Object.values(resourcesOf(defaults.json, "AWS::IAM::Role")).filter((r) =>
        JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes("apigateway.amazonaws.com"),
      ),
    ).toHaveLength(0);
    const asked = synthGateway({ apiGatewayLogsRole: "true" }).template;
    asked.resourceCountIs("AWS::ApiGateway::Account", 1);
    asked.hasResource("AWS::IAM::Role", {
      Properties: {
        AssumeRolePolicyDocument: Match.objectLike({
          Statement: [Match.objectLike({ Principal: { Service: "apigateway.amazonaws.com" } })],
        }),
      },
      DeletionPolicy: "Retain",
    });
  });
});

describe("mirror network (created VPC, the default)", () => {
  it("a small VPC with isolated subnets and no NAT, with flow logs", () => {
    defaults.template.resourceCountIs("AWS::EC2::VPC", 1);
    defaults.template.hasResourceProperties("AWS::EC2::VPC", { CidrBlock: "10.80.0.0/24" });
    defaults.template.resourceCountIs("AWS::EC2::Subnet", 2);
    defaults.template.resourceCountIs("AWS::EC2::NatGateway", 0);
    defaults.template.resourceCountIs("AWS::EC2::InternetGateway", 0);
    defaults.template.hasResourceProperties("AWS::EC2::FlowLog", { TrafficType: "ALL" });
  });

  it("the mirror runs in those subnets with its own security group", () => {
    const [, resource] = mirrorFn(defaults.json);
    const subnetIds = Object.keys(resourcesOf(defaults.json, "AWS::EC2::Subnet"));
    expect(resource.Properties.VpcConfig.SubnetIds.map((s: { Ref: string }) => s.Ref).sort()).toEqual(
      subnetIds.sort(),
    );
    const sgId = defaults.stack.getLogicalId(
      defaults.stack.network!.securityGroup.node.defaultChild as never,
    );
    expect(resource.Properties.VpcConfig.SecurityGroupIds).toEqual([{ "Fn::GetAtt": [sgId, "GroupId"] }]);
    expect(ingestFn(defaults.json)[1].Properties.VpcConfig).toBeUndefined();
  });

  it("egress only to the Prometheus port and to the Secrets Manager endpoint on 443", () => {
    const sgId = custom.stack.getLogicalId(custom.stack.network!.securityGroup.node.defaultChild as never);
    const sg = (custom.json.Resources as Record<string, CfnResource>)[sgId]!;
    expect(sg.Properties.SecurityGroupEgress).toEqual([
      {
        CidrIp: "10.20.0.0/16",
        Description: "Prometheus HTTP API",
        FromPort: 9091,
        IpProtocol: "tcp",
        ToPort: 9091,
      },
    ]);
    const extraEgress = Object.values(resourcesOf(custom.json, "AWS::EC2::SecurityGroupEgress")).filter((e) =>
      JSON.stringify(e.Properties.GroupId).includes(sgId),
    );
    expect(extraEgress).toHaveLength(1);
    const endpointSgId = custom.stack.getLogicalId(
      custom.stack.network!.secretsEndpoint!.connections.securityGroups[0]!.node.defaultChild as never,
    );
    expect(extraEgress[0]!.Properties).toMatchObject({
      IpProtocol: "tcp",
      FromPort: 443,
      ToPort: 443,
      DestinationSecurityGroupId: { "Fn::GetAtt": [endpointSgId, "GroupId"] },
    });
  });

  it("a Secrets Manager interface endpoint with private DNS, admitting only the mirror", () => {
    custom.template.hasResourceProperties("AWS::EC2::VPCEndpoint", {
      VpcEndpointType: "Interface",
      PrivateDnsEnabled: true,
      ServiceName: Match.objectLike({ "Fn::Join": ["", Match.arrayWith([".secretsmanager"])] }),
    });
    const sgId = custom.stack.getLogicalId(custom.stack.network!.securityGroup.node.defaultChild as never);
    custom.template.hasResourceProperties("AWS::EC2::SecurityGroupIngress", {
      IpProtocol: "tcp",
      FromPort: 443,
      SourceSecurityGroupId: { "Fn::GetAtt": [sgId, "GroupId"] },
    });
    const [mirrorId] = mirrorFn(custom.json);
    const endpointId = custom.stack.getLogicalId(
      custom.stack.network!.secretsEndpoint!.node.defaultChild as never,
    );
    expect((custom.json.Resources as Record<string, CfnResource>)[mirrorId]!.DependsOn).toContain(endpointId);
  });
});

describe("alarms and dashboard", () => {
  const ALARMED = [
    ["AWS/Lambda", "Errors"],
    ["AWS/Lambda", "Throttles"],
    ["AWS/ApiGateway", "5xx"],
    ["AWS/ApiGateway", "5XXError"],
    ["AWS/Kinesis", "PutRecords.ThrottledRecords"],
    ["Custom/Gateway", "KinesisThrottled"],
    ["Custom/Gateway", "KinesisFailedPuts"],
  ] as const;

  it.each(ALARMED)("an alarm watches %s %s", (namespace, metric) => {
    custom.template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Namespace: namespace,
      MetricName: metric,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      Threshold: 1,
      TreatMissingData: "notBreaching",
    });
  });

  it("function alarms cover both functions; EMF alarms use the Service dimension", () => {
    const alarms = Object.values(resourcesOf(custom.json, "AWS::CloudWatch::Alarm"));
    expect(alarms.filter((a) => a.Properties.MetricName === "Errors")).toHaveLength(2);
    expect(alarms.filter((a) => a.Properties.MetricName === "Throttles")).toHaveLength(2);
    const failed = alarms.find((a) => a.Properties.MetricName === "KinesisFailedPuts")!;
    expect(failed.Properties.Dimensions).toEqual([{ Name: "Service", Value: "remote-write" }]);
  });

  it("with alarmEmail, every alarm notifies an SNS topic with that email subscribed", () => {
    custom.template.resourceCountIs("AWS::SNS::Topic", 1);
    custom.template.hasResourceProperties("AWS::SNS::Subscription", {
      Protocol: "email",
      Endpoint: "oncall@example.com",
    });
    const topicId = custom.stack.getLogicalId(custom.stack.monitoring.topic!.node.defaultChild as never);
    for (const alarm of Object.values(resourcesOf(custom.json, "AWS::CloudWatch::Alarm"))) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
    }
  });

  it("without alarmEmail, no topic and no alarm actions", () => {
    defaults.template.resourceCountIs("AWS::SNS::Topic", 0);
    for (const alarm of Object.values(resourcesOf(defaults.json, "AWS::CloudWatch::Alarm"))) {
      expect(alarm.Properties.AlarmActions).toBeUndefined();
    }
  });

  it("a dashboard shows the functions' metrics", () => {
    defaults.template.resourceCountIs("AWS::CloudWatch::Dashboard", 1);
    const dashboard = Object.values(resourcesOf(custom.json, "AWS::CloudWatch::Dashboard"))[0]!;
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const metric of [
      "SamplesReceived",
      "RecordsWritten",
      "SeriesRejected",
      "KinesisRetries",
      "MirrorRequests",
      "MirrorErrors",
    ]) {
      expect(body).toContain(metric);
    }
    expect(body).not.toContain("MirrorQueries");
    expect(body).toContain("Custom/Gateway");
  });
});

describe("outputs", () => {
  it("the URLs, the secret ARNs and the commands that fetch the keys", () => {
    const outputs = defaults.template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(Object.keys(outputs)).toEqual(
      expect.arrayContaining([
        "RemoteWriteUrl",
        "MirrorUrl",
        "IngestKeySecretArn",
        "MirrorKeySecretArn",
        "FetchIngestKeyCommand",
        "FetchMirrorKeyCommand",
        "SmokeTestCommand",
      ]),
    );
    expect(JSON.stringify(outputs.RemoteWriteUrl!.Value)).toContain(RECEIVER_PATH);
    expect(JSON.stringify(outputs.MirrorUrl!.Value)).toContain(".execute-api.");
    const ingestKeyId = defaults.stack.getLogicalId(
      defaults.stack.ingestKey!.secret.node.defaultChild as never,
    );
    expect(outputs.IngestKeySecretArn!.Value).toEqual({ Ref: ingestKeyId });
    const fetch = JSON.stringify(outputs.FetchIngestKeyCommand!.Value);
    expect(fetch).toContain("aws secretsmanager get-secret-value");
    expect(fetch).toContain(ingestKeyId);
    expect(fetch).toContain("--query SecretString --output text");
  });

  it("the smoke command names the configured Prometheus target", () => {
    const outputs = custom.template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(JSON.stringify(outputs.SmokeTestCommand!.Value)).toContain(
      "--prometheus prometheus.example.internal:9091",
    );
  });
});
