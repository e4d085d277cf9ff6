import {
  bool,
  ConfigError,
  type Env,
  int,
  oneOf,
  readEnv,
  type Setting,
  type Settings,
  text,
  type ValuesOf,
} from "../core/config";
import { ENV, FORWARD_ENV } from "../core/env-names";
import { HEADER_NAME, SECRET_ARN } from "../core/patterns";
import { SHARED_ENV, type SharedSettings, sharedFrom } from "../core/settings";
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

/**
 * The destination's URL: `schemes` only, never with credentials in it (the URL may be
 * logged; credentials go in a secret). The URL is never echoed.
 */
export function destinationUrl(o: {
  schemes: readonly ("http:" | "https:")[];
  wrongScheme: (protocol: string) => string;
  noCredentials: string;
  doc: string;
}): Setting<string, undefined> {
  const problem = (value: string): string | undefined => {
    if (!URL.canParse(value)) return "not a URL";
    const url = new URL(value);
    if (!(o.schemes as readonly string[]).includes(url.protocol)) return o.wrongScheme(url.protocol);
    if (url.username !== "" || url.password !== "") return o.noCredentials;
    return undefined;
  };
  return text({ default: undefined, doc: o.doc, problem });
}

/** Settings the stack's `forward*` context keys share with the function's environment. */
export const AUTH = oneOf(AUTH_KINDS, {
  default: "none",
  doc: "`none`, `basic`, `bearer`, `header` or `sigv4`",
});
export const MAX_REQUEST_BYTES = int({
  min: 1024,
  max: 64 * 1024 * 1024,
  default: FORWARDER_DEFAULTS.maxRequestBytes,
  doc: "largest uncompressed request when merging v1 records, 1024 to 67108864 bytes",
});
export const PROTOCOL = oneOf(PROTOCOLS, {
  default: FORWARDER_DEFAULTS.protocol,
  doc: "the version v2 records go in: `auto`, `v1` or `v2`",
});
export const PROTOCOL_MEMORY_SECONDS = int({
  min: 0,
  max: 86_400,
  default: FORWARDER_DEFAULTS.protocolMemorySeconds,
  doc: "with `auto`, how long a fallback to 1.0 is remembered, 0 to 86400 s",
});
export const RETRY_AUTH_FAILURES = bool({
  default: FORWARDER_DEFAULTS.retryAuthFailures,
  doc: "`true`: retry 401 and 403 like 5xx instead of dead-lettering",
});
export const SECRET = text({
  default: undefined,
  doc: "the Secrets Manager secret holding the password, token or header value",
  pattern: SECRET_ARN,
  expected: "a Secrets Manager secret ARN",
});
export const AUTH_HEADER_NAME = text({
  default: undefined,
  doc: "the header carrying the secret with header auth",
  pattern: HEADER_NAME,
  expected: "a header name such as sts-api-key",
});

/** The forwarder function's environment (docs/forwarder.md). Values of secrets are never echoed. */
export const FORWARDER_ENV = {
  ...SHARED_ENV,
  [FORWARD_ENV.url]: destinationUrl({
    schemes: ["http:", "https:"],
    wrongScheme: (protocol) => `expected http or https, got ${protocol}`,
    noCredentials: `credentials in the URL are not accepted; use ${FORWARD_ENV.auth}`,
    doc: "the destination's remote_write URL",
  }),
  [FORWARD_ENV.auth]: AUTH,
  [FORWARD_ENV.username]: text({ default: undefined, doc: "basic auth user name" }),
  [FORWARD_ENV.password]: text({ default: undefined, doc: "basic auth password" }),
  [FORWARD_ENV.token]: text({ default: undefined, doc: "bearer token" }),
  [FORWARD_ENV.headerName]: AUTH_HEADER_NAME,
  [FORWARD_ENV.headerValue]: text({ default: undefined, doc: "the header's value" }),
  [FORWARD_ENV.region]: text({ default: undefined, doc: "SigV4 region (default AWS_REGION)" }),
  [ENV.awsRegion]: text({ default: undefined, doc: "region" }),
  [FORWARD_ENV.secretArn]: SECRET,
  [FORWARD_ENV.maxRequestBytes]: MAX_REQUEST_BYTES,
  [FORWARD_ENV.timeoutMs]: int({
    min: 100,
    max: 900_000,
    default: FORWARDER_DEFAULTS.timeoutMs,
    doc: "timeout of one request, 100 to 900000 ms",
  }),
  [FORWARD_ENV.protocol]: PROTOCOL,
  [FORWARD_ENV.protocolMemorySeconds]: PROTOCOL_MEMORY_SECONDS,
  [FORWARD_ENV.retryAuthFailures]: RETRY_AUTH_FAILURES,
  [FORWARD_ENV.deadLetterQueueUrl]: text({ default: undefined, doc: "SQS queue for dead letters" }),
  [FORWARD_ENV.deadLetterFile]: text({ default: undefined, doc: "local dead-letter file" }),
} as const satisfies Settings;

type ForwarderValues = ValuesOf<typeof FORWARDER_ENV>;

/** Reads the forwarder's settings; every error names its variable (values of secrets are never echoed). */
export function loadForwarderConfig(env: Env): ForwarderConfig {
  const v = readEnv(FORWARDER_ENV, env);
  const url = v[FORWARD_ENV.url];
  if (url === undefined) throw new ConfigError(`${FORWARD_ENV.url}: not set`, FORWARD_ENV.url);
  const auth = authConfig(v, v[FORWARD_ENV.auth], v[FORWARD_ENV.secretArn]);
  return Object.freeze({
    url,
    auth: Object.freeze(auth),
    maxRequestBytes: v[FORWARD_ENV.maxRequestBytes],
    timeoutMs: v[FORWARD_ENV.timeoutMs],
    protocol: v[FORWARD_ENV.protocol],
    protocolMemorySeconds: v[FORWARD_ENV.protocolMemorySeconds],
    retryAuthFailures: v[FORWARD_ENV.retryAuthFailures],
    deadLetterQueueUrl: v[FORWARD_ENV.deadLetterQueueUrl],
    deadLetterFile: v[FORWARD_ENV.deadLetterFile],
    ...sharedFrom(v),
  });
}

function authConfig(v: ForwarderValues, kind: AuthKind, secretArn: string | undefined): AuthConfig {
  const need = (name: keyof ForwarderValues & string, what: string): string => {
    const value = v[name] as string | undefined;
    if (value === undefined && secretArn === undefined) {
      throw new ConfigError(
        `${name}: required with ${FORWARD_ENV.auth}=${kind} (${what}), or set ${FORWARD_ENV.secretArn}`,
        name,
      );
    }
    return value ?? "";
  };
  const required = (name: string, why: string) => new ConfigError(`${name}: required with ${why}`, name);
  switch (kind) {
    case "none":
      return { kind };
    case "basic": {
      const username = v[FORWARD_ENV.username];
      if (username === undefined) throw required(FORWARD_ENV.username, `${FORWARD_ENV.auth}=basic`);
      return { kind, username, password: need(FORWARD_ENV.password, "the password"), secretArn };
    }
    case "bearer":
      return { kind, token: need(FORWARD_ENV.token, "the token"), secretArn };
    case "header": {
      const headerName = v[FORWARD_ENV.headerName];
      if (headerName === undefined) {
        throw required(
          FORWARD_ENV.headerName,
          `${FORWARD_ENV.auth}=header, a header name such as sts-api-key`,
        );
      }
      return { kind, headerName, headerValue: need(FORWARD_ENV.headerValue, "the header value"), secretArn };
    }
    case "sigv4": {
      const region = v[FORWARD_ENV.region] ?? v[ENV.awsRegion];
      if (region === undefined) throw required(FORWARD_ENV.region, `${FORWARD_ENV.auth}=sigv4`);
      if (secretArn !== undefined)
        throw new ConfigError(
          `${FORWARD_ENV.secretArn}: not used with ${FORWARD_ENV.auth}=sigv4 (the function's own role signs)`,
          FORWARD_ENV.secretArn,
        );
      return { kind, region };
    }
  }
}
