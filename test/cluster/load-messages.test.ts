import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import {
  encodeStaleEntry,
  isNegativeEntry,
  NEGATIVE_ENTRY_BYTES,
  STALE_ENVELOPE_BYTES,
  staleWindowOf,
  storedPayload,
} from '../../src/cluster/load-entry.js';
import {
  CorruptValueError,
  LoadAbandonedError,
  LoaderError,
  LoadTimeoutError,
  MAX_LOADER_MESSAGE_LENGTH,
} from '../../src/cluster/load-errors.js';
import {
  decodeAcquireReply,
  encodeAcquire,
  encodeAcquireAnswer,
  encodeLoaded,
  encodeLoadFail,
  loadErrorReply,
} from '../../src/cluster/load-messages.js';
import { decodeRequest, errorReply } from '../../src/cluster/messages.js';
import { encodeValue, fromBytes, readValue } from '../../src/cluster/value-codec.js';
import { InvalidArgumentError, ShoalError } from '../../src/util/errors.js';

/** The wire's own codec, so tests see what a peer would receive. */
const wire = new Packr({ useRecords: false });
const overTheWire = (value: unknown): unknown => wire.unpack(wire.pack(value));
const context = { peer: 'n1', partition: 7, operation: 'getOrLoad', key: 'k' };

/** Plain data shaped loosely like load messages, plus anything else. */
const hostile = fc.oneof(
  fc.anything(),
  fc.record(
    {
      t: fc.constantFrom('load', 'loaded', 'loadFail'),
      e: fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.string()),
      k: fc.oneof(fc.string(), fc.anything()),
      tok: fc.oneof(fc.string({ maxLength: 500 }), fc.integer()),
      lt: fc.oneof(fc.integer(), fc.double(), fc.anything()),
      v: fc.oneof(fc.constant(null), fc.uint8Array({ maxLength: 40 }), fc.anything()),
      ttl: fc.oneof(fc.integer(), fc.double(), fc.anything()),
      nttl: fc.oneof(fc.integer(), fc.anything()),
      sw: fc.oneof(fc.integer(), fc.double(), fc.anything()),
      to: fc.oneof(fc.integer(), fc.anything()),
      m: fc.oneof(fc.string(), fc.anything()),
      lc: fc.oneof(fc.string(), fc.anything()),
      ln: fc.oneof(fc.string(), fc.anything()),
    },
    { requiredKeys: ['t'] },
  ),
);

describe('load protocol messages', () => {
  it('decode every hostile input to a request or an InvalidArgumentError', () => {
    fc.assert(
      fc.property(hostile, (value) => {
        try {
          decodeRequest(value, 32);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidArgumentError);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('round-trip acquire, loaded and loadFail requests', () => {
    expect(decodeRequest(overTheWire(encodeAcquire(3, 'k', 'c1:x:1', 500)), 1024)).toEqual({
      t: 'load',
      e: 3,
      key: 'k',
      token: 'c1:x:1',
      loadTimeoutMs: 500,
    });
    const bytes = encodeValue({ a: 1 }, 1024).bytes;
    const result = { value: bytes, ttlMs: 1_000, negativeTtlMs: 50, staleWhileRevalidateMs: 200 };
    expect(decodeRequest(overTheWire(encodeLoaded(3, 'k', 't', result)), 1024)).toEqual({
      t: 'loaded',
      e: 3,
      key: 'k',
      token: 't',
      result,
    });
    const failure = { kind: 'error', message: 'boom', code: 'EBOOM', name: 'TypeError' } as const;
    expect(decodeRequest(overTheWire(encodeLoadFail(3, 'k', 't', failure)), 1024)).toMatchObject({
      t: 'loadFail',
      failure,
    });
    const timeout = { kind: 'timeout', loadTimeoutMs: 99 } as const;
    expect(decodeRequest(overTheWire(encodeLoadFail(3, 'k', 't', timeout)), 1024)).toMatchObject({
      failure: timeout,
    });
  });

  it('refuse values over the limit, counting the stale envelope', () => {
    const bytes = new Uint8Array(100).fill(0xa0);
    const plain = { value: bytes, ttlMs: 10, negativeTtlMs: undefined };
    expect(() =>
      decodeRequest(
        encodeLoaded(1, 'k', 't', { ...plain, staleWhileRevalidateMs: undefined }),
        100,
      ),
    ).not.toThrow();
    expect(() =>
      decodeRequest(encodeLoaded(1, 'k', 't', { ...plain, staleWhileRevalidateMs: 5 }), 100),
    ).toThrow(InvalidArgumentError);
    expect(() =>
      decodeRequest(
        encodeLoaded(1, 'k', 't', { ...plain, staleWhileRevalidateMs: 5 }),
        100 + STALE_ENVELOPE_BYTES,
      ),
    ).not.toThrow();
    // A stale window without a TTL is refused.
    expect(() =>
      decodeRequest({ t: 'loaded', e: 1, k: 'k', tok: 't', v: bytes, sw: 5 }, 1_000),
    ).toThrow(InvalidArgumentError);
  });

  it('decode every answer kind and rebuild the typed load errors', () => {
    const stored = encodeValue('v', 64);
    const answers = [
      { kind: 'value', stored: undefined },
      { kind: 'lease' },
      { kind: 'stale', stored, lease: true },
    ] as const;
    for (const answer of answers) {
      const decoded = decodeAcquireReply(overTheWire(encodeAcquireAnswer(answer)), context);
      expect(decoded.kind).toBe(answer.kind);
    }
    const value = decodeAcquireReply(
      overTheWire(encodeAcquireAnswer({ kind: 'value', stored })),
      context,
    );
    expect(value.kind === 'value' && value.stored !== undefined && readValue(value.stored)).toBe(
      'v',
    );

    const loaderError = new LoaderError('k', 'db down', 'ECONNREFUSED', 'Error');
    const rebuilt = () =>
      decodeAcquireReply(
        overTheWire(loadErrorReply(loaderError, (error) => errorReply(error))),
        context,
      );
    expect(rebuilt).toThrow(LoaderError);
    try {
      rebuilt();
    } catch (error) {
      expect(error).toMatchObject({
        code: 'ERR_LOADER_FAILED',
        message: 'db down',
        loaderCode: 'ECONNREFUSED',
        loaderName: 'Error',
      });
    }
    expect(() => decodeAcquireReply(errorReply(new LoadTimeoutError('k', 10)), context)).toThrow(
      LoadTimeoutError,
    );
    expect(() =>
      decodeAcquireReply(errorReply(new LoadAbandonedError('k', 'c1')), context),
    ).toThrow(LoadAbandonedError);
  });

  it('refuse malformed replies with InvalidArgumentError', () => {
    fc.assert(
      fc.property(fc.anything(), (reply) => {
        try {
          decodeAcquireReply(reply, context);
        } catch (error) {
          expect(error).toBeInstanceOf(ShoalError);
        }
      }),
    );
    for (const reply of [
      { ok: true, s: 'v', v: 'text' },
      { ok: true, s: 'st', v: null, l: true },
      { ok: true, s: 'zz' },
      { ok: 'yes' },
    ]) {
      expect(() => decodeAcquireReply(reply, context)).toThrow(InvalidArgumentError);
    }
  });

  it('keep loader messages, codes and names bounded', () => {
    const huge = new Error('x'.repeat(MAX_LOADER_MESSAGE_LENGTH * 2));
    const wrapped = LoaderError.from('k', Object.assign(huge, { code: 'C'.repeat(1_000) }));
    expect(wrapped.message.length).toBe(MAX_LOADER_MESSAGE_LENGTH);
    expect(wrapped.loaderCode!.length).toBeLessThanOrEqual(128);
    expect(LoaderError.from('k', 'a string').message).toBe('a string');
    expect(LoaderError.from('k', 42).loaderCode).toBe(undefined);
  });
});

describe('negative and stale-while-revalidate entries', () => {
  it('read as undefined and as the wrapped value', () => {
    expect(isNegativeEntry(NEGATIVE_ENTRY_BYTES)).toBe(true);
    expect(readValue(fromBytes(NEGATIVE_ENTRY_BYTES))).toBe(undefined);
    const inner = encodeValue({ deep: [1, 2] }, 1024).bytes;
    const wrapped = encodeStaleEntry(inner, 1_234);
    expect(staleWindowOf(wrapped)).toBe(1_234);
    expect(staleWindowOf(inner)).toBe(0);
    const value = readValue(fromBytes(wrapped));
    expect(value).toEqual({ deep: [1, 2] });
    expect(Object.isFrozen(value)).toBe(true);
  });

  it('never collide with an encoded user value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const bytes = encodeValue(value, 1 << 20).bytes;
        expect(storedPayload(bytes)).toBe(bytes);
        expect(staleWindowOf(bytes)).toBe(0);
      }),
    );
  });

  it('refuse malformed marked bytes with CorruptValueError', () => {
    for (const bytes of [
      Uint8Array.of(0xc1),
      Uint8Array.of(0xc1, 0x09),
      Uint8Array.of(0xc1, 1, 0, 0, 0, 0),
    ]) {
      expect(() => readValue(fromBytes(bytes))).toThrow(CorruptValueError);
    }
  });
});
