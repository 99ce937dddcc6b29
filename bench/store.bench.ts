/**
 * `npm run bench store`: shoal's LruStore against lru-cache v11 (with and without
 * `ttl`) and @isaacs/ttlcache, in one process, at 100k and 1M entries
 * (`STORE_BENCH_SIZES=100000` runs one size).
 *
 * Columns (every cache holds N entries; N is also its entry bound):
 * - `shoal`, `lru-cache`: no TTL anywhere.
 * - `shoal+ttl`, `lru-cache+ttl`, `ttlcache`: every entry has a 1 h TTL (nothing
 *   expires during the run), so every read checks expiry.
 * - `shoal+ttl/precise`: as `shoal+ttl` but its clock calls `performance.now()` (~80 ns
 *   here) every time. The other shoal columns use {@link CoarseClock}, which caches
 *   the time for 1 ms exactly as lru-cache does internally (`ttlResolution: 1`), so
 *   both read time at the same resolution.
 *
 * Rows:
 * - get-hit / get-miss: keys present / absent, in a fixed random order.
 * - set-overwrite: existing keys, a different value each round (TTL columns keep a
 *   TTL: lru-cache and ttlcache by their constructor default, shoal by an options
 *   object made once).
 * - set-new-with-eviction: keys never present, so every set evicts the LRU entry.
 * - set-with-ttl: existing keys with a per-call TTL option literal (TTL columns only).
 *
 * Method: keys are generated and hashed (by inserting them into a throwaway Set)
 * before anything is measured, so no library pays for first-time string hashing;
 * every (cache, row) loop is compiled separately so no call site is shared between
 * libraries; 2 warm-up rounds, then 15 timed rounds interleaved across caches with
 * the starting cache rotating each round (machine noise and cache warmth hit all
 * alike). A round is bounded by an op count and a 1 s budget. Both wall time and
 * process CPU time are recorded; the ratios and targets use CPU time because the
 * 2-core machine is shared with other jobs (load average often 5-10), which inflates
 * wall time by however long the process waits for a core. Wall-time figures are in
 * the JSON too. Memory: heap bytes, and heap + typed-array bytes, per entry after
 * filling N entries with one shared value, with global.gc() before and after.
 */
import { TTLCache } from '@isaacs/ttlcache';
import { LRUCache } from 'lru-cache';
import { LruStore } from '../src/store/lru-store.js';
import type { Clock } from '../src/util/clock.js';
import { monotonicClock } from '../src/util/clock.js';
import { SeededRandom } from '../src/util/random.js';

const SIZES = (process.env.STORE_BENCH_SIZES ?? '100000,1000000').split(',').map(Number);
const TTL_MS = 3_600_000;
const WARMUP_ROUNDS = 2;
const TIMED_ROUNDS = 15;
const OPS_PER_ROUND = 100_000;
const ROUND_BUDGET_NS = 1_000_000_000n;
/**
 * Ops between time checks inside a round start small (a slow library cannot overrun
 * the budget by much) and double while a chunk takes under 5 ms, so fast libraries
 * run long chunks where the check costs nothing.
 */
const FIRST_CHUNK_OPS = 256;
const MAX_CHUNK_OPS = 16_384;
const FAST_CHUNK_NS = 5_000_000n;

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error('run with --expose-gc (npm run bench store does)');
  process.exit(2);
}
const collect = gc;

/**
 * Caches `performance.now()` until a 1 ms timer clears it: the trade lru-cache makes
 * with `ttlResolution: 1`. It lives here, not in the store, because the store reads
 * no timers; the node that owns a store may use the same trick for its clock.
 */
class CoarseClock implements Clock {
  private cachedMs = -1;

  now(): number {
    if (this.cachedMs >= 0) return this.cachedMs;
    this.cachedMs = performance.now();
    setTimeout(() => {
      this.cachedMs = -1;
    }, 1).unref();
    return this.cachedMs;
  }
}

type Row = 'get-hit' | 'get-miss' | 'set-overwrite' | 'set-with-ttl' | 'set-new-with-eviction';
const ROWS: Row[] = [
  'get-hit',
  'get-miss',
  'set-overwrite',
  'set-with-ttl',
  'set-new-with-eviction',
];

interface Cache {
  get(key: string): unknown;
}

/** A cache under test: how to build it, fill it, and the loop body of each row it runs. */
interface Subject {
  name: string;
  make(n: number): Cache;
  /** Loop bodies; in them `c` is the cache, `k` the key, `v` the value, `o` {@link options}. */
  bodies: Partial<Record<Row, string>>;
  /** How the fill sets an entry. */
  fill: string;
  /** An options object made once and passed to every loop as `o`. */
  options?: object;
}

function shoal(clock: Clock, n: number): LruStore<unknown> {
  return new LruStore<unknown>({ maxEntries: n, maxBytes: Number.MAX_SAFE_INTEGER, clock });
}

const HIT = 'if (c.get(k) !== undefined) s++;';
const shoalBodies = (ttl: boolean): Partial<Record<Row, string>> => ({
  'get-hit': HIT,
  'get-miss': HIT,
  'set-overwrite': 'c.set(k, v, o);',
  ...(ttl ? { 'set-with-ttl': `c.set(k, v, { size: 1, ttlMs: ${TTL_MS} });` } : {}),
  'set-new-with-eviction': 'c.set(k, v, o);',
});
const libraryBodies = (ttl: boolean): Partial<Record<Row, string>> => ({
  'get-hit': HIT,
  'get-miss': HIT,
  'set-overwrite': 'c.set(k, v);',
  ...(ttl ? { 'set-with-ttl': `c.set(k, v, { ttl: ${TTL_MS} });` } : {}),
  'set-new-with-eviction': 'c.set(k, v);',
});

const SUBJECTS: Subject[] = [
  {
    name: 'shoal',
    make: (n) => shoal(new CoarseClock(), n),
    fill: 'c.set(k, v, o);',
    options: { size: 1 },
    bodies: shoalBodies(false),
  },
  {
    name: 'lru-cache',
    make: (n) => new LRUCache<string, object>({ max: n }),
    fill: 'c.set(k, v);',
    bodies: libraryBodies(false),
  },
  {
    name: 'shoal+ttl',
    make: (n) => shoal(new CoarseClock(), n),
    fill: 'c.set(k, v, o);',
    options: { size: 1, ttlMs: TTL_MS },
    bodies: shoalBodies(true),
  },
  {
    name: 'shoal+ttl/precise',
    make: (n) => shoal(monotonicClock, n),
    fill: 'c.set(k, v, o);',
    options: { size: 1, ttlMs: TTL_MS },
    bodies: shoalBodies(true),
  },
  {
    name: 'lru-cache+ttl',
    make: (n) => new LRUCache<string, object>({ max: n, ttl: TTL_MS }),
    fill: 'c.set(k, v);',
    bodies: libraryBodies(true),
  },
  {
    name: 'ttlcache',
    make: (n) => new TTLCache<string, object>({ max: n, ttl: TTL_MS }),
    fill: 'c.set(k, v);',
    bodies: libraryBodies(true),
  },
];

/** Memory only: what the cluster will store (every entry with a TTL and a version). */
const SHOAL_VERSIONED: Subject = {
  name: 'shoal+ttl+version',
  make: (n) => shoal(new CoarseClock(), n),
  fill: 'c.set(k, v, o);',
  options: { size: 1, ttlMs: TTL_MS, version: 1 },
  bodies: {},
};

/** [subject, baseline] pairs whose ratio is printed; the first two are the targets. */
const PAIRS: [string, string][] = [
  ['shoal', 'lru-cache'],
  ['shoal+ttl', 'lru-cache+ttl'],
  ['shoal+ttl/precise', 'lru-cache+ttl'],
  ['shoal+ttl', 'ttlcache'],
];
const TARGET_PAIRS = new Set(['shoal/lru-cache', 'shoal+ttl/lru-cache+ttl']);

type Loop = (
  c: unknown,
  keys: string[],
  order: Uint32Array,
  from: number,
  count: number,
  v: unknown,
  o: unknown,
) => number;

/**
 * Compiles a loop for one (subject, row). A fresh Function per pair gives every loop
 * its own inline caches, so no library pays for sharing a call site with another.
 */
function compileLoop(body: string): Loop {
  return new Function(
    'c',
    'keys',
    'order',
    'from',
    'count',
    'v',
    'o',
    `let s = 0; let p = from; const len = order.length;
     for (let j = 0; j < count; j++) { const k = keys[order[p]]; ${body} if (++p === len) p = 0; }
     return s;`,
  ) as Loop;
}

function permutation(n: number, seed: number): Uint32Array {
  const order = identity(n);
  const random = new SeededRandom(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = random.int(i + 1);
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

function identity(n: number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  return order;
}

/** `n` distinct keys, already hashed: V8 caches a string's hash once it was a Map/Set key. */
function makeKeys(prefix: string, n: number): string[] {
  const keys: string[] = new Array(n);
  for (let i = 0; i < n; i++) keys[i] = `${prefix}:${i.toString().padStart(8, '0')}`;
  new Set(keys);
  return keys;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

interface RoundResult {
  ops: number;
  wallNs: number;
  cpuNs: number;
  hits: number;
}

/** Runs up to `count` ops in chunks, stopping early once the round's time budget is spent. */
function timedRound(
  loop: Loop,
  cache: unknown,
  keys: string[],
  order: Uint32Array,
  from: number,
  count: number,
  value: unknown,
  options: unknown,
): RoundResult {
  let done = 0;
  let hits = 0;
  let elapsed = 0n;
  let chunkOps = FIRST_CHUNK_OPS;
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  while (done < count && elapsed < ROUND_BUDGET_NS) {
    const chunk = Math.min(chunkOps, count - done);
    hits += loop(cache, keys, order, (from + done) % order.length, chunk, value, options);
    done += chunk;
    const now = process.hrtime.bigint() - start;
    if (now - elapsed < FAST_CHUNK_NS && chunkOps < MAX_CHUNK_OPS) chunkOps *= 2;
    elapsed = now;
  }
  const cpu = process.cpuUsage(cpuStart);
  return { ops: done, wallNs: Number(elapsed), cpuNs: (cpu.user + cpu.system) * 1000, hits };
}

interface Memory {
  heapBytesPerEntry: number;
  totalBytesPerEntry: number;
}

/** Bytes per entry of one subject filled with `n` entries (heap, and heap + typed arrays). */
function measureMemory(subject: Subject, n: number, keys: string[], value: object): Memory {
  const fill = compileLoop(subject.fill);
  const order = identity(n);
  collect();
  collect();
  const before = process.memoryUsage();
  const cache = subject.make(n);
  fill(cache, keys, order, 0, n, value, subject.options);
  collect();
  collect();
  const after = process.memoryUsage();
  if (cache.get(keys[n - 1]!) !== value) throw new Error(`${subject.name}: fill failed`);
  if (cache instanceof TTLCache) cache.cancelTimer();
  return {
    heapBytesPerEntry: (after.heapUsed - before.heapUsed) / n,
    totalBytesPerEntry:
      (after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers) / n,
  };
}

type Table = Record<string, Record<string, number>>;

function printTable(title: string, opsPerSec: Table, ratios: Record<string, number>, n: number) {
  console.log(`\n${title}`);
  const fmt = (x: number | undefined) => (x === undefined ? 'n/a' : `${(x / 1e6).toFixed(2)}M`);
  const header = ['row', ...SUBJECTS.map((s) => s.name), ...PAIRS.map(([a, b]) => `${a}/${b}`)];
  const lines = ROWS.map((row) => {
    const line = [row, ...SUBJECTS.map((s) => fmt(opsPerSec[row]![s.name]))];
    for (const [a, b] of PAIRS) {
      const ratio = ratios[`${n}.${row}.${a}/${b}`];
      line.push(ratio === undefined ? 'n/a' : `${ratio.toFixed(2)}x`);
    }
    return line;
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  for (const line of [header, ...lines]) {
    console.log(line.map((cell, i) => cell.padStart(widths[i]!)).join('  '));
  }
}

function ratiosOf(opsPerSec: Table, n: number): Record<string, number> {
  const ratios: Record<string, number> = {};
  for (const row of ROWS) {
    for (const [a, b] of PAIRS) {
      const x = opsPerSec[row]![a];
      const y = opsPerSec[row]![b];
      if (x !== undefined && y !== undefined) ratios[`${n}.${row}.${a}/${b}`] = x / y;
    }
  }
  return ratios;
}

const results: Record<string, unknown> = {};
const cpuRatios: Record<string, number> = {};
const wallRatios: Record<string, number> = {};
const memoryRatios: Record<string, number> = {};

for (const n of SIZES) {
  const hitKeys = makeKeys('user', n);
  const missKeys = makeKeys('nope', n);
  const evictKeys = makeKeys('next', n).concat(hitKeys);
  const randomOrder = permutation(n, 42);
  const evictOrder = identity(2 * n);
  const values = [{ v: 1 }, { v: 2 }];

  const memory: Record<string, Memory> = {};
  for (const subject of [...SUBJECTS.filter((s) => !s.name.endsWith('precise')), SHOAL_VERSIONED]) {
    memory[subject.name] = measureMemory(subject, n, hitKeys, values[0]!);
  }

  const caches = SUBJECTS.map((subject) => {
    const cache = subject.make(n);
    compileLoop(subject.fill)(cache, hitKeys, identity(n), 0, n, values[0], subject.options);
    return cache;
  });
  collect();

  const cpuOps: Table = {};
  const wallOps: Table = {};
  for (const row of ROWS) {
    cpuOps[row] = {};
    wallOps[row] = {};
    const keys =
      row === 'get-miss' ? missKeys : row === 'set-new-with-eviction' ? evictKeys : hitKeys;
    const order = row === 'set-new-with-eviction' ? evictOrder : randomOrder;
    const loops = SUBJECTS.map((s) => {
      const body = s.bodies[row];
      return body === undefined ? undefined : compileLoop(body);
    });
    const positions = SUBJECTS.map(() => 0);
    const cpuSamples: number[][] = SUBJECTS.map(() => []);
    const wallSamples: number[][] = SUBJECTS.map(() => []);
    for (let round = 0; round < WARMUP_ROUNDS + TIMED_ROUNDS; round++) {
      const value = values[(round + 1) % 2];
      for (let turn = 0; turn < SUBJECTS.length; turn++) {
        const s = (turn + round) % SUBJECTS.length;
        const subject = SUBJECTS[s]!;
        const loop = loops[s];
        if (loop === undefined) continue;
        const count = Math.min(OPS_PER_ROUND, n);
        const r = timedRound(
          loop,
          caches[s],
          keys,
          order,
          positions[s]!,
          count,
          value,
          subject.options,
        );
        positions[s] = (positions[s]! + r.ops) % order.length;
        if (row.startsWith('get') && r.hits !== (row === 'get-hit' ? r.ops : 0)) {
          throw new Error(`${subject.name} ${row}: ${r.hits} hits in ${r.ops} ops`);
        }
        if (round >= WARMUP_ROUNDS) {
          cpuSamples[s]!.push((r.ops * 1e9) / Math.max(r.cpuNs, 1));
          wallSamples[s]!.push((r.ops * 1e9) / r.wallNs);
        }
      }
    }
    SUBJECTS.forEach((subject, s) => {
      if (cpuSamples[s]!.length === 0) return;
      cpuOps[row]![subject.name] = median(cpuSamples[s]!);
      wallOps[row]![subject.name] = median(wallSamples[s]!);
    });
  }
  for (const cache of caches) if (cache instanceof TTLCache) cache.cancelTimer();

  const cpu = ratiosOf(cpuOps, n);
  const wall = ratiosOf(wallOps, n);
  Object.assign(cpuRatios, cpu);
  Object.assign(wallRatios, wall);
  const label = n.toLocaleString('en');
  printTable(`N = ${label}: median ops per CPU-second (targets use these)`, cpuOps, cpu, n);
  printTable(`N = ${label}: median ops per wall-second (shared machine: noisy)`, wallOps, wall, n);

  console.log('\nbytes per entry           heap  heap+typed-arrays');
  for (const [name, m] of Object.entries(memory)) {
    console.log(
      `${name.padEnd(20)} ${m.heapBytesPerEntry.toFixed(1).padStart(8)} ${m.totalBytesPerEntry.toFixed(1).padStart(12)}`,
    );
  }
  for (const [a, b] of [
    ['shoal', 'lru-cache'],
    ['shoal+ttl', 'lru-cache+ttl'],
  ] as const) {
    const heap = memory[a]!.heapBytesPerEntry / memory[b]!.heapBytesPerEntry;
    const total = memory[a]!.totalBytesPerEntry / memory[b]!.totalBytesPerEntry;
    memoryRatios[`${n}.memory.heap.${a}/${b}`] = heap;
    memoryRatios[`${n}.memory.total.${a}/${b}`] = total;
    console.log(
      `memory ${a}/${b}: heap ${heap.toFixed(2)}x, heap+typed-arrays ${total.toFixed(2)}x`,
    );
  }
  results[n] = { cpuOpsPerSec: cpuOps, wallOpsPerSec: wallOps, memory };
}

const isTarget = (name: string) => TARGET_PAIRS.has(name.split('.').slice(2).join('.'));
const speedMisses = Object.entries(cpuRatios)
  .filter(([name, r]) => isTarget(name) && r < 1)
  .map(([name, r]) => `${name}=${r.toFixed(3)}`);
const wallSpeedMisses = Object.entries(wallRatios)
  .filter(([name, r]) => isTarget(name) && r < 1)
  .map(([name, r]) => `${name}=${r.toFixed(3)}`);
const memoryMisses = Object.entries(memoryRatios)
  .filter(([, r]) => r > 1.2)
  .map(([name, r]) => `${name}=${r.toFixed(3)}`);
const targets = {
  speedAtLeast1x: speedMisses.length === 0,
  speedMisses,
  wallSpeedMisses,
  memoryAtMost1_2x: memoryMisses.length === 0,
  memoryMisses,
};
console.log(
  `\ntargets (CPU time): speed >= 1.0x lru-cache on every row: ${targets.speedAtLeast1x}` +
    `${speedMisses.length > 0 ? ` (misses: ${speedMisses.join(', ')})` : ''}; ` +
    `memory <= 1.2x: ${targets.memoryAtMost1_2x}`,
);
console.log(
  JSON.stringify({
    bench: 'store',
    node: process.version,
    sizes: SIZES,
    results,
    ratios: { cpu: cpuRatios, wall: wallRatios, memory: memoryRatios },
    targets,
  }),
);
