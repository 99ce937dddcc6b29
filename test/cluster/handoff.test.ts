import { afterEach, describe, expect, it } from 'vitest';
import { PARTITION_COUNT } from '../../src/ring/partitioner.js';
import { SimCluster } from '../support/sim-cluster.js';

let cluster: SimCluster;

afterEach(async () => {
  await cluster?.stopAll();
});

describe('handoff on view changes', () => {
  it('moves entries with their remaining TTL, not an absolute expiry', async () => {
    cluster = new SimCluster({ seed: 31, node: { replicationFactor: 1 } });
    cluster.start('n1');
    cluster.commit(['n1']);
    await cluster.settle();
    const n1 = cluster.node('n1');
    for (let i = 0; i < 200; i++) await cluster.run(n1.set(`t:${i}`, i, { ttlMs: 10_000 }));
    await cluster.scheduler.runForAsync(4_000);
    cluster.start('n2');
    cluster.commit(['n1', 'n2']);
    await cluster.settle();
    const n2 = cluster.node('n2');
    const moved = Array.from({ length: 200 }, (_, i) => `t:${i}`).filter(
      (key) => n2.roleOf(key) === 'primary',
    );
    expect(moved.length).toBeGreaterThan(50);
    for (const key of moved) {
      const ttl = await cluster.run(n2.ttl(key));
      expect(ttl).toBeGreaterThan(5_500);
      expect(ttl).toBeLessThanOrEqual(6_000);
    }
    await cluster.scheduler.runForAsync(6_100);
    for (const key of moved) expect(await cluster.run(n2.get(key))).toBeUndefined();
  });

  it('pulls in chunks and reports its progress', async () => {
    cluster = new SimCluster({
      seed: 32,
      node: { syncChunkEntries: 16, syncPartitionsPerSession: 512 },
    });
    cluster.start('n1');
    cluster.commit(['n1']);
    await cluster.settle();
    const n1 = cluster.node('n1');
    await cluster.run(n1.mset(Array.from({ length: 2_000 }, (_, i) => [`c:${i}`, { i }] as const)));
    cluster.start('n2');
    cluster.commit(['n1', 'n2']);
    const n2 = cluster.node('n2');
    await cluster.scheduler.runUntilConditionAsync(
      () => n2.stats().handoff.keysReceived > 0,
      cluster.scheduler.now() + 10_000,
    );
    const during = n2.stats().handoff;
    expect(during.partitionsPending).toBeGreaterThan(0);
    expect(during.keysReceived).toBeLessThan(2_000);
    await cluster.settle();
    const after = n2.stats().handoff;
    expect(after.partitionsPending).toBe(0);
    // RF 2 over two nodes: n2 ends up holding everything, pulled 16 entries at a time.
    expect(after.keysReceived).toBeGreaterThanOrEqual(2_000);
    expect(n1.stats().handoff.keysSent).toBeGreaterThanOrEqual(2_000);
    expect(n2.stats().keys).toBe(2_000);
    expect(n2.stats().partitions.primaryActive + n2.stats().partitions.backupActive).toBe(
      PARTITION_COUNT,
    );
    for (let i = 0; i < 2_000; i += 97) {
      expect(await cluster.run(n2.get(`c:${i}`))).toEqual({ i });
    }
    expect(cluster.divergence()).toBeUndefined();
  });

  it('activates a partition with no surviving copy, and counts it', async () => {
    cluster = new SimCluster({ seed: 33, node: { replicationFactor: 1 } });
    cluster.start('n1');
    cluster.start('n2');
    cluster.commit(['n1', 'n2']);
    await cluster.settle();
    await cluster.run(cluster.node('n1').set('x', 1));
    const owner = cluster.node('n1').roleOf('x') === 'primary' ? 'n1' : 'n2';
    const survivor = owner === 'n1' ? 'n2' : 'n1';
    cluster.crash(owner);
    cluster.commit([survivor]);
    await cluster.settle();
    const stats = cluster.node(survivor).stats();
    expect(stats.handoff.partitionsWithoutSource).toBeGreaterThan(0);
    expect(stats.partitions.primaryActive).toBe(PARTITION_COUNT);
    expect(await cluster.run(cluster.node(survivor).get('x'))).toBeUndefined();
  });

  it('a backup whose primary changed resyncs from the new primary and converges', async () => {
    cluster = new SimCluster({ seed: 34, node: { syncPartitionsPerSession: 4096 } });
    for (const id of ['n1', 'n2', 'n3']) cluster.start(id);
    cluster.commit(['n1', 'n2', 'n3']);
    await cluster.settle();
    for (let i = 0; i < 300; i++) await cluster.run(cluster.node('n1').set(`b:${i}`, i));
    cluster.crash('n1');
    cluster.commit(['n2', 'n3']);
    const writes = Array.from({ length: 100 }, (_, i) => cluster.node('n2').set(`b:${i}`, -1 - i));
    await cluster.run(Promise.all(writes));
    await cluster.settle();
    expect(cluster.divergence()).toBeUndefined();
    for (let i = 0; i < 300; i++) {
      expect(await cluster.run(cluster.node('n3').get(`b:${i}`))).toBe(i < 100 ? -1 - i : i);
    }
  });
});
