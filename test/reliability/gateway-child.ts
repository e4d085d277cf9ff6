import { startLocalGateway } from "../../functions/local/gateway";

/**
 * The local gateway in a process of its own, so its CPU and memory can be read from /proc
 * apart from the test or benchmark driving it. Prints one JSON line (url, apiKey, pid),
 * then serves until SIGTERM.
 */
const gateway = await startLocalGateway({ port: 0 });
process.stdout.write(`${JSON.stringify({ url: gateway.url, apiKey: gateway.apiKey, pid: process.pid })}\n`);
const stop = async () => {
  await gateway.stop();
  process.exit(0);
};
process.once("SIGTERM", () => void stop());
process.once("SIGINT", () => void stop());
