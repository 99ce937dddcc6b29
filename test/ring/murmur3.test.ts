import { describe, expect, it } from 'vitest';
import { murmur3 } from '../../src/ring/murmur3.js';

const utf8 = (text: string): Uint8Array => Buffer.from(text, 'utf8');

describe('murmur3 (x86_32)', () => {
  it.each([
    ['', 0, 0],
    ['', 1, 0x514e28b7],
    ['a', 0, 0x3c2569b2],
    ['hello', 0, 0x248bfa47],
    ['Hello, world!', 1234, 0xfaf6cdb3],
    ['The quick brown fox jumps over the lazy dog', 0, 0x2e4ff723],
  ])('hashes %j with seed %i to the reference value', (text, seed, expected) => {
    expect(murmur3(utf8(text), undefined, seed)).toBe(expected);
  });

  it('hashes only the first `length` bytes', () => {
    expect(murmur3(utf8('hello, trailing bytes'), 5)).toBe(0x248bfa47);
  });

  it('covers every tail length with distinct unsigned results', () => {
    const hashes = ['abcd', 'abcde', 'abcdef', 'abcdefg'].map((text) => murmur3(utf8(text)));
    expect(new Set(hashes).size).toBe(4);
    for (const hash of hashes) expect(hash).toBe(hash >>> 0);
  });
});
