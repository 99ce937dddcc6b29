import { ShoalError } from '../util/errors.js';

/** Describes a rejected argument for a message without risking a throw while formatting it. */
function describe(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'undefined') {
    return String(value);
  }
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null) return 'null';
  return `a value of type ${typeof value}`;
}

/**
 * An entry is larger than the store could ever hold (`size > maxBytes`, or above
 * `MAX_ENTRY_BYTES`). Nothing was stored and nothing was evicted: an existing
 * entry under the same key is left exactly as it was.
 */
export class EntryTooLargeError extends ShoalError {
  /** The size the caller gave for the entry. */
  readonly size: number;
  /** The largest size a single entry may have in this store right now. */
  readonly maxEntryBytes: number;

  constructor(key: string, size: number, maxEntryBytes: number) {
    super(
      'ERR_STORE_ENTRY_TOO_LARGE',
      `entry ${describe(key)} of ${size} bytes exceeds the per-entry limit of ${maxEntryBytes} bytes`,
    );
    this.size = size;
    this.maxEntryBytes = maxEntryBytes;
  }
}

/** A key was not a string. */
export class InvalidKeyError extends ShoalError {
  constructor(key: unknown) {
    super('ERR_STORE_INVALID_KEY', `store keys must be strings, got ${describe(key)}`);
  }
}

/** A value was `undefined`, which `get` uses to mean "absent", so it cannot be stored. */
export class InvalidValueError extends ShoalError {
  constructor(key: string) {
    super('ERR_STORE_INVALID_VALUE', `cannot store undefined under ${describe(key)}`);
  }
}

/** An entry size was not a non-negative integer number of bytes. */
export class InvalidSizeError extends ShoalError {
  constructor(size: unknown) {
    super(
      'ERR_STORE_INVALID_SIZE',
      `entry size must be a non-negative integer number of bytes, got ${describe(size)}`,
    );
  }
}

/** A TTL was not a finite, non-negative number of milliseconds. */
export class InvalidTtlError extends ShoalError {
  constructor(ttlMs: unknown) {
    super(
      'ERR_STORE_INVALID_TTL',
      `ttlMs must be a finite number >= 0 (or undefined for no expiry), got ${describe(ttlMs)}`,
    );
  }
}

/** A version was not a finite number. */
export class InvalidVersionError extends ShoalError {
  constructor(version: unknown) {
    super('ERR_STORE_INVALID_VERSION', `version must be a finite number, got ${describe(version)}`);
  }
}

/** A limit (`maxEntries`, `maxBytes`, a sample count) was missing or out of range. */
export class InvalidStoreLimitError extends ShoalError {
  constructor(name: string, value: unknown, expected: string) {
    super('ERR_STORE_INVALID_LIMIT', `${name} must be ${expected}, got ${describe(value)}`);
  }
}

/**
 * The `onRemove` hook called back into a store operation that changes the store.
 * Hooks run in the middle of an operation, so letting them mutate would corrupt it.
 */
export class ReentrantStoreCallError extends ShoalError {
  constructor(operation: string) {
    super(
      'ERR_STORE_REENTRANT_CALL',
      `store.${operation}() was called from inside onRemove; hooks may only read the store`,
    );
  }
}
