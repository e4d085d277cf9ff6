import { createHash, randomUUID } from "node:crypto";
import { Agent, createServer, type IncomingMessage, request, type ServerResponse } from "node:http";
import { type EmbeddedKinesis, startEmbeddedKinesis } from "../../functions/local/embedded-kinesis";
import { AwsJsonClient, KINESIS_SERVICE } from "../../lib/aws/aws-json";
import { listenOnLoopback } from "./listen";

/**
 * A Kinesis front as strict as AWS, in front of a kinesis-local endpoint. Every request
 * passes through unchanged, streamed, headers and all (the caller's SigV4 signature reaches
 * kinesis-local as signed). Kinesis JSON-protocol PutRecords and PutRecord calls
 * (`X-Amz-Target: Kinesis_20131202.PutRecords|PutRecord`, `Content-Type:
 * application/x-amz-json-1.1`) are read first and refused as AWS refuses them, where
 * kinesis-local accepts them:
 *
 * - a record whose data + partition key is over the stream's maximum (kinesis-local counts
 *   the data only, and answers an over-size record with a per-record
 *   `InvalidArgumentException`), a partition key outside 1–256 characters, an
 *   ExplicitHashKey that is not a decimal integer, a call outside 1–500 records: the whole
 *   call, HTTP 400 `ValidationException` ("<k> validation error(s) detected: Value at
 *   'records.<N>.member.data' failed to satisfy constraint: ..."), N 1-based;
 * - an ExplicitHashKey above 2^128−1, and a call whose data + partition keys are over 5 MiB
 *   (kinesis-local takes both): the whole call, HTTP 400 `InvalidArgumentException`;
 * - the per-shard write limits (1 MiB and 1000 records per second by default, over a
 *   sliding one-second window of the `now` clock): records over them answered in place
 *   with `ProvisionedThroughputExceededException`, the rest written in one PutRecords call
 *   and merged back in request order (PutRecord: the whole call, HTTP 400).
 *
 * kinesis-local checks that a call is signed, not what was signed: the records within limits
 * go out with the caller's own headers (Host included) over the smaller body, nothing is
 * signed again. The shards come from one ListShards per stream (the front's own call),
 * cached until refreshShards().
 *
 * Tests can also refuse calls on demand (`refuse`: a whole-call error, or per-record
 * `ProvisionedThroughputExceededException` / `InternalFailure`, the only per-record codes
 * AWS answers) and hold calls in flight (`hold`). Other calls, CBOR calls and bodies that are
 * not JSON objects pass through untouched. Validation comes first, as on AWS; then the
 * hook; then the shard limits.
 */

export const PER_RECORD_CODES = ["ProvisionedThroughputExceededException", "InternalFailure"] as const;
export type PerRecordCode = (typeof PER_RECORD_CODES)[number];

export interface StrictRecord {
  readonly data: Buffer;
  readonly partitionKey: string;
  readonly explicitHashKey?: string;
}

/** A PutRecords or PutRecord call that passed validation, as the hook sees it. */
export interface StrictCall {
  /** 1-based number among the inspected calls. */
  readonly n: number;
  readonly operation: "PutRecords" | "PutRecord";
  readonly streamName: string;
  readonly records: readonly StrictRecord[];
}

/** A whole-call error answered instead of the call: `{"__type": type, "message": message}`. */
export interface CallRefusal {
  readonly status: number;
  readonly type: string;
  readonly message: string;
}

/** Per-record error codes by 0-based index; the other records go on. */
export interface RecordFailures {
  readonly records: Readonly<Record<number, PerRecordCode>>;
}

export type Verdict = CallRefusal | RecordFailures | undefined;
export type RefuseHook = (call: StrictCall) => Verdict | undefined;

export interface StrictKinesisLimits {
  /** Data + partition key of one record (default 1 MiB). */
  readonly maxRecordBytes?: number;
  /** Data + partition keys of one PutRecords call (default 5 MiB). */
  readonly maxCallBytes?: number;
  readonly shardBytesPerSecond?: number;
  readonly shardRecordsPerSecond?: number;
  /** The clock of the shard windows, in ms (default Date.now). */
  readonly now?: () => number;
  /** Named in throughput messages (default kinesis-local's, 000000000000). */
  readonly account?: string;
}

export interface StrictKinesisOptions extends StrictKinesisLimits {
  /** The kinesis-local endpoint, e.g. `http://127.0.0.1:4567`. */
  readonly target: string;
  /** Region of the front's own ListShards calls (default us-east-1). */
  readonly region?: string;
}

export interface StrictKinesisStats {
  /** Every request, inspected or passed through. */
  calls: number;
  /** PutRecords/PutRecord JSON calls read by the front. */
  inspected: number;
  /** Whole-call refusals by `__type`. */
  readonly refused: Record<string, number>;
  readonly refusals: (CallRefusal & { readonly operation: string })[];
  /** Records kinesis-local confirmed. */
  recordsWritten: number;
  /** Records answered ProvisionedThroughputExceededException (window or hook). */
  recordsThrottled: number;
  /** Records answered InternalFailure by the hook. */
  recordsFailed: number;
}

export interface Hold {
  /** Calls waiting now. */
  readonly held: number;
  /** Resolves once `count` calls (default 1) are waiting. */
  arrived(count?: number): Promise<void>;
  /** Lets every held call (and those arriving later) go on. */
  release(): void;
}

export interface StrictKinesis {
  /** `http://127.0.0.1:PORT` */
  readonly endpoint: string;
  readonly stats: StrictKinesisStats;
  /** A hook asked per validated call, or a fixed verdict for every call; undefined clears. */
  refuse(hook: RefuseHook | Verdict): void;
  /** Holds every call arriving from now on until release(); one hold at a time. */
  hold(): Hold;
  /** Forgets the shards read with ListShards (all streams, or one). */
  refreshShards(streamName?: string): void;
  /** Stops the front; rejects with the first misuse of `refuse` seen, if any. */
  stop(): Promise<void>;
}

const MIB = 1024 * 1024;
const MAX_HASH_KEY = (1n << 128n) - 1n;
const HASH_KEY = /^(0|[1-9]\d{0,38})$/;
const JSON_TYPE = "application/x-amz-json-1.1";

interface Shard {
  readonly id: string;
  readonly start: bigint;
  readonly end: bigint;
  /** Writes inside the window: time, bytes. */
  readonly window: { t: number; bytes: number }[];
}

/** What a request body says, once it is known to be a PutRecords/PutRecord JSON object. */
type Body = Record<string, unknown>;
type Entry = Record<string, unknown>;

/** Checks a verdict the way AWS limits answers: whole-call errors 4xx/5xx, per-record codes two. */
export function checkVerdict(verdict: Verdict, records = Number.POSITIVE_INFINITY): Verdict {
  if (verdict === undefined) return undefined;
  if ("records" in verdict) {
    for (const [index, code] of Object.entries(verdict.records)) {
      if (!(PER_RECORD_CODES as readonly string[]).includes(code)) {
        throw new Error(`AWS never answers ${code} per record; only ${PER_RECORD_CODES.join(" or ")}`);
      }
      const i = Number(index);
      if (!Number.isInteger(i) || i < 0 || i >= records) throw new Error(`no record at index ${index}`);
    }
    return verdict;
  }
  if (!Number.isInteger(verdict.status) || verdict.status < 400 || verdict.status > 599 || !verdict.type) {
    throw new Error(`a whole-call refusal needs a 4xx/5xx status and a type, got ${JSON.stringify(verdict)}`);
  }
  return verdict;
}

/** Per-record failures for chosen indexes, checked at once (a code AWS never answers throws). */
export function recordFailures(records: Record<number, PerRecordCode>): RecordFailures {
  return checkVerdict({ records }) as RecordFailures;
}

export async function startStrictKinesis(opts: StrictKinesisOptions): Promise<StrictKinesis> {
  const target = new URL(opts.target);
  const maxRecordBytes = opts.maxRecordBytes ?? MIB;
  const maxCallBytes = opts.maxCallBytes ?? 5 * MIB;
  const bytesPerSecond = opts.shardBytesPerSecond ?? MIB;
  const recordsPerSecond = opts.shardRecordsPerSecond ?? 1000;
  const now = opts.now ?? Date.now;
  const account = opts.account ?? "000000000000";
  const agent = new Agent({ keepAlive: true });
  const lister = new AwsJsonClient({
    service: KINESIS_SERVICE,
    region: opts.region ?? "us-east-1",
    endpoint: opts.target,
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  const stats: StrictKinesisStats = {
    calls: 0,
    inspected: 0,
    refused: {},
    refusals: [],
    recordsWritten: 0,
    recordsThrottled: 0,
    recordsFailed: 0,
  };
  const shards = new Map<string, Promise<Shard[]>>();
  const misuses: Error[] = [];
  let hook: RefuseHook | undefined;
  let gate: { promise: Promise<void>; release(): void; held: number; waiters: (() => void)[] } | undefined;

  /** The open shards of a stream, read once; undefined when kinesis-local cannot list them. */
  async function shardsOf(stream: string): Promise<Shard[] | undefined> {
    let listed = shards.get(stream);
    if (listed === undefined) {
      listed = listShards(lister, stream);
      shards.set(stream, listed);
    }
    try {
      return await listed;
    } catch {
      shards.delete(stream);
      return undefined;
    }
  }

  function refuseCall(res: ServerResponse, operation: string, refusal: CallRefusal): void {
    stats.refused[refusal.type] = (stats.refused[refusal.type] ?? 0) + 1;
    stats.refusals.push({ ...refusal, operation });
    answer(res, refusal.status, { __type: refusal.type, message: refusal.message });
  }

  async function inspect(req: IncomingMessage, res: ServerResponse, operation: "PutRecords" | "PutRecord") {
    const raw = await readBody(req);
    const body = parseObject(raw);
    const stream = body && streamNameOf(body);
    const entries = body && (operation === "PutRecords" ? body.Records : [body]);
    if (body === undefined || stream === undefined) return forward(req, raw, res);
    stats.inspected++;
    const invalid = validate(operation, body, maxRecordBytes, maxCallBytes);
    if (invalid !== undefined) return refuseCall(res, operation, invalid);
    const list = entries as Entry[];
    const records: StrictRecord[] = list.map((e) => ({
      data: Buffer.from(e.Data as string, "base64"),
      partitionKey: e.PartitionKey as string,
      ...(typeof e.ExplicitHashKey === "string" ? { explicitHashKey: e.ExplicitHashKey } : {}),
    }));
    let verdict: Verdict;
    try {
      verdict = checkVerdict(
        hook?.({ n: stats.inspected, operation, streamName: stream, records }),
        list.length,
      );
    } catch (err) {
      misuses.push(err as Error);
      return answer(res, 500, { __type: "StrictKinesisMisuse", message: (err as Error).message });
    }
    if (verdict !== undefined && !("records" in verdict)) return refuseCall(res, operation, verdict);
    const streamShards = await shardsOf(stream);
    if (streamShards === undefined) return forward(req, raw, res);

    // each record: the hook's code, or the shard window's verdict
    const failures: ({ ErrorCode: PerRecordCode; ErrorMessage: string } | undefined)[] = [];
    const at = now();
    records.forEach((record, i) => {
      const code = verdict?.records[i];
      const shard = shardOf(streamShards, record);
      const throttled = `Rate exceeded for shard ${shard?.id} in stream ${stream} under account ${account}.`;
      if (code !== undefined) {
        failures[i] = {
          ErrorCode: code,
          ErrorMessage: code === "InternalFailure" ? "Internal service failure." : throttled,
        };
      } else if (shard !== undefined && !admit(shard, at, recordBytes(list[i]!))) {
        failures[i] = { ErrorCode: "ProvisionedThroughputExceededException", ErrorMessage: throttled };
      }
    });
    for (const f of failures) {
      if (f?.ErrorCode === "InternalFailure") stats.recordsFailed++;
      else if (f !== undefined) stats.recordsThrottled++;
    }
    if (operation === "PutRecord" && failures[0] !== undefined) {
      const internal = failures[0].ErrorCode === "InternalFailure";
      return refuseCall(res, operation, {
        status: internal ? 500 : 400,
        type: failures[0].ErrorCode,
        message: failures[0].ErrorMessage,
      });
    }
    if (!failures.some((f) => f !== undefined)) {
      const out = await exchange(req, raw);
      if (out.status === 200) stats.recordsWritten += countWritten(operation, out.body);
      return relay(res, out);
    }

    // the records within limits go out as one call; their results are put back in place
    const admitted = list.filter((_, i) => failures[i] === undefined);
    const results: unknown[] = failures.slice();
    results.length = list.length;
    let upstream: Body = {};
    if (admitted.length > 0) {
      // the caller's signature covers the whole body; kinesis-local does not recompute it
      const out = await exchange(req, Buffer.from(JSON.stringify({ ...body, Records: admitted })));
      if (out.status !== 200) return relay(res, out);
      upstream = parseObject(out.body) ?? {};
      const written = Array.isArray(upstream.Records) ? (upstream.Records as unknown[]) : [];
      let next = 0;
      for (let i = 0; i < results.length; i++) if (results[i] === undefined) results[i] = written[next++];
      stats.recordsWritten += countWritten(operation, out.body);
    }
    const failed = results.filter((r) => typeof (r as Entry | undefined)?.ErrorCode === "string").length;
    answer(res, 200, { ...upstream, FailedRecordCount: failed, Records: results });
  }

  /** Admits a record's bytes into its shard's window, or refuses it (then it counts for nothing). */
  function admit(shard: Shard, at: number, bytes: number): boolean {
    while (shard.window.length > 0 && shard.window[0]!.t <= at - 1000) shard.window.shift();
    const used = shard.window.reduce((sum, w) => sum + w.bytes, 0);
    if (shard.window.length + 1 > recordsPerSecond || used + bytes > bytesPerSecond) return false;
    shard.window.push({ t: at, bytes });
    return true;
  }

  async function exchange(req: IncomingMessage, body: Buffer): Promise<Exchanged> {
    const headers = withLength(req.rawHeaders, body.length);
    return new Promise((resolve, reject) => {
      const up = request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent },
        (ur) =>
          readBody(ur).then((b) => resolve({ status: ur.statusCode ?? 502, head: ur, body: b }), reject),
      );
      up.on("error", reject);
      up.end(body);
    });
  }

  function forward(req: IncomingMessage, raw: Buffer, res: ServerResponse) {
    return exchange(req, raw).then((out) => relay(res, out));
  }

  /** Streams a request to kinesis-local and its answer back, untouched. */
  function pipeThrough(req: IncomingMessage, res: ServerResponse) {
    const { hostname: host, port } = target;
    const up = request(
      { host, port, method: req.method, path: req.url, headers: req.rawHeaders, agent },
      (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.statusMessage, ur.rawHeaders);
        ur.pipe(res);
      },
    );
    up.on("error", () => req.socket.destroy());
    req.pipe(up);
  }

  const server = createServer((req, res) => {
    stats.calls++;
    const held = gate === undefined ? Promise.resolve() : waitAtGate(gate);
    held
      .then(() => {
        const operation = inspectedOperation(req);
        if (operation === undefined) return pipeThrough(req, res);
        return inspect(req, res, operation);
      })
      // kinesis-local unreachable or gone mid-answer: the caller sees a dead connection
      .catch(() => req.socket.destroy());
  });
  const listening = await listenOnLoopback(server);

  function waitAtGate(g: NonNullable<typeof gate>): Promise<void> {
    g.held++;
    for (const w of g.waiters.splice(0)) w();
    return g.promise;
  }

  return {
    endpoint: listening.url,
    stats,
    refuse(next) {
      if (typeof next === "function" || next === undefined) hook = next;
      else {
        const fixed = checkVerdict(next);
        hook = () => fixed;
      }
    },
    hold() {
      if (gate !== undefined) throw new Error("a hold is already on: release it first");
      let release = () => {};
      const promise = new Promise<void>((resolve) => {
        release = resolve;
      });
      const g = { promise, release, held: 0, waiters: [] as (() => void)[] };
      gate = g;
      return {
        get held() {
          return g.held;
        },
        arrived(count = 1) {
          return new Promise<void>((resolve) => {
            const check = () => (g.held >= count ? resolve() : g.waiters.push(check));
            check();
          });
        },
        release() {
          if (gate === g) gate = undefined;
          g.release();
        },
      };
    },
    refreshShards(streamName) {
      if (streamName === undefined) shards.clear();
      else shards.delete(streamName);
    },
    async stop() {
      gate?.release();
      gate = undefined;
      await listening.close();
      agent.destroy();
      lister.destroy();
      if (misuses.length > 0) throw misuses[0];
    },
  };
}

/** The front's refusals of a body, validation errors first (as AWS validates the request first). */
function validate(
  operation: "PutRecords" | "PutRecord",
  body: Body,
  maxRecordBytes: number,
  maxCallBytes: number,
): CallRefusal | undefined {
  const errors: string[] = [];
  const fails = (path: string, rule: string, value?: unknown) =>
    errors.push(
      `Value ${value === null ? "null " : ""}at '${path}' failed to satisfy constraint: Member must ${rule}`,
    );
  let entries: Entry[] = [];
  if (operation === "PutRecord") entries = [body];
  else if (!Array.isArray(body.Records)) fails("records", "not be null", null);
  else {
    entries = body.Records as Entry[];
    if (entries.length < 1) fails("records", "have length greater than or equal to 1");
    if (entries.length > 500) fails("records", "have length less than or equal to 500");
  }
  entries.forEach((e, i) => {
    const at = operation === "PutRecords" ? `records.${i + 1}.member.` : "";
    const entry = e !== null && typeof e === "object" ? e : {};
    const { Data: data, PartitionKey: key, ExplicitHashKey: hashKey } = entry;
    if (typeof data !== "string") fails(`${at}data`, "not be null", null);
    else if (recordBytes(entry) > maxRecordBytes) {
      fails(`${at}data`, `have length less than or equal to ${maxRecordBytes}`);
    }
    if (typeof key !== "string") fails(`${at}partitionKey`, "not be null", null);
    else if (key.length < 1) fails(`${at}partitionKey`, "have length greater than or equal to 1");
    else if (key.length > 256) fails(`${at}partitionKey`, "have length less than or equal to 256");
    if (
      hashKey !== undefined &&
      hashKey !== null &&
      (typeof hashKey !== "string" || !HASH_KEY.test(hashKey))
    ) {
      fails(`${at}explicitHashKey`, "satisfy regular expression pattern: 0|([1-9]\\d{0,38})");
    }
  });
  if (errors.length > 0) {
    const n = errors.length;
    const message = `${n} validation error${n === 1 ? "" : "s"} detected: ${errors.join("; ")}`;
    return { status: 400, type: "ValidationException", message };
  }
  // Past the model's constraints, the service's own checks. Neither message is in the API
  // reference: an ExplicitHashKey above 2^128−1 gets the range AWS documents for it, and the
  // call size gets the message AWS answers ("Records size exceeds 5 MB limit").
  for (const e of entries) {
    const hashKey = e.ExplicitHashKey;
    if (typeof hashKey === "string" && BigInt(hashKey) > MAX_HASH_KEY) {
      return {
        status: 400,
        type: "InvalidArgumentException",
        message: `Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was ${hashKey}`,
      };
    }
  }
  const total = entries.reduce((sum, e) => sum + recordBytes(e), 0);
  if (operation === "PutRecords" && total > maxCallBytes) {
    const mb = Number((maxCallBytes / MIB).toFixed(3));
    return { status: 400, type: "InvalidArgumentException", message: `Records size exceeds ${mb} MB limit` };
  }
  return undefined;
}

/** The hash key of a record (its ExplicitHashKey, else the MD5 of its partition key) and its shard. */
function shardOf(shards: readonly Shard[], record: StrictRecord): Shard | undefined {
  const hash =
    record.explicitHashKey !== undefined
      ? BigInt(record.explicitHashKey)
      : BigInt(`0x${createHash("md5").update(record.partitionKey, "utf8").digest("hex")}`);
  return shards.find((s) => s.start <= hash && hash <= s.end);
}

async function listShards(client: AwsJsonClient, stream: string): Promise<Shard[]> {
  const out: Shard[] = [];
  let token: string | undefined;
  do {
    const page = (await client.call(
      "ListShards",
      JSON.stringify(token === undefined ? { StreamName: stream } : { NextToken: token }),
    )) as { Shards?: Entry[]; NextToken?: string | null };
    for (const s of page.Shards ?? []) {
      const range = s.HashKeyRange as { StartingHashKey: string; EndingHashKey: string };
      const open = (s.SequenceNumberRange as { EndingSequenceNumber?: string | null }).EndingSequenceNumber;
      if (open !== undefined && open !== null) continue;
      out.push({
        id: s.ShardId as string,
        start: BigInt(range.StartingHashKey),
        end: BigInt(range.EndingHashKey),
        window: [],
      });
    }
    token = page.NextToken ?? undefined;
  } while (token !== undefined);
  return out;
}

/** PutRecords/PutRecord of the Kinesis JSON protocol; anything else (CBOR included) is not read. */
function inspectedOperation(req: IncomingMessage): "PutRecords" | "PutRecord" | undefined {
  const contentType = String(req.headers["content-type"] ?? "")
    .split(";")[0]!
    .trim()
    .toLowerCase();
  if (req.method !== "POST" || contentType !== JSON_TYPE) return undefined;
  const target = String(req.headers["x-amz-target"] ?? "");
  if (target === "Kinesis_20131202.PutRecords") return "PutRecords";
  if (target === "Kinesis_20131202.PutRecord") return "PutRecord";
  return undefined;
}

function streamNameOf(body: Body): string | undefined {
  if (typeof body.StreamName === "string") return body.StreamName;
  if (typeof body.StreamARN === "string") return body.StreamARN.split("/").pop();
  return undefined;
}

/** Decoded data + UTF-8 partition key, as AWS counts a record. */
function recordBytes(entry: Entry): number {
  const data = typeof entry.Data === "string" ? Buffer.byteLength(entry.Data, "base64") : 0;
  const key = typeof entry.PartitionKey === "string" ? Buffer.byteLength(entry.PartitionKey, "utf8") : 0;
  return data + key;
}

function countWritten(operation: string, answerBody: Buffer): number {
  const parsed = parseObject(answerBody);
  if (parsed === undefined) return 0;
  if (operation === "PutRecord") return typeof parsed.SequenceNumber === "string" ? 1 : 0;
  const records = Array.isArray(parsed.Records) ? (parsed.Records as Entry[]) : [];
  return records.filter((r) => typeof r?.SequenceNumber === "string").length;
}

function parseObject(raw: Buffer): Body | undefined {
  try {
    const value: unknown = JSON.parse(raw.toString("utf8"));
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Body) : undefined;
  } catch {
    return undefined;
  }
}

interface Exchanged {
  readonly status: number;
  readonly head: IncomingMessage;
  readonly body: Buffer;
}

function relay(res: ServerResponse, out: Exchanged): void {
  res.writeHead(out.status, out.head.statusMessage, withLength(out.head.rawHeaders, out.body.length));
  res.end(out.body);
}

/** Raw headers with the body's length in place of any Content-Length or Transfer-Encoding. */
function withLength(raw: readonly string[], length: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name !== "content-length" && name !== "transfer-encoding") out.push(raw[i]!, raw[i + 1]!);
  }
  out.push("Content-Length", String(length));
  return out;
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "x-amzn-RequestId": randomUUID(),
    "Content-Type": JSON_TYPE,
    "Content-Length": Buffer.byteLength(text),
  });
  res.end(text);
}

function readBody(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => resolve(Buffer.concat(chunks)));
    stream.on("error", reject);
  });
}

export interface StrictStream {
  readonly kinesis: EmbeddedKinesis;
  readonly strict: StrictKinesis;
  /** The strict front's endpoint. */
  readonly endpoint: string;
  readonly region: string;
  readonly streamName: string;
  stop(): Promise<void>;
}

/** Starts kinesis-local and a strict front over it, and creates an ACTIVE stream. */
export async function startStrictStream(
  opts: StrictKinesisLimits & { readonly streamName: string; readonly shards?: number },
): Promise<StrictStream> {
  const kinesis = await startEmbeddedKinesis();
  let strict: StrictKinesis | undefined;
  try {
    await kinesis.createStream(opts.streamName, opts.shards ?? 1);
    strict = await startStrictKinesis({ ...opts, target: kinesis.endpoint, region: kinesis.region });
  } catch (err) {
    await kinesis.stop();
    throw err;
  }
  const front = strict;
  return {
    kinesis,
    strict: front,
    endpoint: front.endpoint,
    region: kinesis.region,
    streamName: opts.streamName,
    async stop() {
      try {
        await front.stop();
      } finally {
        await kinesis.stop();
      }
    },
  };
}
