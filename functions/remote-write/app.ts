import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { type KeySource, matchKey, presentedKey } from "../../lib/core/auth";
import {
  BadRequestError,
  HttpError,
  PayloadTooLargeError,
  ServiceUnavailableError,
  UnauthorizedError,
} from "../../lib/core/errors";
import type { Logger } from "../../lib/core/log";
import { METRIC_DIMENSIONS, METRIC_NAMES } from "../../lib/core/metric-names";
import type { Metrics } from "../../lib/core/metrics";
import { REMOTE_WRITE_PATHS } from "../../lib/core/routes";
import { StreamWriteError, UnreadableBodyError } from "../../lib/ingest/errors";
import type { Ingestor } from "../../lib/ingest/ingest";
import { negotiate, type ProtocolVersion } from "../../lib/ingest/negotiate";
import { rejectionMessage, responseHeaders } from "../../lib/ingest/respond";
import type { RecordSink } from "../../lib/ingest/sink";

export const REALM = "prometheus-remote-write";

export interface RemoteWriteAppOptions {
  readonly ingestor: Ingestor;
  readonly maxBodyBytes: number;
  readonly keys: KeySource;
  readonly sink: RecordSink;
  readonly log: Logger;
  readonly metrics: Metrics;
}

type Vars = { version: ProtocolVersion; tenant: string | undefined };

/**
 * The remote_write receiver: authenticate, negotiate the protocol version, bound the
 * body, decode and validate, write to the stream, answer with the status that makes
 * Prometheus retry exactly when a retry can succeed (see the status table in docs/ingest.md).
 */
export function createRemoteWriteApp(o: RemoteWriteAppOptions): Hono<{ Variables: Vars }> {
  const app = new Hono<{ Variables: Vars }>();

  app.onError((thrown, c) => {
    const version = c.get("version");
    const headers = responseHeaders(version);
    const err = asHttpError(thrown);
    if (err instanceof HttpError) {
      if (err.status >= 500) o.log.warn("write failed", { status: err.status, code: err.code });
      else o.log.debug("write refused", { status: err.status, code: err.code });
      return c.text(`${err.message}\n`, err.status as 400, { ...headers, ...err.headers });
    }
    o.log.error("unexpected error in remote write", {
      error: err instanceof Error ? err.name : "unknown",
      stack: err instanceof Error ? err.stack?.split("\n").slice(0, 6).join(" | ") : undefined,
    });
    return c.text("internal error\n", 500, headers);
  });

  for (const path of REMOTE_WRITE_PATHS) {
    app.post(
      path,
      async (c, next) => {
        const key = presentedKey((name) => c.req.header(name));
        if (key === undefined) throw new UnauthorizedError(REALM);
        let valid: Awaited<ReturnType<KeySource["keys"]>>;
        try {
          valid = await o.keys.keys();
        } catch {
          throw new ServiceUnavailableError("keys-unavailable", "cannot check credentials right now", 5);
        }
        const match = matchKey(key, valid);
        if (match === undefined) throw new UnauthorizedError(REALM);
        c.set("tenant", match.tenant);
        c.set("version", negotiate(c.req.header("content-type"), c.req.header("content-encoding")));
        await next();
      },
      bodyLimit({
        maxSize: o.maxBodyBytes,
        onError: () => {
          throw new PayloadTooLargeError("body-too-large", `request body exceeds ${o.maxBodyBytes} bytes`);
        },
      }),
      async (c) => {
        const version = c.get("version");
        const body = new Uint8Array(await c.req.arrayBuffer());
        if (body.length > o.maxBodyBytes) {
          throw new PayloadTooLargeError("body-too-large", `request body exceeds ${o.maxBodyBytes} bytes`);
        }
        const out = o.ingestor.prepare(body, version, c.get("tenant"));
        o.metrics.count(METRIC_NAMES.samplesReceived, out.written.samples + out.written.histograms);
        for (const [reason, n] of out.rejected.byReason) {
          o.metrics.count(METRIC_NAMES.seriesRejected, n, { name: METRIC_DIMENSIONS.reason, value: reason });
        }
        await o.sink.put(out.records);
        const headers = responseHeaders(version, out.written);
        if (out.rejected.total > 0) return c.text(`${rejectionMessage(out)}\n`, 400, headers);
        return c.body(null, 204, headers);
      },
    );
    app.all(path, (c) => c.text("method not allowed: use POST\n", 405, { Allow: "POST" }));
  }
  return app;
}

/** The ingest path's own errors as the statuses of the table in docs/ingest.md; others unchanged. */
function asHttpError(err: unknown): unknown {
  if (err instanceof UnreadableBodyError) {
    return err.tooLarge
      ? new PayloadTooLargeError(err.code, err.message)
      : new BadRequestError(err.code, err.message);
  }
  if (err instanceof StreamWriteError)
    return new ServiceUnavailableError(err.code, err.message, err.retryAfterSeconds);
  return err;
}
