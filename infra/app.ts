#!/usr/bin/env node
import { App } from "aws-cdk-lib";
import { ConfigError, type GatewayConfig, parseConfig } from "./config";
import { GatewayStack } from "./gateway-stack";

const app = new App();
let config: GatewayConfig;
try {
  config = parseConfig(app.node.getAllContext());
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  // A configuration mistake is the user's to fix: the message names the key, no stack trace.
  console.error(err.message);
  process.exit(1);
}
new GatewayStack(app, config.stackName, { config });
app.synth();
