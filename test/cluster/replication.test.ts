import { afterEach, describe, expect, it } from 'vitest';
import {
  NoQuorumError,
  NotPrimaryError,
  PartitionSyncingError,
  WriteNotAppliedError,
} from '../../src/cluster/errors.js';
import { PARTITION_COUNT, partitionOf } from '../../src/ring/partitioner.js';
import type { NodeId } from '../../src/transport/transport.js';
import { SimCluster } from '../support/sim-cluster.js';

let cluster: SimCluster;

afterEach(async () => {
  await cluster?.stopAll();
});

const FAST_SYNC = { syncPartitionsPerSession: 4096 } as const;

/** A running cluster of `ids` (joined one by one, as a coordinator would commit them). */
async function startCluster(ids: readonly NodeId[], seed = 11, node = {}): Promise<SimCluster> {
  cluster = new SimCluster({ seed, node: { ...FAST_SYNC, ...node } });
  const members: NodeId[] = [];
  for (const id of ids) {
    cluster.start(id);
    members.push(id);
    cluster.commit(members);
    await cluster.settle();
  }
  return cluster;
}

/** A key whose primary is `primary` (and backup `backup`, when given). */
function keyOwnedBy(primary: NodeId, backup?: NodeId, prefix = 'key'): string {
  for (let i = 0; i < 100_000; i++) {
    const key = `${prefix}:${i}`;
    if (cluster.node(primary).roleOf(key) !== 'primary') continue;
    if (backup !== undefined && cluster.node(backup).roleOf(key) !== 'backup') continue;
    return key;
  }
  throw new Error('no such key');
}

function heldBy(id: NodeId, key: string): boolean {
  return cluster
    .node(id)
    .partitionContents(partitionOf(key))
    .some(([held]) => held === key);
}

describe('CacheNode cluster over SimNetwork', () => {
  it('forwards to the primary in one hop and replicates to the backup', async () => {
    await startCluster(['n1', 'n2', 'n3']);
    const key = keyOwnedBy('n2', 'n3');
    const before = cluster.node('n1').stats().forwarded;
    expect(await cluster.run(cluster.node('n1').set(key, { v: 1 }))).toBe(true);
    expect(cluster.node('n1').stats().forwarded).toBe(before + 1);
    expect(heldBy('n2', key)).toBe(true);
    expect(heldBy('n3', key)).toBe(true);
    expect(heldBy('n1', key)).toBe(false);
    expect(await cluster.run(cluster.node('n1').get(key))).toEqual({ v: 1 });
    expect(await cluster.run(cluster.node('n3').incr(`${key}:n`, 5))).toBe(5);
    expect(cluster.divergence()).toBeUndefined();
  });

  it('serves readFrom any at a backup without forwarding', async () => {
    await startCluster(['n1', 'n2', 'n3']);
    const key = keyOwnedBy('n2', 'n1');
    await cluster.run(cluster.node('n3').set(key, 'v'));
    const before = cluster.node('n1').stats().forwarded;
    expect(await cluster.run(cluster.node('n1').get(key, { readFrom: 'any' }))).toBe('v');
    expect(cluster.node('n1').stats().forwarded).toBe(before);
    expect(await cluster.run(cluster.node('n1').get(key))).toBe('v');
    expect(cluster.node('n1').stats().forwarded).toBe(before + 1);
  });

  it('redirects a caller with a stale view, which retries once its view catches up', async () => {
    await startCluster(['n1', 'n2', 'n3']);
    cluster.start('n4');
    // n1 does not learn the new view yet. (The new primaries cannot activate until it
    // does: every member must confirm it left the old view.)
    cluster.commit(['n1', 'n2', 'n3', 'n4'], ['n2', 'n3', 'n4']);
    await cluster.scheduler.runForAsync(100);
    const key = keyOwnedBy('n4', undefined, 'moved');
    const stale = cluster.node('n1');
    const retriesBefore = stale.stats().retries;
    // n1 sends it to the key's old primary, which redirects it with the newer epoch.
    const write = stale.set(key, 'after-move');
    cluster.scheduler.setTimeout(() => cluster.deliver('n1'), 300);
    expect(await cluster.run(write)).toBe(true);
    expect(stale.stats().retries).toBeGreaterThan(retriesBefore);
    await cluster.settle();
    expect(heldBy('n4', key)).toBe(true);
    expect(await cluster.run(cluster.node('n2').get(key))).toBe('after-move');
    expect(cluster.divergence()).toBeUndefined();
  });

  it('fences a primary that missed a view change: its writes are refused, never applied', async () => {
    await startCluster(['n1', 'n2', 'n3'], 12, { operationTimeoutMs: 3_000 });
    const key = keyOwnedBy('n1', 'n2');
    await cluster.run(cluster.node('n1').set(key, 'old'));
    // n1 is dropped from the view; it does not learn it (and keeps its lease, so only
    // fencing stands between it and a split brain).
    cluster.commit(['n2', 'n3'], ['n2', 'n3']);
    await cluster.settle();
    const write = cluster.run(cluster.node('n1').set(key, 'from-deposed-primary'));
    // Whatever the caller sees must prove the write was not applied.
    await expect(write).rejects.toSatisfy(
      (error) =>
        error instanceof WriteNotAppliedError ||
        error instanceof NotPrimaryError ||
        error instanceof PartitionSyncingError,
    );
    expect(heldBy('n1', key)).toBe(true);
    expect(await cluster.run(cluster.node('n1').get(key, { readFrom: 'any' }))).toBe('old');
    expect(await cluster.run(cluster.node('n2').get(key))).toBe('old');
    expect(await cluster.run(cluster.node('n3').get(key))).toBe('old');
  });

  it('refuses writes and primary reads with NoQuorumError on the minority side', async () => {
    await startCluster(['n1', 'n2', 'n3']);
    const key = keyOwnedBy('n2', 'n1');
    await cluster.run(cluster.node('n2').set(key, 'v'));
    cluster.setQuorum('n1', false);
    await expect(cluster.run(cluster.node('n1').set(key, 'w'))).rejects.toBeInstanceOf(
      NoQuorumError,
    );
    await expect(cluster.run(cluster.node('n1').get(key))).rejects.toBeInstanceOf(NoQuorumError);
    expect(await cluster.run(cluster.node('n1').get(key, { readFrom: 'any' }))).toBe('v');
    // Its own primary partitions refuse too: a deposed primary must not serve.
    const own = keyOwnedBy('n1');
    await expect(cluster.run(cluster.node('n1').set(own, 'x'))).rejects.toBeInstanceOf(
      NoQuorumError,
    );
    await expect(cluster.run(cluster.node('n2').get(own))).rejects.toBeInstanceOf(NoQuorumError);
  });

  it('waits for an unreachable backup (writeConcern all) until the view drops it', async () => {
    await startCluster(['n1', 'n2', 'n3']);
    const key = keyOwnedBy('n2', 'n3');
    cluster.net.partition(['n3'], ['n1', 'n2']);
    const write = cluster.node('n1').set(key, 'durable');
    let settled = false;
    write.then(
      () => {
        settled = true;
      },
      () => {
        settled = true;
      },
    );
    await cluster.scheduler.runForAsync(1_000);
    expect(settled).toBe(false);
    cluster.commit(['n1', 'n2'], ['n1', 'n2']);
    expect(await cluster.run(write)).toBe(true);
    await cluster.settle();
    expect(heldBy('n1', key)).toBe(true);
    expect(cluster.divergence()).toBeUndefined();
  });

  it('propagates evictions on the primary to its backups', async () => {
    cluster = new SimCluster({ seed: 13, node: FAST_SYNC });
    cluster.start('n1', { maxEntries: 5 });
    cluster.start('n2', { maxEntries: 1000 });
    cluster.commit(['n1']);
    await cluster.settle();
    cluster.commit(['n1', 'n2']);
    await cluster.settle();
    const keys: string[] = [];
    for (let i = 0; keys.length < 12; i++) {
      const key = `e:${i}`;
      if (cluster.node('n1').roleOf(key) === 'primary') keys.push(key);
    }
    for (const key of keys) await cluster.run(cluster.node('n2').set(key, key));
    await cluster.scheduler.runForAsync(50);
    const onPrimary = keys.filter((key) => heldBy('n1', key));
    const onBackup = keys.filter((key) => heldBy('n2', key));
    expect(onPrimary).toHaveLength(5);
    expect(onBackup).toEqual(onPrimary);
    expect(cluster.node('n1').stats().evictions).toBe(keys.length - 5);
  });

  it('fails over to the backup with every acknowledged write', async () => {
    await startCluster(['n1', 'n2', 'n3']);
    const writers = ['n1', 'n2', 'n3'];
    for (let i = 0; i < 150; i++) {
      await cluster.run(cluster.node(writers[i % 3]!).set(`f:${i}`, i));
    }
    const lostBefore = cluster.node('n1').stats().handoff.partitionsWithoutSource;
    cluster.crash('n2');
    cluster.commit(['n1', 'n3']);
    await cluster.settle();
    for (let i = 0; i < 150; i++) {
      expect(await cluster.run(cluster.node('n1').get(`f:${i}`))).toBe(i);
    }
    expect(cluster.node('n1').stats().handoff.partitionsWithoutSource).toBe(lostBefore);
    expect(cluster.node('n3').stats().handoff.partitionsWithoutSource).toBe(0);
    expect(cluster.divergence()).toBeUndefined();
  });

  it('moves about 1/n of the partitions to a joining node; keys stay readable and writable during the move', async () => {
    await startCluster(['n1', 'n2', 'n3']);
    for (let i = 0; i < 300; i++) await cluster.run(cluster.node('n1').set(`j:${i}`, i));
    cluster.start('n4');
    cluster.commit(['n1', 'n2', 'n3', 'n4']);
    const during = [];
    for (let i = 0; i < 300; i++) during.push(cluster.node(`n${(i % 3) + 1}`).get(`j:${i}`));
    for (let i = 300; i < 400; i++) during.push(cluster.node('n4').set(`j:${i}`, i));
    const results = await cluster.run(Promise.all(during));
    expect(results.slice(0, 300)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(results.slice(300).every((ok) => ok === true)).toBe(true);
    await cluster.settle();
    const primaries = cluster.node('n4').stats().partitions.primaryActive;
    expect(primaries).toBeGreaterThan((PARTITION_COUNT / 4) * 0.75);
    expect(primaries).toBeLessThan((PARTITION_COUNT / 4) * 1.25);
    for (let i = 0; i < 400; i++) {
      expect(await cluster.run(cluster.node('n4').get(`j:${i}`))).toBe(i);
    }
    expect(cluster.divergence()).toBeUndefined();
    // Old owners dropped what moved away once the new owners were in sync.
    await cluster.scheduler.runForAsync(500);
    const held = ['n1', 'n2', 'n3', 'n4'].reduce(
      (sum, id) => sum + cluster.node(id).stats().keys,
      0,
    );
    expect(held).toBe(400 * 2);
  });
});

describe('writeConcern quorum with RF 3', () => {
  it('a promoted backup that missed acknowledged writes takes them from the copy with the highest watermark', async () => {
    cluster = new SimCluster({
      seed: 14,
      node: { ...FAST_SYNC, replicationFactor: 3, writeConcern: 'quorum' },
    });
    for (const id of ['n1', 'n2', 'n3']) cluster.start(id);
    cluster.commit(['n1', 'n2', 'n3']);
    await cluster.settle();
    const key = keyOwnedBy('n1', undefined, 'q');
    await cluster.run(cluster.node('n1').set(key, 'v1'));
    // n1 can no longer reach one backup; quorum (n1 + the other) still acknowledges.
    const p = partitionOf(key);
    const ranked = cluster.node('n1').partitionOwners(p);
    const [, first, second] = ranked as [string, string, string];
    cluster.net.partition([first], ['n1']);
    await cluster.scheduler.runForAsync(50);
    expect(await cluster.run(cluster.node('n1').set(key, 'v2-acked-by-quorum'))).toBe(true);
    expect(await cluster.run(cluster.node(second).get(key, { readFrom: 'any' }))).toBe(
      'v2-acked-by-quorum',
    );
    // The primary dies; the first backup, which missed v2, becomes primary.
    cluster.crash('n1');
    cluster.net.heal();
    cluster.commit([first, second]);
    await cluster.settle();
    expect(cluster.node(first).roleOf(key)).toBe('primary');
    expect(await cluster.run(cluster.node(first).get(key))).toBe('v2-acked-by-quorum');
    expect(cluster.divergence()).toBeUndefined();
  });
});
