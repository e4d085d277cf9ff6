import { createServer } from "node:net";

/** A TCP port free on 127.0.0.1 right now (for servers that cannot listen on port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once `probe` succeeds, polling every `intervalMs`, or rejects after `timeoutMs`. */
export async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 100,
  /** Stops waiting at once when true (what was waited for can no longer happen). */
  hopeless: () => boolean = () => false,
) {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until && !hopeless()) {
    try {
      if (await probe()) return;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ""}`,
  );
}
