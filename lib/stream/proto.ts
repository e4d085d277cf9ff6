import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";

/**
 * The Remote-Write schemas, compiled at load time by protobufjs from the committed .proto
 * files in proto/. Used by tools and tests that want whole decoded messages (the hot path
 * reads the wire format directly and does not need this).
 */
const protoDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "proto");

let cached: { v1: protobuf.Type; v2: protobuf.Type } | undefined;

export function schemas(): { v1: protobuf.Type; v2: protobuf.Type } {
  if (cached) return cached;
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(protoDir, target);
  root.loadSync(["prometheus/remote.proto", "io/prometheus/write/v2/types.proto"], { keepCase: true });
  cached = {
    v1: root.lookupType("prometheus.WriteRequest"),
    v2: root.lookupType("io.prometheus.write.v2.Request"),
  };
  return cached;
}

/** Plain-object conversion options: int64 as decimal strings, enums as names. */
export const TO_OBJECT: protobuf.IConversionOptions = {
  longs: String,
  enums: String,
  defaults: false,
  arrays: true,
};
