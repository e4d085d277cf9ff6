import type { Context } from "aws-lambda";
import { handle } from "hono/aws-lambda";
import { remoteWriteAppFromEnv } from "./wiring";

const { app, metrics } = remoteWriteAppFromEnv(process.env);
const serve = handle(app);

/** Lambda entry: API Gateway (HTTP API payload 2.0, or REST API) → the Hono app. */
export const handler = async (event: Parameters<typeof serve>[0], context: Context) => {
  try {
    return await serve(event, context);
  } finally {
    metrics.flush();
  }
};
