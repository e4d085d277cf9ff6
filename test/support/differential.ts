import { createRemoteWriteApp } from "../../functions/remote-write/app";
import { StaticKeySource } from "../../lib/core/auth";
import { silentLogger } from "../../lib/core/log";
import { createMemoryMetrics } from "../../lib/core/metrics";
import { REMOTE_WRITE_PATH } from "../../lib/core/routes";
import { DEFAULTS } from "../../lib/ingest/config";
import { Ingestor } from "../../lib/ingest/ingest";
import type { RecordSink } from "../../lib/ingest/sink";
import { readRecord } from "../../lib/stream/consumer";
import type { StreamRecord } from "../../lib/stream/records";
import type { DamagedBody } from "../fixtures/damaged-corpus";
import { ingestSettings } from "../fixtures/remote-write";
import type { RunningPrometheus } from "./prometheus";
import { postToReceiver } from "./receiver";

/**
 * The gateway against the reference decoders, body by body: whenever Prometheus's
 * receiver cannot decode a body, the gateway writes nothing for it; every record the
 * gateway writes decodes with protobufjs, and (v1) Prometheus's receiver decodes it too.
 */
export const DIFF_KEY = "differential-key-41c9";
const TYPES = {
  v1: "application/x-protobuf",
  v2: "application/x-protobuf;proto=io.prometheus.write.v2.Request",
};

/** The gateway app over a sink; `taken()` gives the records the last request wrote. */
export function differentialGateway(sink?: RecordSink) {
  let last: StreamRecord[] = [];
  const tee: RecordSink = {
    async put(records) {
      last.push(...records);
      await sink?.put(records);
    },
  };
  const app = createRemoteWriteApp({
    // small records, so a body is spread over several of them
    ingestor: new Ingestor(ingestSettings({ maxRecordBytes: 4096 })),
    maxBodyBytes: DEFAULTS.maxBodyBytes,
    keys: new StaticKeySource([{ key: DIFF_KEY }]),
    sink: tee,
    log: silentLogger,
    metrics: createMemoryMetrics(),
  });
  return {
    async post(c: Pick<DamagedBody, "version" | "body">) {
      last = [];
      const res = await app.request(REMOTE_WRITE_PATH, {
        method: "POST",
        headers: { "sts-api-key": DIFF_KEY, "content-type": TYPES[c.version], "content-encoding": "snappy" },
        body: c.body,
      });
      return { status: res.status, text: await res.text(), records: last };
    },
  };
}
export type DifferentialGateway = ReturnType<typeof differentialGateway>;

export interface Tally {
  bodies: number;
  /** v1 bodies Prometheus could not decode. */
  undecodable: number;
  /** v1 bodies Prometheus decoded that the gateway refused whole (it is stricter). */
  stricter: number;
  /** Bodies the gateway wrote records for. */
  written: number;
  records: number;
  /** v1 records posted back to Prometheus. */
  replayed: number;
}

export const emptyTally = (): Tally => ({
  bodies: 0,
  undecodable: 0,
  stricter: 0,
  written: 0,
  records: 0,
  replayed: 0,
});

/** Checks one body; returns what went wrong (empty when nothing did). */
export async function checkBody(
  c: DamagedBody,
  gateway: DifferentialGateway,
  prometheus: RunningPrometheus,
  tally: Tally,
): Promise<string[]> {
  const problems: string[] = [];
  tally.bodies++;
  const ours = await gateway.post(c);
  if (ours.status >= 500) problems.push(`gateway answered ${ours.status}: ${ours.text.slice(0, 200)}`);
  if (c.version === "v1") {
    const theirs = await postToReceiver(prometheus, c.body);
    if (theirs.undecodable) {
      tally.undecodable++;
      if (ours.records.length > 0) {
        problems.push(
          `Prometheus could not decode the body (${theirs.text.slice(0, 120)}) but the gateway wrote ` +
            `${ours.records.length} record(s) (answer ${ours.status})`,
        );
      }
    } else if (ours.status === 400 && ours.records.length === 0 && /malformed/.test(ours.text)) {
      tally.stricter++;
    }
  }
  if (ours.records.length > 0) tally.written++;
  for (const rec of ours.records) {
    tally.records++;
    const read = readRecord(rec.data, rec.partitionKey);
    if (!read.ok)
      problems.push(`record ${rec.partitionKey} does not decode with protobufjs: ${read.error.reason}`);
    if (c.version === "v1") {
      tally.replayed++;
      const back = await postToReceiver(prometheus, rec.data);
      if (back.undecodable || back.status === 415) {
        problems.push(
          `Prometheus refused record ${rec.partitionKey}: ${back.status} ${back.text.slice(0, 120)}`,
        );
      }
    }
  }
  return problems.map((p) => `body ${c.id} (${c.what}): ${p}`);
}
