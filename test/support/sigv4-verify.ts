import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { Sha256 } from "@aws-crypto/sha256-js";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";

/**
 * SigV4 verification for the local AWS stand-ins (Amazon Managed Prometheus, STS): the
 * signature is recomputed with the AWS signing library from the request as received, over
 * exactly the headers the client says it signed, and compared in constant time. Each
 * stand-in words a failure as the service it stands in for does.
 */

export interface StandInCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface SigV4Expectation {
  readonly service: string;
  readonly region: string;
  /** The keys the stand-in knows; any other is refused. */
  readonly credentials: readonly StandInCredentials[];
  /** Largest accepted difference between the signing date and now (AWS: 5 minutes). */
  readonly maxSkewMs: number;
  readonly now: () => number;
}

export type SigV4Failure =
  | "missing"
  | "malformed"
  | "unknown-key"
  | "wrong-service"
  | "wrong-region"
  | "bad-date"
  | "expired"
  | "wrong-token"
  | "body-hash"
  | "host-unsigned"
  | "header-missing"
  | "mismatch";

export type SigV4Result =
  | { readonly ok: true; readonly accessKeyId: string }
  | {
      readonly ok: false;
      readonly failure: SigV4Failure;
      readonly accessKeyId?: string;
      /** The header named by `header-missing`. */
      readonly header?: string;
    };

const AUTH =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

export async function verifySigV4(
  req: IncomingMessage,
  body: Buffer,
  expect: SigV4Expectation,
): Promise<SigV4Result> {
  const auth = header(req, "authorization");
  if (auth === undefined) return { ok: false, failure: "missing" };
  const parts = AUTH.exec(auth);
  if (parts === null) return { ok: false, failure: "malformed" };
  const [, accessKeyId, shortDate, region, service, signedList, signature] = parts as unknown as string[];
  const fail = (failure: SigV4Failure, name?: string): SigV4Result => ({
    ok: false,
    failure,
    accessKeyId,
    header: name,
  });
  const creds = expect.credentials.find((c) => c.accessKeyId === accessKeyId);
  if (creds === undefined) return fail("unknown-key");
  if (service !== expect.service) return fail("wrong-service");
  if (region !== expect.region) return fail("wrong-region");
  const amzDate = header(req, "x-amz-date");
  const date = amzDate === undefined ? undefined : parseAmzDate(amzDate);
  if (date === undefined || !amzDate!.startsWith(shortDate!)) return fail("bad-date");
  if (Math.abs(expect.now() - date.getTime()) > expect.maxSkewMs) return fail("expired");
  if (creds.sessionToken !== undefined && header(req, "x-amz-security-token") !== creds.sessionToken) {
    return fail("wrong-token");
  }
  const contentHash = header(req, "x-amz-content-sha256");
  if (contentHash !== undefined && contentHash !== createHash("sha256").update(body).digest("hex")) {
    return fail("body-hash");
  }
  const signedHeaders = signedList!.split(";");
  if (!signedHeaders.includes("host") || !signedHeaders.includes("x-amz-date")) return fail("host-unsigned");
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const value = header(req, name);
    if (value === undefined) return fail("header-missing", name);
    headers[name] = value;
  }
  const url = req.url ?? "/";
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of new URL(url, "http://stand-in").searchParams) {
    const prev = query[k];
    query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  const q = url.indexOf("?");
  const signer = new SignatureV4({
    credentials: creds,
    region: region!,
    service: service!,
    sha256: Sha256,
    applyChecksum: false,
  });
  const expected = await signer.sign(
    new HttpRequest({
      method: req.method ?? "GET",
      protocol: "http:",
      hostname: headers.host!.replace(/:\d+$/, ""),
      path: q < 0 ? url : url.slice(0, q), // as sent, still percent-encoded
      query,
      headers,
      body,
    }),
    { signingDate: date, signableHeaders: new Set(signedHeaders) },
  );
  const computed = AUTH.exec(String(expected.headers.authorization ?? ""))?.[6] ?? "";
  const same =
    computed.length === signature!.length && timingSafeEqual(Buffer.from(computed), Buffer.from(signature!));
  return same ? { ok: true, accessKeyId: accessKeyId! } : fail("mismatch");
}

export function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(",") : value;
}

export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** The time of an `X-Amz-Date` (`20240301T120000Z`), if it is one. */
export function parseAmzDate(text: string): Date | undefined {
  const m = AMZ_DATE.exec(text);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  return new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!));
}
