import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  int64Of,
  isStringValue,
  storedFromBytes,
  storedFromInt64,
  stringBytesOf,
} from '../../src/cluster/byte-strings.js';
import {
  type CurrentEntry,
  evaluateWrite,
  type KeyOp,
  type WriteOp,
} from '../../src/cluster/key-ops.js';
import { decodeOp, decodeRequest, encodeOp } from '../../src/cluster/messages.js';
import { encodeValue, readValue, type StoredValue } from '../../src/cluster/value-codec.js';
import { InvalidArgumentError } from '../../src/util/errors.js';

const MAX_VALUE_BYTES = 1024 * 1024;

function entry(value: StoredValue, ttlRemainingMs?: number): CurrentEntry {
  return { value, ttlRemainingMs };
}

function bytes(text: string): StoredValue {
  return storedFromBytes(Buffer.from(text), MAX_VALUE_BYTES);
}

function text(stored: StoredValue | undefined): string | undefined {
  const raw = stored === undefined ? undefined : stringBytesOf(stored);
  return raw === undefined ? undefined : Buffer.from(raw).toString();
}

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    return (error as { code?: string }).code ?? 'no code';
  }
  return 'no error';
}

describe('values as Redis strings', () => {
  it('reads binary, text and numbers as their bytes, without decoding', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 70_000 }), (raw) => {
        const stored = storedFromBytes(raw, MAX_VALUE_BYTES);
        expect(Buffer.from(stringBytesOf(stored)!)).toEqual(Buffer.from(raw));
        // Through the JS API the same value is a Buffer.
        expect(readValue(stored)).toEqual(Buffer.from(raw));
      }),
      { numRuns: 200 },
    );
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), (value) => {
        expect(Buffer.from(stringBytesOf(encodeValue(value, MAX_VALUE_BYTES))!)).toEqual(
          Buffer.from(value),
        );
      }),
    );
    fc.assert(
      fc.property(fc.oneof(fc.integer(), fc.double({ noNaN: true }), fc.maxSafeInteger()), (n) => {
        expect(text(encodeValue(n, MAX_VALUE_BYTES))).toBe(String(n));
      }),
    );
    for (const other of [{ a: 1 }, [1], true, null]) {
      expect(isStringValue(encodeValue(other, MAX_VALUE_BYTES))).toBe(false);
      expect(stringBytesOf(encodeValue(other, MAX_VALUE_BYTES))).toBeUndefined();
    }
  });

  it('parses integers by Redis rules and stores counters as numbers while safe', () => {
    expect(int64Of('k', bytes('-12'))).toBe(-12n);
    expect(int64Of('k', encodeValue(41, MAX_VALUE_BYTES))).toBe(41n);
    for (const bad of ['007', '+1', ' 1', '1.5', '-0', '', '9223372036854775808']) {
      expect(codeOf(() => int64Of('k', bytes(bad)))).toBe('ERR_NOT_AN_INTEGER');
    }
    expect(codeOf(() => int64Of('k', encodeValue(1.5, MAX_VALUE_BYTES)))).toBe(
      'ERR_NOT_AN_INTEGER',
    );
    expect(codeOf(() => int64Of('k', encodeValue({}, MAX_VALUE_BYTES)))).toBe('ERR_WRONG_TYPE');
    expect(readValue(storedFromInt64(42n, MAX_VALUE_BYTES))).toBe(42);
    const wide = storedFromInt64(2n ** 62n, MAX_VALUE_BYTES);
    expect(text(wide)).toBe((2n ** 62n).toString());
    expect(int64Of('k', wide)).toBe(2n ** 62n);
  });
});

describe('string operations at the primary', () => {
  const evaluate = (op: WriteOp, current?: CurrentEntry) =>
    evaluateWrite(op, current, MAX_VALUE_BYTES);

  it('incrby adds within 64 bits, keeps the TTL, and refuses overflow and non-integers', () => {
    const outcome = evaluate({ kind: 'incrby', key: 'n', by: 5n }, entry(bytes('10'), 500));
    expect(outcome.result).toBe('15');
    expect(outcome.mutation?.ttlMs).toBe(500);
    expect(readValue(outcome.mutation!.value!)).toBe(15);
    const max = 2n ** 63n - 1n;
    expect(evaluate({ kind: 'incrby', key: 'n', by: max }).result).toBe(max.toString());
    expect(
      codeOf(() => evaluate({ kind: 'incrby', key: 'n', by: 1n }, entry(bytes(max.toString())))),
    ).toBe('ERR_INCREMENT_OVERFLOW');
    expect(codeOf(() => evaluate({ kind: 'incrby', key: 'n', by: 1n }, entry(bytes('x'))))).toBe(
      'ERR_NOT_AN_INTEGER',
    );
  });

  it('append concatenates bytes (a number as its text) and keeps the TTL', () => {
    const outcome = evaluate(
      { kind: 'append', key: 'a', suffix: Buffer.from('!') },
      entry(encodeValue(12, MAX_VALUE_BYTES), 700),
    );
    expect(outcome.result).toBe(3);
    expect(text(outcome.mutation!.value!)).toBe('12!');
    expect(outcome.mutation!.ttlMs).toBe(700);
    expect(
      codeOf(() =>
        evaluate(
          { kind: 'append', key: 'a', suffix: Buffer.from('!') },
          entry(encodeValue([1], MAX_VALUE_BYTES)),
        ),
      ),
    ).toBe('ERR_WRONG_TYPE');
  });

  it('getdel and getex read and change atomically', () => {
    const current = entry(bytes('v'), 1000);
    const getdel = evaluate({ kind: 'getdel', key: 'k' }, current);
    expect(text(getdel.result as StoredValue)).toBe('v');
    expect(getdel.mutation?.value).toBeNull();
    expect(evaluate({ kind: 'getdel', key: 'k' }).mutation).toBeUndefined();
    const persist = evaluate({ kind: 'getex', key: 'k', ttlMs: null }, current);
    expect(persist.mutation?.ttlMs).toBeUndefined();
    expect(persist.mutation?.value).toBe(current.value);
    expect(evaluate({ kind: 'getex', key: 'k', ttlMs: null }, entry(bytes('v'))).mutation).toBe(
      undefined,
    );
    expect(evaluate({ kind: 'getex', key: 'k', ttlMs: 0 }, current).mutation?.value).toBeNull();
    expect(evaluate({ kind: 'getex', key: 'k', ttlMs: 50 }, current).mutation?.ttlMs).toBe(50);
  });

  it('set honours keepTtl, returnOld and a TTL of 0', () => {
    const value = bytes('new');
    const set = (options: Partial<Extract<WriteOp, { kind: 'set' }>>, current?: CurrentEntry) =>
      evaluate(
        { kind: 'set', key: 'k', value, ttlMs: undefined, nx: false, xx: false, ...options },
        current,
      );
    expect(set({ keepTtl: true }, entry(bytes('old'), 900)).mutation?.ttlMs).toBe(900);
    expect(set({}, entry(bytes('old'), 900)).mutation?.ttlMs).toBeUndefined();
    const withOld = set({ returnOld: true, nx: true }, entry(bytes('old')));
    expect(text(withOld.result as StoredValue)).toBe('old');
    expect(withOld.mutation).toBeUndefined();
    expect(set({ ttlMs: 0 }, entry(bytes('old'))).mutation?.value).toBeNull();
    expect(set({ ttlMs: 0 }).mutation).toBeUndefined();
    expect(
      codeOf(() => set({ returnOld: true }, entry(encodeValue({ a: 1 }, MAX_VALUE_BYTES)))),
    ).toBe('ERR_WRONG_TYPE');
  });

  it('expire applies Redis 7 conditions to the current TTL', () => {
    const withTtl = entry(bytes('v'), 1000);
    const without = entry(bytes('v'));
    const expire = (ttlMs: number | null, onlyIf: object, current: CurrentEntry) =>
      evaluate({ kind: 'expire', key: 'k', ttlMs, onlyIf }, current).result;
    expect(expire(500, { nx: true }, withTtl)).toBe(false);
    expect(expire(500, { nx: true }, without)).toBe(true);
    expect(expire(500, { xx: true }, without)).toBe(false);
    expect(expire(2000, { gt: true }, withTtl)).toBe(true);
    expect(expire(500, { gt: true }, withTtl)).toBe(false);
    expect(expire(500, { gt: true }, without)).toBe(false);
    expect(expire(500, { lt: true }, withTtl)).toBe(true);
    expect(expire(500, { lt: true }, without)).toBe(true);
    expect(expire(null, { xx: true }, withTtl)).toBe(true);
    expect(expire(null, { xx: true }, without)).toBe(false);
  });
});

describe('string operations on the wire', () => {
  it('round-trip through the strict decoder', () => {
    const ops: KeyOp[] = [
      { kind: 'getdel', key: 'a' },
      { kind: 'getex', key: 'a', ttlMs: null },
      { kind: 'getex', key: 'a', ttlMs: 0 },
      { kind: 'getex', key: 'a', ttlMs: 1234 },
      { kind: 'append', key: 'a', suffix: Buffer.from([0, 255]) },
      { kind: 'incrby', key: 'a', by: -(2n ** 63n) },
      { kind: 'expire', key: 'a', ttlMs: 5, onlyIf: { nx: false, xx: true, gt: true, lt: false } },
    ];
    for (const op of ops) expect(decodeOp(encodeOp(op), MAX_VALUE_BYTES)).toEqual(op);
    const set = decodeOp(
      encodeOp({
        kind: 'set',
        key: 'a',
        value: bytes('v'),
        ttlMs: 0,
        nx: false,
        xx: true,
        keepTtl: true,
        returnOld: true,
      }),
      MAX_VALUE_BYTES,
    );
    expect(set).toMatchObject({ kind: 'set', ttlMs: 0, xx: true, keepTtl: true, returnOld: true });
  });

  it('refuse malformed string operations with a typed error', () => {
    const hostile = fc.record({
      o: fc.constantFrom('getdel', 'getex', 'append', 'incrby', 'expire', 'set'),
      k: fc.oneof(fc.string({ maxLength: 5 }), fc.anything()),
      t: fc.anything(),
      v: fc.oneof(fc.uint8Array({ maxLength: 8 }), fc.anything()),
      bi: fc.oneof(fc.string(), fc.bigInt().map(String), fc.anything()),
      c: fc.anything(),
    });
    fc.assert(
      fc.property(hostile, (op) => {
        try {
          decodeRequest({ t: 'op', e: 1, op }, 1024);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidArgumentError);
        }
      }),
      { numRuns: 2_000 },
    );
    expect(() => decodeOp({ o: 'incrby', k: 'a', bi: '9223372036854775808' }, 1024)).toThrow(
      InvalidArgumentError,
    );
    expect(() => decodeOp({ o: 'append', k: 'a', v: new Uint8Array(2000) }, 1024)).toThrow(
      InvalidArgumentError,
    );
  });
});
