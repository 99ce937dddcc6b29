/**
 * The base of every error shoal throws. Callers branch on `code`, which is stable
 * across releases; the message is for humans and may change.
 */
export class ShoalError extends Error {
  /** A stable, machine-readable identifier such as `ERR_STORE_ENTRY_TOO_LARGE`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** An argument failed validation (wrong type, out of range, malformed). */
export class InvalidArgumentError extends ShoalError {
  constructor(message: string) {
    super('ERR_INVALID_ARGUMENT', message);
  }
}

/**
 * An internal invariant was broken. This is always a bug in shoal, never a caller's
 * mistake; it is thrown instead of continuing with corrupt state.
 */
export class InvariantViolationError extends ShoalError {
  constructor(message: string) {
    super('ERR_INVARIANT', message);
  }
}
