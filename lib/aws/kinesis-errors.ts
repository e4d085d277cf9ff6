/**
 * How Kinesis's refusals are read. A call that breaks a limit is refused as a whole (HTTP
 * 400 `ValidationException`, naming the entries as `records.<n>.member...`, counted from
 * 1); per-entry error codes carry only throughput and internal failures (and KMS ones on
 * encrypted streams).
 */

import { isCredentialError } from "./aws-json";

/** How a failure is met: retried, refused for good, the stream unusable, or the credentials refused. */
export type FailureKind = "transient" | "throttled" | "refused" | "unusable" | "credentials";

/** The request is invalid: no retry of the same entries can succeed. */
const REFUSED = new Set(["ValidationException", "InvalidArgumentException", "SerializationException"]);

/** The stream refuses this writer: missing, access denied, its KMS key unusable. An operator must act. */
const UNUSABLE = new Set([
  "ResourceNotFoundException",
  "AccessDeniedException",
  "KMSAccessDeniedException",
  "KMSDisabledException",
  "KMSNotFoundException",
  "KMSInvalidStateException",
  "KMSOptInRequired",
]);

const THROTTLES = new Set([
  "ProvisionedThroughputExceededException",
  "LimitExceededException",
  "KMSThrottlingException",
  "ThrottlingException",
]);

/**
 * A whole call's failure, by the error's name (the bare AWS code) and message. Denied access
 * is the stream's (an IAM policy to fix), not the credentials'; a signature refused for its
 * time is a clock to correct (the client does), then transient.
 */
export function classifyCallError(name: string, message = ""): FailureKind {
  if (REFUSED.has(name)) return "refused";
  if (UNUSABLE.has(name)) return "unusable";
  if (isCredentialError(name, message)) return "credentials";
  if (THROTTLES.has(name)) return "throttled";
  return "transient";
}

/** One entry's `ErrorCode` in a PutRecords answer. */
export function classifyEntryError(code: string): FailureKind {
  const kind = classifyCallError(code);
  // per entry, a credentials code would be meaningless: count it as transient
  return kind === "credentials" ? "transient" : kind;
}

/**
 * The entries (0-based) a ValidationException message names: `records.<n>.member...`,
 * counted from 1 as AWS counts. Empty when the message names none, or names one out of range.
 */
export function refusedIndexes(message: string, entries: number): Set<number> {
  const out = new Set<number>();
  for (const m of message.matchAll(/records\.(\d+)\.member/g)) {
    const n = Number(m[1]);
    if (n < 1 || n > entries) return new Set();
    out.add(n - 1);
  }
  return out;
}
