/**
 * The caller's side of an operation sent to another node, shared by member nodes
 * (forwarding) and `ShoalClient` (routing): argument checks, result decoding, and
 * what a lost reply means.
 */
import { PeerUnavailableError } from '../transport/errors.js';
import type { NodeId } from '../transport/transport.js';
import { InvalidArgumentError, ShoalError } from '../util/errors.js';
import type { ReadFrom, ReadOptions, SetOptions } from './cache-api.js';
import { OutcomeUnknownError } from './errors.js';
import {
  checkTtl,
  isIdempotent,
  isRead,
  type KeyOp,
  type OpResult,
  type ReadOp,
} from './key-ops.js';
import { isErrorReply } from './messages.js';
import { errorFromReply, isRetryableCode } from './remote-errors.js';
import { fromBytes } from './value-codec.js';

/** Whether the read options ask for `readFrom: 'any'`; throws on an unknown value. */
export function readFromAny(options: ReadOptions | undefined): boolean {
  if (options === undefined) return false;
  const readFrom: ReadFrom | undefined = options.readFrom;
  if (readFrom === undefined || readFrom === 'primary') return false;
  if (readFrom === 'any') return true;
  throw new InvalidArgumentError(`readFrom must be 'primary' or 'any', got ${String(readFrom)}`);
}

/** Whether `op` is a read that any in-sync owner may serve. */
export function isAnyRead(op: KeyOp): op is ReadOp {
  return isRead(op) && op.fromAnyOwner;
}

/** Validates `set` options; returns them normalised. */
export function checkSetOptions(options: SetOptions): {
  ttlMs: number | undefined;
  nx: boolean;
  xx: boolean;
} {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('set options must be an object');
  }
  const { ttlMs, nx = false, xx = false } = options;
  if (ttlMs !== undefined) checkTtl(ttlMs);
  if (typeof nx !== 'boolean' || typeof xx !== 'boolean') {
    throw new InvalidArgumentError('nx and xx must be booleans');
  }
  if (nx && xx) throw new InvalidArgumentError('nx and xx cannot both be set');
  return { ttlMs, nx, xx };
}

/** The wire form of an operation's result. */
export function encodeResult(result: OpResult): Uint8Array | boolean | number | string | null {
  if (result === undefined) return null;
  if (typeof result === 'boolean' || typeof result === 'number' || typeof result === 'string') {
    return result;
  }
  return result.bytes;
}

/**
 * Turns a reply into the operation's result, or throws the typed error it carries.
 * `get` results arrive as encoded bytes and are wrapped, not decoded, here.
 */
export function decodeOpReply(
  reply: unknown,
  op: KeyOp,
  peer: NodeId,
  partition: number,
): OpResult {
  if (isErrorReply(reply)) {
    throw errorFromReply(reply, { peer, partition, operation: op.kind, key: op.key });
  }
  const body = reply as { ok?: unknown; r?: unknown } | undefined;
  if (body === undefined || body === null || body.ok !== true) {
    throw new OutcomeUnknownError(op.kind, op.key);
  }
  const result = body.r;
  const returnsValue =
    op.kind === 'get' ||
    op.kind === 'getdel' ||
    op.kind === 'getex' ||
    (op.kind === 'set' && op.returnOld === true);
  if (returnsValue) {
    if (result === null || result === undefined) return undefined;
    if (result instanceof Uint8Array) return fromBytes(result);
    throw new OutcomeUnknownError(op.kind, op.key);
  }
  switch (op.kind) {
    case 'ttl':
    case 'incr':
    case 'append':
      if (typeof result === 'number') return result;
      break;
    case 'incrby':
      if (typeof result === 'string') return result;
      break;
    default:
      if (typeof result === 'boolean') return result;
  }
  throw new OutcomeUnknownError(op.kind, op.key);
}

/**
 * Whether a failed attempt may be tried again at all (the caller still bounds it by
 * `maxRetries` and the deadline): a refusal that proves the operation was not applied,
 * a request that never left, or any transport failure of a read, which changes nothing.
 */
export function isRetryableFailure(error: unknown, op: KeyOp): boolean {
  const code = error instanceof ShoalError ? error.code : '';
  if (isRetryableCode(code)) return true;
  if (error instanceof PeerUnavailableError && !error.sent) return true;
  return (
    isIdempotent(op) &&
    (code === 'ERR_OUTCOME_UNKNOWN' ||
      code === 'ERR_REQUEST_TIMEOUT' ||
      code === 'ERR_PEER_UNAVAILABLE')
  );
}

/** Longest pause between two looks for a new view while a target is unreachable. */
export const MAX_VIEW_POLL_MS = 100;

/**
 * Whether a failure says only that the target could not be reached: a request that
 * never left (any operation), or a read whose peer went away. The cure is the view
 * that routes around a dead primary, which comes only after the coordinator's
 * disconnect grace or session timeout, so such attempts are bounded by the
 * operation's deadline (`operationTimeoutMs`), not counted against `maxRetries`.
 */
export function awaitsView(error: unknown, op: KeyOp): boolean {
  return error instanceof PeerUnavailableError && (!error.sent || isIdempotent(op));
}

/** Pause before look `waits` (from 0) for a new view: grows, capped at {@link MAX_VIEW_POLL_MS}. */
export function viewPollMs(baseMs: number, waits: number): number {
  return Math.min(baseMs * (waits + 1), MAX_VIEW_POLL_MS);
}

/**
 * What a lost reply means for the caller: a request that certainly never left is
 * passed on as is (retryable); otherwise reads fail with the transport's error (they
 * may be retried) and writes with `OutcomeUnknownError`: shoal never re-sends a write
 * whose fate it does not know.
 */
export function lostReply(error: unknown, op: KeyOp): unknown {
  if (error instanceof PeerUnavailableError && !error.sent) return error;
  if (isIdempotent(op)) return error;
  if (error instanceof ShoalError && error.code === 'ERR_TOO_MANY_PENDING') return error;
  return new OutcomeUnknownError(op.kind, op.key, { cause: error });
}
