import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { listenOnLoopback } from "./listen";

/**
 * A scripted remote-write endpoint on 127.0.0.1 for fault injection: it records every
 * request (headers and body) and answers what the test's script says.
 */
export interface SeenRequest {
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** A status, a full answer, or "drop": the connection is destroyed without an answer (a lost response). */
export type Answer = number | "drop" | { status: number; headers?: Record<string, string>; body?: string };

export interface ScriptedDestination {
  readonly url: string;
  readonly requests: SeenRequest[];
  close(): Promise<void>;
}

export async function startScriptedDestination(
  script: (request: SeenRequest, index: number) => Answer,
): Promise<ScriptedDestination> {
  const requests: SeenRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const seen = { headers: req.headers, body: Buffer.concat(chunks) };
      requests.push(seen);
      const answer = script(seen, requests.length - 1);
      if (answer === "drop") {
        req.socket.destroy();
        return;
      }
      const a = typeof answer === "number" ? { status: answer } : answer;
      res.writeHead(a.status, a.headers ?? {});
      res.end(a.body ?? "");
    });
  });
  const { url, close } = await listenOnLoopback(server);
  return { url: `${url}/api/v1/write`, requests, close };
}
