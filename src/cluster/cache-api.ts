/**
 * The typed cache API shared by a member node (`CacheNode`, `Shoal.start`) and the
 * thin `ShoalClient`: the same calls, the same results, the same errors.
 */

/** How many owners must hold a write before it is acknowledged. */
export type WriteConcern = 'one' | 'quorum' | 'all';

/**
 * Where a read is served: `'primary'` (linearizable, needs the lease) or `'any'`
 * owner (faster, may be stale, served even without a coordinator quorum).
 */
export type ReadFrom = 'primary' | 'any';

/** Options of the reading calls. */
export interface ReadOptions {
  readonly readFrom?: ReadFrom;
}

/** Options of `set`. */
export interface SetOptions {
  /** Milliseconds until the entry expires (> 0); none means it never expires. */
  readonly ttlMs?: number;
  /** Write only if the key is absent (Redis SET NX). */
  readonly nx?: boolean;
  /** Write only if the key exists (Redis SET XX). */
  readonly xx?: boolean;
}

/** Options of `mset`. */
export interface MsetOptions {
  /** Milliseconds until every written entry expires (> 0). */
  readonly ttlMs?: number;
}

/**
 * Loads the value of a key on a miss: its result is cached and handed to every caller
 * that waited for it; `undefined` means "no such value" (cached as a negative entry
 * when `negativeTtlMs` is set). A thrown error or rejection reaches every waiter as a
 * `LoaderError` and is not cached.
 */
export type Loader<V> = (key: string) => V | undefined | PromiseLike<V | undefined>;

/** Options of `getOrLoad`. */
export interface GetOrLoadOptions {
  /** Milliseconds a loaded value stays fresh (> 0); none means it never expires. */
  readonly ttlMs?: number;
  /**
   * How long a load may take, from the moment the lease is granted, before the loader's
   * caller and every waiter fail with `LoadTimeoutError` (also bounds a crashed or
   * hung lease holder). Default 10000 ms.
   */
  readonly loadTimeoutMs?: number;
  /**
   * Caches a loader's `undefined` as a negative entry for this long (> 0), so repeated
   * misses for a key that does not exist do not reach the loader. Default off.
   */
  readonly negativeTtlMs?: number;
  /**
   * After `ttlMs`, the old value is still served for this long (> 0, needs `ttlMs`)
   * while exactly one caller refreshes it in the background.
   */
  readonly staleWhileRevalidateMs?: number;
}

/** `ttl()` of a missing key (Redis PTTL's -2). */
export const TTL_MISSING = -2;
/** `ttl()` of a key without expiry (Redis PTTL's -1). */
export const TTL_NONE = -1;

/** The cache operations every shoal endpoint offers. */
export interface ShoalCache {
  /**
   * The value under `key`, or `undefined` (also for a negative entry cached by
   * `getOrLoad`). Objects come back deeply frozen.
   */
  get<V = unknown>(key: string, options?: ReadOptions): Promise<V | undefined>;
  /** Stores `value`; resolves whether it was written (false when `nx`/`xx` said no). */
  set(key: string, value: unknown, options?: SetOptions): Promise<boolean>;
  /** Removes `key`; resolves whether it existed. */
  delete(key: string): Promise<boolean>;
  /** Whether `key` has a live entry (a negative entry cached by `getOrLoad` counts). */
  has(key: string, options?: ReadOptions): Promise<boolean>;
  /** Remaining milliseconds, {@link TTL_NONE} or {@link TTL_MISSING}. */
  ttl(key: string, options?: ReadOptions): Promise<number>;
  /**
   * Sets a live key's remaining lifetime (`0` removes it, `null` removes the expiry);
   * resolves whether the key existed.
   */
  expire(key: string, ttlMs: number | null): Promise<boolean>;
  /** Adds `by` (default 1) to an integer value (absent counts as 0); resolves the result. */
  incr(key: string, by?: number): Promise<number>;
  /** Values of `keys` in order (`undefined` where missing), batched per owner. */
  mget<V = unknown>(keys: readonly string[], options?: ReadOptions): Promise<(V | undefined)[]>;
  /** Writes every pair, batched per owner; not atomic across keys. */
  mset(entries: Iterable<readonly [string, unknown]>, options?: MsetOptions): Promise<void>;
  /**
   * The value under `key`, loading it on a miss with `loader`, which runs once in the
   * whole cluster however many callers miss at once: the key's primary grants one
   * caller a load lease and every other caller (on any node or client) waits there for
   * that result. See `GetOrLoadOptions` for TTLs, timeouts, negative caching and
   * stale-while-revalidate. Resolves `undefined` for a negative entry.
   *
   * @throws LoaderError when the loader threw (every waiter gets the same one)
   * @throws LoadTimeoutError when no result arrived within `loadTimeoutMs`
   * @throws LoadAbandonedError when the lease holder disconnected before answering
   */
  getOrLoad<V = unknown>(
    key: string,
    loader: Loader<V>,
    options?: GetOrLoadOptions,
  ): Promise<V | undefined>;
  /** Stops serving; later calls fail with `StoppedError`. */
  stop(): Promise<void>;
}
