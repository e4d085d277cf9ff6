/**
 * What the ingest path throws. These are domain errors, not HTTP ones: the remote-write
 * endpoint maps them to statuses (docs/ingest.md has the table). Each carries a stable
 * identifier (`code`) that appears in the answer and in the logs.
 */

/** The request body cannot be read as the announced protocol (400), or would decode too large (413). */
export class UnreadableBodyError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** The declared decoded size is over the limit: the body is refused unread. */
    readonly tooLarge = false,
  ) {
    super(message);
    this.name = "UnreadableBodyError";
  }
}

/**
 * The request is not in a form this endpoint reads: a Content-Type other than Remote-Write's
 * protobuf, a `proto` other than v1's or v2's, or a Content-Encoding other than snappy (415).
 */
export class UnsupportedContentError extends Error {
  constructor(
    /** `unsupported-encoding`, `unsupported-content-type` or `unsupported-proto`. */
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "UnsupportedContentError";
  }
}

/** The stream did not accept every record in time; some may be written. A retry can succeed. */
export class StreamWriteError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** How long the sender should wait before retrying, in seconds. */
    readonly retryAfterSeconds: number,
  ) {
    super(message);
    this.name = "StreamWriteError";
  }
}

/**
 * The stream refused some records of the request for what they are (a limit of the
 * stream): no retry can cure that. The request's other records were written.
 */
export class RecordsRefusedError extends Error {
  readonly code = "stream-refused-records";
  constructor(
    /** Records refused, of `total`. */
    readonly refused: number,
    readonly total: number,
    /** What refused them (an AWS error code, or the limit broken). */
    readonly reason: string,
  ) {
    super(
      `the stream refused ${refused} of ${total} records of this request (${reason}); ` +
        "the others were written; do not resend",
    );
    this.name = "RecordsRefusedError";
  }
}

/**
 * The stream cannot be written by this function at all (missing stream, denied access, a
 * KMS key disabled): an operator must act; once fixed, a resend succeeds.
 */
export class StreamUnusableError extends Error {
  readonly code = "stream-unusable";
  constructor(
    /** The AWS error code. */
    readonly reason: string,
    readonly unwritten: number,
    readonly total: number,
  ) {
    super(`the stream cannot be written (${reason}): ${unwritten} of ${total} records not written`);
    this.name = "StreamUnusableError";
  }
}
