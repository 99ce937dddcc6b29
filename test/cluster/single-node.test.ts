import { afterEach, describe, expect, it } from 'vitest';
import { TTL_MISSING, TTL_NONE } from '../../src/cluster/cache-api.js';
import type { CacheNode } from '../../src/cluster/cache-node.js';
import {
  NoQuorumError,
  NotAnIntegerError,
  StoppedError,
  ValueNotEncodableError,
  ValueTooLargeError,
} from '../../src/cluster/errors.js';
import { InvalidArgumentError } from '../../src/util/errors.js';
import { SimCluster } from '../support/sim-cluster.js';

let cluster: SimCluster;

function oneNode(options: ConstructorParameters<typeof SimCluster>[0]['node'] = {}): CacheNode {
  cluster = new SimCluster({ seed: 1, node: { replicationFactor: 1, ...options } });
  const node = cluster.start('n1');
  cluster.commit(['n1']);
  return node;
}

async function settled(node: CacheNode): Promise<void> {
  await cluster.scheduler.runUntilConditionAsync(() => node.isSettled(), 10_000);
}

afterEach(async () => {
  await cluster?.stopAll();
});

describe('CacheNode on a single node', () => {
  it('activates every partition of a one-member view', async () => {
    const node = oneNode();
    await settled(node);
    expect(node.stats().partitions.primaryActive).toBe(16384);
    expect(node.stats().handoff.partitionsWithoutSource).toBe(16384);
  });

  it('gets, sets, deletes and reports existence', async () => {
    const node = oneNode();
    await settled(node);
    expect(await node.get('a')).toBeUndefined();
    expect(await node.set('a', { name: 'Ada' })).toBe(true);
    expect(await node.get('a')).toEqual({ name: 'Ada' });
    expect(await node.has('a')).toBe(true);
    expect(await node.delete('a')).toBe(true);
    expect(await node.delete('a')).toBe(false);
    expect(await node.has('a')).toBe(false);
    expect(await node.get('a')).toBeUndefined();
  });

  it('honours nx and xx', async () => {
    const node = oneNode();
    await settled(node);
    expect(await node.set('k', 1, { xx: true })).toBe(false);
    expect(await node.has('k')).toBe(false);
    expect(await node.set('k', 1, { nx: true })).toBe(true);
    expect(await node.set('k', 2, { nx: true })).toBe(false);
    expect(await node.get('k')).toBe(1);
    expect(await node.set('k', 3, { xx: true })).toBe(true);
    expect(await node.get('k')).toBe(3);
    await expect(node.set('k', 4, { nx: true, xx: true })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });

  it('expires entries by TTL on the simulated clock', async () => {
    const node = oneNode();
    await settled(node);
    await node.set('t', 'v', { ttlMs: 1000 });
    expect(await node.ttl('t')).toBeGreaterThan(990);
    expect(await node.ttl('none')).toBe(TTL_MISSING);
    await node.set('forever', 'v');
    expect(await node.ttl('forever')).toBe(TTL_NONE);
    await cluster.scheduler.runForAsync(1001);
    expect(await node.get('t')).toBeUndefined();
    expect(await node.get('forever')).toBe('v');
  });

  it('expire sets, removes and persists a TTL', async () => {
    const node = oneNode();
    await settled(node);
    expect(await node.expire('missing', 100)).toBe(false);
    await node.set('e', 'v');
    expect(await node.expire('e', 500)).toBe(true);
    expect(await node.ttl('e')).toBeGreaterThan(400);
    expect(await node.expire('e', null)).toBe(true);
    expect(await node.ttl('e')).toBe(TTL_NONE);
    expect(await node.expire('e', 0)).toBe(true);
    expect(await node.has('e')).toBe(false);
  });

  it('increments integers, keeps the TTL, refuses non-integers and overflow', async () => {
    const node = oneNode();
    await settled(node);
    expect(await node.incr('c')).toBe(1);
    expect(await node.incr('c', 41)).toBe(42);
    expect(await node.incr('c', -2)).toBe(40);
    await node.expire('c', 5000);
    await node.incr('c');
    expect(await node.ttl('c')).toBeGreaterThan(4000);
    await node.set('s', 'text');
    await expect(node.incr('s')).rejects.toBeInstanceOf(NotAnIntegerError);
    await node.set('big', Number.MAX_SAFE_INTEGER);
    await expect(node.incr('big')).rejects.toBeInstanceOf(NotAnIntegerError);
    expect(await node.get('big')).toBe(Number.MAX_SAFE_INTEGER);
    await expect(node.incr('c', 1.5)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('mget and mset batch many keys', async () => {
    const node = oneNode();
    await settled(node);
    await node.mset([
      ['a', 1],
      ['b', 'two'],
      ['c', [3]],
    ]);
    expect(await node.mget(['a', 'b', 'x', 'c'])).toEqual([1, 'two', undefined, [3]]);
    await node.mset([['d', 4]], { ttlMs: 100 });
    await cluster.scheduler.runForAsync(101);
    expect(await node.mget(['d', 'a'])).toEqual([undefined, 1]);
  });

  it('refuses values over maxValueBytes and values msgpack cannot encode', async () => {
    const node = oneNode({ maxValueBytes: 64 });
    await settled(node);
    await expect(node.set('big', 'x'.repeat(100))).rejects.toBeInstanceOf(ValueTooLargeError);
    expect(await node.has('big')).toBe(false);
    await expect(node.set('f', () => 1)).rejects.toBeInstanceOf(ValueNotEncodableError);
    await expect(node.set('u', undefined)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('rejects bad arguments with typed errors', async () => {
    const node = oneNode();
    await settled(node);
    await expect(node.get(42 as unknown as string)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(node.set('k', 1, { ttlMs: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(node.set('k', 1, { ttlMs: Number.NaN })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(node.expire('k', -5)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(node.get('k', { readFrom: 'nearest' as unknown as 'any' })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(node.mget('k' as unknown as string[])).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });

  it('serves its own keys from one shared frozen copy: no decode per read', async () => {
    const node = oneNode();
    await settled(node);
    const original = { name: 'Ada', tags: ['x'] };
    await node.set('u', original);
    original.name = 'changed after set';
    const first = await node.get<{ name: string; tags: string[] }>('u');
    const second = await node.get('u');
    expect(first).toEqual({ name: 'Ada', tags: ['x'] });
    expect(second).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(() => {
      first!.tags.push('y');
    }).toThrow(TypeError);
  });

  it('refuses writes and primary reads without a quorum, but serves readFrom any', async () => {
    const node = oneNode();
    await settled(node);
    await node.set('q', 'v');
    cluster.setQuorum('n1', false);
    await expect(node.set('q', 'w')).rejects.toBeInstanceOf(NoQuorumError);
    await expect(node.get('q')).rejects.toBeInstanceOf(NoQuorumError);
    expect(await node.get('q', { readFrom: 'any' })).toBe('v');
    cluster.setQuorum('n1', true);
    expect(await node.get('q')).toBe('v');
  });

  it('counts hits, misses, sets, deletes and incrs', async () => {
    const node = oneNode();
    await settled(node);
    await node.set('a', 1);
    await node.get('a');
    await node.get('zz');
    await node.delete('a');
    await node.incr('n');
    const stats = node.stats();
    expect(stats).toMatchObject({ hits: 1, misses: 1, sets: 1, deletes: 1, incrs: 1, keys: 1 });
    expect(stats.viewEpoch).toBe(1);
    expect(stats.forwarded).toBe(0);
  });

  it('evicts past maxEntries', async () => {
    const node = oneNode({ maxEntries: 10 });
    await settled(node);
    for (let i = 0; i < 20; i++) await node.set(`k${i}`, i);
    expect(node.stats().keys).toBe(10);
    expect(node.stats().evictions).toBe(10);
    expect(await node.get('k19')).toBe(19);
    expect(await node.get('k0')).toBeUndefined();
  });

  it('fails every call after stop', async () => {
    const node = oneNode();
    await settled(node);
    await node.stop();
    await expect(node.get('a')).rejects.toBeInstanceOf(StoppedError);
    await expect(node.set('a', 1)).rejects.toBeInstanceOf(StoppedError);
  });
});
