import { randomInt } from "node:crypto";
import { parseArgs } from "node:util";
import { damagedCorpus } from "../test/fixtures/damaged-corpus";
import { checkBody, differentialGateway, emptyTally } from "../test/support/differential";
import { prometheusAvailable } from "../test/support/prometheus";
import { startReceiver } from "../test/support/receiver";

/**
 * `npm run fuzz`: the differential check of test/reliability/differential.test.ts on random
 * seeds, for as long as asked. Damaged bodies go to Prometheus's own receiver and to the
 * gateway's two fronts; a seed fails when the gateway writes anything for a body Prometheus cannot
 * decode, or writes a record protobufjs or Prometheus cannot decode.
 *   npm run fuzz -- --seconds 300        random seeds for five minutes
 *   npm run fuzz -- --seed 1267226234    replays one seed (then add it to the test's SEEDS)
 * Exits 1 when a seed failed, printing the seed and what went wrong.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "60" },
    seed: { type: "string" },
    bodies: { type: "string", default: "300" },
  },
});
const seconds = Number(values.seconds);
const bodies = Number(values.bodies);
if (!Number.isFinite(seconds) || seconds <= 0 || !Number.isInteger(bodies) || bodies <= 0) {
  console.error("fuzz: --seconds must be a positive number and --bodies a positive integer");
  process.exit(2);
}
if (!prometheusAvailable()) process.exit(2);

const prometheus = await startReceiver();
const gateway = await differentialGateway();
const tally = emptyTally();
const failed: number[] = [];
const deadline = Date.now() + seconds * 1000;
let seeds = 0;
try {
  do {
    const seed = values.seed !== undefined ? Number(values.seed) : randomInt(2 ** 31);
    seeds++;
    const problems: string[] = [];
    try {
      for (const c of damagedCorpus(seed, bodies))
        problems.push(...(await checkBody(c, gateway, prometheus, tally)));
    } catch (err) {
      problems.push(`the check itself failed: ${(err as Error).stack}`);
    }
    if (problems.length > 0) {
      failed.push(seed);
      console.log(`fuzz: seed ${seed} FAILED (replay: npm run fuzz -- --seed ${seed})`);
      for (const p of problems.slice(0, 20)) console.log(`  ${p}`);
      if (problems.length > 20) console.log(`  … and ${problems.length - 20} more`);
    }
  } while (values.seed === undefined && Date.now() < deadline);
} finally {
  await gateway.close();
  await prometheus.stop();
}
console.log(
  `fuzz: ${seeds} seed(s), ${tally.bodies} bodies: ${tally.undecodable} undecodable to Prometheus, ` +
    `${tally.stricter} refused by the gateway only, ${tally.written} written in ${tally.records} records ` +
    `(${tally.replayed} replayed to Prometheus); ${failed.length === 0 ? "no failures" : `failed seeds: ${failed.join(" ")}`}`,
);
process.exit(failed.length === 0 ? 0 : 1);
