import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@smithy/types";
import type { Authorizer, OutgoingRequest } from "../forwarder/destination";
import type { RequestSigner } from "../mirror/prometheus-client";
import { defaultCredentials } from "./default-credentials";
import { NodeSha256 } from "./node-sha256";

/** The SigV4 service name of Amazon Managed Service for Prometheus. */
export const AMP_SERVICE = "aps";

type Credentials = AwsCredentialIdentity | AwsCredentialIdentityProvider;

function ampSigner(credentials: Credentials, region: string, service = AMP_SERVICE): SignatureV4 {
  return new SignatureV4({ credentials, region, service, sha256: NodeSha256 });
}

/**
 * Signs one request with the AWS signing library: the `host` header, the other given headers,
 * the exact path and query that go on the wire and the body (if any) are signed. Returns the
 * headers to send (authorization, x-amz-date, x-amz-security-token, x-amz-content-sha256 and
 * the given ones); `host` itself is left to the HTTP client, which sends the same value (the URL's).
 */
export async function signedHeaders(
  signer: SignatureV4,
  request: { method: string; url: URL; headers?: Record<string, string>; body?: Uint8Array },
): Promise<Record<string, string>> {
  const { url } = request;
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of url.searchParams) {
    const prev = query[k];
    query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  const signed = await signer.sign(
    new HttpRequest({
      method: request.method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port === "" ? {} : { port: Number(url.port) }),
      path: url.pathname,
      query,
      headers: { ...request.headers, host: url.host },
      ...(request.body === undefined ? {} : { body: request.body }),
    }),
  );
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers)) {
    if (name.toLowerCase() !== "host") out[name] = String(value);
  }
  return out;
}

/** The mirror's signer: each Prometheus API GET to an AMP workspace. */
export function sigv4Signer(credentials: AwsCredentialIdentityProvider, region: string): RequestSigner {
  const signer = ampSigner(credentials, region);
  return ({ method, url }) => signedHeaders(signer, { method, url });
}

/**
 * The forwarder's authorizer: each remote-write POST, body included. Credentials come from
 * the environment (on Lambda: the function's role), else the SDK's default provider chain
 * (imported on first use), unless given.
 */
export function sigv4Authorizer(opts: {
  region: string;
  service?: string;
  credentials?: Credentials;
}): Authorizer {
  const signer = ampSigner(opts.credentials ?? defaultCredentials(), opts.region, opts.service);
  return {
    headers: (request: OutgoingRequest) =>
      signedHeaders(signer, {
        method: "POST",
        url: request.url,
        headers: request.headers,
        body: request.body,
      }),
  };
}
