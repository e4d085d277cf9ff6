import { describe, expect, it } from "vitest";
import { TENANT_PATTERN } from "../../../lib/core/auth";
import { createLogger } from "../../../lib/core/log";
import { createMemoryMetrics } from "../../../lib/core/metrics";
import { NO_TENANT } from "../../../lib/ha/table";
import { ReplicaStoreUnavailableError, ReplicaTracker, type TrackerSettings } from "../../../lib/ha/tracker";
import { MemoryReplicaStore } from "../../support/memory-replica-store";

/**
 * The tracker's decisions with an injected clock and jitter, over the replica table in
 * memory (the DynamoDB store itself: test/integration/ha-dynamodb.test.ts).
 */
const T0 = 1_700_000_000_000;
const SETTINGS: TrackerSettings = {
  updateTimeoutMs: 15_000,
  maxJitterMs: 5_000,
  failoverTimeoutMs: 30_000,
  maxClusters: 2,
};

function setup(o: { jitter?: number; store?: MemoryReplicaStore; settings?: Partial<TrackerSettings> } = {}) {
  const clock = { t: T0 };
  const store = o.store ?? new MemoryReplicaStore();
  const metrics = createMemoryMetrics();
  const lines: string[] = [];
  const tracker = new ReplicaTracker({
    settings: { ...SETTINGS, ...o.settings },
    store,
    log: createLogger("debug", (line) => lines.push(line)),
    metrics,
    now: () => clock.t,
    random: () => o.jitter ?? 0,
  });
  const decide = (replica: string, cluster = "eu", tenant: string | undefined = "acme") =>
    tracker.decide(tenant, cluster, replica);
  return { clock, store, metrics, tracker, decide, lines };
}

const accept = { outcome: "accept" };
const drop = { outcome: "drop", reason: "replica-not-elected" };
const refuse = { outcome: "refuse", reason: "too-many-clusters" };

describe("ReplicaTracker", () => {
  it("elects the first replica it hears of (a conditional create) and decides from its cache after", async () => {
    const { store, metrics, decide, tracker } = setup();
    expect(await decide("a")).toEqual(accept);
    expect(store.calls).toEqual(["GetItem", "Query", "PutItem"]);
    expect(store.items.get("acme/eu")).toMatchObject({ replica: "a", receivedAt: T0 });
    expect(metrics.totals.get("HaElections")).toBe(1);
    expect(await decide("a")).toEqual(accept);
    expect(await decide("b")).toEqual(drop);
    expect(tracker.cached("acme", "eu", "b")).toEqual(drop);
    expect(store.calls).toHaveLength(3);
  });

  it("keys elections by tenant and cluster: a request without a tenant is its own", async () => {
    const { decide, tracker } = setup();
    expect(await decide("a", "eu", "acme")).toEqual(accept);
    expect(await decide("b", "eu", "globex")).toEqual(accept);
    expect(await tracker.decide(undefined, "eu", "b")).toEqual(accept);
    expect(await tracker.decide(undefined, "eu", "a")).toEqual(drop);
  });

  it.each([
    [0, 15_000],
    [0.5, 17_500],
    [0.9999, 19_999],
  ])(
    "with jitter %s writes the elected replica's last-seen time once %i ms have passed, not before",
    async (jitter, due) => {
      const { clock, store, decide, tracker } = setup({ jitter });
      expect(tracker.jitterMs).toBe(due - 15_000);
      await decide("a");
      const calls = store.calls.length;
      clock.t = T0 + due - 1;
      expect(await decide("a")).toEqual(accept);
      expect(store.calls).toHaveLength(calls);
      clock.t = T0 + due;
      expect(await decide("a")).toEqual(accept);
      // it wrote the item last itself: compare-and-set at once, without reading it first
      expect(store.calls.slice(calls)).toEqual(["UpdateItem"]);
      expect(store.items.get("acme/eu")?.receivedAt).toBe(T0 + due);
    },
  );

  it("a steady stream of both replicas costs one write per update timeout, and the other one is never elected", async () => {
    const { clock, store, decide } = setup();
    await decide("a");
    const start = store.calls.length;
    // both replicas send every 5 s for ten minutes
    for (let s = 5; s <= 600; s += 5) {
      clock.t = T0 + s * 1000;
      expect(await decide("a")).toEqual(accept);
      expect(await decide("b")).toEqual(drop);
    }
    expect(store.calls.slice(start).every((c) => c === "UpdateItem")).toBe(true);
    expect(store.calls.length - start).toBe(600 / 15);
  });

  it("fails over once the elected replica has been silent for more than the failover timeout, not before", async () => {
    const { clock, store, metrics, decide } = setup();
    await decide("a");
    clock.t = T0 + 30_000;
    expect(await decide("b")).toEqual(drop);
    // the cache said 30 s: still inside the timeout, no call
    expect(store.calls).toEqual(["GetItem", "Query", "PutItem"]);
    clock.t = T0 + 30_001;
    expect(await decide("b")).toEqual(accept);
    expect(store.calls.slice(3)).toEqual(["GetItem", "UpdateItem"]);
    expect(store.items.get("acme/eu")).toMatchObject({ replica: "b", receivedAt: T0 + 30_001 });
    expect(metrics.totals.get("HaFailovers")).toBe(1);
    // the old replica comes back: it is the other one now
    clock.t = T0 + 31_000;
    expect(await decide("a")).toEqual(drop);
  });

  it("reads the table again before failing over: another instance may have seen the elected replica meanwhile", async () => {
    const store = new MemoryReplicaStore();
    const one = setup({ store });
    const two = setup({ store });
    await one.decide("a");
    two.clock.t = T0 + 1_000;
    expect(await two.decide("b")).toEqual(drop);
    // a keeps sending to instance one only
    for (const s of [16, 32, 48]) {
      one.clock.t = T0 + s * 1000;
      expect(await one.decide("a")).toEqual(accept);
    }
    // instance two's cached time of a is 47 s old: it reads, finds a fresh, and still drops b
    two.clock.t = T0 + 48_000;
    expect(await two.decide("b")).toEqual(drop);
    expect(store.items.get("acme/eu")?.replica).toBe("a");
  });

  it("follows another instance's write when its compare-and-set loses", async () => {
    const store = new MemoryReplicaStore();
    const one = setup({ store });
    const two = setup({ store });
    await one.decide("a");
    two.clock.t = T0 + 1;
    expect(await two.decide("a")).toEqual(accept);
    // instance one writes a's time at 15 s; instance two, whose cache is older, then reads
    one.clock.t = T0 + 15_000;
    await one.decide("a");
    two.clock.t = T0 + 15_001;
    const before = store.calls.length;
    expect(await two.decide("a")).toEqual(accept);
    expect(store.calls.slice(before)).toEqual(["GetItem"]);
  });

  it("two instances electing at once: exactly one compare-and-set wins, the other follows it", async () => {
    const store = new MemoryReplicaStore();
    const one = setup({ store });
    const two = setup({ store });
    // both read the table (and find no item) before either writes
    let reads = 0;
    let release: () => void = () => {};
    const bothRead = new Promise<void>((resolve) => {
      release = resolve;
    });
    store.before = async (op) => {
      if (op !== "GetItem" || reads >= 2) return;
      if (++reads === 2) release();
      await bothRead;
    };
    const [a, b] = await Promise.all([one.decide("a"), two.decide("b")]);
    expect([a, b].filter((d) => d.outcome === "accept")).toHaveLength(1);
    expect([a, b].filter((d) => d.outcome === "drop")).toHaveLength(1);
    expect(store.count("PutItem")).toBe(2);
    const elected = store.items.get("acme/eu")!.replica;
    expect(a.outcome === "accept" ? "a" : "b").toBe(elected);
    // each keeps following the winner
    for (const t of [one, two]) {
      expect(await t.decide(elected)).toEqual(accept);
      expect(await t.decide(elected === "a" ? "b" : "a")).toEqual(drop);
    }
    expect(one.metrics.totals.get("HaElections") ?? 0).toBe(elected === "a" ? 1 : 0);
  });

  it("concurrent requests of one cluster on one instance share one round of calls", async () => {
    const { store, decide } = setup();
    const decisions = await Promise.all(["a", "b", "a", "b", "a", "b"].map((r) => decide(r)));
    expect(decisions.filter((d) => d.outcome === "accept")).toHaveLength(3);
    expect(store.count("PutItem")).toBe(1);
    expect(store.count("GetItem")).toBe(1);
  });

  it("refuses a cluster past the tenant's cap, counts with one Query per update timeout, and remembers the refusal", async () => {
    const { clock, store, decide } = setup();
    expect(await decide("a", "c1")).toEqual(accept);
    expect(await decide("a", "c2")).toEqual(accept);
    expect(await decide("a", "c3")).toEqual(refuse);
    expect(await decide("b", "c3")).toEqual(refuse);
    // the count was read once and kept up to date as clusters were created; the refusal is cached
    expect(store.count("Query")).toBe(1);
    expect(store.count("GetItem")).toBe(3);
    expect(await decide("a", "c1", "globex")).toEqual(accept);
    // after the update timeout it is counted again
    clock.t = T0 + 20_000;
    store.items.delete("acme/c2");
    expect(await decide("a", "c3")).toEqual(accept);
  });

  describe("when the table cannot be reached (fail-static, then closed)", () => {
    it("decides from a cached election still inside the failover timeout", async () => {
      const { clock, store, metrics, decide } = setup();
      await decide("a");
      store.fail = Object.assign(new Error("connect ECONNREFUSED"), { name: "Error" });
      clock.t = T0 + 20_000; // a's write is due, and fails
      expect(await decide("a")).toEqual(accept);
      clock.t = T0 + 30_000;
      expect(await decide("b")).toEqual(drop);
      expect(metrics.totals.get("HaStaleDecisions")).toBe(1);
      expect(metrics.totals.get("HaStoreFailures{Operation=UpdateItem}")).toBe(1);
    });

    it("answers unavailable once the cached election is past the failover timeout, and for a cluster it never saw", async () => {
      const { clock, store, metrics, decide, lines } = setup();
      await decide("a");
      store.fail = new Error("socket hang up");
      clock.t = T0 + 30_001;
      await expect(decide("a")).rejects.toBeInstanceOf(ReplicaStoreUnavailableError);
      await expect(decide("b")).rejects.toBeInstanceOf(ReplicaStoreUnavailableError);
      await expect(decide("a", "new")).rejects.toBeInstanceOf(ReplicaStoreUnavailableError);
      expect(metrics.totals.get("HaUnavailable")).toBe(3);
      // logged once for the interval, with how often; never a key
      const warnings = lines.filter((l) => l.includes("HA replica table unreachable"));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain("socket hang up");
      // once it answers again, the next request decides as usual
      store.fail = undefined;
      expect(await decide("b")).toEqual(accept);
    });

    it("answers unavailable at once when the request's deadline has passed", async () => {
      const { tracker } = setup();
      await expect(tracker.decide("acme", "eu", "a", Date.now() - 1)).rejects.toBeInstanceOf(
        ReplicaStoreUnavailableError,
      );
    });
  });
});

describe("ReplicaTracker, instances refreshing one live election", () => {
  it("each refreshes the item it wrote last, without reading it, and no condition fails", async () => {
    const store = new MemoryReplicaStore();
    const one = setup({ store });
    const two = setup({ store, jitter: 0.5 });
    const at = (t: number) => {
      one.clock.t = t;
      two.clock.t = t;
    };
    expect(await one.decide("a")).toEqual(accept);
    // the second instance follows, then is the first to see the interval out: it refreshes
    at(T0 + 16_000);
    expect(await two.decide("a")).toEqual(accept);
    at(T0 + 34_000);
    expect(await two.decide("a")).toEqual(accept);
    // the first instance still holds its own write of T0: it refreshes at once, and holds
    at(T0 + 35_000);
    const before = store.calls.length;
    expect(await one.decide("a")).toEqual(accept);
    expect(store.calls.slice(before)).toEqual(["UpdateItem"]);
    expect(store.items.get("acme/eu")).toMatchObject({ replica: "a", receivedAt: T0 + 35_000 });
    // a replica that lost the election is no longer refreshed: the refresh fails, the item is read
    store.items.set("acme/eu", { replica: "b", receivedAt: T0 + 60_000, expiresAt: 0 });
    at(T0 + 60_000);
    const lost = store.calls.length;
    expect(await one.decide("a")).toEqual(drop);
    expect(store.calls.slice(lost)).toEqual(["UpdateItem", "GetItem"]);
  });
});

describe("the replica table's keys", () => {
  it("requests without a tenant have a partition key no tenant can have", () => {
    expect(TENANT_PATTERN.test(NO_TENANT)).toBe(false);
    expect(NO_TENANT).not.toBe("");
  });
});
