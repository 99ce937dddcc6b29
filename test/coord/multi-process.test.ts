import { afterEach, describe, expect, it } from 'vitest';
import { CoordProcessCluster } from '../fixtures/coord-process.js';

let cluster: CoordProcessCluster | undefined;

afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

describe('coordinator across real processes (WsTransport on loopback, FileStorage)', () => {
  it('survives kill -9 of the leader; the restarted node recovers its log and catches up', async () => {
    const c = new CoordProcessCluster(3);
    cluster = c;
    await c.startAll();
    const first = await c.agreedLeader(20_000);
    const other = c.nodes.find((n) => n.id !== first.id)!;
    await expect(other.call('set', { key: 'before', value: 'kept' })).resolves.toEqual({
      version: 1,
    });

    const victim = c.node(first.id);
    await victim.kill();
    const second = await c.agreedLeader(20_000, victim.id);
    expect(second.id).not.toBe(victim.id);
    expect(second.epoch).toBeGreaterThan(first.epoch);
    const survivor = c.node(second.id);
    await expect(survivor.call('set', { key: 'after', value: 'new-leader' })).resolves.toEqual({
      version: 1,
    });

    await c.restart(victim.id);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const status = await victim.status();
      const before = await victim.call('get', { key: 'before' });
      const after = await victim.call('get', { key: 'after' });
      if (status.role === 'follower' && before === 'kept' && after === 'new-leader') break;
      if (Date.now() > deadline)
        throw new Error(`restarted node did not catch up: ${JSON.stringify(status)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // Every node, the restarted one included, reports the same committed view.
    const statuses = await Promise.all(c.nodes.map((n) => n.status()));
    expect(new Set(statuses.map((s) => s.leader))).toEqual(new Set([second.id]));
  });
});
