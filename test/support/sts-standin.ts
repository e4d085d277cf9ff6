import { randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Sha256 } from "@aws-crypto/sha256-js";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import type { StandInCredentials } from "./sigv4-standin";

/**
 * A local stand-in for AWS STS's AssumeRole (query protocol: a form-encoded POST answered with
 * XML). Each call's SigV4 signature (service `sts`) is recomputed with the AWS signing
 * library and compared; unknown keys, wrong signatures, unknown roles and wrong external ids
 * are refused as STS refuses them. Issued temporary credentials are appended to `issued`,
 * which can be the very array an AMP stand-in accepts credentials from.
 */

export interface StsRole {
  readonly arn: string;
  /** When set, AssumeRole must carry exactly this ExternalId. */
  readonly externalId?: string;
}

export interface StsStandInOptions {
  readonly region: string;
  /** Callers allowed to call AssumeRole. */
  readonly callers: readonly StandInCredentials[];
  readonly roles: readonly StsRole[];
  /** Receives every set of temporary credentials issued. */
  readonly issued: StandInCredentials[];
  readonly now?: () => number;
}

export interface AssumeRoleCall {
  readonly roleArn?: string;
  readonly externalId?: string;
  readonly roleSessionName?: string;
  readonly durationSeconds?: number;
  readonly callerKeyId?: string;
  readonly status: number;
  readonly refused?: string;
}

export interface StsStandIn {
  /** `http://127.0.0.1:PORT`, for AWS_ENDPOINT_URL_STS. */
  readonly url: string;
  readonly calls: AssumeRoleCall[];
  close(): Promise<void>;
}

const AUTH =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

export async function startStsStandIn(options: StsStandInOptions): Promise<StsStandIn> {
  const now = options.now ?? Date.now;
  const calls: AssumeRoleCall[] = [];

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    const form = new URLSearchParams(body.toString("utf8"));
    const call = {
      roleArn: form.get("RoleArn") ?? undefined,
      externalId: form.get("ExternalId") ?? undefined,
      roleSessionName: form.get("RoleSessionName") ?? undefined,
      durationSeconds: form.has("DurationSeconds") ? Number(form.get("DurationSeconds")) : undefined,
    };
    const fail = (status: number, code: string, message: string, callerKeyId?: string) => {
      calls.push({ ...call, callerKeyId, status, refused: `${code}: ${message}` });
      res.writeHead(status, { "content-type": "text/xml" });
      res.end(
        `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${xml(message)}</Message></Error><RequestId>${randomBytes(8).toString("hex")}</RequestId></ErrorResponse>`,
      );
    };

    const parts = AUTH.exec(header(req, "authorization") ?? "");
    if (parts === null)
      return fail(403, "MissingAuthenticationToken", "Request is missing Authentication Token");
    const [, keyId, shortDate, region, service, signedList, signature] = parts as unknown as string[];
    const caller = options.callers.find((c) => c.accessKeyId === keyId);
    if (caller === undefined) {
      return fail(
        403,
        "InvalidClientTokenId",
        "The security token included in the request is invalid.",
        keyId,
      );
    }
    if (service !== "sts" || region !== options.region) {
      return fail(
        403,
        "SignatureDoesNotMatch",
        "Credential should be scoped to a valid region and service.",
        keyId,
      );
    }
    const amzDate = header(req, "x-amz-date") ?? "";
    const date = parseAmzDate(amzDate);
    if (date === undefined || !amzDate.startsWith(shortDate!)) {
      return fail(403, "IncompleteSignature", "X-Amz-Date is missing or does not match the scope", keyId);
    }
    if (Math.abs(now() - date.getTime()) > 5 * 60_000)
      return fail(403, "SignatureExpired", "Signature expired", keyId);
    if (caller.sessionToken !== undefined && header(req, "x-amz-security-token") !== caller.sessionToken) {
      return fail(
        403,
        "InvalidClientTokenId",
        "The security token included in the request is invalid.",
        keyId,
      );
    }
    const signedHeaders = signedList!.split(";");
    const headers: Record<string, string> = {};
    for (const name of signedHeaders) {
      const value = header(req, name);
      if (value === undefined)
        return fail(403, "IncompleteSignature", `signed header ${name} is missing`, keyId);
      headers[name] = value;
    }
    const url = new URL(req.url ?? "/", "http://stand-in");
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const expected = await new SignatureV4({
      credentials: caller,
      region: region!,
      service: "sts",
      sha256: Sha256,
    }).sign(
      new HttpRequest({
        method: req.method ?? "POST",
        protocol: "http:",
        hostname: (headers.host ?? "").replace(/:\d+$/, ""),
        path: url.pathname,
        query,
        headers,
        body,
      }),
      { signingDate: date, signableHeaders: new Set(signedHeaders) },
    );
    const computed = AUTH.exec(String(expected.headers.authorization ?? ""))?.[6] ?? "";
    if (
      computed.length !== signature!.length ||
      !timingSafeEqual(Buffer.from(computed), Buffer.from(signature!))
    ) {
      return fail(
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided.",
        keyId,
      );
    }

    if (form.get("Action") !== "AssumeRole")
      return fail(400, "InvalidAction", "only AssumeRole is served", keyId);
    const role = options.roles.find((r) => r.arn === call.roleArn);
    if (role === undefined || (role.externalId !== undefined && role.externalId !== call.externalId)) {
      return fail(
        403,
        "AccessDenied",
        `User: ${keyId} is not authorized to perform: sts:AssumeRole on resource: ${call.roleArn ?? ""}`,
        keyId,
      );
    }
    const duration = call.durationSeconds ?? 3600;
    if (!(duration >= 900 && duration <= 43_200)) {
      return fail(400, "ValidationError", "DurationSeconds must be between 900 and 43200", keyId);
    }
    const issued: StandInCredentials = {
      accessKeyId: `ASIA${randomBytes(8).toString("hex").toUpperCase()}`,
      secretAccessKey: randomBytes(30).toString("base64"),
      sessionToken: randomBytes(60).toString("base64"),
    };
    options.issued.push(issued);
    calls.push({ ...call, callerKeyId: keyId, status: 200 });
    const expiration = new Date(now() + duration * 1000).toISOString();
    res.writeHead(200, { "content-type": "text/xml" });
    res.end(
      `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>${issued.accessKeyId}</AccessKeyId><SecretAccessKey>${xml(issued.secretAccessKey)}</SecretAccessKey><SessionToken>${xml(issued.sessionToken!)}</SessionToken><Expiration>${expiration}</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROA0000:${xml(call.roleSessionName ?? "")}</AssumedRoleId><Arn>${xml(call.roleArn ?? "")}/${xml(call.roleSessionName ?? "")}</Arn></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>${randomBytes(8).toString("hex")}</RequestId></ResponseMetadata></AssumeRoleResponse>`,
    );
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(`stand-in failed: ${err.message}`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function xml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(",") : value;
}

function parseAmzDate(text: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  return new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!));
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}
