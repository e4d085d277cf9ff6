import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  ResourceNotFoundException,
} from "@aws-sdk/client-kinesis";
import { Hono } from "hono";
import { createEmfMetrics } from "../../lib/aws/emf-metrics";
import { createKinesisClient } from "../../lib/aws/kinesis-client";
import { type ApiKey, checkDistinctKeys, checkKey, keysFromEnv, StaticKeySource } from "../../lib/core/auth";
import type { Env } from "../../lib/core/config";
import { ENV } from "../../lib/core/env-names";
import { createLogger, type Logger, type LogLevel } from "../../lib/core/log";
import { METRIC_SERVICES, type MetricService } from "../../lib/core/metric-names";
import { type Metrics, teeMetrics } from "../../lib/core/metrics";
import {
  EXPOSITION_CONTENT_TYPE,
  MetricsRegistry,
  outcomeOf,
  routeOf,
} from "../../lib/core/metrics-registry";
import { LOCAL_HEALTH_PATH, METRICS_PATH } from "../../lib/core/routes";
import { loadSharedSettings } from "../../lib/core/settings";
import { loadHaSettings } from "../../lib/ha/config";
import { loadMirrorConfig, type MirrorConfig, staticMirrorKeys } from "../../lib/mirror/config";
import { type LocalForwarder, startLocalForwarder } from "../forwarder/local";
import { createMirrorApp } from "../mirror/app";
import { remoteWriteEndpointFromEnv } from "../remote-write/wiring";
import { createReplicaTable, type EmbeddedDynamoDB, startEmbeddedDynamoDB } from "./embedded-dynamodb";
import { type EmbeddedKinesis, startEmbeddedKinesis } from "./embedded-kinesis";
import { localRequestListener, timeRequests } from "./listener";
import { ConcurrencyLimit, limitMirrorQueries } from "./mirror-limit";
import { waitFor } from "./ports";
import {
  LOCAL_MIRROR_TARGETS,
  type LocalServerSettings,
  loadLocalServerSettings,
  MIRROR_BUSY_RETRY_AFTER_SECONDS,
  MIRROR_QUEUE_PER_SLOT,
  MIRROR_QUEUE_WAIT_MS,
} from "./settings";
import { keptKey, newKey } from "./state";

export const DEFAULT_STREAM = "prometheus-remote-write";
/** The HA replica table's name on the local server when HA_TABLE_NAME is unset. */
export const DEFAULT_HA_TABLE = "prometheus-gateway-ha";
export const DEFAULT_PORT = 9900;
/** How long the local server keeps an idle connection open (clients' idle timeouts are shorter). */
export const KEEP_ALIVE_TIMEOUT_MS = 120_000;

export interface LocalGatewayOptions {
  /** 0 picks a free port. Default: PORT or 9900. */
  port?: number;
  /** The ingest key (else API_KEYS / API_KEY, else generated). */
  apiKey?: string;
  /** The mirror's key (else MIRROR_API_KEY, else generated); never the ingest key. */
  mirrorApiKey?: string;
  /**
   * Where generated keys are kept across starts (`npm start`: `.local/`). Without it a
   * generated key lasts as long as this gateway.
   */
  stateDir?: string;
  /** The server's limits, over LOCAL_* variables and the defaults (tests use small ones). */
  server?: Partial<LocalServerSettings>;
  /** Variables layered over process.env. */
  env?: Record<string, string>;
  /** Shards of the stream created in the embedded Kinesis (default 4). */
  shards?: number;
  /**
   * Each function's EMF metrics on stdout at this interval, when LOG_LEVEL is debug (default
   * off). GET /metrics has them at any level.
   */
  metricsIntervalMs?: number;
}

export interface LocalGateway {
  readonly url: string;
  readonly port: number;
  /** The ingest key (the first, with API_KEYS). */
  readonly apiKey: string;
  readonly mirrorApiKey: string;
  readonly settings: LocalServerSettings;
  readonly streamName: string;
  readonly kinesisEndpoint: string | undefined;
  /** True when this process started its own Kinesis. */
  readonly embeddedKinesis: boolean;
  /** Notes for the start banner (e.g. allowlist warnings). */
  readonly notes: string[];
  /** The forwarder over the stream, when FORWARD_URL is set. */
  readonly forwarder?: LocalForwarder;
  /** HA deduplication, when HA_DEDUP=true: its labels and where its table is. */
  readonly ha?: {
    readonly clusterLabel: string;
    readonly replicaLabel: string;
    readonly tableName: string;
    /** The DynamoDB API's URL; undefined: AWS. */
    readonly dynamodbEndpoint: string | undefined;
    /** True when this process started its own DynamoDB API (dynalite). */
    readonly embedded: boolean;
  };
  /** What GET /metrics answers. */
  readonly metrics: MetricsRegistry;
  stop(): Promise<void>;
}

/** AWS credentials or a profile in the environment: then the real service is meant. */
function hasAwsConfig(env: Env): boolean {
  return Boolean(
    env.AWS_ACCESS_KEY_ID ||
      env.AWS_PROFILE ||
      env.AWS_CONTAINER_CREDENTIALS_FULL_URI ||
      env.AWS_WEB_IDENTITY_TOKEN_FILE,
  );
}

/**
 * The local gateway: the same apps as the Lambda functions, on one Node HTTP server on
 * 127.0.0.1. The remote-write paths are answered by the endpoint directly from Node's
 * request (./listener.ts); everything else by the Hono apps. Without KINESIS_ENDPOINT and
 * without AWS configuration it starts an embedded Kinesis and creates the stream.
 */
export async function startLocalGateway(opts: LocalGatewayOptions = {}): Promise<LocalGateway> {
  const env: Env = { ...process.env, ...opts.env };
  const notes: string[] = [];
  const { apiKey, mirrorApiKey } = localKeys(env, opts, notes);
  const streamName = env[ENV.streamName] ?? DEFAULT_STREAM;
  env[ENV.streamName] = streamName;
  env[ENV.awsRegion] ??= "us-east-1";
  const settings = loadLocalServerSettings(env, opts.server);
  const mirrorConfig = localMirrorConfig(env, notes);
  const log = createLogger(mirrorConfig.logLevel, undefined, { service: "local-server" });
  // the mirror's line per request (info) only when asked for with LOG_LEVEL=debug
  const requestLogLevel = quietRequestLevel(mirrorConfig.logLevel);

  let embedded: EmbeddedKinesis | undefined;
  if (!env[ENV.kinesisEndpoint] && !hasAwsConfig(env)) {
    embedded = await startEmbeddedKinesis({ region: env[ENV.awsRegion] });
    await embedded.createStream(streamName, opts.shards ?? 4);
    env[ENV.kinesisEndpoint] = embedded.endpoint;
  } else if (env[ENV.kinesisEndpoint]) {
    await ensureLocalStream(env[ENV.kinesisEndpoint]!, env[ENV.awsRegion]!, streamName, opts.shards ?? 4);
  }

  // Every function counts into /metrics; at LOG_LEVEL=debug, also as EMF under its own Service,
  // written on the timer (a function's own flushes, e.g. the mirror's per request, write nothing).
  const registry = new MetricsRegistry();
  const emf: Metrics[] = [];
  const emfOn = Boolean(opts.metricsIntervalMs) && mirrorConfig.logLevel === "debug";
  const metricsOf = (service: MetricService): Metrics => {
    if (!emfOn) return registry.metrics();
    const own = createEmfMetrics(loadSharedSettings(env).metricsNamespace, service);
    emf.push(own);
    return { count: teeMetrics(registry.metrics(), own).count, flush() {} };
  };
  const remoteWriteMetrics = metricsOf(METRIC_SERVICES.remoteWrite);
  const mirrorMetrics = metricsOf(METRIC_SERVICES.mirror);
  const forwarderMetrics = metricsOf(METRIC_SERVICES.forwarder);
  const flushEmf = () => {
    for (const m of emf) m.flush();
  };
  let timer: NodeJS.Timeout | undefined;
  if (emfOn) {
    timer = setInterval(flushEmf, opts.metricsIntervalMs);
    timer.unref();
  }
  let remoteWrite: ReturnType<typeof remoteWriteEndpointFromEnv>;
  let dynamo: EmbeddedDynamoDB | undefined;
  const stopStores = async () => {
    await embedded?.stop();
    await dynamo?.stop();
  };
  try {
    // HA deduplication runs the Lambda's own DynamoDB store, against dynalite unless told otherwise
    dynamo = await localReplicaTable(env);
    remoteWrite = remoteWriteEndpointFromEnv(env, remoteWriteMetrics);
  } catch (err) {
    if (timer) clearInterval(timer);
    await stopStores();
    throw err;
  }
  const mirror = createMirrorApp({
    config: mirrorConfig,
    keys: new StaticKeySource([{ key: mirrorApiKey }]),
    log: createLogger(requestLogLevel, undefined, { service: METRIC_SERVICES.mirror }),
    metrics: mirrorMetrics,
  });
  const root = new Hono();
  root.get(LOCAL_HEALTH_PATH, (c) => c.text("ok\n"));
  // no key: counts only, and the server listens on loopback unless HOST says otherwise
  root.get(METRICS_PATH, (c) =>
    c.body(registry.expose(), 200, { "content-type": EXPOSITION_CONTENT_TYPE, "cache-control": "no-store" }),
  );
  // Mirror queries share this thread with ingest: only a few at once (see settings.ts).
  const mirrorSlots = new ConcurrencyLimit(
    settings.mirrorConcurrency,
    settings.mirrorConcurrency * MIRROR_QUEUE_PER_SLOT,
    MIRROR_QUEUE_WAIT_MS,
  );
  const busyLog = throttled(log, "mirror busy: a query was answered 503", 10_000);
  root.use("/api/*", limitMirrorQueries(mirrorSlots, MIRROR_BUSY_RETRY_AFTER_SECONDS, busyLog));
  root.route("/", mirror);

  const hostname = env[ENV.host] ?? "127.0.0.1";
  const slowLog = throttled(log, "remote-write body arrived too slowly: connection closed", 10_000);
  const server = createServer(
    // how often Node looks for requests past headersTimeout or requestTimeout
    { connectionsCheckingInterval: Math.max(10, Math.min(1_000, Math.floor(settings.headersTimeoutMs / 4))) },
    timeRequests(
      localRequestListener(remoteWrite.endpoint, root.fetch, {
        minBytesPerSecond: settings.minBodyBytesPerSecond,
        graceMs: settings.bodyGraceMs,
        onCut: (info) => slowLog(info),
      }),
      (path, status, seconds) =>
        registry.observeRequest(routeOf(path), status === undefined ? "closed" : outcomeOf(status), seconds),
    ),
  );
  // Keep idle connections longer than any client keeps them (Go's transport: 90 s), so the
  // server never closes a socket a client is about to reuse. The headers and request timeouts
  // count from a request's first byte, so they do not cut idle keep-alive connections.
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = settings.headersTimeoutMs;
  server.requestTimeout = settings.requestTimeoutMs;
  server.maxConnections = settings.maxConnections;
  const dropLog = throttled(log, "connection refused: LOCAL_MAX_CONNECTIONS reached", 10_000);
  server.on("drop", () => dropLog({ maxConnections: settings.maxConnections }));
  server.listen(opts.port ?? Number(env[ENV.port] ?? DEFAULT_PORT), hostname);
  try {
    await new Promise<void>((resolve, reject) => {
      if (server.listening) resolve();
      server.once("listening", resolve);
      server.once("error", reject);
    });
  } catch (err) {
    remoteWrite.close();
    await stopStores();
    if ((err as NodeJS.ErrnoException).code === "EADDRINUSE") {
      throw new Error(
        `port ${opts.port ?? env[ENV.port] ?? DEFAULT_PORT} on ${hostname} is in use: set PORT to another port`,
      );
    }
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  const url = `http://${hostname}:${port}`;
  await waitFor("the local server", async () => (await fetch(`${url}${LOCAL_HEALTH_PATH}`)).ok, 5_000);

  // With FORWARD_URL set, the stream is also forwarded to that remote_write endpoint.
  let forwarder: LocalForwarder | undefined;
  if (env.FORWARD_URL) {
    try {
      forwarder = await startLocalForwarder(
        env,
        {
          streamName,
          endpoint: env[ENV.kinesisEndpoint],
          region: env[ENV.awsRegion]!,
        },
        { metrics: forwarderMetrics },
      );
    } catch (err) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      remoteWrite.close();
      await stopStores();
      throw err;
    }
  }

  return {
    url,
    port,
    apiKey,
    mirrorApiKey,
    settings,
    streamName,
    kinesisEndpoint: env[ENV.kinesisEndpoint],
    embeddedKinesis: embedded !== undefined,
    notes,
    ...(forwarder ? { forwarder } : {}),
    ...(remoteWrite.ha === undefined
      ? {}
      : {
          ha: {
            clusterLabel: remoteWrite.ha.clusterLabel,
            replicaLabel: remoteWrite.ha.replicaLabel,
            tableName: remoteWrite.ha.tableName ?? DEFAULT_HA_TABLE,
            dynamodbEndpoint: remoteWrite.ha.endpoint,
            embedded: dynamo !== undefined,
          },
        }),
    metrics: registry,
    async stop() {
      await forwarder?.stop();
      if (timer) clearInterval(timer);
      flushEmf();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      remoteWrite.close();
      await stopStores();
    },
  };
}

/**
 * With HA_DEDUP=true on the local server: the replica table. Without DYNAMODB_ENDPOINT and
 * without AWS configuration, a DynamoDB API in this process (dynalite) holds it, and
 * DYNAMODB_ENDPOINT is set to it; with DYNAMODB_ENDPOINT, the table is created there if
 * missing; in both, HA_TABLE_NAME defaults to DEFAULT_HA_TABLE. With AWS configuration alone,
 * the table HA_TABLE_NAME in AWS is used as it is (the stack creates it).
 */
async function localReplicaTable(env: Env): Promise<EmbeddedDynamoDB | undefined> {
  if (loadHaSettings(env) === undefined) return undefined;
  const local = Boolean(env[ENV.dynamodbEndpoint]);
  if (!local && hasAwsConfig(env)) return undefined;
  env[ENV.haTableName] ||= DEFAULT_HA_TABLE;
  const table = env[ENV.haTableName]!;
  const region = env[ENV.awsRegion]!;
  if (local) {
    await createReplicaTable(env[ENV.dynamodbEndpoint]!, region, table);
    return undefined;
  }
  const dynamo = await startEmbeddedDynamoDB({ region });
  try {
    await dynamo.createReplicaTable(table);
  } catch (err) {
    await dynamo.stop();
    throw err;
  }
  env[ENV.dynamodbEndpoint] = dynamo.endpoint;
  return dynamo;
}

/**
 * The two keys of the local server, never one: the ingest key (the option, API_KEYS or
 * API_KEY, else the generated one) and the mirror's (the option, MIRROR_API_KEY, else its own
 * generated one). Generated keys are kept in `stateDir` when given. Keys that are not
 * header-safe, or a mirror key that also unlocks ingest, are ConfigErrors naming the variable.
 * Both end up in `env` as the apps read them.
 */
function localKeys(
  env: Env,
  opts: LocalGatewayOptions,
  notes: string[],
): { apiKey: string; mirrorApiKey: string } {
  const generated = (name: "ingest-key" | "mirror-key", variable: string): string => {
    if (opts.stateDir === undefined) {
      notes.push(`${variable} is not set: generated a key for this run`);
      return newKey();
    }
    const { key, file } = keptKey(opts.stateDir, name);
    notes.push(`${variable} is not set: using the generated key kept in ${file}`);
    return key;
  };

  let ingest: ApiKey[];
  if (opts.apiKey !== undefined) {
    ingest = [{ key: checkKey(ENV.apiKey, opts.apiKey) }];
    delete env[ENV.apiKeys];
  } else {
    ingest = keysFromEnv(env) ?? [{ key: generated("ingest-key", ENV.apiKey) }];
  }
  const apiKey = ingest[0]!.key;
  if (!env[ENV.apiKeys]?.trim()) env[ENV.apiKey] = apiKey;

  const mirrorApiKey =
    opts.mirrorApiKey !== undefined
      ? checkKey(ENV.mirrorApiKey, opts.mirrorApiKey)
      : (staticMirrorKeys(env)[0]?.key ?? generated("mirror-key", ENV.mirrorApiKey));
  checkDistinctKeys(
    { variable: env[ENV.apiKeys]?.trim() ? ENV.apiKeys : ENV.apiKey, keys: ingest },
    { variable: ENV.mirrorApiKey, keys: [{ key: mirrorApiKey }] },
  );
  env[ENV.mirrorApiKey] = mirrorApiKey;
  return { apiKey, mirrorApiKey };
}

/**
 * The mirror's configuration on the local server: without MIRROR_ALLOWED_TARGETS it may call
 * only a Prometheus on this machine (LOCAL_MIRROR_TARGETS); an entry allowing any host (`*`)
 * is taken as meant, and said at start.
 */
function localMirrorConfig(env: Env, notes: string[]): MirrorConfig {
  if (env[ENV.mirrorAllowedTargets] === undefined) {
    env[ENV.mirrorAllowedTargets] = LOCAL_MIRROR_TARGETS;
    notes.push(
      `MIRROR_ALLOWED_TARGETS is not set: the mirror queries only ${LOCAL_MIRROR_TARGETS.split(",").join(", ")}`,
    );
  }
  const config = loadMirrorConfig(env);
  const anyHost = config.allowedTargets.some((p) => p.kind === "host" && p.host.source === "^.*$");
  if (anyHost) {
    notes.push(
      `MIRROR_ALLOWED_TARGETS allows any host (${env[ENV.mirrorAllowedTargets]}): the mirror will query whatever a request names, for anyone who can reach this server`,
    );
  }
  return config;
}

/**
 * The level of the local mirror's logger: its line per request is info, which a terminal
 * wants only when asked for (debug); warnings and errors are kept.
 */
function quietRequestLevel(level: LogLevel): LogLevel {
  return level === "debug" || level === "error" ? level : "warn";
}

/** A warning logged at most once per `everyMs`, with how many times it happened meanwhile. */
function throttled(log: Logger, message: string, everyMs: number) {
  let last = Number.NEGATIVE_INFINITY;
  let count = 0;
  return (fields: Record<string, unknown> = {}) => {
    count++;
    const now = Date.now();
    if (now - last < everyMs) return;
    log.warn(message, { ...fields, times: count });
    last = now;
    count = 0;
  };
}

/** With a local Kinesis endpoint given, creates the stream if it is not there yet. */
async function ensureLocalStream(
  endpoint: string,
  region: string,
  name: string,
  shards: number,
): Promise<void> {
  const client = createKinesisClient({ region, endpoint });
  try {
    await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
  } catch (err) {
    if (!(err instanceof ResourceNotFoundException)) throw err;
    await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
    await waitFor(
      `stream ${name}`,
      async () => {
        const out = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
        return out.StreamDescriptionSummary?.StreamStatus === "ACTIVE";
      },
      30_000,
    );
  } finally {
    client.destroy();
  }
}
