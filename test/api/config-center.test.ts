import { afterEach, describe, expect, it } from 'vitest';
import { Shoal, type ShoalNode } from '../../src/api/shoal.js';
import { ShoalClient } from '../../src/api/shoal-client.js';
import { ShoalError } from '../../src/util/errors.js';

const SECRET = 'config-center-secret';
const started: { stop(): Promise<void> }[] = [];

afterEach(async () => {
  for (const thing of started.splice(0).reverse()) await thing.stop();
});

/** Polls `condition` every 20 ms until it holds or `timeoutMs` passes. */
async function eventually(
  condition: () => boolean,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not reached in time: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function threeNodes(prefix: string, replicationFactor = 2): Promise<ShoalNode[]> {
  const first = await Shoal.start({ id: `${prefix}-a`, secret: SECRET, replicationFactor });
  started.push(first);
  const voters = [`${prefix}-a=${first.url}`];
  const nodes = [first];
  for (const suffix of ['b', 'c']) {
    const node = await Shoal.start({
      id: `${prefix}-${suffix}`,
      secret: SECRET,
      voters,
      replicationFactor,
    });
    started.push(node);
    nodes.push(node);
  }
  await eventually(
    () => nodes.every((node) => node.view()?.members.length === 3 && node.isSettled()),
    'three settled members',
  );
  return nodes;
}

async function failure(promise: Promise<unknown>): Promise<ShoalError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ShoalError);
  return error as ShoalError;
}

describe('the config center across three nodes', () => {
  it('shows every node the same changes in the same order, for concurrent sets from every node', async () => {
    const nodes = await threeNodes('order');
    const seen = nodes.map(() => [] as string[]);
    const unsubscribe = nodes.flatMap((node, i) =>
      ['app.mode', 'ttlJitter'].map((key) =>
        node.config.watch(key, (value, version) =>
          seen[i]!.push(`${key}=${String(value)}@${version}`),
        ),
      ),
    );
    const perNode = 8;
    await Promise.all(
      nodes.flatMap((node, n) =>
        Array.from({ length: perNode }, (_, i) =>
          Promise.all([
            node.config.set('app.mode', `${node.id}:${i}`),
            node.config.set('ttlJitter', (n * perNode + i) / 100),
          ]),
        ),
      ),
    );
    const total = 2 * nodes.length * perNode;
    await eventually(
      () => seen.every((list) => list.length === total),
      'every watch saw every set',
    );
    expect(seen[1]).toEqual(seen[0]);
    expect(seen[2]).toEqual(seen[0]);
    const versions = seen[0]!
      .filter((entry) => entry.startsWith('app.mode='))
      .map((entry) => Number(entry.split('@')[1]));
    expect(versions).toEqual(Array.from({ length: nodes.length * perNode }, (_, i) => i + 1));
    // The last committed jitter is what every node applies.
    const last = seen[0]!.filter((entry) => entry.startsWith('ttlJitter=')).at(-1)!;
    const jitter = Number(last.slice('ttlJitter='.length, last.indexOf('@')));
    for (const node of nodes) expect(node.stats().settings.ttlJitter).toBe(jitter);
    for (const off of unsubscribe) off();
    await nodes[0]!.config.set('app.mode', 'after');
    await eventually(
      () => nodes.every((node) => node.config.get('app.mode') === 'after'),
      'last set applied',
    );
    expect(seen.every((list) => list.length === total)).toBe(true);
  });

  it('applies each live setting on every node without a restart', async () => {
    const nodes = await threeNodes('live');
    const [a, b, c] = nodes as [ShoalNode, ShoalNode, ShoalNode];
    const client = await ShoalClient.connect({ seeds: [`live-a=${a.url}`], secret: SECRET });
    started.push(client);
    const everywhere = (what: string, check: (node: ShoalNode) => boolean) =>
      eventually(() => nodes.every(check), what);
    const keys = Array.from({ length: 60 }, (_, i) => `key:${i}`);

    // defaultTtlMs: sets without a TTL, through any node or the client, now expire.
    await b.config.set('defaultTtlMs', 60_000);
    await everywhere('defaultTtlMs', (node) => node.stats().settings.defaultTtlMs === 60_000);
    await c.set('plain', 'x');
    await client.set('plain-client', 'y');
    for (const key of ['plain', 'plain-client']) {
      const ttl = await a.ttl(key);
      expect(ttl).toBeGreaterThan(50_000);
      expect(ttl).toBeLessThanOrEqual(60_000);
    }

    // ttlJitter: explicit TTLs are spread below what was asked.
    await c.config.set('ttlJitter', 0.5);
    await everywhere('ttlJitter', (node) => node.stats().settings.ttlJitter === 0.5);
    await Promise.all(keys.map((key, i) => nodes[i % 3]!.set(key, i, { ttlMs: 100_000 })));
    const ttls = await Promise.all(keys.map((key) => a.ttl(key)));
    for (const ttl of ttls) {
      expect(ttl).toBeGreaterThan(49_000);
      expect(ttl).toBeLessThanOrEqual(100_000);
    }
    expect(Math.min(...ttls)).toBeLessThan(75_000);

    // maxValueBytes: larger values are refused wherever they enter.
    const big = 'v'.repeat(2_000);
    expect(await a.set('big-before', big)).toBe(true);
    await a.config.set('maxValueBytes', 1_024);
    await everywhere('maxValueBytes', (node) => node.stats().settings.maxValueBytes === 1_024);
    for (const entry of [...nodes, client]) {
      expect((await failure(entry.set('big-after', big))).code).toBe('ERR_VALUE_TOO_LARGE');
    }
    expect(await client.get('big-after')).toBeUndefined();
    expect(await client.get('big-before')).toBe(big);

    // writeConcern: the default changes on every node, and writes keep working.
    await client.config.set('writeConcern', 'one');
    await everywhere('writeConcern', (node) => node.stats().settings.writeConcern === 'one');
    expect(await b.set('after-one', 1)).toBe(true);
    expect(await client.get('after-one')).toBe(1);

    // maxMemory: shrinking it evicts each node's store down to it.
    await client.config.set('maxValueBytes', null);
    const filler = 'f'.repeat(1_000);
    await client.mset(Array.from({ length: 600 }, (_, i) => [`fill:${i}`, filler] as const));
    expect(nodes.some((node) => node.stats().bytes > 256 * 1024)).toBe(true);
    await a.config.set('maxMemory', '128kb');
    await everywhere(
      'maxMemory',
      (node) =>
        node.stats().settings.maxMemoryBytes === 128 * 1024 && node.stats().bytes <= 128 * 1024,
    );
    for (const node of nodes) expect(node.stats().evictions).toBeGreaterThan(0);
  });

  it('refuses an invalid value before committing it, from a node and from a client', async () => {
    const node = await Shoal.start({ id: 'bad-a', secret: SECRET, replicationFactor: 1 });
    started.push(node);
    const client = await ShoalClient.connect({ seeds: [`bad-a=${node.url}`], secret: SECRET });
    started.push(client);
    const fromNode = await failure(node.config.set('maxMemory', 'banana'));
    expect(fromNode.code).toBe('ERR_INVALID_SETTING');
    expect(fromNode.message).toContain('"banana"');
    const fromClient = await failure(client.config.set('writeConcern', 'most'));
    expect(fromClient.code).toBe('ERR_INVALID_SETTING');
    expect(node.config.version('maxMemory')).toBe(0);
    expect(node.config.version('writeConcern')).toBe(0);
    expect(node.stats().settings.maxMemoryBytes).toBe(256 * 1024 * 1024);
    // The application's own keys are not checked.
    expect(await node.config.set('app.banana', 'banana')).toEqual({ version: 1 });
  });

  it('gives a node that joins later the settings already committed', async () => {
    const first = await Shoal.start({ id: 'late-a', secret: SECRET, replicationFactor: 1 });
    started.push(first);
    await first.config.set('defaultTtlMs', 5_000);
    await first.config.set('maxMemory', '2mb');
    const late = await Shoal.start({
      id: 'late-b',
      secret: SECRET,
      replicationFactor: 1,
      voters: [`late-a=${first.url}`],
      maxMemory: '64mb',
    });
    started.push(late);
    expect(late.stats().settings).toMatchObject({
      defaultTtlMs: 5_000,
      maxMemoryBytes: 2 * 1024 * 1024,
    });
    // null hands the key back to each node's own option.
    await first.config.set('maxMemory', null);
    await eventually(
      () => late.stats().settings.maxMemoryBytes === 64 * 1024 * 1024,
      'late-b back to its own maxMemory',
    );
    expect(first.stats().settings.maxMemoryBytes).toBe(256 * 1024 * 1024);
  });
});
