/**
 * Real Redis clients against a real 3-node shoal cluster (in-process `Shoal.start`
 * nodes on 127.0.0.1, RF 2, each with a RESP port): ioredis (single and `Cluster`)
 * and `redis-cli -c`. Every command of the issue, MOVED/CROSSSLOT/NOAUTH, a pipeline
 * of 1,000 commands, all 256 byte values, TTL semantics, the value mapping between
 * RESP and the JS API, and MOVED following after a node stops.
 */
import { createHash } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Shoal, type ShoalNode } from '../../src/api/index.js';
import { partitionOf } from '../../src/ring/partitioner.js';
import { RawRespClient } from './support/raw-client.js';
import { redisCli } from './support/redis-cli.js';
import { TEST_SECRET } from './support/shoal-resp-node.js';

type RespNode = ShoalNode & { readonly respPort: number };

/** Polls `condition` every 20 ms until it holds or `timeoutMs` passes. */
async function eventually(condition: () => boolean | Promise<boolean>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Starts voter `a` and learners `b`, `c`, each with a RESP port; waits until settled. */
async function startCluster(prefix: string): Promise<RespNode[]> {
  const nodes: RespNode[] = [];
  try {
    const options = {
      secret: TEST_SECRET,
      host: '127.0.0.1',
      port: 0,
      replicationFactor: 2,
      respPort: 0,
      respAllowFlush: true,
    };
    const first = (await Shoal.start({ ...options, id: `${prefix}-a` })) as RespNode;
    nodes.push(first);
    const voters = [`${prefix}-a=${first.url}`];
    for (const name of ['b', 'c']) {
      nodes.push((await Shoal.start({ ...options, id: `${prefix}-${name}`, voters })) as RespNode);
    }
    await eventually(() =>
      nodes.every(
        (node) =>
          node.view()?.members.length === 3 &&
          node.isSettled() &&
          nodes.every((other) => typeof node.config.get(`resp.address.${other.id}`) === 'string'),
      ),
    );
    return nodes;
  } catch (error) {
    for (const node of nodes) await node.stop();
    throw error;
  }
}

/** The node that is primary of `key`'s partition. */
function primaryOf(nodes: readonly RespNode[], key: string): RespNode {
  const owner = nodes.find((node) => node.roleOf(key) === 'primary');
  if (owner === undefined) throw new Error(`no primary for ${key}`);
  return owner;
}

/** A key whose primary is `node`, and one whose primary is not. */
function keysFor(nodes: readonly RespNode[], node: RespNode): { own: string; other: string } {
  let own: string | undefined;
  let other: string | undefined;
  for (let i = 0; own === undefined || other === undefined; i++) {
    const key = `key:${i}`;
    if (primaryOf(nodes, key) === node) own ??= key;
    else other ??= key;
  }
  return { own, other };
}

const clients: (Redis | Cluster)[] = [];

function single(node: RespNode, options: Record<string, unknown> = {}): Redis {
  const client = new Redis({
    host: '127.0.0.1',
    port: node.respPort,
    password: TEST_SECRET,
    maxRetriesPerRequest: 0,
    ...options,
  });
  clients.push(client);
  return client;
}

function cluster(node: RespNode): Cluster {
  const client = new Cluster([{ host: '127.0.0.1', port: node.respPort }], {
    redisOptions: { password: TEST_SECRET },
    retryDelayOnClusterDown: 50,
    retryDelayOnTryAgain: 50,
    retryDelayOnFailover: 50,
    slotsRefreshTimeout: 2000,
  });
  clients.push(client);
  return client;
}

afterEach(() => {
  for (const client of clients.splice(0)) client.disconnect();
});

describe('Redis clients against a 3-node shoal cluster', () => {
  let nodes: RespNode[] = [];

  beforeAll(async () => {
    nodes = await startCluster('rc');
  }, 60_000);

  afterAll(async () => {
    for (const node of nodes.reverse()) await node.stop();
  });

  it('answers the cluster commands from the committed view', async () => {
    const [a] = nodes as [RespNode];
    const client = single(a);
    const slots = (await client.cluster('SLOTS')) as unknown as [
      number,
      number,
      [string, number, string],
      ...[string, number, string][],
    ][];
    let covered = 0;
    const primaryPorts = new Set<number>();
    for (const [first, last, primary, ...replicas] of slots) {
      covered += last - first + 1;
      primaryPorts.add(primary[1]);
      expect(replicas).toHaveLength(1);
      // The reported primary is the node that serves the slot.
      expect(primaryOf(nodes, keyInSlot(first)).respPort).toBe(primary[1]);
    }
    expect(covered).toBe(16384);
    expect([...primaryPorts].sort()).toEqual(nodes.map((node) => node.respPort).sort());

    const ids = nodes.map((node) => createHash('sha1').update(node.id).digest('hex'));
    expect(await client.cluster('MYID')).toBe(ids[0]);
    const nodesText = (await client.cluster('NODES')) as string;
    const lines = nodesText.trim().split('\n');
    expect(lines).toHaveLength(3);
    for (const [i, node] of nodes.entries()) {
      const line = lines.find((candidate) => candidate.startsWith(ids[i]!))!;
      expect(line).toContain(`127.0.0.1:${node.respPort}@`);
      expect(line.includes('myself')).toBe(i === 0);
    }
    const info = (await client.cluster('INFO')) as string;
    expect(info).toContain('cluster_state:ok');
    expect(info).toContain('cluster_known_nodes:3');
    expect(info).toContain(`cluster_current_epoch:${a.view()!.epoch}`);
    const shards = (await client.cluster('SHARDS')) as unknown[];
    expect(shards.length).toBeGreaterThanOrEqual(3);
    expect(await client.cluster('KEYSLOT', 'user:{42}:name')).toBe(partitionOf('42'));
  });

  it('answers MOVED for keys served elsewhere, CROSSSLOT for keys in several slots, NOAUTH without AUTH', async () => {
    const [a] = nodes as [RespNode];
    const { own, other } = keysFor(nodes, a);
    const client = single(a);
    expect(await client.set(own, 'here')).toBe('OK');
    const owner = primaryOf(nodes, other);
    await expect(client.get(other)).rejects.toThrow(
      `MOVED ${partitionOf(other)} 127.0.0.1:${owner.respPort}`,
    );
    await expect(client.mget('{x}1', '{y}1')).rejects.toThrow(/^CROSSSLOT/);
    const anonymous = await RawRespClient.connect(a.respPort);
    try {
      expect(await anonymous.call(['GET', own])).toEqual({
        type: 'error',
        value: 'NOAUTH Authentication required.',
      });
      expect((await anonymous.call(['AUTH', 'wrong'])).type).toBe('error');
      expect(await anonymous.call(['PING'])).toMatchObject({ type: 'error' });
      expect(await anonymous.call(['AUTH', TEST_SECRET])).toEqual({ type: 'simple', value: 'OK' });
      expect(await anonymous.call(['GET', own])).toEqual({ type: 'bulk', value: 'here' });
    } finally {
      anonymous.close();
    }
  });

  it('runs every string and keyspace command through ioredis Cluster', async () => {
    const [a] = nodes as [RespNode];
    const redis = cluster(a);
    const k = (name: string): string => `{cmd}:${name}`;
    expect(await redis.set(k('s'), 'v1')).toBe('OK');
    expect(await redis.get(k('s'))).toBe('v1');
    expect(await redis.set(k('s'), 'v2', 'NX')).toBeNull();
    expect(await redis.set(k('s'), 'v2', 'XX', 'GET')).toBe('v1');
    expect(await redis.set(k('missing'), 'v', 'XX')).toBeNull();
    expect(await redis.set(k('ex'), 'v', 'EX', 100)).toBe('OK');
    expect(await redis.ttl(k('ex'))).toBeGreaterThanOrEqual(99);
    expect(await redis.set(k('ex'), 'w', 'KEEPTTL')).toBe('OK');
    expect(await redis.ttl(k('ex'))).toBeGreaterThanOrEqual(98);
    expect(await redis.set(k('px'), 'v', 'PX', 50_000)).toBe('OK');
    expect(await redis.pttl(k('px'))).toBeGreaterThan(40_000);
    const now = Date.now();
    expect(await redis.set(k('exat'), 'v', 'EXAT', Math.floor(now / 1000) + 200)).toBe('OK');
    expect(await redis.ttl(k('exat'))).toBeGreaterThan(150);
    expect(await redis.set(k('pxat'), 'v', 'PXAT', now + 300_000)).toBe('OK');
    expect(await redis.pttl(k('pxat'))).toBeGreaterThan(250_000);
    expect(await redis.set(k('past'), 'v', 'PXAT', now - 1000)).toBe('OK');
    expect(await redis.exists(k('past'))).toBe(0);
    // TTL semantics: -2 for a missing key, -1 for a key without expiry.
    expect(await redis.ttl(k('nothing'))).toBe(-2);
    expect(await redis.pttl(k('nothing'))).toBe(-2);
    expect(await redis.ttl(k('s'))).toBe(-1);
    expect(await redis.setex(k('setex'), 100, 'v')).toBe('OK');
    expect(await redis.psetex(k('psetex'), 100_000, 'v')).toBe('OK');
    expect(await redis.pttl(k('psetex'))).toBeGreaterThan(90_000);
    expect(await redis.setnx(k('setnx'), 'first')).toBe(1);
    expect(await redis.setnx(k('setnx'), 'second')).toBe(0);
    expect(await redis.getset(k('setnx'), 'third')).toBe('first');
    expect(await redis.getdel(k('setnx'))).toBe('third');
    expect(await redis.getdel(k('setnx'))).toBeNull();
    expect(await redis.getex(k('s'), 'EX', 100)).toBe('v2');
    expect(await redis.ttl(k('s'))).toBeGreaterThanOrEqual(99);
    expect(await redis.getex(k('s'), 'PERSIST')).toBe('v2');
    expect(await redis.ttl(k('s'))).toBe(-1);
    expect(await redis.expire(k('s'), 100)).toBe(1);
    expect(await redis.expire(k('s'), 50, 'GT')).toBe(0);
    expect(await redis.expire(k('s'), 50, 'LT')).toBe(1);
    expect(await redis.pexpire(k('s'), 80_000)).toBe(1);
    expect(await redis.pttl(k('s'))).toBeGreaterThan(70_000);
    expect(await redis.expireat(k('s'), Math.floor(Date.now() / 1000) + 500)).toBe(1);
    expect(await redis.ttl(k('s'))).toBeGreaterThan(400);
    expect(await redis.persist(k('s'))).toBe(1);
    expect(await redis.persist(k('s'))).toBe(0);
    expect(await redis.expire(k('s'), 10, 'NX')).toBe(1);
    expect(await redis.expire(k('s'), 0)).toBe(1);
    expect(await redis.exists(k('s'))).toBe(0);
    expect(await redis.type(k('ex'))).toBe('string');
    expect(await redis.type(k('nothing'))).toBe('none');
    expect(await redis.incr(k('n'))).toBe(1);
    expect(await redis.incrby(k('n'), 41)).toBe(42);
    expect(await redis.decr(k('n'))).toBe(41);
    expect(await redis.decrby(k('n'), 40)).toBe(1);
    // ioredis turns integer replies into doubles: the exact 64-bit text is checked by GET.
    await redis.incrby(k('big'), '9223372036854775806');
    expect(await redis.get(k('big'))).toBe('9223372036854775806');
    await redis.incrby(k('big'), '1');
    await expect(redis.incr(k('big'))).rejects.toThrow('ERR increment or decrement would overflow');
    expect(await redis.get(k('big'))).toBe('9223372036854775807');
    await expect(redis.incr(k('ex'))).rejects.toThrow(
      'ERR value is not an integer or out of range',
    );
    expect(await redis.append(k('app'), 'abc')).toBe(3);
    expect(await redis.append(k('app'), 'de')).toBe(5);
    expect(await redis.strlen(k('app'))).toBe(5);
    expect(await redis.strlen(k('nothing'))).toBe(0);
    expect(await redis.mset(k('m1'), 'x', k('m2'), 'y')).toBe('OK');
    expect(await redis.mget(k('m1'), k('nothing'), k('m2'))).toEqual(['x', null, 'y']);
    expect(await redis.exists(k('m1'), k('m2'), k('m1'), k('nothing'))).toBe(3);
    expect(await redis.del(k('m1'), k('m1'), k('nothing'))).toBe(1);
    expect(await redis.unlink(k('m2'))).toBe(1);
  });

  it('runs the connection and server commands on one node with real figures', async () => {
    const [a] = nodes as [RespNode];
    const client = single(a);
    expect(await client.ping()).toBe('PONG');
    expect(await client.echo('hi')).toBe('hi');
    expect(await client.select(0)).toBe('OK');
    await expect(client.select(1)).rejects.toThrow('ERR DB index is out of range');
    expect(await client.client('SETNAME', 'tester')).toBe('OK');
    expect(await client.client('GETNAME')).toBe('tester');
    expect(typeof (await client.client('ID'))).toBe('number');
    expect(await client.client('INFO')).toContain('name=tester');
    expect(Number(await client.command('COUNT'))).toBeGreaterThan(40);
    const docs = (await client.call('COMMAND', 'DOCS', 'get')) as unknown[];
    expect(docs[0]).toBe('get');
    const hello = (await client.call('HELLO', '3')) as unknown[];
    expect(hello).toContain('cluster');
    await client.call('HELLO', '2');
    const { own } = keysFor(nodes, a);
    await client.set(own, 'x', 'EX', 1000);
    const info = await client.info();
    expect(info).toMatch(/# Stats\r\n[^#]*total_commands_processed:[1-9]/);
    expect(info).toMatch(/# Replication\r\nrole:master\r\nconnected_slaves:2/);
    expect(info).toContain('cluster_enabled:1');
    expect(info).toContain('cluster_state:ok');
    expect(info).toContain(`shoal_view_epoch:${a.view()!.epoch}`);
    expect(info).toContain('shoal_members:3');
    expect(info).toMatch(/shoal_primary_partitions:[1-9]/);
    const stats = a.stats();
    expect(info).toContain(`used_memory:${stats.bytes}`);
    const keyspace = await client.info('keyspace');
    expect(keyspace).toMatch(/db0:keys=[1-9]\d*,expires=[1-9]/);
    const quitting = single(a);
    expect(await quitting.quit()).toBe('OK');
  });

  it('pipelines 1,000 commands', async () => {
    const [a] = nodes as [RespNode];
    const redis = cluster(a);
    const pipeline = redis.pipeline();
    for (let i = 0; i < 500; i++) pipeline.set(`{pipe}:${i}`, String(i));
    for (let i = 0; i < 500; i++) pipeline.incr(`{pipe}:${i}`);
    const results = await pipeline.exec();
    expect(results).toHaveLength(1000);
    expect(results!.every(([error]) => error === null)).toBe(true);
    expect(results!.slice(500).map(([, value]) => value)).toEqual(
      Array.from({ length: 500 }, (_, i) => i + 1),
    );
    const owner = primaryOf(nodes, '{pipe}:0');
    const direct = single(owner);
    const replies = await direct
      .pipeline(Array.from({ length: 1000 }, (_, i) => ['get', `{pipe}:${i % 500}`]))
      .exec();
    expect(replies!.map(([, value]) => value)).toEqual(
      Array.from({ length: 1000 }, (_, i) => String((i % 500) + 1)),
    );
  });

  it('keeps all 256 byte values, and maps values between RESP and the JS API', async () => {
    const [a, b] = nodes as [RespNode, RespNode];
    const redis = cluster(a);
    const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const binaryKey = Buffer.concat([Buffer.from('{bin}'), every]);
    expect(await redis.set(binaryKey, every)).toBe('OK');
    expect(await redis.getBuffer(binaryKey)).toEqual(every);
    expect(await redis.set('{bin}v', every)).toBe('OK');
    // Through the JS API a RESP value is a Buffer, on any node.
    expect(await b.get('{bin}v')).toEqual(every);
    await b.set('{js}text', 'héllo ✓');
    await b.set('{js}number', 41);
    await b.set('{js}object', { a: 1 });
    expect(await redis.getBuffer('{js}text')).toEqual(Buffer.from('héllo ✓'));
    expect(await redis.get('{js}number')).toBe('41');
    expect(await redis.incr('{js}number')).toBe(42);
    expect(await b.get('{js}number')).toBe(42);
    expect(await b.incr('{js}number')).toBe(43);
    await expect(redis.get('{js}object')).rejects.toThrow(/^WRONGTYPE/);
    expect(await redis.mget('{js}object', '{js}number')).toEqual([null, '43']);
  });

  it('routes redis-cli -c across the nodes', async () => {
    const [a, b] = nodes as [RespNode, RespNode];
    const auth = ['-a', TEST_SECRET, '--no-auth-warning', '-c'];
    const keys = Array.from({ length: 12 }, (_, i) => `cli:${i}`);
    expect(new Set(keys.map((key) => primaryOf(nodes, key))).size).toBe(3);
    const script = [
      ...keys.map((key) => `SET ${key} value-${key}`),
      ...keys.map((key) => `GET ${key}`),
      `INCRBY ${keys[0]}:n 5`,
      `APPEND ${keys[1]} !`,
      `STRLEN ${keys[1]}`,
      `EXPIRE ${keys[2]} 100`,
      `TTL ${keys[2]}`,
      `TTL cli:none`,
      `DEL ${keys[3]}`,
      `EXISTS ${keys[3]}`,
    ].join('\n');
    const { stdout } = await redisCli(a.respPort, auth, `${script}\n`);
    const all = stdout.trim().split('\n');
    // redis-cli -c notes each MOVED it follows.
    const redirects = all.filter((line) => line.startsWith('-> Redirected to slot'));
    expect(redirects.length).toBeGreaterThan(0);
    const lines = all.filter((line) => !line.startsWith('-> Redirected to slot'));
    expect(lines.slice(0, 12)).toEqual(keys.map(() => 'OK'));
    expect(lines.slice(12, 24)).toEqual(keys.map((key) => `value-${key}`));
    expect(lines.slice(24)).toEqual([
      '5',
      String(`value-${keys[1]}!`.length),
      String(`value-${keys[1]}!`.length),
      '1',
      '100',
      '-2',
      '1',
      '0',
    ]);
    const viaOther = await redisCli(b.respPort, [...auth, 'GET', keys[5]!]);
    expect(viaOther.stdout.trim()).toBe(`value-${keys[5]}`);
  });

  it('counts keys per node with DBSIZE and flushes the whole cache with FLUSHALL', async () => {
    const [a, b] = nodes as [RespNode, RespNode];
    const redis = cluster(a);
    expect(await single(b).flushall()).toBe('OK');
    const keys = Array.from({ length: 90 }, (_, i) => `count:${i}`);
    for (const key of keys) await redis.set(key, 'x');
    const counts = await Promise.all(nodes.map((node) => single(node).dbsize()));
    // Each node counts the keys it serves, as Redis Cluster nodes do.
    expect(counts).toEqual(
      nodes.map((node) => keys.filter((key) => primaryOf(nodes, key) === node).length),
    );
    expect(await single(b).flushdb()).toBe('OK');
    for (const node of nodes) expect(await single(node).dbsize()).toBe(0);
    expect(await redis.get(keys[0]!)).toBeNull();
  });
});

describe('a shoal node with --resp-proxy', () => {
  let nodes: RespNode[] = [];

  afterAll(async () => {
    for (const node of nodes.reverse()) await node.stop();
  });

  it('serves every key like a standalone Redis, forwarding to the owners', async () => {
    nodes = await startCluster('px');
    const [a] = nodes as [RespNode];
    const proxy = (await Shoal.start({
      id: 'px-proxy',
      secret: TEST_SECRET,
      host: '127.0.0.1',
      port: 0,
      replicationFactor: 2,
      voters: [`px-a=${a.url}`],
      respPort: 0,
      respProxy: true,
      respPassword: 'redis-only',
    })) as RespNode;
    nodes.push(proxy);
    const client = single(proxy, { password: 'redis-only' });
    const keys = Array.from({ length: 30 }, (_, i) => `proxy:${i}`);
    for (const key of keys) expect(await client.set(key, key)).toBe('OK');
    expect(await client.mget(...keys)).toEqual(keys);
    expect(await client.dbsize()).toBe(30);
    await expect(client.cluster('SLOTS')).rejects.toThrow('cluster support disabled');
    expect(await a.get('proxy:3')).toEqual(Buffer.from('proxy:3'));
  }, 60_000);
});

describe('failover under ioredis Cluster and redis-cli -c', () => {
  let nodes: RespNode[] = [];

  afterAll(async () => {
    for (const node of nodes.reverse()) await node.stop();
  });

  it('keeps serving every key after a node stops, following the new primaries', async () => {
    nodes = await startCluster('fo');
    const [a, , c] = nodes as [RespNode, RespNode, RespNode];
    const redis = cluster(a);
    const keys = Array.from({ length: 60 }, (_, i) => `fo:${i}`);
    for (const key of keys) expect(await redis.set(key, `v-${key}`)).toBe('OK');
    const movedAway = keys.filter((key) => primaryOf(nodes, key) === c);
    expect(movedAway.length).toBeGreaterThan(0);
    await c.stop();
    const survivors = nodes.slice(0, 2);
    await eventually(() =>
      survivors.every((node) => node.view()?.members.length === 2 && node.isSettled()),
    );
    // The client's slot map still names the stopped node until it refreshes.
    await eventually(async () => {
      try {
        return (await redis.get(movedAway[0]!)) === `v-${movedAway[0]}`;
      } catch {
        return false;
      }
    });
    for (const key of keys) expect(await redis.get(key)).toBe(`v-${key}`);
    for (const key of movedAway) expect(await redis.set(key, 'after')).toBe('OK');
    const { stdout } = await redisCli(a.respPort, [
      '-a',
      TEST_SECRET,
      '--no-auth-warning',
      '-c',
      'GET',
      movedAway[0]!,
    ]);
    expect(stdout.trim()).toBe('after');
  }, 90_000);
});

/** A key for every slot (`slot:<n>` keys, found once by search). */
const SLOT_KEYS: string[] = (() => {
  const keys = new Array<string>(16384);
  let missing = 16384;
  for (let i = 0; missing > 0; i++) {
    const key = `slot:${i}`;
    const slot = partitionOf(key);
    if (keys[slot] === undefined) {
      keys[slot] = key;
      missing--;
    }
  }
  return keys;
})();

function keyInSlot(slot: number): string {
  return SLOT_KEYS[slot]!;
}
