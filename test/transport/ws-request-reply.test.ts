import { afterEach, describe, expect, it } from 'vitest';
import {
  PeerUnavailableError,
  RemoteError,
  RequestTimeoutError,
  TooManyPendingRequestsError,
  TransportClosedError,
} from '../../src/transport/errors.js';
import { WsTransport } from '../../src/transport/ws-transport.js';
import { InvalidArgumentError, ShoalError } from '../../src/util/errors.js';
import { Cleanup, waitFor } from './ws-harness.js';

const SECRET = 'request-reply-secret';
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function node(id: string, extra: Partial<Parameters<typeof WsTransport.listen>[0]> = {}) {
  return cleanup.add(await WsTransport.listen({ id, secret: SECRET, ...extra }), (t) => t.close());
}

function client(id: string) {
  return cleanup.add(WsTransport.client({ id, secret: SECRET }), (t) => t.close());
}

/** A server node and a dial-only client connected to it. */
async function pair() {
  const server = await node('server');
  const c = client('client');
  c.addPeer('server', server.address);
  await waitFor(() => c.isConnected('server') && server.isConnected('client'), 'connection');
  return { server, client: c };
}

interface Echo {
  n: number;
  from: string;
  via: string;
}

describe('WsTransport request/reply', () => {
  it('matches thousands of interleaved requests in both directions, over the connection the client opened', async () => {
    const { server, client: c } = await pair();
    // Half the handlers answer synchronously, half after a random number of turns of
    // the event loop, so replies come back out of order.
    const echo =
      (via: string) =>
      (from: string, request: unknown): Echo | Promise<Echo> => {
        const { n } = request as { n: number };
        if (n % 2 === 0) return { n, from, via };
        return new Promise((resolve) => {
          let hops = n % 7;
          const step = () => (hops-- > 0 ? setImmediate(step) : resolve({ n, from, via }));
          step();
        });
      };
    server.handle('echo', { onRequest: echo('server') });
    c.handle('echo', { onRequest: echo('client') });

    const count = 3000;
    const toServer = Array.from({ length: count }, (_, n) =>
      c.request('server', 'echo', { n }, { timeoutMs: 30_000 }),
    );
    const toClient = Array.from({ length: count }, (_, n) =>
      server.request('client', 'echo', { n: n + count }, { timeoutMs: 30_000 }),
    );
    const [fromServer, fromClient] = await Promise.all([
      Promise.all(toServer),
      Promise.all(toClient),
    ]);
    fromServer.forEach((reply, n) => {
      expect(reply).toEqual({ n, from: 'client', via: 'server' });
    });
    fromClient.forEach((reply, n) => {
      expect(reply).toEqual({ n: n + count, from: 'server', via: 'client' });
    });
    // Batching happened: far fewer frames than envelopes.
    const stats = c.stats();
    expect(stats.envelopesSent).toBeGreaterThanOrEqual(2 * count);
    expect(stats.framesSent).toBeLessThan(stats.envelopesSent / 10);
  });

  it('carries one-way messages in order and counts those to an unknown channel', async () => {
    const { server, client: c } = await pair();
    const received: unknown[] = [];
    server.handle('events', { onMessage: (from, message) => received.push([from, message]) });
    for (let k = 0; k < 500; k++) expect(c.send('server', 'events', { k })).toBe(true);
    expect(c.send('server', 'nobody-listens', { k: -1 })).toBe(true);
    await waitFor(() => received.length === 500, 'all messages');
    expect(received).toEqual(Array.from({ length: 500 }, (_, k) => ['client', { k }]));
    await waitFor(() => server.stats().droppedUnknownChannel === 1, 'unknown channel counted');
  });

  it('returns handler errors as RemoteError with the remote code', async () => {
    const { server, client: c } = await pair();
    server.handle('fail', {
      onRequest: (_from, request) => {
        const { kind } = request as { kind: string };
        if (kind === 'shoal') throw new ShoalError('ERR_KEY_LOCKED', 'the key is locked');
        if (kind === 'async') return Promise.reject(new ShoalError('ERR_ASYNC', 'later'));
        throw new Error('boom');
      },
    });
    const outcome = (kind: string) =>
      c.request('server', 'fail', { kind }, { timeoutMs: 5_000 }).then(
        () => undefined,
        (error: unknown) => error,
      );
    const shoal = await outcome('shoal');
    expect(shoal).toBeInstanceOf(RemoteError);
    expect((shoal as RemoteError).remoteCode).toBe('ERR_KEY_LOCKED');
    expect((shoal as RemoteError).message).toContain('the key is locked');
    expect(((await outcome('async')) as RemoteError).remoteCode).toBe('ERR_ASYNC');
    const internal = (await outcome('plain')) as RemoteError;
    expect(internal.remoteCode).toBe('ERR_REMOTE_INTERNAL');
    expect(internal.message).toContain('boom');

    const unknown = await c
      .request('server', 'no-such-channel', 1, { timeoutMs: 5_000 })
      .catch((error: unknown) => error);
    expect(unknown).toBeInstanceOf(RemoteError);
    expect((unknown as RemoteError).remoteCode).toBe('ERR_UNKNOWN_CHANNEL');
  });

  it('times out with RequestTimeoutError and drops the late reply', async () => {
    const { server, client: c } = await pair();
    let release: (() => void) | undefined;
    server.handle('slow', {
      onRequest: () =>
        new Promise((resolve) => {
          release = () => resolve('late');
        }),
    });
    const error = await c.request('server', 'slow', null, { timeoutMs: 50 }).catch((e) => e);
    expect(error).toBeInstanceOf(RequestTimeoutError);
    expect(release).toBeDefined();
    release?.();
    await waitFor(() => c.stats().droppedUnmatchedReplies === 1, 'late reply dropped');
  });

  it('refuses requests beyond maxPendingRequests per peer with a typed error', async () => {
    const server = await node('server');
    const c = cleanup.add(
      WsTransport.client({ id: 'client', secret: SECRET, limits: { maxPendingRequests: 3 } }),
      (t) => t.close(),
    );
    c.addPeer('server', server.address);
    await waitFor(() => c.isConnected('server'), 'connection');
    const releases: Array<() => void> = [];
    server.handle('hold', {
      onRequest: () => new Promise((resolve) => releases.push(() => resolve('ok'))),
    });
    const held = [0, 1, 2].map(() => c.request('server', 'hold', null, { timeoutMs: 10_000 }));
    await expect(c.request('server', 'hold', null, { timeoutMs: 10_000 })).rejects.toBeInstanceOf(
      TooManyPendingRequestsError,
    );
    await waitFor(() => releases.length === 3, 'handlers running');
    for (const release of releases) release();
    await expect(Promise.all(held)).resolves.toEqual(['ok', 'ok', 'ok']);
    // The slots are free again.
    server.handle('hold', { onRequest: () => 'again' });
    await expect(c.request('server', 'hold', null, { timeoutMs: 10_000 })).resolves.toBe('again');
  });

  it('fails at once without a connection, and validates its arguments', async () => {
    const c = client('lonely');
    const error = await c.request('nobody', 'x', 1, { timeoutMs: 60_000 }).catch((e) => e);
    expect(error).toBeInstanceOf(PeerUnavailableError);
    expect((error as PeerUnavailableError).sent).toBe(false);
    expect(c.send('nobody', 'x', 1)).toBe(false);
    expect(c.stats().droppedNotConnected).toBe(1);
    await expect(c.request('nobody', 'x', 1, { timeoutMs: 0 })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    expect(() => c.send('nobody', '', 1)).toThrow(InvalidArgumentError);
    expect(() => c.addPeer('lonely', '127.0.0.1:1')).toThrow(InvalidArgumentError);
    expect(() => c.addPeer('x', 'http://127.0.0.1:1')).toThrow(InvalidArgumentError);
    expect(() => c.addPeer('x', 'no-port')).toThrow(InvalidArgumentError);
    expect(() => WsTransport.client({ id: 'a', secret: '' })).toThrow(InvalidArgumentError);
    expect(() => WsTransport.client({ id: '', secret: 's' })).toThrow(InvalidArgumentError);
    expect(() =>
      WsTransport.client({ id: 'a', secret: 's', limits: { maxFrameBytes: -1 } }),
    ).toThrow(InvalidArgumentError);
    expect(() => c.port).toThrow(ShoalError);
    await c.close();
    await expect(c.request('nobody', 'x', 1, { timeoutMs: 1_000 })).rejects.toBeInstanceOf(
      TransportClosedError,
    );
    expect(c.send('nobody', 'x', 1)).toBe(false);
  });

  it('serves plain HTTP on the same port through a replaceable handler', async () => {
    const server = await node('server');
    const before = await fetch(`http://${server.address}/healthz`);
    expect(before.status).toBe(404);
    await before.text();
    server.setHttpHandler((request, response) => {
      if (request.url === '/boom') throw new Error('handler bug');
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
    const healthy = await fetch(`http://${server.address}/healthz`);
    expect(healthy.status).toBe(200);
    expect(await healthy.text()).toBe('ok');
    const broken = await fetch(`http://${server.address}/boom`);
    expect(broken.status).toBe(500);
    await broken.text();
    // WebSocket traffic on the same port is unaffected.
    const c = client('client');
    c.addPeer('server', server.url);
    await waitFor(() => c.isConnected('server'), 'connection after HTTP');
  });
});
