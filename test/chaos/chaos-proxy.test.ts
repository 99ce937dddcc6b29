import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ChaosProxy } from '../support/chaos-proxy.js';
import { ownerOfConnection } from '../support/chaos-socket-owner.js';

/** An echo server on 127.0.0.1 (ephemeral port). */
async function echoServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => {
    socket.on('error', () => {});
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { server, port: address.port };
}

/** Connects to `port`; resolves once connected. */
function dial(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves with the first `bytes` echoed bytes, or 'closed' when the socket closes first. */
function read(socket: Socket, bytes: number): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString();
      if (text.length >= bytes) {
        socket.off('data', onData);
        resolve(text);
      }
    };
    socket.on('data', onData);
    socket.once('close', () => resolve('closed'));
  });
}

/** Whether `socket` closes (or errors) before `ms` pass. */
function closesWithin(socket: Socket, ms: number): Promise<boolean> {
  if (socket.destroyed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(): Promise<{ proxy: ChaosProxy; sockets: Socket[] }> {
  const { server, port } = await echoServer();
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  // Every dialer here is this process; name it after the test.
  const proxy = await ChaosProxy.start('echo', port, () => 'tester');
  cleanups.push(() => proxy.close());
  const sockets: Socket[] = [];
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
  });
  return { proxy, sockets };
}

describe('ChaosProxy', () => {
  it('forwards both ways in pass mode and attributes the connection to its dialer', async () => {
    const { proxy, sockets } = await setup();
    const socket = await dial(proxy.port);
    sockets.push(socket);
    const echoed = read(socket, 5);
    socket.write('hello');
    expect(await echoed).toBe('hello');
    expect(proxy.acceptedBySource.get('tester')).toBe(1);
  });

  it('black-holes a dropped link without closing it, and resets the connection on heal', async () => {
    const { proxy, sockets } = await setup();
    const socket = await dial(proxy.port);
    sockets.push(socket);
    proxy.setMode('tester', { kind: 'drop' });
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString();
    });
    socket.write('lost');
    // Nothing comes back and the connection stays open while the link drops.
    expect(await closesWithin(socket, 300)).toBe(false);
    expect(received).toBe('');
    proxy.setMode('tester', { kind: 'pass' });
    expect(await closesWithin(socket, 5_000)).toBe(true);
    const fresh = await dial(proxy.port);
    sockets.push(fresh);
    const echoed = read(fresh, 2);
    fresh.write('ok');
    expect(await echoed).toBe('ok');
  });

  it('resets open connections and refuses new ones in close mode', async () => {
    const { proxy, sockets } = await setup();
    const socket = await dial(proxy.port);
    sockets.push(socket);
    socket.on('error', () => {});
    proxy.setMode('tester', { kind: 'close' });
    expect(await closesWithin(socket, 5_000)).toBe(true);
    const refused = createConnection({ host: '127.0.0.1', port: proxy.port });
    sockets.push(refused);
    refused.on('error', () => {});
    expect(await closesWithin(refused, 5_000)).toBe(true);
    expect(proxy.accepted.close).toBe(1);
  });

  it('delays each chunk and keeps their order', async () => {
    const { proxy, sockets } = await setup();
    proxy.setMode('tester', { kind: 'delay', delayMs: 100 });
    const socket = await dial(proxy.port);
    sockets.push(socket);
    const echoed = read(socket, 6);
    const started = performance.now();
    socket.write('ab');
    socket.write('cd');
    socket.write('ef');
    expect(await echoed).toBe('abcdef');
    // A lower bound only: the delay is what the mode promises, whatever the load.
    expect(performance.now() - started).toBeGreaterThanOrEqual(100);
  });

  it('finds the process that owns the dialing socket of a loopback connection', async () => {
    const { server, port } = await echoServer();
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const socket = await dial(port);
    cleanups.push(() => {
      socket.destroy();
    });
    const owners = new Map([['me', process.pid]]);
    expect(ownerOfConnection(socket.localPort!, port, owners)).toBe('me');
    expect(ownerOfConnection(socket.localPort!, port, new Map([['other', 1]]))).toBeUndefined();
  });
});
