import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Shoal, type ShoalNode } from '../../src/api/shoal.js';
import { ShoalClient } from '../../src/api/shoal-client.js';
import type { ShoalCache } from '../../src/cluster/cache-api.js';
import { LoadAbandonedError, LoaderError } from '../../src/cluster/load-errors.js';

const SECRET = 'load-test-secret';
const started: { stop(): Promise<void> }[] = [];
let nodes: ShoalNode[] = [];
let callers: ShoalCache[] = [];

/** Polls `condition` every 20 ms until it holds or `timeoutMs` passes. */
async function eventually(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

beforeAll(async () => {
  const first = await Shoal.start({ id: 'a', secret: SECRET });
  started.push(first);
  const voters = [`a=${first.url}`];
  const second = await Shoal.start({ id: 'b', secret: SECRET, voters });
  started.push(second);
  const third = await Shoal.start({ id: 'c', secret: SECRET, voters });
  started.push(third);
  nodes = [first, second, third];
  await eventually(() => nodes.every((n) => n.view()?.members.length === 3 && n.isSettled()));
  const client = await ShoalClient.connect({ seeds: [`a=${first.url}`], secret: SECRET });
  started.push(client);
  callers = [...nodes, client];
}, 60_000);

afterAll(async () => {
  for (const thing of started.splice(0).reverse()) await thing.stop();
});

describe('getOrLoad on three Shoal.start nodes and a ShoalClient over WebSockets', () => {
  it('runs the loader exactly once for 100 concurrent callers spread over every endpoint', async () => {
    let calls = 0;
    const loader = async (key: string) => {
      calls++;
      // The loader's own work (a slow database), not synchronisation.
      await new Promise((resolve) => setTimeout(resolve, 50));
      return { key, rows: [1, 2, 3] };
    };
    const values = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        callers[i % callers.length]!.getOrLoad('report:42', loader, { ttlMs: 60_000 }),
      ),
    );
    expect(calls).toBe(1);
    for (const value of values) expect(value).toEqual({ key: 'report:42', rows: [1, 2, 3] });
    for (const caller of callers) {
      expect(await caller.get('report:42')).toEqual({ key: 'report:42', rows: [1, 2, 3] });
    }
    const leases = nodes.reduce((sum, node) => sum + node.stats().loads.leases, 0);
    expect(leases).toBe(1);
  });

  it('hands the loader error to the waiting client as a LoaderError with the same message', async () => {
    let calls = 0;
    const failing = async () => {
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 50));
      throw Object.assign(new Error('upstream 503'), { code: 'EUPSTREAM' });
    };
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => callers[i % callers.length]!.getOrLoad('bad', failing)),
    );
    expect(calls).toBe(1);
    for (const result of results) {
      expect(result.status).toBe('rejected');
      const error = (result as PromiseRejectedResult).reason as LoaderError;
      expect(error).toBeInstanceOf(LoaderError);
      expect(error.message).toBe('upstream 503');
      expect(error.loaderCode).toBe('EUPSTREAM');
    }
    expect(await callers[3]!.getOrLoad('bad', () => 'recovered')).toBe('recovered');
  });

  it('fails the waiters with LoadAbandonedError when the client holding the lease disconnects', async () => {
    const holder = await ShoalClient.connect({ seeds: [`a=${nodes[0]!.url}`], secret: SECRET });
    started.push(holder);
    let loading = false;
    const held = holder.getOrLoad('orphan', () => {
      loading = true;
      return new Promise<string>(() => {});
    });
    held.catch(() => {});
    await eventually(() => loading);
    const waits = () => nodes.reduce((sum, node) => sum + node.stats().loads.waits, 0);
    const waitsBefore = waits();
    const waiters = nodes.map((node) => node.getOrLoad('orphan', () => 'unused'));
    for (const waiter of waiters) waiter.catch(() => {});
    await eventually(() => waits() === waitsBefore + 3);
    await holder.stop();
    const results = await Promise.allSettled(waiters);
    for (const result of results) {
      expect((result as PromiseRejectedResult).reason).toBeInstanceOf(LoadAbandonedError);
    }
    expect(await nodes[1]!.getOrLoad('orphan', () => 'reloaded')).toBe('reloaded');
  });
});
