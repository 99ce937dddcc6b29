/**
 * Sustained load against a 3-node shoal cluster (three processes, RF 2,
 * `writeConcern: 'all'`, `maxMemory` 64 MiB each) through one `ShoalClient`, compared
 * with one `redis-server` through one `ioredis` connection under the same load, in
 * the same run.
 *
 * 1. Preload: KEYS keys of VALUE_BYTES each (more than the cluster's total
 *    `maxMemory` once replicated, so the nodes evict), the same into Redis (whose
 *    `maxmemory` is the cluster's total, allkeys-lru).
 * 2. Steps of increasing concurrency (loops awaiting one operation at a time): each
 *    runs STEP_MS per contender, 80% GET / 20% SET over the keyspace; throughput and
 *    p50/p99 latency per step. Redis and shoal alternate per step so drift in the
 *    machine's load hits both alike.
 * 3. At the end, each node's RSS and heap (after a GC): RSS must stay under
 *    `maxMemory` + RSS_OVERHEAD_BYTES (the stated overhead: Node, tsx's compiled
 *    sources, V8 heap, socket buffers).
 *
 * The machine is shared (2 cores, other work running): absolute numbers are noisy;
 * the ratio of the two contenders measured side by side is the figure to read.
 * Usage: npm run bench load   (or node --expose-gc --import tsx bench/load.bench.ts)
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { ShoalClient } from '../src/api/shoal-client.js';
import { freePort } from '../test/support/node-processes.js';
import { percentile, round } from './support/figures.js';
import { startRedisServer } from './support/redis-server.js';

const SECRET = 'load-bench-secret';
const NODES = 3;
const MAX_MEMORY_BYTES = 64 * 1024 * 1024;
const RSS_OVERHEAD_BYTES = 256 * 1024 * 1024;
const KEYS = 200_000;
const VALUE_BYTES = 512;
const PRELOAD_BATCH = 500;
const CONCURRENCY_STEPS = [1, 8, 32, 128, 512] as const;
const STEP_MS = 4_000;
const WARMUP_MS = 1_000;
const GET_PERCENT = 80;
const START_TIMEOUT_MS = 60_000;
const MIB = 1024 * 1024;
const NODE_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'support/load-node-process.ts');

const children: ChildProcess[] = [];

interface LoadNode {
  readonly id: string;
  readonly child: ChildProcess;
  readonly lines: AsyncIterator<string>;
}

interface Step {
  concurrency: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

/** A deterministic value per key and version, VALUE_BYTES long. */
function payloadOf(key: number, version: number): string {
  const head = `${key}:${version}:`;
  return head + 'x'.repeat(VALUE_BYTES - head.length);
}

function keyOf(i: number): string {
  return `load:${i}`;
}

async function startNode(id: string, port: number, voters: string[]): Promise<LoadNode> {
  const options = {
    id,
    port,
    secret: SECRET,
    voters,
    replicationFactor: 2,
    writeConcern: 'all',
    maxMemory: MAX_MEMORY_BYTES,
    joinTimeoutMs: START_TIMEOUT_MS,
  };
  const child = spawn(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', NODE_SCRIPT, JSON.stringify(options)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  children.push(child);
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (Date.now() > deadline) throw new Error(`node ${id} did not start`);
    const line = await lines.next();
    if (line.done) throw new Error(`node ${id} exited before it was ready`);
    if (line.value.startsWith('READY ')) return { id, child, lines };
  }
}

async function memoryOf(node: LoadNode): Promise<Record<string, number>> {
  node.child.stdin!.write('mem\n');
  for (;;) {
    const line = await node.lines.next();
    if (line.done) throw new Error(`node ${node.id} exited`);
    if (line.value.startsWith('MEM ')) {
      return JSON.parse(line.value.slice('MEM '.length)) as Record<string, number>;
    }
  }
}

async function startRedis(maxMemoryBytes: number): Promise<Redis> {
  const server = await startRedisServer(children, [
    '--maxmemory',
    String(maxMemoryBytes),
    '--maxmemory-policy',
    'allkeys-lru',
  ]);
  return server.client;
}

/** Runs `concurrency` loops of get/set for `durationMs`. */
async function runStep(
  get: (key: string) => Promise<unknown>,
  set: (key: string, value: string) => Promise<unknown>,
  concurrency: number,
  durationMs: number,
  seed: number,
): Promise<Step> {
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      // A cheap LCG per worker: the same key sequence for both contenders.
      let state = (seed * 7_919 + worker * 104_729) >>> 0;
      let version = 0;
      while (performance.now() < deadline) {
        state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
        const key = keyOf(state % KEYS);
        const t0 = performance.now();
        try {
          if (state % 100 < GET_PERCENT) await get(key);
          else await set(key, payloadOf(state % KEYS, ++version));
          latencies.push(performance.now() - t0);
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsedS = (performance.now() - started) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  return {
    concurrency,
    opsPerSec: Math.round(latencies.length / elapsedS),
    p50Ms: round(percentile(sorted, 0.5), 3),
    p99Ms: round(percentile(sorted, 0.99), 3),
    errors,
  };
}

async function preload(mset: (entries: Array<[string, string]>) => Promise<unknown>) {
  const started = performance.now();
  for (let start = 0; start < KEYS; start += PRELOAD_BATCH) {
    const entries: Array<[string, string]> = [];
    for (let i = start; i < Math.min(KEYS, start + PRELOAD_BATCH); i++) {
      entries.push([keyOf(i), payloadOf(i, 0)]);
    }
    await mset(entries);
  }
  return Math.round(performance.now() - started);
}

async function main(): Promise<void> {
  const ports = await Promise.all(Array.from({ length: NODES }, () => freePort()));
  const ids = ports.map((_, i) => `n${i + 1}`);
  const voters = ids.map((id, i) => `${id}=127.0.0.1:${ports[i]}`);
  const nodes = await Promise.all(ids.map((id, i) => startNode(id, ports[i]!, voters)));
  const shoal = await ShoalClient.connect({ seeds: voters, secret: SECRET });
  const redis = await startRedis(NODES * MAX_MEMORY_BYTES);

  const shoalPreloadMs = await preload((entries) => shoal.mset(entries));
  const redisPreloadMs = await preload((entries) => redis.mset(...entries.flat()));

  const contenders = {
    shoal: {
      get: (key: string) => shoal.get(key),
      set: (key: string, value: string) => shoal.set(key, value),
    },
    redis: {
      get: (key: string) => redis.get(key),
      set: (key: string, value: string) => redis.set(key, value),
    },
  };
  for (const contender of Object.values(contenders)) {
    await runStep(contender.get, contender.set, 8, WARMUP_MS, 1);
  }
  const steps: Record<'shoal' | 'redis', Step[]> = { shoal: [], redis: [] };
  for (const [index, concurrency] of CONCURRENCY_STEPS.entries()) {
    const order = index % 2 === 0 ? (['shoal', 'redis'] as const) : (['redis', 'shoal'] as const);
    for (const name of order) {
      const contender = contenders[name];
      steps[name].push(
        await runStep(contender.get, contender.set, concurrency, STEP_MS, index + 2),
      );
    }
  }

  const memory: Record<string, Record<string, number>> = {};
  for (const node of nodes) memory[node.id] = await memoryOf(node);
  const limitBytes = MAX_MEMORY_BYTES + RSS_OVERHEAD_BYTES;
  const overLimit = Object.entries(memory)
    .filter(([, usage]) => (usage.rss ?? 0) > limitBytes)
    .map(([id]) => id);
  const redisInfo = await redis.info('memory');
  const redisUsedBytes = Number(/used_memory:(\d+)/.exec(redisInfo)?.[1] ?? Number.NaN);
  const redisRssBytes = Number(/used_memory_rss:(\d+)/.exec(redisInfo)?.[1] ?? Number.NaN);

  const rows = CONCURRENCY_STEPS.map((concurrency, i) => {
    const s = steps.shoal[i]!;
    const r = steps.redis[i]!;
    return [
      String(concurrency).padStart(11),
      String(s.opsPerSec).padStart(10),
      s.p50Ms.toFixed(3).padStart(9),
      s.p99Ms.toFixed(3).padStart(9),
      String(r.opsPerSec).padStart(10),
      r.p50Ms.toFixed(3).padStart(9),
      r.p99Ms.toFixed(3).padStart(9),
      round(s.opsPerSec / r.opsPerSec, 2)
        .toFixed(2)
        .padStart(7),
      String(s.errors + r.errors).padStart(6),
    ].join(' ');
  });
  console.log(
    `load: ${NODES} nodes (processes, RF 2, writeConcern all, maxMemory ${MAX_MEMORY_BYTES / MIB} MiB each) via one ShoalClient vs redis-server via one ioredis connection`,
  );
  console.log(
    `keys ${KEYS} x ${VALUE_BYTES} B, ${GET_PERCENT}% get, ${STEP_MS} ms per step; preload shoal ${shoalPreloadMs} ms, redis ${redisPreloadMs} ms`,
  );
  console.log(
    'concurrency  shoal op/s  p50 ms    p99 ms    redis op/s  p50 ms    p99 ms    ratio  errors',
  );
  for (const row of rows) console.log(row);
  for (const [id, usage] of Object.entries(memory)) {
    console.log(
      `${id}: rss ${round((usage.rss ?? 0) / MIB, 1)} MiB, heap used ${round((usage.heapUsed ?? 0) / MIB, 1)} MiB (limit rss ${limitBytes / MIB} MiB = maxMemory + ${RSS_OVERHEAD_BYTES / MIB} MiB overhead)`,
    );
  }
  console.log(
    `redis: used ${round(redisUsedBytes / MIB, 1)} MiB, rss ${round(redisRssBytes / MIB, 1)} MiB`,
  );
  console.log('note: 2 shared cores with other work running; figures are noisy');

  await shoal.stop();
  redis.disconnect();
  console.log(
    JSON.stringify({
      bench: 'load',
      nodes: NODES,
      keys: KEYS,
      valueBytes: VALUE_BYTES,
      stepMs: STEP_MS,
      getPercent: GET_PERCENT,
      preloadMs: { shoal: shoalPreloadMs, redis: redisPreloadMs },
      steps,
      ratioByConcurrency: Object.fromEntries(
        CONCURRENCY_STEPS.map((c, i) => [
          c,
          round(steps.shoal[i]!.opsPerSec / steps.redis[i]!.opsPerSec, 3),
        ]),
      ),
      nodeMemoryMiB: Object.fromEntries(
        Object.entries(memory).map(([id, usage]) => [
          id,
          {
            rss: round((usage.rss ?? 0) / MIB, 1),
            heapUsed: round((usage.heapUsed ?? 0) / MIB, 1),
            heapTotal: round((usage.heapTotal ?? 0) / MIB, 1),
          },
        ]),
      ),
      maxMemoryMiB: MAX_MEMORY_BYTES / MIB,
      rssOverheadMiB: RSS_OVERHEAD_BYTES / MIB,
      rssLimitMiB: limitBytes / MIB,
      rssOverLimit: overLimit,
      redisMemoryMiB: { used: round(redisUsedBytes / MIB, 1), rss: round(redisRssBytes / MIB, 1) },
    }),
  );
}

try {
  await main();
} finally {
  for (const child of children) {
    child.stdin?.end();
    child.kill('SIGKILL');
  }
}
