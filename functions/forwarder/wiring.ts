import { SQSClient } from "@aws-sdk/client-sqs";
import { createEmfMetrics } from "../../lib/aws/emf-metrics";
import { KinesisRecordsClient } from "../../lib/aws/kinesis-records";
import { SecretCredentialSource } from "../../lib/aws/secret-credential";
import { SecretsManagerReader } from "../../lib/aws/secrets-manager";
import { sigv4Authorizer } from "../../lib/aws/sigv4";
import { SqsDeadLetters } from "../../lib/aws/sqs-dead-letters";
import type { Env } from "../../lib/core/config";
import { ENV } from "../../lib/core/env-names";
import { createLogger, type Logger } from "../../lib/core/log";
import { METRIC_SERVICES } from "../../lib/core/metric-names";
import type { Metrics } from "../../lib/core/metrics";
import { credentialAuthorizer, inlineCredential, staticCredential } from "../../lib/forwarder/auth";
import { type ForwarderConfig, loadForwarderConfig } from "../../lib/forwarder/config";
import { FileDeadLetters } from "../../lib/forwarder/dead-letter";
import { type Authorizer, HttpDestination } from "../../lib/forwarder/destination";
import type { DeadLetterSink, ForwardOptions } from "../../lib/forwarder/forward";
import { DestinationState } from "../../lib/forwarder/negotiate";
import { ShardSlotsCache } from "../../lib/forwarder/strays";
import type { ShardLister } from "../../lib/stream/shard-map";

/** The authorizer a configuration asks for: inline credentials, a secret, or SigV4. */
export function authorizerFor(config: ForwarderConfig, log: Logger): Authorizer {
  const auth = config.auth;
  if (auth.kind === "sigv4") return sigv4Authorizer({ region: auth.region! });
  if (auth.kind === "none") return credentialAuthorizer(auth, undefined);
  const source =
    auth.secretArn !== undefined
      ? new SecretCredentialSource(
          SecretsManagerReader.forSecret(auth.secretArn, { log }),
          auth.secretArn,
          config.keyCacheSeconds,
          log,
        )
      : staticCredential(inlineCredential(auth)!);
  return credentialAuthorizer(auth, source);
}

/** Dead letters: the SQS queue when configured, else a JSON-lines file, else the log only. */
export function deadLettersFor(config: ForwarderConfig, log: Logger, streamArn?: string): DeadLetterSink {
  if (config.deadLetterQueueUrl !== undefined) {
    return new SqsDeadLetters(new SQSClient({}), config.deadLetterQueueUrl, streamArn);
  }
  if (config.deadLetterFile !== undefined) return new FileDeadLetters(config.deadLetterFile, log);
  return { send: async () => {} };
}

export interface ForwarderParts {
  readonly config: ForwarderConfig;
  readonly destination: HttpDestination;
  /** What is remembered about the destination from batch to batch (for the life of the container). */
  readonly state: DestinationState;
  readonly deadLetters: DeadLetterSink;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** The slots of the stream's shards, for dropping the strays of a resharding. */
  readonly shards: ShardSlotsCache;
  /** The options every batch is forwarded with, but for the time it has left. */
  readonly forward: Omit<ForwardOptions, "remainingMs">;
}

/**
 * ListShards for the stream the records come from: the lean Kinesis client (no SDK client on
 * a cold start) in the function's region, or KINESIS_ENDPOINT's local Kinesis.
 */
export function shardListerFor(env: Env, log: Logger): ShardLister {
  return KinesisRecordsClient.create({
    region: env[ENV.awsRegion] ?? "us-east-1",
    endpoint: env[ENV.kinesisEndpoint],
    env,
    log,
  });
}

/**
 * Everything a forwarder needs, from environment variables (cold start, or the local tool);
 * `lister` lists the stream's shards (default: shardListerFor the environment).
 */
export function forwarderFromEnv(
  env: Env,
  metrics?: Metrics,
  log?: Logger,
  lister?: ShardLister,
): ForwarderParts {
  const config = loadForwarderConfig(env);
  const l = log ?? createLogger(config.logLevel, undefined, { service: METRIC_SERVICES.forwarder });
  const shards = new ShardSlotsCache(lister ?? shardListerFor(env, l), l);
  const destination = new HttpDestination(config.url, authorizerFor(config, l));
  const deadLetters = deadLettersFor(config, l);
  const m = metrics ?? createEmfMetrics(config.metricsNamespace, METRIC_SERVICES.forwarder);
  const state = new DestinationState(config.protocol, config.protocolMemorySeconds * 1000);
  return {
    config,
    destination,
    state,
    deadLetters,
    log: l,
    metrics: m,
    shards,
    forward: {
      destination,
      deadLetters,
      maxRequestBytes: config.maxRequestBytes,
      timeoutMs: config.timeoutMs,
      state,
      retryAuthFailures: config.retryAuthFailures,
      shards,
      log: l,
      metrics: m,
    },
  };
}
