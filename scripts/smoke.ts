/**
 * Smoke test of a running gateway (deployed, or the local server):
 *
 *   npm run smoke -- --remote-write-url <url> --mirror-url <url> --api-key <k> --mirror-api-key <k>
 *                    [--prometheus host:port] [--timeout-ms 15000]
 *
 * Sends one sample `smoke_test{job="smoke"}` with remote-write 1.0 (header key and basic
 * auth) and 2.0, checks that a request without a key is refused, then asks the mirror for a
 * connection test and a field-name listing. Prints PASS/FAIL per step; exits 1 when a step
 * fails, 2 on a usage error. Keys are never printed.
 */
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import SnappyJS from "snappyjs";
import { MIRROR_PATHS } from "../lib/core/routes";

export const STEP_NAMES = {
  refusesAnonymous: "remote-write refuses a request without a key",
  writeV1Header: "remote-write 1.0 with the sts-api-key header",
  writeV1Basic: "remote-write 1.0 with basic auth (user apikey)",
  writeV2: "remote-write 2.0 reports the samples written",
  mirrorConnection: "mirror connection test",
  mirrorFieldNames: "mirror field-name listing",
} as const;

const USAGE =
  "usage: npm run smoke -- --remote-write-url <url> --mirror-url <url> --api-key <key> --mirror-api-key <key> [--prometheus host:port] [--timeout-ms ms]";

interface Options {
  remoteWriteUrl: URL;
  mirrorUrl: URL;
  apiKey: string;
  mirrorApiKey: string;
  prometheus: { host: string; port: number };
  timeoutMs: number;
}

// ---------------------------------------------------------------------------------------
// Protobuf, by hand: a handful of fields is all a one-sample WriteRequest needs.

function varint(value: number | bigint): number[] {
  let v = BigInt(value);
  const out: number[] = [];
  while (v > 0x7fn) {
    out.push(Number((v & 0x7fn) | 0x80n));
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}
const tag = (field: number, wireType: number) => varint((field << 3) | wireType);
const bytesField = (field: number, payload: number[]) => [
  ...tag(field, 2),
  ...varint(payload.length),
  ...payload,
];
const stringField = (field: number, text: string) => bytesField(field, [...new TextEncoder().encode(text)]);
function doubleField(field: number, value: number): number[] {
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, value, true);
  return [...tag(field, 1), ...new Uint8Array(buf.buffer)];
}
const int64Field = (field: number, value: number) => [...tag(field, 0), ...varint(value)];

const LABELS: ReadonlyArray<readonly [string, string]> = [
  ["__name__", "smoke_test"],
  ["job", "smoke"],
];

/** prometheus.WriteRequest{timeseries: [{labels, samples: [{value, timestamp}]}]}, snappy block. */
export function writeRequestV1(value: number, timestampMs: number): Uint8Array {
  const labels = LABELS.flatMap(([name, v]) =>
    bytesField(1, [...stringField(1, name), ...stringField(2, v)]),
  );
  const sample = bytesField(2, [...doubleField(1, value), ...int64Field(2, timestampMs)]);
  const request = bytesField(1, [...labels, ...sample]);
  return SnappyJS.compress(new Uint8Array(request));
}

/** io.prometheus.write.v2.Request{symbols, timeseries: [{labels_refs, samples}]}, snappy block. */
export function writeRequestV2(value: number, timestampMs: number): Uint8Array {
  const symbols = ["", ...LABELS.flat()];
  const refs = LABELS.flatMap((_, i) => [...varint(2 * i + 1), ...varint(2 * i + 2)]);
  const series = [
    ...bytesField(1, refs),
    ...bytesField(2, [...doubleField(1, value), ...int64Field(2, timestampMs)]),
  ];
  const request = [...symbols.flatMap((s) => stringField(4, s)), ...bytesField(5, series)];
  return SnappyJS.compress(new Uint8Array(request));
}

// ---------------------------------------------------------------------------------------

class StepFailure extends Error {}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new StepFailure(message);
}

async function describeResponse(res: Response): Promise<string> {
  const text = (await res.text().catch(() => "")).trim().replace(/\s+/g, " ").slice(0, 200);
  return `HTTP ${res.status}${text ? `: ${text}` : ""}`;
}

function basicAuth(key: string): string {
  return `Basic ${Buffer.from(`apikey:${key}`, "utf8").toString("base64")}`;
}

function mirrorEndpoint(base: URL, path: string): URL {
  const root = base.href.endsWith("/") ? base.href : `${base.href}/`;
  return new URL(path.replace(/^\//, ""), root);
}

export async function runSmoke(opts: Options, print: (line: string) => void = console.log): Promise<boolean> {
  const signal = () => AbortSignal.timeout(opts.timeoutMs);
  const now = Date.now();

  const postWrite = (body: Uint8Array, contentType: string, auth: Record<string, string>, version: string) =>
    fetch(opts.remoteWriteUrl, {
      method: "POST",
      headers: {
        "Content-Type": contentType,
        "Content-Encoding": "snappy",
        "X-Prometheus-Remote-Write-Version": version,
        "User-Agent": "prometheus-gateway-smoke/1",
        ...auth,
      },
      body,
      signal: signal(),
    });

  const postMirror = async (path: string, payload: unknown) => {
    const res = await fetch(mirrorEndpoint(opts.mirrorUrl, path), {
      method: "POST",
      headers: { "Content-Type": "application/json", "sts-api-key": opts.mirrorApiKey },
      body: JSON.stringify(payload),
      signal: signal(),
    });
    if (res.status !== 200) throw new StepFailure(`expected 200, got ${await describeResponse(res)}`);
    // StackState trusts the mirror when it answers with the datasource's key.
    check(
      res.headers.get("x-mirror-api-key") === opts.mirrorApiKey,
      "the X-MIRROR-API-KEY response header is missing or differs from --mirror-api-key",
    );
    return (await res.json()) as Record<string, unknown>;
  };

  const expectWritten = async (res: Response) => {
    check(res.status >= 200 && res.status < 300, `expected 2xx, got ${await describeResponse(res)}`);
    return res;
  };

  const steps: Array<[string, () => Promise<string>]> = [
    [
      STEP_NAMES.refusesAnonymous,
      async () => {
        const res = await postWrite(writeRequestV1(1, now), "application/x-protobuf", {}, "0.1.0");
        check(res.status === 401, `expected 401, got ${await describeResponse(res)}`);
        return "401";
      },
    ],
    [
      STEP_NAMES.writeV1Header,
      async () => {
        const res = await expectWritten(
          await postWrite(
            writeRequestV1(1, now),
            "application/x-protobuf",
            { "sts-api-key": opts.apiKey },
            "0.1.0",
          ),
        );
        const version = res.headers.get("x-prometheus-remote-write-version");
        check(
          version === "0.1.0",
          `X-Prometheus-Remote-Write-Version: expected 0.1.0, got ${version ?? "none"}`,
        );
        return `${res.status}`;
      },
    ],
    [
      STEP_NAMES.writeV1Basic,
      async () => {
        const res = await expectWritten(
          await postWrite(
            writeRequestV1(2, now + 1),
            "application/x-protobuf",
            { Authorization: basicAuth(opts.apiKey) },
            "0.1.0",
          ),
        );
        return `${res.status}`;
      },
    ],
    [
      STEP_NAMES.writeV2,
      async () => {
        const res = await expectWritten(
          await postWrite(
            writeRequestV2(3, now + 2),
            "application/x-protobuf;proto=io.prometheus.write.v2.Request",
            { "sts-api-key": opts.apiKey },
            "2.0.0",
          ),
        );
        const written = res.headers.get("x-prometheus-remote-write-samples-written");
        check(
          written === "1",
          `X-Prometheus-Remote-Write-Samples-Written: expected 1, got ${written ?? "none"}`,
        );
        return `${res.status}, 1 sample written`;
      },
    ],
    [
      STEP_NAMES.mirrorConnection,
      async () => {
        const body = await postMirror(MIRROR_PATHS.connection, {
          _type: "TestConnectionRequest",
          connectionDetails: { ...opts.prometheus, requestTimeout: Math.min(opts.timeoutMs, 20_000) },
        });
        check(body._type === "TestConnectionResponse", `unexpected _type ${String(body._type)}`);
        check(
          body.status === "OK",
          `status ${String(body.status)}: ${JSON.stringify(body.error ?? {}).slice(0, 200)}`,
        );
        return `Prometheus at ${opts.prometheus.host}:${opts.prometheus.port} is healthy`;
      },
    ],
    [
      STEP_NAMES.mirrorFieldNames,
      async () => {
        const body = await postMirror(MIRROR_PATHS.fieldName, {
          _type: "FieldNamesRequest",
          connectionDetails: { ...opts.prometheus, requestTimeout: Math.min(opts.timeoutMs, 20_000) },
          query: {
            _type: "FieldNamesQuery",
            conditions: [],
            startTime: now - 3_600_000,
            endTime: now + 60_000,
            limit: 100,
            latestFirst: true,
          },
        });
        check(body._type === "FieldNamesResponse", `unexpected _type ${String(body._type)}`);
        check(Array.isArray(body.fields), "the answer has no `fields` list");
        const names = (body.fields as Array<{ fieldName?: unknown }>).map((f) => String(f.fieldName));
        return `${names.length} field names${names.length ? ` (${names.slice(0, 5).join(", ")}${names.length > 5 ? ", …" : ""})` : ""}`;
      },
    ],
  ];

  let failed = 0;
  for (const [name, step] of steps) {
    try {
      const detail = await step();
      print(`PASS ${name}: ${detail}`);
    } catch (err) {
      failed++;
      const reason =
        err instanceof StepFailure
          ? err.message
          : err instanceof Error
            ? `${err.name}: ${err.message}${err.cause instanceof Error ? ` (${err.cause.message})` : ""}`
            : String(err);
      print(`FAIL ${name}: ${reason}`);
    }
  }
  print(
    failed === 0
      ? `smoke test passed (${steps.length} steps)`
      : `smoke test FAILED (${failed} of ${steps.length} steps failed)`,
  );
  return failed === 0;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      "remote-write-url": { type: "string" },
      "mirror-url": { type: "string" },
      "api-key": { type: "string" },
      "mirror-api-key": { type: "string" },
      prometheus: { type: "string", default: "localhost:9090" },
      "timeout-ms": { type: "string", default: "15000" },
    },
    strict: true,
  });
  const required = ["remote-write-url", "mirror-url", "api-key", "mirror-api-key"] as const;
  const missing = required.filter((name) => !values[name]);
  if (missing.length > 0) throw new Error(`missing ${missing.map((m) => `--${m}`).join(", ")}`);
  const url = (name: "remote-write-url" | "mirror-url") => {
    try {
      const parsed = new URL(values[name]!);
      if (!/^https?:$/.test(parsed.protocol)) throw new Error();
      return parsed;
    } catch {
      throw new Error(`--${name}: not an http(s) URL`);
    }
  };
  const target = /^(.+):(\d{1,5})$/.exec(values.prometheus!);
  if (!target) throw new Error("--prometheus: expected host:port");
  const timeoutMs = Number(values["timeout-ms"]);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100)
    throw new Error("--timeout-ms: expected milliseconds >= 100");
  return {
    remoteWriteUrl: url("remote-write-url"),
    mirrorUrl: url("mirror-url"),
    apiKey: values["api-key"]!,
    mirrorApiKey: values["mirror-api-key"]!,
    prometheus: { host: target[1]!, port: Number(target[2]) },
    timeoutMs,
  };
}

async function main(): Promise<void> {
  let options: Options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  const ok = await runSmoke(options);
  process.exit(ok ? 0 : 1);
}

const invokedAs = process.argv[1] === undefined ? "" : pathToFileURL(realpathSync(process.argv[1])).href;
if (import.meta.url === invokedAs) {
  await main();
}
