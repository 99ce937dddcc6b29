/**
 * `npm run bench strategies`: a cache stampede. 1,000 concurrent requests for one cold
 * key whose loader takes 20 ms (a slow database query): how many times does the loader
 * run, and how long until every request is served?
 *
 * Contenders, in the same run, same pattern:
 * - shoal `getOrLoad` on a 3-node cluster (in-process `Shoal.start` nodes, RF 2,
 *   writeConcern all), the requests spread over the three nodes and a `ShoalClient`;
 * - shoal `getOrLoad` through one `ShoalClient` only (like an app talking to Redis);
 * - shoal `getOrLoad` spread over the 3 nodes and `EXTRA_CLIENTS` clients, each with
 *   its own connection: calls inside one process share one request, so this is the
 *   shape where the primary coordinates waiters from many processes;
 * - naive cache-aside over `lru-cache` (get; on a miss load and set), in process;
 * - `lru-cache`'s own `fetch()` (single flight inside one process only);
 * - naive cache-aside over Redis with `ioredis` (GET; on a miss load and SET PX).
 *
 * Target: shoal's loader runs exactly once per stampede. Each contender runs
 * `TRIALS` stampedes on fresh keys after one warm-up stampede, interleaved; the
 * median time is reported. Redis is started by the bench on a free port
 * (`redis-server`, as in the cluster bench). The 2 cores are shared: times are noisy.
 */

import type { ChildProcess } from 'node:child_process';
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { Shoal, type ShoalNode } from '../src/api/shoal.js';
import { ShoalClient } from '../src/api/shoal-client.js';
import type { ShoalCache } from '../src/cluster/cache-api.js';
import { round } from './support/figures.js';
import { startRedisServer } from './support/redis-server.js';

const SECRET = 'bench-secret';
const REQUESTS = 1_000;
const LOADER_MS = 20;
const TTL_MS = 60_000;
const TRIALS = 7;
const TARGET_LOADER_CALLS = 1;
const EXTRA_CLIENTS = 16;

interface Row {
  value: { id: string; payload: string };
}

const children: ChildProcess[] = [];
const stoppable: { stop(): Promise<void> }[] = [];

/** One stampede's outcome. */
interface Trial {
  loaderCalls: number;
  ms: number;
}

/** A contender: serves one request for `key`, loading with `loader` on a miss. */
type Serve = (
  key: string,
  loader: () => Promise<Row['value']>,
  request: number,
) => Promise<unknown>;

function slowLoader(key: string, counter: { calls: number }): () => Promise<Row['value']> {
  return async () => {
    counter.calls++;
    await new Promise((resolve) => setTimeout(resolve, LOADER_MS));
    return { id: key, payload: 'p'.repeat(100) };
  };
}

async function stampede(serve: Serve, key: string): Promise<Trial> {
  const counter = { calls: 0 };
  const loader = slowLoader(key, counter);
  const started = performance.now();
  const values = await Promise.all(
    Array.from({ length: REQUESTS }, (_, i) => serve(key, loader, i)),
  );
  const ms = performance.now() - started;
  for (const value of values) {
    if ((value as Row['value'] | undefined)?.id !== key) {
      throw new Error(`a request for ${key} was served ${JSON.stringify(value)}`);
    }
  }
  return { loaderCalls: counter.calls, ms };
}

async function startRedis(): Promise<Redis> {
  return (await startRedisServer(children)).client;
}

async function startShoal(): Promise<{
  nodes: ShoalNode[];
  client: ShoalClient;
  extraClients: ShoalClient[];
}> {
  const first = await Shoal.start({ id: 'a', secret: SECRET });
  stoppable.push(first);
  const voters = [`a=${first.url}`];
  const nodes = [first];
  for (const id of ['b', 'c']) {
    const node = await Shoal.start({ id, secret: SECRET, voters });
    stoppable.push(node);
    nodes.push(node);
  }
  const deadline = Date.now() + 60_000;
  while (!nodes.every((node) => node.view()?.members.length === 3 && node.isSettled())) {
    if (Date.now() > deadline) throw new Error('the shoal cluster did not settle');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const connect = async (): Promise<ShoalClient> => {
    const client = await ShoalClient.connect({ seeds: [`a=${first.url}`], secret: SECRET });
    stoppable.push(client);
    return client;
  };
  const client = await connect();
  const extraClients: ShoalClient[] = [];
  for (let i = 0; i < EXTRA_CLIENTS; i++) extraClients.push(await connect());
  return { nodes, client, extraClients };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main(): Promise<void> {
  const { nodes, client, extraClients } = await startShoal();
  const redis = await startRedis();
  const spread: ShoalCache[] = [...nodes, client];
  const wide: ShoalCache[] = [...nodes, ...extraClients];
  const lru = new LRUCache<string, Row['value']>({ max: 100_000 });
  const fetching = new LRUCache<string, Row['value'], () => Promise<Row['value']>>({
    max: 100_000,
    ttl: TTL_MS,
    fetchMethod: (_key, _stale, { context }) => context(),
  });

  const contenders: Record<string, Serve> = {
    'shoal getOrLoad, 3 nodes + client': (key, loader, i) =>
      spread[i % spread.length]!.getOrLoad(key, loader, { ttlMs: TTL_MS }),
    'shoal getOrLoad, one ShoalClient': (key, loader) =>
      client.getOrLoad(key, loader, { ttlMs: TTL_MS }),
    [`shoal getOrLoad, 3 nodes + ${EXTRA_CLIENTS} clients`]: (key, loader, i) =>
      wide[i % wide.length]!.getOrLoad(key, loader, { ttlMs: TTL_MS }),
    'lru-cache cache-aside': async (key, loader) => {
      const hit = lru.get(key);
      if (hit !== undefined) return hit;
      const value = await loader();
      lru.set(key, value, { ttl: TTL_MS });
      return value;
    },
    'lru-cache fetch() (in-process)': (key, loader) => fetching.fetch(key, { context: loader }),
    'ioredis cache-aside': async (key, loader) => {
      const hit = await redis.get(key);
      if (hit !== null) return JSON.parse(hit) as unknown;
      const value = await loader();
      await redis.set(key, JSON.stringify(value), 'PX', TTL_MS);
      return value;
    },
  };

  const trials: Record<string, Trial[]> = {};
  for (const [name, serve] of Object.entries(contenders)) {
    await stampede(serve, `warm:${name}`);
    trials[name] = [];
  }
  for (let trial = 0; trial < TRIALS; trial++) {
    for (const [name, serve] of Object.entries(contenders)) {
      trials[name]!.push(await stampede(serve, `cold:${trial}:${name}`));
    }
  }

  const results: Record<
    string,
    { loaderCallsMax: number; loaderCallsMin: number; medianMs: number }
  > = {};
  console.log(
    `\ncache stampede: ${REQUESTS} concurrent requests, one cold key, ${LOADER_MS} ms loader, ${TRIALS} trials (2 shared cores: times are noisy)`,
  );
  console.log(`${'contender'.padEnd(40)}${'loader calls'.padStart(14)}${'median ms'.padStart(12)}`);
  for (const [name, list] of Object.entries(trials)) {
    const calls = list.map((t) => t.loaderCalls);
    const row = {
      loaderCallsMax: Math.max(...calls),
      loaderCallsMin: Math.min(...calls),
      medianMs: round(median(list.map((t) => t.ms)), 1),
    };
    results[name] = row;
    const callText =
      row.loaderCallsMin === row.loaderCallsMax
        ? String(row.loaderCallsMax)
        : `${row.loaderCallsMin}-${row.loaderCallsMax}`;
    console.log(`${name.padEnd(40)}${callText.padStart(14)}${String(row.medianMs).padStart(12)}`);
  }
  const shoalSpread = results['shoal getOrLoad, 3 nodes + client']!;
  const shoalClient = results['shoal getOrLoad, one ShoalClient']!;
  const shoalWide = results[`shoal getOrLoad, 3 nodes + ${EXTRA_CLIENTS} clients`]!;
  const redisRow = results['ioredis cache-aside']!;
  const lruRow = results['lru-cache cache-aside']!;
  const met =
    shoalSpread.loaderCallsMax === TARGET_LOADER_CALLS &&
    shoalClient.loaderCallsMax === TARGET_LOADER_CALLS &&
    shoalWide.loaderCallsMax === TARGET_LOADER_CALLS;
  console.log(
    `target: shoal loader calls = ${TARGET_LOADER_CALLS} per stampede: ${met ? 'met' : 'NOT met'}`,
  );
  console.log(
    JSON.stringify({
      requests: REQUESTS,
      loaderMs: LOADER_MS,
      trials: TRIALS,
      results,
      ratios: {
        redisLoaderCallsPerShoalCall: redisRow.loaderCallsMax / shoalSpread.loaderCallsMax,
        lruLoaderCallsPerShoalCall: lruRow.loaderCallsMax / shoalSpread.loaderCallsMax,
        shoalSpreadMsOverRedisMs: round(shoalSpread.medianMs / redisRow.medianMs, 2),
        shoalClientMsOverRedisMs: round(shoalClient.medianMs / redisRow.medianMs, 2),
        shoalWideMsOverRedisMs: round(shoalWide.medianMs / redisRow.medianMs, 2),
      },
      target: { shoalLoaderCalls: TARGET_LOADER_CALLS, met },
    }),
  );
  redis.disconnect();
}

try {
  await main();
} finally {
  for (const thing of stoppable.reverse()) await thing.stop().catch(() => {});
  for (const child of children) child.kill('SIGKILL');
}
process.exit(0);
