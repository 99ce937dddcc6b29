import { describe, expect, it } from 'vitest';
import {
  PeerUnavailableError,
  type RemoteError,
  RequestTimeoutError,
  TransportClosedError,
} from '../../src/transport/errors.js';
import type { SimFixture } from './sim-fixture.js';
import { connectedNetwork, track } from './sim-fixture.js';

/** Logs every peer up/down event of every endpoint as `id+peer@time` / `id-peer@time`. */
function watchAll(fixture: SimFixture): string[] {
  const events: string[] = [];
  for (const [id, transport] of Object.entries(fixture.t)) {
    transport.watchPeers({
      onPeerUp: (peer) => events.push(`${id}+${peer}@${fixture.scheduler.now()}`),
      onPeerDown: (peer) => events.push(`${id}-${peer}@${fixture.scheduler.now()}`),
    });
  }
  return events;
}

describe('partitions', () => {
  it('cuts a symmetric partition at once: down events, lost frames, fast failures', async () => {
    const fixture = connectedNetwork(21, ['a', 'b', 'c', 'd'], {
      defaultLink: { minDelayMs: 10, maxDelayMs: 10 },
    });
    const { scheduler, net, t } = fixture;
    const events = watchAll(fixture);
    const received: string[] = [];
    for (const id of ['a', 'b', 'c', 'd']) {
      t[id]!.handle('x', {
        onMessage: (from) => received.push(`${from}>${id}`),
        onRequest: () => new Promise(() => {}),
      });
    }
    t.a!.send('c', 'x', 1);
    t.a!.send('b', 'x', 1);
    const pending = track(scheduler, t.a!.request('c', 'x', 1, { timeoutMs: 5000 }));
    await scheduler.runForAsync(5);
    const cutAt = scheduler.now();
    net.partition(['a', 'b'], ['c', 'd']);
    await scheduler.settle();

    expect(pending.error).toBeInstanceOf(PeerUnavailableError);
    expect((pending.error as PeerUnavailableError).sent).toBe(true);
    expect(pending.settledAtMs).toBe(cutAt);
    const crossPairs = ['a-c', 'c-a', 'a-d', 'd-a', 'b-c', 'c-b', 'b-d', 'd-b'];
    expect(events.map((event) => event.split('@')[0]).sort()).toEqual(crossPairs.sort());
    expect(t.a!.isConnected('b')).toBe(true);
    expect(t.c!.isConnected('d')).toBe(true);

    expect(t.a!.send('c', 'x', 2)).toBe(false);
    const fast = track(scheduler, t.a!.request('d', 'x', 1, { timeoutMs: 5000 }));
    await scheduler.runForAsync(100);
    expect(fast.error).toBeInstanceOf(PeerUnavailableError);
    expect(fast.settledAtMs).toBe(cutAt);
    expect(received).toEqual(['a>b']);
    expect(net.stats().lost).toBe(2);

    events.length = 0;
    net.heal();
    await scheduler.runForAsync(300);
    expect(events).toHaveLength(8);
    const healedAt = Number(events[0]!.split('@')[1]);
    expect(healedAt - scheduler.now() + 300).toBeGreaterThanOrEqual(100);
    expect(t.a!.send('c', 'x', 3)).toBe(true);
    await scheduler.runForAsync(20);
    expect(received).toEqual(['a>b', 'a>c']);
  });

  it('takes the connection down for a one-way cut until that direction heals', async () => {
    const fixture = connectedNetwork(22, ['a', 'b']);
    const { scheduler, net, t } = fixture;
    const events = watchAll(fixture);
    net.cut('a', 'b');
    expect(events).toEqual([`a-b@${scheduler.now()}`, `b-a@${scheduler.now()}`]);
    net.healLink('b', 'a');
    await scheduler.runForAsync(1000);
    expect(t.b!.isConnected('a')).toBe(false);
    net.healLink('a', 'b');
    await scheduler.runForAsync(1000);
    expect(t.b!.isConnected('a')).toBe(true);
    expect(events).toHaveLength(4);
  });

  it('isolates a node from everyone, including endpoints that start later', async () => {
    const { scheduler, net, t } = connectedNetwork(23, ['a', 'b', 'c']);
    net.isolate('a');
    expect(t.b!.isConnected('a')).toBe(false);
    expect(t.b!.isConnected('c')).toBe(true);
    const late = net.createTransport('z');
    late.addPeer('a', 'sim://a');
    late.addPeer('b', 'sim://b');
    await scheduler.runForAsync(500);
    expect(late.isConnected('a')).toBe(false);
    expect(late.isConnected('b')).toBe(true);
    net.heal();
    await scheduler.runForAsync(500);
    expect(late.isConnected('a')).toBe(true);
    expect(t.a!.isConnected('b')).toBe(true);
  });
});

describe('crash and restart', () => {
  it('fails pending requests on both sides, loses frames in flight, and stops the timers', async () => {
    const fixture = connectedNetwork(31, ['a', 'b', 'c'], {
      defaultLink: { minDelayMs: 10, maxDelayMs: 10 },
    });
    const { scheduler, net, t } = fixture;
    const events = watchAll(fixture);
    const received: string[] = [];
    for (const id of ['a', 'b', 'c']) {
      t[id]!.handle('x', {
        onMessage: (from, body) => received.push(`${from}>${id}:${String(body)}`),
        onRequest: () => new Promise(() => {}),
      });
    }
    const toB = track(scheduler, t.a!.request('b', 'x', 1, { timeoutMs: 5000 }));
    const fromB = track(scheduler, t.b!.request('c', 'x', 1, { timeoutMs: 5000 }));
    await scheduler.runForAsync(15);
    t.b!.send('a', 'x', 'in flight');
    t.a!.send('b', 'x', 'in flight');
    let bTimerFired = false;
    t.b!.scheduler.setTimeout(() => {
      bTimerFired = true;
    }, 1);
    const oldB = t.b!;
    const crashedAt = scheduler.now();
    net.crash('b');
    await scheduler.runForAsync(1000);

    expect(toB.error).toBeInstanceOf(PeerUnavailableError);
    expect(fromB.error).toBeInstanceOf(PeerUnavailableError);
    expect(received).toEqual([]);
    expect(bTimerFired).toBe(false);
    expect(net.stats().lost).toBe(2);
    // The dead process hears nothing; its peers hear it go, at the crash.
    expect(events).toEqual([`a-b@${crashedAt}`, `c-b@${crashedAt}`]);
    expect(oldB.send('a', 'x', 1)).toBe(false);
    await expect(oldB.request('a', 'x', 1, { timeoutMs: 10 })).rejects.toBeInstanceOf(
      TransportClosedError,
    );
    expect(oldB.scheduler.isDead).toBe(true);
    expect(net.transport('b')).toBeUndefined();
    expect(net.status('b')).toBe('crashed');
  });

  it('restarts with a fresh transport: peers that dialed it reconnect, its own dials are forgotten', async () => {
    // In the fixture a dials b and c, b dials c.
    const fixture = connectedNetwork(32, ['a', 'b', 'c']);
    const { scheduler, net, t } = fixture;
    t.b!.handle('x', { onRequest: () => 'old incarnation' });
    net.crash('b');
    expect(() => net.createTransport('b')).toThrow();
    const crashedAt = scheduler.now();
    const b2 = net.restart('b');
    expect(b2).not.toBe(t.b);
    const ups: string[] = [];
    t.a!.watchPeers({ onPeerUp: (peer) => ups.push(`${peer}@${scheduler.now()}`) });
    await scheduler.runForAsync(1000);
    expect(ups).toHaveLength(1);
    const upAt = Number(ups[0]!.split('@')[1]);
    expect(upAt - crashedAt).toBeGreaterThanOrEqual(100);
    expect(upAt - crashedAt).toBeLessThanOrEqual(200);
    expect(b2.isConnected('a')).toBe(true);
    expect(b2.isConnected('c')).toBe(false);

    // Handlers died with the old process.
    const before = track(scheduler, t.a!.request('b', 'x', 1, { timeoutMs: 100 }));
    await scheduler.runForAsync(200);
    expect((before.error as RemoteError).remoteCode).toBe('ERR_UNKNOWN_CHANNEL');
    b2.handle('x', { onRequest: () => 'new incarnation' });
    b2.addPeer('c', 'sim://c');
    const after = track(scheduler, t.a!.request('b', 'x', 1, { timeoutMs: 100 }));
    await scheduler.runForAsync(200);
    expect(after.value).toBe('new incarnation');
    expect(b2.isConnected('c')).toBe(true);
    expect(net.schedulerOf('b')).toBe(b2.scheduler);
  });
});

describe('pause and resume', () => {
  it('holds frames and timers of a paused node and releases them in order on resume', async () => {
    const { scheduler, net, t } = connectedNetwork(41, ['a', 'b'], {
      defaultLink: { minDelayMs: 1, maxDelayMs: 20 },
    });
    const log: string[] = [];
    t.b!.handle('x', {
      onMessage: (_from, body) => log.push(`msg ${String(body)}@${scheduler.now()}`),
      onRequest: () => 'served',
    });
    t.a!.handle('x', { onMessage: (_from, body) => log.push(`a got ${String(body)}`) });
    for (let i = 0; i < 5; i++) t.a!.send('b', 'x', i);
    t.b!.scheduler.setTimeout(() => log.push(`timer@${scheduler.now()}`), 50);
    net.pause('b');
    expect(net.isPaused('b')).toBe(true);
    t.b!.send('a', 'x', 'from paused b');
    const request = track(scheduler, t.a!.request('b', 'x', null, { timeoutMs: 300 }));
    for (let i = 5; i < 10; i++) t.a!.send('b', 'x', i);
    await scheduler.runForAsync(1000);

    expect(log).toEqual([]);
    expect(request.error).toBeInstanceOf(RequestTimeoutError);
    expect(t.a!.isConnected('b')).toBe(true);

    const resumedAt = scheduler.now();
    net.resume('b');
    for (let i = 10; i < 15; i++) t.a!.send('b', 'x', i);
    await scheduler.runForAsync(100);
    expect(log[0]).toBe(`timer@${resumedAt}`);
    const messages = log.filter((line) => line.startsWith('msg'));
    expect(messages.map((line) => Number(line.split(' ')[1]!.split('@')[0]))).toEqual(
      Array.from({ length: 15 }, (_, i) => i),
    );
    expect(messages.slice(0, 10).every((line) => line.endsWith(`@${resumedAt}`))).toBe(true);
    expect(log).toContain('a got from paused b');
  });

  it('fires an overdue interval once on resume, and never a timer cleared while held', async () => {
    const { scheduler, net, t } = connectedNetwork(44, ['a', 'b']);
    const ticks: number[] = [];
    let clearedFired = false;
    t.b!.scheduler.setInterval(() => ticks.push(scheduler.now()), 10);
    const doomed = t.b!.scheduler.setTimeout(() => {
      clearedFired = true;
    }, 15);
    const pausedAt = scheduler.now();
    net.pause('b');
    await scheduler.runForAsync(100);
    t.b!.scheduler.clearTimeout(doomed);
    net.resume('b');
    await scheduler.runForAsync(25);
    const resumedAt = pausedAt + 100;
    expect(ticks).toEqual([resumedAt, pausedAt + 110, pausedAt + 120]);
    expect(clearedFired).toBe(false);
    expect(() => t.a!.scheduler.clearTimeout(doomed)).toThrow();
  });

  it('pushes back on senders while a paused node leaves its frames unread', async () => {
    const { scheduler, net, t } = connectedNetwork(43, ['a', 'b'], {
      maxInFlightBytesPerLink: 10,
    });
    const seen: number[] = [];
    t.b!.handle('x', { onMessage: (_from, body) => seen.push(body as number) });
    net.pause('b');
    const accepted: number[] = [];
    for (let i = 0; i < 20; i++) {
      if (t.a!.send('b', 'x', i)) accepted.push(i);
      await scheduler.runForAsync(10);
    }
    expect(accepted).toEqual(Array.from({ length: 10 }, (_, i) => i));
    net.resume('b');
    await scheduler.runForAsync(10);
    expect(seen).toEqual(accepted);
    expect(t.a!.send('b', 'x', 99)).toBe(true);
  });

  it('loses what a paused node held when it crashes', async () => {
    const { scheduler, net, t } = connectedNetwork(42, ['a', 'b']);
    const seen: unknown[] = [];
    t.b!.handle('x', { onMessage: (_from, body) => seen.push(body) });
    net.pause('b');
    t.a!.send('b', 'x', 1);
    await scheduler.runForAsync(50);
    net.crash('b');
    const b2 = net.restart('b');
    b2.handle('x', { onMessage: (_from, body) => seen.push(body) });
    await scheduler.runForAsync(500);
    expect(seen).toEqual([]);
    expect(net.stats().lost).toBe(1);
    expect(b2.scheduler.isPaused).toBe(false);
  });
});
