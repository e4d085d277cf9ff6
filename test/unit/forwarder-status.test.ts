import { afterEach, describe, expect, it } from "vitest";
import { decompress } from "../../lib/codec/snappy";
import { silentLogger } from "../../lib/core/log";
import { createMemoryMetrics } from "../../lib/core/metrics";
import { HttpDestination, parseRetryAfter } from "../../lib/forwarder/destination";
import { type DeadLetter, type ForwardOptions, forwardBatch } from "../../lib/forwarder/forward";
import { DestinationState, MAX_RETRY_AFTER_MS } from "../../lib/forwarder/negotiate";
import type { ForwardRecord } from "../../lib/forwarder/records";
import { backoffMs, DEFAULT_BACKOFF } from "../../lib/forwarder/send";
import { judge, parseWritten, type Verdict } from "../../lib/forwarder/status";
import { decodeRecord } from "../../lib/stream/consumer";
import { sealRecord } from "../../lib/stream/records";
import { ShardMap } from "../../lib/stream/shard-map";
import { v1Message, v2Message } from "../fixtures/remote-write";
import {
  type Answer,
  type ScriptedDestination,
  startScriptedDestination,
} from "../support/forwarder-destination";

const sent = () => ({ samples: 2, histograms: 1, exemplars: 1 });
const ctx = (over: Partial<Parameters<typeof judge>[2]> = {}) => ({
  version: "v2" as const,
  negotiating: true,
  sent,
  retryAuthFailures: false,
  ...over,
});

describe("the status table", () => {
  it.each<
    [
      string,
      number,
      Parameters<typeof judge>[1],
      Partial<Parameters<typeof judge>[2]>,
      Verdict["action"],
      boolean?,
    ]
  >([
    ["2xx to 1.0", 204, undefined, { version: "v1" }, "done"],
    ["2xx to 2.0 with counts", 204, { samples: 2, histograms: 1, exemplars: 1 }, {}, "done"],
    ["200 to 2.0 with counts", 200, { samples: 2, histograms: 1, exemplars: 1 }, {}, "done"],
    ["2xx to 2.0 without counts", 204, undefined, {}, "fall-back"],
    ["2xx to 2.0 with zero counts", 204, { samples: 0, histograms: 0, exemplars: 0 }, {}, "fall-back"],
    ["2xx to 2.0 saying only samples were written", 204, { samples: 0, histograms: 0 }, {}, "fall-back"],
    // confirmed, but less than sent: a partial write, as Prometheus's sender reads it
    ["2xx to 2.0 with fewer samples", 204, { samples: 1, histograms: 1, exemplars: 1 }, {}, "done"],
    ["2xx to 2.0 with fewer histograms", 204, { samples: 2, exemplars: 1 }, {}, "done"],
    ["2xx to 2.0 with fewer exemplars only", 204, { samples: 2, histograms: 1 }, {}, "done"],
    ["2xx to 2.0 without counts, version forced", 204, undefined, { negotiating: false }, "done"],
    ["2xx to 2.0 with zero counts, version forced", 204, { samples: 0 }, { negotiating: false }, "done"],
    ["415 to 2.0", 415, undefined, {}, "fall-back"],
    ["415 to 2.0, version forced", 415, undefined, { negotiating: false }, "refuse", false],
    ["415 to 1.0", 415, undefined, { version: "v1" }, "refuse", false],
    ["500", 500, undefined, {}, "retry"],
    ["502", 502, undefined, {}, "retry"],
    ["503", 503, undefined, {}, "retry"],
    ["504", 504, undefined, {}, "retry"],
    ["999", 999, undefined, {}, "retry"],
    ["429", 429, undefined, {}, "retry"],
    ["400", 400, undefined, {}, "refuse", true],
    ["413", 413, undefined, {}, "refuse", true],
    ["422", 422, undefined, {}, "refuse", true],
    ["401", 401, undefined, {}, "refuse", false],
    ["403", 403, undefined, {}, "refuse", false],
    ["401 with retryAuthFailures", 401, undefined, { retryAuthFailures: true }, "retry"],
    ["403 with retryAuthFailures", 403, undefined, { retryAuthFailures: true }, "retry"],
    ["404", 404, undefined, {}, "refuse", false],
    ["301", 301, undefined, {}, "refuse", false],
  ])("%s: %i → %s", (_what, status, written, over, action, split) => {
    const verdict = judge(status, written, ctx(over));
    expect(verdict.action).toBe(action);
    if (split !== undefined) expect(verdict).toMatchObject({ split });
  });

  it.each([
    [
      { samples: 1, histograms: 1, exemplars: 1 },
      "1 of 2 samples, 1 of 1 histograms, 1 of 1 exemplars written",
    ],
    // fewer exemplars only: a note, not a partial write
    [{ samples: 2, histograms: 1 }, undefined],
    [{ samples: 2, histograms: 1, exemplars: 1 }, undefined],
  ])("written %j: partial %s", (written, partial) => {
    const verdict = judge(204, written, ctx());
    expect(verdict.action === "done" && verdict.partial).toBe(partial ?? undefined);
  });

  it("nothing countable sent: a 2xx is enough", () => {
    expect(
      judge(204, undefined, ctx({ sent: () => ({ samples: 0, histograms: 0, exemplars: 0 }) })).action,
    ).toBe("done");
  });

  it.each([
    [{ "x-prometheus-remote-write-samples-written": "3" }, { samples: 3 }],
    [
      {
        "x-prometheus-remote-write-samples-written": "0",
        "x-prometheus-remote-write-histograms-written": "2",
        "x-prometheus-remote-write-exemplars-written": " 1 ",
      },
      { samples: 0, histograms: 2, exemplars: 1 },
    ],
    [{ "x-prometheus-remote-write-samples-written": "many" }, undefined],
    [{}, undefined],
  ])("written counts %j", (headers, want) => {
    expect(parseWritten((n) => (headers as Record<string, string>)[n])).toEqual(want);
  });

  it.each([
    ["3", 3000],
    ["0", 0],
    ["", undefined],
    ["soon", undefined],
    ["1.5", undefined],
    ["-3", undefined],
    [new Date(1_000_000 + 7_000).toUTCString(), 7000],
    [new Date(1_000_000 - 7_000).toUTCString(), 0],
  ])("Retry-After %j", (value, ms) => {
    expect(parseRetryAfter(value, 1_000_000)).toBe(ms);
  });

  it("backs off exponentially to the cap, each wait within ±10%", () => {
    const low = [0, 1, 2, 3, 4, 5, 6, 7].map((a) => backoffMs(a, DEFAULT_BACKOFF, () => 0));
    const high = [0, 1, 2, 3, 4, 5, 6, 7].map((a) => backoffMs(a, DEFAULT_BACKOFF, () => 0.999999));
    expect(low).toEqual([90, 180, 360, 720, 1440, 2880, 4500, 4500]);
    expect(high).toEqual([110, 220, 440, 880, 1760, 3520, 5500, 5500]);
  });
});

let seq = 0;
function rec(name: string, version: "v1" | "v2" = "v2", start = 0): ForwardRecord {
  const spec = [
    {
      labels: [["__name__", name]] as [string, string][],
      samples: [{ value: 1, timestamp: 1_700_000_000_000 + start }],
    },
  ];
  const sealed = sealRecord(
    version === "v1" ? v1Message(spec) : v2Message(spec),
    version,
    undefined,
    0,
    ShardMap.uniform(1),
  );
  return {
    data: sealed.data,
    partitionKey: sealed.partitionKey,
    sequenceNumber: String(5000 + ++seq),
    shardId: "shardId-0",
  };
}

const isV2 = (h: Record<string, unknown>) =>
  String(h["content-type"]).includes("io.prometheus.write.v2.Request");
const names = (body: Buffer, v2: boolean) =>
  decodeRecord(body, `${v2 ? "prw2" : "prw1"}::0:${"0".repeat(32)}`).series.map((s) => s.labels.__name__);

describe("negotiating the version with the destination", () => {
  let dest: ScriptedDestination | undefined;
  afterEach(async () => {
    await dest?.close();
    dest = undefined;
  });

  async function run(
    records: ForwardRecord[],
    script: (v2: boolean, i: number) => Answer,
    over: Partial<ForwardOptions> = {},
  ) {
    dest ??= await startScriptedDestination((req, i) => script(isV2(req.headers), i));
    const letters: DeadLetter[] = [];
    const metrics = createMemoryMetrics();
    const outcome = await forwardBatch(records, {
      destination: new HttpDestination(dest.url),
      deadLetters: { send: async (l) => void letters.push(l) },
      maxRequestBytes: 1 << 20,
      timeoutMs: 2_000,
      remainingMs: () => 60_000,
      reserveMs: 0,
      sleep: async () => {},
      random: () => 0.5,
      log: silentLogger,
      metrics,
      ...over,
    });
    return { outcome, letters, metrics };
  }

  it("a 1.0 receiver that drops 2.0 bodies (204, no counts) gets the rest of the batch as 1.0, merged", async () => {
    const state = new DestinationState("auto", 60_000);
    const recs = [rec("a", "v1"), rec("b"), rec("c"), rec("d", "v1")];
    const { outcome, metrics } = await run(recs, () => 204, { state });
    expect(dest!.requests.map((r) => isV2(r.headers))).toEqual([false, true, false]);
    expect(dest!.requests.map((r) => names(r.body, isV2(r.headers)))).toEqual([
      ["a"],
      ["b"],
      ["b", "c", "d"],
    ]);
    expect(outcome).toMatchObject({ delivered: 4, sentAsV1: 2, deadLettered: 0 });
    expect(metrics.totals.get("ProtocolFallbacks")).toBe(1);
    expect(metrics.totals.get("RecordsSentAsV1")).toBe(2);
    expect(dest!.requests[2]!.headers).toMatchObject({ "x-prometheus-remote-write-version": "0.1.0" });
  });

  it("remembers 1.0 for the next batches, then tries 2.0 again", async () => {
    let now = 0;
    const state = new DestinationState("auto", 60_000, () => now);
    await run([rec("a")], (v2) => (v2 ? 415 : 204), { state });
    expect(dest!.requests.map((r) => isV2(r.headers))).toEqual([true, false]);
    now = 59_000;
    await run([rec("b")], (v2) => (v2 ? 415 : 204), { state });
    expect(dest!.requests.map((r) => isV2(r.headers))).toEqual([true, false, false]);
    now = 61_000;
    await run([rec("c")], (v2) => (v2 ? 415 : 204), { state });
    expect(dest!.requests.map((r) => isV2(r.headers))).toEqual([true, false, false, true, false]);
  });

  it("a 2.0 receiver that confirms what it wrote keeps getting 2.0", async () => {
    const state = new DestinationState("auto", 60_000);
    const confirm: Answer = { status: 204, headers: { "x-prometheus-remote-write-samples-written": "1" } };
    await run([rec("a"), rec("b")], () => confirm, { state });
    await run([rec("c")], () => confirm, { state });
    expect(dest!.requests.map((r) => isV2(r.headers))).toEqual([true, true, true]);
  });

  it.each([
    ["v1", [false], 0],
    ["v2", [true], 0],
  ] as const)("protocol %s is forced: no negotiation", async (protocol, versions, fallbacks) => {
    const { metrics } = await run([rec("a")], () => 204, { state: new DestinationState(protocol) });
    expect(dest!.requests.map((r) => isV2(r.headers))).toEqual(versions);
    expect(metrics.totals.get("ProtocolFallbacks") ?? 0).toBe(fallbacks);
  });

  it("forced to 2.0, a 415 is a refusal (dead letter)", async () => {
    const { letters } = await run([rec("a")], () => 415, { state: new DestinationState("v2") });
    expect(letters.map((l) => l.status)).toEqual([415]);
    expect(dest!.requests).toHaveLength(1);
  });

  it("a v2 record too large for one 1.0 request goes in several, and is counted once", async () => {
    const big = v2Message(
      Array.from({ length: 40 }, (_, i) => ({
        labels: [
          ["__name__", `series_${i}`],
          ["pod", "a-long-pod-name-repeated-in-every-series"],
        ] as [string, string][],
        samples: [{ value: i, timestamp: 1_700_000_000_000 }],
      })),
    );
    const sealed = sealRecord(big, "v2", undefined, 0, ShardMap.uniform(1));
    const r = { data: sealed.data, partitionKey: sealed.partitionKey, sequenceNumber: "77", shardId: "s" };
    const { outcome } = await run([r], () => 204, {
      state: new DestinationState("v1"),
      maxRequestBytes: 1_000,
    });
    expect(dest!.requests.length).toBeGreaterThan(2);
    for (const q of dest!.requests) expect(decompress(q.body, 1 << 20).length).toBeLessThanOrEqual(1_000);
    expect(dest!.requests.flatMap((q) => names(q.body, false))).toHaveLength(40);
    expect(outcome).toMatchObject({ delivered: 1, sentAsV1: 1 });
  });
});

describe("Retry-After", () => {
  let dest: ScriptedDestination | undefined;
  afterEach(async () => {
    await dest?.close();
    dest = undefined;
  });

  it("holds every request back until the destination's time, in this batch and the next", async () => {
    let now = 0;
    const seen: number[] = [];
    dest = await startScriptedDestination((_r, i) => {
      seen.push(now);
      return i === 0 ? { status: 503, headers: { "retry-after": "120" } } : 204;
    });
    const state = new DestinationState("v1", 0, () => now);
    const opts = {
      destination: new HttpDestination(dest.url),
      deadLetters: { send: async () => expect.fail("nothing is dead-lettered") },
      maxRequestBytes: 1 << 20,
      timeoutMs: 1_000,
      reserveMs: 0,
      state,
      sleep: async (ms: number) => {
        now += ms;
      },
      random: () => 0.5,
      log: silentLogger,
      metrics: createMemoryMetrics(),
    };
    // 60 s of budget: the batch waits them out and stops without sending again
    const start = now;
    const first = await forwardBatch([rec("a", "v1")], {
      ...opts,
      remainingMs: () => 60_000 - (now - start),
    });
    expect(first.failed?.reason).toBe("status-503");
    expect(seen).toEqual([0]);
    expect(now).toBe(60_000);
    // the next batch waits the rest (60 s more) before its first request
    const again = now;
    const second = await forwardBatch([rec("a", "v1")], {
      ...opts,
      remainingMs: () => 90_000 - (now - again),
    });
    expect(second.failed).toBeUndefined();
    expect(seen).toEqual([0, 120_000]);
  });

  it("is capped, so a destination cannot stop the forwarder for longer than that", () => {
    let now = 0;
    const state = new DestinationState("auto", 0, () => now);
    state.holdFor(86_400_000);
    expect(state.holdMs()).toBe(MAX_RETRY_AFTER_MS);
    now = MAX_RETRY_AFTER_MS;
    expect(state.holdMs()).toBe(0);
  });
});
