import { MirrorError } from "./errors";
import type { PrometheusClient } from "./prometheus-client";

export type TestConnectionResponse =
  | { _type: "TestConnectionResponse"; status: "OK" }
  | {
      _type: "TestConnectionResponse";
      status: "FAILURE";
      error: { _type: "MetricStoreConnectionError"; details: string };
    };

/**
 * The connection test: Prometheus's `/-/healthy` and build-info endpoints. Any failure is
 * answered as FAILURE with a MetricStoreConnectionError saying what failed (refused, DNS,
 * timeout, HTTP status); other errors (bugs) propagate.
 */
export async function testConnection(
  client: PrometheusClient,
): Promise<{ response: TestConnectionResponse; failure?: MirrorError; version?: string }> {
  try {
    const version = await client.checkHealth();
    return { response: { _type: "TestConnectionResponse", status: "OK" }, version };
  } catch (err) {
    if (!(err instanceof MirrorError)) throw err;
    const details = "details" in err.body ? err.body.details : err.message;
    return {
      response: {
        _type: "TestConnectionResponse",
        status: "FAILURE",
        error: { _type: "MetricStoreConnectionError", details: `Prometheus is not healthy: ${details}` },
      },
      failure: err,
    };
  }
}
