import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc16Xmodem, crc16XmodemUtf8 } from '../../src/ring/crc16.js';

/** Bit-at-a-time CRC16/XMODEM, straight from the definition. */
function bitwiseCrc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc;
}

describe('crc16Xmodem', () => {
  it('matches the published check value for "123456789"', () => {
    const bytes = Buffer.from('123456789', 'ascii');
    expect(crc16Xmodem(bytes)).toBe(0x31c3);
    expect(crc16XmodemUtf8('123456789', 0, 9)).toBe(0x31c3);
    expect(bitwiseCrc16(bytes)).toBe(0x31c3);
  });

  it('is 0 for no bytes', () => {
    expect(crc16Xmodem(new Uint8Array(0))).toBe(0);
    expect(crc16XmodemUtf8('abc', 1, 1)).toBe(0);
  });

  it('hashes only the requested byte range', () => {
    const bytes = Buffer.from('xx123456789yy', 'ascii');
    expect(crc16Xmodem(bytes, 2, 11)).toBe(0x31c3);
  });

  it('agrees with the bitwise definition on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(crc16Xmodem(bytes)).toBe(bitwiseCrc16(bytes));
      }),
    );
  });
});
