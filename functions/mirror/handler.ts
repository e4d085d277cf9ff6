import { handle } from "hono/aws-lambda";
import { createEmfMetrics, flushingHandler } from "../../lib/aws/emf-metrics";
import { SecretKeySource } from "../../lib/aws/secret-keys";
import { type KeySource, StaticKeySource } from "../../lib/core/auth";
import { intVar } from "../../lib/core/config";
import { ENV } from "../../lib/core/env-names";
import { createLogger, parseLogLevel } from "../../lib/core/log";
import { DEFAULT_METRICS_NAMESPACE, METRIC_SERVICES } from "../../lib/core/metric-names";
import { loadMirrorConfig, staticMirrorKeys } from "../../lib/mirror/config";
import { createMirrorApp } from "./app";

// Cold start: configuration and keys are read once; a bad variable fails the init loudly.
const env = process.env;
const log = createLogger(parseLogLevel(env[ENV.logLevel]), undefined, { fn: "mirror" });
const config = loadMirrorConfig(env);

function keySource(): KeySource {
  const arn = env[ENV.mirrorApiKeySecretArn]?.trim();
  if (arn) {
    return SecretKeySource.fromArn(arn, intVar(env, ENV.keyCacheSeconds, 300, 0, 999_999), log);
  }
  const keys = staticMirrorKeys(env);
  if (keys.length === 0) {
    throw new Error(`${ENV.mirrorApiKeySecretArn}, ${ENV.mirrorApiKey} or ${ENV.apiKey}: one must be set`);
  }
  return new StaticKeySource(keys);
}

const metrics = createEmfMetrics(
  env[ENV.metricsNamespace] || DEFAULT_METRICS_NAMESPACE,
  METRIC_SERVICES.mirror,
);
const app = createMirrorApp({ config, keys: keySource(), log, metrics });
/** Lambda entry: API Gateway → the Hono app; the invocation's metrics are flushed as EMF. */
export const handler = flushingHandler(handle(app), metrics);
