import { afterEach, describe, expect, it } from 'vitest';
import { Shoal, type ShoalNode } from '../../src/api/shoal.js';
import { ShoalClient } from '../../src/api/shoal-client.js';
import { decodeNodeStatus } from '../../src/cluster/node-status.js';
import { InvalidArgumentError } from '../../src/util/errors.js';

const SECRET = 'node-status-secret';
const started: { stop(): Promise<void> }[] = [];

afterEach(async () => {
  for (const thing of started.splice(0).reverse()) await thing.stop();
});

async function eventually(condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('the cache channel status request', () => {
  it('answers each member coordinator state and cache counts to a client', async () => {
    const leader: ShoalNode = await Shoal.start({ id: 'st-a', secret: SECRET });
    started.push(leader);
    const learner: ShoalNode = await Shoal.start({
      id: 'st-b',
      secret: SECRET,
      voters: [`st-a=${leader.url}`],
    });
    started.push(learner);
    await eventually(() =>
      [leader, learner].every((n) => n.view()?.members.length === 2 && n.isSettled()),
    );
    const client = await ShoalClient.connect({ seeds: [`st-a=${leader.url}`], secret: SECRET });
    started.push(client);
    await client.mset(Array.from({ length: 50 }, (_, i) => [`k${i}`, i] as const));

    const a = await client.nodeStatus('st-a');
    const b = await client.nodeStatus('st-b');
    expect(a.id).toBe('st-a');
    expect(a.coord?.role).toBe('leader');
    expect(b.coord?.role).toBe('learner');
    expect(b.coord?.leader).toBe('st-a');
    expect(a.viewEpoch).toBe(leader.view()?.epoch);
    // Replication factor 2 over two members: each holds every key.
    expect(a.keys).toBe(50);
    expect(b.keys).toBe(50);
    expect(a.bytes).toBeGreaterThan(0);
    expect(a.partitions.primaryActive + b.partitions.primaryActive).toBe(16_384);
    expect(a.handoff.partitionsPending).toBe(0);
    await expect(client.nodeStatus('nobody')).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('rejects malformed reports', () => {
    const good = {
      id: 'n',
      viewEpoch: 3,
      coord: null,
      keys: 1,
      bytes: 10,
      partitions: { primaryActive: 1, primarySyncing: 0, backupActive: 0, backupSyncing: 0 },
      handoff: { partitionsPending: 0, partitionsSynced: 1, sessionsActive: 0 },
    };
    expect(decodeNodeStatus(good)).toEqual(good);
    for (const bad of [
      null,
      { ...good, id: '' },
      { ...good, keys: -1 },
      { ...good, bytes: 1.5 },
      { ...good, partitions: null },
      { ...good, coord: { role: 'king' } },
      { ...good, handoff: { ...good.handoff, sessionsActive: '1' } },
    ]) {
      expect(() => decodeNodeStatus(bad)).toThrow(InvalidArgumentError);
    }
  });
});
