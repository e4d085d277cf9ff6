import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { listenOnLoopback } from "./listen";
import { header, readBody, type SigV4Failure, type StandInCredentials, verifySigV4 } from "./sigv4-verify";

export type { StandInCredentials } from "./sigv4-verify";

/**
 * A local stand-in for Amazon Managed Service for Prometheus: it verifies the SigV4
 * signature of every request with the AWS signing library (the signature is recomputed
 * from the request as received and compared), then forwards the request, with the
 * `/workspaces/<id>` prefix removed, to a real Prometheus. Like AMP it refuses unsigned
 * requests and wrong secrets, services, regions, session tokens and expired signatures
 * with 403, and answers unknown workspaces with 404. AMP's remote-write path
 * (`/api/v1/remote_write`) maps to Prometheus's receiver (`/api/v1/write`).
 */

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

    const verdict = await verifySigV4(req, body, {
      service,
      region: options.region,
      credentials: options.credentials,
      maxSkewMs,
      now,
    });
    if (!verdict.ok)
      return refuse(
        403,
        ampReason(verdict.failure, service, options.region, verdict.header),
        verdict.accessKeyId,
      );
    const accessKeyId = verdict.accessKeyId;
    const parsed = new URL(url, "http://stand-in");

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
  const { url, close } = await listenOnLoopback(server);
  return {
    url,
    workspaceUrl: (id = [...workspaces][0]!) => `${url}/workspaces/${id}/`,
    requests,
    close,
  };
}

function forwardHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ["content-type", "content-encoding", "x-prometheus-remote-write-version", "accept"]) {
    const value = header(req, name);
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/** How AMP words each refusal. */
function ampReason(failure: SigV4Failure, service: string, region: string, missing?: string): string {
  switch (failure) {
    case "missing":
      return "Missing Authentication Token";
    case "malformed":
      return "Authorization header is malformed";
    case "unknown-key":
    case "wrong-token":
      return "The security token included in the request is invalid";
    case "wrong-service":
      return `Credential should be scoped to correct service: '${service}'`;
    case "wrong-region":
      return `Credential should be scoped to a valid region: '${region}'`;
    case "bad-date":
      return "X-Amz-Date is missing or does not match the credential scope";
    case "expired":
      return "Signature expired";
    case "body-hash":
      return "The provided x-amz-content-sha256 header does not match the body";
    case "host-unsigned":
      return "host and x-amz-date must be signed";
    case "header-missing":
      return `signed header ${missing} is missing`;
    case "mismatch":
      return "The request signature we calculated does not match the signature you provided";
  }
}
