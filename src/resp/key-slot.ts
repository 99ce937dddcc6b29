import { isUtf8 } from 'node:buffer';
import { crc16Xmodem } from '../ring/crc16.js';
import { PARTITION_COUNT, partitionOf } from '../ring/partitioner.js';

const SLOT_MASK = PARTITION_COUNT - 1;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/**
 * The Redis Cluster hash slot of a RESP key: the same number Redis computes for the
 * same bytes (CRC16 of the key or of its `{hash tag}`, mod 16384).
 *
 * For a key whose bytes are valid UTF-8 (every practical key) this is
 * `partitionOf(key)`, the cluster's own partition function, so the slot a Redis
 * client routes by is exactly the partition that holds the entry. For other byte
 * strings `partitionOf` cannot see the raw bytes (the key string escapes them, see
 * key-encoding.ts), so the slot is computed from the bytes to keep Redis clients'
 * routing stable; the cluster then holds such an entry under `partitionOf(key)`,
 * which may be another node, costing one internal forwarding hop.
 *
 * @param bytes the key as the client sent it.
 * @param key the same key after `respKeyToString`.
 */
export function respKeySlot(bytes: Uint8Array, key: string): number {
  if (isAscii(bytes) || isUtf8(bytes)) return partitionOf(key);
  return slotOfBytes(bytes);
}

function isAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! >= 0x80) return false;
  return true;
}

/** Redis's `keyHashSlot` over raw bytes. */
function slotOfBytes(bytes: Uint8Array): number {
  const length = bytes.length;
  const open = bytes.indexOf(OPEN_BRACE);
  if (open !== -1) {
    const close = bytes.indexOf(CLOSE_BRACE, open + 1);
    if (close > open + 1) return crc16Xmodem(bytes, open + 1, close) & SLOT_MASK;
  }
  return crc16Xmodem(bytes, 0, length) & SLOT_MASK;
}
