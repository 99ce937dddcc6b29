import { isUtf8 } from 'node:buffer';

/**
 * How RESP keys (bytes) become shoal keys (JavaScript strings), and back.
 *
 * - A key whose bytes are valid UTF-8 becomes the string those bytes encode. So
 *   `SET user:1 ...` through RESP and `node.get('user:1')` through the JS API name the
 *   same entry, and any string key written through the JS API reads back through RESP
 *   under its UTF-8 bytes.
 * - Any other key keeps working and stays distinct ("surrogate escape", as Python's
 *   `surrogateescape`): the valid UTF-8 runs decode normally and every byte that is not
 *   part of a valid sequence becomes the lone low surrogate U+DC00 + byte
 *   (U+DC80..U+DCFF). Valid UTF-8 never decodes to a lone surrogate, so the mapping is
 *   injective: two different byte strings never share a shoal key, and
 *   {@link respKeyFromString} recovers the exact bytes.
 */

const LOW_SURROGATE_BASE = 0xdc00;
const ESCAPE_MIN = 0xdc80;
const ESCAPE_MAX = 0xdcff;

/** Maps RESP key bytes to the shoal key string (see the module comment). */
export function respKeyToString(bytes: Uint8Array): string {
  const length = bytes.length;
  let ascii = true;
  for (let i = 0; i < length; i++) {
    if (bytes[i]! >= 0x80) {
      ascii = false;
      break;
    }
  }
  const buffer = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, length);
  if (ascii) return buffer.toString('latin1', 0, length);
  if (isUtf8(buffer)) return buffer.toString('utf8', 0, length);
  return decodeWithEscapes(bytes);
}

/**
 * The inverse of {@link respKeyToString}: the RESP bytes of a shoal key. Lone
 * surrogates U+DC80..U+DCFF become the raw byte they escape; everything else is
 * UTF-8 (other lone surrogates, which RESP can never produce, encode as U+FFFD like
 * `Buffer.from(key)` does).
 */
export function respKeyFromString(key: string): Buffer {
  let escaped = false;
  for (let i = 0; i < key.length; i++) {
    const unit = key.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      i++;
      continue;
    }
    if (unit >= ESCAPE_MIN && unit <= ESCAPE_MAX) {
      escaped = true;
      break;
    }
  }
  if (!escaped) return Buffer.from(key, 'utf8');
  const parts: Buffer[] = [];
  let runStart = 0;
  for (let i = 0; i < key.length; i++) {
    const unit = key.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = key.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
      continue;
    }
    if (unit >= ESCAPE_MIN && unit <= ESCAPE_MAX) {
      parts.push(Buffer.from(key.slice(runStart, i), 'utf8'), Buffer.of(unit - LOW_SURROGATE_BASE));
      runStart = i + 1;
    }
  }
  parts.push(Buffer.from(key.slice(runStart), 'utf8'));
  return Buffer.concat(parts);
}

/**
 * Strict UTF-8 decoding (no overlong forms, no encoded surrogates, nothing above
 * U+10FFFF, as `isUtf8` and the WHATWG decoder define it) where each byte that does
 * not start a valid sequence is escaped to U+DC00 + byte.
 */
function decodeWithEscapes(bytes: Uint8Array): string {
  const units: number[] = [];
  const length = bytes.length;
  let i = 0;
  while (i < length) {
    const lead = bytes[i]!;
    const sequence = validSequenceLength(bytes, i, length);
    if (sequence === 0) {
      units.push(lead < 0x80 ? lead : LOW_SURROGATE_BASE + lead);
      i++;
      continue;
    }
    if (sequence === 1) {
      units.push(lead);
    } else if (sequence === 2) {
      units.push(((lead & 0x1f) << 6) | (bytes[i + 1]! & 0x3f));
    } else if (sequence === 3) {
      units.push(((lead & 0x0f) << 12) | ((bytes[i + 1]! & 0x3f) << 6) | (bytes[i + 2]! & 0x3f));
    } else {
      const codePoint =
        ((lead & 0x07) << 18) |
        ((bytes[i + 1]! & 0x3f) << 12) |
        ((bytes[i + 2]! & 0x3f) << 6) |
        (bytes[i + 3]! & 0x3f);
      const offset = codePoint - 0x10000;
      units.push(0xd800 + (offset >> 10), LOW_SURROGATE_BASE + (offset & 0x3ff));
    }
    i += sequence;
  }
  let text = '';
  const chunkUnits = 4096;
  for (let start = 0; start < units.length; start += chunkUnits) {
    text += String.fromCharCode(...units.slice(start, start + chunkUnits));
  }
  return text;
}

/** The length of the valid UTF-8 sequence starting at `i` (1..4), or 0 if there is none. */
function validSequenceLength(bytes: Uint8Array, i: number, length: number): number {
  const lead = bytes[i]!;
  if (lead < 0x80) return 1;
  const continuation = (at: number, low = 0x80, high = 0xbf): boolean => {
    if (at >= length) return false;
    const byte = bytes[at]!;
    return byte >= low && byte <= high;
  };
  if (lead >= 0xc2 && lead <= 0xdf) return continuation(i + 1) ? 2 : 0;
  if (lead >= 0xe0 && lead <= 0xef) {
    // E0 needs A0..BF (no overlongs), ED needs 80..9F (no surrogates).
    const low = lead === 0xe0 ? 0xa0 : 0x80;
    const high = lead === 0xed ? 0x9f : 0xbf;
    return continuation(i + 1, low, high) && continuation(i + 2) ? 3 : 0;
  }
  if (lead >= 0xf0 && lead <= 0xf4) {
    // F0 needs 90..BF (no overlongs), F4 needs 80..8F (nothing above U+10FFFF).
    const low = lead === 0xf0 ? 0x90 : 0x80;
    const high = lead === 0xf4 ? 0x8f : 0xbf;
    return continuation(i + 1, low, high) && continuation(i + 2) && continuation(i + 3) ? 4 : 0;
  }
  return 0;
}
