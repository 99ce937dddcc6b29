/**
 * CRC16/XMODEM (poly 0x1021, init 0, no reflection, no final xor): the checksum
 * Redis Cluster uses for its key-to-slot mapping. Table-driven, one lookup per byte.
 */

const POLYNOMIAL = 0x1021;
const BYTE_VALUES = 256;

function buildTable(): Uint16Array {
  const table = new Uint16Array(BYTE_VALUES);
  for (let byte = 0; byte < BYTE_VALUES; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ POLYNOMIAL) & 0xffff : (crc << 1) & 0xffff;
    }
    table[byte] = crc;
  }
  return table;
}

const TABLE = buildTable();

/** Feeds one byte into a running CRC. Small enough that V8 inlines it at every call. */
export function crc16Update(crc: number, byte: number): number {
  return ((crc << 8) ^ TABLE[((crc >>> 8) ^ byte) & 0xff]!) & 0xffff;
}

/** CRC16/XMODEM of `bytes[start, end)`. */
export function crc16Xmodem(bytes: Uint8Array, start = 0, end: number = bytes.length): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = crc16Update(crc, bytes[i]!);
  return crc;
}

/**
 * CRC16/XMODEM of the UTF-8 encoding of `text[start, end)` (UTF-16 code-unit
 * indexes), computed without materialising the bytes: ASCII code units feed the CRC
 * directly and anything else is encoded to UTF-8 on the fly.
 *
 * A lone surrogate (a high surrogate not followed by a low one inside the range, or a
 * low surrogate on its own) is hashed as U+FFFD, the bytes EF BF BD, which is exactly
 * what `Buffer.from(text, 'utf8')` and `TextEncoder` produce for it.
 */
export function crc16XmodemUtf8(text: string, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++) {
    let unit = text.charCodeAt(i);
    if (unit < 0x80) {
      crc = crc16Update(crc, unit);
      continue;
    }
    if (unit < 0x800) {
      crc = crc16Update(crc, 0xc0 | (unit >>> 6));
      crc = crc16Update(crc, 0x80 | (unit & 0x3f));
      continue;
    }
    if (unit >= 0xd800 && unit <= 0xdfff) {
      const next = i + 1 < end ? text.charCodeAt(i + 1) : 0;
      if (unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        const codePoint = ((unit - 0xd800) << 10) + (next - 0xdc00) + 0x10000;
        crc = crc16Update(crc, 0xf0 | (codePoint >>> 18));
        crc = crc16Update(crc, 0x80 | ((codePoint >>> 12) & 0x3f));
        crc = crc16Update(crc, 0x80 | ((codePoint >>> 6) & 0x3f));
        crc = crc16Update(crc, 0x80 | (codePoint & 0x3f));
        i++;
        continue;
      }
      unit = 0xfffd;
    }
    crc = crc16Update(crc, 0xe0 | (unit >>> 12));
    crc = crc16Update(crc, 0x80 | ((unit >>> 6) & 0x3f));
    crc = crc16Update(crc, 0x80 | (unit & 0x3f));
  }
  return crc;
}
