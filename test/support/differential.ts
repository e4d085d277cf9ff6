import { createRemoteWriteEndpoint } from "../../functions/remote-write/endpoint";
import { StaticKeySource } from "../../lib/core/auth";
import { silentLogger } from "../../lib/core/log";
import { createMemoryMetrics } from "../../lib/core/metrics";
import { DEFAULTS } from "../../lib/ingest/config";
import { Ingestor } from "../../lib/ingest/ingest";
import type { RecordSink } from "../../lib/ingest/sink";
import { readRecord } from "../../lib/stream/consumer";
import type { StreamRecord } from "../../lib/stream/records";
import type { DamagedBody } from "../fixtures/damaged-corpus";
import { ingestSettings } from "../fixtures/remote-write";
import { startFronts } from "./fronts";
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

/** What one front answered to a body, and the records it wrote for it. */
export interface Posted {
  readonly status: number;
  readonly text: string;
  readonly records: StreamRecord[];
}

/**
 * The gateway over a sink, behind both production fronts (the local server's listener on
 * 127.0.0.1 and the Lambda handler with API Gateway events). `post` sends a body through each
 * and gives the listener's answer and records, with every way the Lambda handler's differed
 * (status, text, partition keys): both fronts serve one endpoint, so there should be none.
 */
export async function differentialGateway(sink?: RecordSink) {
  let last: StreamRecord[] = [];
  const tee: RecordSink = {
    async put(records) {
      last.push(...records);
      await sink?.put(records);
    },
  };
  const endpoint = createRemoteWriteEndpoint({
    // small records, so a body is spread over several of them
    ingestor: new Ingestor(ingestSettings({ maxRecordBytes: 4096 })),
    maxBodyBytes: DEFAULTS.maxBodyBytes,
    keys: new StaticKeySource([{ key: DIFF_KEY }]),
    sink: tee,
    log: silentLogger,
    metrics: createMemoryMetrics(),
  });
  const fronts = await startFronts(endpoint);
  return {
    async post(c: Pick<DamagedBody, "version" | "body">): Promise<Posted & { disagreements: string[] }> {
      const answers: (Posted & { front: string })[] = [];
      for (const front of fronts) {
        last = [];
        const res = await front.send({
          headers: {
            "sts-api-key": DIFF_KEY,
            "content-type": TYPES[c.version],
            "content-encoding": "snappy",
          },
          body: c.body,
        });
        answers.push({ front: front.name, status: res.status, text: res.body, records: last });
      }
      const [first, ...others] = answers;
      const keys = (p: Posted) => p.records.map((r) => `${r.partitionKey}/${r.explicitHashKey}`);
      const disagreements: string[] = [];
      for (const other of others) {
        if (other.status !== first!.status || other.text !== first!.text) {
          disagreements.push(
            `the ${other.front} answered ${other.status} ${other.text.slice(0, 120)} where the ${first!.front} ` +
              `answered ${first!.status} ${first!.text.slice(0, 120)}`,
          );
        }
        if (keys(other).join() !== keys(first!).join()) {
          disagreements.push(
            `the ${other.front} wrote ${other.records.length} record(s) other than the ${first!.front}'s ${first!.records.length}`,
          );
        }
      }
      return { ...first!, disagreements };
    },
    async close() {
      for (const front of fronts) await front.close();
    },
  };
}
export type DifferentialGateway = Awaited<ReturnType<typeof differentialGateway>>;

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
  problems.push(...ours.disagreements);
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
