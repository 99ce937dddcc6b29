import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { pack } from 'msgpackr';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { WsTransport } from '../../src/transport/ws-transport.js';
import { Cleanup, RawPeer, RecordingLogger, testProof, WIRE, waitFor } from './ws-harness.js';

const SECRET = 'the-cluster-secret';
const FAST_RECONNECT = { initialBackoffMs: 5, maxBackoffMs: 20 };
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function server(logger = new RecordingLogger(), limits = {}) {
  const transport = await WsTransport.listen({ id: 'server', secret: SECRET, logger, limits });
  cleanup.add(transport, (t) => t.close());
  transport.handle('echo', { onRequest: (_from, m) => m });
  return { transport, logger };
}

async function raw(url: string) {
  return cleanup.add(await RawPeer.connect(url), (peer) => peer.close());
}

describe('WsTransport authentication', () => {
  it('refuses a dialer with the wrong secret, logging it once however often it retries', async () => {
    const { transport: node, logger } = await server();
    const clientLogger = new RecordingLogger();
    const intruder = cleanup.add(
      WsTransport.client({
        id: 'intruder',
        secret: 'not-the-secret',
        logger: clientLogger,
        limits: FAST_RECONNECT,
      }),
      (t) => t.close(),
    );
    intruder.addPeer('server', node.address);
    await waitFor(() => node.stats().authFailures >= 3, 'several rejected attempts');
    expect(node.isConnected('intruder')).toBe(false);
    expect(intruder.isConnected('server')).toBe(false);
    expect(logger.count('warn', 'authentication failed')).toBe(1);
    // The dialer learns why: the close code says authentication failed, also logged once.
    await waitFor(() => intruder.stats().authFailures >= 3, 'dialer saw the refusals');
    expect(clientLogger.count('warn', 'authentication failed')).toBe(1);
    const warned = clientLogger.entries.find((e) => e.level === 'warn');
    expect(String(warned?.fields?.error)).toContain('refused');
  });

  it('refuses an acceptor that cannot prove the secret (mutual authentication)', async () => {
    // A fake node that does not know the secret: it sends a Hello, then an AuthOk
    // with a proof it had to guess. It never learns anything it could replay.
    const fake = cleanup.add(
      new WebSocketServer({ host: '127.0.0.1', port: 0 }),
      (wss) =>
        new Promise((resolve) => {
          for (const ws of wss.clients) ws.terminate();
          wss.close(resolve);
        }),
    );
    await new Promise((resolve) => fake.once('listening', resolve));
    const closes: number[] = [];
    let authReceived = 0;
    fake.on('connection', (ws) => {
      ws.on('close', (code) => closes.push(code));
      ws.on('message', () => {
        authReceived++;
        ws.send(pack({ t: WIRE.AuthOk, p: randomBytes(32) }));
      });
      ws.send(pack({ t: WIRE.Hello, v: 1, id: 'server', n: randomBytes(32), f: 1 << 22, bm: 512 }));
    });
    const logger = new RecordingLogger();
    const c = cleanup.add(
      WsTransport.client({ id: 'client', secret: SECRET, logger, limits: FAST_RECONNECT }),
      (t) => t.close(),
    );
    const seen: string[] = [];
    c.watchPeers({ onPeerUp: (peer) => seen.push(peer) });
    c.handle('echo', { onRequest: (_from, m) => m });
    const port = (fake.address() as AddressInfo).port;
    c.addPeer('server', `127.0.0.1:${port}`);
    await waitFor(() => closes.length >= 2, 'client closed on the fake acceptor twice');
    expect(authReceived).toBeGreaterThanOrEqual(2);
    expect(closes.every((code) => code === 4001)).toBe(true);
    expect(seen).toEqual([]);
    expect(c.isConnected('server')).toBe(false);
    expect(logger.count('warn', 'authentication failed')).toBe(1);
  });

  it('closes a handshake with a missing proof, a bad proof, or a bad version with clear codes', async () => {
    const { transport: node } = await server();
    const attempt = async (fields: Record<string, unknown>) => {
      const peer = await raw(node.url);
      const hello = (await peer.next()) as { n: Uint8Array };
      const nonce = randomBytes(32);
      peer.sendValue({
        t: WIRE.Auth,
        v: 1,
        id: 'raw',
        n: nonce,
        p: testProof('dialer', SECRET, hello.n, nonce, 'raw', 'server'),
        f: 1 << 22,
        bm: 512,
        ...fields,
      });
      return peer.closed;
    };
    const missing = await attempt({ p: undefined });
    expect(missing).toEqual({ code: 4001, reason: 'authentication failed' });
    const wrong = await attempt({ p: randomBytes(32) });
    expect(wrong.code).toBe(4001);
    const version = await attempt({ v: 99 });
    expect(version).toEqual({ code: 4002, reason: 'unsupported protocol version' });
    const self = await attempt({ id: 'server' });
    expect(self.code).toBe(4003);
    // A proof made for another id does not authenticate this one.
    const impostor = await attempt({ id: 'someone-else' });
    expect(impostor.code).toBe(4001);
    expect(node.connectedPeers()).toEqual([]);
    // The control: the same code path with everything right is accepted.
    const good = await raw(node.url);
    await good.authenticate('raw', SECRET, 'server');
    expect((await good.roundTrip(7, 'echo', 'hi')).b).toBe('hi');
  });

  it('refuses a replayed handshake', async () => {
    const { transport: node } = await server();
    const original = await raw(node.url);
    const { auth } = await original.authenticate('raw', SECRET, 'server');
    await waitFor(() => node.isConnected('raw'), 'original accepted');
    // An eavesdropper replays the captured Auth frame on a new connection.
    const replay = await raw(node.url);
    await replay.next();
    replay.sendBytes(auth);
    expect((await replay.closed).code).toBe(4001);
    // The original session is untouched.
    expect((await original.roundTrip(1, 'echo', 'still here')).b).toBe('still here');
  });

  it('accepts nothing but handshake frames before authentication', async () => {
    const { transport: node } = await server();
    let called = 0;
    node.handle('sneak', {
      onRequest: () => {
        called++;
        return 'should not happen';
      },
      onMessage: () => {
        called++;
      },
    });
    const peer = await raw(node.url);
    await peer.next();
    peer.sendValue([
      { t: WIRE.Message, c: 'sneak', b: 1 },
      { t: WIRE.Request, i: 1, c: 'sneak', b: 1 },
    ]);
    const closed = await peer.closed;
    expect(closed.code).toBe(4400);
    expect(called).toBe(0);
  });

  it('cuts a connection that does not finish the handshake in time', async () => {
    const { transport: node, logger } = await server(new RecordingLogger(), {
      handshakeTimeoutMs: 100,
    });
    const silent = await raw(node.url);
    expect(await silent.closed).toEqual({ code: 4008, reason: 'handshake timeout' });
    expect(node.stats().authFailures).toBe(1);
    expect(logger.count('warn', 'authentication failed')).toBe(1);
  });

  it('refuses inbound connections beyond maxConnections and serves again below it', async () => {
    const { transport: node } = await server(new RecordingLogger(), { maxConnections: 2 });
    const first = await raw(node.url);
    await raw(node.url);
    await expect(RawPeer.connect(node.url)).rejects.toThrow(/503/);
    expect(node.stats().connectionsRejected).toBe(1);
    await first.close();
    await waitFor(() => node.stats().connectionsAccepted === 2, 'accepted count');
    const again = await waitForConnect(node.url);
    await again.authenticate('late', SECRET, 'server');
  });
});

/** Connects as soon as the server has released a slot. */
async function waitForConnect(url: string): Promise<RawPeer> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return cleanup.add(await RawPeer.connect(url), (peer) => peer.close());
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
  }
}
