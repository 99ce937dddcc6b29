/**
 * MurmurHash3 x86_32: a fast 32-bit hash with good avalanche, used to place virtual
 * nodes on the ring. Written out here (not taken from a library) because placement
 * must be bit-identical on every machine and across releases.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** MurmurHash3 x86_32 of `bytes[0, length)` with `seed`, as an unsigned 32-bit integer. */
export function murmur3(bytes: Uint8Array, length: number = bytes.length, seed = 0): number {
  let h = seed >>> 0;
  const blockEnd = length & ~3;
  for (let i = 0; i < blockEnd; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tailLength = length & 3;
  if (tailLength > 0) {
    let tail = bytes[blockEnd]!;
    if (tailLength > 1) tail |= bytes[blockEnd + 1]! << 8;
    if (tailLength > 2) tail |= bytes[blockEnd + 2]! << 16;
    tail = Math.imul(tail, C1);
    tail = (tail << 15) | (tail >>> 17);
    tail = Math.imul(tail, C2);
    h ^= tail;
  }
  h ^= length;
  return finalize(h);
}

/** MurmurHash3's `fmix32`: spreads every input bit over the whole output. */
function finalize(value: number): number {
  let h = value;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
