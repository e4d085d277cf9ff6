import type { Context } from "hono";
import { createEmfMetrics } from "../../lib/aws/emf-metrics";
import { SecretKeySource } from "../../lib/aws/secret-keys";
import { type KeySource, StaticKeySource } from "../../lib/core/auth";
import { ConfigError, type Env } from "../../lib/core/config";
import { ENV } from "../../lib/core/env-names";
import { createLogger, type Logger } from "../../lib/core/log";
import { METRIC_SERVICES } from "../../lib/core/metric-names";
import type { Metrics } from "../../lib/core/metrics";
import { loadMirrorConfig, type MirrorConfig } from "../../lib/mirror/config";
import { createMirrorApp } from "./app";

/** The mirror's key source: its Secrets Manager secret, else the static key. */
export function mirrorKeySource(config: MirrorConfig, log: Logger, env: Env = process.env): KeySource {
  if (config.keySecretArn !== undefined) {
    return SecretKeySource.fromArn(config.keySecretArn, config.keyCacheSeconds, log, env);
  }
  if (config.staticKeys.length === 0) {
    throw new ConfigError(
      `${ENV.mirrorApiKeySecretArn} or ${ENV.mirrorApiKey}: one must be set (the mirror never uses ${ENV.apiKey})`,
      ENV.mirrorApiKeySecretArn,
    );
  }
  return new StaticKeySource([...config.staticKeys]);
}

/**
 * The caller's address as API Gateway saw it: `requestContext.identity.sourceIp` (REST API, the
 * VPC address through a private endpoint) or `requestContext.http.sourceIp` (HTTP API). Never
 * X-Forwarded-For, which any caller can write.
 */
export function apiGatewaySourceIp(c: Context): string | undefined {
  const ctx = (c.env as { requestContext?: unknown } | undefined)?.requestContext as
    | { identity?: { sourceIp?: unknown }; http?: { sourceIp?: unknown } }
    | undefined;
  const ip = ctx?.identity?.sourceIp ?? ctx?.http?.sourceIp;
  return typeof ip === "string" && ip !== "" ? ip : undefined;
}

/** Builds the mirror app from environment variables (the Lambda's cold start). */
export function mirrorAppFromEnv(env: Env, metrics?: Metrics) {
  const config = loadMirrorConfig(env);
  const log = createLogger(config.logLevel, undefined, { fn: METRIC_SERVICES.mirror });
  const m = metrics ?? createEmfMetrics(config.metricsNamespace, METRIC_SERVICES.mirror);
  const app = createMirrorApp({
    config,
    keys: mirrorKeySource(config, log, env),
    log,
    metrics: m,
    sourceAddress: apiGatewaySourceIp,
  });
  return { app, metrics: m, config };
}
