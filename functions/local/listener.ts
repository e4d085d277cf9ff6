import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import { getRequestListener } from "@hono/node-server";
import {
  isRemoteWritePath,
  type RemoteWriteEndpoint,
  type RequestReader,
  type WriteAnswer,
} from "../remote-write/endpoint";

/** After an answer given before the body was read, how much of the rest is read and dropped… */
export const DISCARD_MAX_BYTES = 64 * 1024 * 1024;
/** …and for how long, before the connection is closed instead. */
export const DISCARD_MAX_MS = 500;

/**
 * The local server's request listener: the two remote-write paths are answered by the
 * endpoint straight from Node's request (the body read into one Buffer, no Web streams, no
 * Request or Response objects); every other request goes to the Hono app (mirror, health)
 * through @hono/node-server.
 */
export function localRequestListener(
  endpoint: RemoteWriteEndpoint,
  fetch: (request: Request) => Response | Promise<Response>,
): RequestListener {
  const other = getRequestListener(fetch);
  return (req, res) => {
    const url = req.url ?? "/";
    const query = url.indexOf("?");
    const path = query < 0 ? url : url.slice(0, query);
    if (isRemoteWritePath(path)) void serveWrite(endpoint, path, req, res);
    else void other(req, res);
  };
}

async function serveWrite(
  endpoint: RemoteWriteEndpoint,
  path: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  let answer: WriteAnswer;
  try {
    answer = await endpoint.answer(req.method ?? "GET", path, req, nodeReader);
  } catch (err) {
    answer = endpoint.errorAnswer(err);
  }
  if (res.destroyed) return;
  res.statusCode = answer.status;
  for (const name in answer.headers) res.setHeader(name, answer.headers[name]!);
  // end() with the whole body sets Content-Length (no chunked framing); HEAD sends none
  if (answer.body === null) res.end();
  else res.end(answer.body);
  // a body answered before it was read to its end: what is left must not block the connection
  if (!req.readableEnded) discardRest(req);
}

const nodeReader: RequestReader<IncomingMessage> = {
  header(req, name) {
    const value = req.headers[name];
    return Array.isArray(value) ? value.join(", ") : value;
  },
  body: readBody,
};

/**
 * The body in one Buffer: written into a buffer of the declared Content-Length as chunks
 * arrive (one copy), or, when chunked, the chunks joined once at the end. Past `maxBytes`
 * it stops reading and resolves undefined, without having kept the excess.
 */
function readBody(req: IncomingMessage, maxBytes: number): Promise<Uint8Array | undefined> {
  const declared = req.headers["content-length"] === undefined ? -1 : Number(req.headers["content-length"]);
  return new Promise((resolve, reject) => {
    let into: Buffer | undefined;
    const chunks: Buffer[] = [];
    let total = 0;
    const detach = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onFail);
      req.off("close", onClose);
    };
    const onData = (chunk: Buffer) => {
      const end = total + chunk.length;
      if (end > maxBytes || (declared >= 0 && end > declared)) {
        detach();
        req.pause();
        resolve(undefined);
        return;
      }
      if (declared > 0) {
        into ??= Buffer.allocUnsafe(declared);
        chunk.copy(into, total);
      } else chunks.push(chunk);
      total = end;
    };
    const onEnd = () => {
      detach();
      if (into !== undefined) resolve(total === into.length ? into : into.subarray(0, total));
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
    };
    const onFail = (err: Error) => {
      detach();
      reject(err);
    };
    const onClose = () => {
      if (!req.complete) onFail(new Error("the request closed before its body ended"));
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onFail);
    req.on("close", onClose);
  });
}

/**
 * What is left of a body answered before it was read (over the limit, or refused before
 * reading) is read and dropped, so the connection can serve the next request; a sender
 * that keeps sending past DISCARD_MAX_BYTES or DISCARD_MAX_MS has its connection closed.
 */
function discardRest(req: IncomingMessage): void {
  if (req.destroyed) return;
  let bytes = 0;
  const close = () => {
    clearTimeout(timer);
    req.off("data", onData);
    if (!req.socket.destroyed) req.socket.destroySoon();
  };
  const onData = (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > DISCARD_MAX_BYTES) close();
  };
  const timer = setTimeout(close, DISCARD_MAX_MS);
  timer.unref();
  req.on("data", onData);
  req.once("end", () => clearTimeout(timer));
  req.once("error", () => clearTimeout(timer));
  req.resume();
}
