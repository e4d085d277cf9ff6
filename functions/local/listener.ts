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

/** How a remote-write body that trickles in is cut (see LocalServerSettings). */
export interface BodyRateFloor {
  /** Least average rate once the grace is over; 0 never cuts. */
  readonly minBytesPerSecond: number;
  readonly graceMs: number;
  /** Told when a body is cut (for a log line). */
  readonly onCut?: (info: { path: string; bytes: number; ms: number }) => void;
}

const NO_FLOOR: BodyRateFloor = { minBytesPerSecond: 0, graceMs: 0 };

/**
 * The local server's request listener: the two remote-write paths are answered by the
 * endpoint straight from Node's request (the body read into one Buffer, no Web streams, no
 * Request or Response objects); every other request goes to the Hono app (mirror, health)
 * through @hono/node-server. A remote-write body arriving slower than `floor` has its
 * connection closed without an answer: the sender sees a broken connection and resends, as it
 * would after its own timeout (a 4xx would make Prometheus drop the batch).
 */
export function localRequestListener(
  endpoint: RemoteWriteEndpoint,
  fetch: (request: Request) => Response | Promise<Response>,
  floor: BodyRateFloor = NO_FLOOR,
): RequestListener {
  const other = getRequestListener(fetch);
  const reader: RequestReader<IncomingMessage> = {
    header: nodeReader.header,
    body: (req, maxBytes) => readBody(req, maxBytes, floor),
  };
  return (req, res) => {
    const path = pathOf(req);
    if (isRemoteWritePath(path)) void serveWrite(endpoint, path, req, res, reader);
    else void other(req, res);
  };
}

/** A request's path, without its query. */
function pathOf(req: IncomingMessage): string {
  const url = req.url ?? "/";
  const query = url.indexOf("?");
  return query < 0 ? url : url.slice(0, query);
}

/**
 * `listener`, with each request timed from its arrival to its answer's end: `observe` is told
 * once per request its path, the status answered (undefined when the connection closed
 * before the answer was sent) and the seconds it took.
 */
export function timeRequests(
  listener: RequestListener,
  observe: (path: string, status: number | undefined, seconds: number) => void,
): RequestListener {
  return (req, res) => {
    const started = process.hrtime.bigint();
    let done = false;
    const end = (answered: boolean) => {
      if (done) return;
      done = true;
      observe(
        pathOf(req),
        answered ? res.statusCode : undefined,
        Number(process.hrtime.bigint() - started) / 1e9,
      );
    };
    res.once("finish", () => end(true));
    res.once("close", () => end(res.writableFinished));
    listener(req, res);
  };
}

async function serveWrite(
  endpoint: RemoteWriteEndpoint,
  path: string,
  req: IncomingMessage,
  res: ServerResponse,
  reader: RequestReader<IncomingMessage>,
): Promise<void> {
  let answer: WriteAnswer;
  try {
    answer = await endpoint.answer(req.method ?? "GET", path, req, reader);
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
  body: (req, maxBytes) => readBody(req, maxBytes, NO_FLOOR),
};

/** How often a trickling body's rate is judged once the grace is over. */
const RATE_CHECK_MS = 1_000;

/**
 * The body in one Buffer: written into a buffer of the declared Content-Length as chunks
 * arrive (one copy), or, when chunked, the chunks joined once at the end. Past `maxBytes`
 * it stops reading and resolves undefined, without having kept the excess. Once the floor's
 * grace is over, a body that has not kept its average rate (or arrived whole, when it is
 * smaller) has its connection closed and the read rejects.
 */
function readBody(
  req: IncomingMessage,
  maxBytes: number,
  floor: BodyRateFloor,
): Promise<Uint8Array | undefined> {
  const declared = req.headers["content-length"] === undefined ? -1 : Number(req.headers["content-length"]);
  return new Promise((resolve, reject) => {
    let into: Buffer | undefined;
    const chunks: Buffer[] = [];
    let total = 0;
    let timer: NodeJS.Timeout | undefined;
    const started = Date.now();
    const judge = () => {
      const ms = Date.now() - started;
      const owed = (floor.minBytesPerSecond * ms) / 1000;
      if (total >= (declared >= 0 ? Math.min(declared, owed) : owed)) {
        timer = setTimeout(judge, Math.min(RATE_CHECK_MS, floor.graceMs));
        return;
      }
      timer = undefined;
      floor.onCut?.({ path: req.url ?? "", bytes: total, ms });
      onFail(new Error("the request body arrived too slowly"));
      req.socket.destroy();
    };
    if (floor.minBytesPerSecond > 0) timer = setTimeout(judge, floor.graceMs);
    const detach = () => {
      if (timer !== undefined) clearTimeout(timer);
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
