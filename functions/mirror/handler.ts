import { handle } from "hono/aws-lambda";
import { flushingHandler } from "../../lib/aws/emf-metrics";
import { mirrorAppFromEnv } from "./wiring";

// Cold start: configuration and keys are read once; a bad variable fails the init loudly.
const { app, metrics } = mirrorAppFromEnv(process.env);

/** Lambda entry: API Gateway → the Hono app; the invocation's metrics are flushed as EMF. */
export const handler = flushingHandler(handle(app), metrics);
