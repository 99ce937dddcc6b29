import { InvalidArgumentError } from '../util/errors.js';
import type { GetOrLoadOptions } from './cache-api.js';
import { checkTtl } from './key-ops.js';
import { MAX_STALE_WINDOW_MS } from './load-entry.js';

/** `loadTimeoutMs` when none is given. */
export const DEFAULT_LOAD_TIMEOUT_MS = 10_000;
/** Longest `loadTimeoutMs` accepted (a lease is a promise to answer; keep it short). */
export const MAX_LOAD_TIMEOUT_MS = 600_000;

/** `GetOrLoadOptions` validated, with defaults applied. */
export interface ResolvedLoadOptions {
  readonly ttlMs: number | undefined;
  readonly loadTimeoutMs: number;
  readonly negativeTtlMs: number | undefined;
  readonly staleWhileRevalidateMs: number | undefined;
}

/** Whether `value` is a valid `loadTimeoutMs`: an integer in 1..{@link MAX_LOAD_TIMEOUT_MS}. */
export function isLoadTimeout(value: unknown): value is number {
  return (
    typeof value === 'number' &&
    Number.isSafeInteger(value) &&
    value >= 1 &&
    value <= MAX_LOAD_TIMEOUT_MS
  );
}

/** Whether `value` is a valid stale window: an integer in 1..{@link MAX_STALE_WINDOW_MS}. */
export function isStaleWindow(value: unknown): value is number {
  return (
    typeof value === 'number' &&
    Number.isSafeInteger(value) &&
    value >= 1 &&
    value <= MAX_STALE_WINDOW_MS
  );
}

/** Validates `getOrLoad` options; throws `InvalidArgumentError` on anything wrong. */
export function resolveLoadOptions(options: GetOrLoadOptions | undefined): ResolvedLoadOptions {
  if (options === undefined) {
    return {
      ttlMs: undefined,
      loadTimeoutMs: DEFAULT_LOAD_TIMEOUT_MS,
      negativeTtlMs: undefined,
      staleWhileRevalidateMs: undefined,
    };
  }
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('getOrLoad options must be an object');
  }
  const { ttlMs, negativeTtlMs, staleWhileRevalidateMs } = options;
  const loadTimeoutMs = options.loadTimeoutMs ?? DEFAULT_LOAD_TIMEOUT_MS;
  if (ttlMs !== undefined) checkTtl(ttlMs);
  if (negativeTtlMs !== undefined) checkTtl(negativeTtlMs, 'negativeTtlMs');
  if (!isLoadTimeout(loadTimeoutMs)) {
    throw new InvalidArgumentError(
      `loadTimeoutMs must be an integer from 1 to ${MAX_LOAD_TIMEOUT_MS} ms`,
    );
  }
  if (staleWhileRevalidateMs !== undefined) {
    if (!isStaleWindow(staleWhileRevalidateMs)) {
      throw new InvalidArgumentError(
        `staleWhileRevalidateMs must be an integer from 1 to ${MAX_STALE_WINDOW_MS} ms`,
      );
    }
    if (ttlMs === undefined) {
      throw new InvalidArgumentError('staleWhileRevalidateMs needs ttlMs (what would go stale?)');
    }
    checkTtl(ttlMs + staleWhileRevalidateMs, 'ttlMs + staleWhileRevalidateMs');
  }
  return { ttlMs, loadTimeoutMs, negativeTtlMs, staleWhileRevalidateMs };
}
