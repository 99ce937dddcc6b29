/**
 * The client credential end to end: a cluster started with `clientSecret` serves a
 * `ShoalClient` that holds only that credential, and refuses every coordinator,
 * replication and handoff message a client-credential connection forges, with the
 * cluster's data, view and leader unaffected.
 */
import { pack } from 'msgpackr';
import { afterEach, describe, expect, it } from 'vitest';
import { Shoal, type ShoalNode } from '../../src/api/shoal.js';
import { ShoalClient } from '../../src/api/shoal-client.js';
import { partitionOf } from '../../src/ring/partitioner.js';
import { RemoteError } from '../../src/transport/errors.js';
import { WsTransport } from '../../src/transport/ws-transport.js';
import { InvalidArgumentError } from '../../src/util/errors.js';

const SECRET = 'cluster-secret-for-nodes';
const CLIENT_SECRET = 'client-credential-for-apps';
const stoppers: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const stop of stoppers.splice(0).reverse()) await stop();
});

async function node(options: Parameters<typeof Shoal.start>[0]): Promise<ShoalNode> {
  const started = await Shoal.start(options);
  stoppers.push(() => started.stop());
  return started;
}

async function eventually(condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function refusalCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RemoteError) return error.remoteCode;
    throw error;
  }
  throw new Error('not refused');
}

async function cluster(): Promise<ShoalNode[]> {
  const a = await node({ id: 'a', secret: SECRET, clientSecret: CLIENT_SECRET });
  const voters = [`a=${a.url}`];
  const b = await node({ id: 'b', secret: SECRET, clientSecret: CLIENT_SECRET, voters });
  const c = await node({ id: 'c', secret: SECRET, clientSecret: CLIENT_SECRET, voters });
  const all = [a, b, c];
  await eventually(() => all.every((n) => n.view()?.members.length === 3 && n.isSettled()));
  return all;
}

describe('client credential', () => {
  it('serves cache operations to a client holding only the client credential', async () => {
    const [a, b] = await cluster();
    const client = await ShoalClient.connect({
      seeds: [`a=${a!.url}`],
      clientSecret: CLIENT_SECRET,
    });
    stoppers.push(() => client.stop());
    expect(await client.set('k', { v: 1 })).toBe(true);
    expect(await client.get('k')).toEqual({ v: 1 });
    expect(await client.incr('n', 5)).toBe(5);
    await client.mset([
      ['m1', 1],
      ['m2', 2],
    ]);
    expect(await client.mget(['m1', 'm2', 'nope'])).toEqual([1, 2, undefined]);
    expect(await b!.get('k')).toEqual({ v: 1 });
    expect((await client.nodeStatus('b')).id).toBe('b');
    // getOrLoad's lease requests are open to clients too.
    let loads = 0;
    const loader = async () => {
      loads++;
      return { loaded: true };
    };
    expect(await client.getOrLoad('lazy', loader)).toEqual({ loaded: true });
    expect(await client.getOrLoad('lazy', loader)).toEqual({ loaded: true });
    expect(loads).toBe(1);
    expect(await b!.get('lazy')).toEqual({ loaded: true });
    expect((await client.config.get('defaultTtlMs')).version).toBe(0);
    // Changing the cluster config needs the cluster secret.
    expect(await refusalCode(client.config.set('defaultTtlMs', 5_000))).toBe('ERR_FORBIDDEN');
    expect((await client.config.get('defaultTtlMs')).version).toBe(0);
  });

  it('refuses forged coordinator, replication and handoff traffic; the cluster is unaffected', async () => {
    const nodes = await cluster();
    const [a, b, c] = nodes as [ShoalNode, ShoalNode, ShoalNode];
    expect(await a.set('victim', 'original')).toBe(true);
    const before = a.status();
    const epoch = a.view()!.epoch;
    const partition = partitionOf('victim');
    // The forger holds the client credential and announces the id of voter a.
    const forger = WsTransport.client({ id: 'a', secret: CLIENT_SECRET, role: 'client' });
    stoppers.push(() => forger.close());
    for (const target of [b, c]) forger.addPeer(target.id, target.url);
    await eventually(() => forger.isConnected('b') && forger.isConnected('c'));
    const item = ['victim', pack('forged'), -1, Number.MAX_SAFE_INTEGER];
    const forged: Array<[string, Record<string, unknown>]> = [
      ['cache', { t: 'repl', e: epoch, p: partition, sid: 1, items: [item] }],
      ['cache', { t: 'sopen', e: epoch, sid: 7, ps: [partition], backup: true }],
      ['cache', { t: 'spull', sid: 7 }],
      ['cache', { t: 'probe', e: epoch, ps: [partition] }],
      ['cache', { t: 'configSet', key: 'defaultTtlMs', value: 1 }],
      [
        'coord',
        { t: 'vote', round: 1_000, state: 'leading', leader: 'a', epoch: 99, zxid: 2 ** 45 },
      ],
      ['coord', { t: 'propose', epoch: before.epoch, zxid: 2 ** 45, entry: { type: 'leave' } }],
    ];
    for (const target of ['b', 'c']) {
      for (const [channel, message] of forged) {
        expect(
          await refusalCode(forger.request(target, channel, message, { timeoutMs: 5_000 })),
        ).toBe('ERR_FORBIDDEN');
        expect(forger.send(target, channel, message)).toBe(true);
      }
      for (const message of [
        { t: 'drop', e: epoch, items: [['victim', Number.MAX_SAFE_INTEGER]] },
        { t: 'adopt', e: epoch, ps: [partition], sid: 3 },
        { t: 'release', e: epoch, ps: [partition] },
      ]) {
        expect(forger.send(target, 'cache', message)).toBe(true);
      }
    }
    // A round trip after the one-way messages: the connection is FIFO, so they were seen.
    for (const target of ['b', 'c']) {
      expect(
        await forger.request(target, 'cache', { t: 'view' }, { timeoutMs: 5_000 }),
      ).toBeDefined();
    }
    for (const n of nodes) {
      expect(await n.get('victim')).toBe('original');
      expect(n.view()!.epoch).toBe(epoch);
      expect(n.status().leader).toBe(before.leader);
      expect(n.status().epoch).toBe(before.epoch);
      expect(n.config.get('defaultTtlMs')).toBeUndefined();
    }
    // The real a is still a member and still writes.
    expect(await a.set('victim', 'updated')).toBe(true);
    expect(await c.get('victim')).toBe('updated');
  });

  it('needs exactly one credential, and refuses a wrong client credential', async () => {
    const [a] = await cluster();
    await expect(ShoalClient.connect({ seeds: [`a=${a!.url}`] })).rejects.toThrow(
      InvalidArgumentError,
    );
    await expect(
      ShoalClient.connect({
        seeds: [`a=${a!.url}`],
        secret: SECRET,
        clientSecret: CLIENT_SECRET,
      }),
    ).rejects.toThrow(InvalidArgumentError);
    await expect(
      ShoalClient.connect({
        seeds: [`a=${a!.url}`],
        clientSecret: 'not-the-credential',
        connectTimeoutMs: 2_000,
      }),
    ).rejects.toThrow();
    // A node cannot be started with the cluster secret as its client credential.
    await expect(Shoal.start({ id: 'x', secret: SECRET, clientSecret: SECRET })).rejects.toThrow(
      InvalidArgumentError,
    );
  });
});
