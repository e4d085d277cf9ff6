import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { LocalGateway } from "../../../functions/local/gateway";
import { createMirrorApp } from "../../../functions/mirror/app";
import { AwsCredentialSource } from "../../../lib/aws/credentials";
import { StaticKeySource } from "../../../lib/core/auth";
import { createLogger } from "../../../lib/core/log";
import { MIRROR_PATHS } from "../../../lib/core/routes";
import { loadMirrorConfig } from "../../../lib/mirror/config";
import { hostile, openMetrics, T0 } from "../../fixtures/mirror/data";
import {
  PEER_METRIC,
  PEER_REQUESTS,
  PEER_SERIES,
  type PeerRequestName,
  RANGE,
} from "../../fixtures/mirror/peer";
import {
  backfillOpenMetrics,
  makeTempDir,
  prometheusAvailable,
  type RunningPrometheus,
  startPrometheus,
} from "../../support/prometheus";
import { type SigV4StandIn, type StandInCredentials, startSigV4StandIn } from "../../support/sigv4-standin";
import { type StsStandIn, startStsStandIn } from "../../support/sts-standin";
import { lambdaFront, localFront, type Send } from "./fronts";
import { type Answer, MIRROR_KEY, post, type Served, serveApp, serveMirror } from "./harness";
import { CHECKS, peerPath } from "./peer-checks";

/**
 * The Amazon Managed Prometheus path: a SigV4-verifying stand-in for an AMP workspace in
 * front of a real Prometheus, and a stand-in for STS AssumeRole. Each credential source
 * (given keys, an assumed role, the function's own credentials) through each front; the
 * role-session cache; refusals answered as error objects; no secret in any answer or log.
 */

const REGION = "eu-west-1";
const FUNCTION: StandInCredentials = {
  accessKeyId: "AKIAFUNCTIONKEY00001",
  secretAccessKey: "function-secret-key-0123456789abcdefghij",
};
const GIVEN: StandInCredentials = {
  accessKeyId: "AKIAGIVENKEY00000001",
  secretAccessKey: "given-secret-key-0123456789abcdefghijkl",
  sessionToken: "given-session-token-0123456789abcdefghijklmnopqrstuvwxyz",
};
const ROLE = "arn:aws:iam::123456789012:role/amp-query";
const EXTERNAL_ID = "stackstate-external-id-42";

describe.skipIf(!prometheusAvailable())("Amazon Managed Prometheus through SigV4 (stand-ins)", () => {
  let home: string;
  let prometheus: RunningPrometheus;
  /** Every key the AMP stand-in accepts; STS appends the temporary credentials it issues. */
  const ampCredentials: StandInCredentials[] = [FUNCTION, GIVEN];
  let amp: SigV4StandIn;
  let sts: StsStandIn;
  let served: Served;
  let local: { send: Send; gateway: LocalGateway };
  let lambda: Send;
  const fronts: Record<string, Send> = {};
  const logLines: string[] = [];
  const answers: string[] = [];

  beforeAll(async () => {
    home = await makeTempDir("mirror-amp-");
    const dataDir = join(home, "data");
    await backfillOpenMetrics(openMetrics([...PEER_SERIES, ...hostile]), dataDir);
    prometheus = await startPrometheus({
      configYaml: "global:\n  scrape_interval: 1h\n",
      dataDir,
      extraFlags: ["--storage.tsdb.retention.time=3650d"],
    });
    amp = await startSigV4StandIn({ target: prometheus.url, region: REGION, credentials: ampCredentials });
    sts = await startStsStandIn({
      region: REGION,
      callers: [FUNCTION, GIVEN],
      roles: [{ arn: ROLE, externalId: EXTERNAL_ID }],
      issued: ampCredentials,
    });
    // the function's own credentials (the SDK's default chain reads them) and the STS endpoint
    vi.stubEnv("AWS_ACCESS_KEY_ID", FUNCTION.accessKeyId);
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", FUNCTION.secretAccessKey);
    vi.stubEnv("AWS_ENDPOINT_URL_STS", sts.url);
    vi.stubEnv("AWS_EC2_METADATA_DISABLED", "true");
    const env = { MIRROR_ALLOWED_TARGETS: `${amp.workspaceUrl()},127.0.0.1:${prometheus.port}` };
    served = await serveApp(
      createMirrorApp({
        config: loadMirrorConfig(env),
        keys: new StaticKeySource([{ key: MIRROR_KEY }]),
        log: createLogger("debug", (line) => logLines.push(line)),
      }),
    );
    local = await localFront(env);
    lambda = await lambdaFront({ MIRROR_API_KEY: MIRROR_KEY, LOG_LEVEL: "debug", ...env }, logLines);
    const recording =
      (send: Send): Send =>
      async (path, body, headers) => {
        const res = await send(path, body, headers);
        answers.push(JSON.stringify(res.body), JSON.stringify([...res.headers]));
        return res;
      };
    fronts.app = recording((path, body, headers) => post(served.url, path, body, headers));
    fronts.local = recording(local.send);
    fronts.lambda = recording(lambda);
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await served?.close();
    await local?.gateway.stop();
    await amp?.close();
    await sts?.close();
    await prometheus?.stop();
    const { rm } = await import("node:fs/promises");
    if (home) await rm(home, { recursive: true, force: true });
  });

  const SOURCES = {
    "given keys": () => ({
      aws_access_key_id: GIVEN.accessKeyId,
      aws_secret_access_key: GIVEN.secretAccessKey,
      aws_session_token: GIVEN.sessionToken,
      region_name: REGION,
    }),
    "an assumed role": () => ({ role_arn: ROLE, external_id: EXTERNAL_ID, region_name: REGION }),
    "the function's own credentials": () => ({ region_name: REGION }),
  } as const;
  type Source = keyof typeof SOURCES;
  const details = (source: Source, aws: Record<string, unknown> = {}) => ({
    url: amp.workspaceUrl(),
    request_timeout_seconds: 15,
    aws: { ...SOURCES[source](), ...aws },
  });
  /** The key the AMP stand-in must have seen for a source. */
  const expectedKey = (source: Source, keyId: string | undefined) => {
    if (source === "given keys") expect(keyId).toBe(GIVEN.accessKeyId);
    else if (source === "the function's own credentials") expect(keyId).toBe(FUNCTION.accessKeyId);
    else expect(keyId).toMatch(/^ASIA/);
  };

  const connection = (front: string, connectionDetails: unknown): Promise<Answer> =>
    fronts[front]!(MIRROR_PATHS.connection, { _type: "TestConnectionRequest", connectionDetails });

  const cases = (Object.keys(SOURCES) as Source[]).flatMap((source) =>
    ["app", "local", "lambda"].map((front) => [source, front] as const),
  );

  it.each(cases)("with %s through the %s: connection test and every request shape", async (source, front) => {
    const before = amp.requests.length;
    const test = await connection(front, details(source));
    expect(test.status).toBe(200);
    expect(test.body).toEqual({ _type: "TestConnectionResponse", status: "OK" });
    for (const name of Object.keys(PEER_REQUESTS) as PeerRequestName[]) {
      const res = await fronts[front]!(peerPath(name), PEER_REQUESTS[name](details(source)));
      expect(res.status, `${name}: ${JSON.stringify(res.body)}`).toBe(200);
      expect(res.headers.get("x-mirror-api-key")).toBe(MIRROR_KEY);
      CHECKS[name](res.body);
    }
    const seen = amp.requests.slice(before);
    expect(seen.length).toBeGreaterThanOrEqual(6);
    for (const r of seen) {
      expect(r.refused, r.url).toBeUndefined();
      expect(r.url.startsWith("/workspaces/ws-test/api/v1/")).toBe(true);
      expectedKey(source, r.accessKeyId);
    }
    // AMP serves no /-/healthy: the connection test asked the query API
    expect(seen[0]!.url).toMatch(/^\/workspaces\/ws-test\/api\/v1\/labels/);
  });

  it("assumes the role with the external id, the default session name and lifetime", async () => {
    const calls = sts.calls.filter((c) => c.status === 200);
    expect(calls.length).toBeGreaterThan(0);
    expect(calls[0]).toMatchObject({
      roleArn: ROLE,
      externalId: EXTERNAL_ID,
      roleSessionName: "StackState-Prometheus-Mirror",
      durationSeconds: 900,
      callerKeyId: FUNCTION.accessKeyId,
    });
    // the shared cache: one AssumeRole for all requests of the app and the local server
    // (they share this process's cache; the Lambda handler module has a cache of its own)
    expect(calls.length).toBeLessThanOrEqual(2);
  });

  it("assumes the role with given keys, a session name and lifetime of the request's choosing", async () => {
    const before = sts.calls.length;
    const res = await connection(
      "app",
      details("an assumed role", {
        aws_access_key_id: GIVEN.accessKeyId,
        aws_secret_access_key: GIVEN.secretAccessKey,
        aws_session_token: GIVEN.sessionToken,
        role_session_name: "custom-session",
        token_expiry_seconds: 1800,
      }),
    );
    expect(res.body).toEqual({ _type: "TestConnectionResponse", status: "OK" });
    expect(sts.calls.slice(before)).toEqual([
      expect.objectContaining({
        roleSessionName: "custom-session",
        durationSeconds: 1800,
        callerKeyId: GIVEN.accessKeyId,
        status: 200,
      }),
    ]);
  });

  it("caches the role session until shortly before it expires", async () => {
    let now = Date.now();
    const source = new AwsCredentialSource({ now: () => now });
    const app = await serveApp(
      createMirrorApp({
        config: loadMirrorConfig({ MIRROR_ALLOWED_TARGETS: amp.workspaceUrl() }),
        keys: new StaticKeySource([{ key: MIRROR_KEY }]),
        log: createLogger("error", () => {}),
        awsCredentials: source,
      }),
    );
    try {
      const ask = () =>
        post(
          app.url,
          MIRROR_PATHS.metric,
          PEER_REQUESTS["MetricsRequest/raw.basic"](details("an assumed role")),
        );
      // one Prometheus call (a metric request makes two: the series lookup, then the query)
      const askOnce = () =>
        post(
          app.url,
          MIRROR_PATHS.fieldName,
          PEER_REQUESTS["FieldNamesRequest/empty-conditions"](details("an assumed role")),
        );
      const before = sts.calls.length;
      expect((await ask()).status).toBe(200);
      expect((await ask()).status).toBe(200);
      expect(sts.calls.length - before).toBe(1);
      now += 900_000 - 30_000; // within the last minute of the 900 s session: renewed
      expect((await askOnce()).status).toBe(200);
      expect(sts.calls.length - before).toBe(2);
      expect(source.assumeRoleCalls).toBe(2);
    } finally {
      await app.close();
    }
  });

  it.each(["app", "local", "lambda"])(
    "a wrong secret: the connection test fails naming AMP's reason; a query is an error object (%s)",
    async (front) => {
      const wrong = details("given keys", { aws_secret_access_key: "not-the-secret-0123456789" });
      const test = await connection(front, wrong);
      expect(test.status).toBe(200);
      expect(test.body.status).toBe("FAILURE");
      expect(test.body.error._type).toBe("MetricStoreConnectionError");
      expect(test.body.error.details).toContain("HTTP 403");
      expect(test.body.error.details).toContain("signature we calculated does not match");
      const res = await fronts[front]!(MIRROR_PATHS.metric, PEER_REQUESTS["MetricsRequest/raw.basic"](wrong));
      expect(res.status).toBe(502);
      expect(res.headers.get("x-mirror-api-key")).toBe(MIRROR_KEY);
      expect(res.body._type).toBe("MetricStoreConnectionError");
      expect(res.body.details).toContain("signature we calculated does not match");
      expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts:\d+|Error:/);
    },
  );

  it("a role STS refuses: the connection test fails naming STS's reason", async () => {
    const test = await connection("app", details("an assumed role", { external_id: "wrong-external-id" }));
    expect(test.body.status).toBe("FAILURE");
    expect(test.body.error.details).toContain("AccessDenied");
    expect(test.body.error.details).toContain("aws-credentials-failed");
  });

  it("an expired signature (AMP's clock ahead) is an error object, 500 in MIRROR_ERROR_STATUS=500 mode", async () => {
    const skewed = await startSigV4StandIn({
      target: prometheus.url,
      region: REGION,
      credentials: [GIVEN],
      now: () => Date.now() + 10 * 60_000,
    });
    const native = await serveMirror({});
    const peerStyle = await serveMirror({ MIRROR_ERROR_STATUS: "500" });
    try {
      const body = PEER_REQUESTS["MetricsRequest/raw.basic"]({
        ...details("given keys"),
        url: skewed.workspaceUrl(),
      });
      for (const [mirror, status] of [
        [native, 502],
        [peerStyle, 500],
      ] as const) {
        const res = await post(mirror.url, MIRROR_PATHS.metric, body);
        answers.push(JSON.stringify(res.body));
        expect(res.status).toBe(status);
        expect(res.headers.get("x-mirror-api-key")).toBe(MIRROR_KEY);
        expect(res.body._type).toBe("MetricStoreConnectionError");
        expect(res.body.details).toContain("Signature expired");
      }
      expect(skewed.requests.every((r) => r.refused === "Signature expired")).toBe(true);
    } finally {
      await native.close();
      await peerStyle.close();
      await skewed.close();
    }
  });

  it("refuses url targets outside the allowlist before any call", async () => {
    const base = amp.url; // http://127.0.0.1:PORT
    const host = base.replace("http://", "");
    const before = amp.requests.length;
    const tricks: Array<[string, number]> = [
      [`${base}/workspaces/other/`, 403],
      [`${base}/workspaces/ws-test-2/`, 403],
      [`${base}/workspaces/`, 403],
      [`${base}/`, 403],
      [`http://evil@${host}/workspaces/ws-test/`, 400],
      [`http://${host}@evil.example/workspaces/ws-test/`, 400],
      [`http://${host}/workspaces/ws-test/../other/`, 400],
      [`http://${host}/workspaces/ws-test/%2e%2e/other/`, 400],
      [`http://${host}/workspaces/ws-test%2F..%2Fother/`, 400],
      [`https://${host}/workspaces/ws-test/`, 403],
      [`${sts.url}/workspaces/ws-test/`, 403], // another port
      [`ftp://${host}/workspaces/ws-test/`, 400],
      [`http://localhost:${host.split(":")[1]}/workspaces/ws-test/`, 403],
      [`http://[::1]:${host.split(":")[1]}/workspaces/ws-test/`, 403],
    ];
    for (const [url, status] of tricks) {
      const res = await connection("app", { url, aws: SOURCES["given keys"]() });
      expect(res.status, url).toBe(status);
      expect(res.body._type, url).toBe("RemoteMirrorError");
    }
    // the allowed prefix in another spelling is the same target
    const upper = await connection("app", {
      url: `HTTP://127.0.0.1:${host.split(":")[1]}/workspaces/ws-test`,
      aws: SOURCES["given keys"](),
    });
    expect(upper.body).toEqual({ _type: "TestConnectionResponse", status: "OK" });
    expect(amp.requests.length).toBe(before + 1);
  });

  it("does not follow a redirect: answered as an error, the redirect target never called", async () => {
    let targetCalls = 0;
    const target: Server = createServer((_, res) => {
      targetCalls++;
      res.writeHead(200, { "content-type": "application/json" }).end('{"status":"success","data":[]}');
    });
    const redirector: Server = createServer((req, res) => {
      const port = (target.address() as AddressInfo).port;
      res.writeHead(302, { location: `http://127.0.0.1:${port}${req.url}` }).end();
    });
    await new Promise<void>((r) => target.listen(0, "127.0.0.1", () => r()));
    await new Promise<void>((r) => redirector.listen(0, "127.0.0.1", () => r()));
    const mirror = await serveMirror({});
    try {
      const url = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}/`;
      const res = await post(mirror.url, MIRROR_PATHS.fieldName, {
        connectionDetails: { url },
        query: { conditions: [], ...RANGE },
      });
      expect(res.status).toBe(502);
      expect(res.body.details).toContain("redirect");
      expect(targetCalls).toBe(0);
    } finally {
      await mirror.close();
      await new Promise<void>((r) => redirector.close(() => r()));
      await new Promise<void>((r) => target.close(() => r()));
    }
  });

  it("no secret key, session token or signature in any answer or log line", () => {
    expect(answers.length).toBeGreaterThan(20);
    expect(logLines.length).toBeGreaterThan(10);
    expect(logLines.some((l) => l.includes('"fn":"mirror"'))).toBe(true); // the Lambda handler's own lines too
    const secrets = [
      FUNCTION.secretAccessKey,
      GIVEN.secretAccessKey,
      GIVEN.sessionToken!,
      ...ampCredentials
        .filter((c) => c.accessKeyId.startsWith("ASIA"))
        .flatMap((c) => [c.secretAccessKey, c.sessionToken!]),
      "not-the-secret-0123456789",
    ];
    for (const text of [...answers, ...logLines]) {
      for (const secret of secrets) expect(text).not.toContain(secret);
      expect(text).not.toContain("AWS4-HMAC-SHA256");
      expect(text).not.toMatch(/Signature=|[0-9a-f]{64}/);
    }
  });

  it("the function's region and the workspace host name the signing region", async () => {
    // region_name absent and a URL that is no aps-workspaces host: AWS_REGION of the mirror decides
    const mirror = await serveMirror({ AWS_REGION: REGION });
    const without = await serveMirror({});
    try {
      const aws = {
        aws_access_key_id: GIVEN.accessKeyId,
        aws_secret_access_key: GIVEN.secretAccessKey,
        aws_session_token: GIVEN.sessionToken,
      };
      const ok = await connection2(mirror, { url: amp.workspaceUrl(), aws });
      expect(ok.body).toEqual({ _type: "TestConnectionResponse", status: "OK" });
      const missing = await connection2(without, { url: amp.workspaceUrl(), aws });
      expect(missing.status).toBe(400);
      expect(missing.body.details).toContain("region_name");
    } finally {
      await mirror.close();
      await without.close();
    }
  });

  const connection2 = (mirror: Served, connectionDetails: unknown) =>
    post(mirror.url, MIRROR_PATHS.connection, { connectionDetails });

  it("gauge query through AMP with a metric that does not exist is MetricNotFoundError", async () => {
    const res = await fronts.app!(MIRROR_PATHS.metric, {
      connectionDetails: details("given keys"),
      query: {
        conditions: [{ key: "__gauge__", value: { value: `${PEER_METRIC}_absent` } }],
        startTime: T0,
        endTime: T0 + 60_000,
      },
    });
    expect(res.status).toBe(404);
    expect(res.body._type).toBe("MetricNotFoundError");
  });
});
