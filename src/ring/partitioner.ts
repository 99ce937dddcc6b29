import { crc16XmodemUtf8 } from './crc16.js';
import { InvalidKeyError } from './errors.js';

/**
 * The number of partitions the key space is split into. Equal to Redis Cluster's
 * 16384 hash slots, so a Redis Cluster client's slot for a key is shoal's partition.
 */
export const PARTITION_COUNT = 16384;

const PARTITION_MASK = PARTITION_COUNT - 1;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/**
 * Redis Cluster's key-to-slot function: CRC16/XMODEM of the key's UTF-8 bytes, mod
 * 16384. When the key has a hash tag (the text between its first `{` and the first
 * `}` after that, when non-empty) only the tag is hashed, so `{user1}.a` and
 * `{user1}.b` land in one partition.
 *
 * Searching for the braces in UTF-16 code units finds the same bytes Redis finds in
 * UTF-8, because `{` and `}` are ASCII and UTF-8 never uses ASCII byte values inside
 * a multi-byte sequence. Lone surrogates hash as U+FFFD (see `crc16XmodemUtf8`).
 *
 * Allocation-free: ASCII keys are hashed straight from `charCodeAt`.
 *
 * @throws InvalidKeyError when `key` is not a string.
 */
export function partitionOf(key: string): number {
  if (typeof key !== 'string') {
    throw new InvalidKeyError(`a key must be a string, got ${typeof key}`);
  }
  const length = key.length;
  let open = -1;
  for (let i = 0; i < length; i++) {
    if (key.charCodeAt(i) === OPEN_BRACE) {
      open = i;
      break;
    }
  }
  if (open !== -1) {
    for (let i = open + 1; i < length; i++) {
      if (key.charCodeAt(i) === CLOSE_BRACE) {
        if (i > open + 1) return crc16XmodemUtf8(key, open + 1, i) & PARTITION_MASK;
        break;
      }
    }
  }
  return crc16XmodemUtf8(key, 0, length) & PARTITION_MASK;
}
