import { handle } from "hono/aws-lambda";
import { type KeySource, StaticKeySource } from "../../lib/auth";
import { intVar } from "../../lib/config";
import { ENV } from "../../lib/env-names";
import { createLogger, parseLogLevel } from "../../lib/log";
import { createEmfMetrics, flushingHandler } from "../../lib/metrics";
import { loadMirrorConfig, staticMirrorKeys } from "../../lib/mirror/config";
import { SecretKeySource } from "../../lib/secret-keys";
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

const metrics = createEmfMetrics(env[ENV.metricsNamespace] || "PrometheusGateway", "mirror");
const app = createMirrorApp({ config, keys: keySource(), log, metrics });
/** Lambda entry: API Gateway → the Hono app; the invocation's metrics are flushed as EMF. */
export const handler = flushingHandler(handle(app), metrics);
