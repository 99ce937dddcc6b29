import { afterEach, describe, expect, it } from 'vitest';
import {
  BackpressureError,
  MessageTooLargeError,
  RemoteError,
} from '../../src/transport/errors.js';
import { WsTransport } from '../../src/transport/ws-transport.js';
import { InvalidArgumentError } from '../../src/util/errors.js';
import { Cleanup, RawPeer, waitFor } from './ws-harness.js';

const SECRET = 'bounds-secret';
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const yieldToIo = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('WsTransport bounds', () => {
  it('drops sends and refuses requests instead of buffering without bound', async () => {
    const maxBufferedBytes = 1024 * 1024;
    const server = cleanup.add(
      await WsTransport.listen({ id: 'server', secret: SECRET, limits: { maxBufferedBytes } }),
      (t) => t.close(),
    );
    // A peer that authenticates, then stops reading: the kernel buffers fill, then ours.
    const sink = cleanup.add(await RawPeer.connect(server.url), (peer) => peer.close());
    await sink.authenticate('sink', SECRET, 'server');
    await waitFor(() => server.isConnected('sink'), 'sink connected');
    sink.ws.pause();

    const chunkBytes = 256 * 1024;
    const chunk = Buffer.alloc(chunkBytes, 7);
    let accepted = 0;
    let refused = false;
    let maxBuffered = 0;
    // 4000 chunks (1 GB) is far beyond any socket buffer: reaching it means no bound.
    for (let k = 0; k < 4000 && !refused; k++) {
      if (server.send('sink', 'data', chunk)) accepted++;
      else refused = true;
      await yieldToIo();
      maxBuffered = Math.max(maxBuffered, server.bufferedBytes('sink'));
    }
    expect(refused).toBe(true);
    expect(accepted).toBeGreaterThan(0);
    // At most the limit plus the one frame that crossed it.
    expect(maxBuffered).toBeLessThanOrEqual(maxBufferedBytes + chunkBytes + 1024);
    expect(server.stats().droppedBackpressure).toBe(1);
    await expect(server.request('sink', 'x', 1, { timeoutMs: 60_000 })).rejects.toBeInstanceOf(
      BackpressureError,
    );
    expect(server.isConnected('sink')).toBe(true);

    // Once the peer reads again, the buffer drains and traffic flows.
    sink.ws.resume();
    await waitFor(() => server.bufferedBytes('sink') === 0, 'buffer drained');
    expect(server.send('sink', 'data', chunk)).toBe(true);
  });

  it('honours the smaller frame limit of the two ends without breaking the connection', async () => {
    const server = cleanup.add(
      await WsTransport.listen({
        id: 'server',
        secret: SECRET,
        limits: { maxFrameBytes: 64 * 1024 },
      }),
      (t) => t.close(),
    );
    server.handle('echo', { onRequest: (_from, m) => m });
    server.handle('big', { onRequest: () => 'y'.repeat(100 * 1024) });
    const small = cleanup.add(
      WsTransport.client({ id: 'small', secret: SECRET, limits: { maxFrameBytes: 64 * 1024 } }),
      (t) => t.close(),
    );
    const client = cleanup.add(WsTransport.client({ id: 'client', secret: SECRET }), (t) =>
      t.close(),
    );
    client.addPeer('server', server.address);
    small.addPeer('server', server.address);
    await waitFor(() => client.isConnected('server') && small.isConnected('server'), 'connected');

    // The client allows 4 MiB itself, but the server announced 64 KiB.
    const big = 'x'.repeat(100 * 1024);
    const tooBig = await client
      .request('server', 'echo', big, { timeoutMs: 5_000 })
      .catch((e) => e);
    expect(tooBig).toBeInstanceOf(MessageTooLargeError);
    expect(client.send('server', 'echo', big)).toBe(true);
    await waitFor(() => client.stats().droppedUnsendable === 1, 'oversized message dropped');
    // Batched neighbours of an oversized message still go through.
    const neighbours = await Promise.all([
      client.request('server', 'echo', 'a', { timeoutMs: 5_000 }),
      client.request('server', 'echo', big, { timeoutMs: 5_000 }).catch((e) => e.code),
      client.request('server', 'echo', 'b', { timeoutMs: 5_000 }),
    ]);
    expect(neighbours).toEqual(['a', 'ERR_MESSAGE_TOO_LARGE', 'b']);
    // A reply too big for the requester comes back as an error, not a dead connection.
    const reply = await small.request('server', 'big', null, { timeoutMs: 5_000 }).catch((e) => e);
    expect(reply).toBeInstanceOf(RemoteError);
    expect((reply as RemoteError).remoteCode).toBe('ERR_MESSAGE_TOO_LARGE');
    // Something msgpack cannot encode fails that request only.
    const unencodable = await client
      .request('server', 'echo', Symbol('nope'), { timeoutMs: 5_000 })
      .catch((e) => e);
    expect(unencodable).toBeInstanceOf(InvalidArgumentError);
    expect(client.isConnected('server') && small.isConnected('server')).toBe(true);
    expect(server.stats().protocolErrors).toBe(0);
    await expect(small.request('server', 'echo', 'fine', { timeoutMs: 5_000 })).resolves.toBe(
      'fine',
    );
  });
});
