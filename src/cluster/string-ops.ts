import { InvalidArgumentError } from '../util/errors.js';
import { INT64_MAX, INT64_MIN } from '../util/int64.js';
import {
  IncrementOverflowError,
  int64Of,
  isStringValue,
  storedFromBytes,
  storedFromInt64,
  stringBytesOf,
  WrongTypeError,
} from './byte-strings.js';
import { type CurrentEntry, checkExpireTtl, type WriteOutcome } from './key-ops.js';
import type { WireOp } from './messages.js';

/**
 * Redis's read-modify-write string operations, as the cluster executes them: each is
 * decided at the key's primary in the partition's write order (`evaluateWrite`), then
 * replicated like any write, so each is atomic and linearizable. Values are seen as
 * byte strings (`byte-strings.ts`).
 */

/** Reads and removes a key (GETDEL); answers the value or undefined. */
export interface GetDelOp {
  readonly kind: 'getdel';
  readonly key: string;
}

/**
 * Reads a key and changes its TTL (GETEX): `ttlMs` > 0 sets it, 0 removes the key,
 * `null` removes the expiry. Answers the value read, or undefined (nothing changes).
 */
export interface GetExOp {
  readonly kind: 'getex';
  readonly key: string;
  readonly ttlMs: number | null;
}

/** Appends bytes (APPEND), creating the key when missing; answers the new length. */
export interface AppendOp {
  readonly kind: 'append';
  readonly key: string;
  readonly suffix: Uint8Array;
}

/**
 * Adds `by` to a signed 64-bit integer (INCRBY; missing counts as 0, the TTL stays);
 * answers the result as decimal text.
 */
export interface IncrByOp {
  readonly kind: 'incrby';
  readonly key: string;
  readonly by: bigint;
}

export type StringOp = GetDelOp | GetExOp | AppendOp | IncrByOp;

/** An increment on the wire: optional minus, 1 to 19 digits (then range-checked). */
const INT64_TEXT = /^-?[0-9]{1,19}$/;

/** The wire form of a string operation (fields as in `WireOp`). */
export function encodeStringOp(op: StringOp): WireOp {
  switch (op.kind) {
    case 'getdel':
      return { o: 'getdel', k: op.key };
    case 'getex':
      return { o: 'getex', k: op.key, t: op.ttlMs };
    case 'append':
      return { o: 'append', k: op.key, v: op.suffix };
    case 'incrby':
      return { o: 'incrby', k: op.key, bi: op.by.toString() };
  }
}

function malformed(what: string): never {
  throw new InvalidArgumentError(`malformed cache message: ${what}`);
}

/**
 * Decodes a string operation whose key is already checked, strictly; `undefined`
 * when `wire.o` is not a string operation's kind.
 */
export function decodeStringOp(
  wire: Record<string, unknown>,
  key: string,
  maxValueBytes: number,
): StringOp | undefined {
  switch (wire.o) {
    case 'getdel':
      return { kind: 'getdel', key };
    case 'getex': {
      const ttl = wire.t;
      checkExpireTtl(ttl);
      return { kind: 'getex', key, ttlMs: ttl };
    }
    case 'append': {
      const suffix = wire.v;
      if (!(suffix instanceof Uint8Array) || suffix.byteLength > maxValueBytes) {
        malformed('append bytes');
      }
      return { kind: 'append', key, suffix };
    }
    case 'incrby': {
      const text = wire.bi;
      if (typeof text !== 'string' || !INT64_TEXT.test(text)) malformed('increment');
      const by = BigInt(text);
      if (by > INT64_MAX || by < INT64_MIN) malformed('increment range');
      return { kind: 'incrby', key, by };
    }
    default:
      return undefined;
  }
}

function requireString(key: string, current: CurrentEntry | undefined): void {
  if (current !== undefined && !isStringValue(current.value)) throw new WrongTypeError(key);
}

/**
 * Evaluates a string operation against the key's live entry (pure: it decides, the
 * write pipeline applies).
 *
 * @throws WrongTypeError when the value is not a string.
 * @throws NotAnIntegerError, IncrementOverflowError from `incrby`; nothing changes.
 * @throws ValueTooLargeError when `append` would exceed `maxValueBytes`.
 */
export function evaluateStringWrite(
  op: StringOp,
  current: CurrentEntry | undefined,
  maxValueBytes: number,
): WriteOutcome {
  switch (op.kind) {
    case 'getdel':
      requireString(op.key, current);
      if (current === undefined) return { result: undefined, mutation: undefined };
      return {
        result: current.value,
        mutation: { key: op.key, value: null, ttlMs: undefined },
      };
    case 'getex': {
      requireString(op.key, current);
      if (current === undefined) return { result: undefined, mutation: undefined };
      const result = current.value;
      if (op.ttlMs === 0)
        return { result, mutation: { key: op.key, value: null, ttlMs: undefined } };
      if (op.ttlMs === null && current.ttlRemainingMs === undefined) {
        return { result, mutation: undefined };
      }
      return { result, mutation: { key: op.key, value: result, ttlMs: op.ttlMs ?? undefined } };
    }
    case 'append': {
      requireString(op.key, current);
      const before = current === undefined ? undefined : stringBytesOf(current.value);
      let bytes = op.suffix;
      if (before !== undefined) {
        const joined = new Uint8Array(before.length + op.suffix.length);
        joined.set(before, 0);
        joined.set(op.suffix, before.length);
        bytes = joined;
      }
      return {
        result: bytes.length,
        mutation: {
          key: op.key,
          value: storedFromBytes(bytes, maxValueBytes),
          ttlMs: current?.ttlRemainingMs,
        },
      };
    }
    case 'incrby': {
      const base = current === undefined ? 0n : int64Of(op.key, current.value);
      const next = base + op.by;
      if (next > INT64_MAX || next < INT64_MIN) throw new IncrementOverflowError(op.key);
      return {
        result: next.toString(),
        mutation: {
          key: op.key,
          value: storedFromInt64(next, maxValueBytes),
          ttlMs: current?.ttlRemainingMs,
        },
      };
    }
  }
}
