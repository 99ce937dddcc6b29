/**
 * Differential tests: the same random command sequences and raw protocol input go to
 * a real redis-server and to a real shoal node's RESP port (a single node started by
 * `Shoal.start`, in proxy mode, i.e. standalone semantics; every command runs through
 * the cluster's replicated write path), and the replies must be identical, byte for
 * byte for raw input and structurally (with a tolerance on TTL/PTTL) for commands.
 * The shoal connection authenticates with the cluster secret before the comparison.
 *
 * Known, deliberate differences (not generated here):
 * - After `SET k v PXAT <past>` Redis holds the already-expired key until its expiry
 *   cycle reclaims it, so DBSIZE briefly counts it; shoal removes it at once (every
 *   other command sees the key missing on both).
 * - shoal caps TTLs at 2^53 - 1 ms (285,000 years); Redis keeps up to 2^63 ms, so
 *   the generated times stay below the cap.
 * - Redis scans for line ends with `strchr`, so a NUL byte before the end of an inline or header line stalls the
 *   connection until 64 KiB arrive; shoal reads such a line (cut at the NUL, as Redis
 *   cuts the arguments).
 *
 * These tests need Debian's redis-server and redis-tools; they fail, not skip, when
 * the binaries are missing.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ShoalNode } from '../../src/api/index.js';
import { RawRespClient, ReplyDeadlineError } from './support/raw-client.js';
import { type RedisProcess, startRedisServer } from './support/redis-process.js';
import type { Reply } from './support/reply-reader.js';
import { connectAuthenticated, startShoalRespNode } from './support/shoal-resp-node.js';

/** A time argument, resolved when the command is sent (see `resolveTime`). */
interface TimeArg {
  readonly time: 'relative' | 'absolute-future' | 'absolute-past' | 'literal';
  readonly unit: 's' | 'ms';
  readonly literal: string;
}

type Arg = string | Buffer | TimeArg;

const BINARY_KEY = Buffer.from([0xff, 0x00, 0x7b]);
const TTL_TOLERANCE_S = 1n;
const PTTL_TOLERANCE_MS = 300n;

/**
 * Real numbers of seconds/ms for a time argument. Every relative or absolute time
 * in a sequence is distinct by at least 100 ms (they grow with the command index),
 * so GT/LT comparisons never depend on how many milliseconds passed between the two
 * servers, and no TTL is short enough to run out during a run.
 */
function resolveTime(arg: TimeArg, index: number, nowMs: number): string {
  const seconds = 10 + 7 * index;
  switch (arg.time) {
    case 'relative':
      return arg.unit === 's' ? String(seconds) : String(seconds * 1000 + 123);
    case 'absolute-future':
      return arg.unit === 's'
        ? String(Math.floor(nowMs / 1000) + 90 + seconds)
        : String(nowMs + (90 + seconds) * 1000 + 456);
    case 'absolute-past':
      return arg.unit === 's' ? String(Math.floor(nowMs / 1000) - 100) : String(nowMs - 100_000);
    case 'literal':
      return arg.literal;
  }
}

function materialize(args: readonly Arg[], index: number, nowMs: number): (string | Buffer)[] {
  return args.map((arg) =>
    typeof arg === 'string' || Buffer.isBuffer(arg) ? arg : resolveTime(arg, index, nowMs),
  );
}

const mixedCase = (name: string): fc.Arbitrary<string> =>
  fc.constantFrom(name, name.toLowerCase(), name[0] + name.slice(1).toLowerCase());

const keyArb: fc.Arbitrary<Arg> = fc.constantFrom<Arg>(
  'a',
  'b',
  '{t}1',
  '{t}2',
  'n',
  'é',
  BINARY_KEY,
);
const valueArb: fc.Arbitrary<Arg> = fc.oneof(
  fc.constantFrom<Arg>(
    '',
    'v',
    'hello world',
    '0',
    '1',
    '-1',
    '42',
    '9223372036854775807',
    '-9223372036854775808',
    '007',
    ' 1',
    '1.5',
    '-0',
  ),
  fc.uint8Array({ maxLength: 12 }).map((bytes): Arg => Buffer.from(bytes)),
);
const integerArb = fc.constantFrom<Arg>(
  '1',
  '-1',
  '0',
  '100',
  '9223372036854775807',
  '-9223372036854775808',
  'x',
  '1.5',
  '99999999999999999999',
  '-0',
  '+1',
);
const literalTimes = [
  '0',
  '-5',
  'soon',
  '9223372036854775807',
  '9007199254740',
  '-9223372036854775808',
];
const timeArb = (unit: 's' | 'ms', absolute: boolean, allowPast = true): fc.Arbitrary<Arg> =>
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc.constant<Arg>({
        time: absolute ? 'absolute-future' : 'relative',
        unit,
        literal: '',
      }),
    },
    {
      weight: allowPast ? 1 : 0,
      arbitrary: fc.constant<Arg>({ time: 'absolute-past', unit, literal: '' }),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom(...literalTimes).map(
        (literal): Arg => ({
          time: 'literal',
          unit,
          literal,
        }),
      ),
    },
  );

const setOptionArb: fc.Arbitrary<Arg[]> = fc.oneof(
  mixedCase('NX').map((option) => [option]),
  mixedCase('XX').map((option) => [option]),
  mixedCase('GET').map((option) => [option]),
  mixedCase('KEEPTTL').map((option) => [option]),
  fc.tuple(mixedCase('EX'), timeArb('s', false)),
  fc.tuple(mixedCase('PX'), timeArb('ms', false)),
  fc.tuple(mixedCase('EXAT'), timeArb('s', true, false)),
  fc.tuple(mixedCase('PXAT'), timeArb('ms', true, false)),
);
const getexOptionArb: fc.Arbitrary<Arg[]> = fc.oneof(
  mixedCase('PERSIST').map((option) => [option]),
  fc.constant<Arg[]>(['NX']),
  fc.tuple(mixedCase('EX'), timeArb('s', false)),
  fc.tuple(mixedCase('PX'), timeArb('ms', false)),
  fc.tuple(mixedCase('EXAT'), timeArb('s', true)),
  fc.tuple(mixedCase('PXAT'), timeArb('ms', true)),
);
const expireFamily: [string, 's' | 'ms', boolean][] = [
  ['EXPIRE', 's', false],
  ['PEXPIRE', 'ms', false],
  ['EXPIREAT', 's', true],
  ['PEXPIREAT', 'ms', true],
];

const commandArb: fc.Arbitrary<Arg[]> = fc.oneof(
  fc.tuple(mixedCase('GET'), keyArb),
  fc
    .tuple(mixedCase('SET'), keyArb, valueArb, fc.array(setOptionArb, { maxLength: 3 }))
    .map(([name, key, value, options]) => [name, key, value, ...options.flat()]),
  fc.tuple(mixedCase('SETEX'), keyArb, timeArb('s', false), valueArb),
  fc.tuple(mixedCase('PSETEX'), keyArb, timeArb('ms', false), valueArb),
  fc.tuple(mixedCase('SETNX'), keyArb, valueArb),
  fc.tuple(mixedCase('GETSET'), keyArb, valueArb),
  fc.tuple(mixedCase('GETDEL'), keyArb),
  fc
    .tuple(mixedCase('GETEX'), keyArb, fc.array(getexOptionArb, { maxLength: 2 }))
    .map(([name, key, options]) => [name, key, ...options.flat()]),
  fc
    .tuple(
      fc.constantFrom('DEL', 'UNLINK', 'EXISTS', 'MGET'),
      fc.array(keyArb, { minLength: 1, maxLength: 4 }),
    )
    .map(([name, keys]) => [name, ...keys]),
  fc
    .constantFrom(...expireFamily)
    .chain(([name, unit, absolute]) =>
      fc
        .tuple(
          keyArb,
          timeArb(unit, absolute),
          fc.array(fc.constantFrom('NX', 'XX', 'GT', 'LT', 'gt', 'BOGUS'), { maxLength: 2 }),
        )
        .map(([key, time, flags]) => [name, key, time, ...flags]),
    ),
  fc.tuple(
    fc.constantFrom('TTL', 'PTTL', 'PERSIST', 'TYPE', 'STRLEN', 'INCR', 'DECR', 'GETDEL'),
    keyArb,
  ),
  fc.tuple(fc.constantFrom('INCRBY', 'DECRBY', 'incrby'), keyArb, integerArb),
  fc.tuple(mixedCase('APPEND'), keyArb, valueArb),
  fc.array(fc.tuple(keyArb, valueArb), { minLength: 1, maxLength: 3 }).chain((pairs) =>
    fc.boolean().map((dropLast) => {
      const flat = pairs.flat();
      return ['MSET', ...(dropLast ? flat.slice(0, -1) : flat)];
    }),
  ),
  fc.oneof(
    fc.constant<Arg[]>(['PING']),
    fc.tuple(fc.constant('PING'), valueArb),
    fc.tuple(fc.constant('ping'), valueArb, valueArb),
    fc.tuple(fc.constant('ECHO'), valueArb),
    fc.tuple(fc.constant('SELECT'), fc.constantFrom('0', '16', '-1', 'x', '99999999999')),
    fc.constant<Arg[]>(['DBSIZE']),
  ),
  fc
    .tuple(
      fc.constantFrom('FOO', 'gett', 'SET2', 'x\r\ny', 'CLIENTS'),
      fc.array(valueArb, { maxLength: 3 }),
    )
    .map(([name, args]) => [name, ...args]),
  fc.constantFrom<Arg[]>(
    ['GET'],
    ['SET', 'a'],
    ['EXPIRE', 'a'],
    ['GETEX'],
    ['INCRBY', 'a'],
    ['MGET'],
    ['TTL', 'a', 'b'],
    ['ECHO'],
    ['DBSIZE', 'x'],
  ),
);

function assertSameReply(args: readonly (string | Buffer)[], expected: Reply, actual: Reply): void {
  const name = String(args[0]).toUpperCase();
  const tolerance = name === 'TTL' ? TTL_TOLERANCE_S : name === 'PTTL' ? PTTL_TOLERANCE_MS : 0n;
  if (
    tolerance > 0n &&
    expected.type === 'integer' &&
    actual.type === 'integer' &&
    expected.value >= 0n &&
    actual.value >= 0n
  ) {
    const difference = expected.value - actual.value;
    expect(difference <= tolerance && difference >= -tolerance, `${name} ${difference}`).toBe(true);
    return;
  }
  expect({ command: args.map(String), reply: actual }).toEqual({
    command: args.map(String),
    reply: expected,
  });
}

let redisServer: RedisProcess | undefined;
let shoal: (ShoalNode & { readonly respPort: number }) | undefined;
const clients: RawRespClient[] = [];

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

async function connectBoth(): Promise<[RawRespClient, RawRespClient]> {
  const pair: [RawRespClient, RawRespClient] = [
    await RawRespClient.connect(redisServer!.port),
    await connectAuthenticated(shoal!.respPort),
  ];
  clients.push(...pair);
  return pair;
}

describe('shoal RESP vs redis-server', () => {
  beforeEach(async () => {
    redisServer = await startRedisServer();
    shoal = await startShoalRespNode({ respProxy: true, respAllowFlush: true });
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await shoal?.stop();
    await redisServer?.stop();
  });

  it('gives identical replies to random command sequences, in RESP2 and RESP3', async () => {
    const [reference, subject] = await connectBoth();
    await fc.assert(
      fc.asyncProperty(
        fc.array(commandArb, { minLength: 1, maxLength: 25 }),
        fc.constantFrom<2 | 3>(2, 3),
        async (commands, protocol) => {
          for (const client of [reference, subject]) {
            expect(await client.call(['FLUSHALL'])).toEqual({ type: 'simple', value: 'OK' });
            await client.call(['HELLO', String(protocol)]);
          }
          for (const [index, command] of commands.entries()) {
            const args = materialize(command, index, Date.now());
            const expected = await reference.call(args);
            const actual = await subject.call(args);
            assertSameReply(args, expected, actual);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('answers raw inline and malformed input byte for byte like Redis', async () => {
    const token = fc.oneof(
      fc.stringMatching(/^[a-z0-9]{1,6}$/),
      fc
        .array(
          fc.constantFrom('a', ' ', '\\x41', '\\x4', '\\n', '\\"', '\\\\', "'", '\t', 'é', '\\q'),
          { maxLength: 5 },
        )
        .map((parts) => `"${parts.join('')}"`),
      fc
        .array(fc.constantFrom('a', ' ', "\\'", '\\n', '"'), { maxLength: 4 })
        .map((parts) => `'${parts.join('')}'`),
      fc.constantFrom('"open', "'open", '"x"y', "'x'y", '\x0b', '\x0c'),
    );
    const inlineLine = fc
      .tuple(
        fc.constantFrom('ECHO', 'ping', 'EXISTS', 'STRLEN', 'FOO', 'TYPE', ''),
        fc.array(token, { maxLength: 4 }),
        fc.constantFrom(' ', '  ', '\t'),
        fc.constantFrom('\r\n', '\n'),
      )
      .map(([name, tokens, gap, end]) => `${[name, ...tokens].join(gap)}${end}`);
    const frame = fc.constantFrom(
      '*1\r\n$4\r\nPING\r\n',
      '*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\n',
      '*0\r\n',
      '*-1\r\n',
      '*2\r\n$4\r\nECHO\r\n$2\r\nabXY',
      '*x\r\n',
      '*1\r\n$-1\r\n',
      '*1\r\nX\r\n',
      '*1\r\n$abc\r\n',
      '*1\r\n$1000000000\r\n',
      '*3\r\n$3\r\nfoo\r\n$1\r\n\n\r\n$1\r\n\0\r\n',
    );
    const sentinel = '*2\r\n$4\r\nECHO\r\n$8\r\nSENTINEL\r\n';
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(inlineLine, frame), { minLength: 1, maxLength: 8 }),
        async (parts) => {
          const input = Buffer.from(`${parts.join('')}${sentinel}`, 'latin1');
          const outputs: string[] = [];
          for (const port of [redisServer!.port, shoal!.respPort]) {
            const client =
              port === shoal!.respPort
                ? await connectAuthenticated(port)
                : await RawRespClient.connect(port);
            clients.push(client);
            client.write(input);
            outputs.push(await readUntilSentinelOrClose(client));
            client.close();
          }
          expect({ input: input.toString('latin1'), output: outputs[1] }).toEqual({
            input: input.toString('latin1'),
            output: outputs[0],
          });
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('CLUSTER KEYSLOT vs redis-server in cluster mode', () => {
  it('maps any key bytes to the slot Redis Cluster computes', async () => {
    const cluster = await startRedisServer(['--cluster-enabled', 'yes']);
    const shoalNode = await startShoalRespNode();
    try {
      const reference = await RawRespClient.connect(cluster.port);
      const subject = await connectAuthenticated(shoalNode.respPort);
      clients.push(reference, subject);
      const keyBytes = fc.oneof(
        fc.uint8Array({ maxLength: 24 }).map((bytes) => Buffer.from(bytes)),
        fc.string({ unit: 'grapheme', maxLength: 12 }).map((text) => Buffer.from(text)),
        fc
          .tuple(
            fc.string({ maxLength: 4 }),
            fc.string({ maxLength: 4 }),
            fc.string({ maxLength: 4 }),
          )
          .map(([a, b, c]) => Buffer.from(`${a}{${b}}${c}`)),
      );
      await fc.assert(
        fc.asyncProperty(keyBytes, async (key) => {
          const expected = await reference.call(['CLUSTER', 'KEYSLOT', key]);
          const actual = await subject.call(['CLUSTER', 'KEYSLOT', key]);
          expect({ key: key.toString('hex'), actual }).toEqual({
            key: key.toString('hex'),
            actual: expected,
          });
        }),
        { numRuns: 400 },
      );
    } finally {
      await shoalNode.stop();
      await cluster.stop();
    }
  });
});

/** Reads replies until the server echoes SENTINEL or closes; returns the raw text. */
async function readUntilSentinelOrClose(client: RawRespClient): Promise<string> {
  let text = '';
  for (;;) {
    let reply: Reply;
    try {
      reply = await client.nextReply(2000);
    } catch (error) {
      return error instanceof ReplyDeadlineError ? `${text}<no reply>` : text;
    }
    text += `${JSON.stringify(reply, (_key, value) => (typeof value === 'bigint' ? `${value}n` : value))}\n`;
    if (reply.type === 'bulk' && reply.value === 'SENTINEL') return text;
  }
}
