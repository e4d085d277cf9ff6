import { Sha256 } from "@aws-crypto/sha256-js";
import { fromNodeProviderChain } from "@aws-sdk/credential-providers";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@smithy/types";
import type { Authorizer, OutgoingRequest } from "../forwarder/destination";

export const AMP_SERVICE = "aps";

/**
 * Signs each request with AWS Signature Version 4 (service `aps`, Amazon Managed Service
 * for Prometheus) using the AWS signing library. Credentials come from the default
 * provider chain (on Lambda: the function's role), unless given.
 */
export function sigv4Authorizer(opts: {
  region: string;
  service?: string;
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
}): Authorizer {
  const signer = new SignatureV4({
    credentials: opts.credentials ?? fromNodeProviderChain(),
    region: opts.region,
    service: opts.service ?? AMP_SERVICE,
    sha256: Sha256,
  });
  return {
    async headers(request: OutgoingRequest) {
      const { url } = request;
      const query: Record<string, string | string[]> = {};
      for (const [k, v] of url.searchParams) {
        const prev = query[k];
        query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
      }
      const signed = await signer.sign(
        new HttpRequest({
          method: "POST",
          protocol: url.protocol,
          hostname: url.hostname,
          ...(url.port ? { port: Number(url.port) } : {}),
          path: url.pathname,
          query,
          headers: { ...request.headers, host: url.host },
          body: request.body,
        }),
      );
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(signed.headers)) {
        // fetch sets host itself (from the URL, the same value that was signed)
        if (k.toLowerCase() !== "host") out[k] = String(v);
      }
      return out;
    },
  };
}
