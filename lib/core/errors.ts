/**
 * One error model for the HTTP surface. Each error knows its status and a stable
 * identifier (`code`), which appears in messages and doubles as a metric dimension.
 */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

export class BadRequestError extends HttpError {
  constructor(code: string, message: string) {
    super(400, code, message);
  }
}

export class UnauthorizedError extends HttpError {
  constructor(realm: string, message = "missing or invalid credentials") {
    super(401, "unauthorized", message, { "WWW-Authenticate": `Basic realm="${realm}", charset="UTF-8"` });
  }
}

export class PayloadTooLargeError extends HttpError {
  constructor(code: string, message: string) {
    super(413, code, message);
  }
}

export class UnsupportedMediaTypeError extends HttpError {
  constructor(code: string, message: string) {
    super(415, code, message);
  }
}

/** A failure an operator must fix (answered 500, retried by senders; alarmed). */
export class InternalServerError extends HttpError {
  constructor(code: string, message: string) {
    super(500, code, message);
  }
}

export class ServiceUnavailableError extends HttpError {
  constructor(code: string, message: string, retryAfterSeconds: number) {
    super(503, code, message, { "Retry-After": String(retryAfterSeconds) });
  }
}

/**
 * A Retry-After of `base` seconds plus up to half of it again, drawn by `random`, so senders
 * refused together do not return in step. A `random` that throws leaves the base alone: the
 * answer never depends on the jitter.
 */
export function jitteredRetryAfter(base: number, random: () => number): number {
  let jitter = 0;
  try {
    jitter = Math.floor(random() * (Math.floor(base / 2) + 1));
  } catch {
    // the base alone
  }
  return base + jitter;
}

/** Truncates user input echoed back in messages. */
export function echo(value: string, max = 200): string {
  const clean = value.replace(/[\r\n]+/g, " ");
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
