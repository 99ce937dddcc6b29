import { describe, expect, it } from 'vitest';
import { HandCluster } from './support/hand-cluster.js';

const timing = { electionTimeoutTicks: 6, heartbeatTicks: 1, sessionTimeoutTicks: 20 };

function established(voters: string[], learners: string[] = []) {
  const c = new HandCluster(voters);
  for (const id of [...voters, ...learners]) c.add(id, { storage: true, timing });
  const all = [...voters, ...learners];
  c.tickUntil(() =>
    all.every((id) => all.every((m) => c.core(id).clusterState.member(m) !== undefined)),
  );
  return { c, leader: c.leaders()[0]! };
}

describe('CoordinatorCore sessions and views', () => {
  it('every voter and learner joins; each join bumps the view epoch', () => {
    const { c, leader } = established(['a', 'b', 'c'], ['l1', 'l2']);
    const view = c.core(leader).clusterState.view();
    expect(view.members.map((m) => m.id)).toEqual(['a', 'b', 'c', 'l1', 'l2']);
    expect(view.members.find((m) => m.id === 'l1')?.address).toBe('addr-l1');
    expect(view.epoch).toBe(5);
    for (const id of ['a', 'b', 'c', 'l1', 'l2']) {
      expect(c.core(id).clusterState.view()).toEqual(view);
    }
  });

  it('a silent member is removed after its session timeout and rejoins with a new session', () => {
    const { c, leader } = established(['a', 'b', 'c'], ['l1']);
    const before = c.core(leader).clusterState.view().epoch;
    const oldSession = c.core('l1').sessionId;
    c.isolate('l1');
    const ticks = c.tickUntil(() => c.core(leader).clusterState.member('l1') === undefined);
    expect(ticks).toBeGreaterThanOrEqual(timing.sessionTimeoutTicks);
    const removed = c.node(leader).committed.find((e) => e.data.type === 'leave');
    expect(removed?.data).toEqual({
      type: 'leave',
      id: 'l1',
      sessionId: oldSession,
      reason: 'expired',
    });
    expect(c.core(leader).clusterState.view().epoch).toBe(before + 1);
    c.healAll();
    c.tickUntil(() => c.core(leader).clusterState.member('l1') !== undefined);
    expect(c.core('l1').sessionId).not.toBe(oldSession);
    expect(c.core(leader).clusterState.member('l1')?.sessionId).toBe(c.core('l1').sessionId);
    expect(c.core(leader).clusterState.view().epoch).toBe(before + 2);
  });

  it('a restarted member replaces its old session with a new join', () => {
    const { c, leader } = established(['a', 'b', 'c'], ['l1']);
    const old = c.core('l1').sessionId;
    c.restart('l1');
    c.tickUntil(
      () => c.core(leader).clusterState.member('l1')?.sessionId === c.core('l1').sessionId,
    );
    expect(c.core('l1').sessionId).not.toBe(old);
  });

  it('a new leader restarts every session clock instead of expiring members at once', () => {
    const { c, leader } = established(['a', 'b', 'c'], ['l1']);
    // Let time pass with everyone healthy, then replace the leader.
    c.tick(timing.sessionTimeoutTicks - 2);
    c.crash(leader);
    c.tickUntil(() => c.leaders().length === 1);
    c.tick(timing.sessionTimeoutTicks / 2);
    const next = c.core(c.leaders()[0]!);
    expect(next.clusterState.member('l1')).toBeDefined();
    // The dead leader itself is expired by the new one.
    c.tickUntil(() => next.clusterState.member(leader) === undefined);
  });

  it('a member whose connection closed is removed after the disconnect grace, not the session timeout', () => {
    const slow = { ...timing, sessionTimeoutTicks: 50, disconnectGraceTicks: 15 };
    const c = new HandCluster(['a', 'b', 'c']);
    for (const id of ['a', 'b', 'c', 'l1']) c.add(id, { storage: true, timing: slow });
    c.tickUntil(() => c.core('a').clusterState.member('l1') !== undefined);
    c.tickUntil(
      () =>
        c.leaders().length === 1 && c.core(c.leaders()[0]!).clusterState.memberList().length === 4,
    );
    const leader = c.leaders()[0]!;
    // kill -9: the process is gone and the kernel closed its connections.
    c.crash('l1');
    for (const id of ['a', 'b', 'c']) c.core(id).peerDown('l1');
    const ticks = c.tickUntil(() => c.core(leader).clusterState.member('l1') === undefined);
    expect(ticks).toBeGreaterThan(slow.disconnectGraceTicks);
    expect(ticks).toBeLessThan(slow.sessionTimeoutTicks);
  });

  it('a member whose connection closed but that speaks again keeps its session', () => {
    const slow = { ...timing, sessionTimeoutTicks: 50, disconnectGraceTicks: 15 };
    const c = new HandCluster(['a', 'b', 'c']);
    for (const id of ['a', 'b', 'c', 'l1']) c.add(id, { storage: true, timing: slow });
    c.tickUntil(
      () =>
        c.leaders().length === 1 && c.core(c.leaders()[0]!).clusterState.memberList().length === 4,
    );
    const leader = c.leaders()[0]!;
    const session = c.core('l1').sessionId;
    // A connection reset that the member survives: it reconnects and answers pings.
    c.core(leader).peerDown('l1');
    c.tick(3 * slow.disconnectGraceTicks);
    expect(c.core(leader).clusterState.member('l1')?.sessionId).toBe(session);
    // A paused member keeps its connection: only the session timeout removes it.
    c.isolate('l1');
    const ticks = c.tickUntil(() => c.core(leader).clusterState.member('l1') === undefined);
    expect(ticks).toBeGreaterThanOrEqual(slow.sessionTimeoutTicks);
  });

  it('a leader elected after a member disconnected counts the grace from its establishment', () => {
    const slow = { ...timing, sessionTimeoutTicks: 50, disconnectGraceTicks: 15 };
    const c = new HandCluster(['a', 'b', 'c']);
    for (const id of ['a', 'b', 'c']) c.add(id, { storage: true, timing: slow });
    c.tickUntil(
      () =>
        c.leaders().length === 1 && c.core(c.leaders()[0]!).clusterState.memberList().length === 3,
    );
    const old = c.leaders()[0]!;
    const rest = ['a', 'b', 'c'].filter((id) => id !== old);
    c.crash(old);
    for (const id of rest) c.core(id).peerDown(old);
    // The survivors cannot elect for a while (cut from each other).
    c.isolate(rest[0]!);
    c.tick(12);
    expect(c.leaders()).toEqual([]);
    c.healAll();
    c.tickUntil(() => c.leaders().length === 1);
    const next = c.core(c.leaders()[0]!);
    // The old leader may have held its lease until the new epoch was established, so
    // the grace runs from there, not from the closed connection.
    const ticks = c.tickUntil(() => next.clusterState.member(old) === undefined);
    expect(ticks).toBeGreaterThanOrEqual(slow.disconnectGraceTicks);
    expect(ticks).toBeLessThan(slow.sessionTimeoutTicks);
  });

  it('a clean leave removes the member at once', () => {
    const { c, leader } = established(['a', 'b', 'c'], ['l1']);
    expect(c.core('l1').requestLeave()).toBe(true);
    c.settle();
    expect(c.node(leader).committed.at(-1)?.data).toMatchObject({
      type: 'leave',
      id: 'l1',
      reason: 'stopped',
    });
  });
});

describe('CoordinatorCore without storage (amnesiac voters)', () => {
  function memoryCluster(voters: string[]) {
    const c = new HandCluster(voters);
    for (const id of voters) c.add(id, { storage: false, timing });
    return c;
  }

  it('an ensemble without storage bootstraps only with every voter present', () => {
    const c = memoryCluster(['a', 'b', 'c']);
    c.crash('c');
    c.tick(60);
    expect(c.leaders()).toEqual([]);
    c.add('c', { storage: false, timing });
    c.tickUntil(() => c.leaders().length === 1);
  });

  it('a restarted memoryless voter does not help a quorum that lost a committed entry', () => {
    const c = memoryCluster(['a', 'b', 'c']);
    c.tickUntil(() => ['a', 'b'].every((id) => c.core(id).publicRole() === 'follower'));
    expect(c.leaders()).toEqual(['c']);
    // a lags; c and b commit x.
    c.isolate('a');
    const x = c.core('c').propose({ type: 'configSet', key: 'x', value: 1 });
    c.tick(1);
    expect(c.core('b').lastCommittedZxid).toBeGreaterThanOrEqual(x);
    // b restarts and forgets x; c (the only other holder) is cut off.
    c.restart('b');
    c.isolate('c');
    c.setLink('a', ['b'], true);
    c.tick(80);
    // a and the amnesiac b are two of three voters, yet they must not elect: a lacks x.
    expect(c.leaders()).toEqual([]);
    c.healAll();
    c.tickUntil(
      () =>
        c.leaders().length === 1 &&
        ['a', 'b', 'c'].every((id) => c.core(id).leaderId() !== undefined),
    );
    for (const id of ['a', 'b', 'c']) expect(c.core(id).clusterState.configValue('x')).toBe(1);
  });

  it('a restarted memoryless voter counts again once its leader reconfirms its quorum', () => {
    const c = memoryCluster(['a', 'b', 'c']);
    c.tickUntil(() => ['a', 'b'].every((id) => c.core(id).publicRole() === 'follower'));
    c.restart('a');
    expect(c.core('a').isAmnesiac()).toBe(true);
    c.tickUntil(() => !c.core('a').isAmnesiac());
    // With a counted again, losing b leaves a working quorum {a, c}.
    c.crash('b');
    const zxid = c.core('c').propose({ type: 'configSet', key: 'k', value: 1 });
    c.tick(2);
    expect(c.core('c').lastCommittedZxid).toBeGreaterThanOrEqual(zxid);
  });

  it('when every voter forgets, learners are reset to the new history by snapshot', () => {
    const c = new HandCluster(['a']);
    c.add('a', { storage: false, timing });
    c.add('l1', { storage: false, timing });
    c.tickUntil(() => c.core('l1').clusterState.member('l1') !== undefined);
    c.core('a').propose({ type: 'configSet', key: 'old', value: 1 });
    c.tickUntil(() => c.core('l1').clusterState.configValue('old') === 1);
    const oldHistory = c.core('l1').clusterState.historyId;
    c.restart('a');
    c.tickUntil(
      () => c.core('l1').clusterState.historyId !== oldHistory && c.core('l1').leaderId() === 'a',
    );
    expect(c.core('l1').clusterState.configValue('old')).toBeUndefined();
    expect(c.core('l1').clusterState.historyId).toBe(c.core('a').clusterState.historyId);
  });
});
