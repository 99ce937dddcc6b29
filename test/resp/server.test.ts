import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { RespServer } from '../../src/resp/server.js';
import { ShoalError } from '../../src/util/errors.js';
import { MemoryRespBackend } from '../support/memory-resp-backend.js';
import { type MemoryServer, startMemoryServer } from './support/memory-server.js';
import { encodeCommand, RawRespClient, ReplyDeadlineError } from './support/raw-client.js';

const servers: MemoryServer[] = [];
const clients: RawRespClient[] = [];

async function start(options: Parameters<typeof startMemoryServer>[0] = {}): Promise<MemoryServer> {
  const started = await startMemoryServer(options);
  servers.push(started);
  return started;
}

async function connect(port: number): Promise<RawRespClient> {
  const client = await RawRespClient.connect(port);
  clients.push(client);
  return client;
}

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(servers.splice(0).map((started) => started.server.close()));
});

describe('RespServer connections', () => {
  it('replies to a protocol error with Redis text, then closes only that connection', async () => {
    const { port } = await start();
    const bad = await connect(port);
    const good = await connect(port);
    bad.write('PING\r\n*1\r\n$-5\r\nPING\r\n');
    expect((await bad.readUntilClosed()).toString()).toBe(
      '+PONG\r\n-ERR Protocol error: invalid bulk length\r\n',
    );
    expect(await good.call(['PING'])).toEqual({ type: 'simple', value: 'PONG' });
  });

  it('survives random bytes: every connection gets replies or an error and a close', async () => {
    const { port, server } = await start({
      limits: { maxBulkBytes: 1024, maxInlineBytes: 1024, maxBufferedBytes: 8192 },
    });
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 512 }), async (bytes) => {
        const client = await connect(port);
        client.write(Buffer.from(bytes));
        // A line end first, so bytes that began an inline command end there.
        client.write('\r\nECHO SENTINEL\r\n');
        for (;;) {
          let reply: Awaited<ReturnType<RawRespClient['nextReply']>>;
          try {
            reply = await client.nextReply(500);
          } catch (error) {
            // Either the server closed, or the bytes began a frame longer than what
            // followed, which the server legitimately waits to complete.
            if (!(error instanceof ReplyDeadlineError)) expect(client.closed).toBe(true);
            break;
          }
          if (reply.type === 'error' && reply.value.startsWith('ERR Protocol error')) {
            await client.readUntilClosed();
            break;
          }
          if (reply.type === 'bulk' && reply.value === 'SENTINEL') break;
        }
        client.close();
      }),
      { numRuns: 100 },
    );
    const probe = await connect(port);
    expect(await probe.call(['PING'])).toEqual({ type: 'simple', value: 'PONG' });
    expect(server.connectionCount).toBeLessThanOrEqual(2);
  });

  it('closes a connection whose pending command exceeds the buffer limit', async () => {
    const { port } = await start({
      limits: { maxBulkBytes: 1024, maxInlineBytes: 1024, maxBufferedBytes: 8192 },
    });
    const client = await connect(port);
    const big = Buffer.alloc(1000, 0x61);
    client.write(encodeCommand(['MSET', ...Array.from({ length: 20 }, () => big)]));
    expect((await client.readUntilClosed()).toString()).toBe(
      '-ERR Protocol error: client query buffer exceeds the limit of 8192 bytes\r\n',
    );
  });

  it('refuses connections beyond maxClients with Redis error text', async () => {
    const { port, server } = await start({ limits: { maxClients: 2 } });
    const first = await connect(port);
    const second = await connect(port);
    expect(await first.call(['PING'])).toEqual({ type: 'simple', value: 'PONG' });
    expect(await second.call(['PING'])).toEqual({ type: 'simple', value: 'PONG' });
    const third = await connect(port);
    expect((await third.readUntilClosed()).toString()).toBe(
      '-ERR max number of clients reached\r\n',
    );
    expect(server.stats.connectionsRejected).toBe(1);
    first.close();
    const deadline = Date.now() + 5000;
    while (server.connectionCount > 1 && Date.now() < deadline) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    const fourth = await connect(port);
    expect(await fourth.call(['PING'])).toEqual({ type: 'simple', value: 'PONG' });
  });

  it('closes idle connections after idleTimeoutMs', async () => {
    const { port } = await start({ limits: { idleTimeoutMs: 50 } });
    const client = await connect(port);
    expect(await client.call(['PING'])).toEqual({ type: 'simple', value: 'PONG' });
    expect((await client.readUntilClosed()).length).toBe(0);
  });

  it('delivers every reply to a client that reads late (output backpressure)', async () => {
    const { port } = await start({ limits: { outputHighWaterBytes: 64 * 1024 } });
    const client = await connect(port);
    const value = Buffer.alloc(256 * 1024, 0x7a);
    expect(await client.call(['SET', 'big', value])).toEqual({ type: 'simple', value: 'OK' });
    const count = 100;
    client.write(Buffer.concat(Array.from({ length: count }, () => encodeCommand(['GET', 'big']))));
    for (let i = 0; i < count; i++) {
      const reply = await client.nextReply();
      expect(reply.type === 'bulk' && reply.value.length).toBe(value.length);
    }
    expect(await client.call(['PING'])).toEqual({ type: 'simple', value: 'PONG' });
  });

  it('turns backend failures into error replies and keeps the connection', async () => {
    const backend = new MemoryRespBackend();
    backend.get = async () => {
      throw new ShoalError('ERR_NO_QUORUM', 'no quorum: writes refused');
    };
    backend.strlen = async () => {
      throw new TypeError('boom');
    };
    const server = new RespServer({ backend });
    const { port } = await server.listen();
    try {
      const client = await connect(port);
      expect(await client.call(['GET', 'k'])).toEqual({
        type: 'error',
        value: 'ERR no quorum: writes refused',
      });
      expect(await client.call(['STRLEN', 'k'])).toEqual({
        type: 'error',
        value: 'ERR internal error',
      });
      expect(await client.call(['PING'])).toEqual({ type: 'simple', value: 'PONG' });
    } finally {
      await server.close();
    }
  });

  it('close() ends every connection and stops listening', async () => {
    const { port, server } = await start();
    const client = await connect(port);
    expect(await client.call(['PING'])).toEqual({ type: 'simple', value: 'PONG' });
    await server.close();
    await client.readUntilClosed();
    expect(client.closed).toBe(true);
    await expect(RawRespClient.connect(port)).rejects.toThrow();
  });
});
