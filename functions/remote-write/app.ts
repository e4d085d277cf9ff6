import { type Context, Hono } from "hono";
import { REMOTE_WRITE_PATHS } from "../../lib/core/routes";
import {
  createRemoteWriteEndpoint,
  type RemoteWriteEndpoint,
  type RemoteWriteOptions,
  type RequestReader,
  type WriteAnswer,
} from "./endpoint";

export { REALM } from "./endpoint";

export type RemoteWriteAppOptions = RemoteWriteOptions;

/** The Hono app, and the endpoint it serves (for fronts that call it without Hono). */
export type RemoteWriteApp = Hono & { readonly endpoint: RemoteWriteEndpoint };

/** A Hono request as the endpoint reads it. */
const honoReader: RequestReader<Context> = {
  header: (c, name) => c.req.header(name),
  body: (c, maxBytes) => readWebBody(c.req.raw.body, maxBytes),
};

/**
 * The remote_write receiver as a Hono app: a thin wrapper over the framework-neutral
 * endpoint (./endpoint.ts), which holds the behaviour. The local server and the Lambda
 * handler call the endpoint directly (./wiring.ts builds it without Hono); the app is for
 * composing the receiver into a Hono application, and is tested as such.
 */
export function createRemoteWriteApp(o: RemoteWriteAppOptions): RemoteWriteApp {
  const endpoint = createRemoteWriteEndpoint(o);
  const app = new Hono();
  app.onError((err) => toResponse(endpoint.errorAnswer(err)));
  for (const path of REMOTE_WRITE_PATHS) {
    app.all(path, async (c) => toResponse(await endpoint.answer(c.req.method, path, c, honoReader)));
  }
  return Object.assign(app, { endpoint });
}

function toResponse(answer: WriteAnswer): Response {
  return new Response(answer.body, { status: answer.status, headers: answer.headers });
}

/** Reads a Web stream body, counting bytes, stopping (and cancelling it) past `maxBytes`. */
async function readWebBody(
  stream: ReadableStream<Uint8Array> | null,
  maxBytes: number,
): Promise<Uint8Array | undefined> {
  if (stream === null) return new Uint8Array(0);
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > maxBytes) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
}
