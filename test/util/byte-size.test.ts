import { describe, expect, it } from 'vitest';
import { parseByteSize } from '../../src/util/byte-size.js';
import { InvalidArgumentError } from '../../src/util/errors.js';

describe('parseByteSize', () => {
  it('reads binary units in any case', () => {
    expect(parseByteSize('256mb')).toBe(256 * 1024 * 1024);
    expect(parseByteSize('1GiB')).toBe(1024 ** 3);
    expect(parseByteSize('512k')).toBe(512 * 1024);
    expect(parseByteSize('1.5kb')).toBe(1536);
    expect(parseByteSize('1048576')).toBe(1048576);
    expect(parseByteSize(42)).toBe(42);
  });

  it('refuses what is not a size with a typed error', () => {
    for (const bad of ['', 'mb', '-1mb', '12 parsecs', '1e3', 'NaN', '10xb']) {
      expect(() => parseByteSize(bad), bad).toThrow(InvalidArgumentError);
    }
    expect(() => parseByteSize(-1)).toThrow(InvalidArgumentError);
    expect(() => parseByteSize(1.5)).toThrow(InvalidArgumentError);
    expect(() => parseByteSize('99999999999tb')).toThrow(/too large/);
  });
});
