import { afterEach, describe, expect, it } from 'vitest';
import type { CacheNode } from '../../src/cluster/cache-node.js';
import { partitionOf } from '../../src/ring/partitioner.js';
import { SimNetwork } from '../../src/transport/sim-network.js';
import type { NodeId } from '../../src/transport/transport.js';
import { SeededRandom } from '../../src/util/random.js';
import { SimScheduler } from '../../src/util/sim-scheduler.js';
import { coordinatorHost, type SimHost } from '../support/cluster-sim.js';
import { SimViewOracle } from '../support/sim-view-oracle.js';

let teardown: (() => Promise<void>) | undefined;

afterEach(async () => {
  await teardown?.();
  teardown = undefined;
});

/** Three cache nodes on real ZAB coordinators over a seeded SimNetwork, settled. */
async function startCluster(seed: number): Promise<{
  scheduler: SimScheduler;
  host: SimHost;
  nodes: Map<NodeId, CacheNode>;
  run<T>(promise: Promise<T>): Promise<T>;
}> {
  const scheduler = new SimScheduler();
  const net = new SimNetwork({
    scheduler,
    random: new SeededRandom(seed),
    defaultLink: { minDelayMs: 1, maxDelayMs: 8, dropProbability: 0 },
  });
  const host = coordinatorHost()(net, scheduler, new SeededRandom(seed + 1));
  const nodes = new Map<NodeId, CacheNode>();
  for (const id of ['n1', 'n2', 'n3']) nodes.set(id, await host.startNode(id));
  teardown = async () => {
    let done = false;
    const stopping = (async () => {
      for (const node of nodes.values()) await node.stop();
      await host.stop();
    })().finally(() => {
      done = true;
    });
    await scheduler.runUntilConditionAsync(() => done, scheduler.now() + 10_000);
    await stopping;
  };
  await scheduler.runUntilConditionAsync(
    () =>
      host.isStable() &&
      host.members().length === 3 &&
      [...nodes.values()].every((node) => node.isSettled()),
    scheduler.now() + 30_000,
  );
  const run = async <T>(promise: Promise<T>): Promise<T> => {
    let done = false;
    const tracked = promise.finally(() => {
      done = true;
    });
    tracked.catch(() => {});
    await scheduler.runUntilConditionAsync(() => done, scheduler.now() + 10_000);
    return tracked;
  };
  return { scheduler, host, nodes, run };
}

describe('a node leaving the cluster', () => {
  // Regression (issue 5, seed 1794416071 path 156 of the stand-in simulation): a node
  // asked to leave kept its lease until it applied the view without itself. Its leave
  // committed and promoted its backup first, so a read forwarded by a node still on the
  // old view was served by the leaver from its old copy: 16 at the new primary, then 15.
  it('stops serving its primary partitions the moment it asks to leave', async () => {
    const { scheduler, host, nodes, run } = await startCluster(5);
    const n1 = nodes.get('n1')!;
    const n2 = nodes.get('n2')!;
    let key = '';
    for (let i = 0; key === ''; i++) {
      if (n2.roleOf(`k${i}`) === 'primary') key = `k${i}`;
    }
    expect(await run(n1.set(key, 15))).toBe(true);
    expect(await run(n2.get(key))).toBe(15);
    const epoch = n2.view()!.epoch;

    host.leave('n2');
    // Nothing has committed yet: every node still applies the view with n2 in it ...
    for (const node of nodes.values()) expect(node.view()!.epoch).toBe(epoch);
    expect(n2.partitionOwners(partitionOf(key))[0]).toBe('n2');
    // ... yet n2 refuses to serve its own key, locally and for a forwarding node.
    await expect(run(n2.get(key))).rejects.toMatchObject({ code: 'ERR_NO_QUORUM' });

    // Once the leave commits, the promoted backup takes a newer write, and no read
    // anywhere goes back to the leaver's old copy.
    await scheduler.runUntilConditionAsync(
      () => !host.members().includes('n2'),
      scheduler.now() + 5_000,
    );
    const stayers = [...nodes.values()].filter((node) => node !== n2);
    const promoted = stayers.find((node) => node.roleOf(key) === 'primary');
    expect(promoted).toBeDefined();
    expect(await run(promoted!.set(key, 16))).toBe(true);
    for (const node of stayers) expect(await run(node.get(key))).toBe(16);
  });

  it('the oracle stand-in ends a leaver lease at once too, as the simulation relies on', async () => {
    const scheduler = new SimScheduler();
    const net = new SimNetwork({ scheduler, random: new SeededRandom(9) });
    const oracle = new SimViewOracle(net, scheduler, new SeededRandom(10), {
      tickMs: 50,
      leaseMs: 300,
      sessionTimeoutMs: 1_000,
      maxDeliveryDelayMs: 40,
    });
    const sources = ['n1', 'n2'].map((id) => {
      net.createTransport(id);
      return oracle.register(id, `sim://${id}`);
    });
    await scheduler.runUntilConditionAsync(() => oracle.isStable(), scheduler.now() + 5_000);
    expect(sources[1]!.hasQuorum()).toBe(true);
    oracle.leave('n2');
    expect(sources[1]!.hasQuorum()).toBe(false);
    expect(sources[0]!.hasQuorum()).toBe(true);
    oracle.stop();
  });
});
