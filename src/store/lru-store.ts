import { invariant } from '../util/assert.js';
import type { Clock } from '../util/clock.js';
import { InvalidArgumentError } from '../util/errors.js';
import { isValidTtl, rejectKey, rejectSize, rejectTtl, rejectVersion } from './entry-input.js';
import { EntryTooLargeError, InvalidValueError, ReentrantStoreCallError } from './errors.js';
import {
  checkSampleCount,
  checkStoreLimits,
  DEFAULT_SWEEP_SAMPLES_PER_CALL,
  MAX_ENTRY_BYTES,
  MAX_STORE_ENTRIES,
  MAX_SWEEP_SAMPLES_PER_CALL,
  type StoreLimits,
} from './limits.js';
import { grownArray, grownFloat64, grownUint32 } from './slot-arrays.js';

/** Why the store dropped an entry on its own: `evict` to respect a bound, `expire` for a passed TTL. */
export type RemovalReason = 'evict' | 'expire';

/**
 * Called synchronously when the store itself drops an entry. It may read the store
 * (`peek`, `has`, `getEntry`, `ttl`, `size`, ...) but not change it: a changing call
 * throws {@link ReentrantStoreCallError}.
 */
export type RemoveHook<V> = (key: string, value: V, reason: RemovalReason) => void;

/** Options of {@link LruStore}'s constructor. */
export interface LruStoreOptions<V> extends StoreLimits {
  /** The only source of time; the store never reads a wall clock. */
  readonly clock: Clock;
  /**
   * How many slots each `set` examines for expired entries (the incremental active
   * sweep), 0 ..= 1024; default 4. 0 leaves reclamation to `get` and `sweepExpired`.
   */
  readonly sweepSamplesPerCall?: number;
  /** See {@link RemoveHook}. */
  readonly onRemove?: RemoveHook<V>;
}

/** Options of {@link LruStore.set}. */
export interface SetOptions {
  /** What the entry counts against `maxBytes`: a whole number of bytes, 0 ..= `maxBytes`. */
  readonly size: number;
  /** Milliseconds until the entry expires, 0 ..= 2^53-1; `undefined` = never. 0 removes the key. */
  readonly ttlMs?: number | undefined;
  /** A finite number the cluster uses to order writes; default 0. */
  readonly version?: number | undefined;
}

/** Options of {@link LruStore.setIfNewer}: as {@link SetOptions}, but the version is required. */
export interface VersionedSetOptions extends SetOptions {
  readonly version: number;
}

/** A live entry as replication and handoff need it. */
export interface StoreEntry<V> {
  readonly value: V;
  readonly version: number;
  readonly size: number;
  /** Milliseconds left (> 0) on the store's clock, or `undefined` when the entry never expires. */
  readonly ttlRemainingMs: number | undefined;
}

/** A live entry and its key, as {@link LruStore.entries} yields it. */
export interface KeyedStoreEntry<V> extends StoreEntry<V> {
  readonly key: string;
}

/** Cumulative counters since the store was created (`clear` does not reset them). */
export interface StoreStats {
  /** `get` calls that returned a value. */
  readonly hits: number;
  /** `get` calls that returned `undefined` (absent or expired). */
  readonly misses: number;
  /** Live entries dropped to respect `maxEntries` / `maxBytes`. */
  readonly evictions: number;
  /** Expired entries the store reclaimed (on `get`, by a sweep, or at the LRU end). */
  readonly expirations: number;
}

/** `ttl()` of a key that is absent or expired (Redis's PTTL convention). */
export const TTL_MISSING = -2;
/** `ttl()` of a live key without expiry (Redis's PTTL convention). */
export const TTL_NONE = -1;

/** Slot 0 is the sentinel of the circular recency list; real entries live in slots >= 1. */
const NIL = 0;
/** Uint32 fields per slot record in `meta`, and their offsets. */
const STRIDE = 3;
const NEXT = 0;
const PREV = 1;
const SIZE = 2;
/** `expiresAt` of a slot without expiry: `t <= now` is then false with no extra branch. */
const NO_EXPIRY = Number.POSITIVE_INFINITY;
/** Slots allocated up front; the arrays double from here, up to `maxEntries + 1`. */
const INITIAL_SLOTS = 16;

/**
 * The LRU + TTL store of one node: every entry carries a caller-given byte size, an
 * optional TTL and a version, and the store stays within `maxEntries` and `maxBytes`
 * by evicting least-recently-used entries first.
 *
 * Layout (in the manner of isaacs' lru-cache): an entry is a *slot* index. A
 * `Map<string, number>` finds the slot; keys, values, links, sizes, expiry times and
 * versions live in arrays indexed by slot, so an entry costs no object of its own and
 * the hot paths touch only flat arrays. Unlike lru-cache, a slot's `next`, `prev` and
 * `size` sit side by side in one `Uint32Array` record (`meta[3i .. 3i+2]`): at 100k+
 * entries every operation is bound by cache misses, and a recency move or overwrite
 * then misses once per slot it touches instead of once per array. Recency is a
 * circular doubly linked list with sentinel slot 0 (its `next` is the least recently
 * used slot, its `prev` the most), which makes every link update branch-free. Freed
 * slots form a stack threaded through `next`. The arrays start small and double, up
 * to `maxEntries + 1` slots; `expiresAt` and `versions` are only allocated once some
 * entry needs them.
 *
 * Time: expiry times are absolute readings of the injected clock. An entry is live
 * while `clock.now() < expiresAt`. Expired entries are never returned; they are
 * reclaimed lazily by `get`, when they reach the LRU end during eviction, and by the
 * active sweep: each `set` examines `sweepSamplesPerCall` slots from a rotating
 * cursor (Redis samples randomly; a cursor is deterministic and visits every used
 * slot once per `slotsUsed / samples` calls), and `sweepExpired(n)` does the same on
 * demand.
 * Until reclaimed, an expired entry still counts in `size`, `bytes` and the bounds,
 * as in Redis's DBSIZE.
 *
 * Hooks: `onRemove` reports entries the store drops by itself (`evict`, `expire`),
 * never those the caller deletes, overwrites or clears. If a hook throws, the error
 * propagates out of the operation that fired it; the store stays consistent, though
 * that operation may be left part-way (e.g. entries evicted, new value not written).
 */
export class LruStore<V> {
  private readonly clock: Clock;
  private readonly onRemove: RemoveHook<V> | undefined;
  private readonly sweepSamplesPerCall: number;
  private maxEntriesLimit: number;
  private maxBytesLimit: number;
  /** `min(maxBytes, MAX_ENTRY_BYTES)`, cached because `set` checks it every call. */
  private maxEntryBytes: number;

  private readonly slotOf = new Map<string, number>();
  private keys: (string | undefined)[];
  private values: (V | undefined)[];
  /** Per slot i: `meta[3i]` next, `meta[3i+1]` prev, `meta[3i+2]` size in bytes. */
  private meta: Uint32Array;
  /** Slots the arrays have room for (sentinel included). */
  private slotCapacity: number;
  /** Absolute expiry per slot, NO_EXPIRY when none; null until the first TTL. */
  private expiresAt: Float64Array | null = null;
  /** Version per slot; null until the first non-zero version (zero-filled = default 0). */
  private versions: Float64Array | null = null;
  /** Slots `1 .. highWater-1` have been handed out at least once. */
  private highWater = 1;
  /** Top of the free-slot stack (linked through `next`), NIL when empty. */
  private freeHead = NIL;
  private count = 0;
  private totalBytes = 0;
  /** Entries with an expiry: when 0, nothing can expire, so no clock read is needed. */
  private ttlCount = 0;
  private sweepCursor = 1;
  /** Non-zero while a hook runs; changing calls are refused then. */
  private hookDepth = 0;
  private hits = 0;
  private misses = 0;
  private evictions = 0;
  private expirations = 0;

  constructor(options: LruStoreOptions<V>) {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError('LruStore options must be an object');
    }
    checkStoreLimits(options);
    if (typeof options.clock?.now !== 'function') {
      throw new InvalidArgumentError('LruStore needs a clock with a now() method');
    }
    if (options.onRemove !== undefined && typeof options.onRemove !== 'function') {
      throw new InvalidArgumentError('onRemove must be a function');
    }
    this.clock = options.clock;
    this.onRemove = options.onRemove;
    this.sweepSamplesPerCall = checkSampleCount(
      'sweepSamplesPerCall',
      options.sweepSamplesPerCall ?? DEFAULT_SWEEP_SAMPLES_PER_CALL,
      MAX_SWEEP_SAMPLES_PER_CALL,
    );
    this.maxEntriesLimit = options.maxEntries;
    this.maxBytesLimit = options.maxBytes;
    this.maxEntryBytes = Math.min(options.maxBytes, MAX_ENTRY_BYTES);
    this.slotCapacity = Math.min(INITIAL_SLOTS, options.maxEntries) + 1;
    this.meta = new Uint32Array(this.slotCapacity * STRIDE);
    this.keys = grownArray([], this.slotCapacity);
    this.values = grownArray([], this.slotCapacity);
  }

  /** Entries held, including expired ones not reclaimed yet. */
  get size(): number {
    return this.count;
  }

  /** Sum of the held entries' sizes, including expired ones not reclaimed yet. */
  get bytes(): number {
    return this.totalBytes;
  }

  /** The current bounds. */
  get limits(): StoreLimits {
    return { maxEntries: this.maxEntriesLimit, maxBytes: this.maxBytesLimit };
  }

  /** The live value under `key`, made most recently used; `undefined` if absent or expired. */
  get(key: string): V | undefined {
    if (this.hookDepth !== 0) throw new ReentrantStoreCallError('get');
    const i = this.slotOf.get(key);
    if (i === undefined) {
      // Only a miss can hide a non-string key (only strings are ever stored), so the
      // hit path pays nothing for the type check.
      if (typeof key !== 'string') rejectKey(key);
      this.misses++;
      return undefined;
    }
    const exp = this.expiresAt;
    if (exp !== null) {
      const at = exp[i]!;
      // The injected clock is read only for entries with a TTL: a read of a real clock
      // costs more than the rest of a hit, so entries without expiry never pay it.
      if (at !== NO_EXPIRY && at <= this.clock.now()) {
        this.expireSlot(i);
        this.misses++;
        return undefined;
      }
    }
    const meta = this.meta;
    const tail = meta[NIL + PREV]!;
    // Already most recent: skip the six writes (common for hot keys).
    if (tail !== i) {
      const at = i * STRIDE;
      const n = meta[at + NEXT]!;
      const p = meta[at + PREV]!;
      meta[p * STRIDE + NEXT] = n;
      meta[n * STRIDE + PREV] = p;
      meta[tail * STRIDE + NEXT] = i;
      meta[at + PREV] = tail;
      meta[at + NEXT] = NIL;
      meta[NIL + PREV] = i;
    }
    this.hits++;
    return this.values[i];
  }

  /** The live value under `key` without touching recency or stats; `undefined` if absent or expired. */
  peek(key: string): V | undefined {
    const i = this.slotOf.get(key);
    if (i === undefined) {
      if (typeof key !== 'string') rejectKey(key);
      return undefined;
    }
    return this.isExpired(i) ? undefined : this.values[i];
  }

  /** Whether a live entry exists under `key`; recency is untouched. */
  has(key: string): boolean {
    const i = this.slotOf.get(key);
    if (i === undefined) {
      if (typeof key !== 'string') rejectKey(key);
      return false;
    }
    return !this.isExpired(i);
  }

  /** The live entry under `key` with its metadata, without touching recency or stats. */
  getEntry(key: string): StoreEntry<V> | undefined {
    const i = this.slotOf.get(key);
    if (i === undefined) {
      if (typeof key !== 'string') rejectKey(key);
      return undefined;
    }
    let ttlRemainingMs: number | undefined;
    const at = this.expiresAt === null ? NO_EXPIRY : this.expiresAt[i]!;
    if (at !== NO_EXPIRY) {
      ttlRemainingMs = at - this.clock.now();
      if (ttlRemainingMs <= 0) return undefined;
    }
    return {
      value: this.values[i] as V,
      version: this.versions === null ? 0 : this.versions[i]!,
      size: this.meta[i * STRIDE + SIZE]!,
      ttlRemainingMs,
    };
  }

  /**
   * Milliseconds until `key` expires (> 0; fractional if the clock is), {@link TTL_NONE}
   * (-1) for a live key without expiry, or {@link TTL_MISSING} (-2) for an absent or
   * expired key: Redis's PTTL convention.
   */
  ttl(key: string): number {
    const i = this.slotOf.get(key);
    if (i === undefined) {
      if (typeof key !== 'string') rejectKey(key);
      return TTL_MISSING;
    }
    const at = this.expiresAt === null ? NO_EXPIRY : this.expiresAt[i]!;
    if (at === NO_EXPIRY) return TTL_NONE;
    const remaining = at - this.clock.now();
    return remaining > 0 ? remaining : TTL_MISSING;
  }

  /**
   * Stores `value` under `key` as the most recently used entry, evicting LRU entries
   * first if a bound would be exceeded. Overwrites replace value, size, TTL and
   * version (an omitted `ttlMs` clears an old TTL; an omitted `version` is 0).
   * `ttlMs: 0` stores nothing and removes any entry under `key`.
   *
   * @throws {EntryTooLargeError} `size > maxBytes`: nothing is evicted or changed.
   * @throws {InvalidKeyError | InvalidValueError | InvalidSizeError | InvalidTtlError | InvalidVersionError}
   */
  set(key: string, value: V, options: SetOptions): void {
    if (this.hookDepth !== 0) throw new ReentrantStoreCallError('set');
    const version = this.checkWrite(key, value, options, false);
    this.write(key, value, options.size, options.ttlMs, version);
  }

  /**
   * Like {@link set}, but only if no live entry exists under `key` or the live one has
   * a lower version (an equal version is not newer). Replicas use it so that a late,
   * older write never replaces a newer one. Only the live entry is compared: a deleted
   * or expired key accepts any version.
   *
   * @returns whether the write was applied.
   */
  setIfNewer(key: string, value: V, options: VersionedSetOptions): boolean {
    if (this.hookDepth !== 0) throw new ReentrantStoreCallError('setIfNewer');
    const version = this.checkWrite(key, value, options, true);
    const i = this.slotOf.get(key);
    if (i !== undefined && !this.isExpired(i)) {
      const current = this.versions === null ? 0 : this.versions[i]!;
      if (current >= version) return false;
    }
    this.write(key, value, options.size, options.ttlMs, version);
    return true;
  }

  /** Removes `key`; returns whether a live entry was removed. No hook fires. */
  delete(key: string): boolean {
    if (this.hookDepth !== 0) throw new ReentrantStoreCallError('delete');
    const i = this.slotOf.get(key);
    if (i === undefined) {
      if (typeof key !== 'string') rejectKey(key);
      return false;
    }
    const live = !this.isExpired(i);
    this.removeSlot(i);
    return live;
  }

  /**
   * Sets a live key's TTL without touching its value or recency: `ttlMs` from now,
   * `undefined` to persist it, 0 to remove it (no hook fires).
   *
   * @returns whether a live entry existed under `key`.
   */
  expire(key: string, ttlMs: number | undefined): boolean {
    if (this.hookDepth !== 0) throw new ReentrantStoreCallError('expire');
    if (!isValidTtl(ttlMs)) rejectTtl(ttlMs);
    const i = this.slotOf.get(key);
    if (i === undefined) {
      if (typeof key !== 'string') rejectKey(key);
      return false;
    }
    if (this.isExpired(i)) return false;
    if (ttlMs === 0) {
      this.removeSlot(i);
    } else {
      this.setExpiry(i, ttlMs, ttlMs === undefined ? 0 : this.clock.now());
    }
    return true;
  }

  /**
   * Iterates the live entries (those `filter` accepts, if given), for handoff.
   *
   * The walk goes by slot, not by recency, so reads and recency changes during the
   * iteration do not disturb it, and the caller may change the store between yields
   * (weakly consistent, like a ConcurrentHashMap iterator): an entry live and present
   * throughout is yielded exactly once, with the value it has when reached; an entry
   * added, removed or expiring meanwhile may or may not be yielded; a key deleted and
   * set again may be yielded twice (versions order the copies). Each yield is a fresh
   * object; the TTL is read when the entry is reached.
   */
  entries(filter?: (key: string) => boolean): Generator<KeyedStoreEntry<V>, void, undefined> {
    if (filter !== undefined && typeof filter !== 'function') {
      throw new InvalidArgumentError('entries() filter must be a function of the key');
    }
    return this.walk(filter);
  }

  /**
   * Examines up to `maxSamples` slots from the sweep cursor and reclaims the expired
   * entries among them (hook reason `expire`). Bounded work: call it from a timer
   * outside the store to reclaim memory of keys nobody reads again.
   *
   * @returns how many entries were reclaimed.
   */
  sweepExpired(maxSamples: number): number {
    if (this.hookDepth !== 0) throw new ReentrantStoreCallError('sweepExpired');
    checkSampleCount('maxSamples', maxSamples, MAX_STORE_ENTRIES + 1);
    if (this.ttlCount === 0) return 0;
    return this.sweepStep(this.clock.now(), maxSamples);
  }

  /**
   * Changes the bounds and evicts LRU entries until the store is within them (hook
   * reason `evict`, or `expire` for already-expired ones). Arrays already allocated
   * are kept: shrinking frees the evicted keys and values, not the slot arrays.
   */
  resize(limits: StoreLimits): void {
    if (this.hookDepth !== 0) throw new ReentrantStoreCallError('resize');
    checkStoreLimits(limits);
    this.maxEntriesLimit = limits.maxEntries;
    this.maxBytesLimit = limits.maxBytes;
    this.maxEntryBytes = Math.min(limits.maxBytes, MAX_ENTRY_BYTES);
    const now = this.ttlCount === 0 ? Number.NEGATIVE_INFINITY : this.clock.now();
    this.evictUntilFits(0, 0, now);
  }

  /** Removes every entry (no hooks fire) and releases the slot arrays. Stats are kept. */
  clear(): void {
    if (this.hookDepth !== 0) throw new ReentrantStoreCallError('clear');
    this.slotOf.clear();
    this.slotCapacity = Math.min(INITIAL_SLOTS, this.maxEntriesLimit) + 1;
    this.meta = new Uint32Array(this.slotCapacity * STRIDE);
    this.keys = grownArray([], this.slotCapacity);
    this.values = grownArray([], this.slotCapacity);
    this.expiresAt = null;
    this.versions = null;
    this.highWater = 1;
    this.freeHead = NIL;
    this.count = 0;
    this.totalBytes = 0;
    this.ttlCount = 0;
    this.sweepCursor = 1;
  }

  /** A snapshot of the counters. */
  stats(): StoreStats {
    return {
      hits: this.hits,
      misses: this.misses,
      evictions: this.evictions,
      expirations: this.expirations,
    };
  }

  /** Validates a write's arguments before anything changes; returns the version to store. */
  private checkWrite(key: string, value: V, options: SetOptions, versionRequired: boolean): number {
    if (typeof key !== 'string') rejectKey(key);
    if (value === undefined) throw new InvalidValueError(key);
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError('write options must be an object { size, ttlMs?, version? }');
    }
    const size = options.size;
    // One shift tells "whole number in 0 ..= 2^32-1" apart from everything else
    // (negative, fractional, NaN, non-number), so valid sizes cost one comparison.
    if (size >>> 0 !== size) rejectSize(key, size, this.maxEntryBytes);
    if (size > this.maxEntryBytes) throw new EntryTooLargeError(key, size, this.maxEntryBytes);
    const ttlMs = options.ttlMs;
    if (!isValidTtl(ttlMs)) rejectTtl(ttlMs);
    const version = options.version;
    if (version === undefined) {
      if (versionRequired) rejectVersion(version);
      return 0;
    }
    if (!Number.isFinite(version)) rejectVersion(version);
    return version;
  }

  /** The body of `set` once its arguments are known to be valid. */
  private write(
    key: string,
    value: V,
    size: number,
    ttlMs: number | undefined,
    version: number,
  ): void {
    // Without any TTL in play nothing can expire, so the clock is not read at all.
    let now = Number.NEGATIVE_INFINITY;
    if (ttlMs !== undefined || this.ttlCount !== 0) {
      now = this.clock.now();
      // Sweep before the lookup, so a slot freed here can take the new entry instead
      // of a live entry being evicted for it.
      if (this.ttlCount !== 0 && this.sweepSamplesPerCall !== 0) {
        this.sweepStep(now, this.sweepSamplesPerCall);
      }
    }
    let i = this.slotOf.get(key);
    if (ttlMs === 0) {
      if (i !== undefined) this.removeSlot(i);
      return;
    }
    if (i !== undefined) {
      // Move the entry to the MRU end before evicting, so eviction (which takes the
      // LRU end) cannot choose it: since size <= maxBytes, the loop stops before it.
      if (this.meta[NIL + PREV] !== i) {
        this.unlink(i);
        this.linkMostRecent(i);
      }
      const oldSize = this.meta[i * STRIDE + SIZE]!;
      if (this.totalBytes - oldSize + size > this.maxBytesLimit) {
        this.evictUntilFits(0, size - oldSize, now);
      }
      this.totalBytes += size - oldSize;
      this.meta[i * STRIDE + SIZE] = size;
      this.values[i] = value;
    } else {
      if (this.count >= this.maxEntriesLimit || this.totalBytes + size > this.maxBytesLimit) {
        this.evictUntilFits(1, size, now);
      }
      i = this.allocateSlot();
      this.slotOf.set(key, i);
      this.keys[i] = key;
      this.values[i] = value;
      this.meta[i * STRIDE + SIZE] = size;
      this.linkMostRecent(i);
      this.count++;
      this.totalBytes += size;
    }
    this.setExpiry(i, ttlMs, now);
    if (version !== 0) {
      (this.versions ?? this.allocateVersions())[i] = version;
    } else if (this.versions !== null) {
      this.versions[i] = 0;
    }
  }

  /** Evicts from the LRU end until `extraEntries` more entries and `extraBytes` more bytes fit. */
  private evictUntilFits(extraEntries: number, extraBytes: number, now: number): void {
    while (
      this.count + extraEntries > this.maxEntriesLimit ||
      this.totalBytes + extraBytes > this.maxBytesLimit
    ) {
      const lru = this.meta[NIL + NEXT]!;
      invariant(lru !== NIL, 'store over its bounds with no entry left to evict');
      // An LRU entry that already expired is reported as what it is.
      if (this.expiresAt !== null && this.expiresAt[lru]! <= now) {
        this.expireSlot(lru);
      } else {
        const key = this.keys[lru]!;
        const value = this.values[lru] as V;
        this.removeSlot(lru);
        this.evictions++;
        this.notify(key, value, 'evict');
      }
    }
  }

  /** Examines up to `samples` slots from the cursor; reclaims the expired ones. */
  private sweepStep(now: number, samples: number): number {
    const end = this.highWater;
    const span = end - 1;
    const steps = Math.min(samples, span);
    const exp = this.expiresAt;
    invariant(exp !== null, 'entries with a TTL but no expiry array');
    let cursor = this.sweepCursor;
    let reclaimed = 0;
    // Free slots and entries without TTL hold NO_EXPIRY, so one comparison per slot
    // finds the expired ones without checking whether the slot is in use.
    for (let step = 0; step < steps && this.ttlCount !== 0; step++) {
      if (cursor >= end) cursor = 1;
      if (exp[cursor]! <= now) {
        this.expireSlot(cursor);
        reclaimed++;
      }
      cursor++;
    }
    this.sweepCursor = cursor;
    return reclaimed;
  }

  private *walk(filter: ((key: string) => boolean) | undefined): Generator<KeyedStoreEntry<V>> {
    // `highWater` is re-read every step: `clear()` during the walk lowers it.
    for (let i = 1; i < this.highWater; i++) {
      const key = this.keys[i];
      if (key === undefined) continue;
      // The filter is caller code and may have changed the store; re-check the slot.
      if (filter !== undefined && (!filter(key) || this.keys[i] !== key)) continue;
      let ttlRemainingMs: number | undefined;
      const at = this.expiresAt === null ? NO_EXPIRY : this.expiresAt[i]!;
      if (at !== NO_EXPIRY) {
        ttlRemainingMs = at - this.clock.now();
        if (ttlRemainingMs <= 0) continue;
      }
      yield {
        key,
        value: this.values[i] as V,
        version: this.versions === null ? 0 : this.versions[i]!,
        size: this.meta[i * STRIDE + SIZE]!,
        ttlRemainingMs,
      };
    }
  }

  private isExpired(i: number): boolean {
    if (this.expiresAt === null) return false;
    const at = this.expiresAt[i]!;
    return at !== NO_EXPIRY && at <= this.clock.now();
  }

  private setExpiry(i: number, ttlMs: number | undefined, now: number): void {
    if (ttlMs === undefined) {
      const exp = this.expiresAt;
      if (exp !== null && exp[i] !== NO_EXPIRY) {
        exp[i] = NO_EXPIRY;
        this.ttlCount--;
      }
      return;
    }
    const exp = this.expiresAt ?? this.allocateExpiry();
    if (exp[i] === NO_EXPIRY) this.ttlCount++;
    exp[i] = now + ttlMs;
  }

  private expireSlot(i: number): void {
    const key = this.keys[i]!;
    const value = this.values[i] as V;
    this.removeSlot(i);
    this.expirations++;
    this.notify(key, value, 'expire');
  }

  /** Unindexes slot `i`, unlinks it and pushes it on the free stack. Fires nothing. */
  private removeSlot(i: number): void {
    this.slotOf.delete(this.keys[i]!);
    this.unlink(i);
    this.totalBytes -= this.meta[i * STRIDE + SIZE]!;
    const exp = this.expiresAt;
    if (exp !== null && exp[i] !== NO_EXPIRY) {
      exp[i] = NO_EXPIRY;
      this.ttlCount--;
    }
    // Drop the references so the GC can take the key and value now.
    this.keys[i] = undefined;
    this.values[i] = undefined;
    this.meta[i * STRIDE + NEXT] = this.freeHead;
    this.freeHead = i;
    this.count--;
  }

  private notify(key: string, value: V, reason: RemovalReason): void {
    const hook = this.onRemove;
    if (hook === undefined) return;
    this.hookDepth++;
    try {
      hook(key, value, reason);
    } finally {
      this.hookDepth--;
    }
  }

  private unlink(i: number): void {
    const meta = this.meta;
    const n = meta[i * STRIDE + NEXT]!;
    const p = meta[i * STRIDE + PREV]!;
    meta[p * STRIDE + NEXT] = n;
    meta[n * STRIDE + PREV] = p;
  }

  private linkMostRecent(i: number): void {
    const meta = this.meta;
    const tail = meta[NIL + PREV]!;
    meta[tail * STRIDE + NEXT] = i;
    meta[i * STRIDE + PREV] = tail;
    meta[i * STRIDE + NEXT] = NIL;
    meta[NIL + PREV] = i;
  }

  /** A free slot: the top of the free stack, else a never-used one (growing the arrays). */
  private allocateSlot(): number {
    const free = this.freeHead;
    if (free !== NIL) {
      this.freeHead = this.meta[free * STRIDE + NEXT]!;
      return free;
    }
    const slot = this.highWater;
    if (slot === this.slotCapacity) this.grow();
    this.highWater = slot + 1;
    return slot;
  }

  /** Doubles the slot arrays, capped at `maxEntries + 1` (the sentinel takes one). */
  private grow(): void {
    const slots = Math.min(this.slotCapacity * 2, this.maxEntriesLimit + 1);
    invariant(slots > this.slotCapacity, 'slot arrays full below maxEntries');
    this.slotCapacity = slots;
    this.meta = grownUint32(this.meta, slots * STRIDE);
    this.keys = grownArray(this.keys, slots);
    this.values = grownArray(this.values, slots);
    if (this.expiresAt !== null) this.expiresAt = grownFloat64(this.expiresAt, slots, NO_EXPIRY);
    if (this.versions !== null) this.versions = grownFloat64(this.versions, slots, 0);
  }

  private allocateExpiry(): Float64Array {
    this.expiresAt = new Float64Array(this.slotCapacity).fill(NO_EXPIRY);
    return this.expiresAt;
  }

  private allocateVersions(): Float64Array {
    this.versions = new Float64Array(this.slotCapacity);
    return this.versions;
  }
}
