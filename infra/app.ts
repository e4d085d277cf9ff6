#!/usr/bin/env node
import { App } from "aws-cdk-lib";
import { ConfigError, parseConfig } from "./config";
import { stackPlacement } from "./environment";
import { GatewayStack } from "./gateway-stack";

const app = new App();
try {
  const config = parseConfig(app.node.getAllContext());
  const placement = stackPlacement(config, process.env);
  // stderr, so that `cdk synth` without -q still prints a clean template on stdout
  console.error(placement.line);
  // Constructs check what only the stack knows (e.g. its region against the AMP workspaces').
  new GatewayStack(app, config.stackName, { config, env: placement.env });
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  // A configuration mistake is the user's to fix: the message names the key, no stack trace.
  console.error(err.message);
  if (err.key !== undefined) console.error(`Set it with -c ${err.key}=<value>, or in cdk.json's context.`);
  process.exit(1);
}
app.synth();
