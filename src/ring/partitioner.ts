import { crc16Update, crc16XmodemUtf8 } from './crc16.js';
import { InvalidKeyError } from './errors.js';

/**
 * The number of partitions the key space is split into. Equal to Redis Cluster's
 * 16384 hash slots, so a Redis Cluster client's slot for a key is shoal's partition.
 */
export const PARTITION_COUNT = 16384;

const PARTITION_MASK = PARTITION_COUNT - 1;
const OPEN_BRACE = 0x7b;

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
  // One pass for the common case, an ASCII key without '{': hash while scanning.
  const length = key.length;
  let crc = 0;
  for (let i = 0; i < length; i++) {
    const unit = key.charCodeAt(i);
    if (unit >= 0x80 || unit === OPEN_BRACE) return partitionOfGeneral(key, i);
    crc = crc16Update(crc, unit);
  }
  return crc & PARTITION_MASK;
}

/** The rest of the work once a non-ASCII unit or a `{` appears at `from`. */
function partitionOfGeneral(key: string, from: number): number {
  const length = key.length;
  const open = key.indexOf('{', from);
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) return crc16XmodemUtf8(key, open + 1, close) & PARTITION_MASK;
  }
  return crc16XmodemUtf8(key, 0, length) & PARTITION_MASK;
}
