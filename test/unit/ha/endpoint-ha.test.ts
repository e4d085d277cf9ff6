import { describe, expect, it, vi } from "vitest";
import { createRemoteWriteEndpoint, type RequestReader } from "../../../functions/remote-write/endpoint";
import { StaticKeySource } from "../../../lib/core/auth";
import { createLogger } from "../../../lib/core/log";
import { createMemoryMetrics } from "../../../lib/core/metrics";
import { REMOTE_WRITE_PATH } from "../../../lib/core/routes";
import { HaDedup } from "../../../lib/ha/dedup";
import { ReplicaTracker } from "../../../lib/ha/tracker";
import { Ingestor } from "../../../lib/ingest/ingest";
import { decodeRecord } from "../../../lib/stream/consumer";
import type { StreamRecord } from "../../../lib/stream/records";
import { ingestSettings, type Labels, realisticSeries, snappy, v1Message } from "../../fixtures/remote-write";
import { MemoryReplicaStore } from "../../support/memory-replica-store";

/**
 * The endpoint's part of HA deduplication: one decompression per request whether the
 * tracker decides from its cache or calls the table, none of its passes with HA off, and the
 * whole request either written or not.
 */
const KEY = "ha-endpoint-key-1";
const reader: RequestReader<{ body: Uint8Array }> = {
  header: (_req, name) =>
    ({ "sts-api-key": KEY, "content-type": "application/x-protobuf", "content-encoding": "snappy" })[name],
  body: async (req) => req.body,
};

function setup(ha: boolean) {
  const ingestor = new Ingestor(ingestSettings());
  const decode = vi.spyOn(ingestor, "decode");
  const records: StreamRecord[] = [];
  const metrics = createMemoryMetrics();
  const store = new MemoryReplicaStore();
  const log = createLogger("error");
  const dedup = new HaDedup(
    { clusterLabel: "cluster", replicaLabel: "__replica__" },
    new ReplicaTracker({
      settings: { updateTimeoutMs: 15_000, maxJitterMs: 0, failoverTimeoutMs: 30_000, maxClusters: 10 },
      store,
      log,
      metrics,
    }),
  );
  const strip = vi.spyOn(dedup.wire, "strip");
  const labels = vi.spyOn(dedup.wire, "labels");
  const endpoint = createRemoteWriteEndpoint({
    ingestor,
    maxBodyBytes: 1 << 20,
    keys: new StaticKeySource([{ key: KEY }]),
    sink: {
      async put(batch) {
        records.push(...batch);
      },
    },
    log,
    metrics,
    ...(ha ? { ha: dedup } : {}),
  });
  const send = (replica: string) => {
    const series = realisticSeries(3, 2).map((s) => ({
      ...s,
      labels: [...s.labels, ["__replica__", replica]].sort((a, b) => (a[0]! < b[0]! ? -1 : 1)) as Labels,
    }));
    return endpoint.answer("POST", REMOTE_WRITE_PATH, { body: snappy(v1Message(series)) }, reader);
  };
  return { send, decode, strip, labels, records, store, metrics };
}

describe("the endpoint with HA deduplication", () => {
  it("decompresses each request once, whether the table is called or not", async () => {
    const { send, decode, store } = setup(true);
    expect((await send("a")).status).toBe(204); // calls the table
    expect((await send("a")).status).toBe(204); // from the cache
    expect((await send("b")).status).toBe(202); // from the cache
    expect(decode).toHaveBeenCalledTimes(3);
    expect(store.calls).toEqual(["GetItem", "Query", "PutItem"]);
  });

  it("writes the whole elected request without the replica label, and nothing of the other's", async () => {
    const { send, records, metrics } = setup(true);
    await send("a");
    const written = records.length;
    expect((await send("b")).status).toBe(202);
    expect(records).toHaveLength(written);
    const series = records.flatMap((r) => decodeRecord(r.data, r.partitionKey).series);
    expect(series).toHaveLength(3);
    for (const s of series) expect(s.labels).not.toHaveProperty("__replica__");
    expect(metrics.totals.get("SamplesReceived")).toBe(6);
    expect(metrics.totals.get("HaSamplesDropped{Reason=replica-not-elected}")).toBe(6);
  });

  it("with HA off, runs none of its passes and writes the replica label as it came", async () => {
    const { send, decode, strip, labels, records, store } = setup(false);
    expect((await send("a")).status).toBe(204);
    expect((await send("b")).status).toBe(204);
    expect(decode).toHaveBeenCalledTimes(2);
    expect(strip).not.toHaveBeenCalled();
    expect(labels).not.toHaveBeenCalled();
    expect(store.calls).toEqual([]);
    const series = records.flatMap((r) => decodeRecord(r.data, r.partitionKey).series);
    expect(series.map((s) => s.labels.__replica__).sort()).toEqual(["a", "a", "a", "b", "b", "b"]);
  });
});
