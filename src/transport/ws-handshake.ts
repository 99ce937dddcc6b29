/**
 * Mutual HMAC-SHA256 challenge-response on the cluster secret.
 *
 * ```
 * acceptor -> dialer   Hello  { v, id: A, n: nonceA, f, bm }
 * dialer   -> acceptor Auth   { v, id: D, n: nonceD, r, p: HMAC(key, "dialer"   | nonceA | nonceD | D | A), f, bm }
 * acceptor -> dialer   AuthOk { p: HMAC(key, "acceptor" | nonceA | nonceD | D | A) }
 * ```
 *
 * `r` is the role the dialer claims: absent (or 0) for a node, which proves the
 * cluster secret, and 1 for a client, which proves the client credential (and whose
 * role labels read `client-dialer` / `client-acceptor`, so a client proof can never
 * pass as a node proof even if an operator reused one secret for both). The acceptor
 * answers with the same key, so a client learns it reached a node of its cluster
 * without ever holding the cluster secret.
 *
 * Each side proves knowledge of the secret over a nonce the *other* side just drew
 * from `crypto.randomBytes`, so a recorded handshake is worthless on a new
 * connection, and the secret itself never crosses the wire. The proofs also bind
 * both ids, so a peer cannot claim another id, and the role label keeps a dialer's
 * proof from being reflected back as an acceptor's. `f` and `bm` announce the
 * sender's `maxFrameBytes` and `maxBatchMessages`, so each side sends frames the
 * other accepts.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ProtocolError } from './errors.js';
import type { NodeId } from './transport.js';
import { EnvelopeType, PROTOCOL_VERSION } from './ws-protocol.js';

/** Bytes of every handshake nonce. */
export const NONCE_BYTES = 32;

/** Bytes of an HMAC-SHA256 proof. */
export const PROOF_BYTES = 32;

/** Smallest frame/batch limits a peer may announce; below these nothing useful fits. */
const MIN_PEER_FRAME_BYTES = 1024;

/**
 * What an authenticated peer may do. A `node` proved the cluster secret and is
 * trusted with every channel; a `client` proved only the client credential, may
 * send only what a channel admits from clients, and is never taken for a node id.
 */
export type PeerRole = 'node' | 'client';

/** Wire code of each role in `Auth.r`; a node may leave `r` out. */
export const PEER_ROLE_CODE: Readonly<Record<PeerRole, number>> = Object.freeze({
  node: 0,
  client: 1,
});

/**
 * Prefix under which an acceptor files client-role peers. Node-role ids may not
 * start with it, so a client that announces a voter's id still lands in its own
 * namespace: its messages reach handlers as `client:<id>`, never as that voter.
 */
export const CLIENT_PEER_PREFIX = 'client:';

/** The id handlers see for a peer of `role` that announced `id`. */
export function peerKey(role: PeerRole, id: NodeId): NodeId {
  return role === 'client' ? `${CLIENT_PEER_PREFIX}${id}` : id;
}

/** The acceptor's challenge, sent as soon as the WebSocket opens. */
export interface HelloFrame {
  t: typeof EnvelopeType.Hello;
  v: number;
  id: NodeId;
  n: Buffer;
  f: number;
  bm: number;
}

/** The dialer's proof and its own challenge. */
export interface AuthFrame {
  t: typeof EnvelopeType.Auth;
  v: number;
  id: NodeId;
  n: Buffer;
  r: number;
  p: Buffer;
  f: number;
  bm: number;
}

/** The acceptor's proof; after it, both sides are authenticated. */
export interface AuthOkFrame {
  t: typeof EnvelopeType.AuthOk;
  p: Buffer;
}

/** A fresh, unpredictable challenge. */
export function newNonce(): Buffer {
  return randomBytes(NONCE_BYTES);
}

function lengthPrefixed(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const out = Buffer.allocUnsafe(4 + bytes.length);
  out.writeUInt32BE(bytes.length, 0);
  bytes.copy(out, 4);
  return out;
}

/** The transcript both proofs are computed over, prefixed by the prover's side and role. */
function proof(
  side: 'dialer' | 'acceptor',
  peerRole: PeerRole,
  secret: Buffer,
  acceptorNonce: Buffer,
  dialerNonce: Buffer,
  dialerId: NodeId,
  acceptorId: NodeId,
): Buffer {
  return createHmac('sha256', secret)
    .update(`shoal/ws/v${PROTOCOL_VERSION} ${peerRole === 'client' ? 'client-' : ''}${side}\0`)
    .update(acceptorNonce)
    .update(dialerNonce)
    .update(lengthPrefixed(dialerId))
    .update(lengthPrefixed(acceptorId))
    .digest();
}

/** What the dialer of `role` sends to prove it knows that role's key. */
export function dialerProof(
  role: PeerRole,
  secret: Buffer,
  acceptorNonce: Buffer,
  dialerNonce: Buffer,
  dialerId: NodeId,
  acceptorId: NodeId,
): Buffer {
  return proof('dialer', role, secret, acceptorNonce, dialerNonce, dialerId, acceptorId);
}

/** What the acceptor sends back to prove it knows the key of the dialer's role too. */
export function acceptorProof(
  role: PeerRole,
  secret: Buffer,
  acceptorNonce: Buffer,
  dialerNonce: Buffer,
  dialerId: NodeId,
  acceptorId: NodeId,
): Buffer {
  return proof('acceptor', role, secret, acceptorNonce, dialerNonce, dialerId, acceptorId);
}

/** Constant-time comparison of a received proof against the expected one. */
export function proofMatches(expected: Buffer, received: unknown): boolean {
  return (
    received instanceof Uint8Array &&
    received.length === expected.length &&
    timingSafeEqual(expected, received)
  );
}

function asObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProtocolError(`expected a ${what} handshake object`);
  }
  return value as Record<string, unknown>;
}

function isNonce(value: unknown): value is Buffer {
  return value instanceof Uint8Array && value.length === NONCE_BYTES;
}

function isPositiveInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

/** Thrown when a peer announces a protocol version this build does not speak. */
export class VersionMismatchError extends ProtocolError {
  readonly peerVersion: unknown;

  constructor(peerVersion: unknown) {
    super(`peer speaks protocol version ${String(peerVersion)}, this node ${PROTOCOL_VERSION}`);
    this.peerVersion = peerVersion;
  }
}

/** Thrown when a peer id is missing, too long, or not allowed. */
export class BadPeerIdError extends ProtocolError {}

function readCommon(
  frame: Record<string, unknown>,
  maxPeerIdLength: number,
): { id: NodeId; n: Buffer; f: number; bm: number } {
  if (frame.v !== PROTOCOL_VERSION) throw new VersionMismatchError(frame.v);
  const id = frame.id;
  if (typeof id !== 'string' || id.length === 0 || id.length > maxPeerIdLength) {
    throw new BadPeerIdError('peer id missing or longer than the limit');
  }
  if (!isNonce(frame.n)) throw new ProtocolError('handshake nonce missing or malformed');
  if (!isPositiveInt(frame.f) || frame.f < MIN_PEER_FRAME_BYTES || !isPositiveInt(frame.bm)) {
    throw new ProtocolError('handshake limits missing or malformed');
  }
  return { id, n: Buffer.from(frame.n), f: frame.f, bm: frame.bm };
}

/** Validates the acceptor's `Hello` as received by the dialer. */
export function readHello(value: unknown, maxPeerIdLength: number): HelloFrame {
  const frame = asObject(value, 'Hello');
  if (frame.t !== EnvelopeType.Hello) throw new ProtocolError('expected Hello');
  return { t: EnvelopeType.Hello, v: PROTOCOL_VERSION, ...readCommon(frame, maxPeerIdLength) };
}

function roleOf(code: unknown): PeerRole {
  if (code === undefined || code === PEER_ROLE_CODE.node) return 'node';
  if (code === PEER_ROLE_CODE.client) return 'client';
  throw new ProtocolError('handshake role malformed');
}

/**
 * Validates the dialer's `Auth` as received by the acceptor. The proof is returned
 * unchecked (possibly absent, as `undefined`) for `proofMatches`. A node-role id in
 * the client namespace is refused, so no node can be confused with a client either.
 */
export function readAuth(
  value: unknown,
  maxPeerIdLength: number,
): Omit<AuthFrame, 'p' | 'r'> & { p: unknown; role: PeerRole } {
  const frame = asObject(value, 'Auth');
  if (frame.t !== EnvelopeType.Auth) throw new ProtocolError('expected Auth');
  const role = roleOf(frame.r);
  const common = readCommon(frame, maxPeerIdLength);
  if (role === 'node' && common.id.startsWith(CLIENT_PEER_PREFIX)) {
    throw new BadPeerIdError(`node ids may not start with '${CLIENT_PEER_PREFIX}'`);
  }
  return { t: EnvelopeType.Auth, v: PROTOCOL_VERSION, ...common, role, p: frame.p };
}

/** Validates the acceptor's `AuthOk`; the proof is returned unchecked. */
export function readAuthOk(value: unknown): { p: unknown } {
  const frame = asObject(value, 'AuthOk');
  if (frame.t !== EnvelopeType.AuthOk) throw new ProtocolError('expected AuthOk');
  return { p: frame.p };
}
