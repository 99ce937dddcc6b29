import {
  EntryTooLargeError,
  InvalidKeyError,
  InvalidSizeError,
  InvalidTtlError,
  InvalidVersionError,
} from './errors.js';

/**
 * Validation of one entry's inputs. The store inlines the cheap "is it valid" tests
 * on its hot paths and calls these only to throw, so the common case pays for one
 * comparison per field and no call.
 */

/**
 * True when `ttlMs` is `undefined` (no expiry) or a number in `0 ..= 2^53-1`. The
 * upper bound keeps `now + ttlMs` finite, so an expiry can never collide with the
 * "no expiry" marker (Infinity).
 */
export function isValidTtl(ttlMs: unknown): ttlMs is number | undefined {
  // `>= 0` is false for NaN; the typeof test stops '5' from passing by coercion.
  return (
    ttlMs === undefined ||
    (typeof ttlMs === 'number' && ttlMs >= 0 && ttlMs <= Number.MAX_SAFE_INTEGER)
  );
}

/** Throws the error that explains why `size` failed the fast `(size >>> 0) === size` test. */
export function rejectSize(key: string, size: unknown, maxEntryBytes: number): never {
  // A whole, non-negative size that failed the uint32 test is simply too big.
  if (typeof size === 'number' && Number.isSafeInteger(size) && size >= 0) {
    throw new EntryTooLargeError(key, size, maxEntryBytes);
  }
  throw new InvalidSizeError(size);
}

/** Throws {@link InvalidKeyError}; a function so callers' hot paths stay small. */
export function rejectKey(key: unknown): never {
  throw new InvalidKeyError(key);
}

/** Throws {@link InvalidTtlError}. */
export function rejectTtl(ttlMs: unknown): never {
  throw new InvalidTtlError(ttlMs);
}

/** Throws {@link InvalidVersionError}. */
export function rejectVersion(version: unknown): never {
  throw new InvalidVersionError(version);
}
