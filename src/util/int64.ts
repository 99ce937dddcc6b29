/**
 * Redis's integer rules. Redis stores counters and reads numeric arguments as C
 * `long long`, so shoal uses `bigint` for them: a JavaScript number would silently
 * round values above 2^53.
 */

/** The largest value of a signed 64-bit integer (Redis's LLONG_MAX). */
export const INT64_MAX = 2n ** 63n - 1n;

/** The smallest value of a signed 64-bit integer (Redis's LLONG_MIN). */
export const INT64_MIN = -(2n ** 63n);

/** Redis's LONG_STR_SIZE: a decimal signed 64-bit integer never needs 21 bytes. */
const MAX_INTEGER_TEXT_BYTES = 20;

const DIGIT_0 = 0x30;
const DIGIT_1 = 0x31;
const DIGIT_9 = 0x39;
const MINUS = 0x2d;

/**
 * Parses `bytes[start, end)` exactly as Redis's `string2ll` does: an optional `-`,
 * then digits with no leading zero (except `0` itself), no spaces, no `+`, within
 * the signed 64-bit range. `-0` and `007` are rejected, as in Redis.
 *
 * @returns the value, or `undefined` when the text is not such an integer.
 */
export function parseInt64(
  bytes: Uint8Array,
  start = 0,
  end: number = bytes.length,
): bigint | undefined {
  const length = end - start;
  if (length === 0 || length > MAX_INTEGER_TEXT_BYTES) return undefined;
  if (length === 1 && bytes[start] === DIGIT_0) return 0n;
  let i = start;
  const negative = bytes[i] === MINUS;
  if (negative) {
    i++;
    if (i === end) return undefined;
  }
  const first = bytes[i]!;
  if (first < DIGIT_1 || first > DIGIT_9) return undefined;
  // Up to 15 digits fit a double exactly, so the common case never touches bigint.
  if (end - i <= 15) {
    let small = 0;
    for (; i < end; i++) {
      const byte = bytes[i]!;
      if (byte < DIGIT_0 || byte > DIGIT_9) return undefined;
      small = small * 10 + (byte - DIGIT_0);
    }
    return BigInt(negative ? -small : small);
  }
  let value = 0n;
  for (; i < end; i++) {
    const byte = bytes[i]!;
    if (byte < DIGIT_0 || byte > DIGIT_9) return undefined;
    value = value * 10n + BigInt(byte - DIGIT_0);
  }
  if (negative) value = -value;
  if (value > INT64_MAX || value < INT64_MIN) return undefined;
  return value;
}

/**
 * Like {@link parseInt64} but returns a JavaScript number, for values the caller
 * bounds before use (lengths, counts, indexes): numbers of up to 15 digits are
 * exact and parsed without a bigint; longer ones are validated through
 * {@link parseInt64} and only ever compared against limits far below 2^53.
 *
 * @returns the value, or `undefined` when the text is not a Redis integer.
 */
export function parseSmallInt(
  bytes: Uint8Array,
  start = 0,
  end: number = bytes.length,
): number | undefined {
  const length = end - start;
  if (length === 0 || length > 15) {
    const wide = parseInt64(bytes, start, end);
    return wide === undefined ? undefined : Number(wide);
  }
  if (length === 1 && bytes[start] === DIGIT_0) return 0;
  let i = start;
  const negative = bytes[i] === MINUS;
  if (negative) {
    i++;
    if (i === end) return undefined;
  }
  const first = bytes[i]!;
  if (first < DIGIT_1 || first > DIGIT_9) return undefined;
  let value = 0;
  for (; i < end; i++) {
    const byte = bytes[i]!;
    if (byte < DIGIT_0 || byte > DIGIT_9) return undefined;
    value = value * 10 + (byte - DIGIT_0);
  }
  return negative ? -value : value;
}
