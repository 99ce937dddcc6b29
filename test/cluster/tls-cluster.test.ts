/**
 * TLS end to end through a cluster: three nodes serving `wss` with a self-signed
 * certificate made in the test, each dialing the others over TLS, and a ShoalClient
 * holding only the client credential doing operations over `wss`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Shoal, type ShoalNode } from '../../src/api/shoal.js';
import { ShoalClient } from '../../src/api/shoal-client.js';
import { selfSignedCertificate } from '../transport/ws-self-signed-cert.js';

const SECRET = 'tls-cluster-secret';
const CLIENT_SECRET = 'tls-client-credential';
const stoppers: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const stop of stoppers.splice(0).reverse()) await stop();
});

async function eventually(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('a TLS cluster', () => {
  it('replicates between three wss nodes and serves a wss client', async () => {
    const { key, cert } = selfSignedCertificate();
    const tls = { key, cert, ca: cert };
    const start = async (id: string, voters?: string[]): Promise<ShoalNode> => {
      const node = await Shoal.start({
        id,
        secret: SECRET,
        clientSecret: CLIENT_SECRET,
        tls,
        ...(voters === undefined ? {} : { voters }),
      });
      stoppers.push(() => node.stop());
      return node;
    };
    const a = await start('a');
    expect(a.url).toMatch(/^wss:\/\//);
    const voters = [`a=${a.url}`];
    const nodes = [a, await start('b', voters), await start('c', voters)];
    await eventually(() => nodes.every((n) => n.view()?.members.length === 3 && n.isSettled()));
    for (const n of nodes) {
      for (const member of n.view()!.members) expect(member.address).toMatch(/^wss:\/\//);
    }

    const client = await ShoalClient.connect({
      seeds: [`a=${a.url}`],
      clientSecret: CLIENT_SECRET,
      tls: { ca: cert },
    });
    stoppers.push(() => client.stop());
    await client.mset(Array.from({ length: 200 }, (_, i) => [`tls:${i}`, { i }] as const));
    expect(await client.incr('tls:counter', 3)).toBe(3);
    const values = await client.mget(Array.from({ length: 200 }, (_, i) => `tls:${i}`));
    expect(values).toEqual(Array.from({ length: 200 }, (_, i) => ({ i })));
    // Replication crossed TLS links: every key is held by its backup too.
    for (const k of ['tls:0', 'tls:57', 'tls:199']) {
      const holders = nodes.filter((n) => n.roleOf(k) !== 'none');
      expect(holders).toHaveLength(2);
      for (const n of holders)
        expect(await n.get(k, { readFrom: 'any' })).toEqual(values[Number(k.slice(4))]);
    }

    // A client that does not trust the certificate never connects.
    await expect(
      ShoalClient.connect({
        seeds: [`a=${a.url}`],
        clientSecret: CLIENT_SECRET,
        connectTimeoutMs: 2_000,
      }),
    ).rejects.toThrow();
  });
});
