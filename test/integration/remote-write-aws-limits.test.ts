import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import SnappyJS from "snappyjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalGateway, startLocalGateway } from "../../functions/local/gateway";
import { localRequestListener } from "../../functions/local/listener";
import { waitFor } from "../../functions/local/ports";
import { apiGatewayHandler } from "../../functions/remote-write/api-gateway";
import { createRemoteWriteEndpoint } from "../../functions/remote-write/endpoint";
import { remoteWriteEndpointFromEnv } from "../../functions/remote-write/wiring";
import { KinesisRecordsClient } from "../../lib/aws/kinesis-records";
import { KinesisSink } from "../../lib/aws/kinesis-sink";
import { StaticKeySource } from "../../lib/core/auth";
import { silentLogger } from "../../lib/core/log";
import { createMemoryMetrics } from "../../lib/core/metrics";
import { REMOTE_WRITE_PATH } from "../../lib/core/routes";
import { DEFAULTS } from "../../lib/ingest/config";
import { Ingestor } from "../../lib/ingest/ingest";
import type { RecordSink } from "../../lib/ingest/sink";
import { httpApiEvent } from "../fixtures/api-gateway";
import { ingestSettings, type SeriesSpec, snappy, v1Message, v2Message } from "../fixtures/remote-write";
import { streamContents } from "../support/stream";
import { type StrictCall, type StrictStream, startStrictStream } from "../support/strict-kinesis";

/**
 * AWS's real limits, through a Kinesis front that refuses what AWS refuses as AWS refuses it
 * (test/support/strict-kinesis.ts over kinesis-local): a request that can never succeed is
 * answered 400 with the rest written, never 503; a refused record in a call shared by several
 * requests fails only its own request; senders resending such a request slow no one else.
 */
const KEY = "limits-key-7f21";
const STREAM = "limits";
const HELP = "h".repeat(1.3 * 1024 * 1024);
const V1 = { "content-type": "application/x-protobuf", "content-encoding": "snappy" };
const V2 = { ...V1, "content-type": "application/x-protobuf;proto=io.prometheus.write.v2.Request" };

let stream: StrictStream;
let gateway: LocalGateway;

beforeAll(async () => {
  stream = await startStrictStream({ streamName: STREAM, shards: 2 });
  gateway = await startLocalGateway({
    port: 0,
    apiKey: KEY,
    mirrorApiKey: "limits-mirror-key-0c4e",
    env: {
      KINESIS_ENDPOINT: stream.endpoint,
      KINESIS_STREAM_NAME: STREAM,
      AWS_REGION: stream.region,
      LOG_LEVEL: "error",
    },
  });
}, 90_000);

afterAll(async () => {
  await gateway?.stop();
  await stream?.stop();
});

const series = (name: string, job: string, n = 3): SeriesSpec => ({
  labels: [
    ["__name__", name],
    ["job", job],
  ],
  samples: Array.from({ length: n }, (_, i) => ({ value: i, timestamp: 1_700_000_000_000 + i * 15_000 })),
});

/** A request carrying two valid series and metadata whose help is 1.3 MB. */
function oversizeMetadata(version: "v1" | "v2", job: string): Uint8Array {
  if (version === "v1") {
    const metadata = [{ type: "COUNTER", metric_family_name: "big_total", help: HELP, unit: "" }];
    return snappy(v1Message([series("big_total", job), series("small", job)], metadata));
  }
  return snappy(
    v2Message([
      { ...series("big_total", job), metadata: { type: "COUNTER", help: HELP, unit: "" } },
      series("small", job),
    ]),
  );
}

async function post(url: string, headers: Record<string, string>, body: Uint8Array) {
  const res = await fetch(`${url}${REMOTE_WRITE_PATH}`, {
    method: "POST",
    headers: { "sts-api-key": KEY, ...headers },
    body,
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** Series of one job in the stream: their names, with how many copies of each. */
async function written(job: string) {
  const { series: all } = await streamContents(stream.kinesis.client, STREAM);
  const counts = new Map<string, number>();
  for (const s of all)
    if (s.labels.job === job) counts.set(s.labels.__name__!, (counts.get(s.labels.__name__!) ?? 0) + 1);
  return counts;
}

describe.each(["v1", "v2"] as const)("metadata over the limit (%s)", (version) => {
  const headers = version === "v1" ? V1 : V2;

  it("through the local server: 400 with the rest written, nothing refused by Kinesis", async () => {
    const job = `local-${version}`;
    const refusalsBefore = stream.strict.stats.refusals.length;
    const res = await post(gateway.url, headers, oversizeMetadata(version, job));
    expect(res.status).toBe(400);
    expect(res.text).toMatch(/metadata-too-long: 1/);
    expect(res.text).toMatch(/wrote 2 series, 6 samples/);
    if (version === "v2") expect(res.headers.get("x-prometheus-remote-write-samples-written")).toBe("6");
    expect(stream.strict.stats.refusals.length).toBe(refusalsBefore);
    expect(await written(job)).toEqual(
      new Map([
        ["big_total", 1],
        ["small", 1],
      ]),
    );
  });

  it("through the Lambda handler: 400 with the rest written, nothing refused by Kinesis", async () => {
    const job = `lambda-${version}`;
    const { endpoint } = remoteWriteEndpointFromEnv(
      {
        KINESIS_ENDPOINT: stream.endpoint,
        KINESIS_STREAM_NAME: STREAM,
        AWS_REGION: stream.region,
        API_KEY: KEY,
        LOG_LEVEL: "error",
      },
      createMemoryMetrics(),
    );
    const refusalsBefore = stream.strict.stats.refusals.length;
    const result = await apiGatewayHandler(endpoint)(
      httpApiEvent(REMOTE_WRITE_PATH, { "sts-api-key": KEY, ...headers }, oversizeMetadata(version, job)),
      { getRemainingTimeInMillis: () => 29_000 },
    );
    expect(result.statusCode).toBe(400);
    expect(result.body).toMatch(/metadata-too-long: 1/);
    expect(stream.strict.stats.refusals.length).toBe(refusalsBefore);
    expect(await written(job)).toEqual(
      new Map([
        ["big_total", 1],
        ["small", 1],
      ]),
    );
  });
});

/** Whether a record of the call carries `marker` (records are snappy-compressed messages). */
const carries = (call: StrictCall, marker: string) =>
  call.records.map((r) => Buffer.from(SnappyJS.uncompress(r.data)).includes(marker));

describe("a call refused while other requests ride in it", () => {
  /**
   * The local server's listener and endpoint over a sink with one call slot, writing to the
   * strict front; the sink is wrapped only to count the puts that reached it.
   */
  async function singleSlotServer() {
    const metrics = createMemoryMetrics();
    const client = KinesisRecordsClient.create({ region: stream.region, endpoint: stream.endpoint });
    const sink = new KinesisSink(
      client,
      { streamName: STREAM, concurrency: 1, deadlineMs: 10_000, retryAfterSeconds: 5 },
      silentLogger,
      metrics,
    );
    let puts = 0;
    const counted: RecordSink = {
      put: (records, deadline) => {
        puts++;
        return sink.put(records, deadline);
      },
    };
    const endpoint = createRemoteWriteEndpoint({
      ingestor: new Ingestor(ingestSettings({ streamShards: 1 })),
      maxBodyBytes: DEFAULTS.maxBodyBytes,
      keys: new StaticKeySource([{ key: KEY }]),
      sink: counted,
      log: silentLogger,
      metrics,
    });
    const server = createServer(localRequestListener(endpoint, () => new Response("", { status: 404 })));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const close = () => {
      client.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    };
    return { url, metrics, puts: () => puts, close };
  }

  it.each([
    ["naming the refused entry", true],
    ["naming none", false],
  ])(
    "writes every other request's records and refuses only the one that caused it (AWS %s)",
    async (_, names) => {
      const job = `shared-${names ? "named" : "unnamed"}`;
      const server = await singleSlotServer();
      const refused: number[] = [];
      stream.strict.refuse((call) => {
        const poisoned = carries(call, "poison_metric");
        const at = poisoned.indexOf(true);
        if (at < 0) return undefined;
        refused.push(call.records.length);
        return {
          status: 400,
          type: "ValidationException",
          message: names
            ? `1 validation error detected: Value at 'records.${at + 1}.member.data' failed to satisfy constraint: Member must have length less than or equal to 1048576`
            : "1 validation error detected",
        };
      });
      try {
        // the one call slot is held busy, so the next requests queue and share the next call
        const hold = stream.strict.hold();
        const first = post(server.url, V1, snappy(v1Message([series("first", job)])));
        await hold.arrived(1);
        const others = Array.from({ length: 6 }, (_, i) =>
          post(server.url, V1, snappy(v1Message([series(`ordinary_${i}`, job)]))),
        );
        const poison = post(server.url, V1, snappy(v1Message([series("poison_metric", job)])));
        await waitFor("every request to reach the sink", async () => server.puts() === 8, 10_000, 5);
        hold.release();
        expect((await first).status).toBe(204);
        const bad = await poison;
        expect(bad.status).toBe(400);
        expect(bad.text).toMatch(/the stream refused 1 of 1 records of this request \(ValidationException\)/);
        for (const answer of await Promise.all(others)) expect(answer.status).toBe(204);
        // the refused call carried all seven queued requests' records
        expect(refused[0]).toBe(7);
        const names7 = await written(job);
        expect(names7.get("poison_metric")).toBeUndefined();
        expect(names7.get("first")).toBe(1);
        for (let i = 0; i < 6; i++) expect(names7.get(`ordinary_${i}`)).toBe(1);
        expect(server.metrics.totals.get("RecordsRefused")).toBe(1);
      } finally {
        stream.strict.refuse(undefined);
        await server.close();
      }
    },
  );
});

describe("senders resending a request that can never succeed", () => {
  it("answer it 400 at once, every time, while an ordinary sender is answered as usual", async () => {
    const job = "resend";
    const refusalsBefore = stream.strict.stats.refusals.length;
    const resends = 8;
    let stop = false;
    const sender = async (k: number) => {
      const statuses: number[] = [];
      for (let i = 0; i < resends && !stop; i++) {
        const version = (k + i) % 2 === 0 ? "v1" : "v2";
        const res = await post(
          gateway.url,
          version === "v1" ? V1 : V2,
          oversizeMetadata(version, `${job}-bad`),
        );
        statuses.push(res.status);
      }
      return statuses;
    };
    const bad = [0, 1, 2, 3].map(sender);
    const ordinary: { status: number; ms: number }[] = [];
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      const res = await post(gateway.url, V1, snappy(v1Message([series(`ok_${i}`, job)])));
      ordinary.push({ status: res.status, ms: performance.now() - started });
    }
    stop = true;
    const badStatuses = (await Promise.all(bad)).flat();
    const ms = ordinary.map((o) => o.ms).sort((x, y) => x - y);
    console.log(
      `beside 4 senders resending a request that can never succeed (${badStatuses.length} answers): ` +
        `ordinary requests median ${ms[ms.length >> 1]!.toFixed(1)} ms, max ${ms[ms.length - 1]!.toFixed(1)} ms`,
    );
    expect(badStatuses.length).toBeGreaterThan(0);
    expect(new Set(badStatuses)).toEqual(new Set([400]));
    expect(ordinary.every((o) => o.status === 204)).toBe(true);
    // before, each took 1.5–9.3 s while the call slots retried refused entries to their deadline
    expect(Math.max(...ordinary.map((o) => o.ms))).toBeLessThan(3_000);
    expect(stream.strict.stats.refusals.length).toBe(refusalsBefore);
    const names = await written(job);
    for (let i = 0; i < 20; i++) expect(names.get(`ok_${i}`)).toBe(1);
  }, 60_000);
});
