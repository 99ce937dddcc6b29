/**
 * redis-cli (Debian's redis-tools) against shoal's RESP front end, compared with the
 * same invocations against a real redis-server. Fails, not skips, without the tools.
 */
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RespServer } from '../../src/resp/server.js';
import {
  MemoryClusterLayout,
  MemoryKeyspace,
  MemoryRespBackend,
  memoryNodeId,
} from '../support/memory-resp-backend.js';
import { type MemoryServer, startMemoryServer } from './support/memory-server.js';
import { redisCli } from './support/redis-cli.js';
import { type RedisProcess, requireBinary, startRedisServer } from './support/redis-process.js';

let redisServer: RedisProcess | undefined;
let shoal: MemoryServer | undefined;
const cleanups: (() => Promise<void> | void)[] = [];

beforeEach(async () => {
  requireBinary('redis-cli');
  redisServer = await startRedisServer();
  shoal = await startMemoryServer({ mode: 'proxy', allowFlush: true, password: undefined });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await shoal?.server.close();
  await redisServer?.stop();
});

describe('redis-cli against shoal', () => {
  it('prints the same as against redis-server, raw and formatted', async () => {
    const script: string[][] = [
      ['SET', 'k', 'v'],
      ['GET', 'k'],
      ['INCR', 'n'],
      ['INCRBY', 'n', '41'],
      ['TTL', 'k'],
      ['EXPIRE', 'k', '100'],
      ['TTL', 'k'],
      ['MGET', 'k', 'n', 'zz'],
      ['FOO', 'a b', 'c'],
      ['GET'],
      ['SET', 'k', 'v', 'EX', '0'],
      ['APPEND', 'k', 'xyz'],
      ['STRLEN', 'k'],
      ['GETEX', 'k', 'PERSIST'],
      ['TTL', 'k'],
      ['TYPE', 'k'],
      ['EXISTS', 'k', 'k', 'nope'],
      ['DEL', 'k', 'n'],
      ['GET', 'k'],
      ['PING'],
      ['ECHO', 'hi there'],
      ['DBSIZE'],
      ['SELECT', '3000000000'],
    ];
    for (const mode of [[], ['--no-raw']]) {
      for (const args of script) {
        const expected = await redisCli(redisServer!.port, [...mode, ...args]);
        const actual = await redisCli(shoal!.port, [...mode, ...args]);
        expect({ args, mode, output: actual.stdout }).toEqual({
          args,
          mode,
          output: expected.stdout,
        });
      }
    }
  });

  it('stores binary stdin with -x and shows it like redis-server', async () => {
    const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('latin1');
    for (const port of [redisServer!.port, shoal!.port]) {
      expect((await redisCli(port, ['-x', 'SET', 'bin'], every)).stdout).toBe('OK\n');
    }
    const expected = await redisCli(redisServer!.port, ['--no-raw', 'GET', 'bin']);
    const actual = await redisCli(shoal!.port, ['--no-raw', 'GET', 'bin']);
    expect(actual.stdout).toBe(expected.stdout);
    const client = new Redis({ host: '127.0.0.1', port: shoal!.port });
    cleanups.push(() => client.disconnect());
    expect(await client.getBuffer('bin')).toEqual(Buffer.from(every, 'latin1'));
  });

  it('accepts 1,000 pipelined commands from redis-cli --pipe', async () => {
    let input = '';
    for (let i = 0; i < 1000; i++) {
      const key = `key:${i}`;
      const value = `value:${i}`;
      input += `*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$${value.length}\r\n${value}\r\n`;
    }
    const { stdout } = await redisCli(shoal!.port, ['--pipe'], input);
    expect(stdout).toContain('errors: 0, replies: 1000');
    expect((await redisCli(shoal!.port, ['DBSIZE'])).stdout).toBe('1000\n');
    expect((await redisCli(shoal!.port, ['GET', 'key:999'])).stdout).toBe('value:999\n');
  });

  it('speaks RESP3 with redis-cli -3', async () => {
    for (const args of [
      ['GET', 'missing'],
      ['SET', 'x', '1'],
      ['MGET', 'x', 'missing'],
      ['--no-raw', 'MGET', 'x', 'missing'],
    ]) {
      const expected = await redisCli(redisServer!.port, ['-3', ...args]);
      const actual = await redisCli(shoal!.port, ['-3', ...args]);
      expect({ args, output: actual.stdout }).toEqual({ args, output: expected.stdout });
    }
  });

  it('authenticates with -a and reports NOAUTH without it', async () => {
    const locked = await startMemoryServer({ password: 'pw' });
    cleanups.push(() => locked.server.close());
    expect((await redisCli(locked.port, ['GET', 'k'])).stdout).toBe(
      'NOAUTH Authentication required.\n\n',
    );
    expect((await redisCli(locked.port, ['-a', 'pw', '--no-auth-warning', 'PING'])).stdout).toBe(
      'PONG\n',
    );
    expect(
      (await redisCli(locked.port, ['-a', 'wrong', '--no-auth-warning', 'PING'])).stdout,
    ).toContain('NOAUTH');
  });

  it('follows MOVED across a 3-node layout with redis-cli -c', async () => {
    const keyspace = new MemoryKeyspace();
    const layout = new MemoryClusterLayout();
    const ids = ['c1', 'c2', 'c3'].map(memoryNodeId);
    for (const id of ids) {
      layout.addNode({ id, host: '127.0.0.1', port: 0, busPort: 0, health: 'online' });
    }
    layout.assign(0, 5460, ids[0]!);
    layout.assign(5461, 10922, ids[1]!);
    layout.assign(10923, 16383, ids[2]!);
    const ports: number[] = [];
    for (const id of ids) {
      const server = new RespServer({
        backend: new MemoryRespBackend({ keyspace, layout, selfId: id }),
      });
      const { port } = await server.listen();
      cleanups.push(() => server.close());
      layout.setAddress(id, '127.0.0.1', port);
      ports.push(port);
    }
    // "foo" hashes to slot 12182, owned by the third node.
    expect((await redisCli(ports[0]!, ['SET', 'foo', 'bar'])).stdout).toBe(
      `MOVED 12182 127.0.0.1:${ports[2]}\n\n`,
    );
    expect((await redisCli(ports[0]!, ['-c', 'SET', 'foo', 'bar'])).stdout).toBe('OK\n');
    expect((await redisCli(ports[1]!, ['-c', 'GET', 'foo'])).stdout).toBe('bar\n');
    expect((await redisCli(ports[2]!, ['GET', 'foo'])).stdout).toBe('bar\n');
  });
});
