import { type EmbeddedDynamoDB, startEmbeddedDynamoDB } from "../functions/local/embedded-dynamodb";
import { DynamoReplicaStore } from "../lib/aws/dynamo-replica-store";
import { silentLogger } from "../lib/core/log";
import { HA_STORE_OPERATIONS, METRIC_NAMES } from "../lib/core/metric-names";
import { createMemoryMetrics } from "../lib/core/metrics";
import { HA_FAILOVER_TIMEOUT_SECONDS, HA_UPDATE_TIMEOUT_SECONDS, maxJitterMs } from "../lib/ha/config";
import type { ReplicaStore, StoreOperation } from "../lib/ha/store";
import { ReplicaTracker } from "../lib/ha/tracker";
import { prng } from "../test/fixtures/damaged-corpus";
import { measureRecordFormats } from "./economics";
import { fmt, table } from "./measure";
import { default2k } from "./payloads";
import { PRICES } from "./shards";

/**
 * Part: what HA-pair deduplication costs in DynamoDB. The real ReplicaTracker over the real
 * DynamoReplicaStore against dynalite (the local server's DynamoDB API), on a virtual clock:
 * per cluster a pair of replicas each sending a 2000-sample request every 200 ms (10,000
 * samples/s), spread over `instances` function instances (each its own tracker, cache and
 * jitter, like warm Lambda instances) at random with a fixed seed, for 30 virtual minutes, at
 * the default update (15 s + up to 5 s jitter) and failover (30 s) timeouts. Requests are
 * decided one after another in time order, so a run is the same every time.
 *
 * Counted: every store call by operation, and the conditional writes that did not hold; per
 * million samples received (both replicas) and written (the elected one), in steady state
 * (after the first virtual minutes, when every cluster is elected and every instance has
 * read it). Dollars at DynamoDB's on-demand list prices in us-east-1 (DYNAMODB_PRICES). One
 * failover: the elected replica of one cluster stops for 60 virtual seconds; its cost is the
 * calls of that run less those of the same run without it.
 */

/** On-demand, us-east-1, at the time of writing: per request unit. */
export const DYNAMODB_PRICES = {
  writeRequestUnit: 0.625 / 1e6,
  readRequestUnit: 0.125 / 1e6,
} as const;

/**
 * Request units per call, for items far below 1 KB: a write (PutItem, UpdateItem) is 1 WRU
 * whether its condition holds or not; a strongly consistent GetItem is 1 RRU; the Query that
 * counts a tenant's clusters is eventually consistent, 0.5 RRU per 4 KB read (a tenant's
 * items are far below 4 KB).
 */
const UNITS: Record<StoreOperation, { wru: number; rru: number }> = {
  GetItem: { wru: 0, rru: 1 },
  PutItem: { wru: 1, rru: 0 },
  UpdateItem: { wru: 1, rru: 0 },
  Query: { wru: 0, rru: 0.5 },
};

const SAMPLES_PER_REQUEST = 2000;
const SAMPLES_PER_SECOND = 10_000;
const INTERVAL_MS = (SAMPLES_PER_REQUEST / SAMPLES_PER_SECOND) * 1000;
/** Each request is sent up to this far either side of its replica's 200 ms beat. */
const SEND_JITTER_MS = 20;
const UPDATE_MS = HA_UPDATE_TIMEOUT_SECONDS.default * 1000;
const FAILOVER_MS = HA_FAILOVER_TIMEOUT_SECONDS.default * 1000;
const OUTAGE_MS = 60_000;
const T0 = Date.UTC(2025, 0, 1);
const SEED = 0x5eed_4a11;
const TABLE = "bench-ha-replicas";
/** [clusters, instances]: 2 instances are the example of docs/deploy.md (one pair, about two warm instances). */
const CASES = [
  [1, 1],
  [1, 2],
  [1, 4],
  [1, 10],
  [10, 1],
  [10, 4],
  [10, 10],
] as const;

export interface HaCase {
  readonly clusters: number;
  readonly instances: number;
  /** The elected replica of cluster 0 stops for OUTAGE_MS at a third of the run. */
  readonly failover: boolean;
}

export interface HaRow extends HaCase {
  readonly minutes: number;
  /** Steady state: samples received (both replicas) and written (the elected replica's). */
  readonly received: number;
  readonly written: number;
  /** Steady state: calls by operation, and conditional writes that did not hold. */
  readonly calls: Record<StoreOperation, number>;
  readonly lostConditions: number;
  /** Calls from the outage's start (or when it would start) until the elected replica has been back for an update interval. */
  readonly outageCalls: Record<StoreOperation, number>;
  readonly elections: number;
  readonly failovers: number;
  /** With `failover`: from the last sample written before the outage to the first after (ms). */
  readonly gapMs?: number;
}

const zero = (): Record<StoreOperation, number> =>
  Object.fromEntries(HA_STORE_OPERATIONS.map((op) => [op, 0])) as Record<StoreOperation, number>;

/**
 * The store, with every call counted by operation (and the lost conditions) once `counting`
 * is on, and every call's virtual time and operation kept.
 */
function counted(store: ReplicaStore, clock: () => number) {
  const all = zero();
  const steady = zero();
  const c = { counting: false, all, steady, lostConditions: 0, log: [] as [number, StoreOperation][] };
  const note = (op: StoreOperation) => {
    all[op]++;
    if (c.counting) steady[op]++;
    c.log.push([clock(), op]);
  };
  const held = (ok: boolean) => {
    if (!ok && c.counting) c.lostConditions++;
    return ok;
  };
  const wrapped: ReplicaStore = {
    get(...a) {
      note("GetItem");
      return store.get(...a);
    },
    async create(...a) {
      note("PutItem");
      return held(await store.create(...a));
    },
    async replace(...a) {
      note("UpdateItem");
      return held(await store.replace(...a));
    },
    async refresh(...a) {
      note("UpdateItem");
      return held(await store.refresh(...a));
    },
    liveClusters(...a) {
      note("Query");
      return store.liveClusters(...a);
    },
  };
  return { store: wrapped, counts: c };
}

async function runCase(db: EmbeddedDynamoDB, k: HaCase, minutes: number): Promise<HaRow> {
  const rng = prng(SEED + k.clusters * 1000 + k.instances).next;
  const dynamo = DynamoReplicaStore.create({
    tableName: TABLE,
    region: db.region,
    endpoint: db.endpoint,
    env: {},
  });
  let now = T0;
  const { store, counts } = counted(dynamo, () => now);
  const metrics = createMemoryMetrics();
  const settings = {
    updateTimeoutMs: UPDATE_MS,
    maxJitterMs: maxJitterMs(UPDATE_MS),
    failoverTimeoutMs: FAILOVER_MS,
    maxClusters: 100,
  };
  const trackers = Array.from(
    { length: k.instances },
    () => new ReplicaTracker({ settings, store, log: silentLogger, metrics, now: () => now, random: rng }),
  );
  // every request of the run, in time order: [time, cluster, replica]
  const end = T0 + minutes * 60_000;
  const events: [number, number, number][] = [];
  for (let cluster = 0; cluster < k.clusters; cluster++)
    for (let replica = 0; replica < 2; replica++) {
      const phase = rng() * INTERVAL_MS;
      for (let t = T0 + phase; t < end; t += INTERVAL_MS)
        events.push([Math.round(t + (rng() * 2 - 1) * SEND_JITTER_MS), cluster, replica]);
    }
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
  // steady state: once every cluster is elected and every instance has read it
  const steadyFrom = T0 + Math.min(2, minutes / 3) * 60_000;
  const outageFrom = outageStart(minutes);
  const tenant = `bench-${k.clusters}c-${k.instances}i${k.failover ? "-failover" : ""}`;
  const elected = new Map<number, number>();
  let stopped: number | undefined;
  let lastWritten = 0;
  let gapMs: number | undefined;
  let received = 0;
  let written = 0;
  try {
    for (const [t, cluster, replica] of events) {
      now = t;
      if (k.failover && cluster === 0 && t >= outageFrom && t < outageFrom + OUTAGE_MS) {
        stopped ??= elected.get(0);
        if (replica === stopped) continue;
      }
      counts.counting = t >= steadyFrom;
      const tracker = trackers[Math.floor(rng() * trackers.length)]!;
      const decision = await tracker.decide(tenant, `cluster-${cluster}`, `replica-${replica}`);
      const steady = t >= steadyFrom;
      if (steady) received += SAMPLES_PER_REQUEST;
      if (decision.outcome !== "accept") continue;
      if (steady) written += SAMPLES_PER_REQUEST;
      elected.set(cluster, replica);
      if (cluster === 0 && stopped !== undefined && gapMs === undefined && replica !== stopped)
        gapMs = t - lastWritten;
      if (cluster === 0) lastWritten = t;
    }
  } finally {
    dynamo.destroy();
  }
  return {
    ...k,
    minutes,
    received,
    written,
    calls: counts.steady,
    lostConditions: counts.lostConditions,
    outageCalls: countIn(counts.log, outageFrom, outageFrom + OUTAGE_WINDOW_MS),
    elections: metrics.totals.get(METRIC_NAMES.haElections) ?? 0,
    failovers: metrics.totals.get(METRIC_NAMES.haFailovers) ?? 0,
    ...(gapMs === undefined ? {} : { gapMs }),
  };
}

/** When the outage of a run of `minutes` starts: at a third of it. */
const outageStart = (minutes: number) => T0 + (minutes / 3) * 60_000;
/** The outage, and then the longest update interval: every instance has seen the election settle. */
const OUTAGE_WINDOW_MS = OUTAGE_MS + UPDATE_MS + maxJitterMs(UPDATE_MS);

function countIn(log: readonly [number, StoreOperation][], from: number, to: number) {
  const calls = zero();
  for (const [t, op] of log) if (t >= from && t < to) calls[op]++;
  return calls;
}

const sum = (calls: Record<StoreOperation, number>) =>
  HA_STORE_OPERATIONS.reduce((n, op) => n + calls[op], 0);

/** Dollars for these calls at on-demand prices. */
export function dollarsOf(calls: Record<StoreOperation, number>): number {
  return HA_STORE_OPERATIONS.reduce(
    (d, op) =>
      d +
      calls[op] *
        (UNITS[op].wru * DYNAMODB_PRICES.writeRequestUnit + UNITS[op].rru * DYNAMODB_PRICES.readRequestUnit),
    0,
  );
}

/** Calls per million samples (received or written), all and by operation. */
const perM = (calls: Record<StoreOperation, number>, samples: number) => (sum(calls) / samples) * 1e6;

/**
 * The estimate docs/ingest.md gives per million samples received at these rates: one UpdateItem
 * per update interval U' (the update timeout plus the mean jitter) and one GetItem per further
 * instance.
 */
function docsFormula(instances: number): number {
  const meanUpdateSeconds = (UPDATE_MS + maxJitterMs(UPDATE_MS) / 2) / 1000;
  return (instances * 1e6) / (2 * SAMPLES_PER_SECOND * meanUpdateSeconds);
}

export async function measureHa(
  quick: boolean,
  log: (line: string) => void,
): Promise<{ rows: HaRow[]; kinesisPerM: number }> {
  const minutes = quick ? 10 : 30;
  const db = await startEmbeddedDynamoDB();
  const rows: HaRow[] = [];
  try {
    await db.createReplicaTable(TABLE);
    for (const [clusters, instances] of CASES) {
      const started = performance.now();
      rows.push(await runCase(db, { clusters, instances, failover: false }, minutes));
      log(
        `  HA: ${clusters} cluster(s), ${instances} instance(s): ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
    }
    for (const instances of [1, 4, 10])
      rows.push(await runCase(db, { clusters: 1, instances, failover: true }, minutes));
  } finally {
    await db.stop();
  }
  // the gateway's own records of a 2000-sample request, billed on-demand: what each dropped sample saves
  const today = measureRecordFormats([default2k()], PRICES.onDemandPerGB).find((r) =>
    r.format.startsWith("today"),
  );
  return { rows, kinesisPerM: today?.dollarsPerM ?? Number.NaN };
}

const byOp = (calls: Record<StoreOperation, number>, samples: number) =>
  HA_STORE_OPERATIONS.filter((op) => calls[op] > 0)
    .map((op) => `${op} ${fmt((calls[op] / samples) * 1e6)}`)
    .join(", ");

export async function haPart(
  quick: boolean,
  log: (line: string) => void,
  summary: string[][],
): Promise<string[]> {
  log("part: HA-pair deduplication in DynamoDB");
  const { rows, kinesisPerM } = await measureHa(quick, log);
  const steady = rows.filter((r) => !r.failover);
  const minutes = rows[0]?.minutes ?? 0;
  const section = [
    "",
    "## HA-pair deduplication: DynamoDB calls and dollars per million samples",
    "",
    `The real tracker and DynamoDB store against dynalite, on a virtual clock: per cluster two replicas each sending a ${SAMPLES_PER_REQUEST}-sample request every ${INTERVAL_MS} ms ` +
      `(${fmt(SAMPLES_PER_SECOND)} samples/s, ±${SEND_JITTER_MS} ms), each request to one of the function instances at random (fixed seed; each instance its own tracker, cache and jitter), ` +
      `${minutes} virtual minutes at the default timeouts (update ${UPDATE_MS / 1000} s plus up to ${maxJitterMs(UPDATE_MS) / 1000} s jitter, failover ${FAILOVER_MS / 1000} s). ` +
      "Steady state: the calls and samples after the first two virtual minutes. Dollars at DynamoDB on-demand list prices in us-east-1 " +
      `($${DYNAMODB_PRICES.writeRequestUnit * 1e6} per million write request units, $${DYNAMODB_PRICES.readRequestUnit * 1e6} per million read request units; ` +
      "a write of an item under 1 KB is 1 WRU whether its condition holds or not, a strongly consistent GetItem 1 RRU, the eventually consistent Query 0.5). " +
      `The estimate (docs/ingest.md): N × 10^6 / (2 · S · U') calls per million samples received, one write per update interval U' = ${(UPDATE_MS + maxJitterMs(UPDATE_MS) / 2) / 1000} s (the mean) and one read per further instance.`,
    "",
    table(
      [
        "clusters",
        "instances",
        "calls / M samples received",
        "by operation",
        "lost conditions / M received",
        "calls / M samples written",
        "DynamoDB $ / M samples received",
        "$ / M samples written",
        "estimate N · 10^6 / (2 · S · U')",
      ],
      steady.map((r) => [
        String(r.clusters),
        String(r.instances),
        fmt(perM(r.calls, r.received)),
        byOp(r.calls, r.received),
        fmt((r.lostConditions / r.received) * 1e6),
        fmt(perM(r.calls, r.written)),
        `$${((dollarsOf(r.calls) / r.received) * 1e6).toFixed(7)}`,
        `$${((dollarsOf(r.calls) / r.written) * 1e6).toFixed(7)}`,
        fmt(docsFormula(r.instances)),
      ]),
    ),
    "",
    `Against that, the second replica's samples never reach the stream: the gateway's own records of a ${SAMPLES_PER_REQUEST}-sample request cost ` +
      `$${kinesisPerM.toFixed(5)} per million samples written on-demand ($${PRICES.onDemandPerGB} per GB, each record rounded up to 1 KiB), ` +
      `so deduplicating a pair saves $${(kinesisPerM / 2).toFixed(5)} per million samples received (half of them dropped), ` +
      `${fmt(kinesisPerM / 2 / ((dollarsOf(steady[0]!.calls) / steady[0]!.received) * 1e6))} times the DynamoDB cost of one cluster on one instance.`,
    "",
    `One failover: the elected replica of a single cluster stops for ${OUTAGE_MS / 1000} virtual s at a third of the run. ` +
      `Calls from its stop until ${(OUTAGE_WINDOW_MS - OUTAGE_MS) / 1000} s after it is back (the longest update interval: every instance has seen the election settle), ` +
      "against the same window of the same run without the outage (same seed); and the time the pair had no sample written.",
    "",
    table(
      [
        "instances",
        "failovers",
        "calls in the window",
        "same window, no outage",
        "extra calls (negative: fewer)",
        "extra $",
        "time with nothing written",
      ],
      rows
        .filter((r) => r.failover)
        .map((r) => {
          const base = steady.find((s) => s.clusters === r.clusters && s.instances === r.instances)!;
          const extra = zero();
          for (const op of HA_STORE_OPERATIONS) extra[op] = r.outageCalls[op] - base.outageCalls[op];
          const listed = (calls: Record<StoreOperation, number>) =>
            `${sum(calls)} (${HA_STORE_OPERATIONS.filter((op) => calls[op] !== 0)
              .map((op) => `${op} ${calls[op]}`)
              .join(", ")})`;
          return [
            String(r.instances),
            String(r.failovers),
            listed(r.outageCalls),
            listed(base.outageCalls),
            String(sum(extra)),
            `${dollarsOf(extra) < 0 ? "−" : ""}$${Math.abs(dollarsOf(extra)).toFixed(8)}`,
            r.gapMs === undefined ? "–" : `${fmt(r.gapMs / 1000)} s`,
          ];
        }),
    ),
  ];
  const one = steady.filter((r) => r.clusters === 1);
  summary.push(
    [
      "HA deduplication: DynamoDB calls · $ per M samples received, 1 cluster, 1 / 2 / 4 / 10 instances",
      "(measured)",
      one
        .map(
          (r) =>
            `${fmt(perM(r.calls, r.received))} · $${((dollarsOf(r.calls) / r.received) * 1e6).toFixed(7)}`,
        )
        .join(" / "),
      "",
    ],
    [
      "HA deduplication: Kinesis on-demand $ saved per M samples received (the second replica's records)",
      "(measured)",
      `$${(kinesisPerM / 2).toFixed(5)}`,
      "",
    ],
  );
  return section;
}
