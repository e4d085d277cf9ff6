import { int, text, type ValuesOf } from "../../lib/core/config";
import { AMP_WORKSPACE_ARN } from "../../lib/core/patterns";
import {
  AUTH,
  AUTH_HEADER_NAME,
  type AuthKind,
  destinationUrl,
  MAX_REQUEST_BYTES,
  PROTOCOL,
  PROTOCOL_MEMORY_SECONDS,
  RETRY_AUTH_FAILURES,
  SECRET,
} from "../../lib/forwarder/config";
import type { Protocol } from "../../lib/forwarder/negotiate";
import { contextError, type Given } from "./read";

/** The optional forwarder from the stream to a remote_write endpoint (docs/forwarder.md; needs ingest). */

/** The largest record a forwarder's Lambda event can carry (base64 within the 6 MB event limit). */
export const MAX_FORWARDED_RECORD_KIB = 4096;

export const FORWARDER_KEYS = {
  forwardUrl: destinationUrl({
    schemes: ["https:"],
    wrongScheme: () => "must be https: credentials travel with every request",
    noCredentials: "no credentials in the URL; use forwardAuth and forwardSecretArn",
    doc: "remote_write URL (https) the forwarder delivers the stream to; unset: no forwarder ([docs/forwarder.md](forwarder.md))",
  }),
  // FORWARD_AUTH, FORWARD_HEADER_NAME and FORWARD_SECRET_ARN of the function
  forwardAuth: { ...AUTH, doc: "`none`, `basic`, `bearer`, `header` or `sigv4` (Amazon Managed Prometheus)" },
  forwardUsername: text({ default: undefined, doc: "basic auth user name (StackState: `apikey`)" }),
  forwardHeaderName: {
    ...AUTH_HEADER_NAME,
    doc: "header carrying the secret with `forwardAuth=header` (StackState: `sts-api-key`)",
  },
  forwardSecretArn: {
    ...SECRET,
    doc: "existing secret with the password, token or header value; unset: a secret is created to fill in (the `ForwarderCredentialSecretArn` output)",
  },
  forwardAmpWorkspaceArn: text({
    default: undefined,
    doc: "Amazon Managed Prometheus workspace ARN; required with `forwardAuth=sigv4` (`aps:RemoteWrite` on it)",
    pattern: AMP_WORKSPACE_ARN,
    expected: "a workspace ARN",
  }),
  forwardBatchSize: int({
    min: 1,
    max: 10_000,
    default: 500,
    doc: "records per forwarder invocation, 1 to 10000",
  }),
  forwardBatchingWindowSeconds: int({
    min: 0,
    max: 300,
    default: 1,
    doc: "how long Lambda gathers records before invoking, 0 to 300 s",
  }),
  forwardMaxRecordAgeSeconds: int({
    min: 60,
    max: 604_800,
    default: 86400,
    doc: "records older than this are given up (their position goes to the dead-letter queue), 60 to 604800 s",
  }),
  forwardRetryAttempts: int({
    min: 0,
    max: 10_000,
    default: undefined,
    doc: "retries of a failing batch, 0 to 10000 (unset: until the record's maximum age)",
  }),
  forwardMemoryMb: int({
    min: 128,
    max: 10_240,
    default: 512,
    doc: "forwarder function memory, MB, 128 to 10240",
  }),
  forwardTimeoutSeconds: int({
    min: 10,
    max: 900,
    default: 60,
    doc: "forwarder function timeout, 10 to 900 s (retries happen within it)",
  }),
  // FORWARD_MAX_REQUEST_BYTES, FORWARD_PROTOCOL, FORWARD_PROTOCOL_MEMORY_SECONDS and
  // FORWARD_RETRY_AUTH_FAILURES of the function
  forwardMaxRequestBytes: {
    ...MAX_REQUEST_BYTES,
    doc: "largest uncompressed request when merging v1 records (and v2 records sent as 1.0), bytes, 1024 to 67108864",
  },
  forwardProtocol: {
    ...PROTOCOL,
    doc: "Remote-Write version of v2 records: `auto` (2.0, and 1.0 to a destination that does not take 2.0), `v1` or `v2` (forced); v1 records always go as 1.0 ([docs/forwarder.md](forwarder.md#remote-write-20-and-10))",
  },
  forwardProtocolMemorySeconds: {
    ...PROTOCOL_MEMORY_SECONDS,
    doc: "with `auto`, how long a fallback to 1.0 is remembered before 2.0 is tried again, 0 to 86400 s",
  },
  forwardRetryAuthFailures: {
    ...RETRY_AUTH_FAILURES,
    doc: "retry 401 and 403 like 5xx (records wait in the stream while a secret is put in place) instead of dead-lettering them",
  },
} as const;

/** The forwarder's deployment settings (see docs/forwarder.md). */
export interface ForwarderSettings {
  readonly url: string;
  readonly auth: AuthKind;
  readonly username?: string;
  readonly headerName?: string;
  /** An existing secret; absent with basic/bearer/header: one is created. */
  readonly secretArn?: string;
  /** sigv4 only. */
  readonly ampWorkspaceArn?: string;
  readonly ampRegion?: string;
  readonly batchSize: number;
  readonly batchingWindowSeconds: number;
  readonly maxRecordAgeSeconds: number;
  readonly retryAttempts?: number;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  readonly maxRequestBytes: number;
  readonly protocol: Protocol;
  readonly protocolMemorySeconds: number;
  readonly retryAuthFailures: boolean;
}

/** Requires a key with one auth kind and refuses it with any other. */
function onlyWith(key: string, given: boolean, kind: AuthKind, auth: AuthKind): void {
  if ((auth === kind) !== given) {
    throw contextError(
      key,
      auth === kind ? `required with forwardAuth=${kind}` : `applies only with forwardAuth=${kind}`,
    );
  }
}

export function forwarderSettings(
  v: ValuesOf<typeof FORWARDER_KEYS>,
  given: Given,
): ForwarderSettings | undefined {
  const url = v.forwardUrl;
  if (url === undefined) {
    const stray = Object.keys(FORWARDER_KEYS).find(given);
    if (stray !== undefined) throw contextError(stray, "applies only with forwardUrl");
    return undefined;
  }
  const auth = v.forwardAuth;
  const { forwardUsername: username, forwardHeaderName: headerName, forwardSecretArn: secretArn } = v;
  const ampWorkspaceArn = v.forwardAmpWorkspaceArn;
  onlyWith("forwardUsername", username !== undefined, "basic", auth);
  onlyWith("forwardHeaderName", headerName !== undefined, "header", auth);
  if (secretArn !== undefined && (auth === "none" || auth === "sigv4")) {
    throw contextError("forwardSecretArn", `not used with forwardAuth=${auth}`);
  }
  onlyWith("forwardAmpWorkspaceArn", ampWorkspaceArn !== undefined, "sigv4", auth);
  return {
    url,
    auth,
    username,
    headerName,
    secretArn,
    ampWorkspaceArn,
    ampRegion: ampWorkspaceArn === undefined ? undefined : AMP_WORKSPACE_ARN.exec(ampWorkspaceArn)?.[1],
    batchSize: v.forwardBatchSize,
    batchingWindowSeconds: v.forwardBatchingWindowSeconds,
    maxRecordAgeSeconds: v.forwardMaxRecordAgeSeconds,
    retryAttempts: v.forwardRetryAttempts,
    memoryMb: v.forwardMemoryMb,
    timeoutSeconds: v.forwardTimeoutSeconds,
    maxRequestBytes: v.forwardMaxRequestBytes,
    protocol: v.forwardProtocol,
    protocolMemorySeconds: v.forwardProtocolMemorySeconds,
    retryAuthFailures: v.forwardRetryAuthFailures,
  };
}
