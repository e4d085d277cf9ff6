import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Sha256 } from "@aws-crypto/sha256-js";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";

/**
 * A local stand-in for Amazon Managed Service for Prometheus: it verifies the SigV4
 * signature of every request with the AWS signing library (the signature is recomputed
 * from the request as received and compared), then forwards the request, with the
 * `/workspaces/<id>` prefix removed, to a real Prometheus. Like AMP it refuses unsigned
 * requests and wrong secrets, services, regions, session tokens and expired signatures
 * with 403, and answers unknown workspaces with 404. AMP's remote-write path
 * (`/api/v1/remote_write`) maps to Prometheus's receiver (`/api/v1/write`).
 */

export interface StandInCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface SigV4StandInOptions {
  /** Base URL of the Prometheus requests are forwarded to, e.g. `http://127.0.0.1:9090`. */
  readonly target: string;
  readonly region: string;
  /** Default `aps`. */
  readonly service?: string;
  /** The credentials this stand-in knows; a request signed with any other key is refused. */
  readonly credentials: readonly StandInCredentials[];
  /** Workspace ids served (default `["ws-test"]`). */
  readonly workspaces?: readonly string[];
  /** Largest accepted difference between the signing date and now (default 5 minutes, as AWS). */
  readonly maxSkewMs?: number;
  /** The clock (tests move it to make a signature expire). */
  readonly now?: () => number;
}

export interface StandInRequest {
  readonly method: string;
  /** Path and query as received. */
  readonly url: string;
  readonly status: number;
  /** Why a request was refused (absent when it was forwarded). */
  readonly refused?: string;
  /** The access key id the request was signed with, if it carried one. */
  readonly accessKeyId?: string;
}

export interface SigV4StandIn {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** `http://127.0.0.1:PORT/workspaces/<id>/` */
  workspaceUrl(id?: string): string;
  /** Every request seen, in order. */
  readonly requests: StandInRequest[];
  close(): Promise<void>;
}

const AUTH =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

export async function startSigV4StandIn(options: SigV4StandInOptions): Promise<SigV4StandIn> {
  const service = options.service ?? "aps";
  const workspaces = new Set(options.workspaces ?? ["ws-test"]);
  const maxSkewMs = options.maxSkewMs ?? 5 * 60_000;
  const now = options.now ?? Date.now;
  const target = options.target.replace(/\/$/, "");
  const requests: StandInRequest[] = [];

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    const url = req.url ?? "/";
    const refuse = (status: number, reason: string, accessKeyId?: string) => {
      requests.push({ method: req.method ?? "", url, status, refused: reason, accessKeyId });
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify({ message: reason }));
    };

    const auth = header(req, "authorization");
    if (auth === undefined) return refuse(403, "Missing Authentication Token");
    const parts = AUTH.exec(auth);
    if (parts === null) return refuse(403, "Authorization header is malformed");
    const [, accessKeyId, shortDate, region, signedService, signedHeaderList, signature] =
      parts as unknown as [string, string, string, string, string, string, string];
    const creds = options.credentials.find((c) => c.accessKeyId === accessKeyId);
    if (creds === undefined)
      return refuse(403, "The security token included in the request is invalid", accessKeyId);
    if (signedService !== service)
      return refuse(403, `Credential should be scoped to correct service: '${service}'`, accessKeyId);
    if (region !== options.region)
      return refuse(403, `Credential should be scoped to a valid region: '${options.region}'`, accessKeyId);
    const amzDate = header(req, "x-amz-date");
    const date = amzDate === undefined ? undefined : parseAmzDate(amzDate);
    if (date === undefined || !amzDate!.startsWith(shortDate))
      return refuse(403, "X-Amz-Date is missing or does not match the credential scope", accessKeyId);
    if (Math.abs(now() - date.getTime()) > maxSkewMs) return refuse(403, "Signature expired", accessKeyId);
    if (creds.sessionToken !== undefined && header(req, "x-amz-security-token") !== creds.sessionToken) {
      return refuse(403, "The security token included in the request is invalid", accessKeyId);
    }
    const contentHash = header(req, "x-amz-content-sha256");
    if (contentHash !== undefined && contentHash !== createHash("sha256").update(body).digest("hex")) {
      return refuse(403, "The provided x-amz-content-sha256 header does not match the body", accessKeyId);
    }

    // Recompute the signature over exactly the headers the client says it signed.
    const signedHeaders = signedHeaderList.split(";");
    if (!signedHeaders.includes("host") || !signedHeaders.includes("x-amz-date")) {
      return refuse(403, "host and x-amz-date must be signed", accessKeyId);
    }
    const headers: Record<string, string> = {};
    for (const name of signedHeaders) {
      const value = header(req, name);
      if (value === undefined) return refuse(403, `signed header ${name} is missing`, accessKeyId);
      headers[name] = value;
    }
    const parsed = new URL(url, "http://stand-in");
    const query: Record<string, string | string[]> = {};
    for (const [k, v] of parsed.searchParams) {
      const prev = query[k];
      query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
    const signer = new SignatureV4({
      credentials: creds,
      region,
      service,
      sha256: Sha256,
      applyChecksum: false,
    });
    const expected = await signer.sign(
      new HttpRequest({
        method: req.method ?? "GET",
        protocol: "http:",
        hostname: headers.host!.replace(/:\d+$/, ""),
        path: rawPath(url),
        query,
        headers,
        body,
      }),
      { signingDate: date, signableHeaders: new Set(signedHeaders) },
    );
    const computed = AUTH.exec(String(expected.headers.authorization ?? ""))?.[6] ?? "";
    const same =
      computed.length === signature.length && timingSafeEqual(Buffer.from(computed), Buffer.from(signature));
    if (!same) {
      return refuse(
        403,
        "The request signature we calculated does not match the signature you provided",
        accessKeyId,
      );
    }

    const ws = /^\/workspaces\/([^/]+)(\/.*)?$/.exec(parsed.pathname);
    if (ws === null || !workspaces.has(ws[1]!)) return refuse(404, "Workspace not found", accessKeyId);
    const rest = ws[2] === "/api/v1/remote_write" ? "/api/v1/write" : (ws[2] ?? "/");
    const forwarded = await fetch(`${target}${rest}${parsed.search}`, {
      method: req.method,
      headers: forwardHeaders(req),
      body: req.method === "GET" || req.method === "HEAD" ? undefined : body,
    });
    const answer = Buffer.from(await forwarded.arrayBuffer());
    requests.push({ method: req.method ?? "", url, status: forwarded.status, accessKeyId });
    res.writeHead(forwarded.status, {
      "content-type": forwarded.headers.get("content-type") ?? "application/octet-stream",
    });
    res.end(answer);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      requests.push({ method: req.method ?? "", url: req.url ?? "", status: 502, refused: err.message });
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end(`stand-in failed: ${err.message}`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    workspaceUrl: (id = [...workspaces][0]!) => `${url}/workspaces/${id}/`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(",") : value;
}

function parseAmzDate(text: string): Date | undefined {
  const m = AMZ_DATE.exec(text);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  return new Date(Date.UTC(y, mo - 1, d, h, mi, s));
}

/** The path exactly as sent (still percent-encoded), without the query. */
function rawPath(url: string): string {
  const q = url.indexOf("?");
  return q < 0 ? url : url.slice(0, q);
}

function forwardHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ["content-type", "content-encoding", "x-prometheus-remote-write-version", "accept"]) {
    const value = header(req, name);
    if (value !== undefined) out[name] = value;
  }
  return out;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}
