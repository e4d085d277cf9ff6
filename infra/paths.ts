import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (where package.json and package-lock.json live). */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Function entries, relative to the project root. */
export const ENTRIES = {
  remoteWrite: "functions/remote-write/handler.ts",
  mirror: "functions/mirror/handler.ts",
  forwarder: "functions/forwarder/handler.ts",
} as const;
