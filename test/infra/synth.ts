import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { App, type Stack } from "aws-cdk-lib";
import { Annotations, Match, Template } from "aws-cdk-lib/assertions";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { parseConfig } from "../../infra/config";
import { GatewayStack } from "../../infra/gateway-stack";
import { PROJECT_ROOT } from "../../infra/paths";

/** The context in cdk.json (feature flags), so tests synthesize what `cdk synth` does. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(PROJECT_ROOT, "cdk.json"), "utf8")) as {
    context?: Record<string, unknown>;
  };
  return cdkJson.context ?? {};
}

/** Stand-in code: template tests look at resources, not at the bundles (bundle.test.ts does). */
export const PREBUILT = {
  remoteWrite: lambda.Code.fromInline("exports.handler = async () => ({ statusCode: 503 });"),
  mirror: lambda.Code.fromInline("exports.handler = async () => ({ statusCode: 502 });"),
  forwarder: lambda.Code.fromInline("exports.handler = async () => ({ batchItemFailures: [] });"),
};

export interface Synthesized {
  readonly app: App;
  readonly stack: GatewayStack;
  readonly template: Template;
  /** The template as plain JSON, for whole-template scans. */
  readonly json: Record<string, unknown>;
}

/**
 * Synthesizes the gateway with `context` laid over cdk.json's context, exactly as
 * `cdk synth -c key=value` would (values as strings are fine). `bundle: true` runs esbuild;
 * `outdir` defaults to a fresh temporary directory.
 */
export function synthGateway(
  context: Record<string, unknown> = {},
  opts: { bundle?: boolean; outdir?: string; env?: { account?: string; region?: string } } = {},
): Synthesized {
  const app = new App({ context: { ...cdkJsonContext(), ...context }, outdir: opts.outdir });
  const config = parseConfig(app.node.getAllContext());
  const stack = new GatewayStack(app, config.stackName, {
    config,
    functionCode: opts.bundle ? undefined : PREBUILT,
    env: opts.env,
  });
  const template = Template.fromStack(stack);
  return { app, stack, template, json: template.toJSON() as Record<string, unknown> };
}

/** A resource of the template JSON; its properties are whatever CloudFormation takes. */
// biome-ignore lint/suspicious/noExplicitAny: template JSON is untyped by nature
export type CfnResource = { Type: string; Properties: Record<string, any>; DependsOn?: string[] };

/** Resources of one type, by logical id. */
export function resourcesOf(json: Record<string, unknown>, type: string): Record<string, CfnResource> {
  const resources = json.Resources as Record<string, CfnResource>;
  return Object.fromEntries(Object.entries(resources).filter(([, r]) => r.Type === type));
}

/** Warnings of a stack, as text. */
export function warnings(stack: Stack): string[] {
  return Annotations.fromStack(stack)
    .findWarning("*", Match.anyValue())
    .map((w) => String(w.entry.data));
}

/** The one Lambda function of a template whose description starts with `prefix`. */
export function functionOf(json: Record<string, unknown>, prefix: string): CfnResource {
  const found = Object.values(resourcesOf(json, "AWS::Lambda::Function")).filter((f) =>
    String(f.Properties.Description).startsWith(prefix),
  );
  if (found.length !== 1) throw new Error(`${found.length} functions described "${prefix}…"`);
  return found[0]!;
}

/** Where a function's bundle is in the cloud assembly. */
export interface FunctionBundle {
  readonly handler: string;
  readonly dir: string;
  /** The bundle itself, `index.mjs`. */
  readonly file: string;
}

/**
 * The gateway synthesized with its real bundles: each entry bundled by the local esbuild
 * (no Docker) exactly as `cdk synth` / `cdk deploy` bundle them. The assembly goes under
 * cdk.out/ so that the bundles' bare `@aws-sdk/*` imports resolve to the project's
 * node_modules, as they resolve to the runtime's SDK on Lambda; `remove()` deletes it.
 */
export function synthBundled(context: Record<string, unknown> = {}) {
  mkdirSync(join(PROJECT_ROOT, "cdk.out"), { recursive: true });
  const outdir = mkdtempSync(join(PROJECT_ROOT, "cdk.out", "bundle-test-"));
  const synthesized = synthGateway(context, { bundle: true, outdir });
  const bundleOf = (descriptionPrefix: string): FunctionBundle => {
    const fn = functionOf(synthesized.json, descriptionPrefix);
    const dir = join(outdir, `asset.${String(fn.Properties.Code.S3Key).replace(/\.zip$/, "")}`);
    return { handler: fn.Properties.Handler as string, dir, file: join(dir, "index.mjs") };
  };
  return { ...synthesized, outdir, bundleOf, remove: () => rmSync(outdir, { recursive: true, force: true }) };
}

/** A statement of an IAM policy document in the template. */
export interface PolicyStatement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: Record<string, unknown>;
}

/** The statements of the inline policies attached to a function's role. */
export function roleStatements(json: Record<string, unknown>, fn: CfnResource): PolicyStatement[] {
  const roleId = fn.Properties.Role["Fn::GetAtt"][0] as string;
  return Object.values(resourcesOf(json, "AWS::IAM::Policy"))
    .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as PolicyStatement[]);
}
