import { afterEach, describe, expect, it } from 'vitest';
import { partitionOf } from '../../src/ring/partitioner.js';
import { SimCluster } from '../support/sim-cluster.js';

let cluster: SimCluster;

afterEach(async () => {
  await cluster?.stopAll();
});

/** Keys each node holds in partitions it does not own (old copies not dropped yet). */
function strays(): Map<string, number> {
  const found = new Map<string, number>();
  for (const [id, node] of cluster.nodes) {
    const count = node
      .partitionContents()
      .filter(([key]) => node.partitionRole(partitionOf(key)) === 'none').length;
    if (count > 0) found.set(id, count);
  }
  return found;
}

describe('old copies after a view change', () => {
  it('are dropped eventually even when every release message is lost', async () => {
    cluster = new SimCluster({ seed: 31, node: { syncPartitionsPerSession: 4096 } });
    for (const id of ['n1', 'n2', 'n3']) cluster.start(id);
    cluster.commit(['n1', 'n2', 'n3']);
    await cluster.settle();
    await cluster.run(
      cluster.node('n1').mset(Array.from({ length: 400 }, (_, i) => [`k${i}`, i] as const)),
    );
    // n4 joins and takes partitions over; the old owners are told to drop their copies
    // by one-way releases, all of which are lost.
    let lost = 0;
    cluster.loses = (_from, _to, message) => {
      const isRelease = (message as { t?: unknown }).t === 'release';
      if (isRelease) lost++;
      return isRelease;
    };
    cluster.start('n4');
    cluster.commit(['n1', 'n2', 'n3', 'n4']);
    await cluster.settle();
    await cluster.scheduler.runForAsync(1_000);
    expect(lost).toBeGreaterThan(0);
    expect(strays().size).toBeGreaterThan(0);
    // The network recovers: the repeated releases get through and the copies go.
    cluster.loses = undefined;
    await cluster.scheduler.runUntilConditionAsync(
      () => strays().size === 0,
      cluster.scheduler.now() + 60_000,
    );
    expect(strays()).toEqual(new Map());
    // Nothing acknowledged was lost on the way.
    const values = await cluster.run(
      cluster.node('n4').mget(Array.from({ length: 400 }, (_, i) => `k${i}`)),
    );
    expect(values).toEqual(Array.from({ length: 400 }, (_, i) => i));
    expect(cluster.divergence()).toBeUndefined();
  });
});
