import { flushingHandler } from "../../lib/aws/emf-metrics";
import { apiGatewayHandler, handlerOptionsFromEnv } from "./api-gateway";
import { remoteWriteEndpointFromEnv } from "./wiring";

const { endpoint, metrics } = remoteWriteEndpointFromEnv(process.env);
const options = handlerOptionsFromEnv(process.env);

/**
 * Lambda entry: API Gateway (HTTP API payload 2.0, or REST API) → the remote-write endpoint,
 * without Web Request and Response objects in between; the invocation's metrics are flushed as EMF.
 */
export const handler = flushingHandler(apiGatewayHandler(endpoint, options), metrics);
