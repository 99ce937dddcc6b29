import { describe, expect, it } from 'vitest';
import { epochOf } from '../../src/coord/zxid.js';
import { HandCluster } from './support/hand-cluster.js';

function cluster(voters: string[], learners: string[] = [], storage = true): HandCluster {
  const c = new HandCluster(voters);
  for (const id of [...voters, ...learners]) c.add(id, { storage });
  return c;
}

describe('CoordinatorCore election', () => {
  it('a single voter elects itself at once and commits on its own durable write', () => {
    const c = cluster(['a']);
    c.settle();
    const a = c.core('a');
    expect(a.publicRole()).toBe('leader');
    expect(a.epoch()).toBe(1);
    // genesis + its own join are committed without any peer
    expect(a.clusterState.view().members.map((m) => m.id)).toEqual(['a']);
    const zxid = a.propose({ type: 'configSet', key: 'k', value: 1 });
    c.settle();
    expect(a.lastCommittedZxid).toBe(zxid);
    expect(a.clusterState.configValue('k')).toBe(1);
  });

  it.each([[['a', 'b', 'c']], [['a', 'b', 'c', 'd', 'e']]])(
    'elects exactly one leader among %j and every voter follows it',
    (voters) => {
      const c = cluster(voters);
      c.tickUntil(() => voters.every((id) => c.core(id).leaderId() !== undefined));
      const leaders = c.leaders();
      expect(leaders).toHaveLength(1);
      // Empty logs tie on (epoch, zxid): the highest id wins.
      expect(leaders[0]).toBe(voters.at(-1));
      for (const id of voters) expect(c.core(id).leaderId()).toBe(leaders[0]);
      c.tickUntil(() =>
        voters.every((id) => c.core(id).clusterState.view().members.length === voters.length),
      );
    },
  );

  it('elects the voter with the longest history, not the highest id', () => {
    const c = cluster(['a', 'b', 'c']);
    c.tickUntil(() => ['a', 'b'].every((id) => c.core(id).publicRole() === 'follower'));
    // c leads; b is cut off while a keeps receiving, so a is ahead of b when c dies.
    c.setLink('b', ['a', 'c'], false);
    const leader = c.core('c');
    leader.propose({ type: 'configSet', key: 'x', value: 1 });
    c.tick(2);
    expect(c.core('a').lastZxid).toBe(leader.lastZxid);
    expect(c.core('b').lastZxid).toBeLessThan(leader.lastZxid);
    c.crash('c');
    c.healAll();
    c.tickUntil(() => c.leaders().length === 1 && c.core('b').leaderId() !== undefined);
    expect(c.leaders()).toEqual(['a']);
    expect(c.core('b').clusterState.configValue('x')).toBe(1);
  });

  it('bumps the epoch on every new leader', () => {
    const c = cluster(['a', 'b', 'c']);
    c.tickUntil(() => c.leaders().length === 1);
    const first = c.core(c.leaders()[0]!).epoch();
    c.crash(c.leaders()[0]!);
    c.tickUntil(() => c.leaders().length === 1);
    const second = c.core(c.leaders()[0]!).epoch();
    expect(second).toBeGreaterThan(first);
    // zxids of the new epoch carry it in the high bits
    const zxid = c.core(c.leaders()[0]!).propose({ type: 'configSet', key: 'k', value: 'v' });
    expect(epochOf(zxid)).toBe(second);
  });

  it('a partitioned leader steps down, and the majority elects a new one', () => {
    const c = cluster(['a', 'b', 'c']);
    c.tickUntil(() => c.leaders().length === 1);
    const old = c.leaders()[0]!;
    c.isolate(old);
    c.tickUntil(() => c.core(old).publicRole() === 'looking');
    c.tickUntil(() => c.leaders().length === 1);
    expect(c.leaders()[0]).not.toBe(old);
    expect(c.core(old).hasQuorum()).toBe(false);
    c.healAll();
    c.tickUntil(() => c.core(old).publicRole() === 'follower');
  });

  it('a follower notices a dead leader through the transport at once', () => {
    const c = cluster(['a', 'b', 'c']);
    c.tickUntil(() => c.leaders().length === 1);
    const old = c.leaders()[0]!;
    c.crash(old);
    const rest = ['a', 'b', 'c'].filter((id) => id !== old);
    for (const id of rest) c.core(id).peerDown(old);
    c.settle();
    // Only the one-tick finalize wait, far less than an election timeout (6 ticks).
    c.tick(1);
    expect(c.leaders()).toHaveLength(1);
  });

  it('learners never vote: two learners and one live voter of three elect nobody', () => {
    const c = cluster(['a', 'b', 'c'], ['l1', 'l2']);
    c.crash('b');
    c.crash('c');
    c.tick(60);
    expect(c.leaders()).toEqual([]);
    expect(c.core('l1').publicRole()).toBe('learner');
    expect(c.core('l1').leaderId()).toBeUndefined();
  });

  it('learners find the leader through a voter and receive committed entries', () => {
    const c = cluster(['a', 'b', 'c'], ['l1']);
    c.tickUntil(() => c.core('l1').leaderId() !== undefined);
    const leader = c.core(c.leaders()[0]!);
    const zxid = leader.propose({ type: 'configSet', key: 'k', value: 42 });
    c.tickUntil(() => c.core('l1').lastCommittedZxid >= zxid);
    expect(c.core('l1').clusterState.configValue('k')).toBe(42);
    c.tickUntil(() => leader.clusterState.member('l1') !== undefined);
    expect(c.core('l1').hasQuorum()).toBe(true);
  });
});
