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

/** Truncates user input echoed back in messages. */
export function echo(value: string, max = 200): string {
  const clean = value.replace(/[\r\n]+/g, " ");
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
