export type AppErrorCode =
  | 'VALIDATION_FAILED'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'PAYLOAD_TOO_LARGE'
  | 'SERVICE_UNAVAILABLE'
  | 'RATE_LIMITED'
  | 'INTERNAL'
  /** Spelled as the reorganisation issue specifies: a key whose unit a reorganisation retired. */
  | 'unit_retired';

/** Application error with a stable code; the API turns it into `{error: {code, message, details?}}`. */
export class AppError extends Error {
  override name = this.constructor.name;
  constructor(
    readonly code: AppErrorCode,
    message: string,
    readonly statusCode = 500,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export class ValidationError extends AppError {
  constructor(message: string, details?: unknown) {
    super('VALIDATION_FAILED', message, 400, details);
  }
}

export class NotFoundError extends AppError {
  constructor(what: string) {
    super('NOT_FOUND', `${what} not found`, 404);
  }
}

export class ForbiddenError extends AppError {
  constructor(message: string) {
    super('FORBIDDEN', message, 403);
  }
}

/** 403 for every call of a key scoped to a retired unit, until an admin re-scopes it. */
export class UnitRetiredError extends AppError {
  constructor(message: string) {
    super('unit_retired', message, 403);
  }
}

export class UnauthenticatedError extends AppError {
  constructor(message = 'missing or unknown API key') {
    super('UNAUTHENTICATED', message, 401);
  }
}

export class ConflictError extends AppError {
  constructor(message: string, details?: unknown) {
    super('CONFLICT', message, 409, details);
  }
}

export class UnavailableError extends AppError {
  constructor(message: string) {
    super('SERVICE_UNAVAILABLE', message, 503);
  }
}
