import { describe, expect, it } from 'vitest';
import type { SyncMessage } from '../../src/coord/messages.js';
import { HandCluster } from './support/hand-cluster.js';

function established(
  voters: string[],
  options: Parameters<HandCluster['add']>[1] = { storage: true },
) {
  const c = new HandCluster(voters);
  for (const id of voters) c.add(id, options);
  c.tickUntil(() => voters.every((id) => c.core(id).leaderId() !== undefined));
  const leader = c.leaders()[0]!;
  return { c, leader };
}

function syncsTo(c: HandCluster, id: string): SyncMessage[] {
  return c.delivered
    .filter((m) => m.to === id && m.message.t === 'sync')
    .map((m) => m.message as SyncMessage);
}

describe('CoordinatorCore broadcast', () => {
  it('commits only once a quorum durably holds the proposal', () => {
    const { c, leader } = established(['a', 'b', 'c']);
    const followers = ['a', 'b'];
    for (const id of followers) c.node(id).holdWrites = true;
    c.delivered = [];
    const zxid = c.core(leader).propose({ type: 'configSet', key: 'k', value: 'v' });
    c.settle();
    // Both followers received it but nothing is durable there: no ack, no commit.
    for (const id of followers) expect(c.core(id).lastZxid).toBe(zxid);
    expect(c.core(leader).lastCommittedZxid).toBeLessThan(zxid);
    expect(c.delivered.some((m) => m.message.t === 'ack')).toBe(false);
    c.releaseWrites('a');
    c.settle();
    expect(c.core(leader).lastCommittedZxid).toBe(zxid);
    expect(c.core(leader).clusterState.configValue('k')).toBe('v');
  });

  it('a single voter commits only after its own write is durable', () => {
    const c = new HandCluster(['a']);
    c.add('a', { storage: true });
    c.settle();
    c.node('a').holdWrites = true;
    const zxid = c.core('a').propose({ type: 'configSet', key: 'k', value: 1 });
    c.settle();
    expect(c.core('a').lastCommittedZxid).toBeLessThan(zxid);
    c.releaseWrites('a');
    c.settle();
    expect(c.core('a').lastCommittedZxid).toBe(zxid);
  });

  it('commits in zxid order and every node applies the same sequence', () => {
    const { c, leader } = established(['a', 'b', 'c']);
    const zxids = [1, 2, 3, 4, 5].map((i) =>
      c.core(leader).propose({ type: 'configSet', key: `k${i % 2}`, value: i }),
    );
    c.tick(2);
    for (const id of ['a', 'b', 'c']) {
      const committed = c.node(id).committed.map((e) => e.zxid);
      expect(committed).toEqual([...committed].sort((x, y) => x - y));
      expect(committed).toEqual(expect.arrayContaining(zxids));
      expect(c.core(id).clusterState.configEntries()).toEqual({ k0: 4, k1: 5 });
    }
  });

  it('compare-and-set by version: a stale version commits as a failed no-op', () => {
    const { c, leader } = established(['a', 'b', 'c']);
    const core = c.core(leader);
    core.propose({ type: 'configSet', key: 'k', value: 'first', ifVersion: 0 });
    core.propose({ type: 'configSet', key: 'k', value: 'lost', ifVersion: 0 });
    core.propose({ type: 'configSet', key: 'k', value: 'second', ifVersion: 1 });
    c.tick(2);
    const results = c
      .node(leader)
      .committed.filter((e) => e.data.type === 'configSet')
      .map((e) => e.result);
    expect(results).toEqual([
      { type: 'configSet', ok: true, version: 1 },
      { type: 'configSet', ok: false, version: 1, reason: 'version' },
      { type: 'configSet', ok: true, version: 2 },
    ]);
    expect(c.core('a').clusterState.configValue('k')).toBe('second');
    expect(c.core('a').clusterState.configVersion('k')).toBe(2);
  });

  it('a follower refuses to propose and names the leader', () => {
    const { c, leader } = established(['a', 'b', 'c']);
    const follower = ['a', 'b', 'c'].find((id) => id !== leader)!;
    expect(() => c.core(follower).propose({ type: 'configSet', key: 'k', value: 1 })).toThrow(
      expect.objectContaining({ code: 'ERR_COORD_NOT_LEADER', leader }),
    );
  });
});

describe('CoordinatorCore synchronisation', () => {
  it('DIFF: a follower that missed committed entries gets exactly those', () => {
    const { c, leader } = established(['a', 'b', 'c']);
    const lagging = 'a';
    c.isolate(lagging);
    c.setLink(
      leader,
      ['b', 'c'].filter((id) => id !== leader),
      true,
    );
    const zxid = c.core(leader).propose({ type: 'configSet', key: 'k', value: 1 });
    c.tick(1);
    c.delivered = [];
    c.healAll();
    c.tickUntil(() => c.core(lagging).lastCommittedZxid >= zxid);
    const syncs = syncsTo(c, lagging);
    expect(syncs.at(-1)?.mode).toBe('diff');
    expect(c.core(lagging).clusterState.configValue('k')).toBe(1);
  });

  it('TRUNC: entries the new epoch discards are removed from the old leader', () => {
    const { c, leader } = established(['a', 'b', 'c']);
    const others = ['a', 'b', 'c'].filter((id) => id !== leader);
    c.isolate(leader);
    const lost = c.core(leader).propose({ type: 'configSet', key: 'k', value: 'lost' });
    c.settle();
    expect(c.core(leader).lastZxid).toBe(lost);
    c.tickUntil(() => c.leaders().some((id) => id !== leader));
    const newLeader = c.leaders().find((id) => id !== leader)!;
    const kept = c.core(newLeader).propose({ type: 'configSet', key: 'k', value: 'kept' });
    c.tickUntil(() => others.every((id) => c.core(id).lastCommittedZxid >= kept));
    c.delivered = [];
    c.healAll();
    c.tickUntil(() => c.core(leader).lastCommittedZxid >= kept);
    const sync = syncsTo(c, leader).at(-1)!;
    expect(sync.mode).toBe('trunc');
    expect(sync.truncateTo).toBeLessThan(lost);
    expect(c.core(leader).holds(lost)).toBe(false);
    expect(c.core(leader).clusterState.configValue('k')).toBe('kept');
  });

  it('TRUNC survives a restart: the discarded entry is gone from storage too', () => {
    const { c, leader } = established(['a', 'b', 'c']);
    c.isolate(leader);
    const lost = c.core(leader).propose({ type: 'configSet', key: 'k', value: 'lost' });
    c.settle();
    c.tickUntil(() => c.leaders().some((id) => id !== leader));
    c.healAll();
    c.tickUntil(() => c.core(leader).publicRole() === 'follower');
    c.restart(leader);
    expect(c.core(leader).holds(lost)).toBe(false);
  });

  it("SNAP: a follower behind the leader's retained log gets the state", () => {
    const limits = { retainedLogEntries: 2, maxSyncDiffEntries: 3, snapshotEveryEntries: 4 };
    const { c, leader } = established(['a', 'b', 'c'], { storage: true, limits });
    const lagging = ['a', 'b', 'c'].find((id) => id !== leader)!;
    c.isolate(lagging);
    c.setLink(
      leader,
      ['a', 'b', 'c'].filter((id) => id !== leader && id !== lagging),
      true,
    );
    let last = 0;
    for (let i = 0; i < 12; i++) {
      last = c.core(leader).propose({ type: 'configSet', key: `k${i}`, value: i });
      c.tick(1);
    }
    c.delivered = [];
    c.healAll();
    c.tickUntil(() => c.core(lagging).lastCommittedZxid >= last);
    expect(syncsTo(c, lagging).at(-1)?.mode).toBe('snap');
    expect(c.core(lagging).clusterState.configValue('k11')).toBe(11);
    // The snapshot was persisted: a restart recovers the same state.
    c.restart(lagging);
    expect(c.core(lagging).clusterState.configValue('k11')).toBe(11);
  });

  it('recovers its log from storage and rejoins without losing anything', () => {
    const { c, leader } = established(['a', 'b', 'c']);
    const zxid = c.core(leader).propose({ type: 'configSet', key: 'k', value: 'v' });
    c.tick(2);
    for (const id of ['a', 'b', 'c']) c.restart(id);
    c.tickUntil(() => c.leaders().length === 1);
    const newLeader = c.core(c.leaders()[0]!);
    expect(newLeader.lastCommittedZxid).toBeGreaterThanOrEqual(zxid);
    expect(newLeader.clusterState.configValue('k')).toBe('v');
  });
});
