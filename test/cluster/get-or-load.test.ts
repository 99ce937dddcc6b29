import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { ShoalClient } from '../../src/api/shoal-client.js';
import type { ShoalCache } from '../../src/cluster/cache-api.js';
import type { CacheNode } from '../../src/cluster/cache-node.js';
import type { CacheNodeOptions } from '../../src/cluster/cache-node-options.js';
import { OverloadedError } from '../../src/cluster/errors.js';
import { isNegativeEntry, staleWindowOf } from '../../src/cluster/load-entry.js';
import {
  LoadAbandonedError,
  LoaderError,
  LoadTimeoutError,
} from '../../src/cluster/load-errors.js';
import { partitionOf } from '../../src/ring/partitioner.js';
import { InvalidArgumentError, type ShoalError } from '../../src/util/errors.js';
import { SimCluster, simAddress } from '../support/sim-cluster.js';

const NODES = ['n1', 'n2', 'n3'];

let cluster: SimCluster;
const clients: ShoalClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) await client.stop();
  await cluster?.stopAll();
});

async function startCluster(node: Partial<CacheNodeOptions> = {}): Promise<void> {
  cluster = new SimCluster({
    seed: 6,
    node: { syncPartitionsPerSession: 16_384, vnodes: 16, ...node },
    network: { defaultLink: { minDelayMs: 1, maxDelayMs: 4, dropProbability: 0 } },
  });
  const members: string[] = [];
  for (const id of NODES) {
    cluster.start(id);
    members.push(id);
  }
  cluster.commit(members);
  await cluster.settle();
}

async function connect(id: string): Promise<ShoalClient> {
  const transport = cluster.net.createTransport(id);
  const client = await cluster.run(
    ShoalClient.over(transport, [{ id: 'n1', address: simAddress('n1') }], {
      scheduler: transport.scheduler,
    }),
  );
  clients.push(client);
  return client;
}

/** Simulated delay on the cluster's clock. */
function delay(ms: number): Promise<void> {
  return new Promise((resolve) => cluster.scheduler.setTimeout(resolve, ms));
}

/** A promise that never settles: a hung loader. */
function never<T>(): Promise<T> {
  return new Promise<T>(() => {});
}

/** Runs the simulation until every promise settles; returns their outcomes. */
function settleAll<T>(promises: Promise<T>[]): Promise<PromiseSettledResult<T>[]> {
  return cluster.run(Promise.allSettled(promises));
}

/** Advances simulated time by `ms`. */
function advance(ms: number): Promise<void> {
  return cluster.run(delay(ms));
}

function primaryOf(key: string): CacheNode {
  return cluster.node(cluster.node('n1').partitionOwners(partitionOf(key))[0]!);
}

function backupOf(key: string): CacheNode {
  return cluster.node(cluster.node('n1').partitionOwners(partitionOf(key))[1]!);
}

/** Endpoints to spread callers over: every node and the clients. */
function endpoints(extra: readonly ShoalCache[]): ShoalCache[] {
  return [...NODES.map((id) => cluster.node(id)), ...extra];
}

describe('getOrLoad over a simulated 3-node cluster', () => {
  it('shares one call between concurrent callers in one process', async () => {
    await startCluster();
    const client = await connect('c1');
    let calls = 0;
    const loader = async () => {
      calls++;
      await delay(20);
      return 'once';
    };
    const results = await settleAll(
      Array.from({ length: 10 }, () => client.getOrLoad('s1', loader)),
    );
    expect(results.every((r) => r.status === 'fulfilled' && r.value === 'once')).toBe(true);
    expect(calls).toBe(1);
    // One request reached the primary: one lease, nobody waited there.
    expect(primaryOf('s1').stats().loads).toMatchObject({ leases: 1, waits: 0 });
  });

  it('runs the loader once for 100 concurrent callers on every node and two clients', async () => {
    await startCluster();
    const callers = endpoints([await connect('c1'), await connect('c2')]);
    let calls = 0;
    const loader = async (key: string) => {
      calls++;
      await delay(20);
      return { key, loadedBy: calls };
    };
    const results = await settleAll(
      Array.from({ length: 100 }, (_, i) =>
        callers[i % callers.length]!.getOrLoad('user:1', loader, { ttlMs: 60_000 }),
      ),
    );
    expect(calls).toBe(1);
    for (const result of results) {
      expect(result).toEqual({ status: 'fulfilled', value: { key: 'user:1', loadedBy: 1 } });
    }
    // Cached and replicated like any write: every endpoint reads it, the backup holds it.
    for (const caller of callers) {
      expect(await cluster.run(caller.get('user:1'))).toEqual({ key: 'user:1', loadedBy: 1 });
    }
    expect(
      backupOf('user:1')
        .partitionContents(partitionOf('user:1'))
        .map(([k]) => k),
    ).toContain('user:1');
    const stats = primaryOf('user:1').stats().loads;
    expect(stats).toMatchObject({ pending: 0, leases: 1, completed: 1 });
    expect(stats.waits).toBeGreaterThan(0);
    // A later call is a plain hit.
    expect(await cluster.run(callers[4]!.getOrLoad('user:1', loader))).toEqual({
      key: 'user:1',
      loadedBy: 1,
    });
    expect(calls).toBe(1);
  });

  it('runs the loader once per key for callers arriving at random times (property)', async () => {
    await startCluster();
    const callers = endpoints([await connect('c1'), await connect('c2')]);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 200 }),
        fc.array(fc.record({ at: fc.nat(400), via: fc.nat(callers.length - 1) }), {
          minLength: 1,
          maxLength: 40,
        }),
        async (loaderMs, arrivals) => {
          const key = `prop:${run++}`;
          let calls = 0;
          const loader = async () => {
            const call = ++calls;
            await delay(loaderMs);
            return { key, call };
          };
          const results = await settleAll(
            arrivals.map(({ at, via }) =>
              delay(at).then(() => callers[via]!.getOrLoad(key, loader, { ttlMs: 60_000 })),
            ),
          );
          expect(calls).toBe(1);
          for (const result of results) {
            expect(result).toEqual({ status: 'fulfilled', value: { key, call: 1 } });
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  it('hands a loader error to every waiter with the same code and message, and does not cache it', async () => {
    await startCluster();
    const callers = endpoints([await connect('c1')]);
    let calls = 0;
    const failing = async () => {
      calls++;
      await delay(10);
      throw Object.assign(new Error('database is down'), { code: 'ECONNREFUSED' });
    };
    const results = await settleAll(
      Array.from({ length: 40 }, (_, i) => callers[i % callers.length]!.getOrLoad('k', failing)),
    );
    expect(calls).toBe(1);
    for (const result of results) {
      expect(result.status).toBe('rejected');
      const error = (result as PromiseRejectedResult).reason as LoaderError;
      expect(error).toBeInstanceOf(LoaderError);
      expect(error.code).toBe('ERR_LOADER_FAILED');
      expect(error.message).toBe('database is down');
      expect(error.loaderCode).toBe('ECONNREFUSED');
      expect(error.loaderName).toBe('Error');
    }
    // Not cached: the next call runs its loader.
    expect(await cluster.run(callers[1]!.getOrLoad('k', () => 'back'))).toBe('back');
    expect(await cluster.run(callers[3]!.get('k'))).toBe('back');
  });

  it('keeps the thrown error as the cause in the process whose loader threw', async () => {
    await startCluster();
    const thrown = new TypeError('bad row');
    const outcome = await settleAll([
      cluster.node('n2').getOrLoad('k2', () => {
        throw thrown;
      }),
    ]);
    const error = (outcome[0] as PromiseRejectedResult).reason as LoaderError;
    expect(error).toBeInstanceOf(LoaderError);
    expect(error.cause).toBe(thrown);
    expect(error.loaderName).toBe('TypeError');
  });

  it('fails every caller with LoadTimeoutError when the loader hangs, then loads again', async () => {
    await startCluster();
    const callers = endpoints([await connect('c1')]);
    let calls = 0;
    const hung = () => {
      calls++;
      return never<string>();
    };
    const startMs = cluster.scheduler.now();
    const results = await settleAll(
      Array.from({ length: 20 }, (_, i) =>
        callers[i % callers.length]!.getOrLoad('slow', hung, { loadTimeoutMs: 500 }),
      ),
    );
    expect(calls).toBe(1);
    for (const result of results) {
      expect((result as PromiseRejectedResult).reason).toBeInstanceOf(LoadTimeoutError);
    }
    // Bounded by loadTimeoutMs (plus message delays), not by the request timeouts.
    expect(cluster.scheduler.now() - startMs).toBeLessThan(1_000);
    expect(primaryOf('slow').stats().loads.pending).toBe(0);
    expect(await cluster.run(callers[2]!.getOrLoad('slow', () => 'finally'))).toBe('finally');
  });

  it('fails waiters with LoadTimeoutError when a client lease holder hangs', async () => {
    await startCluster();
    const holder = await connect('c1');
    let calls = 0;
    const held = holder.getOrLoad(
      'h',
      () => {
        calls++;
        return never<string>();
      },
      { loadTimeoutMs: 800 },
    );
    held.catch(() => {});
    await cluster.scheduler.runUntilConditionAsync(
      () => calls === 1,
      cluster.scheduler.now() + 5_000,
    );
    const waiters = NODES.map((id) =>
      cluster.node(id).getOrLoad('h', () => 'never runs', { loadTimeoutMs: 800 }),
    );
    const results = await settleAll([held, ...waiters]);
    for (const result of results) {
      expect((result as PromiseRejectedResult).reason).toBeInstanceOf(LoadTimeoutError);
    }
    expect(calls).toBe(1);
  });

  it('fails waiters with LoadAbandonedError when the client holding the lease crashes, and loads again later', async () => {
    await startCluster();
    const holder = await connect('c1');
    let started = false;
    holder
      .getOrLoad('crash', () => {
        started = true;
        return never<string>();
      })
      .catch(() => {});
    await cluster.scheduler.runUntilConditionAsync(() => started, cluster.scheduler.now() + 5_000);
    let waiterLoads = 0;
    const waiters = NODES.map((id) =>
      cluster.node(id).getOrLoad('crash', () => {
        waiterLoads++;
        return 'unused';
      }),
    );
    // Let every waiter reach the primary before the holder goes away.
    await cluster.scheduler.runUntilConditionAsync(
      () => primaryOf('crash').stats().loads.waits === 3,
      cluster.scheduler.now() + 5_000,
    );
    const crashAtMs = cluster.scheduler.now();
    cluster.net.crash('c1');
    clients.splice(0);
    const results = await settleAll(waiters);
    for (const result of results) {
      const error = (result as PromiseRejectedResult).reason;
      expect(error).toBeInstanceOf(LoadAbandonedError);
      expect((error as LoadAbandonedError).code).toBe('ERR_LOAD_ABANDONED');
    }
    // Well before the 10 s default load timeout: the disconnect ended the lease.
    expect(cluster.scheduler.now() - crashAtMs).toBeLessThan(1_000);
    expect(waiterLoads).toBe(0);
    expect(await cluster.run(cluster.node('n2').getOrLoad('crash', () => 'reloaded'))).toBe(
      'reloaded',
    );
  });

  it('caches undefined as a negative entry for negativeTtlMs, replicated, distinguishable from values', async () => {
    await startCluster();
    const client = await connect('c1');
    let calls = 0;
    const missing = () => {
      calls++;
      return undefined;
    };
    const options = { ttlMs: 60_000, negativeTtlMs: 1_000 };
    expect(await cluster.run(cluster.node('n1').getOrLoad('ghost', missing, options))).toBe(
      undefined,
    );
    expect(await cluster.run(client.getOrLoad('ghost', missing, options))).toBe(undefined);
    expect(await cluster.run(cluster.node('n3').getOrLoad('ghost', missing, options))).toBe(
      undefined,
    );
    expect(calls).toBe(1);
    // get says absent; has and ttl see the negative entry.
    expect(await cluster.run(client.get('ghost'))).toBe(undefined);
    expect(await cluster.run(cluster.node('n2').mget(['ghost']))).toEqual([undefined]);
    expect(await cluster.run(client.has('ghost'))).toBe(true);
    const ttl = await cluster.run(client.ttl('ghost'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1_000);
    const onBackup = backupOf('ghost')
      .partitionContents(partitionOf('ghost'))
      .find(([key]) => key === 'ghost');
    expect(onBackup !== undefined && isNegativeEntry(onBackup[1])).toBe(true);
    // Once it expires, the loader runs again.
    await advance(1_001);
    expect(await cluster.run(client.getOrLoad('ghost', () => 'appeared', options))).toBe(
      'appeared',
    );
  });

  it('does not cache undefined without negativeTtlMs', async () => {
    await startCluster();
    let calls = 0;
    const missing = () => {
      calls++;
      return undefined;
    };
    for (const id of NODES) {
      expect(await cluster.run(cluster.node(id).getOrLoad('nothing', missing))).toBe(undefined);
    }
    expect(calls).toBe(3);
    expect(await cluster.run(cluster.node('n1').has('nothing'))).toBe(false);
  });

  it('serves the stale value during staleWhileRevalidateMs while exactly one caller refreshes it', async () => {
    await startCluster();
    const callers = endpoints([await connect('c1')]);
    const options = { ttlMs: 1_000, staleWhileRevalidateMs: 5_000 };
    let version = 0;
    const loader = async () => {
      version++;
      await delay(100);
      return { version };
    };
    expect(await cluster.run(callers[0]!.getOrLoad('swr', loader, options))).toEqual({
      version: 1,
    });
    const stored = primaryOf('swr')
      .partitionContents(partitionOf('swr'))
      .find(([key]) => key === 'swr');
    expect(stored !== undefined && staleWindowOf(stored[1])).toBe(5_000);
    expect(await cluster.run(callers[1]!.get('swr'))).toEqual({ version: 1 });
    await advance(1_500);
    // Stale: every caller gets version 1 at once (no waiting for the 100 ms loader).
    const before = cluster.scheduler.now();
    const stale = await settleAll(
      Array.from({ length: 20 }, (_, i) =>
        callers[i % callers.length]!.getOrLoad('swr', loader, options),
      ),
    );
    expect(cluster.scheduler.now() - before).toBeLessThan(100);
    for (const result of stale)
      expect(result).toEqual({ status: 'fulfilled', value: { version: 1 } });
    // One refresh runs in the background and lands.
    await cluster.scheduler.runUntilConditionAsync(
      () => primaryOf('swr').stats().loads.completed === 2,
      cluster.scheduler.now() + 5_000,
    );
    expect(version).toBe(2);
    expect(await cluster.run(callers[3]!.getOrLoad('swr', loader, options))).toEqual({
      version: 2,
    });
    expect(version).toBe(2);
    // Past ttl + window without a refresh, the entry is gone: a miss that waits for a load.
    await advance(6_001);
    expect(await cluster.run(callers[2]!.get('swr'))).toBe(undefined);
    expect(await cluster.run(callers[2]!.getOrLoad('swr', loader, options))).toEqual({
      version: 3,
    });
  });

  it('keeps serving the stale value when the refresh fails, and refreshes again later', async () => {
    await startCluster();
    const options = { ttlMs: 1_000, staleWhileRevalidateMs: 5_000 };
    const node = cluster.node('n2');
    expect(await cluster.run(node.getOrLoad('s', () => 'old', options))).toBe('old');
    await advance(1_200);
    let failures = 0;
    const failing = () => {
      failures++;
      throw new Error('refresh failed');
    };
    expect(await cluster.run(node.getOrLoad('s', failing, options))).toBe('old');
    await cluster.scheduler.runUntilConditionAsync(
      () => primaryOf('s').stats().loads.pending === 0,
      cluster.scheduler.now() + 5_000,
    );
    expect(failures).toBe(1);
    expect(await cluster.run(node.getOrLoad('s', () => 'new', options))).toBe('old');
    await cluster.scheduler.runUntilConditionAsync(
      () => primaryOf('s').stats().loads.completed === 2,
      cluster.scheduler.now() + 5_000,
    );
    expect(await cluster.run(node.getOrLoad('s', failing, options))).toBe('new');
    expect(failures).toBe(1);
  });

  it('bounds the waiters per key and the pending loads per node', async () => {
    await startCluster({ loadLimits: { maxWaitersPerLoad: 2, maxPendingLoads: 1 } });
    const primary = primaryOf('bounded');
    // Three waiters in three other processes (calls inside one process share one request).
    const others: ShoalCache[] = NODES.filter((id) => id !== primary.id).map((id) =>
      cluster.node(id),
    );
    others.push(await connect('c1'));
    const hold = primary.getOrLoad('bounded', () => never<string>(), { loadTimeoutMs: 1_000 });
    hold.catch(() => {});
    const waiters = others.map((other) =>
      other.getOrLoad('bounded', () => 'x', { loadTimeoutMs: 1_000 }),
    );
    // A second key whose primary is the same node: its lease is refused while one is pending.
    let other = 'other:0';
    for (let i = 1; primaryOf(other) !== primary; i++) other = `other:${i}`;
    const refused = primary.getOrLoad(other, () => 'y');
    const results = await settleAll([...waiters, refused]);
    const codes = results.map((result) =>
      result.status === 'rejected' ? (result.reason as ShoalError).code : undefined,
    );
    expect(codes.filter((code) => code === 'ERR_OVERLOADED')).toHaveLength(2);
    expect(codes.filter((code) => code === 'ERR_LOAD_TIMEOUT')).toHaveLength(2);
    expect((results[3] as PromiseRejectedResult).reason).toBeInstanceOf(OverloadedError);
  });

  it('refuses bad arguments with InvalidArgumentError', async () => {
    await startCluster();
    const node = cluster.node('n1');
    const bad: [unknown, unknown][] = [
      [undefined, {}],
      [() => 1, { loadTimeoutMs: 0 }],
      [() => 1, { loadTimeoutMs: 1.5 }],
      [() => 1, { ttlMs: -1 }],
      [() => 1, { negativeTtlMs: Number.NaN }],
      [() => 1, { staleWhileRevalidateMs: 100 }],
      [() => 1, { ttlMs: 10, staleWhileRevalidateMs: 2 ** 40 }],
    ];
    for (const [loader, options] of bad) {
      await expect(
        node.getOrLoad('k', loader as () => number, options as { ttlMs?: number }),
      ).rejects.toBeInstanceOf(InvalidArgumentError);
    }
  });

  it('fails every caller when the loaded value cannot be cached', async () => {
    await startCluster();
    const client = await connect('c1');
    const holder = client.getOrLoad<unknown>('fn', () => () => 1);
    holder.catch(() => {});
    await cluster.scheduler.runUntilConditionAsync(
      () => primaryOf('fn').stats().loads.leases === 1,
      cluster.scheduler.now() + 5_000,
    );
    const results = await settleAll<unknown>([
      holder,
      cluster.node('n1').getOrLoad('fn', () => 'unused'),
    ]);
    for (const result of results) {
      const error = (result as PromiseRejectedResult).reason as LoaderError;
      expect(error).toBeInstanceOf(LoaderError);
      expect(error.loaderCode).toBe('ERR_VALUE_NOT_ENCODABLE');
    }
  });

  it('fails waiters at once when the primary refuses the loaded value, and the holder keeps it', async () => {
    await startCluster({ maxValueBytes: 1_000 });
    const client = await connect('c1');
    const big = 'x'.repeat(2_000);
    const holder = client.getOrLoad('big', () => big);
    await cluster.scheduler.runUntilConditionAsync(
      () => primaryOf('big').stats().loads.leases === 1,
      cluster.scheduler.now() + 5_000,
    );
    const waiter = cluster.node('n1').getOrLoad<string>('big', () => 'unused');
    const startMs = cluster.scheduler.now();
    const [held, waited] = await settleAll<unknown>([holder, waiter]);
    expect(held).toEqual({ status: 'fulfilled', value: big });
    const error = (waited as PromiseRejectedResult).reason as LoaderError;
    expect(error).toBeInstanceOf(LoaderError);
    expect(error.loaderCode).toBe('ERR_INVALID_ARGUMENT');
    expect(cluster.scheduler.now() - startMs).toBeLessThan(1_000);
    expect(await cluster.run(client.has('big'))).toBe(false);
  });

  it('retries waiters at the new primary when the key moves during a load', async () => {
    await startCluster();
    const key = 'moving';
    const oldPrimary = primaryOf(key);
    const holderId = NODES.find((id) => id !== oldPrimary.id)!;
    let calls = 0;
    const loader = async () => {
      const call = ++calls;
      await delay(200);
      return `v${call}`;
    };
    const held = cluster.node(holderId).getOrLoad(key, loader);
    await cluster.scheduler.runUntilConditionAsync(
      () => calls === 1,
      cluster.scheduler.now() + 5_000,
    );
    const thirdId = NODES.find((id) => id !== oldPrimary.id && id !== holderId)!;
    const waiter = cluster.node(thirdId).getOrLoad(key, loader);
    await cluster.scheduler.runUntilConditionAsync(
      () => oldPrimary.stats().loads.waits === 1,
      cluster.scheduler.now() + 5_000,
    );
    // The old primary leaves the view: its pending load ends, the waiter asks the new one.
    cluster.commit(NODES.filter((id) => id !== oldPrimary.id));
    const results = await settleAll([held, waiter]);
    for (const result of results) expect(result.status).toBe('fulfilled');
    expect(calls).toBeLessThanOrEqual(2);
    const values = results.map((result) => (result as PromiseFulfilledResult<string>).value);
    expect(values[0]).toBe('v1');
    expect(['v1', 'v2']).toContain(values[1]);
    expect(oldPrimary.stats().loads.pending).toBe(0);
  });
});
