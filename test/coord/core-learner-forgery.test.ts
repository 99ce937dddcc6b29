import { describe, expect, it } from 'vitest';
import { HandCluster } from './support/hand-cluster.js';

/**
 * A learner holds the cluster secret (it is a node), so the transport cannot stop
 * it from sending coordinator messages; the core must give them no weight.
 */
describe('CoordinatorCore: a learner cannot vote', () => {
  it('a lone voter does not become leader however many votes a learner forges for it', () => {
    const c = new HandCluster(['a', 'b', 'c']);
    for (const id of ['a', 'b', 'c', 'l']) c.add(id, { storage: true });
    // a reaches only the learner; b and c keep each other (they may elect between them).
    c.setLink('a', ['b', 'c'], false);
    c.setLink('b', ['c'], false);
    const a = c.core('a');
    for (let round = 0; round < 64; round++) {
      for (const state of ['looking', 'following', 'leading'] as const) {
        // The learner votes for a, and also claims to be a voter's choice itself.
        a.step('l', { t: 'vote', round, state, leader: 'a', epoch: 0, zxid: 0 });
        a.step('l', { t: 'vote', round, state, leader: 'l', epoch: 9, zxid: 2 ** 40 });
      }
      c.tick(1);
    }
    expect(a.publicRole()).not.toBe('leader');
    expect(a.leaderId()).toBeUndefined();
    // The control: once a reaches a real voter, a leader is elected.
    c.healAll();
    c.tickUntil(() => c.leaders().length === 1);
    expect(['a', 'b', 'c']).toContain(c.leaders()[0]);
  });

  it('an elected leader does not count a learner ack towards a commit', () => {
    const c = new HandCluster(['a', 'b', 'c']);
    for (const id of ['a', 'b', 'c', 'l']) c.add(id, { storage: true });
    c.tickUntil(() => c.leaders().length === 1 && c.core('l').leaderId() !== undefined);
    const leaderId = c.leaders()[0]!;
    const leader = c.core(leaderId);
    const followers = ['a', 'b', 'c'].filter((id) => id !== leaderId);
    // Cut the leader off from both voters: only the learner still reaches it.
    c.setLink(leaderId, followers, false);
    const committedBefore = leader.lastCommittedZxid;
    const zxid = leader.propose({ type: 'configSet', key: 'forged', value: 1 });
    for (let i = 0; i < 3; i++) {
      leader.step('l', { t: 'ack', epoch: leader.epoch(), zxid });
      c.flush();
    }
    expect(leader.lastCommittedZxid).toBe(committedBefore);
    expect(leader.clusterState.configValue('forged')).toBeUndefined();
  });
});
