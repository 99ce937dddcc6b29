import { ShoalError } from '../util/errors.js';

/**
 * The errors of `getOrLoad`. A failed load is never cached: the next call after one of
 * these errors starts a new load.
 */

/**
 * No loaded value arrived within `loadTimeoutMs`: the loader hung, or the caller that
 * held the key's load lease crashed or stalled. Every caller waiting on that load gets
 * this error, and the lease is released.
 */
export class LoadTimeoutError extends ShoalError {
  readonly key: string;

  /** `message` replaces the default text (a remote waiter keeps the primary's). */
  constructor(key: string, loadTimeoutMs: number, message?: string) {
    super(
      'ERR_LOAD_TIMEOUT',
      message ?? `no value was loaded for "${key}" within ${loadTimeoutMs} ms`,
    );
    this.key = key;
  }
}

/**
 * The caller holding the key's load lease disconnected from the primary (or stopped)
 * before reporting a result. Every caller waiting on that load gets this error.
 */
export class LoadAbandonedError extends ShoalError {
  readonly key: string;

  /** `message` replaces the default text (a remote waiter keeps the primary's). */
  constructor(key: string, holder: string, message?: string) {
    super(
      'ERR_LOAD_ABANDONED',
      message ??
        `the load of "${key}" was abandoned: its loader ran on ${holder}, which disconnected`,
    );
    this.key = key;
  }
}

/**
 * The loader threw (or rejected). Every caller of that load, the one whose loader ran
 * and every waiter on any node or client, gets this error with the same `message` (the
 * loader's own), `loaderCode` and `loaderName`. `cause` is the thrown value itself,
 * only in the process where the loader ran.
 */
export class LoaderError extends ShoalError {
  readonly key: string;
  /** The `code` of the thrown error when it had a string one (e.g. `ECONNREFUSED`). */
  readonly loaderCode: string | undefined;
  /** The `name` of the thrown error (`Error` for a thrown non-error). */
  readonly loaderName: string;

  constructor(
    key: string,
    message: string,
    loaderCode: string | undefined,
    loaderName: string,
    options?: { cause?: unknown },
  ) {
    super('ERR_LOADER_FAILED', message, options);
    this.key = key;
    this.loaderCode = loaderCode;
    this.loaderName = loaderName;
  }

  /** Wraps what a loader threw, keeping its message, code and name (bounded in length). */
  static from(key: string, thrown: unknown): LoaderError {
    if (thrown instanceof LoaderError) return thrown;
    const error = thrown instanceof Error ? thrown : undefined;
    const code = (thrown as { code?: unknown } | null | undefined)?.code;
    return new LoaderError(
      key,
      clip(error?.message ?? String(thrown), MAX_LOADER_MESSAGE_LENGTH),
      typeof code === 'string' ? clip(code, MAX_LOADER_CODE_LENGTH) : undefined,
      clip(error?.name ?? 'Error', MAX_LOADER_CODE_LENGTH),
      { cause: thrown },
    );
  }
}

/**
 * A holder reported a load result for a lease the primary no longer has (it timed out,
 * the holder's connection dropped, or the partition moved). The result was not cached.
 */
export class LoadLeaseLostError extends ShoalError {
  constructor(key: string) {
    super('ERR_LOAD_LEASE_LOST', `the load lease of "${key}" is no longer held by this caller`);
  }
}

/** A stored value's bytes carry a shoal marker but are malformed. */
export class CorruptValueError extends ShoalError {
  constructor(reason: string) {
    super('ERR_VALUE_CORRUPT', `stored value is malformed: ${reason}`);
  }
}

/** Longest loader error message carried to waiters (longer ones are cut). */
export const MAX_LOADER_MESSAGE_LENGTH = 4_096;
/** Longest loader error code or name carried to waiters. */
export const MAX_LOADER_CODE_LENGTH = 128;

function clip(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max);
}
