import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { listenOnLoopback } from "./listen";
import { readBody, type SigV4Failure, type StandInCredentials, verifySigV4 } from "./sigv4-verify";

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

    const verdict = await verifySigV4(req, body, {
      service: "sts",
      region: options.region,
      credentials: options.callers,
      maxSkewMs: 5 * 60_000,
      now,
    });
    if (!verdict.ok) {
      const [status, code, message] = stsRefusal(verdict.failure, verdict.header);
      return fail(status, code, message, verdict.accessKeyId);
    }
    const keyId = verdict.accessKeyId;

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
  const { url, close } = await listenOnLoopback(server);
  return { url, calls, close };
}

function xml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** How STS answers each refusal: status, error code, message. */
function stsRefusal(failure: SigV4Failure, missing?: string): [number, string, string] {
  switch (failure) {
    case "missing":
    case "malformed":
      return [403, "MissingAuthenticationToken", "Request is missing Authentication Token"];
    case "unknown-key":
    case "wrong-token":
      return [403, "InvalidClientTokenId", "The security token included in the request is invalid."];
    case "wrong-service":
    case "wrong-region":
      return [403, "SignatureDoesNotMatch", "Credential should be scoped to a valid region and service."];
    case "bad-date":
      return [403, "IncompleteSignature", "X-Amz-Date is missing or does not match the scope"];
    case "host-unsigned":
      return [403, "IncompleteSignature", "host and x-amz-date must be signed"];
    case "header-missing":
      return [403, "IncompleteSignature", `signed header ${missing} is missing`];
    case "expired":
      return [403, "SignatureExpired", "Signature expired"];
    case "body-hash":
    case "mismatch":
      return [
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided.",
      ];
  }
}
