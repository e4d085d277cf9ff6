import type { AssumeRoleCommandOutput, STSClient } from "@aws-sdk/client-sts";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@smithy/types";
import { echo } from "../core/errors";
import type { AwsSettings } from "../mirror/aws-settings";
import { defaultCredentials } from "./default-credentials";

/**
 * Credentials for signing calls to Amazon Managed Prometheus, in this order:
 * 1. the keys given in the connection details' `aws` block (accepted for compatibility; the
 *    least safe choice: a long-lived secret travels in every request StackState sends);
 * 2. `role_arn` (with `external_id`) assumed through STS, with the given keys if any, else
 *    the function's own credentials; cached until shortly before the temporary credentials
 *    expire, across requests and (on Lambda) across invocations of a warm instance;
 * 3. the function's own credentials (the Lambda role's, in the environment; elsewhere the
 *    SDK's default chain, e.g. a profile).
 * STS is reached at its regional endpoint, or at AWS_ENDPOINT_URL_STS (the SDK reads it).
 * The STS client and the default chain are imported when first needed (dynamic imports), so
 * a mirror that never signs for AWS, or signs with the role's keys, never loads them.
 */

export type CredentialOrigin = "given keys" | "assumed role" | "function credentials";

/** Temporary credentials are renewed this long before they expire. */
export const RENEW_BEFORE_MS = 60_000;

interface Cached {
  readonly credentials: AwsCredentialIdentity;
  readonly renewAt: number;
}

export interface CredentialSourceOptions {
  readonly now?: () => number;
  /** The function's own credentials (default: the environment's keys, else the SDK's Node provider chain). */
  readonly own?: AwsCredentialIdentityProvider;
}

export class AwsCredentialSource {
  private readonly now: () => number;
  private own: AwsCredentialIdentityProvider | undefined;
  private readonly cache = new Map<string, Cached>();
  private readonly pending = new Map<string, Promise<Cached>>();
  private readonly stsClients = new Map<string, STSClient>();
  private sts: Promise<typeof import("@aws-sdk/client-sts")> | undefined;
  /** How many AssumeRole calls were made (for the log and tests). */
  assumeRoleCalls = 0;

  constructor(options: CredentialSourceOptions = {}) {
    this.now = options.now ?? Date.now;
    this.own = options.own;
  }

  origin(settings: AwsSettings): CredentialOrigin {
    if (settings.roleArn) return "assumed role";
    return givenKeys(settings) === undefined ? "function credentials" : "given keys";
  }

  async credentials(settings: AwsSettings): Promise<AwsCredentialIdentity> {
    const given = givenKeys(settings);
    if (!settings.roleArn) return given ?? (await this.ownCredentials());
    const key = [
      settings.roleArn,
      settings.externalId ?? "",
      settings.region,
      settings.roleSessionName,
      given?.accessKeyId ?? "",
    ].join("\n");
    const hit = this.cache.get(key);
    if (hit !== undefined && this.now() < hit.renewAt) return hit.credentials;
    let inFlight = this.pending.get(key);
    if (inFlight === undefined) {
      inFlight = this.assume(settings, given).finally(() => this.pending.delete(key));
      this.pending.set(key, inFlight);
    }
    const fresh = await inFlight;
    this.cache.set(key, fresh);
    return fresh.credentials;
  }

  /** Forgets every cached role session. */
  clear(): void {
    this.cache.clear();
  }

  private async ownCredentials(): Promise<AwsCredentialIdentity> {
    this.own ??= defaultCredentials();
    try {
      return await this.own();
    } catch (err) {
      throw credentialsFailed("the function's own AWS credentials could not be loaded", err);
    }
  }

  private async assume(settings: AwsSettings, given: AwsCredentialIdentity | undefined): Promise<Cached> {
    const master = given ?? (await this.ownCredentials());
    const duration = Math.min(43_200, Math.max(900, Math.round(settings.durationSeconds)));
    const started = this.now();
    this.assumeRoleCalls++;
    let out: AssumeRoleCommandOutput;
    try {
      const { AssumeRoleCommand, STSClient } = await this.stsModule();
      const client = this.stsFor(STSClient, settings.region, given === undefined ? undefined : master);
      out = await client.send(
        new AssumeRoleCommand({
          RoleArn: settings.roleArn,
          RoleSessionName: settings.roleSessionName,
          DurationSeconds: duration,
          ...(settings.externalId ? { ExternalId: settings.externalId } : {}),
        }),
      );
    } catch (err) {
      throw credentialsFailed(`assuming ${echo(settings.roleArn ?? "", 120)} failed`, err);
    }
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken) {
      throw credentialsFailed(
        `STS answered AssumeRole for ${echo(settings.roleArn ?? "", 120)} without credentials`,
      );
    }
    const expires = Math.min(c.Expiration?.getTime() ?? Number.POSITIVE_INFINITY, started + duration * 1000);
    return {
      credentials: {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        sessionToken: c.SessionToken,
        expiration: new Date(expires),
      },
      renewAt: expires - RENEW_BEFORE_MS,
    };
  }

  /** The STS client package, imported on the first AssumeRole (a failed import is tried again next time). */
  private stsModule(): Promise<typeof import("@aws-sdk/client-sts")> {
    this.sts ??= import("@aws-sdk/client-sts").catch((err: unknown) => {
      this.sts = undefined;
      throw err;
    });
    return this.sts;
  }

  private stsFor(
    Client: typeof STSClient,
    region: string,
    master: AwsCredentialIdentity | undefined,
  ): STSClient {
    if (master !== undefined) return new Client({ region, credentials: master, maxAttempts: 2 });
    let client = this.stsClients.get(region);
    if (client === undefined) {
      client = new Client({ region, credentials: () => this.ownCredentials(), maxAttempts: 2 });
      this.stsClients.set(region, client);
    }
    return client;
  }
}

function givenKeys(settings: AwsSettings): AwsCredentialIdentity | undefined {
  if (!settings.accessKeyId || !settings.secretAccessKey) return undefined;
  return {
    accessKeyId: settings.accessKeyId,
    secretAccessKey: settings.secretAccessKey,
    ...(settings.sessionToken ? { sessionToken: settings.sessionToken } : {}),
  };
}

/**
 * No credentials to sign with: the function's own could not be loaded, or STS did not give a
 * role's. The message says what failed and the AWS error's name and message, never a secret;
 * the mirror answers it as a store it cannot reach (502, MetricStoreConnectionError).
 */
export class CredentialsUnavailableError extends Error {
  readonly code = "aws-credentials-failed";
  constructor(message: string) {
    super(message);
    this.name = "CredentialsUnavailableError";
  }
}

function credentialsFailed(what: string, err?: unknown): CredentialsUnavailableError {
  const e = err as { name?: unknown; message?: unknown } | undefined;
  const why =
    e === undefined
      ? ""
      : `: ${typeof e.name === "string" ? e.name : "Error"}${typeof e.message === "string" ? ` (${echo(e.message, 200)})` : ""}`;
  return new CredentialsUnavailableError(`${what}${why}`);
}

/** Shared by every request of this process, so a warm Lambda instance keeps its role sessions. */
export const sharedCredentialSource = new AwsCredentialSource();
