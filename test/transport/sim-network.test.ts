import fc from 'fast-check';
import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { RequestTimeoutError } from '../../src/transport/errors.js';
import { SimNetwork } from '../../src/transport/sim-network.js';
import type { SimTraceRecord } from '../../src/transport/sim-trace.js';
import type { SimTransport } from '../../src/transport/sim-transport.js';
import type { NodeId } from '../../src/transport/transport.js';
import { InvalidArgumentError } from '../../src/util/errors.js';
import { SeededRandom } from '../../src/util/random.js';
import { SimScheduler, SimulationLimitError } from '../../src/util/sim-scheduler.js';
import { connectedNetwork, track } from './sim-fixture.js';

/**
 * A busy, faulty run: requests, messages, partitions, crashes, restarts and pauses,
 * all chosen by a script PRNG that is the same for every network seed, so only the
 * network's randomness differs between seeds.
 */
async function scriptedRun(networkSeed: number): Promise<{
  trace: readonly SimTraceRecord[];
  digest: string;
  outcomes: string[];
}> {
  const scheduler = new SimScheduler();
  const net = new SimNetwork({
    scheduler,
    random: new SeededRandom(networkSeed),
    defaultLink: { minDelayMs: 1, maxDelayMs: 20, dropProbability: 0.05 },
    trace: 'records',
  });
  const script = new SeededRandom(1234);
  const nodes = ['n1', 'n2', 'n3', 'n4'];
  const outcomes: string[] = [];
  const transports = new Map<NodeId, SimTransport>();

  const boot = (id: NodeId, transport: SimTransport) => {
    transports.set(id, transport);
    transport.handle('kv', {
      onRequest: async (from, request) => {
        await new Promise<void>((resolve) => transport.scheduler.setTimeout(resolve, 3));
        return { from, request, at: transport.scheduler.now() };
      },
      onMessage: (from, message) => outcomes.push(`${id}<${from}:${JSON.stringify(message)}`),
    });
    for (const peer of nodes) if (peer !== id) transport.addPeer(peer, `sim://${peer}`);
  };
  for (const id of nodes) boot(id, net.createTransport(id));
  const client = net.createTransport('c1');
  for (const peer of nodes) client.addPeer(peer, `sim://${peer}`);

  const pick = <T>(items: readonly T[]): T => items[script.int(items.length)]!;
  const requests: Array<Promise<void>> = [];
  for (let step = 0; step < 400; step++) {
    const action = script.int(100);
    const target = pick(nodes);
    if (action < 45) {
      const seq = step;
      requests.push(
        client.request(target, 'kv', { seq }, { timeoutMs: 200 }).then(
          (reply) => void outcomes.push(`reply ${seq} ${JSON.stringify(reply)}`),
          (error: { code: string }) => void outcomes.push(`fail ${seq} ${error.code}`),
        ),
      );
    } else if (action < 80) {
      const sender = transports.get(pick(nodes));
      if (sender?.isOpen && sender.localId !== target) {
        outcomes.push(`send ${step} ${sender.send(target, 'kv', { step })}`);
      }
    } else if (action < 85) {
      net.partition(
        [target],
        nodes.filter((id) => id !== target),
      );
    } else if (action < 90) {
      net.heal();
    } else if (action < 94) {
      if (net.status(target) === 'open') net.crash(target);
      else if (net.status(target) === 'crashed') boot(target, net.restart(target));
    } else if (action < 97) {
      if (net.status(target) === 'open') net.pause(target);
    } else {
      net.resume(target);
    }
    await scheduler.runForAsync(script.int(10));
  }
  for (const id of nodes) net.resume(id);
  net.heal();
  await scheduler.runForAsync(1000);
  await Promise.all(requests);
  return { trace: net.trace(), digest: net.traceDigest(), outcomes };
}

describe('SimNetwork determinism', () => {
  it('replays byte-identically for a seed, and differs for another seed', async () => {
    const first = await scriptedRun(42);
    const again = await scriptedRun(42);
    const other = await scriptedRun(43);
    expect(first.trace.length).toBeGreaterThan(200);
    for (const outcome of ['reply ', 'ERR_PEER_UNAVAILABLE', 'ERR_REQUEST_TIMEOUT']) {
      expect(first.outcomes.some((line) => line.includes(outcome))).toBe(true);
    }
    const kinds = new Set(first.trace.map((record) => record.kind));
    for (const kind of ['deliver', 'drop', 'lost', 'refused', 'up', 'down'] as const) {
      expect(kinds).toContain(kind);
    }
    expect(again.trace).toEqual(first.trace);
    expect(again.digest).toBe(first.digest);
    expect(again.outcomes).toEqual(first.outcomes);
    expect(other.digest).not.toBe(first.digest);
  });

  it('keeps a digest without records in digest mode, equal to the records-mode digest', () => {
    const run = (trace: 'digest' | 'records') => {
      const { scheduler, net, t } = connectedNetwork(5, ['a', 'b'], {
        trace,
        defaultLink: { minDelayMs: 0, maxDelayMs: 9 },
      });
      for (let i = 0; i < 50; i++) t.a!.send('b', 'x', { i });
      scheduler.runUntilIdle();
      return net;
    };
    const digestOnly = run('digest');
    expect(digestOnly.trace()).toEqual([]);
    expect(digestOnly.traceDigest()).toBe(run('records').traceDigest());
    expect(digestOnly.traceDigest()).toMatch(/^5\d:[0-9a-f]{8}$/);
  });
});

describe('SimNetwork link order', () => {
  it('never lets a later frame overtake an earlier one on the same directed link', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.integer({ min: 0, max: 40 }),
        fc.array(
          fc.record({
            from: fc.integer({ min: 0, max: 2 }),
            to: fc.integer({ min: 0, max: 2 }),
            request: fc.boolean(),
            advanceMs: fc.integer({ min: 0, max: 15 }),
          }),
          { maxLength: 150 },
        ),
        (seed, maxDelayMs, ops) => {
          const ids = ['a', 'b', 'c'];
          const { scheduler, t } = connectedNetwork(seed, ids, {
            defaultLink: { minDelayMs: 0, maxDelayMs },
          });
          const received = new Map<string, number[]>();
          const log = (from: NodeId, to: NodeId, body: unknown) => {
            const key = `${from}>${to}`;
            const list = received.get(key) ?? [];
            list.push((body as { seq: number }).seq);
            received.set(key, list);
          };
          for (const id of ids) {
            t[id]!.handle('m', { onMessage: (from, body) => log(from, id, body) });
            t[id]!.handle('r', {
              onRequest: (from, body) => {
                log(from, id, body);
                return null;
              },
            });
          }
          const sentCount = new Map<string, number>();
          for (const op of ops) {
            if (op.from === op.to) continue;
            const from = ids[op.from]!;
            const to = ids[op.to]!;
            const key = `${from}>${to}`;
            const seq = sentCount.get(key) ?? 0;
            sentCount.set(key, seq + 1);
            if (op.request) {
              void t[from]!.request(to, 'r', { seq }, { timeoutMs: 10_000 });
            } else {
              expect(t[from]!.send(to, 'm', { seq })).toBe(true);
            }
            scheduler.runFor(op.advanceMs);
          }
          scheduler.runUntilIdle();
          for (const [key, count] of sentCount) {
            expect(received.get(key)).toEqual(Array.from({ length: count }, (_, i) => i));
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('SimNetwork drops and limits', () => {
  it('drops frames on a lossy link only, keeping the survivors in order', () => {
    const { scheduler, net, t } = connectedNetwork(11, ['a', 'b']);
    net.configureLink('a', 'b', { dropProbability: 0.3 });
    const atB: number[] = [];
    const atA: number[] = [];
    t.b!.handle('m', { onMessage: (_from, body) => atB.push(body as number) });
    t.a!.handle('m', { onMessage: (_from, body) => atA.push(body as number) });
    for (let i = 0; i < 1000; i++) {
      t.a!.send('b', 'm', i);
      t.b!.send('a', 'm', i);
    }
    scheduler.runUntilIdle();
    expect(atA).toHaveLength(1000);
    expect(atB.length).toBeGreaterThan(600);
    expect(atB.length).toBeLessThan(800);
    expect(atB).toEqual([...atB].sort((x, y) => x - y));
    const stats = net.stats();
    expect(stats.dropped).toBe(1000 - atB.length);
    expect(stats.delivered).toBe(atA.length + atB.length);
    expect(stats.sent).toBe(2000);
  });

  it('models a grey failure: a black-holed direction times requests out while the connection looks up', async () => {
    const { scheduler, net, t } = connectedNetwork(12, ['a', 'b']);
    net.configureLink('b', 'a', { dropProbability: 1 });
    t.b!.handle('x', { onRequest: () => 'pong' });
    const outcome = track(scheduler, t.a!.request('b', 'x', null, { timeoutMs: 300 }));
    await scheduler.runForAsync(1000);
    expect(outcome.error).toBeInstanceOf(RequestTimeoutError);
    expect(t.a!.isConnected('b')).toBe(true);
    expect(net.stats().dropped).toBe(1);
    net.resetLinkConfigs();
    const retry = track(scheduler, t.a!.request('b', 'x', null, { timeoutMs: 300 }));
    await scheduler.runForAsync(1000);
    expect(retry.value).toBe('pong');
  });

  it('records deliveries with sizes and payload digests', () => {
    const { scheduler, net, t } = connectedNetwork(13, ['a', 'b'], { trace: 'records' });
    t.a!.send('b', 'chan', { hello: 'world' });
    expect(t.a!.send('zed', 'chan', 1)).toBe(false);
    scheduler.runUntilIdle();
    const trace = net.trace();
    expect(trace.filter((r) => r.kind === 'up')).toEqual([
      expect.objectContaining({ from: 'a', to: 'b', frame: 'connection' }),
    ]);
    const delivery = trace.find((record) => record.kind === 'deliver');
    expect(delivery).toMatchObject({
      from: 'a',
      to: 'b',
      frame: 'message',
      channel: 'chan',
      bytes: pack({ hello: 'world' }).length,
    });
    expect(delivery?.payloadDigest).not.toBe(0);
    expect(trace.find((record) => record.kind === 'refused')).toMatchObject({ to: 'zed' });
  });

  it('stops with a named error when the trace is full', () => {
    const { scheduler, t } = connectedNetwork(14, ['a', 'b'], {
      trace: 'records',
      maxTraceRecords: 5,
    });
    for (let i = 0; i < 10; i++) t.a!.send('b', 'x', i);
    expect(() => scheduler.runUntilIdle()).toThrow(SimulationLimitError);
  });

  it('validates link configurations and ids', () => {
    const scheduler = new SimScheduler();
    const net = new SimNetwork({ scheduler, random: new SeededRandom(1) });
    expect(() => net.configureLink('a', 'b', { minDelayMs: 5, maxDelayMs: 2 })).toThrow(
      InvalidArgumentError,
    );
    expect(() => net.configureLink('a', 'b', { dropProbability: 2 })).toThrow(InvalidArgumentError);
    expect(() => net.cut('a', 'a')).toThrow(InvalidArgumentError);
    expect(() => net.createTransport('')).toThrow(InvalidArgumentError);
    net.createTransport('a');
    expect(() => net.createTransport('a')).toThrow(InvalidArgumentError);
    expect(() => net.restart('a')).toThrow(InvalidArgumentError);
    const small = new SimNetwork({ scheduler, random: new SeededRandom(1), maxNodes: 1 });
    small.createTransport('a');
    expect(() => small.createTransport('b')).toThrow(SimulationLimitError);
  });
});
