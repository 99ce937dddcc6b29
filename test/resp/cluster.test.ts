import { Cluster, Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { respKeySlot } from '../../src/resp/key-slot.js';
import { RespServer } from '../../src/resp/server.js';
import {
  MemoryClusterLayout,
  MemoryKeyspace,
  MemoryRespBackend,
  memoryNodeId,
} from '../support/memory-resp-backend.js';
import { type RawRespClient as RawClient, RawRespClient } from './support/raw-client.js';
import type { Reply } from './support/reply-reader.js';

const NAMES = ['n1', 'n2', 'n3'] as const;
const RANGES: readonly [number, number][] = [
  [0, 5460],
  [5461, 10922],
  [10923, 16383],
];

interface TestNode {
  readonly id: string;
  readonly server: RespServer;
  readonly backend: MemoryRespBackend;
  readonly port: number;
}

let layout: MemoryClusterLayout;
let nodes: TestNode[];
const clients: { disconnect(): void }[] = [];
const raws: RawClient[] = [];

function slotOf(key: string): number {
  return respKeySlot(Buffer.from(key), key);
}

/** A key whose slot is owned by node `index` (0-based), found by counting up. */
function keyOwnedBy(index: number, prefix = 'key'): string {
  const [first, last] = RANGES[index]!;
  for (let i = 0; ; i++) {
    const slot = slotOf(`${prefix}${i}`);
    if (slot >= first && slot <= last) return `${prefix}${i}`;
  }
}

async function raw(node: TestNode): Promise<RawClient> {
  const client = await RawRespClient.connect(node.port);
  raws.push(client);
  return client;
}

function text(reply: Reply): string {
  if (reply.type === 'bulk' || reply.type === 'simple' || reply.type === 'error')
    return reply.value;
  if (reply.type === 'verbatim') return reply.value;
  throw new Error(`not a text reply: ${JSON.stringify(reply)}`);
}

beforeEach(async () => {
  const keyspace = new MemoryKeyspace();
  layout = new MemoryClusterLayout();
  for (const name of NAMES) {
    layout.addNode({
      id: memoryNodeId(name),
      host: '127.0.0.1',
      port: 0,
      busPort: 17000,
      health: 'online',
    });
  }
  NAMES.forEach((name, index) => {
    const [first, last] = RANGES[index]!;
    layout.assign(first, last, memoryNodeId(name));
    layout.replicas.set(memoryNodeId(name), [memoryNodeId(NAMES[(index + 1) % 3]!)]);
  });
  nodes = [];
  for (const name of NAMES) {
    const id = memoryNodeId(name);
    const backend = new MemoryRespBackend({ keyspace, layout, selfId: id });
    const server = new RespServer({ backend, host: '127.0.0.1', port: 0 });
    const { port } = await server.listen();
    layout.setAddress(id, '127.0.0.1', port);
    nodes.push({ id, server, backend, port });
  }
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  for (const client of raws.splice(0)) client.close();
  await Promise.all(nodes.map((node) => node.server.close()));
});

describe('Redis Cluster protocol over a 3-node layout', () => {
  it('describes the layout in CLUSTER SLOTS, SHARDS, NODES, INFO and MYID', async () => {
    const client = await raw(nodes[0]!);
    const slots = await client.call(['CLUSTER', 'SLOTS']);
    expect(slots.type).toBe('array');
    const ranges = slots.type === 'array' ? slots.items : [];
    expect(ranges).toHaveLength(3);
    ranges.forEach((range, index) => {
      const node = nodes[index]!;
      const replica = nodes[(index + 1) % 3]!;
      expect(range).toEqual({
        type: 'array',
        items: [
          { type: 'integer', value: BigInt(RANGES[index]![0]) },
          { type: 'integer', value: BigInt(RANGES[index]![1]) },
          {
            type: 'array',
            items: [
              { type: 'bulk', value: '127.0.0.1' },
              { type: 'integer', value: BigInt(node.port) },
              { type: 'bulk', value: node.id },
              { type: 'array', items: [] },
            ],
          },
          {
            type: 'array',
            items: [
              { type: 'bulk', value: '127.0.0.1' },
              { type: 'integer', value: BigInt(replica.port) },
              { type: 'bulk', value: replica.id },
              { type: 'array', items: [] },
            ],
          },
        ],
      });
    });
    expect(text(await client.call(['CLUSTER', 'MYID']))).toBe(nodes[0]!.id);
    const info = text(await client.call(['CLUSTER', 'INFO']));
    expect(info).toContain('cluster_state:ok\r\n');
    expect(info).toContain('cluster_slots_assigned:16384\r\n');
    expect(info).toContain('cluster_known_nodes:3\r\n');
    expect(info).toContain('cluster_size:3\r\n');
    const lines = text(await client.call(['CLUSTER', 'NODES']))
      .trimEnd()
      .split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe(
      `${nodes[0]!.id} 127.0.0.1:${nodes[0]!.port}@17000 myself,master - 0 0 ${layout.epoch} connected 0-5460`,
    );
    expect(lines[1]).toMatch(/ master - 0 0 \d+ connected 5461-10922$/);
    const shards = await client.call(['CLUSTER', 'SHARDS']);
    expect(shards.type === 'array' && shards.items.length).toBe(3);
  });

  it('computes CLUSTER KEYSLOT as Redis Cluster does, hash tags included', async () => {
    const client = await raw(nodes[1]!);
    const slot = async (key: string | Buffer) => {
      const reply = await client.call(['CLUSTER', 'KEYSLOT', key]);
      return reply.type === 'integer' ? Number(reply.value) : -1;
    };
    expect(await slot('123456789')).toBe(0x31c3 & 16383);
    expect(await slot('foo')).toBe(12182);
    expect(await slot('{user1000}.following')).toBe(await slot('user1000'));
    expect(await slot('foo{}{bar}')).toBe(8363);
    expect(await slot('foo{{bar}}zap')).toBe(4015);
  });

  it('answers -MOVED for keys owned elsewhere and serves its own', async () => {
    const client = await raw(nodes[0]!);
    const mine = keyOwnedBy(0);
    const theirs = keyOwnedBy(2);
    expect(await client.call(['SET', mine, 'v'])).toEqual({ type: 'simple', value: 'OK' });
    expect(await client.call(['GET', theirs])).toEqual({
      type: 'error',
      value: `MOVED ${slotOf(theirs)} 127.0.0.1:${nodes[2]!.port}`,
    });
    expect(await client.call(['SET', theirs, 'v', 'BADOPTION'])).toEqual({
      type: 'error',
      value: `MOVED ${slotOf(theirs)} 127.0.0.1:${nodes[2]!.port}`,
    });
    expect(await client.call(['PING'])).toEqual({ type: 'simple', value: 'PONG' });
  });

  it('answers -CROSSSLOT for multi-key commands over several slots', async () => {
    const client = await raw(nodes[0]!);
    const tagged = ['{t}a', '{t}b', '{t}c'];
    const owner = nodes.find((node) => node.backend.slotOwner(slotOf('t')) === 'self')!;
    const ownerClient = await raw(owner);
    expect(await ownerClient.call(['MSET', tagged[0]!, '1', tagged[1]!, '2'])).toEqual({
      type: 'simple',
      value: 'OK',
    });
    expect(await ownerClient.call(['MGET', ...tagged])).toEqual({
      type: 'array',
      items: [{ type: 'bulk', value: '1' }, { type: 'bulk', value: '2' }, { type: 'null' }],
    });
    const crossslot = {
      type: 'error',
      value: "CROSSSLOT Keys in request don't hash to the same slot",
    };
    expect(await client.call(['MGET', keyOwnedBy(0), keyOwnedBy(0, 'other')])).toEqual(crossslot);
    expect(await client.call(['DEL', 'a', 'b'])).toEqual(crossslot);
  });

  it('answers -ASK during a handoff and serves the target only after ASKING', async () => {
    const source = nodes[0]!;
    const target = nodes[1]!;
    const present = keyOwnedBy(0);
    const slot = slotOf(present);
    const absent = (() => {
      for (let i = 0; ; i++) {
        const key = `{${present}}absent${i}`;
        if (slotOf(key) === slot) return key;
      }
    })();
    const fromSource = await raw(source);
    const fromTarget = await raw(target);
    await fromSource.call(['SET', present, 'here']);
    layout.startHandoff(slot, target.id);

    expect(await fromSource.call(['GET', present])).toEqual({ type: 'bulk', value: 'here' });
    const ask = { type: 'error', value: `ASK ${slot} 127.0.0.1:${target.port}` };
    expect(await fromSource.call(['GET', absent])).toEqual(ask);
    expect(await fromSource.call(['MGET', present, absent])).toEqual({
      type: 'error',
      value: 'TRYAGAIN Multiple keys request during rehashing of slot',
    });
    const moved = { type: 'error', value: `MOVED ${slot} 127.0.0.1:${source.port}` };
    expect(await fromTarget.call(['GET', absent])).toEqual(moved);
    expect(await fromTarget.call(['ASKING'])).toEqual({ type: 'simple', value: 'OK' });
    expect(await fromTarget.call(['SET', absent, 'new'])).toEqual({ type: 'simple', value: 'OK' });
    expect(await fromTarget.call(['GET', absent])).toEqual(moved);

    layout.finishHandoff(slot);
    expect(await fromTarget.call(['GET', absent])).toEqual({ type: 'bulk', value: 'new' });
    expect(await fromSource.call(['GET', present])).toEqual({
      type: 'error',
      value: `MOVED ${slot} 127.0.0.1:${target.port}`,
    });
  });

  it('routes an ioredis Cluster client across the nodes and follows a failover', async () => {
    const cluster = new Cluster([{ host: '127.0.0.1', port: nodes[0]!.port }], {
      retryDelayOnFailover: 20,
      retryDelayOnClusterDown: 20,
      clusterRetryStrategy: (times) => (times > 20 ? null : 20),
      redisOptions: { maxRetriesPerRequest: 5 },
    });
    clients.push(cluster);
    const keys = Array.from({ length: 300 }, (_, i) => `user:${i}`);
    await Promise.all(keys.map((key) => cluster.set(key, `v-${key}`)));
    expect(await Promise.all(keys.map((key) => cluster.get(key)))).toEqual(
      keys.map((key) => `v-${key}`),
    );
    for (const node of nodes) {
      // Every node served the keys of its own range without redirecting.
      const owned = keys.filter((key) => node.backend.slotOwner(slotOf(key)) === 'self');
      expect(owned.length).toBeGreaterThan(0);
      expect(node.server.stats.commandsProcessed).toBeGreaterThanOrEqual(owned.length * 2);
    }

    // n2 dies; its replica n3 takes over n2's slots (the shared keyspace stands in
    // for the replicated data), and the other nodes now answer MOVED toward n3.
    const failed = nodes[1]!;
    await failed.server.close();
    layout.setHealth(failed.id, 'failed');
    layout.assign(RANGES[1]![0], RANGES[1]![1], nodes[2]!.id);
    layout.replicas.delete(failed.id);
    const moved = keys.filter((key) => {
      const slot = slotOf(key);
      return slot >= RANGES[1]![0] && slot <= RANGES[1]![1];
    });
    expect(moved.length).toBeGreaterThan(0);
    expect(await Promise.all(moved.map((key) => cluster.get(key)))).toEqual(
      moved.map((key) => `v-${key}`),
    );
    await cluster.set(moved[0]!, 'after-failover');
    const direct = new Redis({ host: '127.0.0.1', port: nodes[2]!.port });
    clients.push(direct);
    expect(await direct.get(moved[0]!)).toBe('after-failover');
  });

  it('serves any key and disables CLUSTER in proxy mode', async () => {
    const keyspace = new MemoryKeyspace();
    const backend = new MemoryRespBackend({ keyspace, layout, selfId: nodes[0]!.id });
    const proxy = new RespServer({ backend, mode: 'proxy' });
    const { port } = await proxy.listen();
    try {
      const client = await RawRespClient.connect(port);
      raws.push(client);
      expect(await client.call(['MSET', keyOwnedBy(1), '1', keyOwnedBy(2), '2'])).toEqual({
        type: 'simple',
        value: 'OK',
      });
      expect(await client.call(['GET', keyOwnedBy(2)])).toEqual({ type: 'bulk', value: '2' });
      expect(await client.call(['CLUSTER', 'SLOTS'])).toEqual({
        type: 'error',
        value: 'ERR This instance has cluster support disabled',
      });
    } finally {
      await proxy.close();
    }
  });
});
