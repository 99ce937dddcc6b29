import { afterEach, describe, expect, it } from 'vitest';
import { WsTransport } from '../../src/transport/ws-transport.js';
import { Cleanup, waitFor } from './ws-harness.js';
import { selfSignedCertificate } from './ws-self-signed-cert.js';

const SECRET = 'tls-secret';
const FAST_RECONNECT = { initialBackoffMs: 5, maxBackoffMs: 20 };
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('WsTransport over TLS', () => {
  const { key, cert } = selfSignedCertificate();

  async function tlsNode(id: string) {
    const node = await WsTransport.listen({ id, secret: SECRET, tls: { key, cert, ca: cert } });
    cleanup.add(node, (t) => t.close());
    node.handle('echo', { onRequest: (from, m) => ({ from, m }) });
    return node;
  }

  it('serves wss end to end to a client that trusts the certificate', async () => {
    const server = await tlsNode('server');
    expect(server.url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+$/);
    const client = cleanup.add(
      WsTransport.client({ id: 'client', secret: SECRET, tls: { ca: cert } }),
      (t) => t.close(),
    );
    client.addPeer('server', server.url);
    await waitFor(() => client.isConnected('server'), 'TLS connection');
    const replies = await Promise.all(
      Array.from({ length: 100 }, (_, n) =>
        client.request('server', 'echo', n, { timeoutMs: 5_000 }),
      ),
    );
    expect(replies).toEqual(Array.from({ length: 100 }, (_, n) => ({ from: 'client', m: n })));
  });

  it('connects two TLS nodes dialing each other by bare host:port', async () => {
    const a = await tlsNode('a');
    const b = await tlsNode('b');
    a.addPeer('b', b.address);
    b.addPeer('a', a.address);
    await waitFor(() => a.isConnected('b') && b.isConnected('a'), 'TLS mesh');
    await expect(b.request('a', 'echo', 'hi', { timeoutMs: 5_000 })).resolves.toEqual({
      from: 'b',
      m: 'hi',
    });
  });

  it('never connects a client that does not trust the certificate, or that speaks plain ws', async () => {
    const server = await tlsNode('server');
    const untrusting = cleanup.add(
      WsTransport.client({ id: 'untrusting', secret: SECRET, limits: FAST_RECONNECT }),
      (t) => t.close(),
    );
    untrusting.addPeer('server', server.url);
    const plain = cleanup.add(
      WsTransport.client({ id: 'plain', secret: SECRET, limits: FAST_RECONNECT }),
      (t) => t.close(),
    );
    plain.addPeer('server', `ws://${server.address}`);
    await waitFor(
      () => untrusting.stats().dials >= 3 && plain.stats().dials >= 3,
      'several failed dials each',
    );
    expect(untrusting.isConnected('server')).toBe(false);
    expect(plain.isConnected('server')).toBe(false);
    expect(server.connectedPeers()).toEqual([]);
  });
});
