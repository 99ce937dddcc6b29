import { afterEach, describe, expect, it } from 'vitest';
import { Shoal } from '../../src/api/shoal.js';
import { ShoalClient } from '../../src/api/shoal-client.js';
import { ShoalError } from '../../src/util/errors.js';

const SECRET = 'client-config-secret';
const started: { stop(): Promise<void> }[] = [];

afterEach(async () => {
  for (const thing of started.splice(0).reverse()) await thing.stop();
});

describe('ShoalClient.config through a member coordinator', () => {
  it('reads, writes, and refuses a stale compare-and-set without changing the value', async () => {
    const node = await Shoal.start({ id: 'cfg-a', secret: SECRET, replicationFactor: 1 });
    started.push(node);
    const client = await ShoalClient.connect({ seeds: [`cfg-a=${node.url}`], secret: SECRET });
    started.push(client);

    expect(await client.config.get('limits')).toEqual({ value: undefined, version: 0 });
    expect(await client.config.set('limits', { rps: 10 }, { ifVersion: 0 })).toEqual({
      version: 1,
    });
    expect(await client.config.get('limits')).toEqual({ value: { rps: 10 }, version: 1 });
    expect(node.config.get('limits')).toEqual({ rps: 10 });

    const conflict = await client.config.set('limits', { rps: 99 }, { ifVersion: 0 }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(conflict).toBeInstanceOf(ShoalError);
    expect((conflict as ShoalError).code).toBe('ERR_COORD_VERSION_CONFLICT');
    expect(await client.config.get('limits')).toEqual({ value: { rps: 10 }, version: 1 });

    expect(await client.config.set('limits', 'plain')).toEqual({ version: 2 });
    const badKey = await client.config.get('x'.repeat(257)).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect((badKey as ShoalError).code).toBe('ERR_INVALID_ARGUMENT');
    const tooBig = await client.config.set('big', 'x'.repeat(70_000)).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect((tooBig as ShoalError).code).toBe('ERR_INVALID_ARGUMENT');
    expect(await client.config.get('big')).toEqual({ value: undefined, version: 0 });
  });

  it('watches a key by polling: newer versions only, in order, until unsubscribed', async () => {
    const node = await Shoal.start({ id: 'cfg-w', secret: SECRET, replicationFactor: 1 });
    started.push(node);
    const client = await ShoalClient.connect({
      seeds: [`cfg-w=${node.url}`],
      secret: SECRET,
      configPollMs: 20,
    });
    started.push(client);
    await node.config.set('app.level', 'one');
    const seen: [unknown, number][] = [];
    const unsubscribe = client.config.watch('app.level', (value, version) => {
      seen.push([value, version]);
    });
    const until = async (condition: () => boolean) => {
      const deadline = Date.now() + 10_000;
      while (!condition()) {
        if (Date.now() > deadline) throw new Error('the watch did not report in time');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    for (const value of ['two', 'three', 'four']) {
      const { version } = await node.config.set('app.level', value);
      await until(() => seen.some(([, seenVersion]) => seenVersion === version));
    }
    // The current value first, then newer versions only, each with its own value.
    const values = ['one', 'two', 'three', 'four'];
    for (const [value, version] of seen) expect(value).toBe(values[version - 1]);
    const versions = seen.map(([, version]) => version);
    expect(versions).toEqual([...new Set(versions)].sort((a, b) => a - b));
    expect(versions.at(-1)).toBe(4);
    unsubscribe();
    const later: number[] = [];
    client.config.watch('app.level', (_value, version) => later.push(version));
    await node.config.set('app.level', 'five');
    await until(() => later.includes(5));
    expect(seen.map(([, version]) => version)).toEqual(versions);
  });
});
