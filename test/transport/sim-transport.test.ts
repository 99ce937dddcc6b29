import { describe, expect, it } from 'vitest';
import {
  BackpressureError,
  MessageTooLargeError,
  PeerUnavailableError,
  RemoteError,
  RequestTimeoutError,
  TooManyPendingRequestsError,
  TransportClosedError,
} from '../../src/transport/errors.js';
import { SimNetwork } from '../../src/transport/sim-network.js';
import type { NodeId } from '../../src/transport/transport.js';
import { InvalidArgumentError, ShoalError } from '../../src/util/errors.js';
import { SeededRandom } from '../../src/util/random.js';
import { SimScheduler } from '../../src/util/sim-scheduler.js';
import { connectedNetwork, track } from './sim-fixture.js';

class OutOfStockError extends ShoalError {
  constructor() {
    super('ERR_OUT_OF_STOCK', 'no more widgets');
  }
}

describe('SimTransport request/reply', () => {
  it('matches every reply to its request across thousands of interleaved requests', async () => {
    const servers = ['s1', 's2'];
    const clients = ['c1', 'c2', 'c3'];
    const { scheduler, net, t } = connectedNetwork(
      7,
      [...servers, ...clients],
      { defaultLink: { minDelayMs: 1, maxDelayMs: 30 } },
      { settleMode: 'microtasks' },
    );
    const jitter = new SeededRandom(99);
    for (const id of servers) {
      const server = t[id]!;
      server.handle('echo', {
        // Async with simulated work, so replies come back out of request order.
        onRequest: async (from, request) => {
          await new Promise<void>((resolve) =>
            server.scheduler.setTimeout(resolve, jitter.int(50)),
          );
          return { from, request, by: id };
        },
      });
    }
    const outcomes: Array<Promise<void>> = [];
    const mismatches: string[] = [];
    let matched = 0;
    for (let i = 0; i < 3000; i++) {
      const client = clients[i % clients.length]!;
      const server = servers[(i >> 1) % servers.length]!;
      const request = { seq: i, pad: 'x'.repeat(i % 17) };
      // Compared as JSON: a per-reply expect() would dominate the test's run time.
      const expected = JSON.stringify({ from: client, request, by: server });
      outcomes.push(
        t[client]!.request(server, 'echo', request, { timeoutMs: 10_000 }).then((reply) => {
          if (JSON.stringify(reply) === expected) matched++;
          else mismatches.push(`${expected} got ${JSON.stringify(reply)}`);
        }),
      );
    }
    await scheduler.runUntilIdleAsync();
    await Promise.all(outcomes);
    expect(mismatches).toEqual([]);
    expect(matched).toBe(3000);
    expect(net.stats().delivered).toBe(6000);
    for (const id of clients) expect(t[id]!.pendingRequestCount()).toBe(0);
  });

  it('serves synchronous handlers within plain (non-async) scheduler runs', async () => {
    const { scheduler, t } = connectedNetwork(1, ['a', 'b']);
    t.b!.handle('add', { onRequest: (_from, request) => (request as number) + 1 });
    const outcome = track(scheduler, t.a!.request('b', 'add', 41, { timeoutMs: 100 }));
    scheduler.runUntilIdle();
    await scheduler.settle();
    expect(outcome.value).toBe(42);
  });

  it('returns handler errors as RemoteError, keeping a ShoalError code', async () => {
    const { scheduler, t } = connectedNetwork(2, ['a', 'b']);
    t.b!.handle('shop', {
      onRequest: (_from, request) => {
        if (request === 'sync') throw new OutOfStockError();
        if (request === 'async') return Promise.reject(new OutOfStockError());
        throw new TypeError('oops');
      },
    });
    const results = ['sync', 'async', 'other'].map((kind) =>
      track(scheduler, t.a!.request('b', 'shop', kind, { timeoutMs: 100 })),
    );
    const noHandler = track(scheduler, t.a!.request('b', 'nowhere', 1, { timeoutMs: 100 }));
    await scheduler.runUntilIdleAsync();
    const codes = results.map((result) => {
      expect(result.error).toBeInstanceOf(RemoteError);
      return (result.error as RemoteError).remoteCode;
    });
    expect(codes).toEqual(['ERR_OUT_OF_STOCK', 'ERR_OUT_OF_STOCK', 'ERR_REMOTE_INTERNAL']);
    expect((noHandler.error as RemoteError).remoteCode).toBe('ERR_UNKNOWN_CHANNEL');
  });

  it('times out a request at exactly its timeoutMs and ignores the late reply', async () => {
    const { scheduler, t } = connectedNetwork(3, ['a', 'b']);
    t.b!.handle('slow', {
      onRequest: () =>
        new Promise((resolve) => t.b!.scheduler.setTimeout(() => resolve('late'), 500)),
    });
    const startMs = scheduler.now();
    const outcome = track(scheduler, t.a!.request('b', 'slow', null, { timeoutMs: 200 }));
    await scheduler.runUntilIdleAsync();
    expect(outcome.error).toBeInstanceOf(RequestTimeoutError);
    expect(outcome.settledAtMs).toBe(startMs + 200);
    expect(t.a!.pendingRequestCount()).toBe(0);
  });

  it('limits pending requests per peer', async () => {
    const { scheduler, t } = connectedNetwork(4, ['a', 'b', 'c'], { maxPendingRequests: 2 });
    for (const id of ['b', 'c']) t[id]!.handle('x', { onRequest: () => 'ok' });
    const first = [1, 2].map(() => track(scheduler, t.a!.request('b', 'x', 0, { timeoutMs: 50 })));
    const third = track(scheduler, t.a!.request('b', 'x', 0, { timeoutMs: 50 }));
    const other = track(scheduler, t.a!.request('c', 'x', 0, { timeoutMs: 50 }));
    await scheduler.runUntilIdleAsync();
    expect(third.error).toBeInstanceOf(TooManyPendingRequestsError);
    expect(first.map((r) => r.value)).toEqual(['ok', 'ok']);
    expect(other.value).toBe('ok');
  });

  it('refuses to send to a peer without a connection', async () => {
    const { scheduler, t } = connectedNetwork(5, ['a', 'b']);
    expect(t.a!.send('nobody', 'x', 1)).toBe(false);
    const outcome = track(scheduler, t.a!.request('nobody', 'x', 1, { timeoutMs: 50 }));
    await scheduler.settle();
    expect(outcome.error).toBeInstanceOf(PeerUnavailableError);
    expect((outcome.error as PeerUnavailableError).sent).toBe(false);
    expect(outcome.settledAtMs).toBe(scheduler.now());
    const badTimeout = track(scheduler, t.a!.request('b', 'x', 1, { timeoutMs: -1 }));
    await scheduler.settle();
    expect(badTimeout.error).toBeInstanceOf(InvalidArgumentError);
  });
});

describe('SimTransport limits shared with WsTransport', () => {
  it('refuses messages over maxFrameBytes at the sender, and oversized replies as errors', async () => {
    const { scheduler, t } = connectedNetwork(16, ['a', 'b'], { maxFrameBytes: 300 });
    const big = 'x'.repeat(400);
    expect(() => t.a!.send('b', 'x', big)).toThrow(MessageTooLargeError);
    const request = track(scheduler, t.a!.request('b', 'x', big, { timeoutMs: 100 }));
    t.b!.handle('echo', { onRequest: () => big });
    const reply = track(scheduler, t.a!.request('b', 'echo', 1, { timeoutMs: 100 }));
    await scheduler.runUntilIdleAsync();
    expect(request.error).toBeInstanceOf(MessageTooLargeError);
    expect((reply.error as RemoteError).remoteCode).toBe('ERR_MESSAGE_TOO_LARGE');
  });

  it('applies backpressure past maxInFlightBytesPerLink, then accepts again once frames land', async () => {
    const { scheduler, net, t } = connectedNetwork(15, ['a', 'b'], {
      maxInFlightBytesPerLink: 3,
    });
    // Small integers encode to one byte each.
    const results = [0, 1, 2, 3].map((i) => t.a!.send('b', 'x', i));
    expect(results).toEqual([true, true, true, false]);
    const request = track(scheduler, t.a!.request('b', 'x', 4, { timeoutMs: 100 }));
    await scheduler.settle();
    expect(request.error).toBeInstanceOf(BackpressureError);
    expect(net.stats().refused).toBe(2);
    scheduler.runUntilIdle();
    expect(t.a!.send('b', 'x', 5)).toBe(true);
  });

  it('validates channel names and peer ids', async () => {
    const { scheduler, t } = connectedNetwork(17, ['a', 'b']);
    expect(() => t.a!.send('b', '', 1)).toThrow(InvalidArgumentError);
    expect(() => t.a!.handle('y'.repeat(129), {})).toThrow(InvalidArgumentError);
    expect(() => t.a!.addPeer('', 'sim://')).toThrow(InvalidArgumentError);
    const outcome = track(scheduler, t.a!.request('b', '', 1, { timeoutMs: 10 }));
    await scheduler.settle();
    expect(outcome.error).toBeInstanceOf(InvalidArgumentError);
    t.a!.removePeer('a');
    expect(t.a!.isConnected('b')).toBe(true);
  });
});

describe('SimTransport encoding', () => {
  class Point {
    constructor(
      public x: number,
      public y: number,
    ) {}
    norm(): number {
      return Math.hypot(this.x, this.y);
    }
  }

  it('delivers a copy as the wire would: no aliasing, no prototypes, no functions', () => {
    const { scheduler, t } = connectedNetwork(6, ['a', 'b']);
    const received: unknown[] = [];
    t.b!.handle('data', { onMessage: (_from, message) => received.push(message) });
    const sent = { point: new Point(3, 4), list: [1, 2], fn: () => 1 };
    expect(t.a!.send('b', 'data', sent)).toBe(true);
    sent.list.push(3);
    scheduler.runUntilIdle();
    expect(received).toEqual([{ point: { x: 3, y: 4 }, list: [1, 2], fn: undefined }]);
    expect((received[0] as { point: unknown }).point).not.toBeInstanceOf(Point);
  });

  it('throws at the sender for values msgpack cannot encode', async () => {
    const { scheduler, t } = connectedNetwork(7, ['a', 'b']);
    expect(() => t.a!.send('b', 'data', { bad: Symbol('s') })).toThrow(InvalidArgumentError);
    const outcome = track(scheduler, t.a!.request('b', 'data', Symbol('s'), { timeoutMs: 10 }));
    await scheduler.settle();
    expect(outcome.error).toBeInstanceOf(InvalidArgumentError);
  });

  it('reports an unencodable reply as ERR_REMOTE_INTERNAL', async () => {
    const { scheduler, t } = connectedNetwork(8, ['a', 'b']);
    t.b!.handle('bad', { onRequest: () => Symbol('reply') });
    const outcome = track(scheduler, t.a!.request('b', 'bad', 1, { timeoutMs: 100 }));
    await scheduler.runUntilIdleAsync();
    expect((outcome.error as RemoteError).remoteCode).toBe('ERR_REMOTE_INTERNAL');
  });

  it('hands over the same object when encoding is off', () => {
    const { scheduler, t } = connectedNetwork(9, ['a', 'b'], { encode: false });
    const received: unknown[] = [];
    t.b!.handle('data', { onMessage: (_from, message) => received.push(message) });
    const sent = { value: 1 };
    t.a!.send('b', 'data', sent);
    scheduler.runUntilIdle();
    expect(received[0]).toBe(sent);
  });
});

describe('SimTransport connections', () => {
  function twoEndpoints() {
    const scheduler = new SimScheduler();
    const net = new SimNetwork({ scheduler, random: new SeededRandom(10) });
    const a = net.createTransport('a');
    const b = net.createTransport('b');
    const events: string[] = [];
    for (const [name, transport] of [
      ['a', a],
      ['b', b],
    ] as const) {
      transport.watchPeers({
        onPeerUp: (peer: NodeId) => events.push(`${name}+${peer}@${scheduler.now()}`),
        onPeerDown: (peer: NodeId) => events.push(`${name}-${peer}@${scheduler.now()}`),
      });
    }
    return { scheduler, net, a, b, events };
  }

  it('connects both ends when one side dials, after the connect delay', () => {
    const { scheduler, net, a, b, events } = twoEndpoints();
    expect(a.isConnected('b')).toBe(false);
    a.addPeer('b', 'sim://b');
    expect(net.connectionState('a', 'b')).toBe('connecting');
    scheduler.runUntilIdle();
    expect(a.isConnected('b')).toBe(true);
    expect(b.isConnected('a')).toBe(true);
    const upAt = scheduler.now();
    expect(upAt).toBeGreaterThanOrEqual(1);
    expect(upAt).toBeLessThanOrEqual(5);
    expect(events).toEqual([`a+b@${upAt}`, `b+a@${upAt}`]);
    expect(() => a.addPeer('a', 'sim://a')).toThrow(InvalidArgumentError);
  });

  it('drops the connection on removePeer, and reconnects if the other side dials', () => {
    const { scheduler, a, b, events } = twoEndpoints();
    a.addPeer('b', 'sim://b');
    scheduler.runUntilIdle();
    events.length = 0;
    a.removePeer('b');
    const removedAt = scheduler.now();
    expect(events).toEqual([`a-b@${removedAt}`, `b-a@${removedAt}`]);
    scheduler.runUntilIdle();
    expect(a.isConnected('b')).toBe(false);

    b.addPeer('a', 'sim://a');
    scheduler.runUntilIdle();
    events.length = 0;
    a.removePeer('b');
    expect(a.isConnected('b')).toBe(false);
    scheduler.runUntilIdle();
    // b still dials a, so the connection comes back after b's reconnect delay.
    expect(a.isConnected('b')).toBe(true);
    expect(events.slice(2)).toEqual([`a+b@${scheduler.now()}`, `b+a@${scheduler.now()}`]);
    expect(scheduler.now() - removedAt).toBeGreaterThanOrEqual(100);
  });

  it('close() fails pending requests, reports connections down, and refuses further use', async () => {
    const { scheduler, net, a, b, events } = twoEndpoints();
    a.addPeer('b', 'sim://b');
    scheduler.runUntilIdle();
    for (const transport of [a, b])
      transport.handle('hang', { onRequest: () => new Promise(() => {}) });
    const fromA = track(scheduler, a.request('b', 'hang', 1, { timeoutMs: 1000 }));
    const fromB = track(scheduler, b.request('a', 'hang', 1, { timeoutMs: 1000 }));
    await scheduler.runForAsync(10);
    events.length = 0;
    await a.close();
    await a.close();
    await scheduler.settle();
    expect(fromA.error).toBeInstanceOf(PeerUnavailableError);
    expect(fromB.error).toBeInstanceOf(PeerUnavailableError);
    expect(events).toEqual([`a-b@${scheduler.now()}`, `b-a@${scheduler.now()}`]);
    expect(() => a.addPeer('b', 'sim://b')).toThrow(TransportClosedError);
    expect(a.send('b', 'x', 1)).toBe(false);
    await expect(a.request('b', 'x', 1, { timeoutMs: 10 })).rejects.toBeInstanceOf(
      TransportClosedError,
    );
    expect(net.status('a')).toBe('closed');
    // The same process may open a new transport; b dials nobody, so it must dial.
    const again = net.createTransport('a');
    again.addPeer('b', 'sim://b');
    scheduler.runUntilIdle();
    expect(again.isConnected('b')).toBe(true);
  });

  it('unsubscribes peer listeners', () => {
    const { scheduler, a } = twoEndpoints();
    let calls = 0;
    const stop = a.watchPeers({ onPeerUp: () => calls++ });
    stop();
    a.addPeer('b', 'sim://b');
    scheduler.runUntilIdle();
    expect(calls).toBe(0);
  });
});
