#!/usr/bin/env node
import { App } from "aws-cdk-lib";
import { parseConfig } from "./config";
import { GatewayStack } from "./gateway-stack";

const app = new App();
const config = parseConfig(app.node.getAllContext());
new GatewayStack(app, config.stackName, { config });
app.synth();
