/**
 * `npm run bench cluster`: shoal's cache cluster against Redis, in one run on loopback.
 *
 * 1. One shoal node (RF 1, its own process) through `ShoalClient`, against one
 *    `redis-server` through `ioredis` (plain, and with auto-pipelining): GET and SET of
 *    100-byte values with 50 operations in flight. Target: shoal >= 1.0x the better
 *    ioredis figure. p50/p99 per contender.
 * 2. Embedded: `node.get` of a key the calling process's own node owns (a Map lookup,
 *    no network) against ioredis GET. Target >= 20x.
 * 3. A 3-node cluster (processes), RF 2, writeConcern `all`: a 90/10 get/set mix
 *    through `ShoalClient`, 50 in flight: throughput and p99.
 * 4. Handoff: a node holding 1M keys (RF 2, alone) is joined by a second node (in
 *    this process), which must end up owning every partition (half as primary, half as
 *    backup): time until it has pulled all 1M keys and is settled.
 * 5. Failover: in the 3-node cluster, `kill -9` of the primary of a key, then the time
 *    to the first successful write and to the first linearizable (primary) read of
 *    that key, with default timeouts; median over several trials. Then the same with
 *    the disconnect grace switched off (grace = session timeout, the behaviour before
 *    it existed), to show what bounds it.
 *
 * `SHOAL_BENCH_ONLY=failover` runs only part 5, `SHOAL_BENCH_ONLY=client` only part 1
 * (for iterating); the default runs all.
 *
 * Method: contenders alternate in rounds after a warm-up (round-robin, so noise from
 * the 2 shared cores hits all alike); the median round's ops/s is reported, with
 * latency percentiles over all timed operations. Redis is started by the bench on a
 * free port (`redis-server` from Debian: apt-get install -y redis-server).
 */

import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { Shoal } from '../src/api/shoal.js';
import { ShoalClient } from '../src/api/shoal-client.js';
import { Placement } from '../src/cluster/placement.js';
import { partitionOf } from '../src/ring/partitioner.js';
import {
  freePort,
  killNodeProcess,
  type NodeProcess,
  startNodeProcess,
} from '../test/support/node-processes.js';
import { percentile, round } from './support/figures.js';
import { startRedisServer } from './support/redis-server.js';

const SECRET = 'bench-secret';
const CONCURRENCY = 50;
const KEYSPACE = 10_000;
const VALUE = 'v'.repeat(100);
const WARMUP_MS = 1_500;
const ROUNDS = 3;
const ROUND_MS = 2_000;
const EMBEDDED_OPS = 2_000_000;
const EMBEDDED_CHUNK = 100_000;
const HANDOFF_KEYS = 1_000_000;
const HANDOFF_BATCH = 2_000;
const FAILOVER_TRIALS = 5;
const TARGET_CLIENT_RATIO = 1;
const TARGET_EMBEDDED_RATIO = 20;
const TARGET_FAILOVER_MEDIAN_MS = 2_000;
/** `SHOAL_BENCH_ONLY=failover` (part 5) or `client` (part 1) skips every other part. */
const ONLY = process.env.SHOAL_BENCH_ONLY;
if (ONLY !== undefined && ONLY !== 'failover' && ONLY !== 'client') {
  throw new Error(`SHOAL_BENCH_ONLY must be 'failover', 'client' or unset, got '${ONLY}'`);
}
const ALL_PARTS = ONLY === undefined;

const children: ChildProcess[] = [];
const nodes: NodeProcess[] = [];

interface Measurement {
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

/** Runs `op` with CONCURRENCY loops for `durationMs`; records latencies into `latencies`. */
async function load(
  op: (i: number) => Promise<unknown>,
  durationMs: number,
  latencies?: number[],
): Promise<number> {
  let count = 0;
  const deadline = performance.now() + durationMs;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, worker) => {
      let i = worker;
      while (performance.now() < deadline) {
        const t0 = performance.now();
        await op(i);
        latencies?.push(performance.now() - t0);
        i += CONCURRENCY;
        count++;
      }
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

/** Warm-up, then interleaved rounds; the median round's ops/s and overall percentiles. */
async function compare(
  contenders: Record<string, (i: number) => Promise<unknown>>,
): Promise<Record<string, Measurement>> {
  for (const op of Object.values(contenders)) await load(op, WARMUP_MS);
  const rates: Record<string, number[]> = {};
  const latencies: Record<string, number[]> = {};
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, op] of Object.entries(contenders)) {
      latencies[name] ??= [];
      rates[name] ??= [];
      rates[name].push(await load(op, ROUND_MS, latencies[name]));
    }
  }
  const result: Record<string, Measurement> = {};
  for (const name of Object.keys(contenders)) {
    const sortedRates = [...rates[name]!].sort((a, b) => a - b);
    const sorted = Float64Array.from(latencies[name]!).sort();
    result[name] = {
      opsPerSec: Math.round(sortedRates[Math.floor(sortedRates.length / 2)]!),
      p50Ms: round(percentile(sorted, 0.5), 3),
      p99Ms: round(percentile(sorted, 0.99), 3),
    };
  }
  return result;
}

function keyOf(i: number): string {
  return `key:${i % KEYSPACE}`;
}

async function startRedis(): Promise<{ client: Redis; pipelined: Redis; port: number }> {
  const { client, port } = await startRedisServer(children);
  const pipelined = new Redis({ port, host: '127.0.0.1', enableAutoPipelining: true });
  await pipelined.ping();
  return { client, pipelined, port };
}

async function statusOf(node: NodeProcess): Promise<{ settled: boolean; members: string[] }> {
  const response = await fetch(`${node.url.replace('ws', 'http')}/shoal/status`);
  return (await response.json()) as { settled: boolean; members: string[] };
}

async function until(
  probe: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Kills the primary of a fresh key `trials` times (a different node each time), and
 * measures the time to the first acknowledged write and the first primary read of it.
 * The killed node is restarted and the cluster settles before the next trial.
 */
async function measureFailover(
  client: ShoalClient,
  ids: readonly string[],
  ports: readonly number[],
  common: Omit<Parameters<typeof startNodeProcess>[0], 'id' | 'port'>,
  trials: number,
): Promise<{
  trials: number;
  firstWriteMedianMs: number;
  firstReadMedianMs: number;
  firstWriteMs: number[];
  firstReadMs: number[];
}> {
  const writeMs: number[] = [];
  const readMs: number[] = [];
  for (let trial = 0; trial < trials; trial++) {
    const placement = Placement.of(client.view()!, 2);
    const victimId = ids[trial % ids.length]!;
    let key = '';
    for (let i = 0; ; i++) {
      key = `failover:${trial}:${i}`;
      if (placement.primaryOf(partitionOf(key)) === victimId) break;
    }
    await client.set(key, 'before');
    const victimIndex = nodes.findIndex(
      (node) => node.id === victimId && node.url.endsWith(`:${ports[ids.indexOf(victimId)]}`),
    );
    const victim = nodes[victimIndex]!;
    const killedAt = performance.now();
    await killNodeProcess(victim, 'SIGKILL');
    await until(
      () => client.set(key, `after-${trial}`).then(() => true),
      60_000,
      'the first write after the kill',
    );
    writeMs.push(performance.now() - killedAt);
    await until(
      () => client.get(key).then((value) => value === `after-${trial}`),
      60_000,
      'the first read after the kill',
    );
    readMs.push(performance.now() - killedAt);
    nodes[victimIndex] = await startNodeProcess({
      ...common,
      id: victimId,
      port: ports[ids.indexOf(victimId)]!,
    });
    const running = nodes.filter((node) => ports.some((port) => node.url.endsWith(`:${port}`)));
    await until(
      async () =>
        (await Promise.all(running.map(statusOf))).every(
          (st) => st.settled && st.members.length === 3,
        ),
      60_000,
      'the cluster to settle after a restart',
    );
  }
  const median = (values: number[]): number =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  return {
    trials,
    firstWriteMedianMs: Math.round(median(writeMs)),
    firstReadMedianMs: Math.round(median(readMs)),
    firstWriteMs: writeMs.map(Math.round),
    firstReadMs: readMs.map(Math.round),
  };
}

async function main(): Promise<void> {
  const results: Record<string, unknown> = {};
  const lines: string[] = [];

  if (ALL_PARTS || ONLY === 'client') await singleNodeParts(results, lines);
  if (ONLY !== 'client') await clusterParts(results, lines);
  if (ALL_PARTS) await handoffPart(results, lines);

  console.log('\nshoal cluster vs Redis (loopback; 2 shared cores, numbers are noisy)');
  for (const line of lines) console.log(line);
  results.targets = {
    clientVsBestIoredis: TARGET_CLIENT_RATIO,
    embeddedVsIoredisGet: TARGET_EMBEDDED_RATIO,
    failoverMedianMs: TARGET_FAILOVER_MEDIAN_MS,
  };
  console.log(JSON.stringify(results));
}

/** Parts 1 and 2: one node through ShoalClient, and embedded, against ioredis. */
async function singleNodeParts(results: Record<string, unknown>, lines: string[]): Promise<void> {
  // ---- 1. one node via ShoalClient vs one Redis via ioredis --------------------------
  const redis = await startRedis();
  const singlePort = await freePort();
  const single = await startNodeProcess({
    id: 'single',
    port: singlePort,
    secret: SECRET,
    replicationFactor: 1,
  });
  nodes.push(single);
  const client = await ShoalClient.connect({ seeds: [`single=${single.url}`], secret: SECRET });
  await redis.client.set(keyOf(0), VALUE);
  for (let i = 0; i < KEYSPACE; i += 500) {
    const batch = Array.from({ length: 500 }, (_, j) => keyOf(i + j));
    await client.mset(batch.map((key) => [key, VALUE] as const));
    await redis.client.mset(...batch.flatMap((key) => [key, VALUE]));
  }
  const gets = await compare({
    'shoal client GET': (i) => client.get(keyOf(i)),
    'ioredis GET': (i) => redis.client.get(keyOf(i)),
    'ioredis autopipeline GET': (i) => redis.pipelined.get(keyOf(i)),
  });
  const sets = await compare({
    'shoal client SET': (i) => client.set(keyOf(i), VALUE),
    'ioredis SET': (i) => redis.client.set(keyOf(i), VALUE),
    'ioredis autopipeline SET': (i) => redis.pipelined.set(keyOf(i), VALUE),
  });
  await client.stop();
  await killNodeProcess(single, 'SIGTERM');
  const bestRedisGet = Math.max(
    gets['ioredis GET']!.opsPerSec,
    gets['ioredis autopipeline GET']!.opsPerSec,
  );
  const bestRedisSet = Math.max(
    sets['ioredis SET']!.opsPerSec,
    sets['ioredis autopipeline SET']!.opsPerSec,
  );
  results.single = { gets, sets };
  results.clientGetRatio = round(gets['shoal client GET']!.opsPerSec / bestRedisGet);
  results.clientSetRatio = round(sets['shoal client SET']!.opsPerSec / bestRedisSet);
  for (const [name, m] of Object.entries({ ...gets, ...sets })) {
    lines.push(
      `${name.padEnd(28)} ${String(m.opsPerSec).padStart(10)} ops/s  p50 ${m.p50Ms} ms  p99 ${m.p99Ms} ms`,
    );
  }
  lines.push(
    `shoal client / best ioredis: GET ${results.clientGetRatio}x, SET ${results.clientSetRatio}x (target >= ${TARGET_CLIENT_RATIO}x)`,
  );

  if (ONLY === 'client') {
    redis.client.disconnect();
    redis.pipelined.disconnect();
    return;
  }

  // ---- 2. embedded get of an owned key vs ioredis GET -------------------------------
  const embedded = await Shoal.start({ id: 'embedded', secret: SECRET, replicationFactor: 1 });
  await until(async () => embedded.isSettled(), 30_000, 'the embedded node');
  await embedded.set('hot', VALUE);
  // Timed in chunks with an untimed yield between them, as an application yields to
  // its event loop: a loop that never yields starves the coordinator's ticks, and past
  // half a session timeout (1.25 s, easily reached on a loaded machine) the node
  // rightly withholds its lease (it cannot tell a blocked loop from a paused process).
  let embeddedMs = 0;
  for (let done = 0; done < EMBEDDED_OPS; done += EMBEDDED_CHUNK) {
    const t0 = performance.now();
    for (let i = 0; i < EMBEDDED_CHUNK; i++) await embedded.get('hot');
    embeddedMs += performance.now() - t0;
    await new Promise((resolve) => setImmediate(resolve));
  }
  const embeddedOps = EMBEDDED_OPS / (embeddedMs / 1000);
  await embedded.stop();
  results.embeddedGetOpsPerSec = Math.round(embeddedOps);
  results.embeddedRatio = round(embeddedOps / bestRedisGet, 1);
  lines.push(
    `embedded node.get (owned key)  ${String(Math.round(embeddedOps)).padStart(10)} ops/s  = ${results.embeddedRatio}x best ioredis GET (target >= ${TARGET_EMBEDDED_RATIO}x)`,
  );
  redis.client.disconnect();
  redis.pipelined.disconnect();
}

/** Parts 3 and 5: the 3-node cluster's 90/10 mix, and failover on it. */
async function clusterParts(results: Record<string, unknown>, lines: string[]): Promise<void> {
  // ---- 3. three-node cluster, RF 2, writeConcern all: 90/10 mix ---------------------
  const ids = ['c1', 'c2', 'c3'];
  const ports = await Promise.all(ids.map(() => freePort()));
  const voters = ids.map((id, i) => `${id}=127.0.0.1:${ports[i]}`);
  const common = { secret: SECRET, voters, replicationFactor: 2, writeConcern: 'all' as const };
  const cluster = await Promise.all(
    ids.map((id, i) => startNodeProcess({ ...common, id, port: ports[i]! })),
  );
  nodes.push(...cluster);
  await until(
    async () =>
      (await Promise.all(cluster.map(statusOf))).every((s) => s.settled && s.members.length === 3),
    30_000,
    'the 3-node cluster',
  );
  const clusterClient = await ShoalClient.connect({ seeds: voters, secret: SECRET });
  if (ALL_PARTS) {
    for (let i = 0; i < KEYSPACE; i += 500) {
      await clusterClient.mset(
        Array.from({ length: 500 }, (_, j) => [keyOf(i + j), VALUE] as const),
      );
    }
    const mix = await compare({
      'cluster 90/10 get/set': (i) =>
        i % 10 === 0 ? clusterClient.set(keyOf(i), VALUE) : clusterClient.get(keyOf(i)),
    });
    results.cluster = mix['cluster 90/10 get/set'];
    const m = mix['cluster 90/10 get/set']!;
    lines.push(
      `3 nodes RF2 all, 90/10 mix      ${String(m.opsPerSec).padStart(10)} ops/s  p50 ${m.p50Ms} ms  p99 ${m.p99Ms} ms`,
    );
  }

  // ---- 5. failover (on the same cluster, default timeouts) ---------------------------
  const failover = await measureFailover(clusterClient, ids, ports, common, FAILOVER_TRIALS);
  await clusterClient.stop();
  for (const node of nodes.filter((n) => ids.includes(n.id)))
    await killNodeProcess(node, 'SIGTERM');
  results.failover = {
    ...failover,
    boundedBy:
      'the coordinator disconnect grace (1 s by default): the leader removes a member whose connection closed after it, and the dead primary must leave the view before its backup is promoted',
  };
  lines.push(
    `failover kill -9 -> write: median ${failover.firstWriteMedianMs} ms, -> primary read: median ${failover.firstReadMedianMs} ms (default 1 s disconnect grace; target < ${TARGET_FAILOVER_MEDIAN_MS} ms)`,
  );

  // The same without the disconnect grace (removal only by the 2.5 s session timeout,
  // as before it existed), to show what bounds it.
  const tunedPorts = await Promise.all(ids.map(() => freePort()));
  const tunedVoters = ids.map((id, i) => `${id}=127.0.0.1:${tunedPorts[i]}`);
  const tunedCommon = {
    ...common,
    voters: tunedVoters,
    coordinator: { disconnectGraceTicks: 50 },
  };
  const tuned = await Promise.all(
    ids.map((id, i) => startNodeProcess({ ...tunedCommon, id, port: tunedPorts[i]! })),
  );
  nodes.push(...tuned);
  await until(
    async () =>
      (await Promise.all(tuned.map(statusOf))).every((st) => st.settled && st.members.length === 3),
    30_000,
    'the tuned cluster',
  );
  const tunedClient = await ShoalClient.connect({ seeds: tunedVoters, secret: SECRET });
  const tunedFailover = await measureFailover(tunedClient, ids, tunedPorts, tunedCommon, 3);
  await tunedClient.stop();
  for (const node of nodes.filter((n) => ids.includes(n.id)))
    await killNodeProcess(node, 'SIGTERM');
  results.failoverWithoutDisconnectGrace = tunedFailover;
  lines.push(
    `  without the disconnect grace (2.5 s session timeout only): write median ${tunedFailover.firstWriteMedianMs} ms, read median ${tunedFailover.firstReadMedianMs} ms`,
  );
}

/** Part 4: handoff of 1M keys to a joining node. */
async function handoffPart(results: Record<string, unknown>, lines: string[]): Promise<void> {
  // ---- 4. handoff of 1M keys to a joining node --------------------------------------
  const holderPort = await freePort();
  const holder = await startNodeProcess({
    id: 'holder',
    port: holderPort,
    secret: SECRET,
    replicationFactor: 2,
    maxMemory: '1gb',
  });
  nodes.push(holder);
  const loader = await ShoalClient.connect({ seeds: [`holder=${holder.url}`], secret: SECRET });
  const loadStart = performance.now();
  for (let i = 0; i < HANDOFF_KEYS; i += HANDOFF_BATCH) {
    await loader.mset(
      Array.from({ length: HANDOFF_BATCH }, (_, j) => [`h:${i + j}`, VALUE] as const),
    );
  }
  const loadMs = performance.now() - loadStart;
  await loader.stop();
  const joinStart = performance.now();
  const joiner = await Shoal.start({
    id: 'joiner',
    secret: SECRET,
    voters: [`holder=${holder.url}`],
    replicationFactor: 2,
    maxMemory: '1gb',
  });
  await until(
    async () => joiner.isSettled() && joiner.stats().keys >= HANDOFF_KEYS,
    600_000,
    'the handoff',
  );
  const handoffMs = performance.now() - joinStart;
  const received = joiner.stats().handoff.keysReceived;
  await joiner.stop();
  await killNodeProcess(holder, 'SIGTERM');
  results.handoff = {
    keys: HANDOFF_KEYS,
    keysReceived: received,
    seconds: round(handoffMs / 1000),
    keysPerSec: Math.round(received / (handoffMs / 1000)),
    loadSeconds: round(loadMs / 1000),
  };
  lines.push(
    `handoff of ${HANDOFF_KEYS} keys to a joining node: ${round(handoffMs / 1000)} s (${Math.round(received / (handoffMs / 1000))} keys/s; loading took ${round(loadMs / 1000)} s)`,
  );
}

try {
  await main();
} finally {
  await Promise.all(nodes.map((node) => killNodeProcess(node)));
  for (const child of children) child.kill('SIGKILL');
}
process.exit(0);
