import { App, Aspects } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../infra/config";
import { GatewayStack } from "../../infra/gateway-stack";
import { NAG_CONFIGURATIONS, runNag } from "./nag";
import { cdkJsonContext, PREBUILT } from "./synth";

describe("cdk-nag: AWS Solutions and Serverless packs", () => {
  const runs = Object.entries(NAG_CONFIGURATIONS).map(([name, context]) => [name, runNag(context)] as const);

  it.each(runs)("%s: no unacknowledged finding", (_name, run) => {
    expect(run.findings).toEqual([]);
  });

  it.each(runs)(
    "%s: every acknowledgement gives a reason and answers a finding of this template",
    (_name, run) => {
      expect(run.acknowledgements.length).toBeGreaterThan(0);
      for (const ack of run.acknowledgements) {
        expect(ack.reason.length, `${ack.resource} ${ack.id}`).toBeGreaterThanOrEqual(40);
        expect(run.suppressedRules.has(ack.id), `${ack.id} on ${ack.resource} is never triggered`).toBe(true);
      }
    },
  );

  it("the packs do find things when nothing is acknowledged (the check is live)", () => {
    // Strip every acknowledgement from one synthesis: the same template must then fail.
    const app = new App({ context: cdkJsonContext() });
    const stack = new GatewayStack(app, "Unacknowledged", {
      config: parseConfig(app.node.getAllContext()),
      functionCode: PREBUILT,
    });
    for (const child of stack.node.findAll()) {
      const resource = child as unknown as { cfnOptions?: { metadata?: Record<string, unknown> } };
      if (resource.cfnOptions?.metadata?.cdk_nag !== undefined) delete resource.cfnOptions.metadata.cdk_nag;
    }
    Aspects.of(app).add(new AwsSolutionsChecks());
    const messages = app.synth().getStackArtifact(stack.artifactId).messages;
    const errors = messages.filter((m) => m.level === "error" && /AwsSolutions-/.test(String(m.entry.data)));
    expect(errors.length).toBeGreaterThan(0);
  });
});
