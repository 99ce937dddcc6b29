import { afterEach, describe, expect, it } from 'vitest';
import { ShoalClient } from '../../src/api/shoal-client.js';
import { OutcomeUnknownError } from '../../src/cluster/errors.js';
import { partitionOf } from '../../src/ring/partitioner.js';
import type { SimTransport } from '../../src/transport/sim-transport.js';
import type {
  ChannelHandlers,
  Message,
  NodeId,
  PeerListener,
  RequestOptions,
  Transport,
} from '../../src/transport/transport.js';
import { SimCluster, simAddress } from '../support/sim-cluster.js';

let cluster: SimCluster;
let client: ShoalClient | undefined;

afterEach(async () => {
  await client?.stop();
  client = undefined;
  await cluster?.stopAll();
});

/** Counts the requests a client sends, by message type. */
class CountingTransport implements Transport {
  readonly counts = new Map<string, number>();
  constructor(private readonly inner: SimTransport) {}
  get localId(): NodeId {
    return this.inner.localId;
  }
  addPeer(peer: NodeId, address: string): void {
    this.inner.addPeer(peer, address);
  }
  removePeer(peer: NodeId): void {
    this.inner.removePeer(peer);
  }
  handle(channel: string, handlers: ChannelHandlers): void {
    this.inner.handle(channel, handlers);
  }
  watchPeers(listener: PeerListener): () => void {
    return this.inner.watchPeers(listener);
  }
  send(peer: NodeId, channel: string, message: Message): boolean {
    return this.inner.send(peer, channel, message);
  }
  request(peer: NodeId, channel: string, message: Message, options: RequestOptions) {
    const type = String((message as { t?: unknown }).t);
    this.counts.set(type, (this.counts.get(type) ?? 0) + 1);
    return this.inner.request(peer, channel, message, options);
  }
  isConnected(peer: NodeId): boolean {
    return this.inner.isConnected(peer);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

async function startCluster(ids: readonly string[]): Promise<void> {
  cluster = new SimCluster({ seed: 21, node: { syncPartitionsPerSession: 4096 } });
  const members: string[] = [];
  for (const id of ids) {
    cluster.start(id);
    members.push(id);
    cluster.commit(members);
    await cluster.settle();
  }
}

async function connect(id = 'c1'): Promise<{ client: ShoalClient; transport: CountingTransport }> {
  const sim = cluster.net.createTransport(id);
  const transport = new CountingTransport(sim);
  const connecting = ShoalClient.over(transport, [{ id: 'n1', address: simAddress('n1') }], {
    scheduler: sim.scheduler,
  });
  client = await cluster.run(connecting);
  return { client, transport };
}

/** A key whose primary is `primary` in node n1's view. */
function keyOwnedBy(primary: string, prefix = 'key'): string {
  for (let i = 0; ; i++) {
    const key = `${prefix}:${i}`;
    if (cluster.node('n1').partitionOwners(partitionOf(key))[0] === primary) return key;
  }
}

describe('ShoalClient over SimNetwork', () => {
  it('learns the view from a seed and sends each operation straight to the primary', async () => {
    await startCluster(['n1', 'n2', 'n3']);
    const { client } = await connect();
    expect(client.view()?.epoch).toBe(cluster.epoch);
    for (let i = 0; i < 60; i++) expect(await cluster.run(client.set(`c:${i}`, { i }))).toBe(true);
    for (let i = 0; i < 60; i++) expect(await cluster.run(client.get(`c:${i}`))).toEqual({ i });
    expect(await cluster.run(client.incr('counter', 3))).toBe(3);
    expect(await cluster.run(client.set('nx', 1, { nx: true }))).toBe(true);
    expect(await cluster.run(client.set('nx', 2, { nx: true }))).toBe(false);
    expect(await cluster.run(client.expire('nx', 1000))).toBe(true);
    expect(await cluster.run(client.ttl('nx'))).toBeGreaterThan(900);
    expect(await cluster.run(client.delete('nx'))).toBe(true);
    expect(await cluster.run(client.has('nx'))).toBe(false);
    const forwarded = ['n1', 'n2', 'n3'].reduce(
      (n, id) => n + cluster.node(id).stats().forwarded,
      0,
    );
    expect(forwarded).toBe(0);
  });

  it('batches mget and mset into one request per primary', async () => {
    await startCluster(['n1', 'n2', 'n3']);
    const { client, transport } = await connect();
    const entries = Array.from({ length: 200 }, (_, i) => [`b:${i}`, i] as const);
    await cluster.run(client.mset(entries));
    expect(transport.counts.get('ops')).toBeLessThanOrEqual(3);
    const keys: string[] = [...entries.map(([key]) => key), 'missing'];
    const values = await cluster.run(client.mget(keys));
    expect(values).toEqual([...entries.map(([, value]) => value), undefined]);
    expect(transport.counts.get('ops')).toBeLessThanOrEqual(6);
    expect(transport.counts.get('op') ?? 0).toBe(0);
  });

  it('follows redirects after a view change without the caller noticing', async () => {
    await startCluster(['n1', 'n2', 'n3']);
    const { client } = await connect();
    for (let i = 0; i < 100; i++) await cluster.run(client.set(`r:${i}`, i));
    cluster.start('n4');
    cluster.commit(['n1', 'n2', 'n3', 'n4']);
    const reads = [];
    for (let i = 0; i < 100; i++) reads.push(client.get(`r:${i}`));
    expect(await cluster.run(Promise.all(reads))).toEqual(Array.from({ length: 100 }, (_, i) => i));
    await cluster.settle();
    for (let i = 0; i < 100; i++) expect(await cluster.run(client.get(`r:${i}`))).toBe(i);
    expect(client.view()?.epoch).toBe(cluster.epoch);
  });

  it('reports OutcomeUnknownError for a write whose connection died, and never re-sends it', async () => {
    await startCluster(['n1', 'n2', 'n3']);
    const { client } = await connect();
    let key = '';
    for (let i = 0; ; i++) {
      key = `u:${i}`;
      if (cluster.node('n2').roleOf(key) === 'primary') break;
    }
    await cluster.run(client.set(key, 10));
    cluster.net.configureLink('c1', 'n2', { minDelayMs: 50, maxDelayMs: 50 });
    const incr = client.incr(key, 1);
    incr.catch(() => {});
    await cluster.scheduler.runForAsync(10);
    cluster.crash('n2');
    await expect(cluster.run(incr)).rejects.toBeInstanceOf(OutcomeUnknownError);
    cluster.commit(['n1', 'n3']);
    await cluster.settle();
    // Reads are retried through the failover; the lost incr was never re-sent.
    expect(await cluster.run(client.get(key))).toBe(10);
  });

  it('keeps retrying a write to a killed primary that was refused before it left, until the new view arrives', async () => {
    await startCluster(['n1', 'n2', 'n3']);
    const { client } = await connect();
    const key = keyOwnedBy('n2');
    cluster.crash('n2');
    // The view without n2 comes late (a session or grace must pass first): far beyond
    // what maxRetries alone would cover, well within operationTimeoutMs (10 s).
    const write = client.set(key, 'after');
    const embedded = cluster.node('n1').set(keyOwnedBy('n2', 'embedded'), 'x');
    cluster.scheduler.setTimeout(() => cluster.commit(['n1', 'n3']), 3_000);
    expect(await cluster.run(write)).toBe(true);
    expect(await cluster.run(embedded)).toBe(true);
    expect(await cluster.run(client.get(key))).toBe('after');
  });

  it('retries reads across a failover', async () => {
    await startCluster(['n1', 'n2', 'n3']);
    const { client } = await connect();
    for (let i = 0; i < 30; i++) await cluster.run(client.set(`f:${i}`, i));
    cluster.crash('n3');
    const reads = Array.from({ length: 30 }, (_, i) => client.get(`f:${i}`));
    cluster.scheduler.setTimeout(() => cluster.commit(['n1', 'n2']), 200);
    expect(await cluster.run(Promise.all(reads))).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });
});
