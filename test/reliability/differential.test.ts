import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedKinesis, startEmbeddedKinesis } from "../../functions/local/embedded-kinesis";
import { readAll } from "../../functions/local/stream";
import { KinesisRecordsClient } from "../../lib/aws/kinesis-records";
import { KinesisSink } from "../../lib/aws/kinesis-sink";
import { silentLogger } from "../../lib/core/log";
import { createMemoryMetrics } from "../../lib/core/metrics";
import { readRecord } from "../../lib/stream/consumer";
import { baseBodies, damagedCorpus } from "../fixtures/damaged-corpus";
import { HISTOGRAM_CASES, refusedBy } from "../fixtures/histograms";
import { snappy, v1Message } from "../fixtures/remote-write";
import {
  checkBody,
  type DifferentialGateway,
  differentialGateway,
  emptyTally,
} from "../support/differential";
import { prometheusAvailable, prometheusVersion, type RunningPrometheus } from "../support/prometheus";
import { postToReceiver, startReceiver } from "../support/receiver";
import { type StrictKinesis, startStrictKinesis } from "../support/strict-kinesis";

/**
 * Damaged bodies (fixed seeds: the same corpus every run) sent to Prometheus's own
 * receiver and to the gateway, through both production fronts (the local server's listener
 * and the Lambda handler, which must answer alike), writing into a real (embedded) Kinesis, through a front that
 * refuses what AWS refuses (test/support/strict-kinesis.ts): nothing Prometheus cannot decode
 * reaches the stream, no damaged body makes a call AWS would refuse, and every record in the
 * stream decodes with protobufjs and (v1) with Prometheus's receiver. `npm run fuzz` runs the same check on random seeds;
 * a seed it reports belongs in SEEDS.
 *
 * Native histograms, valid and invalid (test/fixtures/histograms.ts), go to both as well: the
 * gateway refuses what Prometheus's receiver refuses and writes what it takes. The gateway
 * keeps the newest Prometheus's rules; where the Prometheus here predates a rule (Debian's
 * 2.42 checks the count only for being at least the buckets, knows no schema range and no
 * custom buckets), it must take what that rule refuses, so each disagreement is a rule of a
 * later version, named in the fixture, never a difference in reading the same rule.
 */
const SEEDS = [1, 2, 42, 639388787, 1267226234];
const PER_SEED = 300;
const STREAM = "differential";

const run = prometheusAvailable();
let prometheus: RunningPrometheus;
let kinesis: EmbeddedKinesis;
let strict: StrictKinesis;
let putter: KinesisRecordsClient | undefined;
let gateway: DifferentialGateway;

beforeAll(async () => {
  if (!run) return;
  [prometheus, kinesis] = await Promise.all([startReceiver(), startEmbeddedKinesis()]);
  await kinesis.createStream(STREAM, 2);
  strict = await startStrictKinesis({ target: kinesis.endpoint, region: kinesis.region });
  putter = KinesisRecordsClient.create({ region: kinesis.region, endpoint: strict.endpoint });
  const sink = new KinesisSink(
    putter,
    { streamName: STREAM, concurrency: 4, deadlineMs: 20_000, retryAfterSeconds: 5 },
    silentLogger,
    createMemoryMetrics(),
  );
  gateway = await differentialGateway(sink);
}, 90_000);

afterAll(async () => {
  await gateway?.close();
  await prometheus?.stop();
  putter?.destroy();
  await strict?.stop();
  await kinesis?.stop();
});

describe.runIf(run)("damaged bodies against the reference decoders", () => {
  it("the undamaged bases: the gateway takes them whole, and Prometheus its records", async () => {
    for (const base of baseBodies()) {
      const ours = await gateway.post(base);
      expect(ours.disagreements).toEqual([]);
      expect(ours.status, ours.text).toBe(204);
      expect(ours.records.length).toBeGreaterThan(1);
      if (base.version !== "v1") continue;
      // the records first: Prometheus 2.42 refuses a histogram sample it already holds as out of order
      for (const rec of ours.records) {
        const back = await postToReceiver(prometheus, rec.data);
        expect(back.status, back.text).toBe(204);
      }
      const theirs = await postToReceiver(prometheus, base.body);
      expect(theirs.undecodable, theirs.text).toBe(false);
    }
  });

  it.each(SEEDS)(
    `seed %i: ${PER_SEED} damaged bodies, nothing undecodable written`,
    async (seed) => {
      const tally = emptyTally();
      const problems: string[] = [];
      for (const c of damagedCorpus(seed, PER_SEED))
        problems.push(...(await checkBody(c, gateway, prometheus, tally)));
      console.log(`differential seed ${seed}: ${JSON.stringify(tally)}`);
      expect(problems).toEqual([]);
      // the corpus reaches both outcomes: bodies Prometheus cannot decode, and bodies written
      expect(tally.undecodable).toBeGreaterThan(0);
      expect(tally.written).toBeGreaterThan(0);
    },
    120_000,
  );

  describe("native histograms: what Prometheus's receiver refuses, the gateway refuses", () => {
    const version = run ? prometheusVersion() : "0.0.0";
    const seen = { agreed: 0, laterRule: [] as string[] };
    afterAll(() => {
      console.log(
        `differential histograms: Prometheus ${version} answered ${seen.agreed} of ${HISTOGRAM_CASES.length} as the gateway; ` +
          `the rest differ by a rule that changed after it: ${seen.laterRule.join("; ")}`,
      );
    });

    it.each(HISTOGRAM_CASES.map((c, i) => [...c, i] as const))(
      "%s",
      async (_name, histogram, reason, ranges, i) => {
        // the fixture's reason is the newest Prometheus's verdict
        expect(reason !== undefined).toBe(refusedBy("999.0.0", ranges));
        const body = snappy(
          v1Message([{ labels: [["__name__", `differential_histogram_${i}`]], histograms: [histogram] }]),
        );
        const theirs = await postToReceiver(prometheus, body);
        expect(theirs.undecodable, theirs.text).toBe(false);
        const refused = theirs.status !== 204;
        if (refused) expect(theirs.text).toMatch(/histogram|custom buckets/i);
        expect(refused, `Prometheus ${version} answered ${theirs.status} ${theirs.text}`).toBe(
          refusedBy(version, ranges),
        );

        const ours = await gateway.post({ version: "v1", body });
        expect(ours.disagreements).toEqual([]);
        if (reason === undefined) {
          expect(ours.status, ours.text).toBe(204);
          expect(ours.records.length).toBe(1);
        } else {
          expect(ours.status).toBe(400);
          expect(ours.text).toContain(`${reason}: 1`);
          expect(ours.records).toEqual([]);
        }
        if (refused === (reason !== undefined)) seen.agreed++;
        else
          seen.laterRule.push(
            `${_name} (${ranges.map(([from, to]) => (to ? `${from}–${to}` : `${from}+`)).join(", ")})`,
          );
      },
    );
  });

  it("every record in the stream decodes", async () => {
    const items = await readAll(kinesis.client, STREAM);
    expect(items.length).toBeGreaterThan(0);
    const bad = items
      .map(({ record }) => readRecord(record.Data!, record.PartitionKey!))
      .filter((r) => !r.ok)
      .map((r) => (r.ok ? "" : r.error.message));
    expect(bad).toEqual([]);
  }, 60_000);

  it("no damaged body made a call AWS would refuse", () => {
    console.log(`differential: strict front ${JSON.stringify(strict.stats)}`);
    expect(strict.stats.inspected).toBeGreaterThan(0);
    expect(strict.stats.refusals).toEqual([]);
  });
});
