import { Sha256 } from "@aws-crypto/sha256-js";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AwsCredentialIdentityProvider } from "@smithy/types";
import type { RequestSigner } from "../mirror/prometheus-client";

/** The SigV4 service name of Amazon Managed Service for Prometheus. */
export const APS_SERVICE = "aps";

/**
 * Signs each GET with the AWS signing library: the `host` header and the exact path and
 * query that go on the wire are signed; the headers to send (authorization, x-amz-date,
 * x-amz-security-token) are returned. `host` itself is left to the HTTP client, which
 * sends the same value (the URL's host).
 */
export function sigv4Signer(credentials: AwsCredentialIdentityProvider, region: string): RequestSigner {
  const signer = new SignatureV4({ credentials, region, service: APS_SERVICE, sha256: Sha256 });
  return async ({ method, url }) => {
    const query: Record<string, string | string[]> = {};
    for (const [k, v] of url.searchParams) {
      const prev = query[k];
      query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
    const signed = await signer.sign(
      new HttpRequest({
        method,
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port === "" ? {} : { port: Number(url.port) }),
        path: url.pathname,
        query,
        headers: { host: url.host },
      }),
    );
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(signed.headers)) {
      if (name.toLowerCase() !== "host") out[name] = String(value);
    }
    return out;
  };
}
