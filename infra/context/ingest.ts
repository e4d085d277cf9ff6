import { cidrList } from "../../lib/core/cidr";
import { int, num, type ValuesOf, within } from "../../lib/core/config";
import { MAX_BODY_BYTES, NAME_VALIDATION } from "../../lib/ingest/config";
import type { NameValidation } from "../../lib/ingest/scan/validate";

/** The remote-write API and the ingest function (only with the ingest component). */

/** Largest raw body whose base64 form (4/3 larger) still fits a 6 MB synchronous Lambda event. */
export const MAX_LAMBDA_BODY_BYTES = 4_400_000;

export const INGEST_KEYS = {
  ingestThrottleRate: num({
    min: 1,
    max: 1_000_000,
    default: 500,
    doc: "remote-write API steady rate limit, requests/s, 1 to 1000000",
  }),
  ingestThrottleBurst: int({
    min: 1,
    max: 1_000_000,
    default: 1000,
    doc: "remote-write API burst limit, requests, 1 to 1000000",
  }),
  ingestReservedConcurrency: int({
    min: 1,
    max: 10_000,
    default: undefined,
    doc: "reserved concurrency of the ingest function, 1 to 10000 (unset: none)",
  }),
  ingestMemoryMb: int({
    min: 128,
    max: 10_240,
    default: 1024,
    doc: "ingest function memory, MB (128 to 10240)",
  }),
  ingestTimeoutSeconds: int({
    min: 5,
    max: 29,
    default: 20,
    doc: "ingest function timeout, 5 to 29 s; Kinesis retries stop 3 s earlier",
  }),
  // MAX_BODY_BYTES of the function, within what a Lambda event carries
  ingestMaxBodyBytes: within(MAX_BODY_BYTES, {
    min: 1024,
    max: MAX_LAMBDA_BODY_BYTES,
    default: 4_194_304,
    doc: "largest compressed remote-write body accepted, bytes, 1024 to 4400000 (the most whose base64 form fits a 6 MB Lambda event)",
  }),
  // INGEST_ALLOWED_CIDRS and NAME_VALIDATION of the function
  ingestAllowedCidrs: cidrList({
    unique: true,
    doc: "comma-separated IPv4 source CIDRs the ingest function answers (`INGEST_ALLOWED_CIDRS`; any other source gets 403 before the key is checked or the body read); empty: any source ([security.md](security.md#who-may-write))",
  }),
  nameValidation: {
    ...NAME_VALIDATION,
    doc: "`NAME_VALIDATION` for the ingest function: `utf8` (any UTF-8 metric and label names, as Prometheus 3 and Mimir take them) or `legacy` (only `[a-zA-Z_:][a-zA-Z0-9_:]*` names, when every backend the stream feeds predates Prometheus 3)",
  },
} as const;

export interface IngestSettings {
  readonly throttleRate: number;
  readonly throttleBurst: number;
  readonly reservedConcurrency?: number;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  readonly maxBodyBytes: number;
  /** NAME_VALIDATION of the ingest function. */
  readonly nameValidation: NameValidation;
  /** INGEST_ALLOWED_CIDRS: the only sources the function answers (empty: any). */
  readonly allowedCidrs: readonly string[];
}

export function ingestSettings(v: ValuesOf<typeof INGEST_KEYS>): IngestSettings {
  return {
    throttleRate: v.ingestThrottleRate,
    throttleBurst: v.ingestThrottleBurst,
    reservedConcurrency: v.ingestReservedConcurrency,
    memoryMb: v.ingestMemoryMb,
    timeoutSeconds: v.ingestTimeoutSeconds,
    maxBodyBytes: v.ingestMaxBodyBytes,
    nameValidation: v.nameValidation,
    allowedCidrs: v.ingestAllowedCidrs,
  };
}
