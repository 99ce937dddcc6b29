import { InvalidArgumentError } from '../util/errors.js';
import { isStringValue, WrongTypeError } from './byte-strings.js';
import { NotAnIntegerError } from './errors.js';
import { evaluateStringWrite, type StringOp } from './string-ops.js';
import { encodeValue, readValue, type StoredValue } from './value-codec.js';

/**
 * The single-key operations, as the cluster executes them: validated, with values
 * already encoded. The public API, the wire decoder and the primary's write pipeline
 * all speak this shape.
 */
export type ReadKind = 'get' | 'has' | 'ttl';

/** A read; `fromAnyOwner` allows a possibly stale answer from any owner. */
export interface ReadOp {
  readonly kind: ReadKind;
  readonly key: string;
  readonly fromAnyOwner: boolean;
}

export interface SetOp {
  readonly kind: 'set';
  readonly key: string;
  readonly value: StoredValue;
  /** Remaining lifetime; 0 (Redis's EXAT/PXAT in the past) writes the key already expired. */
  readonly ttlMs: number | undefined;
  readonly nx: boolean;
  readonly xx: boolean;
  /** Keep the current entry's TTL when `ttlMs` is undefined (Redis's KEEPTTL). */
  readonly keepTtl?: boolean;
  /**
   * Answer the value before the write (undefined when missing) instead of whether it
   * was applied (Redis's SET ... GET); that value must be a string (`byte-strings.ts`).
   */
  readonly returnOld?: boolean;
}

export interface DeleteOp {
  readonly kind: 'del';
  readonly key: string;
}

/** `ttlMs` 0 removes the key, `null` removes its expiry. */
export interface ExpireOp {
  readonly kind: 'expire';
  readonly key: string;
  readonly ttlMs: number | null;
  /** Redis 7's EXPIRE conditions on the current TTL; absent means unconditional. */
  readonly onlyIf?: ExpireConditions;
}

/**
 * Conditions on the current TTL, each that is set must hold: `nx` no TTL; `xx` a TTL;
 * `gt` a TTL shorter than the new one; `lt` no TTL or a longer one. The new TTL of a
 * persist (`null`) counts as infinite.
 */
export interface ExpireConditions {
  readonly nx?: boolean;
  readonly xx?: boolean;
  readonly gt?: boolean;
  readonly lt?: boolean;
}

export interface IncrOp {
  readonly kind: 'incr';
  readonly key: string;
  readonly by: number;
}

export type WriteOp = SetOp | DeleteOp | ExpireOp | IncrOp | StringOp;
export type KeyOp = ReadOp | WriteOp;

/**
 * What a write answers: a boolean or number; a stored value (or undefined) for the
 * writes that return what they read (`getdel`, `getex`, `set` with `returnOld`); a
 * decimal string for `incrby` (64-bit results do not fit a number).
 */
export type WriteResult = boolean | number | string | StoredValue | undefined;

/** What an operation answers: `get` a stored value (or undefined), others as {@link WriteResult}. */
export type OpResult = WriteResult;

/** Whether `op` only reads. */
export function isRead(op: KeyOp): op is ReadOp {
  return op.kind === 'get' || op.kind === 'has' || op.kind === 'ttl';
}

/** Whether applying `op` twice could differ from applying it once. */
export function isIdempotent(op: KeyOp): boolean {
  return op.kind === 'get' || op.kind === 'has' || op.kind === 'ttl';
}

/** Longest key accepted, in UTF-16 code units. Keys travel in every message about them. */
export const MAX_KEY_LENGTH = 65_536;

/** Throws `InvalidArgumentError` unless `key` is a string within {@link MAX_KEY_LENGTH}. */
export function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string') {
    throw new InvalidArgumentError(`a key must be a string, got ${typeof key}`);
  }
  if (key.length > MAX_KEY_LENGTH) {
    throw new InvalidArgumentError(`a key is limited to ${MAX_KEY_LENGTH} characters`);
  }
}

/** Throws unless `ttlMs` is a positive finite number of milliseconds. */
export function checkTtl(ttlMs: unknown, name = 'ttlMs'): asserts ttlMs is number {
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0 || ttlMs > 2 ** 53) {
    throw new InvalidArgumentError(`${name} must be a positive finite number of milliseconds`);
  }
}

/** Throws unless `ttlMs` is valid for `expire`: >= 0 and finite, or null. */
export function checkExpireTtl(ttlMs: unknown): asserts ttlMs is number | null {
  if (ttlMs === null) return;
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs < 0 || ttlMs > 2 ** 53) {
    throw new InvalidArgumentError('ttlMs must be a finite number >= 0, or null to persist');
  }
}

/** Throws unless `by` is a safe integer. */
export function checkIncrement(by: unknown): asserts by is number {
  if (typeof by !== 'number' || !Number.isSafeInteger(by)) {
    throw new InvalidArgumentError('incr needs a safe integer increment');
  }
}

/** Bytes an entry counts against the store's `maxBytes`: encoded value plus key. */
export function entrySize(key: string, value: StoredValue): number {
  return value.bytes.byteLength + key.length;
}

/** The live entry a write sees. */
export interface CurrentEntry {
  readonly value: StoredValue;
  readonly ttlRemainingMs: number | undefined;
}

/** The state change a write makes: a new value with its TTL, or `null` for removal. */
export interface Mutation {
  readonly key: string;
  readonly value: StoredValue | null;
  readonly ttlMs: number | undefined;
}

/** What evaluating a write yields: the caller's answer and the change to replicate. */
export interface WriteOutcome {
  readonly result: WriteResult;
  readonly mutation: Mutation | undefined;
}

/**
 * Evaluates a write against the key's current live entry. Pure: it decides, it does
 * not apply. Read-modify-write operations (`incr`, `nx`/`xx`, `expire`) are decided
 * here, at the primary, in the partition's write order, which is what makes them
 * atomic.
 *
 * @throws NotAnIntegerError when `incr` meets a non-integer or overflows.
 */
export function evaluateWrite(
  op: WriteOp,
  current: CurrentEntry | undefined,
  maxValueBytes: number,
): WriteOutcome {
  switch (op.kind) {
    case 'set':
      return evaluateSet(op, current);
    case 'del':
      if (current === undefined) return { result: false, mutation: undefined };
      return { result: true, mutation: { key: op.key, value: null, ttlMs: undefined } };
    case 'expire':
      if (current === undefined) return { result: false, mutation: undefined };
      if (op.onlyIf !== undefined && !expireConditionsHold(op.onlyIf, op.ttlMs, current)) {
        return { result: false, mutation: undefined };
      }
      if (op.ttlMs === 0) {
        return { result: true, mutation: { key: op.key, value: null, ttlMs: undefined } };
      }
      return {
        result: true,
        mutation: { key: op.key, value: current.value, ttlMs: op.ttlMs ?? undefined },
      };
    case 'incr': {
      let base = 0;
      if (current !== undefined) {
        const decoded = readValue(current.value);
        if (typeof decoded !== 'number' || !Number.isSafeInteger(decoded)) {
          throw new NotAnIntegerError(op.key);
        }
        base = decoded;
      }
      const next = base + op.by;
      if (!Number.isSafeInteger(next)) throw new NotAnIntegerError(op.key);
      return {
        result: next,
        mutation: {
          key: op.key,
          value: encodeValue(next, maxValueBytes),
          ttlMs: current?.ttlRemainingMs,
        },
      };
    }
    default:
      return evaluateStringWrite(op, current, maxValueBytes);
  }
}

function evaluateSet(op: SetOp, current: CurrentEntry | undefined): WriteOutcome {
  if (op.returnOld && current !== undefined && !isStringValue(current.value)) {
    throw new WrongTypeError(op.key);
  }
  const applies = !((op.nx && current !== undefined) || (op.xx && current === undefined));
  const result = op.returnOld ? current?.value : applies;
  if (!applies) return { result, mutation: undefined };
  if (op.ttlMs === 0) {
    const mutation =
      current === undefined ? undefined : { key: op.key, value: null, ttlMs: undefined };
    return { result, mutation };
  }
  const ttlMs = op.ttlMs ?? (op.keepTtl ? current?.ttlRemainingMs : undefined);
  return { result, mutation: { key: op.key, value: op.value, ttlMs } };
}

function expireConditionsHold(
  conditions: ExpireConditions,
  ttlMs: number | null,
  current: CurrentEntry,
): boolean {
  const existing = current.ttlRemainingMs;
  const next = ttlMs ?? Number.POSITIVE_INFINITY;
  if (conditions.nx && existing !== undefined) return false;
  if (conditions.xx && existing === undefined) return false;
  if (conditions.gt && (existing === undefined || next <= existing)) return false;
  if (conditions.lt && existing !== undefined && next >= existing) return false;
  return true;
}

/**
 * The reads of `mget`, validated: one `get` per key. Shared by `CacheNode` and
 * `ShoalClient` so both refuse the same input the same way.
 */
export function mgetOps(keys: readonly string[], fromAnyOwner: boolean): ReadOp[] {
  if (!Array.isArray(keys)) throw new InvalidArgumentError('mget needs an array of keys');
  for (const key of keys) checkKey(key);
  return keys.map((key) => ({ kind: 'get', key, fromAnyOwner }));
}

/** The values of `mget`'s results, `undefined` where a key is missing. */
export function mgetValues<V>(results: readonly OpResult[]): (V | undefined)[] {
  return results.map((result) =>
    result === undefined ? undefined : (readValue(result as StoredValue) as V),
  );
}

/**
 * The writes of `mset`, validated and each value encoded once (limited to
 * `maxValueBytes`). Shared by `CacheNode` and `ShoalClient`.
 */
export function msetOps(
  entries: Iterable<readonly [string, unknown]>,
  ttlMs: number | undefined,
  maxValueBytes: number,
): SetOp[] {
  if (entries === null || typeof entries !== 'object' || !(Symbol.iterator in entries)) {
    throw new InvalidArgumentError('mset needs an iterable of [key, value] pairs');
  }
  if (ttlMs !== undefined) checkTtl(ttlMs);
  const ops: SetOp[] = [];
  for (const entry of entries) {
    if (!Array.isArray(entry) || entry.length !== 2) {
      throw new InvalidArgumentError('mset entries must be [key, value] pairs');
    }
    const [key, value] = entry as [unknown, unknown];
    checkKey(key);
    ops.push({
      kind: 'set',
      key,
      value: encodeValue(value, maxValueBytes),
      ttlMs,
      nx: false,
      xx: false,
    });
  }
  return ops;
}
