import { handle } from "hono/aws-lambda";
import { flushingHandler } from "../../lib/aws/emf-metrics";
import { remoteWriteAppFromEnv } from "./wiring";

const { app, metrics } = remoteWriteAppFromEnv(process.env);

/** Lambda entry: API Gateway (HTTP API payload 2.0, or REST API) → the Hono app. */
export const handler = flushingHandler(handle(app), metrics);
