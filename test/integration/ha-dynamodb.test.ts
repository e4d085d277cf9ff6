import { createServer, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedDynamoDB, startEmbeddedDynamoDB } from "../../functions/local/embedded-dynamodb";
import { DynamoReplicaStore } from "../../lib/aws/dynamo-replica-store";
import { createLogger } from "../../lib/core/log";
import { createMemoryMetrics } from "../../lib/core/metrics";
import type { ReplicaStore } from "../../lib/ha/store";
import { HA_TABLE, STALE_CLUSTER_SECONDS } from "../../lib/ha/table";
import { ReplicaStoreUnavailableError, ReplicaTracker } from "../../lib/ha/tracker";

/**
 * The DynamoDB store against dynalite, a DynamoDB API in Node with real conditional writes,
 * on 127.0.0.1: its operations, two tracker instances electing at once, and the table gone.
 */
const TABLE = "ha-replicas";
let db: EmbeddedDynamoDB;
const stores: DynamoReplicaStore[] = [];

beforeAll(async () => {
  db = await startEmbeddedDynamoDB();
  await db.createReplicaTable(TABLE);
});

afterAll(async () => {
  for (const s of stores) s.destroy();
  await db?.stop();
});

function store(endpoint = db.endpoint): DynamoReplicaStore {
  const s = DynamoReplicaStore.create({ tableName: TABLE, region: "us-east-1", endpoint, env: {} });
  stores.push(s);
  return s;
}

const signal = () => AbortSignal.timeout(5_000);
const NOW = Date.now();

function tracker(s: ReplicaStore, now = () => NOW) {
  const metrics = createMemoryMetrics();
  const t = new ReplicaTracker({
    settings: { updateTimeoutMs: 15_000, maxJitterMs: 5_000, failoverTimeoutMs: 30_000, maxClusters: 100 },
    store: s,
    log: createLogger("error"),
    metrics,
    now,
    random: () => 0.5,
  });
  return { t, metrics };
}

describe("DynamoReplicaStore on dynalite", () => {
  it("creates only when absent, replaces only what it expects, reads consistently", async () => {
    const s = store();
    const a = { replica: "a", receivedAt: NOW };
    expect(await s.get("t1", "c1", signal())).toBeUndefined();
    expect(await s.create("t1", "c1", a, signal())).toBe(true);
    expect(await s.create("t1", "c1", { replica: "b", receivedAt: NOW }, signal())).toBe(false);
    expect(await s.get("t1", "c1", signal())).toEqual(a);
    const b = { replica: "b", receivedAt: NOW + 40_000 };
    expect(await s.replace("t1", "c1", { replica: "a", receivedAt: NOW - 1 }, b, signal())).toBe(false);
    expect(await s.replace("t1", "c1", { replica: "b", receivedAt: NOW }, b, signal())).toBe(false);
    expect(await s.replace("t1", "c1", a, b, signal())).toBe(true);
    expect(await s.get("t1", "c1", signal())).toEqual(b);
    // a replace of an item that is not there does not create it
    expect(await s.replace("t1", "gone", a, b, signal())).toBe(false);
    expect(await s.get("t1", "gone", signal())).toBeUndefined();
  });

  it("refreshes the elected replica whoever wrote it last, and only while it is elected", async () => {
    const s = store();
    expect(await s.create("t1", "r1", { replica: "a", receivedAt: NOW }, signal())).toBe(true);
    // another instance's refresh came in between: a refresh does not need to know it
    expect(await s.refresh("t1", "r1", "a", NOW + 15_000, signal())).toBe(true);
    expect(await s.refresh("t1", "r1", "a", NOW + 16_000, signal())).toBe(true);
    expect(await s.get("t1", "r1", signal())).toEqual({ replica: "a", receivedAt: NOW + 16_000 });
    // b took over: a's refresh no longer holds, and b's item is left as it was
    const b = { replica: "b", receivedAt: NOW + 60_000 };
    expect(await s.replace("t1", "r1", { replica: "a", receivedAt: NOW + 16_000 }, b, signal())).toBe(true);
    expect(await s.refresh("t1", "r1", "a", NOW + 61_000, signal())).toBe(false);
    expect(await s.get("t1", "r1", signal())).toEqual(b);
    // a refresh of an item that is not there does not create it
    expect(await s.refresh("t1", "gone", "a", NOW, signal())).toBe(false);
    expect(await s.get("t1", "gone", signal())).toBeUndefined();
  });

  it("counts a tenant's clusters whose items have not expired", async () => {
    const s = store();
    const old = NOW - (STALE_CLUSTER_SECONDS + 60) * 1000;
    await s.create("t2", "fresh-1", { replica: "a", receivedAt: NOW }, signal());
    await s.create("t2", "fresh-2", { replica: "a", receivedAt: NOW }, signal());
    await s.create("t2", "stale", { replica: "a", receivedAt: old }, signal());
    await s.create("t3", "other-tenant", { replica: "a", receivedAt: NOW }, signal());
    expect(await s.liveClusters("t2", NOW, 100, signal())).toBe(2);
    expect(await s.liveClusters("nobody", NOW, 100, signal())).toBe(0);
  });

  it("writes the table's shape: key, replica, receivedAt and a TTL a week on", async () => {
    const s = store();
    await s.create("t4", "c", { replica: "r", receivedAt: 1_700_000_000_123 }, signal());
    const raw = (await (
      s as unknown as { client: { call(op: string, body: string): Promise<unknown> } }
    ).client.call(
      "GetItem",
      JSON.stringify({ TableName: TABLE, Key: { tenant: { S: "t4" }, cluster: { S: "c" } } }),
    )) as { Item: Record<string, unknown> };
    expect(raw.Item).toEqual({
      [HA_TABLE.partitionKey]: { S: "t4" },
      [HA_TABLE.sortKey]: { S: "c" },
      [HA_TABLE.replica]: { S: "r" },
      [HA_TABLE.receivedAt]: { N: "1700000000123" },
      [HA_TABLE.expiresAt]: { N: String(1_700_000_000 + STALE_CLUSTER_SECONDS) },
    });
  });
});

describe("two instances electing at once (separate caches, one table)", () => {
  /** Holds each instance's create until both have reached it, so the two race at the table. */
  function racing(s: ReplicaStore, gate: { waiting: number; open: () => void; opened: Promise<void> }) {
    return {
      get: s.get.bind(s),
      replace: s.replace.bind(s),
      refresh: s.refresh.bind(s),
      liveClusters: s.liveClusters.bind(s),
      async create(...args: Parameters<ReplicaStore["create"]>) {
        if (++gate.waiting === 2) gate.open();
        await gate.opened;
        return s.create(...args);
      },
    } satisfies ReplicaStore;
  }

  it.each(Array.from({ length: 8 }, (_, i) => i))(
    "round %i: exactly one replica is elected, and both follow it",
    async (round) => {
      let open = () => {};
      const opened = new Promise<void>((resolve) => {
        open = resolve;
      });
      const gate = { waiting: 0, open, opened };
      const one = tracker(racing(store(), gate));
      const two = tracker(racing(store(), gate));
      const cluster = `race-${round}`;
      const [a, b] = await Promise.all([
        one.t.decide("acme", cluster, "a"),
        two.t.decide("acme", cluster, "b"),
      ]);
      expect([a.outcome, b.outcome].sort()).toEqual(["accept", "drop"]);
      const elected = a.outcome === "accept" ? "a" : "b";
      expect((await store().get("acme", cluster, signal()))?.replica).toBe(elected);
      const other = elected === "a" ? "b" : "a";
      for (const { t } of [one, two]) {
        expect((await t.decide("acme", cluster, elected)).outcome).toBe("accept");
        expect((await t.decide("acme", cluster, other)).outcome).toBe("drop");
      }
      expect(
        (one.metrics.totals.get("HaElections") ?? 0) + (two.metrics.totals.get("HaElections") ?? 0),
      ).toBe(1);
    },
  );
});

describe("the table out of reach", () => {
  it("a closed DynamoDB: fail-static from the cache, then 503-worthy; counted by operation", async () => {
    const spare = await startEmbeddedDynamoDB();
    await spare.createReplicaTable(TABLE);
    const clock = { t: NOW };
    const { t, metrics } = tracker(store(spare.endpoint), () => clock.t);
    expect((await t.decide("acme", "eu", "a")).outcome).toBe("accept");
    await spare.stop();
    clock.t = NOW + 20_000; // a's write is due
    expect((await t.decide("acme", "eu", "a")).outcome).toBe("accept");
    // the other replica is dropped from the cache alone, without a call
    expect((await t.decide("acme", "eu", "b", Date.now() + 2_000)).outcome).toBe("drop");
    clock.t = NOW + 30_001;
    await expect(t.decide("acme", "eu", "a", Date.now() + 2_000)).rejects.toBeInstanceOf(
      ReplicaStoreUnavailableError,
    );
    await expect(t.decide("acme", "new", "a", Date.now() + 2_000)).rejects.toBeInstanceOf(
      ReplicaStoreUnavailableError,
    );
    expect(metrics.totals.get("HaStaleDecisions")).toBe(1);
    expect(metrics.totals.get("HaUnavailable")).toBe(2);
    expect(metrics.totals.get("HaStoreFailures{Operation=UpdateItem}")).toBeGreaterThanOrEqual(1);
  });

  it("a table that never answers: the decision ends at the request's deadline", async () => {
    const sockets: Socket[] = [];
    const silent = createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const { t } = tracker(store(`http://127.0.0.1:${port}`));
      const started = Date.now();
      await expect(t.decide("acme", "eu", "a", started + 300)).rejects.toBeInstanceOf(
        ReplicaStoreUnavailableError,
      );
      expect(Date.now() - started).toBeLessThan(1_500);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});
