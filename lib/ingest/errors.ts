/**
 * What the ingest path throws. These are domain errors, not HTTP ones: the remote-write app
 * maps them to statuses (docs/ingest.md has the table). Each carries a stable identifier
 * (`code`) that appears in the answer and in the logs.
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
