import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@smithy/types";
import type { Env } from "../core/config";

/**
 * The function's own AWS credentials, as the SDK's default chain finds them, without paying
 * for the chain when it is not needed. On Lambda the role's keys are in the environment
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN): they are read there, on
 * every call, so a changed environment is seen at once. Anywhere else (a profile, SSO,
 * container or instance credentials) the SDK's Node provider chain is loaded on first use,
 * with a dynamic import, and kept: it caches and renews what it finds.
 */
export function defaultCredentials(env: Env = process.env): AwsCredentialIdentityProvider {
  let chain: AwsCredentialIdentityProvider | undefined;
  return async () => {
    const fromEnv = environmentCredentials(env);
    if (fromEnv !== undefined) return fromEnv;
    chain ??= await loadProviderChain();
    return chain();
  };
}

/** The keys in the environment, if both the key id and the secret are there. */
export function environmentCredentials(env: Env): AwsCredentialIdentity | undefined {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) return undefined;
  const sessionToken = env.AWS_SESSION_TOKEN;
  return sessionToken ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey };
}

/** The SDK's default chain, imported only when a process first needs it. */
export async function loadProviderChain(): Promise<AwsCredentialIdentityProvider> {
  const { fromNodeProviderChain } = await import("@aws-sdk/credential-providers");
  return fromNodeProviderChain();
}
