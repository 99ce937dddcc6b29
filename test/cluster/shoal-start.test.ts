import { afterEach, describe, expect, it } from 'vitest';
import { Shoal, type ShoalNode } from '../../src/api/shoal.js';
import { ShoalClient } from '../../src/api/shoal-client.js';

const SECRET = 'test-secret';
const started: { stop(): Promise<void> }[] = [];

afterEach(async () => {
  for (const thing of started.splice(0).reverse()) await thing.stop();
});

async function node(options: Parameters<typeof Shoal.start>[0]): Promise<ShoalNode> {
  const started_ = await Shoal.start(options);
  started.push(started_);
  return started_;
}

/** Polls `condition` every 20 ms until it holds or `timeoutMs` passes. */
async function eventually(condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('Shoal.start and ShoalClient.connect over real WebSockets', () => {
  it('starts a single node that serves its own keys, and a client that finds it by URL', async () => {
    const single = await node({ id: 'solo', secret: SECRET, replicationFactor: 1 });
    await eventually(() => single.isSettled());
    expect(await single.set('k', { hello: 'world' })).toBe(true);
    expect(await single.get('k')).toEqual({ hello: 'world' });
    const client = await ShoalClient.connect({ seeds: [single.url], secret: SECRET });
    started.push(client);
    expect(await client.get('k')).toEqual({ hello: 'world' });
    expect(await client.incr('n', 2)).toBe(2);
    expect(await single.get('n')).toBe(2);
    const byId = await ShoalClient.connect({ seeds: [`solo=${single.url}`], secret: SECRET });
    started.push(byId);
    expect(await byId.get('n')).toBe(2);
  });

  it('forms a three-node cluster through the coordinator and keeps keys across a leave', async () => {
    const first = await node({ id: 'a', secret: SECRET });
    const voters = [`a=${first.url}`];
    const second = await node({ id: 'b', secret: SECRET, voters });
    const third = await node({ id: 'c', secret: SECRET, voters });
    await eventually(() =>
      [first, second, third].every((n) => n.view()?.members.length === 3 && n.isSettled()),
    );
    const client = await ShoalClient.connect({ seeds: [`a=${first.url}`], secret: SECRET });
    started.push(client);
    await client.mset(Array.from({ length: 300 }, (_, i) => [`key:${i}`, i] as const));
    expect(await third.get('key:7')).toBe(7);
    await third.stop();
    await eventually(() =>
      [first, second].every((n) => n.view()?.members.length === 2 && n.isSettled()),
    );
    const values = await client.mget(Array.from({ length: 300 }, (_, i) => `key:${i}`));
    expect(values).toEqual(Array.from({ length: 300 }, (_, i) => i));
  });
});
