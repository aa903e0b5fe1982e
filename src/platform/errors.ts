/** Base of every error Rampart raises on purpose; `code` is stable for API clients and tests. */
export class RampartError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(code: string, status: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
  }
}

/** Input that fails validation: `where` says which field or location. */
export class Invalid extends RampartError {
  readonly where: string | undefined;
  constructor(message: string, where?: string) {
    super("invalid", 400, where ? `${where}: ${message}` : message);
    this.where = where;
  }
}

export class NotFound extends RampartError {
  constructor(message: string) {
    super("not_found", 404, message);
  }
}

export class Forbidden extends RampartError {
  constructor(message = "forbidden") {
    super("forbidden", 403, message);
  }
}

export class Unauthorized extends RampartError {
  constructor(message = "authentication required") {
    super("unauthorized", 401, message);
  }
}

export class Conflict extends RampartError {
  constructor(message: string) {
    super("conflict", 409, message);
  }
}

/** A dependency (database, Redis, upstream) is unavailable; callers may retry. */
export class Unavailable extends RampartError {
  constructor(message: string, options?: ErrorOptions) {
    super("unavailable", 503, message, options);
  }
}
