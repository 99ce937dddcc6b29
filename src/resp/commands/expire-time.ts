import { INT64_MAX, INT64_MIN, parseInt64 } from '../../util/int64.js';
import { notAnIntegerError, RespCommandError } from '../errors.js';

/** The unit a command's time argument is given in. */
export type TimeUnit = 'seconds' | 'milliseconds';

const MS_PER_SECOND = 1000n;

/** Redis's `invalid expire time in '<command>' command` reply. */
export function invalidExpireTimeError(fullName: string): RespCommandError {
  return new RespCommandError(`ERR invalid expire time in '${fullName}' command`);
}

/**
 * The remaining TTL in ms for an expiry option of SET / SETEX / PSETEX / GETEX
 * (EX, PX, EXAT, PXAT), with Redis's validation: the number must be a positive
 * 64-bit integer and the resulting absolute time must not overflow. Absolute forms
 * are converted with `nowMs` (wall clock); a time already past gives a TTL <= 0.
 *
 * Precision: TTLs beyond 2^53 ms (285,000 years) are rounded to a double.
 */
export function expiryOptionTtlMs(
  arg: Buffer,
  unit: TimeUnit,
  absolute: boolean,
  fullName: string,
  nowMs: number,
): number {
  const value = parseInt64(arg);
  if (value === undefined) throw notAnIntegerError();
  if (value <= 0n || (unit === 'seconds' && value > INT64_MAX / MS_PER_SECOND)) {
    throw invalidExpireTimeError(fullName);
  }
  const ms = unit === 'seconds' ? value * MS_PER_SECOND : value;
  const now = BigInt(Math.floor(nowMs));
  if (absolute) return Number(ms - now);
  if (ms + now > INT64_MAX) throw invalidExpireTimeError(fullName);
  return Number(ms);
}

/**
 * The remaining TTL in ms for EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT's time
 * argument, with Redis's validation (any 64-bit integer, negative allowed; only
 * unit conversion or adding the base time may overflow). A result <= 0 means the key
 * is to be deleted.
 */
export function expireCommandTtlMs(
  arg: Buffer,
  unit: TimeUnit,
  absolute: boolean,
  fullName: string,
  nowMs: number,
): number {
  let when = parseInt64(arg);
  if (when === undefined) throw notAnIntegerError();
  if (unit === 'seconds') {
    if (when > INT64_MAX / MS_PER_SECOND || when < INT64_MIN / MS_PER_SECOND) {
      throw invalidExpireTimeError(fullName);
    }
    when *= MS_PER_SECOND;
  }
  const now = BigInt(Math.floor(nowMs));
  const base = absolute ? 0n : now;
  if (when > INT64_MAX - base) throw invalidExpireTimeError(fullName);
  return Number(when + base - now);
}
