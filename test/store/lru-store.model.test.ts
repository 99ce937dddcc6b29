/**
 * Model-based test: random command sequences run against LruStore and a plain
 * reference model (a Map of entries, a recency array, expiry times), with small
 * bounds so eviction happens constantly. Every answer, `size`, `bytes`, the stats and
 * the bounds are checked after every step.
 *
 * The model is exact except for one freedom the store has by design: which expired
 * entries its sampled sweep reclaims, and when. The model therefore tracks entries
 * *held* (live or expired-but-unreclaimed) and learns about reclamation from the
 * `onRemove` hook, checking each report as it happens: an `expire` must name a held,
 * expired entry; an `evict` must name the least recently used held entry, be live,
 * and happen only while the write or resize in progress still needs room. A full
 * sweep must leave no expired entry held.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EntryTooLargeError } from '../../src/store/errors.js';
import { LruStore, type RemovalReason, TTL_MISSING, TTL_NONE } from '../../src/store/lru-store.js';
import { ManualClock } from '../../src/util/clock.js';

interface ModelEntry {
  value: Value;
  size: number;
  expiresAt: number | undefined;
  version: number;
}

interface Value {
  id: number;
}

/** What the store is doing while a hook fires; decides which reports are legitimate. */
type InFlight =
  | { kind: 'write'; key: string; size: number }
  | { kind: 'resize' }
  | { kind: 'get'; key: string }
  | { kind: 'sweep' }
  | { kind: 'none' };

class Model {
  readonly held = new Map<string, ModelEntry>();
  /** Held keys, least recently used first. */
  recency: string[] = [];
  now = 0;
  bytes = 0;
  hits = 0;
  misses = 0;
  evictions = 0;
  expirations = 0;
  inFlight: InFlight = { kind: 'none' };
  reportsInFlight = 0;

  constructor(
    public maxEntries: number,
    public maxBytes: number,
  ) {}

  isLive(key: string): boolean {
    const e = this.held.get(key);
    return e !== undefined && (e.expiresAt === undefined || this.now < e.expiresAt);
  }

  live(key: string): ModelEntry | undefined {
    return this.isLive(key) ? this.held.get(key) : undefined;
  }

  touch(key: string): void {
    this.recency = this.recency.filter((k) => k !== key);
    this.recency.push(key);
  }

  drop(key: string): void {
    const e = this.held.get(key);
    if (e === undefined) return;
    this.bytes -= e.size;
    this.held.delete(key);
    this.recency = this.recency.filter((k) => k !== key);
  }

  write(key: string, value: Value, size: number, ttlMs: number | undefined, version: number) {
    if (ttlMs === 0) {
      this.drop(key);
      return;
    }
    const old = this.held.get(key);
    if (old !== undefined) this.bytes -= old.size;
    this.held.set(key, {
      value,
      size,
      expiresAt: ttlMs === undefined ? undefined : this.now + ttlMs,
      version,
    });
    this.bytes += size;
    this.touch(key);
  }

  /** Checks one hook report against what the store may legitimately do right now. */
  onRemove(key: string, value: Value, reason: RemovalReason): void {
    const entry = this.held.get(key);
    expect(entry, `report of ${reason} for ${key}, which is not held`).toBeDefined();
    expect(value).toBe(entry!.value);
    const flight = this.inFlight;
    expect(flight.kind, `${reason} of ${key} during a call that must not remove`).not.toBe('none');
    this.reportsInFlight++;
    if (reason === 'expire') {
      expect(this.isLive(key), `expire of live ${key}`).toBe(false);
      if (flight.kind === 'get') expect(key).toBe(flight.key);
      this.expirations++;
    } else {
      expect(flight.kind === 'write' || flight.kind === 'resize').toBe(true);
      expect(this.isLive(key), `evict of expired ${key} should be an expire`).toBe(true);
      const writing = flight.kind === 'write' ? flight : undefined;
      const candidates = this.recency.filter((k) => k !== writing?.key);
      expect(key, 'evicted entry is not the least recently used').toBe(candidates[0]);
      let needed: boolean;
      if (writing === undefined) {
        needed = this.held.size > this.maxEntries || this.bytes > this.maxBytes;
      } else if (this.held.has(writing.key)) {
        needed = this.bytes - this.held.get(writing.key)!.size + writing.size > this.maxBytes;
      } else {
        needed = this.held.size + 1 > this.maxEntries || this.bytes + writing.size > this.maxBytes;
      }
      expect(needed, `evicted ${key} though everything fit`).toBe(true);
      this.evictions++;
    }
    this.drop(key);
  }
}

function expectedTtl(model: Model, key: string): number {
  const e = model.live(key);
  if (e === undefined) return TTL_MISSING;
  return e.expiresAt === undefined ? TTL_NONE : e.expiresAt - model.now;
}

const KEYS = ['a', 'b', 'c', 'd', 'e', 'f'];
const key = fc.constantFrom(...KEYS);
const ttl = fc.option(fc.integer({ min: 0, max: 12 }), { nil: undefined });
const size = fc.integer({ min: 0, max: 9 });
const version = fc.integer({ min: 0, max: 4 });

const command = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('set' as const), key, size, ttl, version }) },
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant('setIfNewer' as const), key, size, ttl, version }),
  },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('get' as const), key }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('peek' as const), key }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('has' as const), key }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('getEntry' as const), key }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), key }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('ttl' as const), key }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('expire' as const), key, ttl }) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('advance' as const),
      ms: fc.integer({ min: 0, max: 6 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('resize' as const),
      maxEntries: fc.integer({ min: 1, max: 6 }),
      maxBytes: fc.integer({ min: 0, max: 20 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('sweep' as const),
      samples: fc.integer({ min: 0, max: 8 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('entries' as const) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'clear' as const }) },
);

type Command = typeof command extends fc.Arbitrary<infer C> ? C : never;

const setup = fc.record({
  maxEntries: fc.integer({ min: 1, max: 5 }),
  maxBytes: fc.integer({ min: 0, max: 16 }),
  sweepSamplesPerCall: fc.integer({ min: 0, max: 3 }),
});

/** Slots never exceed the largest maxEntries the commands use (6) plus the sentinel. */
const FULL_SWEEP_SAMPLES = 100;

interface Setup {
  maxEntries: number;
  maxBytes: number;
  sweepSamplesPerCall: number;
}

function run(config: Setup, commands: Command[]): void {
  const clock = new ManualClock(0);
  const model = new Model(config.maxEntries, config.maxBytes);
  const store = new LruStore<Value>({
    ...config,
    clock,
    onRemove: (k, v, reason) => model.onRemove(k, v, reason),
  });
  let nextId = 0;

  /** Runs a store call with the hook allowed to report removals of the given kind. */
  function during<T>(flight: InFlight, call: () => T): T {
    model.inFlight = flight;
    model.reportsInFlight = 0;
    try {
      return call();
    } finally {
      model.inFlight = { kind: 'none' };
    }
  }

  for (const cmd of commands) {
    switch (cmd.op) {
      case 'set':
      case 'setIfNewer': {
        const value = { id: nextId++ };
        const options = { size: cmd.size, ttlMs: cmd.ttl, version: cmd.version };
        if (cmd.size > model.maxBytes) {
          const before = store.stats();
          expect(() =>
            cmd.op === 'set'
              ? store.set(cmd.key, value, options)
              : store.setIfNewer(cmd.key, value, options),
          ).toThrow(EntryTooLargeError);
          expect(store.stats()).toEqual(before);
          break;
        }
        const current = model.live(cmd.key);
        const expectApplied =
          cmd.op === 'set' || current === undefined || cmd.version > current.version;
        const applied = during({ kind: 'write', key: cmd.key, size: cmd.size }, () => {
          if (cmd.op === 'setIfNewer') return store.setIfNewer(cmd.key, value, options);
          store.set(cmd.key, value, options);
          return true;
        });
        expect(applied).toBe(expectApplied);
        if (applied) model.write(cmd.key, value, cmd.size, cmd.ttl, cmd.version);
        break;
      }
      case 'get': {
        const expected = model.live(cmd.key);
        const got = during({ kind: 'get', key: cmd.key }, () => store.get(cmd.key));
        expect(got).toBe(expected?.value);
        if (expected === undefined) {
          model.misses++;
          // An expired entry that get() found must be reclaimed on the spot.
          expect(model.held.has(cmd.key)).toBe(false);
        } else {
          model.hits++;
          model.touch(cmd.key);
        }
        break;
      }
      case 'peek':
        expect(store.peek(cmd.key)).toBe(model.live(cmd.key)?.value);
        break;
      case 'has':
        expect(store.has(cmd.key)).toBe(model.isLive(cmd.key));
        break;
      case 'getEntry': {
        const e = model.live(cmd.key);
        expect(store.getEntry(cmd.key)).toEqual(
          e === undefined
            ? undefined
            : {
                value: e.value,
                version: e.version,
                size: e.size,
                ttlRemainingMs: e.expiresAt === undefined ? undefined : e.expiresAt - model.now,
              },
        );
        break;
      }
      case 'delete':
        expect(store.delete(cmd.key)).toBe(model.isLive(cmd.key));
        model.drop(cmd.key);
        break;
      case 'ttl':
        expect(store.ttl(cmd.key)).toBe(expectedTtl(model, cmd.key));
        break;
      case 'expire': {
        const e = model.live(cmd.key);
        expect(store.expire(cmd.key, cmd.ttl)).toBe(e !== undefined);
        if (e !== undefined) {
          if (cmd.ttl === 0) model.drop(cmd.key);
          else e.expiresAt = cmd.ttl === undefined ? undefined : model.now + cmd.ttl;
        }
        break;
      }
      case 'advance':
        clock.advance(cmd.ms);
        model.now += cmd.ms;
        break;
      case 'resize':
        model.maxEntries = cmd.maxEntries;
        model.maxBytes = cmd.maxBytes;
        during({ kind: 'resize' }, () =>
          store.resize({ maxEntries: cmd.maxEntries, maxBytes: cmd.maxBytes }),
        );
        break;
      case 'sweep': {
        const reclaimed = during({ kind: 'sweep' }, () => store.sweepExpired(cmd.samples));
        expect(reclaimed).toBe(model.reportsInFlight);
        expect(reclaimed).toBeLessThanOrEqual(cmd.samples);
        break;
      }
      case 'entries': {
        const got = [...store.entries()].sort((x, y) => (x.key < y.key ? -1 : 1));
        const expected = [...model.held.keys()]
          .filter((k) => model.isLive(k))
          .sort()
          .map((k) => {
            const e = model.held.get(k)!;
            return {
              key: k,
              value: e.value,
              version: e.version,
              size: e.size,
              ttlRemainingMs: e.expiresAt === undefined ? undefined : e.expiresAt - model.now,
            };
          });
        expect(got).toEqual(expected);
        break;
      }
      case 'clear':
        store.clear();
        model.held.clear();
        model.recency = [];
        model.bytes = 0;
        break;
    }
    // Observe the whole state after every step (peek and ttl change nothing).
    for (const k of KEYS) {
      expect(store.peek(k)).toBe(model.live(k)?.value);
      expect(store.ttl(k)).toBe(expectedTtl(model, k));
    }
    expect(store.size).toBe(model.held.size);
    expect(store.bytes).toBe(model.bytes);
    expect(store.size).toBeLessThanOrEqual(model.maxEntries);
    expect(store.bytes).toBeLessThanOrEqual(model.maxBytes);
    expect(store.stats()).toEqual({
      hits: model.hits,
      misses: model.misses,
      evictions: model.evictions,
      expirations: model.expirations,
    });
  }

  // A full sweep leaves nothing expired behind.
  during({ kind: 'sweep' }, () => store.sweepExpired(FULL_SWEEP_SAMPLES));
  for (const k of model.held.keys()) expect(model.isLive(k), `${k} left expired`).toBe(true);
  expect(store.size).toBe(model.held.size);
}

describe('LruStore against a reference model', () => {
  it('agrees on every answer, size, bytes, stats and bound over random command sequences', () => {
    fc.assert(fc.property(setup, fc.array(command, { minLength: 1, maxLength: 80 }), run), {
      numRuns: 400,
    });
  });

  it('agrees under heavy expiry churn', () => {
    const churn = fc.oneof(
      fc.record({
        op: fc.constant('set' as const),
        key,
        size: fc.integer({ min: 0, max: 3 }),
        ttl: fc.integer({ min: 1, max: 4 }),
        version,
      }),
      fc.record({ op: fc.constant('get' as const), key }),
      fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 3 }) }),
    );
    fc.assert(fc.property(setup, fc.array(churn, { minLength: 1, maxLength: 120 }), run), {
      numRuns: 200,
    });
  });
});
