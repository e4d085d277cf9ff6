import { vi } from "vitest";
import { type LocalGateway, startLocalGateway } from "../../../functions/local/gateway";
import { restEvent } from "../../fixtures/api-gateway";
import { type Answer, MIRROR_KEY, post } from "./harness";

/**
 * The three ways a request reaches the mirror in these suites: the Hono app over HTTP, the
 * local server (`npm start`), and the Lambda handler driven with API Gateway REST (v1) events.
 */

export type Send = (path: string, body: unknown, headers?: Record<string, string>) => Promise<Answer>;

type LambdaHandler = (event: unknown, context: unknown) => Promise<unknown>;

/**
 * Loads the Lambda handler with the given environment (a fresh module, so its cold start
 * reads exactly that) and returns a sender that invokes it with REST events. What the
 * handler writes to stdout meanwhile (logs, metrics) goes to `output`.
 */
export async function lambdaFront(env: Record<string, string>, output?: string[]): Promise<Send> {
  vi.resetModules();
  for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
  const { handler } = (await import("../../../functions/mirror/handler")) as unknown as {
    handler: LambdaHandler;
  };
  return async (path, body, headers = {}) => {
    const text = typeof body === "string" ? body : JSON.stringify(body);
    // the handler writes its metrics (EMF) to stdout at the end of each invocation
    const quiet = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      output?.push(String(chunk));
      return true;
    });
    let res: {
      statusCode: number;
      headers?: Record<string, string>;
      multiValueHeaders?: Record<string, string[]>;
      body: string;
    };
    try {
      res = (await handler(
        restEvent(path, text, { "content-type": "application/json", ...headers }),
        {},
      )) as typeof res;
    } finally {
      quiet.mockRestore();
    }
    let parsed: unknown = res.body;
    try {
      parsed = JSON.parse(res.body);
    } catch {
      // left as text
    }
    // REST (v1) answers may carry their headers in either map
    const out = new Headers(res.headers ?? {});
    for (const [k, vs] of Object.entries(res.multiValueHeaders ?? {})) for (const v of vs) out.append(k, v);
    return { status: res.statusCode, headers: out, body: parsed };
  };
}

/** The local server with the given mirror settings (no Kinesis is started: remote write is not used here). */
export async function localFront(
  env: Record<string, string>,
): Promise<{ send: Send; gateway: LocalGateway }> {
  const gateway = await startLocalGateway({
    port: 0,
    mirrorApiKey: MIRROR_KEY,
    apiKey: "local-ingest-key-0123456789",
    env: { KINESIS_STREAM_NAME: "unused", AWS_ACCESS_KEY_ID: "unused-here", LOG_LEVEL: "error", ...env },
  });
  return { send: (path, body, headers) => post(gateway.url, path, body, headers), gateway };
}
