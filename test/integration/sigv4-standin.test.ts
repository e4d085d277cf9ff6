import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Sha256 } from "@aws-crypto/sha256-js";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SigV4StandIn, startSigV4StandIn } from "../support/sigv4-standin";

// The stand-in that the AMP tests rely on must itself refuse what AMP refuses.
const KEY = { accessKeyId: "AKIDSTANDINTEST", secretAccessKey: "stand-in-secret" };
const TEMP = { accessKeyId: "ASIASTANDINTEMP", secretAccessKey: "temp-secret", sessionToken: "token-1" };

let target: Server;
let targetUrl: string;
let standIn: SigV4StandIn;
const seen: string[] = [];

beforeAll(async () => {
  target = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ status: "success", data: req.url }));
  });
  await new Promise<void>((r) => target.listen(0, "127.0.0.1", () => r()));
  targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
  standIn = await startSigV4StandIn({ target: targetUrl, region: "eu-west-1", credentials: [KEY, TEMP] });
});

afterAll(async () => {
  await standIn.close();
  await new Promise<void>((r) => target.close(() => r()));
});

async function signedFetch(
  url: string,
  opts: {
    creds?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
    region?: string;
    service?: string;
    date?: Date;
    method?: string;
    body?: string;
  } = {},
): Promise<Response> {
  const u = new URL(url);
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of u.searchParams) query[k] = k in query ? [query[k] as string, v].flat() : v;
  const signer = new SignatureV4({
    credentials: opts.creds ?? KEY,
    region: opts.region ?? "eu-west-1",
    service: opts.service ?? "aps",
    sha256: Sha256,
  });
  const signed = await signer.sign(
    new HttpRequest({
      method: opts.method ?? "GET",
      protocol: u.protocol,
      hostname: u.hostname,
      port: Number(u.port),
      path: u.pathname,
      query,
      headers: { host: u.host },
      body: opts.body,
    }),
    opts.date ? { signingDate: opts.date } : {},
  );
  const headers = { ...signed.headers } as Record<string, string>;
  delete headers.host;
  return fetch(url, { method: opts.method ?? "GET", headers, body: opts.body });
}

describe("SigV4 stand-in for Amazon Managed Prometheus", () => {
  const api = () =>
    `${standIn.workspaceUrl()}api/v1/label/__name__/values?match[]=${encodeURIComponent('up{job="a b"}')}&start=1`;

  it("forwards a correctly signed request without the workspace prefix", async () => {
    const res = await signedFetch(api());
    expect(res.status).toBe(200);
    expect(seen.at(-1)).toMatch(/^GET \/api\/v1\/label\/__name__\/values\?match/);
  });

  it("accepts temporary credentials with their session token, and a signed POST body", async () => {
    const res = await signedFetch(`${standIn.workspaceUrl()}api/v1/query`, {
      creds: TEMP,
      method: "POST",
      body: "query=up",
    });
    expect(res.status).toBe(200);
  });

  it.each([
    ["unsigned", () => fetch(api()), "Missing Authentication Token"],
    [
      "a wrong secret",
      () => signedFetch(api(), { creds: { ...KEY, secretAccessKey: "wrong" } }),
      "does not match",
    ],
    [
      "an unknown key",
      () => signedFetch(api(), { creds: { accessKeyId: "AKIDOTHER", secretAccessKey: "x" } }),
      "invalid",
    ],
    ["the wrong service", () => signedFetch(api(), { service: "execute-api" }), "service"],
    ["the wrong region", () => signedFetch(api(), { region: "us-east-1" }), "region"],
    [
      "an expired signature",
      () => signedFetch(api(), { date: new Date(Date.now() - 6 * 60_000) }),
      "expired",
    ],
    [
      "a missing session token",
      () =>
        signedFetch(api(), {
          creds: { accessKeyId: TEMP.accessKeyId, secretAccessKey: TEMP.secretAccessKey },
        }),
      "invalid",
    ],
  ])("refuses a request with %s (403)", async (_what, send, reason) => {
    const before = seen.length;
    const res = await send();
    expect(res.status).toBe(403);
    expect(((await res.json()) as { message: string }).message).toContain(reason);
    expect(seen.length).toBe(before);
  });

  it("answers an unknown workspace with 404", async () => {
    const res = await signedFetch(`${standIn.url}/workspaces/ws-other/api/v1/labels`);
    expect(res.status).toBe(404);
  });
});
