import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidKeyError } from '../../src/ring/errors.js';
import { PARTITION_COUNT, partitionOf } from '../../src/ring/partitioner.js';

/**
 * Redis's keyHashSlot, transcribed onto the UTF-8 bytes `Buffer.from` produces (which
 * turns each lone surrogate into U+FFFD), with a bitwise CRC: the reference the
 * allocation-free fast path must agree with.
 */
function referenceSlot(key: string): number {
  const bytes = Buffer.from(key, 'utf8');
  const crc = (from: number, to: number): number => {
    let value = 0;
    for (let i = from; i < to; i++) {
      value ^= bytes[i]! << 8;
      for (let bit = 0; bit < 8; bit++) {
        value = value & 0x8000 ? ((value << 1) ^ 0x1021) & 0xffff : (value << 1) & 0xffff;
      }
    }
    return value;
  };
  const open = bytes.indexOf(0x7b);
  if (open === -1) return crc(0, bytes.length) % 16384;
  const close = bytes.indexOf(0x7d, open + 1);
  if (close === -1 || close === open + 1) return crc(0, bytes.length) % 16384;
  return crc(open + 1, close) % 16384;
}

describe('partitionOf', () => {
  it('has 16384 partitions, like Redis Cluster', () => {
    expect(PARTITION_COUNT).toBe(16384);
  });

  it.each([
    ['foo', 12182],
    ['bar', 5061],
    ['hello', 866],
    ['somekey', 11058],
  ])('puts %j in the slot Redis documents (%i)', (key, slot) => {
    expect(partitionOf(key)).toBe(slot);
  });

  it('follows the documented hash-tag rules', () => {
    expect(partitionOf('{user1000}.following')).toBe(partitionOf('{user1000}.followers'));
    expect(partitionOf('{user1000}.following')).toBe(partitionOf('user1000'));
    // An empty tag does not count: the whole key is hashed.
    expect(partitionOf('foo{}{bar}')).toBe(referenceSlot('foo{}{bar}'));
    expect(partitionOf('foo{}{bar}')).not.toBe(partitionOf('bar'));
    // The tag runs from the first '{' to the first '}' after it.
    expect(partitionOf('foo{{bar}}zap')).toBe(partitionOf('{bar'));
    expect(partitionOf('foo{bar}{zap}')).toBe(partitionOf('bar'));
    // No closing brace: the whole key.
    expect(partitionOf('foo{bar')).toBe(referenceSlot('foo{bar'));
    expect(partitionOf('foo{bar')).not.toBe(partitionOf('bar'));
  });

  it('hashes non-ASCII keys as UTF-8, including tags next to them', () => {
    for (const key of [
      'héllo',
      '日本語',
      '😀',
      'a😀b',
      '{😀}x',
      'ключ{tag}',
      '\u0080\u07ff\u0800\uffff',
    ]) {
      expect(partitionOf(key)).toBe(referenceSlot(key));
    }
    expect(partitionOf('日本{tag}')).toBe(partitionOf('tag'));
  });

  it('hashes a lone surrogate as U+FFFD, as Buffer.from encodes it', () => {
    expect(partitionOf('a\ud800b')).toBe(partitionOf('a\ufffdb'));
    expect(partitionOf('\udc00')).toBe(partitionOf('\ufffd'));
    // A high surrogate right before a tag's closing brace is lone inside the tag.
    expect(partitionOf('{x\ud83d}\ude00')).toBe(partitionOf('x\ufffd'));
  });

  const unicodeStrings = [
    fc.string({ unit: 'grapheme', maxLength: 24 }),
    fc.string({ unit: 'binary', maxLength: 24 }),
    fc.string({ unit: 'grapheme-ascii', maxLength: 24 }),
    // Any UTF-16 code unit, so lone surrogates and split pairs are common.
    fc.string({
      unit: fc.integer({ min: 0, max: 0xffff }).map((u) => String.fromCharCode(u)),
      maxLength: 24,
    }),
  ];
  const withBraces = fc
    .tuple(
      fc.oneof(...unicodeStrings),
      fc.array(fc.nat(), { maxLength: 3 }),
      fc.array(fc.constantFrom('{', '}')),
    )
    .map(([text, positions, braces]) => {
      let key = text;
      braces.forEach((brace, i) => {
        const at = (positions[i] ?? 0) % (key.length + 1);
        key = key.slice(0, at) + brace + key.slice(at);
      });
      return key;
    });

  it('agrees with the byte-level reference on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.oneof(...unicodeStrings, withBraces), (key) => {
        const partition = partitionOf(key);
        expect(partition).toBe(referenceSlot(key));
        expect(Number.isInteger(partition) && partition >= 0 && partition < PARTITION_COUNT).toBe(
          true,
        );
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects a non-string key with a typed error', () => {
    for (const bad of [42, undefined, null, Buffer.from('k'), { toString: () => 'k' }]) {
      expect(() => partitionOf(bad as unknown as string)).toThrow(InvalidKeyError);
      expect(() => partitionOf(bad as unknown as string)).toThrow(
        expect.objectContaining({ code: 'ERR_RING_INVALID_KEY' }),
      );
    }
  });
});
