/**
 * The wire format of `WsTransport`, version 1.
 *
 * Every WebSocket message is one binary frame holding one msgpack value:
 * - before authentication, a single handshake object (`Hello`, `Auth`, `AuthOk`);
 * - after it, a batch: a non-empty array of envelopes (`Message`, `Request`,
 *   `Reply`, `ErrorReply`, `Retire`), in the order they were produced.
 *
 * Anything else closes the connection with `CloseCode.ProtocolError`.
 */
import { ProtocolError } from './errors.js';

/** Bumped on any incompatible change; peers with another version are refused. */
export const PROTOCOL_VERSION = 1;

/** Discriminator in field `t` of every envelope and handshake object. */
export const EnvelopeType = {
  Message: 0,
  Request: 1,
  Reply: 2,
  ErrorReply: 3,
  /** The sender will put nothing new on this (duplicate) connection; see `WsConnection.retire`. */
  Retire: 4,
  Hello: 16,
  Auth: 17,
  AuthOk: 18,
} as const;

/**
 * WebSocket close codes this transport sends (4000-4999 is the application range).
 * Peers and logs read them; keep them stable.
 */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  /** Sent by `ws` itself when a frame exceeds `maxPayload`. */
  MessageTooBig: 1009,
  DuplicateRetired: 4000,
  AuthenticationFailed: 4001,
  VersionMismatch: 4002,
  BadPeerId: 4003,
  Replaced: 4004,
  PeerRemoved: 4005,
  HandshakeTimeout: 4008,
  ProtocolError: 4400,
} as const;

/** A one-way message. */
export interface MessageEnvelope {
  t: typeof EnvelopeType.Message;
  c: string;
  b: unknown;
}

/** A request; `i` correlates the reply on this connection. */
export interface RequestEnvelope {
  t: typeof EnvelopeType.Request;
  i: number;
  c: string;
  b: unknown;
}

/** A successful reply to request `i`. */
export interface ReplyEnvelope {
  t: typeof EnvelopeType.Reply;
  i: number;
  b: unknown;
}

/** The handler of request `i` failed with code `e` and message `m`. */
export interface ErrorReplyEnvelope {
  t: typeof EnvelopeType.ErrorReply;
  i: number;
  e: string;
  m: string;
}

/** See `EnvelopeType.Retire`. */
export interface RetireEnvelope {
  t: typeof EnvelopeType.Retire;
}

/** Anything that travels inside a batch frame. */
export type Envelope =
  | MessageEnvelope
  | RequestEnvelope
  | ReplyEnvelope
  | ErrorReplyEnvelope
  | RetireEnvelope;

/**
 * The msgpackr record structures of the hot envelopes, in the order both ends
 * register them (record ids 0x40..0x43). Objects must be built with exactly these
 * key orders to hit them. Changing this list is a protocol version change.
 */
export const ENVELOPE_STRUCTURES: ReadonlyArray<readonly string[]> = [
  ['t', 'c', 'b'],
  ['t', 'i', 'c', 'b'],
  ['t', 'i', 'b'],
  ['t', 'i', 'e', 'm'],
];

/** The largest correlation id; ids wrap to 0 after it. */
export const MAX_CORRELATION_ID = 0xffff_ffff;

/** Limits the validation of a received batch enforces. */
export interface BatchLimits {
  maxBatchMessages: number;
  maxChannelLength: number;
}

function isCorrelationId(value: unknown): value is number {
  return (
    typeof value === 'number' &&
    Number.isInteger(value) &&
    value >= 0 &&
    value <= MAX_CORRELATION_ID
  );
}

function isChannel(value: unknown, maxLength: number): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= maxLength;
}

function readEnvelope(value: unknown, limits: BatchLimits): Envelope {
  if (typeof value !== 'object' || value === null) {
    throw new ProtocolError('batch element is not an envelope object');
  }
  const env = value as Record<string, unknown>;
  switch (env.t) {
    case EnvelopeType.Message:
      if (!isChannel(env.c, limits.maxChannelLength)) break;
      return env as unknown as MessageEnvelope;
    case EnvelopeType.Request:
      if (!isCorrelationId(env.i) || !isChannel(env.c, limits.maxChannelLength)) break;
      return env as unknown as RequestEnvelope;
    case EnvelopeType.Reply:
      if (!isCorrelationId(env.i)) break;
      return env as unknown as ReplyEnvelope;
    case EnvelopeType.ErrorReply:
      if (!isCorrelationId(env.i) || typeof env.e !== 'string' || typeof env.m !== 'string') break;
      return env as unknown as ErrorReplyEnvelope;
    case EnvelopeType.Retire:
      return env as unknown as RetireEnvelope;
    default:
      throw new ProtocolError(`unknown envelope type ${describeType(env.t)}`);
  }
  throw new ProtocolError(`malformed envelope of type ${describeType(env.t)}`);
}

function describeType(t: unknown): string {
  return typeof t === 'number' || typeof t === 'string' ? JSON.stringify(t) : typeof t;
}

/**
 * Checks that a decoded frame is a well-formed batch. The envelopes are returned as
 * decoded (no copy); bodies stay `unknown` for the handlers to validate.
 */
export function readBatch(frame: unknown, limits: BatchLimits): Envelope[] {
  if (!Array.isArray(frame)) throw new ProtocolError('frame is not a batch array');
  if (frame.length === 0) throw new ProtocolError('empty batch');
  if (frame.length > limits.maxBatchMessages) {
    throw new ProtocolError(
      `batch of ${frame.length} envelopes exceeds the limit of ${limits.maxBatchMessages}`,
    );
  }
  for (let k = 0; k < frame.length; k++) frame[k] = readEnvelope(frame[k], limits);
  return frame as Envelope[];
}
