/**
 * Client-role connections: a dialer that proves only the client credential may send
 * what each channel admits from clients, is filed under `client:<id>` (never as the
 * node id it announces), and everything else it sends is refused with ERR_FORBIDDEN
 * before a handler sees it.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { pack } from 'msgpackr';
import { afterEach, describe, expect, it } from 'vitest';
import { RemoteError } from '../../src/transport/errors.js';
import type { Message } from '../../src/transport/transport.js';
import type { PeerRole } from '../../src/transport/ws-handshake.js';
import { WsTransport } from '../../src/transport/ws-transport.js';
import { InvalidArgumentError } from '../../src/util/errors.js';
import { Cleanup, RawPeer, WIRE, waitFor } from './ws-harness.js';

const SECRET = 'the-cluster-secret';
const CLIENT_SECRET = 'the-client-credential';
const FAST_RECONNECT = { initialBackoffMs: 5, maxBackoffMs: 20 };
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** What the node's handlers saw, by channel. */
interface Seen {
  requests: Array<{ channel: string; from: string; body: unknown }>;
  messages: Array<{ channel: string; from: string; body: unknown }>;
}

/** A node with a `coord` channel closed to clients and a `cache` channel admitting `op`. */
async function node(id: string, clientSecret: string | null = CLIENT_SECRET) {
  const transport = cleanup.add(
    await WsTransport.listen({
      id,
      secret: SECRET,
      ...(clientSecret === null ? {} : { clientSecret }),
      limits: FAST_RECONNECT,
    }),
    (t) => t.close(),
  );
  const seen: Seen = { requests: [], messages: [] };
  for (const channel of ['coord', 'cache']) {
    transport.handle(channel, {
      onRequest: (from, body) => {
        seen.requests.push({ channel, from, body });
        return { servedTo: from };
      },
      onMessage: (from, body) => {
        seen.messages.push({ channel, from, body });
      },
      ...(channel === 'cache'
        ? { admitFromClient: (m: Message) => (m as { t?: unknown } | null)?.t === 'op' }
        : {}),
    });
  }
  return { transport, seen };
}

function client(id: string, secret = CLIENT_SECRET, role: PeerRole = 'client') {
  return cleanup.add(WsTransport.client({ id, secret, role, limits: FAST_RECONNECT }), (t) =>
    t.close(),
  );
}

async function remoteCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RemoteError) return error.remoteCode;
    throw error;
  }
  throw new Error('the request was not refused');
}

function lengthPrefixed(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** A dialer proof under any role label, computed independently of src/. */
function proofWithLabel(label: string, key: string, nA: Uint8Array, nD: Uint8Array, d: string) {
  return createHmac('sha256', key)
    .update(`shoal/ws/v1 ${label}\0`)
    .update(nA)
    .update(nD)
    .update(lengthPrefixed(d))
    .update(lengthPrefixed('n1'))
    .digest();
}

/** Sends a hand-made Auth to `n1` and returns the close code (or 0 if accepted). */
async function rawAuth(url: string, role: number | undefined, label: string, key: string) {
  const peer = cleanup.add(await RawPeer.connect(url), (p) => p.close());
  const hello = (await peer.next()) as { n: Uint8Array };
  const nonce = randomBytes(32);
  peer.sendBytes(
    pack({
      t: WIRE.Auth,
      v: WIRE.version,
      id: 'forger',
      n: nonce,
      ...(role === undefined ? {} : { r: role }),
      p: proofWithLabel(label, key, hello.n, nonce, 'forger'),
      f: 4 * 1024 * 1024,
      bm: 512,
    }),
  );
  return peer.next().then(
    () => 0,
    () => peer.closed.then((c) => c.code),
  );
}

describe('WsTransport client role', () => {
  it('serves what the channel admits to a client, filed under client:<id>', async () => {
    const { transport: n1, seen } = await node('n1');
    const c = client('app-1');
    c.addPeer('n1', n1.address);
    await waitFor(() => c.isConnected('n1'), 'client connected');
    const reply = await c.request('n1', 'cache', { t: 'op' }, { timeoutMs: 5_000 });
    expect(reply).toEqual({ servedTo: 'client:app-1' });
    expect(seen.requests).toEqual([{ channel: 'cache', from: 'client:app-1', body: { t: 'op' } }]);
    expect(n1.isConnected('client:app-1')).toBe(true);
    expect(n1.isConnected('app-1')).toBe(false);
  });

  it('refuses coordinator and replication traffic from a client with ERR_FORBIDDEN', async () => {
    const { transport: n1, seen } = await node('n1');
    const c = client('app-2');
    c.addPeer('n1', n1.address);
    await waitFor(() => c.isConnected('n1'), 'client connected');
    const vote = { t: 'vote', epoch: 99, leader: 'app-2' };
    expect(await remoteCode(c.request('n1', 'coord', vote, { timeoutMs: 5_000 }))).toBe(
      'ERR_FORBIDDEN',
    );
    expect(
      await remoteCode(c.request('n1', 'cache', { t: 'repl', items: [] }, { timeoutMs: 5_000 })),
    ).toBe('ERR_FORBIDDEN');
    expect(c.send('n1', 'coord', vote)).toBe(true);
    expect(c.send('n1', 'cache', { t: 'adopt' })).toBe(true);
    // The connection stays usable for what a client may do, and FIFO order on it
    // means the one-way messages above were processed before this reply.
    expect(await c.request('n1', 'cache', { t: 'op' }, { timeoutMs: 5_000 })).toEqual({
      servedTo: 'client:app-2',
    });
    expect(n1.stats().refusedFromClients).toBe(4);
    expect(seen.messages).toEqual([]);
    expect(seen.requests.map((r) => r.body)).toEqual([{ t: 'op' }]);
  });

  it('never takes a client announcing a node id for that node', async () => {
    const { transport: n1, seen } = await node('n1');
    const n2 = cleanup.add(await WsTransport.listen({ id: 'n2', secret: SECRET }), (t) =>
      t.close(),
    );
    n2.addPeer('n1', n1.address);
    await waitFor(() => n1.isConnected('n2'), 'node n2 connected');
    const impostor = client('n2');
    impostor.addPeer('n1', n1.address);
    await waitFor(() => impostor.isConnected('n1'), 'impostor connected');
    expect(n1.isConnected('client:n2')).toBe(true);
    expect(n1.connectionCount('n2')).toBe(1);
    expect(
      await remoteCode(impostor.request('n1', 'coord', { t: 'ack' }, { timeoutMs: 5_000 })),
    ).toBe('ERR_FORBIDDEN');
    // The real n2 still speaks as n2, on the coordinator channel too.
    expect(await n2.request('n1', 'coord', { t: 'ack' }, { timeoutMs: 5_000 })).toEqual({
      servedTo: 'n2',
    });
    expect(seen.requests.map((r) => r.from)).toEqual(['n2']);
  });

  it('refuses client credentials that are wrong, absent on the node, or the cluster secret', async () => {
    const { transport: withCredential } = await node('n1');
    const { transport: withoutCredential } = await node('n3', null);
    const wrong = client('wrong', 'not-the-credential');
    wrong.addPeer('n1', withCredential.address);
    const clusterSecretAsClient = client('confused', SECRET);
    clusterSecretAsClient.addPeer('n1', withCredential.address);
    const unwelcome = client('unwelcome');
    unwelcome.addPeer('n3', withoutCredential.address);
    await waitFor(
      () => withCredential.stats().authFailures >= 4 && withoutCredential.stats().authFailures >= 2,
      'repeated refusals',
    );
    expect(withCredential.connectedPeers()).toEqual([]);
    expect(withoutCredential.connectedPeers()).toEqual([]);
    // A node-role endpoint still connects to the node that accepts no clients.
    const peer = client('n4', SECRET, 'node');
    peer.addPeer('n3', withoutCredential.address);
    await waitFor(() => withoutCredential.isConnected('n4'), 'node accepted');
  });

  it('does not let a client proof pass as a node proof, or a node id enter the client namespace', async () => {
    const { transport: n1 } = await node('n1');
    // The client credential under the node role (r absent or 0): refused.
    expect(await rawAuth(n1.url, undefined, 'dialer', CLIENT_SECRET)).toBe(4001);
    expect(await rawAuth(n1.url, 0, 'client-dialer', CLIENT_SECRET)).toBe(4001);
    // The client role with the node label, or an unknown role code: refused.
    expect(await rawAuth(n1.url, 1, 'dialer', CLIENT_SECRET)).toBe(4001);
    expect(await rawAuth(n1.url, 7, 'client-dialer', CLIENT_SECRET)).toBe(4400);
    // The controls: the right label and key for each role are accepted.
    expect(await rawAuth(n1.url, 1, 'client-dialer', CLIENT_SECRET)).toBe(0);
    expect(await rawAuth(n1.url, undefined, 'dialer', SECRET)).toBe(0);
    expect(n1.stats().authFailures).toBe(3);
  });

  it('validates role options', async () => {
    expect(() =>
      WsTransport.client({ id: 'c', secret: SECRET, clientSecret: SECRET, role: 'client' }),
    ).toThrow(InvalidArgumentError);
    expect(() => WsTransport.client({ id: 'client:x', secret: SECRET })).toThrow(
      InvalidArgumentError,
    );
    await expect(
      WsTransport.listen({ id: 'n9', secret: CLIENT_SECRET, role: 'client' }),
    ).rejects.toThrow(InvalidArgumentError);
    const peer = cleanup.add(await RawPeer.connect((await node('n1')).transport.url), (p) =>
      p.close(),
    );
    const hello = (await peer.next()) as { n: Uint8Array };
    const nonce = randomBytes(32);
    peer.sendBytes(
      pack({
        t: WIRE.Auth,
        v: WIRE.version,
        id: 'client:n2',
        n: nonce,
        p: proofWithLabel('dialer', SECRET, hello.n, nonce, 'client:n2'),
        f: 4 * 1024 * 1024,
        bm: 512,
      }),
    );
    expect((await peer.closed).code).toBe(4003);
  });
});
