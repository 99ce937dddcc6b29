import { describe, expect, it } from 'vitest';
import {
  EntryTooLargeError,
  type LruStoreOptions,
  MAX_ENTRY_BYTES,
  MAX_STORE_ENTRIES,
  type RemovalReason,
  TTL_MISSING,
  TTL_NONE,
} from '../../src/store/index.js';
import { LruStore } from '../../src/store/lru-store.js';
import { ManualClock } from '../../src/util/clock.js';
import { ShoalError } from '../../src/util/errors.js';

interface Removal {
  key: string;
  value: string;
  reason: RemovalReason;
}

function makeStore(overrides: Partial<LruStoreOptions<string>> = {}) {
  const clock = new ManualClock(1_000);
  const removed: Removal[] = [];
  const store = new LruStore<string>({
    maxEntries: 100,
    maxBytes: 1_000,
    clock,
    onRemove: (key, value, reason) => removed.push({ key, value, reason }),
    ...overrides,
  });
  return { store, clock, removed };
}

/** Runs `fn` and returns the `code` of the ShoalError it throws. */
function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ShoalError);
    return (error as ShoalError).code;
  }
  throw new Error('expected a throw');
}

/** Keys from least to most recently used, read by evicting everything through a resize. */
function recencyOrder(store: LruStore<string>, removed: Removal[]): string[] {
  const start = removed.length;
  const { maxEntries, maxBytes } = store.limits;
  store.resize({ maxEntries: 1, maxBytes });
  store.resize({ maxEntries, maxBytes });
  const evicted = removed.slice(start).map((r) => r.key);
  const survivor = [...store.entries()].map((e) => e.key);
  return [...evicted, ...survivor];
}

describe('LruStore construction', () => {
  const clock = new ManualClock();
  const base = { maxEntries: 10, maxBytes: 100, clock };

  it.each([0, -1, 1.5, Number.NaN, MAX_STORE_ENTRIES + 1, '10', undefined])(
    'rejects maxEntries %s',
    (maxEntries) => {
      expect(codeOf(() => new LruStore({ ...base, maxEntries: maxEntries as number }))).toBe(
        'ERR_STORE_INVALID_LIMIT',
      );
    },
  );

  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '10'])(
    'rejects maxBytes %s',
    (maxBytes) => {
      expect(codeOf(() => new LruStore({ ...base, maxBytes: maxBytes as number }))).toBe(
        'ERR_STORE_INVALID_LIMIT',
      );
    },
  );

  it.each([-1, 0.5, 1025, '4'])('rejects sweepSamplesPerCall %s', (samples) => {
    expect(codeOf(() => new LruStore({ ...base, sweepSamplesPerCall: samples as number }))).toBe(
      'ERR_STORE_INVALID_LIMIT',
    );
  });

  it('rejects a missing clock, a bad hook and missing options', () => {
    expect(codeOf(() => new LruStore({ ...base, clock: {} as ManualClock }))).toBe(
      'ERR_INVALID_ARGUMENT',
    );
    expect(codeOf(() => new LruStore({ ...base, onRemove: 'no' as unknown as () => void }))).toBe(
      'ERR_INVALID_ARGUMENT',
    );
    expect(codeOf(() => new LruStore(null as unknown as LruStoreOptions<string>))).toBe(
      'ERR_INVALID_ARGUMENT',
    );
  });

  it('accepts the extreme limits', () => {
    const store = new LruStore({ maxEntries: MAX_STORE_ENTRIES, maxBytes: 0, clock });
    store.set('empty', 'v', { size: 0 });
    expect(store.get('empty')).toBe('v');
    expect(store.limits).toEqual({ maxEntries: MAX_STORE_ENTRIES, maxBytes: 0 });
  });

  it('does not allocate slots for maxEntries up front', () => {
    const before = process.memoryUsage().arrayBuffers;
    const stores = Array.from(
      { length: 10 },
      () => new LruStore({ maxEntries: MAX_STORE_ENTRIES, maxBytes: 1e9, clock }),
    );
    for (const store of stores) {
      for (let i = 0; i < 10; i++) store.set(`k${i}`, i, { size: 1, ttlMs: 5, version: 1 });
    }
    // 10 stores of 2^24 slots each would take gigabytes; 10 small ones take kilobytes.
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1_000_000);
    expect(stores.every((s) => s.size === 10)).toBe(true);
  });
});

describe('get, peek, has', () => {
  it('returns stored values and undefined for absent keys, counting hits and misses', () => {
    const { store } = makeStore();
    store.set('a', 'A', { size: 1 });
    expect(store.get('a')).toBe('A');
    expect(store.get('b')).toBeUndefined();
    expect(store.peek('a')).toBe('A');
    expect(store.peek('b')).toBeUndefined();
    expect(store.has('a')).toBe(true);
    expect(store.has('b')).toBe(false);
    expect(store.stats()).toEqual({ hits: 1, misses: 1, evictions: 0, expirations: 0 });
  });

  it('get refreshes recency; peek and has do not', () => {
    const { store, removed } = makeStore();
    for (const k of ['a', 'b', 'c', 'd']) store.set(k, k, { size: 1 });
    store.get('a');
    store.peek('b');
    store.has('c');
    expect(recencyOrder(store, removed)).toEqual(['b', 'c', 'd', 'a']);
  });

  it('never returns an expired entry; get reclaims it, peek and has leave it', () => {
    const { store, clock, removed } = makeStore();
    store.set('a', 'A', { size: 3, ttlMs: 100 });
    clock.advance(99);
    expect(store.get('a')).toBe('A');
    clock.advance(1);
    expect(store.peek('a')).toBeUndefined();
    expect(store.has('a')).toBe(false);
    expect(store.getEntry('a')).toBeUndefined();
    expect(store.ttl('a')).toBe(TTL_MISSING);
    expect(store.size).toBe(1);
    expect(removed).toEqual([]);
    expect(store.get('a')).toBeUndefined();
    expect(store.size).toBe(0);
    expect(store.bytes).toBe(0);
    expect(removed).toEqual([{ key: 'a', value: 'A', reason: 'expire' }]);
    expect(store.stats()).toEqual({ hits: 1, misses: 1, evictions: 0, expirations: 1 });
  });

  it.each([1, undefined, null, {}, Symbol('k')])(
    'rejects the non-string key %s everywhere',
    (key) => {
      const { store } = makeStore();
      const k = key as unknown as string;
      for (const call of [
        () => store.get(k),
        () => store.peek(k),
        () => store.has(k),
        () => store.getEntry(k),
        () => store.ttl(k),
        () => store.delete(k),
        () => store.expire(k, 5),
        () => store.set(k, 'v', { size: 1 }),
        () => store.setIfNewer(k, 'v', { size: 1, version: 1 }),
      ]) {
        expect(codeOf(call)).toBe('ERR_STORE_INVALID_KEY');
      }
      expect(store.stats().misses).toBe(0);
    },
  );
});

describe('set', () => {
  it('overwrites value, size, TTL and version; omitted TTL and version reset them', () => {
    const { store, clock } = makeStore();
    store.set('a', 'A1', { size: 5, ttlMs: 50, version: 7 });
    expect(store.getEntry('a')).toEqual({ value: 'A1', version: 7, size: 5, ttlRemainingMs: 50 });
    store.set('a', 'A2', { size: 2 });
    expect(store.getEntry('a')).toEqual({
      value: 'A2',
      version: 0,
      size: 2,
      ttlRemainingMs: undefined,
    });
    clock.advance(1_000);
    expect(store.get('a')).toBe('A2');
    expect(store.size).toBe(1);
    expect(store.bytes).toBe(2);
  });

  it('evicts least recently used entries past maxEntries', () => {
    const { store, removed } = makeStore({ maxEntries: 3 });
    for (const k of ['a', 'b', 'c']) store.set(k, k, { size: 1 });
    store.get('a');
    store.set('d', 'd', { size: 1 });
    store.set('e', 'e', { size: 1 });
    expect(removed).toEqual([
      { key: 'b', value: 'b', reason: 'evict' },
      { key: 'c', value: 'c', reason: 'evict' },
    ]);
    expect([...store.entries()].map((e) => e.key).sort()).toEqual(['a', 'd', 'e']);
    expect(store.stats().evictions).toBe(2);
  });

  it('evicts as many LRU entries as the bytes bound needs, and no more', () => {
    const { store, removed } = makeStore({ maxBytes: 10 });
    store.set('a', 'a', { size: 4 });
    store.set('b', 'b', { size: 3 });
    store.set('c', 'c', { size: 3 });
    store.set('d', 'd', { size: 6 });
    expect(removed.map((r) => r.key)).toEqual(['a', 'b']);
    expect(store.bytes).toBe(9);
    expect(store.size).toBe(2);
  });

  it('growing an entry in place evicts others, never the entry itself', () => {
    const { store, removed } = makeStore({ maxBytes: 10 });
    store.set('a', 'a1', { size: 2 });
    store.set('b', 'b', { size: 4 });
    store.set('c', 'c', { size: 4 });
    store.set('a', 'a2', { size: 10 });
    expect(removed.map((r) => r.key)).toEqual(['b', 'c']);
    expect(store.get('a')).toBe('a2');
    expect(store.bytes).toBe(10);
  });

  it('refuses an entry larger than maxBytes without evicting or changing anything', () => {
    const { store, removed } = makeStore({ maxBytes: 10 });
    store.set('a', 'A', { size: 4, ttlMs: 500, version: 3 });
    store.set('b', 'B', { size: 4 });
    let thrown: unknown;
    try {
      store.set('a', 'huge', { size: 11 });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(EntryTooLargeError);
    expect((thrown as EntryTooLargeError).code).toBe('ERR_STORE_ENTRY_TOO_LARGE');
    expect((thrown as EntryTooLargeError).maxEntryBytes).toBe(10);
    expect(removed).toEqual([]);
    expect(store.getEntry('a')).toEqual({ value: 'A', version: 3, size: 4, ttlRemainingMs: 500 });
    expect(store.bytes).toBe(8);
    // 'a' kept its place in the recency order too: it is still the LRU entry.
    expect(recencyOrder(store, removed)).toEqual(['a', 'b']);
  });

  it('accepts an entry of exactly maxBytes, evicting everything else', () => {
    const { store } = makeStore({ maxBytes: 10 });
    store.set('a', 'a', { size: 3 });
    store.set('big', 'big', { size: 10 });
    expect(store.size).toBe(1);
    expect(store.bytes).toBe(10);
  });

  it('refuses sizes above MAX_ENTRY_BYTES as too large, even under a larger maxBytes', () => {
    const { store } = makeStore({ maxBytes: Number.MAX_SAFE_INTEGER });
    expect(codeOf(() => store.set('a', 'A', { size: MAX_ENTRY_BYTES + 1 }))).toBe(
      'ERR_STORE_ENTRY_TOO_LARGE',
    );
    store.set('a', 'A', { size: MAX_ENTRY_BYTES });
    expect(store.bytes).toBe(MAX_ENTRY_BYTES);
  });

  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '5', undefined, null])(
    'rejects size %s',
    (size) => {
      const { store } = makeStore();
      expect(codeOf(() => store.set('a', 'A', { size: size as number }))).toBe(
        'ERR_STORE_INVALID_SIZE',
      );
      expect(store.size).toBe(0);
    },
  );

  it.each([-1, -0.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '5', null])(
    'rejects ttlMs %s',
    (ttlMs) => {
      const { store } = makeStore();
      expect(codeOf(() => store.set('a', 'A', { size: 1, ttlMs: ttlMs as number }))).toBe(
        'ERR_STORE_INVALID_TTL',
      );
      store.set('a', 'A', { size: 1 });
      expect(codeOf(() => store.expire('a', ttlMs as number))).toBe('ERR_STORE_INVALID_TTL');
      expect(store.ttl('a')).toBe(TTL_NONE);
    },
  );

  it.each([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, '1', null])(
    'rejects version %s',
    (version) => {
      const { store } = makeStore();
      expect(codeOf(() => store.set('a', 'A', { size: 1, version: version as number }))).toBe(
        'ERR_STORE_INVALID_VERSION',
      );
      expect(store.size).toBe(0);
    },
  );

  it('accepts any finite version, including negative and fractional ones', () => {
    const { store } = makeStore();
    store.set('a', 'A', { size: 1, version: -2.5 });
    expect(store.getEntry('a')?.version).toBe(-2.5);
  });

  it('rejects an undefined value and missing options', () => {
    const { store } = makeStore();
    expect(codeOf(() => store.set('a', undefined as unknown as string, { size: 1 }))).toBe(
      'ERR_STORE_INVALID_VALUE',
    );
    expect(codeOf(() => store.set('a', 'A', undefined as unknown as { size: number }))).toBe(
      'ERR_INVALID_ARGUMENT',
    );
  });

  it('with ttlMs 0 stores nothing and removes the key, firing no hook', () => {
    const { store, removed } = makeStore();
    store.set('a', 'A', { size: 2 });
    store.set('a', 'A2', { size: 2, ttlMs: 0 });
    store.set('b', 'B', { size: 2, ttlMs: 0 });
    expect(store.size).toBe(0);
    expect(store.bytes).toBe(0);
    expect(removed).toEqual([]);
  });

  it('stores zero-size entries under maxBytes 0', () => {
    const { store } = makeStore({ maxBytes: 0 });
    store.set('a', 'A', { size: 0 });
    expect(codeOf(() => store.set('b', 'B', { size: 1 }))).toBe('ERR_STORE_ENTRY_TOO_LARGE');
    expect(store.get('a')).toBe('A');
  });

  it('reuses freed slots and grows past its first allocation', () => {
    const { store } = makeStore({ maxEntries: 1_000, maxBytes: 1_000_000 });
    for (let i = 0; i < 1_000; i++) store.set(`k${i}`, `v${i}`, { size: i });
    for (let i = 0; i < 1_000; i += 2) store.delete(`k${i}`);
    for (let i = 0; i < 500; i++) store.set(`n${i}`, `w${i}`, { size: 1 });
    expect(store.size).toBe(1_000);
    for (let i = 1; i < 1_000; i += 2) expect(store.get(`k${i}`)).toBe(`v${i}`);
    for (let i = 0; i < 500; i++) expect(store.get(`n${i}`)).toBe(`w${i}`);
    expect(store.bytes).toBe(250_000 + 500);
  });

  it('reclaims expired entries in its sweep step without anyone reading them', () => {
    const { store, clock, removed } = makeStore({ maxEntries: 64, sweepSamplesPerCall: 4 });
    for (let i = 0; i < 32; i++) store.set(`t${i}`, 'x', { size: 1, ttlMs: 10 });
    clock.advance(10);
    // 32 used slots at 4 per set: 8 sets cover them all.
    for (let i = 0; i < 8; i++) store.set(`p${i}`, 'y', { size: 1 });
    expect(store.size).toBe(8);
    expect(removed.filter((r) => r.reason === 'expire')).toHaveLength(32);
    expect(store.stats().expirations).toBe(32);
  });

  it('leaves reclamation to get and sweepExpired when sweepSamplesPerCall is 0', () => {
    const { store, clock } = makeStore({ sweepSamplesPerCall: 0 });
    for (let i = 0; i < 10; i++) store.set(`t${i}`, 'x', { size: 1, ttlMs: 10 });
    clock.advance(10);
    for (let i = 0; i < 10; i++) store.set(`p${i}`, 'y', { size: 1 });
    expect(store.size).toBe(20);
    expect(store.sweepExpired(1_000)).toBe(10);
    expect(store.size).toBe(10);
  });

  it('reports an already expired LRU entry it has to drop as expired, not evicted', () => {
    const { store, clock, removed } = makeStore({ maxEntries: 2, sweepSamplesPerCall: 0 });
    store.set('old', 'o', { size: 1, ttlMs: 5 });
    store.set('b', 'b', { size: 1 });
    clock.advance(5);
    store.set('c', 'c', { size: 1 });
    expect(removed).toEqual([{ key: 'old', value: 'o', reason: 'expire' }]);
    expect(store.stats()).toMatchObject({ evictions: 0, expirations: 1 });
  });
});

describe('setIfNewer', () => {
  it('applies only to absent keys or strictly newer versions', () => {
    const { store } = makeStore();
    expect(store.setIfNewer('a', 'v5', { size: 1, version: 5 })).toBe(true);
    expect(store.setIfNewer('a', 'v4', { size: 1, version: 4 })).toBe(false);
    expect(store.setIfNewer('a', 'v5b', { size: 1, version: 5 })).toBe(false);
    expect(store.get('a')).toBe('v5');
    expect(store.setIfNewer('a', 'v6', { size: 3, ttlMs: 9, version: 6 })).toBe(true);
    expect(store.getEntry('a')).toEqual({ value: 'v6', version: 6, size: 3, ttlRemainingMs: 9 });
  });

  it('compares only with the live entry: expired or deleted keys accept any version', () => {
    const { store, clock } = makeStore();
    store.set('a', 'new', { size: 1, ttlMs: 5, version: 10 });
    clock.advance(5);
    expect(store.setIfNewer('a', 'old', { size: 1, version: 1 })).toBe(true);
    store.delete('a');
    expect(store.setIfNewer('a', 'older', { size: 1, version: 0 })).toBe(true);
    expect(store.get('a')).toBe('older');
  });

  it('a refused write leaves recency untouched', () => {
    const { store, removed } = makeStore();
    store.set('a', 'A', { size: 1, version: 3 });
    store.set('b', 'B', { size: 1 });
    store.setIfNewer('a', 'A2', { size: 1, version: 2 });
    expect(recencyOrder(store, removed)).toEqual(['a', 'b']);
  });

  it('requires a version and validates like set', () => {
    const { store } = makeStore({ maxBytes: 5 });
    expect(
      codeOf(() => store.setIfNewer('a', 'A', { size: 1 } as unknown as { size: 1; version: 1 })),
    ).toBe('ERR_STORE_INVALID_VERSION');
    expect(codeOf(() => store.setIfNewer('a', 'A', { size: 6, version: 1 }))).toBe(
      'ERR_STORE_ENTRY_TOO_LARGE',
    );
  });
});

describe('delete, ttl, expire, getEntry', () => {
  it('delete reports whether a live entry was removed and fires no hook', () => {
    const { store, clock, removed } = makeStore();
    store.set('a', 'A', { size: 2 });
    store.set('t', 'T', { size: 2, ttlMs: 5 });
    expect(store.delete('a')).toBe(true);
    expect(store.delete('a')).toBe(false);
    clock.advance(5);
    expect(store.delete('t')).toBe(false);
    expect(store.size).toBe(0);
    expect(store.bytes).toBe(0);
    expect(removed).toEqual([]);
  });

  it('ttl follows the Redis PTTL convention', () => {
    const { store, clock } = makeStore();
    store.set('forever', 'F', { size: 1 });
    store.set('brief', 'B', { size: 1, ttlMs: 30 });
    expect(TTL_MISSING).toBe(-2);
    expect(TTL_NONE).toBe(-1);
    expect(store.ttl('absent')).toBe(TTL_MISSING);
    expect(store.ttl('forever')).toBe(TTL_NONE);
    expect(store.ttl('brief')).toBe(30);
    clock.advance(12.5);
    expect(store.ttl('brief')).toBe(17.5);
    clock.advance(17.5);
    expect(store.ttl('brief')).toBe(TTL_MISSING);
  });

  it('expire sets, persists and removes, without touching recency', () => {
    const { store, clock, removed } = makeStore();
    store.set('a', 'A', { size: 1 });
    store.set('b', 'B', { size: 1 });
    expect(store.expire('a', 20)).toBe(true);
    expect(store.ttl('a')).toBe(20);
    expect(store.expire('a', undefined)).toBe(true);
    expect(store.ttl('a')).toBe(TTL_NONE);
    expect(store.expire('missing', 5)).toBe(false);
    expect(store.expire('a', 5)).toBe(true);
    clock.advance(5);
    expect(store.expire('a', 100)).toBe(false);
    expect(store.has('a')).toBe(false);
    expect(store.expire('b', 0)).toBe(true);
    expect(store.has('b')).toBe(false);
    expect(removed).toEqual([]);
    store.set('c', 'C', { size: 1 });
    store.set('d', 'D', { size: 1 });
    store.expire('c', 1_000);
    expect(recencyOrder(store, removed).filter((k) => k !== 'a')).toEqual(['c', 'd']);
  });

  it('getEntry reports version, size and remaining TTL', () => {
    const { store, clock } = makeStore();
    store.set('a', 'A', { size: 7, ttlMs: 40, version: 12 });
    clock.advance(15);
    expect(store.getEntry('a')).toEqual({ value: 'A', version: 12, size: 7, ttlRemainingMs: 25 });
    expect(store.getEntry('nope')).toBeUndefined();
  });
});

describe('entries', () => {
  function filled() {
    const made = makeStore();
    for (let i = 0; i < 20; i++) {
      made.store.set(`k${i}`, `v${i}`, {
        size: 1,
        version: i,
        ttlMs: i % 2 === 0 ? 50 : undefined,
      });
    }
    return made;
  }

  it('yields every live entry once with its metadata, skipping expired ones', () => {
    const { store, clock } = filled();
    store.set('short', 's', { size: 4, ttlMs: 5 });
    clock.advance(10);
    const all = [...store.entries()];
    expect(all.map((e) => e.key).sort()).toEqual(
      Array.from({ length: 20 }, (_, i) => `k${i}`).sort(),
    );
    expect(all.find((e) => e.key === 'k4')).toEqual({
      key: 'k4',
      value: 'v4',
      version: 4,
      size: 1,
      ttlRemainingMs: 40,
    });
    expect(all.find((e) => e.key === 'k5')?.ttlRemainingMs).toBeUndefined();
  });

  it('applies the filter to keys', () => {
    const { store } = filled();
    const keys = [...store.entries((k) => k.endsWith('1'))].map((e) => e.key).sort();
    expect(keys).toEqual(['k1', 'k11']);
  });

  it('tolerates reads, writes and deletes between yields (weakly consistent)', () => {
    const { store } = filled();
    const seen: string[] = [];
    const deleted: string[] = [];
    let added = 0;
    for (const entry of store.entries()) {
      seen.push(entry.key);
      // Reorder recency, overwrite, delete keys from the far end, add new keys
      // (which may land in freed slots ahead of or behind the walk).
      for (let i = 0; i < 20; i += 3) store.get(`k${i}`);
      store.set(entry.key, 'changed', { size: 2 });
      if (deleted.length < 5) {
        deleted.push(`k${19 - deleted.length}`);
        store.delete(deleted[deleted.length - 1]!);
      }
      if (added < 8) store.set(`new${added++}`, 'n', { size: 1 });
    }
    const survivors = Array.from({ length: 15 }, (_, i) => `k${i}`);
    // Every key present throughout was yielded exactly once; deleted ones never.
    for (const key of survivors) expect(seen.filter((k) => k === key)).toHaveLength(1);
    for (const key of deleted) expect(seen).not.toContain(key);
    expect(new Set(seen).size).toBe(seen.length);
    expect(store.size).toBe(15 + 8);
    expect(store.get('k14')).toBe('changed');
  });

  it('ends when the store is cleared mid-way', () => {
    const { store } = filled();
    const iterator = store.entries();
    expect(iterator.next().done).toBe(false);
    store.clear();
    expect(iterator.next().done).toBe(true);
  });

  it('rejects a filter that is not a function', () => {
    const { store } = makeStore();
    expect(codeOf(() => store.entries('k' as unknown as () => boolean))).toBe(
      'ERR_INVALID_ARGUMENT',
    );
  });
});

describe('sweepExpired', () => {
  it('examines at most maxSamples slots per call and eventually reclaims all expired', () => {
    const { store, clock, removed } = makeStore({ sweepSamplesPerCall: 0 });
    for (let i = 0; i < 30; i++) {
      store.set(`k${i}`, 'v', { size: 1, ttlMs: i < 20 ? 5 : undefined });
    }
    clock.advance(5);
    expect(store.sweepExpired(10)).toBe(10);
    expect(store.sweepExpired(0)).toBe(0);
    let total = 10;
    for (let call = 0; call < 3; call++) total += store.sweepExpired(10);
    expect(total).toBe(20);
    expect(store.size).toBe(10);
    expect(removed.every((r) => r.reason === 'expire')).toBe(true);
    expect(store.sweepExpired(100)).toBe(0);
  });

  it('rejects a bad sample count and does nothing without TTLs', () => {
    const { store } = makeStore();
    store.set('a', 'A', { size: 1 });
    expect(codeOf(() => store.sweepExpired(-1))).toBe('ERR_STORE_INVALID_LIMIT');
    expect(codeOf(() => store.sweepExpired(1.5))).toBe('ERR_STORE_INVALID_LIMIT');
    expect(store.sweepExpired(100)).toBe(0);
  });
});

describe('resize and clear', () => {
  it('resize evicts LRU entries down to the new bounds, then admits up to them', () => {
    const { store, removed } = makeStore({ maxEntries: 10, maxBytes: 100 });
    for (let i = 0; i < 10; i++) store.set(`k${i}`, `v${i}`, { size: 10 });
    store.get('k0');
    store.resize({ maxEntries: 5, maxBytes: 100 });
    expect(removed.map((r) => r.key)).toEqual(['k1', 'k2', 'k3', 'k4', 'k5']);
    store.resize({ maxEntries: 5, maxBytes: 25 });
    expect(store.size).toBe(2);
    expect(store.bytes).toBe(20);
    expect(codeOf(() => store.set('big', 'b', { size: 26 }))).toBe('ERR_STORE_ENTRY_TOO_LARGE');
    store.resize({ maxEntries: 50, maxBytes: 1_000 });
    for (let i = 0; i < 50; i++) store.set(`n${i}`, 'n', { size: 1 });
    expect(store.size).toBe(50);
    expect(codeOf(() => store.resize({ maxEntries: 0, maxBytes: 5 }))).toBe(
      'ERR_STORE_INVALID_LIMIT',
    );
    expect(store.limits).toEqual({ maxEntries: 50, maxBytes: 1_000 });
  });

  it('clear empties the store silently, keeps the stats, and the store stays usable', () => {
    const { store, removed } = makeStore();
    for (let i = 0; i < 40; i++) store.set(`k${i}`, 'v', { size: 2, ttlMs: 9, version: 2 });
    store.get('k1');
    store.clear();
    expect(store.size).toBe(0);
    expect(store.bytes).toBe(0);
    expect(store.get('k1')).toBeUndefined();
    expect(removed).toEqual([]);
    expect(store.stats()).toMatchObject({ hits: 1, misses: 1 });
    store.set('a', 'A', { size: 1 });
    expect(store.getEntry('a')).toEqual({
      value: 'A',
      version: 0,
      size: 1,
      ttlRemainingMs: undefined,
    });
  });
});

describe('onRemove hook', () => {
  it('may read the store but not change it', () => {
    const clock = new ManualClock();
    const seen: unknown[] = [];
    const store: LruStore<string> = new LruStore<string>({
      maxEntries: 1,
      maxBytes: 10,
      clock,
      onRemove: (key) => {
        seen.push(store.peek(key), store.size, store.has('b'));
        for (const call of [
          () => store.set('x', 'x', { size: 1 }),
          () => store.setIfNewer('x', 'x', { size: 1, version: 1 }),
          () => store.get('b'),
          () => store.delete('b'),
          () => store.expire('b', 1),
          () => store.sweepExpired(1),
          () => store.resize({ maxEntries: 2, maxBytes: 2 }),
          () => store.clear(),
        ]) {
          seen.push(codeOf(call));
        }
      },
    });
    store.set('a', 'A', { size: 1 });
    store.set('b', 'B', { size: 1 });
    expect(seen).toEqual([undefined, 0, false, ...Array(8).fill('ERR_STORE_REENTRANT_CALL')]);
    expect(store.get('b')).toBe('B');
    expect(store.limits.maxEntries).toBe(1);
  });

  it('a throwing hook propagates its error and leaves the store consistent', () => {
    const clock = new ManualClock();
    const failure = new Error('hook failed');
    const store = new LruStore<string>({
      maxEntries: 2,
      maxBytes: 100,
      clock,
      onRemove: () => {
        throw failure;
      },
    });
    store.set('a', 'A', { size: 1 });
    store.set('b', 'B', { size: 1 });
    expect(() => store.set('c', 'C', { size: 1 })).toThrow(failure);
    expect(store.size).toBe(1);
    expect(store.bytes).toBe(1);
    expect(store.get('b')).toBe('B');
    store.set('c', 'C', { size: 1 });
    expect([...store.entries()].map((e) => e.key).sort()).toEqual(['b', 'c']);
  });
});
