import type { Env } from "../core/config";
import type { Logger } from "../core/log";
import { AwsJsonClient, SECRETS_MANAGER_SERVICE, serviceEndpoint } from "./aws-json";
import { defaultCredentials } from "./default-credentials";

/**
 * Reads one version of a secret's string. Rejects with an error named by the AWS error
 * code: a version stage the secret does not have is `ResourceNotFoundException`.
 */
export interface SecretStringReader {
  secretString(secretId: string, versionStage?: string): Promise<string | undefined>;
}

export interface SecretsManagerReaderOptions {
  /** Default: the region in the secret's ARN, else AWS_REGION / AWS_DEFAULT_REGION. */
  readonly region?: string;
  /**
   * Where AWS_ENDPOINT_URL_SECRETS_MANAGER, the endpoint variants, the region and the
   * credentials are read (default process.env).
   */
  readonly env?: Env;
  /** Where a refusal of the credentials is logged. */
  readonly log?: Logger;
}

/** GetSecretValue on the lean AWS JSON client (three attempts, or AWS_MAX_ATTEMPTS, as the SDK). */
export class SecretsManagerReader implements SecretStringReader {
  constructor(private readonly client: AwsJsonClient) {}

  /** A reader for the secret `secretId` (an ARN names its region). */
  static forSecret(secretId: string, opts: SecretsManagerReaderOptions = {}): SecretsManagerReader {
    const env = opts.env ?? process.env;
    const region = opts.region ?? arnRegion(secretId) ?? (env.AWS_REGION || env.AWS_DEFAULT_REGION);
    if (!region) throw new Error("no AWS region for Secrets Manager: set AWS_REGION");
    const attempts = Number(env.AWS_MAX_ATTEMPTS);
    return new SecretsManagerReader(
      new AwsJsonClient({
        service: SECRETS_MANAGER_SERVICE,
        region,
        endpoint: serviceEndpoint(SECRETS_MANAGER_SERVICE, region, env),
        credentials: defaultCredentials(env),
        timeoutMs: 5_000,
        maxAttempts: Number.isInteger(attempts) && attempts >= 1 ? attempts : 3,
        maxSockets: 4,
        log: opts.log,
      }),
    );
  }

  async secretString(secretId: string, versionStage?: string): Promise<string | undefined> {
    const out = (await this.client.call(
      "GetSecretValue",
      JSON.stringify(
        versionStage === undefined
          ? { SecretId: secretId }
          : { SecretId: secretId, VersionStage: versionStage },
      ),
    )) as { SecretString?: unknown };
    return typeof out.SecretString === "string" ? out.SecretString : undefined;
  }

  destroy(): void {
    this.client.destroy();
  }
}

/** The region of a Secrets Manager ARN (`arn:<partition>:secretsmanager:<region>:...`). */
export function arnRegion(secretId: string): string | undefined {
  const parts = secretId.split(":");
  if (parts.length < 7 || parts[0] !== "arn" || parts[2] !== "secretsmanager") return undefined;
  return parts[3] || undefined;
}
