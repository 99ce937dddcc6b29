import { InvalidArgumentError } from './errors.js';

const UNIT_BYTES: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1024,
  k: 1024,
  kib: 1024,
  mb: 1024 ** 2,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  gb: 1024 ** 3,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  tb: 1024 ** 4,
  t: 1024 ** 4,
  tib: 1024 ** 4,
};

/**
 * Parses a human byte size such as `256mb`, `1.5GiB`, `512k` or `1048576` into bytes.
 * Units are binary (1 kb = 1024 bytes), as Redis's `maxmemory` reads them. A bare
 * number is bytes. Throws `InvalidArgumentError` for anything else.
 */
export function parseByteSize(text: string | number, name = 'size'): number {
  if (typeof text === 'number') {
    if (Number.isSafeInteger(text) && text >= 0) return text;
    throw new InvalidArgumentError(`${name} must be a whole number of bytes, got ${text}`);
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = match?.[2]?.toLowerCase() ?? '';
  const factor = unit === '' ? 1 : UNIT_BYTES[unit];
  if (match === null || factor === undefined) {
    throw new InvalidArgumentError(`${name} must look like 256mb, 1gb or 1048576, got "${text}"`);
  }
  const bytes = Math.floor(Number(match[1]) * factor);
  if (!Number.isSafeInteger(bytes))
    throw new InvalidArgumentError(`${name} "${text}" is too large`);
  return bytes;
}
