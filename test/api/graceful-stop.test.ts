import { afterEach, describe, expect, it } from 'vitest';
import { Shoal, type ShoalNode } from '../../src/api/shoal.js';
import { ShoalClient } from '../../src/api/shoal-client.js';
import { decodeRequest } from '../../src/cluster/messages.js';
import { ShoalError } from '../../src/util/errors.js';

const SECRET = 'graceful-stop-secret';
const started: { stop(): Promise<void> }[] = [];

afterEach(async () => {
  for (const thing of started.splice(0).reverse()) await thing.stop();
});

/** Polls `condition` every 20 ms until it holds or `timeoutMs` passes. */
async function eventually(condition: () => boolean, what: string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not reached in time: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('a node stopping cleanly with replication factor 1', () => {
  it('hands its partitions to their next owners first, so no key is lost', async () => {
    const first = await Shoal.start({ id: 'rf1-a', secret: SECRET, replicationFactor: 1 });
    started.push(first);
    const voters = [`rf1-a=${first.url}`];
    const nodes: ShoalNode[] = [first];
    for (const id of ['rf1-b', 'rf1-c']) {
      const node = await Shoal.start({ id, secret: SECRET, replicationFactor: 1, voters });
      started.push(node);
      nodes.push(node);
    }
    await eventually(
      () => nodes.every((node) => node.view()?.members.length === 3 && node.isSettled()),
      'three settled members',
    );
    const leaving = nodes[2]!;
    const keys = Array.from({ length: 600 }, (_, i) => `rf1:${i}`);
    await leaving.mset(
      keys.map((key, i) => [key, { i }] as const),
      { ttlMs: 600_000 },
    );
    const held = keys.filter((key) => leaving.roleOf(key) === 'primary');
    expect(held.length).toBeGreaterThan(100);

    const client = await ShoalClient.connect({ seeds: [`rf1-a=${first.url}`], secret: SECRET });
    started.push(client);
    // Writes keep going while the node leaves; each acknowledged one must survive.
    const half = Math.floor(held.length / 2);
    let writing = true;
    const acknowledged = new Map<string, number>();
    const writer = (async () => {
      for (let n = 0; writing; n++) {
        const key = held[n % half]!;
        try {
          await client.set(key, { i: -(n + 1) });
          acknowledged.set(key, -(n + 1));
        } catch {
          // Refused or unknown: not acknowledged, so not checked.
        }
      }
    })();
    await leaving.stop();
    writing = false;
    await writer;

    await eventually(
      () =>
        nodes.slice(0, 2).every((node) => node.view()?.members.length === 2 && node.isSettled()),
      'two settled members',
    );
    const values = await client.mget<{ i: number }>(keys);
    for (let i = 0; i < keys.length; i++) {
      expect(values[i], keys[i]).toEqual({ i: acknowledged.get(keys[i]!) ?? i });
    }
    // Handed over with its remaining TTL.
    const ttl = await client.ttl(held[held.length - 1]!);
    expect(ttl).toBeGreaterThan(500_000);
    expect(ttl).toBeLessThanOrEqual(600_000);
    expect(acknowledged.size).toBeGreaterThan(0);
  });
});

describe('the seed request a leaving node sends', () => {
  it('decodes strictly: partitions to clear, and entries without deletions', () => {
    const bytes = new Uint8Array([0xa1, 0x78]);
    expect(
      decodeRequest({ t: 'seed', e: 3, ps: [1, 2], items: [['k', bytes, -1, 7]] }, 1024),
    ).toEqual({ t: 'seed', e: 3, clear: [1, 2], items: [['k', bytes, -1, 7]] });
    const bad = [
      { t: 'seed', e: 3, ps: [1], items: [['k', null, -1, 7]] },
      { t: 'seed', e: 3, ps: [99_999], items: [] },
      { t: 'seed', e: 3, ps: [1], items: [['k', bytes, 0, 7]] },
      { t: 'seed', e: 3, ps: [1], items: [['k', new Uint8Array(2048), -1, 7]] },
      { t: 'seed', e: -1, ps: [], items: [] },
    ];
    for (const request of bad) expect(() => decodeRequest(request, 1024)).toThrow(ShoalError);
  });
});
