import { boolVar, ConfigError, type Env, enumVar, intVar, stringVar } from "../core/config";
import { ENV, FORWARD_ENV } from "../core/env-names";
import { loadSharedSettings, type SharedSettings } from "../core/settings";
import { PROTOCOLS, type Protocol } from "./negotiate";

/** How the forwarder authenticates to the destination. */
export const AUTH_KINDS = ["none", "basic", "bearer", "header", "sigv4"] as const;
export type AuthKind = (typeof AUTH_KINDS)[number];

/**
 * Credentials of the destination. Given inline (local runs) or read from a Secrets
 * Manager secret (`secretArn`, deployments); never both for the same value.
 */
export interface AuthConfig {
  readonly kind: AuthKind;
  readonly username?: string;
  readonly password?: string;
  readonly token?: string;
  readonly headerName?: string;
  readonly headerValue?: string;
  /** SigV4: the region of the workspace (service `aps`). */
  readonly region?: string;
  /** The secret holding the password, token or header value. */
  readonly secretArn?: string;
}

export interface ForwarderConfig extends SharedSettings {
  readonly url: string;
  readonly auth: AuthConfig;
  /** Largest uncompressed body of a request merging several v1 records. */
  readonly maxRequestBytes: number;
  /** Timeout of one request to the destination. */
  readonly timeoutMs: number;
  /** The Remote-Write version of v2 records: negotiated (`auto`) or forced. */
  readonly protocol: Protocol;
  /** How long a fallback to 1.0 is remembered (auto). */
  readonly protocolMemorySeconds: number;
  /** Retry 401 and 403 like 5xx instead of dead-lettering the records. */
  readonly retryAuthFailures: boolean;
  readonly deadLetterQueueUrl?: string;
  readonly deadLetterFile?: string;
}

export const FORWARDER_DEFAULTS = {
  maxRequestBytes: 4 * 1024 * 1024,
  timeoutMs: 10_000,
  protocol: "auto",
  protocolMemorySeconds: 600,
  retryAuthFailures: false,
} as const;

/** Reads the forwarder's settings; every error names its variable (values of secrets are never echoed). */
export function loadForwarderConfig(env: Env): ForwarderConfig {
  const url = stringVar(env, FORWARD_ENV.url);
  if (url === undefined) throw new ConfigError(`${FORWARD_ENV.url}: not set`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`${FORWARD_ENV.url}: not a URL`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new ConfigError(`${FORWARD_ENV.url}: expected http or https, got ${parsed.protocol}`);
  }
  if (parsed.username !== "" || parsed.password !== "") {
    throw new ConfigError(
      `${FORWARD_ENV.url}: credentials in the URL are not accepted; use ${FORWARD_ENV.auth}`,
    );
  }
  const kind = enumVar(env, FORWARD_ENV.auth, "none", AUTH_KINDS);
  const secretArn = stringVar(env, FORWARD_ENV.secretArn);
  const auth = authConfig(env, kind, secretArn);
  return Object.freeze({
    url,
    auth: Object.freeze(auth),
    maxRequestBytes: intVar(
      env,
      FORWARD_ENV.maxRequestBytes,
      FORWARDER_DEFAULTS.maxRequestBytes,
      1024,
      64 * 1024 * 1024,
    ),
    timeoutMs: intVar(env, FORWARD_ENV.timeoutMs, FORWARDER_DEFAULTS.timeoutMs, 100, 900_000),
    protocol: enumVar(env, FORWARD_ENV.protocol, FORWARDER_DEFAULTS.protocol, PROTOCOLS),
    protocolMemorySeconds: intVar(
      env,
      FORWARD_ENV.protocolMemorySeconds,
      FORWARDER_DEFAULTS.protocolMemorySeconds,
      0,
      86_400,
    ),
    retryAuthFailures: boolVar(env, FORWARD_ENV.retryAuthFailures, FORWARDER_DEFAULTS.retryAuthFailures),
    deadLetterQueueUrl: stringVar(env, FORWARD_ENV.deadLetterQueueUrl),
    deadLetterFile: stringVar(env, FORWARD_ENV.deadLetterFile),
    ...loadSharedSettings(env),
  });
}

function authConfig(env: Env, kind: AuthKind, secretArn: string | undefined): AuthConfig {
  const need = (name: string, what: string): string => {
    const value = stringVar(env, name);
    if (value === undefined && secretArn === undefined) {
      throw new ConfigError(
        `${name}: required with ${FORWARD_ENV.auth}=${kind} (${what}), or set ${FORWARD_ENV.secretArn}`,
      );
    }
    return value ?? "";
  };
  switch (kind) {
    case "none":
      return { kind };
    case "basic": {
      const username = stringVar(env, FORWARD_ENV.username);
      if (username === undefined)
        throw new ConfigError(`${FORWARD_ENV.username}: required with ${FORWARD_ENV.auth}=basic`);
      return { kind, username, password: need(FORWARD_ENV.password, "the password"), secretArn };
    }
    case "bearer":
      return { kind, token: need(FORWARD_ENV.token, "the token"), secretArn };
    case "header": {
      const headerName = stringVar(env, FORWARD_ENV.headerName);
      if (headerName === undefined || !/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(headerName)) {
        throw new ConfigError(
          `${FORWARD_ENV.headerName}: required with ${FORWARD_ENV.auth}=header, a header name such as sts-api-key`,
        );
      }
      return { kind, headerName, headerValue: need(FORWARD_ENV.headerValue, "the header value"), secretArn };
    }
    case "sigv4": {
      const region = stringVar(env, FORWARD_ENV.region) ?? stringVar(env, ENV.awsRegion);
      if (region === undefined)
        throw new ConfigError(`${FORWARD_ENV.region}: required with ${FORWARD_ENV.auth}=sigv4`);
      if (secretArn !== undefined)
        throw new ConfigError(
          `${FORWARD_ENV.secretArn}: not used with ${FORWARD_ENV.auth}=sigv4 (the function's own role signs)`,
        );
      return { kind, region };
    }
  }
}
