import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RespProtocolError } from '../../src/resp/errors.js';
import {
  DEFAULT_PARSER_LIMITS,
  RespParser,
  type RespParserLimits,
  splitInlineArgs,
} from '../../src/resp/parser.js';
import { encodeCommand } from './support/raw-client.js';

/** Feeds `chunks` and collects every command, or the protocol error that ended parsing. */
function parseChunks(
  chunks: readonly Buffer[],
  limits: RespParserLimits = DEFAULT_PARSER_LIMITS,
): { commands: string[][]; error: RespProtocolError | undefined; parser: RespParser } {
  const parser = new RespParser(limits);
  const commands: string[][] = [];
  for (const chunk of chunks) {
    parser.push(chunk);
    try {
      for (let args = parser.next(); args !== undefined; args = parser.next()) {
        commands.push(args.map((arg) => arg.toString('latin1')));
      }
    } catch (error) {
      if (error instanceof RespProtocolError) return { commands, error, parser };
      throw error;
    }
  }
  return { commands, error: undefined, parser };
}

function parseText(text: string, limits?: RespParserLimits) {
  return parseChunks([Buffer.from(text, 'latin1')], limits);
}

/** Splits `bytes` at the given cut points (any order, duplicates allowed). */
function splitAt(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

const SMALL_LIMITS: RespParserLimits = {
  maxBulkBytes: 1024,
  maxArgs: 64,
  maxInlineBytes: 256,
  maxBufferedBytes: 4096,
};

describe('RespParser', () => {
  it('parses RESP arrays, pipelined in one chunk', () => {
    const input = Buffer.concat([
      encodeCommand(['SET', 'k', 'v']),
      encodeCommand(['GET', 'k']),
      encodeCommand(['PING']),
    ]);
    expect(parseChunks([input]).commands).toEqual([['SET', 'k', 'v'], ['GET', 'k'], ['PING']]);
  });

  it('parses inline commands with \\n or \\r\\n and skips blank lines', () => {
    const { commands } = parseText('PING\r\n\r\nSET a b\n   \nGET a\r\n');
    expect(commands).toEqual([['PING'], ['SET', 'a', 'b'], ['GET', 'a']]);
  });

  it('skips empty and null arrays as Redis does', () => {
    expect(parseText('*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n').commands).toEqual([['PING']]);
  });

  it('keeps binary arguments byte for byte', () => {
    const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const parser = new RespParser();
    parser.push(encodeCommand(['SET', 'k', every]));
    expect(parser.next()?.[2]).toEqual(every);
  });

  it('skips the two bytes after a bulk payload without checking them, like Redis', () => {
    expect(parseText('*2\r\n$4\r\nPING\r\n$2\r\nabXYPING\r\n').commands).toEqual([
      ['PING', 'ab'],
      ['PING'],
    ]);
  });

  it('follows sdssplitargs quoting for inline commands', () => {
    const split = (line: string) =>
      splitInlineArgs(Buffer.from(line, 'latin1'), 0, line.length)?.map((arg) =>
        arg.toString('latin1'),
      );
    expect(split('set "a b" \'c d\'')).toEqual(['set', 'a b', 'c d']);
    expect(split('"\\x41\\x4a\\n\\r\\t\\b\\a\\"\\\\\\q"')).toEqual(['AJ\n\r\t\b\x07"\\q']);
    expect(split("'it\\'s' 'a\\b'")).toEqual(["it's", 'a\\b']);
    expect(split('a"b c"')).toEqual(['ab c']);
    expect(split('"\\x4"')).toEqual(['x4']);
    expect(split('x\vy \f z')).toEqual(['x\vy', 'z']);
    expect(split('a\0 b c')).toEqual(['a']);
    expect(split('"abc')).toBeUndefined();
    expect(split('"abc"d')).toBeUndefined();
    expect(split("'abc")).toBeUndefined();
    expect(split("'a'b")).toBeUndefined();
    expect(split('   ')).toEqual([]);
  });

  it.each([
    ['*x\r\n', 'ERR Protocol error: invalid multibulk length'],
    ['*01\r\n', 'ERR Protocol error: invalid multibulk length'],
    ['*99999999999999999999999\r\n', 'ERR Protocol error: invalid multibulk length'],
    ['*1\r\n$-1\r\n', 'ERR Protocol error: invalid bulk length'],
    ['*1\r\n$abc\r\n', 'ERR Protocol error: invalid bulk length'],
    ['*1\r\n$2000\r\n', 'ERR Protocol error: invalid bulk length'],
    ['*1\r\nX\r\n', "ERR Protocol error: expected '$', got 'X'"],
    ['*100\r\n', 'ERR Protocol error: invalid multibulk length'],
    ['"unbalanced\r\n', 'ERR Protocol error: unbalanced quotes in request'],
  ])('rejects %j with %j', (input, reply) => {
    const { error } = parseText(input, SMALL_LIMITS);
    expect(error?.replyText).toBe(reply);
  });

  it('answers commands before a protocol error, then keeps failing', () => {
    const { commands, error, parser } = parseText('PING\r\n*1\r\nX\r\n');
    expect(commands).toEqual([['PING']]);
    expect(error?.replyText).toBe("ERR Protocol error: expected '$', got 'X'");
    expect(() => parser.next()).toThrow(RespProtocolError);
  });

  it('bounds an inline line or a header line that never ends', () => {
    const long = 'A'.repeat(SMALL_LIMITS.maxInlineBytes + 1);
    expect(parseText(long, SMALL_LIMITS).error?.replyText).toBe(
      'ERR Protocol error: too big inline request',
    );
    expect(parseText(`*${'1'.repeat(300)}`, SMALL_LIMITS).error?.replyText).toBe(
      'ERR Protocol error: too big mbulk count string',
    );
    expect(parseText(`*1\r\n$${'1'.repeat(300)}`, SMALL_LIMITS).error?.replyText).toBe(
      'ERR Protocol error: too big bulk count string',
    );
  });

  it('applies Redis limits before authentication', () => {
    const parser = new RespParser();
    parser.authenticated = false;
    parser.push(Buffer.from('*11\r\n'));
    expect(() => parser.next()).toThrow('unauthenticated multibulk length');
    const bulk = new RespParser();
    bulk.authenticated = false;
    bulk.push(Buffer.from('*1\r\n$16385\r\n'));
    expect(() => bulk.next()).toThrow('unauthenticated bulk length');
  });

  it('refuses input beyond maxBufferedBytes instead of buffering it', () => {
    const parser = new RespParser(SMALL_LIMITS);
    parser.push(Buffer.from('*64\r\n'));
    expect(parser.next()).toBeUndefined();
    const arg = encodeCommand(['x'.repeat(900)]).subarray(4);
    for (let i = 0; i < 4; i++) parser.push(arg);
    expect(parser.bufferedBytes).toBeLessThanOrEqual(SMALL_LIMITS.maxBufferedBytes);
    parser.push(arg);
    expect(() => {
      for (let i = 0; i < 10; i++) parser.next();
    }).toThrow('client query buffer exceeds the limit');
    expect(parser.bufferedBytes).toBe(0);
  });

  it('assembles a 1 MiB bulk fed one byte at a time', () => {
    const value = Buffer.alloc(1024 * 1024, 0x61);
    const input = encodeCommand(['SET', 'k', value]);
    const parser = new RespParser();
    let parsed: Buffer[] | undefined;
    for (let i = 0; i < input.length; i++) {
      parser.push(input.subarray(i, i + 1));
      parsed = parser.next() ?? parsed;
    }
    expect(parsed?.[2]?.equals(value)).toBe(true);
    expect(parser.bufferedBytes).toBe(0);
  });

  it('parses any command list back identically however the bytes are split', () => {
    const arg = fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes));
    const inlineToken = fc.stringMatching(/^[A-Za-z0-9:_.-]{1,12}$/);
    const command = fc.oneof(
      fc
        .array(arg, { minLength: 1, maxLength: 6 })
        .map((args) => ({ args, bytes: encodeCommand(args) })),
      fc.array(inlineToken, { minLength: 1, maxLength: 5 }).map((tokens) => ({
        args: tokens.map((token) => Buffer.from(token)),
        bytes: Buffer.from(`${tokens.join(' ')}\r\n`),
      })),
    );
    fc.assert(
      fc.property(
        fc.array(command, { minLength: 1, maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (commands, cuts) => {
          const input = Buffer.concat(commands.map((c) => c.bytes));
          const { commands: parsed, error, parser } = parseChunks(splitAt(input, cuts));
          expect(error).toBeUndefined();
          expect(parsed).toEqual(commands.map((c) => c.args.map((a) => a.toString('latin1'))));
          expect(parser.bufferedBytes).toBe(0);
        },
      ),
    );
  });

  it('round-trips any bytes through inline double-quote escapes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 20 }), { minLength: 1, maxLength: 5 }),
        (args) => {
          const quoted = args.map(
            (bytes) =>
              `"${[...bytes].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')}"`,
          );
          const { commands } = parseText(`${quoted.join(' ')}\r\n`);
          expect(commands).toEqual([args.map((bytes) => Buffer.from(bytes).toString('latin1'))]);
        },
      ),
    );
  });

  it('never crashes or over-buffers on random and truncated input', () => {
    const fragment = fc.oneof(
      fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
      fc
        .constantFrom('*', '$', '\r\n', '*3\r\n', '$5\r\n', '"', "'", '\\x', '\n', '*-1\r\n')
        .map((text) => Buffer.from(text)),
      fc
        .array(fc.uint8Array({ maxLength: 10 }), { maxLength: 4 })
        .map((args) => encodeCommand(args.map((a) => Buffer.from(a))))
        .chain((frame) => fc.nat({ max: frame.length }).map((cut) => frame.subarray(0, cut))),
    );
    fc.assert(
      fc.property(
        fc.array(fragment, { maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.boolean(),
        (fragments, cuts, authenticated) => {
          const parser = new RespParser(SMALL_LIMITS);
          parser.authenticated = authenticated;
          for (const chunk of splitAt(Buffer.concat(fragments), cuts)) {
            parser.push(chunk);
            try {
              for (let args = parser.next(); args !== undefined; args = parser.next()) {
                expect(args.length).toBeGreaterThan(0);
                expect(args.length).toBeLessThanOrEqual(SMALL_LIMITS.maxArgs);
              }
            } catch (error) {
              expect(error).toBeInstanceOf(RespProtocolError);
              expect((error as RespProtocolError).replyText).toMatch(/^ERR Protocol error: /);
            }
            expect(parser.bufferedBytes).toBeLessThanOrEqual(SMALL_LIMITS.maxBufferedBytes);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
