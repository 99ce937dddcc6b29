import { afterEach, describe, expect, it } from 'vitest';
import { ExponentialBackoff } from '../../src/transport/backoff.js';
import { PeerUnavailableError } from '../../src/transport/errors.js';
import { WsTransport } from '../../src/transport/ws-transport.js';
import { SeededRandom } from '../../src/util/random.js';
import { Cleanup, waitFor } from './ws-harness.js';

const SECRET = 'lifecycle-secret';
const FAST_RECONNECT = { initialBackoffMs: 10, maxBackoffMs: 100 };
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function node(id: string, port = 0) {
  return cleanup.add(
    await WsTransport.listen({ id, secret: SECRET, port, limits: FAST_RECONNECT }),
    (t) => t.close(),
  );
}

function client(id: string) {
  return cleanup.add(WsTransport.client({ id, secret: SECRET, limits: FAST_RECONNECT }), (t) =>
    t.close(),
  );
}

function events(transport: WsTransport): string[] {
  const seen: string[] = [];
  transport.watchPeers({
    onPeerUp: (peer) => seen.push(`up:${peer}`),
    onPeerDown: (peer) => seen.push(`down:${peer}`),
  });
  return seen;
}

describe('ExponentialBackoff', () => {
  it('doubles up to the cap with jitter in [d/2, d) and restarts after reset', () => {
    const backoff = new ExponentialBackoff(100, 1_000, new SeededRandom(7));
    const caps = [100, 200, 400, 800, 1_000, 1_000];
    for (const cap of caps) {
      const delay = backoff.nextDelayMs();
      expect(delay).toBeGreaterThanOrEqual(cap / 2);
      expect(delay).toBeLessThan(cap);
    }
    backoff.reset();
    expect(backoff.nextDelayMs()).toBeLessThan(100);
  });
});

describe('WsTransport lifecycle', () => {
  it('reconnects after the server restarts on the same port', async () => {
    const first = await node('server');
    const port = first.port;
    first.handle('who', { onRequest: () => 'first' });
    const c = client('client');
    const seen = events(c);
    c.addPeer('server', `127.0.0.1:${port}`);
    await waitFor(() => c.isConnected('server'), 'first connection');
    await expect(c.request('server', 'who', null, { timeoutMs: 5_000 })).resolves.toBe('first');

    await first.close();
    await waitFor(() => !c.isConnected('server'), 'disconnect noticed');
    const second = await node('server', port);
    second.handle('who', { onRequest: () => 'second' });
    await waitFor(() => c.isConnected('server'), 'reconnection');
    await expect(c.request('server', 'who', null, { timeoutMs: 5_000 })).resolves.toBe('second');
    expect(seen).toEqual(['up:server', 'down:server', 'up:server']);
    expect(c.stats().dials).toBeGreaterThanOrEqual(2);
  });

  it('fails requests in flight at once when the connection drops, with sent=true', async () => {
    const server = await node('server');
    server.handle('never', { onRequest: () => new Promise(() => {}) });
    const c = client('client');
    c.addPeer('server', server.address);
    await waitFor(() => c.isConnected('server'), 'connection');
    // An hour-long timeout: if the failure waited for it, the test would time out.
    const inFlight = Array.from({ length: 20 }, () =>
      c.request('server', 'never', null, { timeoutMs: 3_600_000 }).catch((e: unknown) => e),
    );
    await waitFor(() => server.stats().envelopesReceived >= 20, 'requests delivered');
    await server.close();
    const errors = await Promise.all(inFlight);
    for (const error of errors) {
      expect(error).toBeInstanceOf(PeerUnavailableError);
      expect((error as PeerUnavailableError).sent).toBe(true);
    }
  });

  it('fails a request that was never written with sent=false', async () => {
    const server = await node('server');
    server.handle('echo', { onRequest: (_from, m) => m });
    const c = client('client');
    c.addPeer('server', server.address);
    await waitFor(() => c.isConnected('server'), 'connection');
    // Still in the batch queue when the peer is removed in the same tick.
    const pending = c.request('server', 'echo', 1, { timeoutMs: 3_600_000 }).catch((e) => e);
    c.removePeer('server');
    const error = await pending;
    expect(error).toBeInstanceOf(PeerUnavailableError);
    expect((error as PeerUnavailableError).sent).toBe(false);
    expect(server.stats().envelopesReceived).toBe(0);
  });

  it('close() is idempotent, fails pending requests and reports peers down', async () => {
    const server = await node('server');
    server.handle('never', { onRequest: () => new Promise(() => {}) });
    const c = client('client');
    const seen = events(c);
    c.addPeer('server', server.address);
    await waitFor(() => c.isConnected('server'), 'connection');
    const pending = c.request('server', 'never', null, { timeoutMs: 3_600_000 }).catch((e) => e);
    const first = c.close();
    const second = c.close();
    expect(second).toBe(first);
    await first;
    expect(await pending).toBeInstanceOf(PeerUnavailableError);
    expect(seen).toEqual(['up:server', 'down:server']);
    expect(c.isConnected('server')).toBe(false);
    await waitFor(() => !server.isConnected('client'), 'server sees the client leave');
  });

  it('keeps exactly one connection when two nodes dial each other at once, failing nothing', async () => {
    for (let round = 0; round < 5; round++) {
      const a = await node(`a${round}`);
      const b = await node(`b${round}`);
      const aEvents = events(a);
      const bEvents = events(b);
      a.handle('echo', { onRequest: (_from, m) => m });
      b.handle('echo', { onRequest: (_from, m) => m });
      a.addPeer(b.localId, b.address);
      b.addPeer(a.localId, a.address);
      await waitFor(() => a.isConnected(b.localId) && b.isConnected(a.localId), 'connected');
      // Traffic in both directions while any duplicate drains: none of it may fail.
      const traffic: Promise<unknown>[] = [];
      for (let k = 0; k < 200; k++) {
        traffic.push(a.request(b.localId, 'echo', k, { timeoutMs: 10_000 }));
        traffic.push(b.request(a.localId, 'echo', 1000 + k, { timeoutMs: 10_000 }));
        if (k % 20 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      const replies = await Promise.all(traffic);
      expect(replies).toEqual(Array.from({ length: 200 }, (_, k) => [k, 1000 + k]).flat());
      await waitFor(
        () => a.connectionCount(b.localId) === 1 && b.connectionCount(a.localId) === 1,
        'one connection per pair',
      );
      expect(aEvents).toEqual([`up:${b.localId}`]);
      expect(bEvents).toEqual([`up:${a.localId}`]);
      // Both dials started in the same tick, so both connections authenticate and
      // each end retires exactly one: the one dialed by the larger id.
      expect(a.stats().duplicatesRetired).toBe(1);
      expect(b.stats().duplicatesRetired).toBe(1);
      await a.close();
      await b.close();
    }
  });

  it('replaces an old connection when the same peer dials again', async () => {
    const server = await node('server');
    const seen = events(server);
    const first = WsTransport.client({ id: 'twin', secret: SECRET });
    cleanup.add(first, (t) => t.close());
    first.addPeer('server', server.address);
    await waitFor(() => first.isConnected('server'), 'first twin');
    const second = client('twin');
    second.addPeer('server', server.address);
    await waitFor(() => second.isConnected('server') && !first.isConnected('server'), 'takeover');
    expect(server.connectionCount('twin')).toBe(1);
    expect(seen).toEqual(['up:twin']);
    // Stop the old twin before it redials, so the two do not keep replacing each other.
    await first.close();
    server.handle('ping', { onRequest: () => 'pong' });
    await expect(second.request('server', 'ping', null, { timeoutMs: 5_000 })).resolves.toBe(
      'pong',
    );
  });

  it('forgets a removed peer and stops dialing it', async () => {
    const server = await node('server');
    const c = client('client');
    const seen = events(c);
    c.addPeer('server', server.address);
    await waitFor(() => c.isConnected('server'), 'connection');
    c.removePeer('server');
    expect(c.isConnected('server')).toBe(false);
    expect(seen).toEqual(['up:server', 'down:server']);
    const dials = c.stats().dials;
    await waitFor(() => !server.isConnected('client'), 'server sees removal');
    // Server-side: a client with no address is forgotten once gone, and never dialed.
    expect(server.connectedPeers()).toEqual([]);
    expect(c.stats().dials).toBe(dials);
  });
});
