import { echo } from "../core/errors";
import type { ProtocolVersion } from "../stream/records";
import { UnsupportedContentError } from "./errors";

export type { ProtocolVersion };

export const PROTO_V1 = "prometheus.WriteRequest";
export const PROTO_V2 = "io.prometheus.write.v2.Request";

export const HEADER_VERSION = "X-Prometheus-Remote-Write-Version";
export const HEADER_SAMPLES_WRITTEN = "X-Prometheus-Remote-Write-Samples-Written";
export const HEADER_HISTOGRAMS_WRITTEN = "X-Prometheus-Remote-Write-Histograms-Written";
export const HEADER_EXEMPLARS_WRITTEN = "X-Prometheus-Remote-Write-Exemplars-Written";

/** The version string answered in X-Prometheus-Remote-Write-Version. */
export const VERSION_ANSWER: Record<ProtocolVersion, string> = { v1: "0.1.0", v2: "2.0.0" };

/**
 * Content negotiation as Remote-Write 2.0 defines it: Content-Type selects the schema
 * (missing or bare application/x-protobuf means v1); anything else is an
 * UnsupportedContentError (the endpoint answers 415), and so is a Content-Encoding other
 * than snappy. An absent Content-Encoding is read as snappy.
 */
export function negotiate(
  contentType: string | undefined,
  contentEncoding: string | undefined,
): ProtocolVersion {
  const encoding = (contentEncoding ?? "snappy").trim().toLowerCase();
  if (encoding !== "snappy") {
    throw new UnsupportedContentError(
      "unsupported-encoding",
      `unsupported Content-Encoding "${echo(encoding, 40)}": only snappy is accepted`,
    );
  }
  if (contentType === undefined || contentType.trim() === "") return "v1";
  const [mediaType, ...params] = contentType.split(";").map((part) => part.trim());
  if (mediaType!.toLowerCase() !== "application/x-protobuf") {
    throw new UnsupportedContentError(
      "unsupported-content-type",
      `unsupported Content-Type "${echo(contentType, 80)}": expected application/x-protobuf`,
    );
  }
  let proto: string | undefined;
  for (const param of params) {
    const eq = param.indexOf("=");
    if (eq < 0) continue;
    if (param.slice(0, eq).trim().toLowerCase() === "proto")
      proto = param
        .slice(eq + 1)
        .trim()
        .replace(/^"|"$/g, "");
  }
  if (proto === undefined || proto === PROTO_V1) return "v1";
  if (proto === PROTO_V2) return "v2";
  throw new UnsupportedContentError(
    "unsupported-proto",
    `unsupported proto "${echo(proto, 80)}": expected ${PROTO_V1} or ${PROTO_V2}`,
  );
}
