import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP proxy on 127.0.0.1 that a test controls: it forwards every connection to a
 * target port until cut(), which drops the open connections and resets new ones at once
 * (the far side sees a dead network, as in an outage), until restore().
 */
export interface TcpProxy {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  /** Connections accepted and forwarded; connections reset while cut. */
  readonly stats: { forwarded: number; refused: number; cuts: number };
  readonly isCut: boolean;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host?: string; port: number }): Promise<TcpProxy> {
  const host = target.host ?? "127.0.0.1";
  const open = new Set<Socket>();
  const stats = { forwarded: 0, refused: 0, cuts: 0 };
  let cut = false;

  const server: Server = createServer((client) => {
    if (cut) {
      stats.refused++;
      client.resetAndDestroy();
      return;
    }
    stats.forwarded++;
    const upstream = connect({ host, port: target.port });
    open.add(client);
    open.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on("error", drop);
    upstream.on("error", drop);
    client.on("close", drop);
    upstream.on("close", drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stats,
    get isCut() {
      return cut;
    },
    cut() {
      cut = true;
      stats.cuts++;
      for (const socket of open) socket.resetAndDestroy();
      open.clear();
    },
    restore() {
      cut = false;
    },
    async close() {
      for (const socket of open) socket.destroy();
      open.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
