import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { respKeyFromString, respKeyToString } from '../../src/resp/key-encoding.js';
import { respKeySlot } from '../../src/resp/key-slot.js';
import { partitionOf } from '../../src/ring/partitioner.js';

describe('RESP key bytes <-> shoal key strings', () => {
  it('maps UTF-8 keys to their plain string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 30 }), (text) => {
        expect(respKeyToString(Buffer.from(text, 'utf8'))).toBe(text);
      }),
    );
  });

  it('round-trips any bytes, so two byte strings never share a key', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const key = respKeyToString(bytes);
        expect(respKeyFromString(key)).toEqual(Buffer.from(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it('escapes each byte outside valid UTF-8 as U+DC00 + byte', () => {
    expect(respKeyToString(Buffer.from([0x61, 0xff, 0xc3, 0xa9, 0xc3]))).toBe('a\udcffé\udcc3');
    expect(respKeyToString(Buffer.from([0xed, 0xa0, 0x80]))).toBe('\udced\udca0\udc80');
    expect(respKeyToString(Buffer.from([0xf0, 0x9f, 0x98, 0x80]))).toBe('😀');
  });

  it("gives UTF-8 keys exactly the cluster's partition", () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 20 }), (text) => {
        expect(respKeySlot(Buffer.from(text, 'utf8'), text)).toBe(partitionOf(text));
      }),
    );
  });
});
