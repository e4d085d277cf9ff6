import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "../functions/local/ports";
import { decompress } from "../lib/codec/snappy";
import { Reader, WIRE_LEN } from "../lib/codec/wire";
import { listenOnLoopback } from "../test/support/listen";
import { stopChild } from "../test/support/process";
import { VMAGENT_BIN } from "../test/support/vmagent";

/**
 * vmagent as a remote-write receiver: it listens on 127.0.0.1 (its /api/v1/write) and
 * forwards to a destination in this process that answers 204 and counts what it receives
 * (samples, compressed body bytes). vmagent acknowledges a write once the samples are in its
 * queue and sends them later (blocks of up to 10,000 samples, or every flush interval, 1 s by
 * default), so its work for a load ends only when the destination has every sample:
 * `drained(n)` waits for that.
 */
export interface VmagentReceiver {
  readonly url: string;
  readonly pid: number;
  /** What the destination has received so far. */
  readonly received: { samples: number; bytes: number; requests: number };
  /** Resolves once the destination has received `samples` samples in all. */
  drained(samples: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Float and histogram samples in a v1 WriteRequest, counted from the wire. */
export function countV1Samples(message: Uint8Array): number {
  const top = new Reader(message);
  const series = new Reader(message);
  let n = 0;
  while (!top.done()) {
    const tag = top.tag();
    if (tag >>> 3 !== 1 || (tag & 7) !== WIRE_LEN) {
      top.skip(tag & 7);
      continue;
    }
    const end = top.lengthEnd();
    series.at(top.pos, end);
    while (!series.done()) {
      const t = series.tag();
      // TimeSeries: 2 samples, 4 histograms
      if ((t >>> 3 === 2 || t >>> 3 === 4) && (t & 7) === WIRE_LEN) n++;
      series.skip(t & 7);
    }
    top.pos = end;
  }
  return n;
}

export async function startVmagentReceiver(): Promise<VmagentReceiver> {
  const received = { samples: 0, bytes: 0, requests: 0 };
  let badRequests = 0;
  const destination = await listenOnLoopback(
    createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks);
        let samples = 0;
        try {
          samples = countV1Samples(decompress(body, 256 * 1024 * 1024));
        } catch {
          badRequests++;
          res.writeHead(400).end();
          return;
        }
        // counted once the answer is out, so vmagent has nothing left to do for these
        res.on("finish", () => {
          received.samples += samples;
          received.bytes += body.length;
          received.requests++;
        });
        res.writeHead(204).end();
      });
    }),
  );
  const home = await mkdtemp(join(tmpdir(), "bench-vmagent-"));
  const port = await freePort();
  const child: ChildProcess = spawn(
    VMAGENT_BIN,
    [
      `-httpListenAddr=127.0.0.1:${port}`,
      `-remoteWrite.url=${destination.url}/api/v1/write`,
      `-remoteWrite.tmpDataPath=${join(home, "buffer")}`,
      "-loggerLevel=ERROR",
    ],
    { cwd: home, stdio: ["ignore", "ignore", "pipe"] },
  );
  let output = "";
  child.stderr?.on("data", (c: Buffer) => {
    output = (output + c.toString()).slice(-4000);
  });
  const stop = async () => {
    await stopChild(child, "SIGINT");
    await destination.close();
    await rm(home, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      "vmagent",
      async () => (await fetch(`${url}/health`)).ok,
      20_000,
      100,
      () => child.exitCode !== null,
    );
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}; vmagent said: ${output}`);
  }
  return {
    url,
    pid: child.pid!,
    received,
    async drained(samples, timeoutMs = 60_000) {
      const until = Date.now() + timeoutMs;
      while (received.samples < samples) {
        if (badRequests > 0) throw new Error("the vmagent destination could not read a request");
        if (Date.now() > until)
          throw new Error(
            `vmagent forwarded ${received.samples} of ${samples} samples in ${timeoutMs} ms: ${output}`,
          );
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    stop,
  };
}
