import { WireError } from "../../lib/codec/wire";
import { type KeySource, matchKey, presentedKey } from "../../lib/core/auth";
import {
  BadRequestError,
  echo,
  HttpError,
  InternalServerError,
  jitteredRetryAfter,
  PayloadTooLargeError,
  ServiceUnavailableError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
} from "../../lib/core/errors";
import type { Logger } from "../../lib/core/log";
import { METRIC_DIMENSIONS, METRIC_NAMES } from "../../lib/core/metric-names";
import type { Metrics } from "../../lib/core/metrics";
import { REMOTE_WRITE_PATHS } from "../../lib/core/routes";
import type { HaDedup } from "../../lib/ha/dedup";
import { type Decision, ReplicaStoreUnavailableError } from "../../lib/ha/tracker";
import {
  RecordsRefusedError,
  StreamUnusableError,
  StreamWriteError,
  UnreadableBodyError,
  UnsupportedContentError,
} from "../../lib/ingest/errors";
import { type IngestOutput, type Ingestor, malformed, type RequestRewrite } from "../../lib/ingest/ingest";
import { negotiate, type ProtocolVersion } from "../../lib/ingest/negotiate";
import { settlePlacement } from "../../lib/ingest/placement";
import { rejectionMessage, responseHeaders } from "../../lib/ingest/respond";
import { FixedShardMap, type ShardMapSource } from "../../lib/ingest/shard-source";
import type { RecordSink } from "../../lib/ingest/sink";
import { countRequest, type RequestCounts } from "../../lib/stream/request-counts";
import type { ShardMap } from "../../lib/stream/shard-map";

export const REALM = "prometheus-remote-write";

/** The content type of every text answer (Hono's `c.text` sends the same). */
export const TEXT_PLAIN = "text/plain; charset=UTF-8";

export interface RemoteWriteOptions {
  readonly ingestor: Ingestor;
  readonly maxBodyBytes: number;
  readonly keys: KeySource;
  readonly sink: RecordSink;
  /**
   * The stream's shard map, which records are packed by (lib/ingest/shard-source.ts); unset,
   * the ingestor's default map, never read from the stream.
   */
  readonly shards?: ShardMapSource;
  readonly log: Logger;
  readonly metrics: Metrics;
  /**
   * Time budget of one request from its arrival, key check and stream write included
   * (PUT_DEADLINE_MS); a front's own deadline (Lambda's remaining time) may end it sooner.
   * Unset: the sink's own budget, counted from the write.
   */
  readonly deadlineMs?: number;
  /** Retry-After (seconds) of a 503 for the key check (default 5). */
  readonly retryAfterSeconds?: number;
  /**
   * HA-pair deduplication (HA_DEDUP=true): requests of a replica not elected are answered 202
   * and not written; the elected one's are written without the replica label. Unset: off, and
   * the request path is what it is without it.
   */
  readonly ha?: HaDedup;
  /** Draws the random part of a Retry-After (default Math.random). */
  readonly random?: () => number;
}

/**
 * How a front (node:http, API Gateway events) lets the endpoint read one request of
 * type R. One object per front, shared by every request: no closure per request.
 */
export interface RequestReader<R> {
  /** A header's value; `name` is lower case, the lookup is case-insensitive. */
  header(req: R, name: string): string | undefined;
  /**
   * The whole body in one piece, or undefined as soon as more than `maxBytes` arrived (the
   * rest is left unread). Rejects when the body cannot be read (the client went away).
   */
  body(req: R, maxBytes: number): Promise<Uint8Array | undefined>;
}

/** An answer ready for any front: status, headers (canonical case) and a text body or none. */
export interface WriteAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | null;
}

export interface RemoteWriteEndpoint {
  /**
   * Answers one request to `path`: authenticate, negotiate the protocol version, bound and
   * read the body, decode and validate, write to the stream. Never rejects: every failure is
   * an answer (the status table in docs/ingest.md).
   */
  answer<R>(
    method: string,
    path: string,
    req: R,
    reader: RequestReader<R>,
    deadline?: number,
  ): Promise<WriteAnswer>;
  /** The answer to an error thrown outside `answer` (a front's own failure): 500 unless it is an HttpError. */
  errorAnswer(err: unknown, version?: ProtocolVersion): WriteAnswer;
}

const WRITE_PATHS: ReadonlySet<string> = new Set(REMOTE_WRITE_PATHS);

/** True for the two remote-write paths (lib/core/routes.ts). */
export function isRemoteWritePath(path: string): boolean {
  return WRITE_PATHS.has(path);
}

const NOT_FOUND: WriteAnswer = Object.freeze({
  status: 404,
  headers: Object.freeze({ "Content-Type": TEXT_PLAIN }),
  body: "404 Not Found",
});

const METHOD_NOT_ALLOWED: WriteAnswer = Object.freeze({
  status: 405,
  headers: Object.freeze({ "Content-Type": TEXT_PLAIN, Allow: "POST" }),
  body: "method not allowed: use POST\n",
});

function text(status: number, message: string, headers: Record<string, string>): WriteAnswer {
  headers["Content-Type"] = TEXT_PLAIN;
  return { status, headers, body: `${message}\n` };
}

function tooLarge(maxBodyBytes: number): PayloadTooLargeError {
  return new PayloadTooLargeError("body-too-large", `request body exceeds ${maxBodyBytes} bytes`);
}

/**
 * The remote_write receiver without a web framework: the one implementation of its
 * behaviour, which the local server's node:http listener and the Lambda handler both call.
 * It answers with the status that makes Prometheus retry exactly when a retry can succeed
 * (see the status table in docs/ingest.md).
 */
export function createRemoteWriteEndpoint(o: RemoteWriteOptions): RemoteWriteEndpoint {
  const { ingestor, maxBodyBytes, keys, sink, log, metrics } = o;
  const shards = o.shards ?? new FixedShardMap(ingestor.defaultMap);
  const { deadlineMs } = o;
  const keysRetryAfter = o.retryAfterSeconds ?? 5;
  const placement = { ingestor, sink, shards, log, metrics };
  const { ha } = o;
  const random = o.random ?? Math.random;

  function errorAnswer(thrown: unknown, version?: ProtocolVersion): WriteAnswer {
    const err = asHttpError(thrown);
    const headers = responseHeaders(version);
    if (err instanceof HttpError) {
      if (err.status >= 500) log.warn("write failed", { status: err.status, code: err.code });
      else log.debug("write refused", { status: err.status, code: err.code });
      return text(err.status, err.message, Object.assign(headers, err.headers));
    }
    log.error("unexpected error in remote write", {
      error: err instanceof Error ? err.name : "unknown",
      stack: err instanceof Error ? err.stack?.split("\n").slice(0, 6).join(" | ") : undefined,
    });
    return text(500, "internal error", headers);
  }

  /** The presented key checked against the valid ones; the matching key's tenant. */
  async function authenticate<R>(
    req: R,
    reader: RequestReader<R>,
    deadline: number | undefined,
  ): Promise<string | undefined> {
    const key = presentedKey((name) => reader.header(req, name));
    if (key === undefined) throw new UnauthorizedError(REALM);
    let valid: Awaited<ReturnType<KeySource["keys"]>>;
    try {
      valid = await (deadline === undefined ? keys.keys() : beforeDeadline(keys.keys(), deadline));
    } catch {
      throw new ServiceUnavailableError(
        "keys-unavailable",
        "cannot check credentials right now",
        keysRetryAfter,
      );
    }
    const match = matchKey(key, valid);
    if (match === undefined) throw new UnauthorizedError(REALM);
    return match.tenant;
  }

  /**
   * Reads the body within the limit and turns it into records packed by `map`. The body is
   * kept until the records are placed: series that land outside their shard during a
   * resharding are planned from it again.
   */
  async function readBody<R>(req: R, reader: RequestReader<R>): Promise<Uint8Array> {
    const declared = reader.header(req, "content-length");
    if (declared !== undefined && Number(declared) > maxBodyBytes) throw tooLarge(maxBodyBytes);
    let body: Uint8Array | undefined;
    try {
      body = await reader.body(req, maxBodyBytes);
    } catch {
      throw new BadRequestError("body-incomplete", "the request body could not be read to its end");
    }
    if (body === undefined || body.length > maxBodyBytes) throw tooLarge(maxBodyBytes);
    return body;
  }

  /**
   * With HA deduplication: decodes the body once, reads its cluster and replica, and asks the
   * tracker (from its cache when it can; the decoded bytes are copied only when it must call
   * the table, since the Ingestor's buffer serves other requests meanwhile). The elected
   * replica's request is planned without the replica label; any other answer writes nothing.
   */
  async function prepareDeduplicated(
    dedup: HaDedup,
    body: Uint8Array,
    version: ProtocolVersion,
    tenant: string | undefined,
    map: ShardMap,
    deadline: number | undefined,
  ): Promise<{ out: IngestOutput; rewrite?: RequestRewrite } | WriteAnswer> {
    const decoded = ingestor.decode(body);
    const labels = dedup.wire.labels(decoded, version);
    if (labels === undefined) return { out: ingestor.plan(decoded, version, tenant, map) };
    let bytes = decoded;
    let decision = dedup.tracker.cached(tenant, labels.cluster, labels.replica);
    if (decision === undefined) {
      bytes = new Uint8Array(decoded); // a copy (a Buffer's slice would be a view)
      try {
        decision = await dedup.tracker.decide(tenant, labels.cluster, labels.replica, deadline);
      } catch (err) {
        if (!(err instanceof ReplicaStoreUnavailableError)) throw err;
        throw new ServiceUnavailableError(
          "ha-unavailable",
          "cannot tell which HA replica is elected right now",
          jitteredRetryAfter(keysRetryAfter, random),
        );
      }
    }
    if (decision.outcome === "accept") {
      return { out: ingestor.plan(dedup.strip(bytes, version), version, tenant, map), rewrite: dedup.strip };
    }
    return notWritten(dedup, decision, bytes, version, labels.cluster);
  }

  /** The answer to a request HA deduplication does not write, counted by reason. */
  function notWritten(
    dedup: HaDedup,
    decision: Exclude<Decision, { outcome: "accept" }>,
    decoded: Uint8Array,
    version: ProtocolVersion,
    cluster: string,
  ): WriteAnswer {
    let counts: RequestCounts;
    try {
      counts = countRequest(decoded, version);
    } catch (err) {
      if (err instanceof WireError) throw malformed(version, err);
      throw err;
    }
    const { reason } = decision;
    metrics.count(METRIC_NAMES.haRequestsDropped, 1, { name: METRIC_DIMENSIONS.reason, value: reason });
    metrics.count(METRIC_NAMES.haSamplesDropped, counts.samples + counts.histograms, {
      name: METRIC_DIMENSIONS.reason,
      value: reason,
    });
    metrics.count(METRIC_NAMES.haHistogramsDropped, counts.histograms, {
      name: METRIC_DIMENSIONS.reason,
      value: reason,
    });
    metrics.count(METRIC_NAMES.haExemplarsDropped, counts.exemplars, {
      name: METRIC_DIMENSIONS.reason,
      value: reason,
    });
    if (decision.outcome === "drop") {
      // accepted and dropped, as Mimir answers it: the sender counts it sent and moves on
      return { status: 202, headers: responseHeaders(version, undefined), body: null };
    }
    throw new BadRequestError(
      decision.reason,
      `${decision.reason}: the ${dedup.clusterLabel} "${echo(cluster, 100)}" is one more than this tenant's limit of HA clusters; nothing was written, do not resend`,
    );
  }

  async function answer<R>(
    method: string,
    path: string,
    req: R,
    reader: RequestReader<R>,
    frontDeadline?: number,
  ): Promise<WriteAnswer> {
    if (!WRITE_PATHS.has(path)) return NOT_FOUND;
    if (method !== "POST") return METHOD_NOT_ALLOWED;
    // the sooner of the request's budget and the front's; with neither, the sink's own budget
    const own = deadlineMs === undefined ? undefined : Date.now() + deadlineMs;
    const deadline =
      own === undefined ? frontDeadline : frontDeadline === undefined ? own : Math.min(own, frontDeadline);
    let version: ProtocolVersion | undefined;
    try {
      const tenant = await authenticate(req, reader, deadline);
      version = negotiate(reader.header(req, "content-type"), reader.header(req, "content-encoding"));
      const map = shards.current();
      const body = await readBody(req, reader);
      let out: IngestOutput;
      let rewrite: RequestRewrite | undefined;
      if (ha === undefined) {
        out = ingestor.prepare(body, version, tenant, map);
      } else {
        const prepared = await prepareDeduplicated(ha, body, version, tenant, map, deadline);
        if ("status" in prepared) return prepared;
        ({ out, rewrite } = prepared);
      }
      metrics.count(METRIC_NAMES.samplesReceived, out.written.samples + out.written.histograms);
      metrics.count(METRIC_NAMES.histogramsReceived, out.written.histograms);
      metrics.count(METRIC_NAMES.exemplarsReceived, out.written.exemplars);
      for (const [reason, n] of out.rejected.byReason) {
        metrics.count(METRIC_NAMES.seriesRejected, n, { name: METRIC_DIMENSIONS.reason, value: reason });
      }
      await sink.put(out.records, deadline);
      await settlePlacement(placement, body, version, tenant, out, map, Date.now(), deadline, rewrite);
      const headers = responseHeaders(version, out.written);
      if (out.rejected.total > 0) return text(400, rejectionMessage(out), headers);
      return { status: 204, headers, body: null };
    } catch (err) {
      return errorAnswer(err, version);
    }
  }

  return { answer, errorAnswer };
}

/** The ingest path's own errors as the statuses of the table in docs/ingest.md; others unchanged. */
function asHttpError(err: unknown): unknown {
  if (err instanceof UnreadableBodyError) {
    return err.tooLarge
      ? new PayloadTooLargeError(err.code, err.message)
      : new BadRequestError(err.code, err.message);
  }
  if (err instanceof UnsupportedContentError) return new UnsupportedMediaTypeError(err.code, err.message);
  if (err instanceof StreamWriteError)
    return new ServiceUnavailableError(err.code, err.message, err.retryAfterSeconds);
  // no resend can cure it: a 4xx, so the sender drops it rather than stall its queue
  if (err instanceof RecordsRefusedError) return new BadRequestError(err.code, err.message);
  // an operator must act (the stream is missing, access is denied); once fixed a resend succeeds
  if (err instanceof StreamUnusableError) return new InternalServerError(err.code, err.message);
  return err;
}

/** Settles as `work` does, or rejects once `deadline` (epoch ms) passes. */
function beforeDeadline<T>(work: Promise<T>, deadline: number): Promise<T> {
  const wait = deadline - Date.now();
  if (wait <= 0) return Promise.reject(new Error("deadline exceeded"));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("deadline exceeded")), wait);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
