/**
 * The load protocol's messages on the `cache` channel (see `load-coordinator.ts`), with
 * strict decoders: a peer may be hostile or buggy, so every field's type, range and
 * size is checked, and a malformed message gets a typed error reply, never a crash.
 *
 * - `load` (caller -> primary): "give me the value of `k`, or the lease to load it".
 *   Answered with the value, the lease, a stale value (with or without the refresh
 *   lease), or, for a waiter, once the pending load lands: its value or its error.
 * - `loaded` (lease holder -> primary): the loader's result (`v`: msgpack bytes, or
 *   null for `undefined`) and how to cache it; answered once it is written.
 * - `loadFail` (lease holder -> primary): the loader threw or timed out.
 */
import { InvalidArgumentError, type ShoalError } from '../util/errors.js';
import { checkKey, checkTtl } from './key-ops.js';
import { STALE_ENVELOPE_BYTES } from './load-entry.js';
import {
  LoadAbandonedError,
  LoaderError,
  LoadLeaseLostError,
  LoadTimeoutError,
  MAX_LOADER_CODE_LENGTH,
  MAX_LOADER_MESSAGE_LENGTH,
} from './load-errors.js';
import { isLoadTimeout, isStaleWindow } from './load-options.js';
import type { ErrorReply } from './messages.js';
import { errorFromReply, type ReplyContext } from './remote-errors.js';
import { fromBytes, type StoredValue } from './value-codec.js';

/** Longest lease token (`<caller id>:<nonce>:<counter>`). */
export const MAX_LOAD_TOKEN_LENGTH = 384;

/** What the primary answers a `load`. */
export type AcquireAnswer =
  | { readonly kind: 'value'; readonly stored: StoredValue | undefined }
  | { readonly kind: 'lease' }
  | { readonly kind: 'stale'; readonly stored: StoredValue; readonly lease: boolean };

/** How a lease holder's load ended without a value. */
export type LoadFailure =
  | {
      readonly kind: 'error';
      readonly message: string;
      readonly code: string | undefined;
      readonly name: string;
    }
  | { readonly kind: 'timeout'; readonly loadTimeoutMs: number };

/** A loader's result and how the primary caches it. */
export interface LoadResult {
  /** The value's msgpack bytes, or `null` when the loader returned `undefined`. */
  readonly value: Uint8Array | null;
  readonly ttlMs: number | undefined;
  readonly negativeTtlMs: number | undefined;
  readonly staleWhileRevalidateMs: number | undefined;
}

export type LoadRequest =
  | { t: 'load'; e: number; key: string; token: string; loadTimeoutMs: number }
  | { t: 'loaded'; e: number; key: string; token: string; result: LoadResult }
  | { t: 'loadFail'; e: number; key: string; token: string; failure: LoadFailure };

// ---- encoding -------------------------------------------------------------------

export function encodeAcquire(
  epoch: number,
  key: string,
  token: string,
  loadTimeoutMs: number,
): Record<string, unknown> {
  return { t: 'load', e: epoch, k: key, tok: token, lt: loadTimeoutMs };
}

export function encodeLoaded(
  epoch: number,
  key: string,
  token: string,
  result: LoadResult,
): Record<string, unknown> {
  const message: Record<string, unknown> = { t: 'loaded', e: epoch, k: key, tok: token };
  message.v = result.value;
  if (result.ttlMs !== undefined) message.ttl = result.ttlMs;
  if (result.negativeTtlMs !== undefined) message.nttl = result.negativeTtlMs;
  if (result.staleWhileRevalidateMs !== undefined) message.sw = result.staleWhileRevalidateMs;
  return message;
}

export function encodeLoadFail(
  epoch: number,
  key: string,
  token: string,
  failure: LoadFailure,
): Record<string, unknown> {
  const message: Record<string, unknown> = { t: 'loadFail', e: epoch, k: key, tok: token };
  if (failure.kind === 'timeout') {
    message.to = failure.loadTimeoutMs;
  } else {
    message.m = failure.message;
    message.ln = failure.name;
    if (failure.code !== undefined) message.lc = failure.code;
  }
  return message;
}

/** The reply to a `load`. */
export function encodeAcquireAnswer(answer: AcquireAnswer): Record<string, unknown> {
  switch (answer.kind) {
    case 'value':
      return { ok: true, s: 'v', v: answer.stored?.bytes ?? null };
    case 'lease':
      return { ok: true, s: 'l' };
    case 'stale':
      return { ok: true, s: 'st', v: answer.stored.bytes, l: answer.lease };
  }
}

/** An error reply that keeps a `LoaderError`'s code and name; `other` builds the rest. */
export function loadErrorReply(
  error: unknown,
  other: (error: unknown) => ErrorReply,
): ErrorReply & { lc?: string; ln?: string } {
  if (!(error instanceof LoaderError)) return other(error);
  const reply: ErrorReply & { lc?: string; ln?: string } = {
    ok: false,
    c: error.code,
    m: error.message,
    ln: error.loaderName,
  };
  if (error.loaderCode !== undefined) reply.lc = error.loaderCode;
  return reply;
}

// ---- decoding -------------------------------------------------------------------

function bad(message: string): never {
  throw new InvalidArgumentError(`malformed load message: ${message}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function boundedString(value: unknown, max: number, what: string): string {
  if (typeof value !== 'string' || value.length > max) bad(what);
  return value;
}

/**
 * Decodes a load request (`t` is `load`, `loaded` or `loadFail`); throws
 * `InvalidArgumentError` on anything malformed.
 */
export function decodeLoadRequest(
  value: Record<string, unknown>,
  maxValueBytes: number,
): LoadRequest {
  const e = value.e;
  if (typeof e !== 'number' || !Number.isSafeInteger(e) || e < 0) bad('epoch');
  const key = value.k;
  checkKey(key);
  const token = value.tok;
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_LOAD_TOKEN_LENGTH) {
    bad('lease token');
  }
  switch (value.t) {
    case 'load':
      if (!isLoadTimeout(value.lt)) bad('loadTimeoutMs');
      return { t: 'load', e, key, token, loadTimeoutMs: value.lt };
    case 'loaded':
      return { t: 'loaded', e, key, token, result: decodeResult(value, maxValueBytes) };
    case 'loadFail': {
      if (value.to !== undefined) {
        if (!isLoadTimeout(value.to)) bad('loadTimeoutMs');
        return {
          t: 'loadFail',
          e,
          key,
          token,
          failure: { kind: 'timeout', loadTimeoutMs: value.to },
        };
      }
      const message = boundedString(value.m, MAX_LOADER_MESSAGE_LENGTH, 'loader message');
      const name = boundedString(value.ln, MAX_LOADER_CODE_LENGTH, 'loader error name');
      const code =
        value.lc === undefined
          ? undefined
          : boundedString(value.lc, MAX_LOADER_CODE_LENGTH, 'loader error code');
      return { t: 'loadFail', e, key, token, failure: { kind: 'error', message, code, name } };
    }
    default:
      return bad('unknown load request');
  }
}

function decodeResult(value: Record<string, unknown>, maxValueBytes: number): LoadResult {
  const { ttl, nttl, sw } = value;
  if (ttl !== undefined) checkTtl(ttl);
  if (nttl !== undefined) checkTtl(nttl, 'negativeTtlMs');
  if (sw !== undefined) {
    if (!isStaleWindow(sw) || ttl === undefined) bad('staleWhileRevalidateMs');
    checkTtl((ttl as number) + sw, 'ttlMs + staleWhileRevalidateMs');
  }
  const bytes = value.v;
  if (bytes !== null) {
    // 0xC1 opens shoal's own stored forms (load-entry.ts), never a msgpack value.
    if (!(bytes instanceof Uint8Array) || bytes.byteLength === 0 || bytes[0] === 0xc1) {
      bad('value bytes');
    }
    const limit = sw === undefined ? maxValueBytes : maxValueBytes - STALE_ENVELOPE_BYTES;
    if (bytes.byteLength > limit) bad('value over maxValueBytes');
  }
  return {
    value: bytes,
    ttlMs: ttl,
    negativeTtlMs: nttl,
    staleWhileRevalidateMs: sw as number | undefined,
  };
}

/**
 * Turns a reply to `load` into its answer, or throws the typed error it carries (the
 * load errors rebuilt with the primary's message, the others as `errorFromReply` does).
 * A reply of no known shape is an `InvalidArgumentError`.
 */
export function decodeAcquireReply(reply: unknown, context: ReplyContext): AcquireAnswer {
  if (!isRecord(reply)) bad('reply');
  if (reply.ok === false && typeof reply.c === 'string') {
    throw loadErrorFromReply(reply, context);
  }
  if (reply.ok !== true) bad('reply');
  switch (reply.s) {
    case 'v':
      if (reply.v === null) return { kind: 'value', stored: undefined };
      if (reply.v instanceof Uint8Array) return { kind: 'value', stored: fromBytes(reply.v) };
      return bad('value');
    case 'l':
      return { kind: 'lease' };
    case 'st':
      if (!(reply.v instanceof Uint8Array) || typeof reply.l !== 'boolean') bad('stale value');
      return { kind: 'stale', stored: fromBytes(reply.v), lease: reply.l };
    default:
      return bad('answer kind');
  }
}

/** The typed error of an error reply about a load (see {@link decodeAcquireReply}). */
export function loadErrorFromReply(
  reply: Record<string, unknown>,
  context: ReplyContext,
): ShoalError {
  const message = typeof reply.m === 'string' ? reply.m.slice(0, MAX_LOADER_MESSAGE_LENGTH) : '';
  switch (reply.c) {
    case 'ERR_LOADER_FAILED': {
      const code =
        typeof reply.lc === 'string' ? reply.lc.slice(0, MAX_LOADER_CODE_LENGTH) : undefined;
      const name =
        typeof reply.ln === 'string' ? reply.ln.slice(0, MAX_LOADER_CODE_LENGTH) : 'Error';
      return new LoaderError(context.key, message, code, name);
    }
    case 'ERR_LOAD_TIMEOUT':
      return new LoadTimeoutError(context.key, 0, message);
    case 'ERR_LOAD_ABANDONED':
      return new LoadAbandonedError(context.key, context.peer, message);
    case 'ERR_LOAD_LEASE_LOST':
      return new LoadLeaseLostError(context.key);
    default:
      return errorFromReply(reply as unknown as ErrorReply, context);
  }
}
