import { InvalidStoreLimitError } from './errors.js';

/**
 * The most entries one store can hold: V8's `Map` refuses to grow past 2^24 entries,
 * and the key-to-slot index is a `Map`, so a larger limit could only fail later and
 * mid-operation.
 */
export const MAX_STORE_ENTRIES = 2 ** 24;

/**
 * The largest size one entry may declare. Sizes live in a `Uint32Array` (4 bytes per
 * entry instead of 8); no single cached value comes near 4 GiB, which is also above
 * what a Node `Buffer` can hold.
 */
export const MAX_ENTRY_BYTES = 2 ** 32 - 1;

/** How many slots `set` examines for expired entries when the caller does not say. */
export const DEFAULT_SWEEP_SAMPLES_PER_CALL = 4;

/** The largest `sweepSamplesPerCall`: `set` must stay cheap, so its sweep step stays small. */
export const MAX_SWEEP_SAMPLES_PER_CALL = 1024;

/** The two bounds of a store. */
export interface StoreLimits {
  /** Most entries held at once, 1 ..= {@link MAX_STORE_ENTRIES}. */
  readonly maxEntries: number;
  /** Most bytes held at once (the sum of the sizes callers gave), a non-negative safe integer. */
  readonly maxBytes: number;
}

/** Throws {@link InvalidStoreLimitError} unless `limits` holds two valid bounds. */
export function checkStoreLimits(limits: StoreLimits): void {
  if (typeof limits !== 'object' || limits === null) {
    throw new InvalidStoreLimitError('limits', limits, 'an object { maxEntries, maxBytes }');
  }
  const { maxEntries, maxBytes } = limits;
  if (!Number.isInteger(maxEntries) || maxEntries < 1 || maxEntries > MAX_STORE_ENTRIES) {
    throw new InvalidStoreLimitError(
      'maxEntries',
      maxEntries,
      `an integer from 1 to ${MAX_STORE_ENTRIES}`,
    );
  }
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new InvalidStoreLimitError('maxBytes', maxBytes, 'a non-negative safe integer');
  }
}

/** Throws {@link InvalidStoreLimitError} unless `value` is an integer in `0 ..= max`. */
export function checkSampleCount(name: string, value: unknown, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new InvalidStoreLimitError(name, value, `an integer from 0 to ${max}`);
  }
  return value;
}
