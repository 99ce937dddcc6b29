import { afterEach, describe, expect, it } from 'vitest';
import type { WriteConcern } from '../../src/cluster/cache-api.js';
import type { NodeId } from '../../src/transport/transport.js';
import { SimCluster } from '../support/sim-cluster.js';

let cluster: SimCluster | undefined;

afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});

async function twoNodes(writeConcern: WriteConcern): Promise<SimCluster> {
  const sim = new SimCluster({
    seed: 23,
    node: { replicationFactor: 2, writeConcern, syncPartitionsPerSession: 4096 },
  });
  cluster = sim;
  const members: NodeId[] = [];
  for (const id of ['n1', 'n2']) {
    sim.start(id);
    members.push(id);
    sim.commit(members);
    await sim.settle();
  }
  return sim;
}

function keyWithPrimary(sim: SimCluster, primary: NodeId): string {
  for (let i = 0; i < 10_000; i++) {
    if (sim.node(primary).roleOf(`lag:${i}`) === 'primary') return `lag:${i}`;
  }
  throw new Error(`no key with primary ${primary}`);
}

describe('replication lag in stats()', () => {
  it('counts the batches a paused backup has not answered, and ages the oldest', async () => {
    const sim = await twoNodes('one');
    const primary = sim.node('n1');
    const key = keyWithPrimary(sim, 'n1');
    expect(primary.stats().replication).toMatchObject({ batchesInFlight: 0, oldestBatchAgeMs: 0 });

    sim.net.pause('n2');
    // writeConcern one: acknowledged at once, replicated behind.
    expect(await sim.run(primary.set(key, 1))).toBe(true);
    await sim.scheduler.runForAsync(700);
    const lagging = primary.stats().replication;
    expect(lagging.batchesInFlight).toBe(1);
    expect(lagging.oldestBatchAgeMs).toBeGreaterThanOrEqual(700);

    sim.net.resume('n2');
    await sim.scheduler.runUntilConditionAsync(
      () => primary.stats().replication.batchesInFlight === 0,
      sim.scheduler.now() + 10_000,
    );
    expect(primary.stats().replication.oldestBatchAgeMs).toBe(0);
  });
});
