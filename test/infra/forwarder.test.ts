import { isBuiltin } from "node:module";
import { App, Aspects } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { AwsSolutionsChecks, ServerlessChecks } from "cdk-nag";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../infra/config";
import { FUNCTION_DEFAULTS } from "../../infra/constructs/gateway-function";
import { GatewayStack } from "../../infra/gateway-stack";
import { PROJECT_ROOT } from "../../infra/paths";
import { METRIC_NAMES } from "../../lib/core/metric-names";

import { cdkJsonContext, PREBUILT } from "./synth";

const CODE = { ...PREBUILT, forwarder: lambda.Code.fromInline("exports.handler = async () => ({});") };
const WORKSPACE = "arn:aws:aps:eu-west-1:123456789012:workspace/ws-0123abcd-4567";
const SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:stackstate-key-AbCdEf";

const STACKSTATE = {
  forwardUrl: "https://stackstate.example.com/receiver/prometheus/api/v1/write",
  forwardAuth: "header",
  forwardHeaderName: "sts-api-key",
};
const AMP = {
  forwardUrl:
    "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-0123abcd-4567/api/v1/remote_write",
  forwardAuth: "sigv4",
  forwardAmpWorkspaceArn: WORKSPACE,
};

function synth(context: Record<string, string>, nag = false) {
  const app = new App({ context: { ...cdkJsonContext(), ...context } });
  const stack = new GatewayStack(app, "ForwarderTest", {
    config: parseConfig(app.node.getAllContext()),
    functionCode: CODE,
  });
  if (nag) {
    Aspects.of(app).add(new AwsSolutionsChecks({ logIgnores: true }));
    Aspects.of(app).add(new ServerlessChecks({ logIgnores: true }));
  }
  const artifact = app.synth().getStackArtifact(stack.artifactId);
  return { stack, template: Template.fromJSON(artifact.template), artifact };
}

function forwarderPolicies(template: Template): { Action: string | string[]; Resource: unknown }[] {
  const policies = template.findResources("AWS::IAM::Policy");
  const out: { Action: string | string[]; Resource: unknown }[] = [];
  for (const [id, p] of Object.entries(policies)) {
    if (!id.startsWith("Forwarder")) continue;
    out.push(
      ...(p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]),
    );
  }
  return out;
}
const actionsOf = (template: Template) =>
  forwarderPolicies(template)
    .flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]))
    .sort();

describe("the forwarder in the stack", () => {
  it("is absent by default: the default stack has no event source mapping, queue or forwarder function", () => {
    const { template } = synth({});
    template.resourceCountIs("AWS::Lambda::EventSourceMapping", 0);
    template.resourceCountIs("AWS::SQS::Queue", 0);
    expect(JSON.stringify(template.toJSON())).not.toContain("FORWARD_");
  });

  it("reads the stream in order, reports failed items and parks failures in an encrypted, SSL-only queue", () => {
    const { template } = synth({ ...STACKSTATE, forwardBatchSize: "200", forwardRetryAttempts: "50" });
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      StartingPosition: "TRIM_HORIZON",
      BatchSize: 200,
      MaximumBatchingWindowInSeconds: 1,
      ParallelizationFactor: 1,
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      MaximumRecordAgeInSeconds: 86400,
      MaximumRetryAttempts: 50,
      DestinationConfig: { OnFailure: { Destination: Match.anyValue() } },
    });
    template.hasResourceProperties("AWS::SQS::Queue", { SqsManagedSseEnabled: true });
    template.hasResourceProperties("AWS::SQS::QueuePolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      },
    });
    template.hasResourceProperties("AWS::Lambda::Function", {
      Environment: {
        Variables: Match.objectLike({
          FORWARD_URL: STACKSTATE.forwardUrl,
          FORWARD_AUTH: "header",
          FORWARD_HEADER_NAME: "sts-api-key",
          FORWARD_SECRET_ARN: Match.anyValue(),
          FORWARD_DLQ_URL: Match.anyValue(),
          // the sender's defaults: 2.0 negotiated, 401/403 not retried
          FORWARD_PROTOCOL: "auto",
          FORWARD_PROTOCOL_MEMORY_SECONDS: "600",
          FORWARD_RETRY_AUTH_FAILURES: "false",
        }),
      },
    });
    // A secret is created for the key, to be filled in.
    template.resourceCountIs("AWS::SecretsManager::Secret", 3);
  });

  it("passes the sender's settings to the function", () => {
    const { template } = synth({
      ...STACKSTATE,
      forwardProtocol: "v1",
      forwardProtocolMemorySeconds: "60",
      forwardRetryAuthFailures: "true",
    });
    template.hasResourceProperties("AWS::Lambda::Function", {
      Environment: {
        Variables: Match.objectLike({
          FORWARD_PROTOCOL: "v1",
          FORWARD_PROTOCOL_MEMORY_SECONDS: "60",
          FORWARD_RETRY_AUTH_FAILURES: "true",
        }),
      },
    });
  });

  it("grants only stream reads, queue sends and the secret's read", () => {
    const { template } = synth({ ...STACKSTATE, forwardSecretArn: SECRET });
    const actions = actionsOf(template);
    expect(
      actions.filter((a) => !a.startsWith("kinesis:") && !a.startsWith("logs:") && !a.startsWith("xray:")),
    ).toEqual(
      [
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "sqs:SendMessage",
      ].sort(),
    );
    expect(
      actions.filter(
        (a) => a.startsWith("kinesis:") && !/^kinesis:(Describe|Get|List|SubscribeToShard)/.test(a),
      ),
    ).toEqual([]);
    expect(JSON.stringify(forwarderPolicies(template))).toContain(SECRET);
    template.resourceCountIs("AWS::SecretsManager::Secret", 2);
  });

  it("may list the stream's shards, on that stream only: the stray check reads their slots", () => {
    const { template } = synth(STACKSTATE);
    const [stream, ...others] = Object.keys(template.findResources("AWS::Kinesis::Stream"));
    expect(others).toEqual([]);
    const listing = forwarderPolicies(template).filter((s) =>
      (Array.isArray(s.Action) ? s.Action : [s.Action]).includes("kinesis:ListShards"),
    );
    expect(listing.length).toBeGreaterThan(0);
    for (const statement of listing) {
      const resources = Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
      expect(resources).toEqual([{ "Fn::GetAtt": [stream, "Arn"] }]);
    }
  });

  it("with sigv4, may RemoteWrite to the configured workspace only and signs in its region", () => {
    const { template } = synth(AMP);
    const aps = forwarderPolicies(template).filter((s) => JSON.stringify(s.Action).includes("aps:"));
    expect(aps).toEqual([expect.objectContaining({ Action: "aps:RemoteWrite", Resource: WORKSPACE })]);
    template.hasResourceProperties("AWS::Lambda::Function", {
      Environment: { Variables: Match.objectLike({ FORWARD_AUTH: "sigv4", FORWARD_REGION: "eu-west-1" }) },
    });
    expect(actionsOf(template).some((a) => a.startsWith("secretsmanager:"))).toBe(false);
  });

  it("alarms on iterator age, dead letters and errors, and plots the metrics the code emits", () => {
    const { template } = synth({ ...AMP, alarmEmail: "oncall@example.com" });
    for (const metric of ["IteratorAge", "ApproximateNumberOfMessagesVisible", "Errors"]) {
      template.hasResourceProperties("AWS::CloudWatch::Alarm", {
        MetricName: metric,
        AlarmActions: Match.anyValue(),
      });
    }
    const body = JSON.stringify(template.findResources("AWS::CloudWatch::Dashboard"));
    for (const name of [
      METRIC_NAMES.forwardedRecords,
      METRIC_NAMES.forwardRequests,
      METRIC_NAMES.forwardRetries,
      METRIC_NAMES.deadLetters,
      METRIC_NAMES.duplicateRecords,
      METRIC_NAMES.forwardBatchFailures,
      METRIC_NAMES.protocolFallbacks,
      METRIC_NAMES.recordsSentAsV1,
      METRIC_NAMES.startTimestampsDropped,
      METRIC_NAMES.partialWrites,
      METRIC_NAMES.straySeriesDropped,
      METRIC_NAMES.strayCheckSkipped,
    ])
      expect(body).toContain(name);
  });

  it.each([
    [{ forwardAuth: "basic" }, "forwardAuth"],
    [{ forwardUrl: "http://plain.example.com/api/v1/write" }, "forwardUrl"],
    [{ forwardUrl: "https://x.example.com/w", forwardAuth: "basic" }, "forwardUsername"],
    [{ forwardUrl: "https://x.example.com/w", forwardAuth: "header" }, "forwardHeaderName"],
    [{ forwardUrl: "https://x.example.com/w", forwardAuth: "sigv4" }, "forwardAmpWorkspaceArn"],
    [
      { forwardUrl: "https://x.example.com/w", forwardAuth: "sigv4", forwardAmpWorkspaceArn: "ws-1" },
      "forwardAmpWorkspaceArn",
    ],
    [{ forwardUrl: "https://x.example.com/w", forwardSecretArn: SECRET }, "forwardSecretArn"],
    [{ forwardUrl: "https://x.example.com/w", forwardBatchSize: "0" }, "forwardBatchSize"],
    [{ forwardUrl: "https://x.example.com/w", forwardProtocol: "v3" }, "forwardProtocol"],
    [
      { forwardUrl: "https://x.example.com/w", forwardProtocolMemorySeconds: "-1" },
      "forwardProtocolMemorySeconds",
    ],
    [
      { forwardUrl: "https://x.example.com/w", forwardRetryAuthFailures: "maybe" },
      "forwardRetryAuthFailures",
    ],
    [{ forwardProtocol: "v1" }, "forwardProtocol"],
    // the forwarder reads the ingest stream: no forwarder without the ingest component
    [{ components: "mirror", forwardUrl: "https://x.example.com/w" }, "forwardUrl"],
  ])("refuses %j naming %s", (context, key) => {
    try {
      parseConfig(context);
      expect.fail("should throw");
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).key).toBe(key);
    }
  });

  it.each([
    ["StackState (header)", STACKSTATE],
    ["Amazon Managed Prometheus (sigv4)", { ...AMP, alarmEmail: "oncall@example.com" }],
    [
      "basic auth with an existing secret",
      {
        forwardUrl: "https://mimir.example.com/api/v1/push",
        forwardAuth: "basic",
        forwardUsername: "tenant-1",
        forwardSecretArn: SECRET,
      },
    ],
  ])("cdk-nag finds nothing unacknowledged with %s", (_name, context) => {
    const { artifact } = synth(context, true);
    const findings = artifact.messages
      .map((m) => ({ level: m.level, text: String(m.entry.data), id: m.id }))
      .filter(
        (m) =>
          /(AwsSolutions|Serverless)-/.test(m.text) &&
          !/was triggered but suppressed/.test(m.text) &&
          m.level !== "info",
      );
    expect(findings.map((f) => `${f.id} ${f.text.split("\n")[0]}`)).toEqual([]);
    // Every acknowledgement next to the forwarder answers a finding, with a reason.
    const suppressed = new Set(
      artifact.messages
        .map(
          (m) =>
            /CdkNagSuppression(?:\[[^\]]*\])?: (\S+) was triggered but suppressed/.exec(
              String(m.entry.data),
            )?.[1],
        )
        .filter((id): id is string => id !== undefined),
    );
    const resources = artifact.template.Resources as Record<
      string,
      { Metadata?: { cdk_nag?: { rules_to_suppress?: { id: string; reason: string }[] } } }
    >;
    const acks = Object.entries(resources)
      .filter(([id]) => id.startsWith("Forwarder"))
      .flatMap(([, r]) => r.Metadata?.cdk_nag?.rules_to_suppress ?? []);
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect(ack.reason.length).toBeGreaterThanOrEqual(40);
      expect(suppressed.has(ack.id), `${ack.id} is never triggered`).toBe(true);
    }
  });

  it("the handler bundles as an ES module with its SQS client inside, only the credential chain left to the runtime", async () => {
    const out = await build({
      entryPoints: [`${PROJECT_ROOT}/functions/forwarder/handler.ts`],
      bundle: true,
      platform: "node",
      format: "esm",
      target: FUNCTION_DEFAULTS.target,
      mainFields: ["module", "main"],
      external: [...FUNCTION_DEFAULTS.external],
      write: false,
      logLevel: "silent",
    });
    const text = out.outputFiles[0]!.text;
    // no bare import of a package, static or dynamic, but Node's built-ins and the chain
    const bare = [...text.matchAll(/(?:\bfrom\s*|\bimport\(\s*)"([^".][^"]*)"/g)].map((m) => m[1]!);
    expect([...new Set(bare.filter((name) => !isBuiltin(name)))]).toEqual([...FUNCTION_DEFAULTS.external]);
    expect(text).toContain("SendMessageCommand");
    expect(text).not.toContain("protobufjs");
    expect(text).not.toMatch(/from\s*"hono/);
  });
});
