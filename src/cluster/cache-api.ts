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

/** `ttl()` of a missing key (Redis PTTL's -2). */
export const TTL_MISSING = -2;
/** `ttl()` of a key without expiry (Redis PTTL's -1). */
export const TTL_NONE = -1;

/** The cache operations every shoal endpoint offers. */
export interface ShoalCache {
  /** The value under `key`, or `undefined`. Objects come back deeply frozen. */
  get<V = unknown>(key: string, options?: ReadOptions): Promise<V | undefined>;
  /** Stores `value`; resolves whether it was written (false when `nx`/`xx` said no). */
  set(key: string, value: unknown, options?: SetOptions): Promise<boolean>;
  /** Removes `key`; resolves whether it existed. */
  delete(key: string): Promise<boolean>;
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
  /** Stops serving; later calls fail with `StoppedError`. */
  stop(): Promise<void>;
}
