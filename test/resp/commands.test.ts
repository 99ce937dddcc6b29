import { Redis, type RedisOptions } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/util/clock.js';
import { type MemoryServer, startMemoryServer } from './support/memory-server.js';
import { RawRespClient } from './support/raw-client.js';

const WALL_START_MS = 1_700_000_000_000;

let memory: MemoryServer;
let redis: Redis;
let ttlClock: ManualClock;
let wallClock: ManualClock;
const extraClients: { disconnect(): void }[] = [];

/** Moves both the backend's TTL clock and the front end's wall clock. */
function advance(ms: number): void {
  ttlClock.advance(ms);
  wallClock.advance(ms);
}

function connect(options: RedisOptions = {}): Redis {
  const client = new Redis({
    host: '127.0.0.1',
    port: memory.port,
    maxRetriesPerRequest: 0,
    ...options,
  });
  extraClients.push(client);
  return client;
}

beforeEach(async () => {
  ttlClock = new ManualClock(0);
  wallClock = new ManualClock(WALL_START_MS);
  memory = await startMemoryServer(
    { wallClock, allowFlush: true, mode: 'proxy' },
    { clock: ttlClock },
  );
  redis = connect();
});

afterEach(async () => {
  for (const client of extraClients.splice(0)) client.disconnect();
  await memory.server.close();
});

describe('RESP commands over the memory backend, through ioredis', () => {
  it('answers PING, ECHO, SELECT 0, DBSIZE, TYPE', async () => {
    expect(await redis.ping()).toBe('PONG');
    expect(await redis.call('PING', 'hello')).toBe('hello');
    expect(await redis.echo('x y')).toBe('x y');
    expect(await redis.select(0)).toBe('OK');
    await expect(redis.select(1)).rejects.toThrow('ERR DB index is out of range');
    await expect(redis.call('SELECT', 'x')).rejects.toThrow(
      'ERR value is not an integer or out of range',
    );
    await redis.set('a', '1');
    await redis.set('b', '2');
    expect(await redis.dbsize()).toBe(2);
    expect(await redis.type('a')).toBe('string');
    expect(await redis.type('nope')).toBe('none');
  });

  it('answers unknown commands and wrong arity with Redis text, keeping the connection', async () => {
    await expect(redis.call('FOO', 'a', 'b')).rejects.toThrow(
      "ERR unknown command 'FOO', with args beginning with: 'a' 'b' ",
    );
    await expect(redis.call('GET')).rejects.toThrow(
      "ERR wrong number of arguments for 'get' command",
    );
    await expect(redis.call('CLIENT', 'NOPE')).rejects.toThrow(
      "ERR unknown subcommand 'NOPE'. Try CLIENT HELP.",
    );
    await expect(redis.call('PING', 'a', 'b')).rejects.toThrow(
      "ERR wrong number of arguments for 'ping' command",
    );
    expect(await redis.ping()).toBe('PONG');
  });

  it('implements SET with EX, PX, EXAT, PXAT, NX, XX, KEEPTTL and GET', async () => {
    expect(await redis.set('k', 'v1', 'EX', 10)).toBe('OK');
    expect(await redis.ttl('k')).toBe(10);
    expect(await redis.set('k', 'v2', 'PX', 1500)).toBe('OK');
    expect(await redis.pttl('k')).toBe(1500);
    expect(await redis.call('SET', 'k', 'v3', 'EXAT', WALL_START_MS / 1000 + 20)).toBe('OK');
    expect(await redis.ttl('k')).toBe(20);
    expect(await redis.call('SET', 'k', 'v4', 'PXAT', WALL_START_MS + 2500)).toBe('OK');
    expect(await redis.pttl('k')).toBe(2500);
    expect(await redis.call('SET', 'k', 'v5', 'KEEPTTL')).toBe('OK');
    expect(await redis.pttl('k')).toBe(2500);
    expect(await redis.set('k', 'v6')).toBe('OK');
    expect(await redis.ttl('k')).toBe(-1);
    expect(await redis.set('k', 'x', 'NX')).toBeNull();
    expect(await redis.set('missing', 'x', 'XX')).toBeNull();
    expect(await redis.exists('missing')).toBe(0);
    expect(await redis.set('k', 'v7', 'XX', 'GET')).toBe('v6');
    expect(await redis.call('SET', 'k', 'v8', 'NX', 'GET')).toBe('v7');
    expect(await redis.get('k')).toBe('v7');
    expect(await redis.call('SET', 'fresh', 'v', 'GET')).toBeNull();
    expect(await redis.call('SET', 'past', 'v', 'PXAT', WALL_START_MS - 1)).toBe('OK');
    expect(await redis.exists('past')).toBe(0);
    await expect(redis.call('SET', 'k', 'v', 'EX', 0)).rejects.toThrow(
      "ERR invalid expire time in 'set' command",
    );
    await expect(redis.call('SET', 'k', 'v', 'EX', 'ten')).rejects.toThrow(
      'ERR value is not an integer or out of range',
    );
    await expect(redis.call('SET', 'k', 'v', 'NX', 'XX')).rejects.toThrow('ERR syntax error');
    await expect(redis.call('SET', 'k', 'v', 'EX', 1, 'PX', 1)).rejects.toThrow('ERR syntax error');
    await expect(redis.call('SET', 'k', 'v', 'KEEPTTL', 'EX', 1)).rejects.toThrow(
      'ERR syntax error',
    );
    await expect(redis.call('SET', 'k', 'v', 'EX')).rejects.toThrow('ERR syntax error');
  });

  it('expires keys on the injected clock: TTL -2 for missing, -1 without expiry', async () => {
    expect(await redis.ttl('nothing')).toBe(-2);
    expect(await redis.pttl('nothing')).toBe(-2);
    await redis.set('plain', 'v');
    expect(await redis.ttl('plain')).toBe(-1);
    expect(await redis.pttl('plain')).toBe(-1);
    await redis.set('short', 'v', 'PX', 1000);
    advance(499);
    expect(await redis.ttl('short')).toBe(1);
    advance(2);
    expect(await redis.ttl('short')).toBe(0);
    expect(await redis.pttl('short')).toBe(499);
    advance(499);
    expect(await redis.get('short')).toBe('v');
    advance(1);
    expect(await redis.get('short')).toBeNull();
    expect(await redis.ttl('short')).toBe(-2);
  });

  it('implements SETEX, PSETEX, SETNX, GETSET, GETDEL', async () => {
    expect(await redis.setex('a', 5, 'x')).toBe('OK');
    expect(await redis.ttl('a')).toBe(5);
    expect(await redis.psetex('b', 700, 'y')).toBe('OK');
    expect(await redis.pttl('b')).toBe(700);
    await expect(redis.setex('a', 0, 'x')).rejects.toThrow(
      "ERR invalid expire time in 'setex' command",
    );
    await expect(redis.psetex('a', -5, 'x')).rejects.toThrow(
      "ERR invalid expire time in 'psetex' command",
    );
    expect(await redis.setnx('a', 'z')).toBe(0);
    expect(await redis.setnx('c', 'z')).toBe(1);
    expect(await redis.getset('a', 'new')).toBe('x');
    expect(await redis.ttl('a')).toBe(-1);
    expect(await redis.getset('none', 'v')).toBeNull();
    expect(await redis.getdel('a')).toBe('new');
    expect(await redis.getdel('a')).toBeNull();
    expect(await redis.exists('a')).toBe(0);
  });

  it('implements GETEX with EX, PX, EXAT, PXAT and PERSIST', async () => {
    await redis.set('k', 'v');
    expect(await redis.getex('k', 'EX', 100)).toBe('v');
    expect(await redis.ttl('k')).toBe(100);
    expect(await redis.getex('k', 'PX', 50)).toBe('v');
    expect(await redis.pttl('k')).toBe(50);
    expect(await redis.call('GETEX', 'k', 'EXAT', WALL_START_MS / 1000 + 7)).toBe('v');
    expect(await redis.ttl('k')).toBe(7);
    expect(await redis.getex('k', 'PERSIST')).toBe('v');
    expect(await redis.ttl('k')).toBe(-1);
    expect(await redis.getex('k')).toBe('v');
    expect(await redis.call('GETEX', 'k', 'PXAT', WALL_START_MS - 10)).toBe('v');
    expect(await redis.exists('k')).toBe(0);
    expect(await redis.call('GETEX', 'missing', 'EX', -1)).toBeNull();
    await redis.set('k', 'v');
    await expect(redis.call('GETEX', 'k', 'EX', -1)).rejects.toThrow(
      "ERR invalid expire time in 'getex' command",
    );
    await expect(redis.call('GETEX', 'k', 'NX')).rejects.toThrow('ERR syntax error');
  });

  it('implements DEL, UNLINK and EXISTS, counting like Redis', async () => {
    await redis.mset('a', '1', 'b', '2', 'c', '3');
    expect(await redis.exists('a', 'a', 'b', 'zz')).toBe(3);
    expect(await redis.del('a', 'a', 'zz')).toBe(1);
    expect(await redis.unlink('b', 'c')).toBe(2);
    expect(await redis.dbsize()).toBe(0);
  });

  it('implements EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT with NX, XX, GT, LT, and PERSIST', async () => {
    await redis.set('k', 'v');
    expect(await redis.expire('missing', 10)).toBe(0);
    expect(await redis.call('EXPIRE', 'k', 10, 'XX')).toBe(0);
    expect(await redis.call('EXPIRE', 'k', 10, 'GT')).toBe(0);
    expect(await redis.call('EXPIRE', 'k', 10, 'NX')).toBe(1);
    expect(await redis.call('EXPIRE', 'k', 20, 'NX')).toBe(0);
    expect(await redis.call('EXPIRE', 'k', 5, 'GT')).toBe(0);
    expect(await redis.call('EXPIRE', 'k', 30, 'GT')).toBe(1);
    expect(await redis.call('EXPIRE', 'k', 40, 'LT')).toBe(0);
    expect(await redis.call('PEXPIRE', 'k', 2500, 'LT', 'XX')).toBe(1);
    expect(await redis.pttl('k')).toBe(2500);
    expect(await redis.expireat('k', WALL_START_MS / 1000 + 60)).toBe(1);
    expect(await redis.ttl('k')).toBe(60);
    expect(await redis.pexpireat('k', WALL_START_MS + 1234)).toBe(1);
    expect(await redis.pttl('k')).toBe(1234);
    expect(await redis.persist('k')).toBe(1);
    expect(await redis.persist('k')).toBe(0);
    expect(await redis.ttl('k')).toBe(-1);
    expect(await redis.call('EXPIRE', 'k', 10, 'LT', 'XX')).toBe(0);
    expect(await redis.call('EXPIRE', 'k', 10, 'LT')).toBe(1);
    expect(await redis.expire('k', -1)).toBe(1);
    expect(await redis.exists('k')).toBe(0);
    await expect(redis.call('EXPIRE', 'k', 10, 'NX', 'XX')).rejects.toThrow(
      'ERR NX and XX, GT or LT options at the same time are not compatible',
    );
    await expect(redis.call('EXPIRE', 'k', 10, 'GT', 'LT')).rejects.toThrow(
      'ERR GT and LT options at the same time are not compatible',
    );
    await expect(redis.call('EXPIRE', 'k', 10, 'BOGUS')).rejects.toThrow(
      'ERR Unsupported option BOGUS',
    );
    await expect(redis.call('EXPIRE', 'k', '9223372036854775807')).rejects.toThrow(
      "ERR invalid expire time in 'expire' command",
    );
  });

  it('implements INCR, INCRBY, DECR, DECRBY with 64-bit range and Redis errors', async () => {
    expect(await redis.incr('n')).toBe(1);
    expect(await redis.incrby('n', 41)).toBe(42);
    expect(await redis.decr('n')).toBe(41);
    expect(await redis.decrby('n', 50)).toBe(-9);
    await redis.set('n', 'v', 'EX', 100);
    await expect(redis.incr('n')).rejects.toThrow('ERR value is not an integer or out of range');
    await redis.set('n', '9223372036854775806', 'EX', 100);
    const exact = connect({ stringNumbers: true });
    expect(await exact.incr('n')).toBe('9223372036854775807');
    expect(await redis.get('n')).toBe('9223372036854775807');
    expect(await redis.ttl('n')).toBe(100);
    await expect(redis.incr('n')).rejects.toThrow('ERR increment or decrement would overflow');
    await expect(redis.call('DECRBY', 'n', '-9223372036854775808')).rejects.toThrow(
      'ERR decrement would overflow',
    );
    await expect(redis.call('INCRBY', 'n', '1.5')).rejects.toThrow(
      'ERR value is not an integer or out of range',
    );
    await redis.set('n', '007');
    await expect(redis.incr('n')).rejects.toThrow('ERR value is not an integer or out of range');
  });

  it('implements APPEND, STRLEN, MGET, MSET', async () => {
    expect(await redis.append('s', 'ab')).toBe(2);
    expect(await redis.append('s', 'cd')).toBe(4);
    expect(await redis.strlen('s')).toBe(4);
    expect(await redis.strlen('none')).toBe(0);
    expect(await redis.mset('x', '1', 'y', '2')).toBe('OK');
    expect(await redis.mget('x', 'none', 'y', 's')).toEqual(['1', null, '2', 'abcd']);
    await expect(redis.call('MSET', 'x', '1', 'y')).rejects.toThrow(
      "ERR wrong number of arguments for 'mset' command",
    );
  });

  it('keeps binary values and keys with every byte value', async () => {
    const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const binaryKey = Buffer.from([0xff, 0x00, 0xc3, 0x28, 0x7b, 0x7d]);
    expect(await redis.set(binaryKey, every)).toBe('OK');
    expect(await redis.getBuffer(binaryKey)).toEqual(every);
    expect(await redis.strlen(binaryKey)).toBe(256);
    expect(await redis.exists(Buffer.from([0xff, 0x00, 0xc3, 0x28, 0x7b]))).toBe(0);
    expect(await redis.append(binaryKey, Buffer.from([0, 255]))).toBe(258);
    expect((await redis.getBuffer(binaryKey))?.subarray(256)).toEqual(Buffer.from([0, 255]));
  });

  it('runs a pipeline of 1,000 commands in order', async () => {
    const pipeline = redis.pipeline();
    for (let i = 0; i < 500; i++) {
      pipeline.set(`key:${i}`, `value:${i}`);
      pipeline.incr('counter');
    }
    const results = await pipeline.exec();
    expect(results).toHaveLength(1000);
    results?.forEach(([error, value], index) => {
      expect(error).toBeNull();
      expect(value).toBe(index % 2 === 0 ? 'OK' : Math.floor(index / 2) + 1);
    });
    const reads = redis.pipeline();
    for (let i = 0; i < 1000; i++) reads.get(`key:${i % 500}`);
    const values = await reads.exec();
    expect(values?.map(([, value]) => value)).toEqual(
      Array.from({ length: 1000 }, (_, i) => `value:${i % 500}`),
    );
  });

  it('implements CLIENT SETNAME, GETNAME, ID, INFO, SETINFO', async () => {
    expect(await redis.client('GETNAME')).toBeNull();
    expect(await redis.client('SETNAME', 'worker-1')).toBe('OK');
    expect(await redis.client('GETNAME')).toBe('worker-1');
    await expect(redis.client('SETNAME', 'has space')).rejects.toThrow(
      'ERR Client names cannot contain spaces, newlines or special characters.',
    );
    const id = await redis.client('ID');
    expect(typeof id).toBe('number');
    const info = String(await redis.client('INFO'));
    expect(info).toContain(`id=${id} `);
    expect(info).toContain('name=worker-1 ');
    expect(info).toContain('lib-name=ioredis');
    expect(info).toContain('cmd=client|info');
    const other = connect();
    expect(await other.client('ID')).not.toBe(id);
  });

  it('answers COMMAND, COMMAND COUNT, COMMAND INFO and COMMAND DOCS', async () => {
    const count = (await redis.call('COMMAND', 'COUNT')) as number;
    const all = (await redis.call('COMMAND')) as unknown[][];
    expect(all).toHaveLength(count);
    const [get, nothing] = (await redis.command('INFO', 'get', 'nosuch')) as [unknown[], null];
    expect(get.slice(0, 6)).toEqual(['get', 2, ['readonly', 'fast'], 1, 1, 1]);
    expect(nothing).toBeNull();
    const docs = (await redis.command('DOCS', 'set')) as unknown[];
    expect(docs[0]).toBe('set');
    expect(docs[1]).toEqual(expect.arrayContaining(['summary', 'Set the string value of a key']));
  });

  it('reports real figures in INFO', async () => {
    await redis.set('a', '1', 'EX', 100);
    await redis.set('b', '22');
    await redis.get('a');
    await redis.get('zz');
    const info = await redis.info();
    expect(info).toMatch(/^# Server\r\nredis_version:7\.0\.0\r\n/);
    expect(info).toContain('# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=0\r\n');
    expect(info).toContain('connected_clients:1\r\n');
    expect(info).toContain('keyspace_hits:1\r\n');
    expect(info).toContain('keyspace_misses:1\r\n');
    expect(info).toContain(`tcp_port:${memory.port}\r\n`);
    expect(info).toContain('used_memory:5\r\n');
    const processed = Number(/total_commands_processed:(\d+)/.exec(info)?.[1]);
    const later = await redis.info('stats');
    expect(later.startsWith('# Stats\r\n')).toBe(true);
    expect(Number(/total_commands_processed:(\d+)/.exec(later)?.[1])).toBe(processed + 1);
    expect(await redis.info('keyspace')).toBe('# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=0\r\n');
  });

  it('refuses FLUSHALL unless enabled', async () => {
    await redis.set('a', '1');
    expect(await redis.flushall()).toBe('OK');
    expect(await redis.dbsize()).toBe(0);
    const locked = await startMemoryServer();
    try {
      const client = new Redis({ port: locked.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
      extraClients.push(client);
      await expect(client.flushall()).rejects.toThrow(/^ERR FLUSHALL is disabled/);
      await expect(client.flushdb()).rejects.toThrow(/^ERR FLUSHDB is disabled/);
    } finally {
      await locked.server.close();
    }
  });

  it('closes after QUIT', async () => {
    const raw = await RawRespClient.connect(memory.port);
    raw.write('PING\r\nQUIT\r\nPING\r\n');
    expect((await raw.readUntilClosed()).toString()).toBe('+PONG\r\n+OK\r\n');
  });
});

describe('authentication', () => {
  let locked: MemoryServer;

  beforeEach(async () => {
    locked = await startMemoryServer({ password: 's3cret' });
  });

  afterEach(async () => {
    await locked.server.close();
  });

  it('answers NOAUTH until AUTH succeeds, except AUTH, HELLO and QUIT', async () => {
    const raw = await RawRespClient.connect(locked.port);
    try {
      expect(await raw.call(['GET', 'k'])).toEqual({
        type: 'error',
        value: 'NOAUTH Authentication required.',
      });
      expect(await raw.call(['HELLO', '3'])).toEqual({
        type: 'error',
        value:
          'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
      });
      expect(await raw.call(['AUTH', 'wrong'])).toEqual({
        type: 'error',
        value: 'WRONGPASS invalid username-password pair or user is disabled.',
      });
      expect(await raw.call(['AUTH', 'nobody', 's3cret'])).toEqual({
        type: 'error',
        value: 'WRONGPASS invalid username-password pair or user is disabled.',
      });
      expect(await raw.call(['AUTH', 's3cret'])).toEqual({ type: 'simple', value: 'OK' });
      expect(await raw.call(['SET', 'k', 'v'])).toEqual({ type: 'simple', value: 'OK' });
    } finally {
      raw.close();
    }
  });

  it('closes an unauthenticated client that announces too many arguments', async () => {
    const raw = await RawRespClient.connect(locked.port);
    raw.write('*11\r\n');
    expect((await raw.readUntilClosed()).toString()).toBe(
      '-ERR Protocol error: unauthenticated multibulk length\r\n',
    );
  });

  it('lets ioredis log in with AUTH (RESP2) and with HELLO 3 AUTH (RESP3)', async () => {
    const resp2 = new Redis({ port: locked.port, host: '127.0.0.1', password: 's3cret' });
    const resp3 = new Redis({
      port: locked.port,
      host: '127.0.0.1',
      password: 's3cret',
      protocol: 3,
    });
    try {
      expect(await resp2.set('k', 'v')).toBe('OK');
      expect(await resp3.get('k')).toBe('v');
      expect(String(await resp3.client('INFO'))).toContain('resp=3');
    } finally {
      resp2.disconnect();
      resp3.disconnect();
    }
  });

  it('rejects AUTH without a configured password as Redis does', async () => {
    const raw = await RawRespClient.connect(memory.port);
    try {
      expect(await raw.call(['AUTH', 'x'])).toEqual({
        type: 'error',
        value:
          'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
      });
      expect(await raw.call(['AUTH', 'default', 'anything'])).toEqual({
        type: 'simple',
        value: 'OK',
      });
    } finally {
      raw.close();
    }
  });
});

describe('HELLO and RESP3', () => {
  it('switches to RESP3 replies after HELLO 3 and back with HELLO 2', async () => {
    const raw = await RawRespClient.connect(memory.port);
    try {
      const hello = await raw.call(['HELLO', '3', 'SETNAME', 'r3']);
      expect(hello.type).toBe('map');
      const fields = hello.type === 'map' ? hello.entries : [];
      expect(fields.map(([key]) => (key.type === 'bulk' ? key.value : ''))).toEqual([
        'server',
        'version',
        'proto',
        'id',
        'mode',
        'role',
        'modules',
      ]);
      expect(fields[2]?.[1]).toEqual({ type: 'integer', value: 3n });
      expect(await raw.call(['GET', 'missing'])).toEqual({ type: 'null' });
      expect(await raw.call(['CLIENT', 'GETNAME'])).toEqual({ type: 'bulk', value: 'r3' });
      const info = await raw.call(['INFO', 'keyspace']);
      expect(info).toEqual({ type: 'verbatim', format: 'txt', value: '# Keyspace\r\n' });
      expect(await raw.call(['HELLO', '4'])).toEqual({
        type: 'error',
        value: 'NOPROTO unsupported protocol version',
      });
      expect((await raw.call(['HELLO', '2'])).type).toBe('array');
      raw.write('*2\r\n$3\r\nGET\r\n$7\r\nmissing\r\n');
      expect(await raw.nextReply()).toEqual({ type: 'null' });
    } finally {
      raw.close();
    }
  });

  it('serves ioredis with protocol 3', async () => {
    const client = connect({ protocol: 3 });
    expect(await client.set('k', 'v', 'EX', 5)).toBe('OK');
    expect(await client.get('k')).toBe('v');
    expect(await client.ttl('k')).toBe(5);
    expect(await client.mget('k', 'zz')).toEqual(['v', null]);
  });
});
