import { InvalidArgumentError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { silentLogger } from '../util/logger.js';
import type { Random } from '../util/random.js';
import { systemRandom } from '../util/random.js';
import type { ProtocolError } from './errors.js';
import type { NodeId } from './transport.js';
import { CLIENT_PEER_PREFIX, type PeerRole } from './ws-handshake.js';

/**
 * Every bound a `WsTransport` enforces. Each one caps memory, time or work that a
 * slow or hostile peer could otherwise make unbounded.
 */
export interface WsTransportLimits {
  /** Largest WebSocket message accepted or sent (ws `maxPayload`). */
  maxFrameBytes: number;
  /** Most envelopes in one batch frame, sent or accepted. */
  maxBatchMessages: number;
  /** Time from socket creation to a completed mutual authentication. */
  handshakeTimeoutMs: number;
  /** Requests waiting for a reply from one peer, across all its connections. */
  maxPendingRequests: number;
  /** Inbound sockets (authenticated or still in the handshake) held at once. */
  maxConnections: number;
  /** Unsent bytes per connection above which `send` drops and `request` rejects. */
  maxBufferedBytes: number;
  /** First reconnect delay after a failed or dropped connection (before jitter). */
  initialBackoffMs: number;
  /** Largest reconnect delay; the delay doubles per failure up to this. */
  maxBackoffMs: number;
  /** How long a duplicate connection may take to drain before it is cut. */
  retireTimeoutMs: number;
  /** How long `close()` waits for peers to acknowledge the close before cutting sockets. */
  closeGraceMs: number;
  /** Longest node id accepted in a handshake. */
  maxPeerIdLength: number;
  /** Longest channel name accepted in an envelope. */
  maxChannelLength: number;
  /** Distinct remote addresses remembered so authentication failures are logged once each. */
  maxAuthFailureLogEntries: number;
}

/** Defaults sized for a LAN cluster of tens of nodes and thousands of clients. */
export const defaultWsTransportLimits: Readonly<WsTransportLimits> = Object.freeze({
  maxFrameBytes: 4 * 1024 * 1024,
  maxBatchMessages: 512,
  handshakeTimeoutMs: 5_000,
  maxPendingRequests: 10_000,
  maxConnections: 1_024,
  maxBufferedBytes: 8 * 1024 * 1024,
  initialBackoffMs: 100,
  maxBackoffMs: 10_000,
  retireTimeoutMs: 10_000,
  closeGraceMs: 1_000,
  maxPeerIdLength: 128,
  maxChannelLength: 128,
  maxAuthFailureLogEntries: 1_024,
});

/**
 * When a connection's outgoing batch is written. `immediate` (setImmediate) collects
 * everything produced while one round of I/O callbacks runs, including promise
 * continuations; `microtask` writes sooner but splits work that spans several
 * microtask hops into several frames. `immediate` measured faster (see
 * bench/transport.bench.ts).
 */
export type BatchFlush = 'immediate' | 'microtask';

/** Certificate material. With `key` and `cert`, the listener serves `wss`. */
export interface WsTlsOptions {
  /** PEM private key of this node's certificate (listener only). */
  key?: string | Buffer;
  /** PEM certificate chain presented to peers (listener only). */
  cert?: string | Buffer;
  /** PEM CA certificates trusted when dialing `wss` peers; default: Node's root store. */
  ca?: string | Buffer | Array<string | Buffer>;
}

/** What a protocol error is attributed to, for logs and metrics. */
export interface ProtocolErrorContext {
  /** The peer's id, when the handshake got far enough to learn it. */
  peer?: NodeId;
  /** `ip:port` of the remote socket, when known. */
  remoteAddress?: string;
}

/** Options shared by listening nodes and dial-only clients. */
export interface WsTransportOptions {
  /** This endpoint's id, announced (and authenticated) in every handshake. */
  id: NodeId;
  /**
   * The key this endpoint proves when it dials: the cluster secret for a node, the
   * client credential for a client-role endpoint (see `role`). It never crosses the
   * wire. Must not be empty.
   */
  secret: string | Buffer;
  /**
   * The role this endpoint claims when it dials; default `node`. A `client`
   * proves `secret` as the client credential, may send only what each channel admits
   * from clients (see `ChannelHandlers.admitFromClient`), and cannot listen.
   */
  role?: PeerRole;
  /**
   * Listener only: the client credential. Dialers claiming the `client` role must
   * prove it; without it they are refused. It must differ from `secret`, or the
   * separation of roles would be void.
   */
  clientSecret?: string | Buffer;
  /** TLS material: `key`+`cert` to listen with `wss`, `ca` to trust when dialing. */
  tls?: WsTlsOptions;
  /** Overrides for any of the limits. */
  limits?: Partial<WsTransportLimits>;
  /** Batch flush scheduling; default `immediate`. */
  batchFlush?: BatchFlush;
  /** Source of backoff jitter; default `systemRandom`. */
  random?: Random;
  /** Structured logger; default silent. */
  logger?: Logger;
  /** Called once per frame that broke the protocol (the connection is already closing). */
  onProtocolError?: (error: ProtocolError, context: ProtocolErrorContext) => void;
}

/** Options of a listening node. */
export interface WsListenOptions extends WsTransportOptions {
  /** Interface to bind; default `127.0.0.1`. */
  host?: string;
  /** Port to bind; 0 (the default) picks a free one. */
  port?: number;
}

/** Options after defaults are applied and validated. */
export interface ResolvedWsOptions {
  id: NodeId;
  secret: Buffer;
  role: PeerRole;
  clientSecret: Buffer | undefined;
  tls: WsTlsOptions | undefined;
  limits: WsTransportLimits;
  batchFlush: BatchFlush;
  random: Random;
  logger: Logger;
  onProtocolError: ((error: ProtocolError, context: ProtocolErrorContext) => void) | undefined;
}

/** A private copy of a secret given as text or bytes; empty or other types are refused. */
function secretBytes(value: unknown, name: string): Buffer {
  if (typeof value === 'string' && value.length > 0) return Buffer.from(value, 'utf8');
  if (Buffer.isBuffer(value) && value.length > 0) return Buffer.from(value);
  throw new InvalidArgumentError(`${name} must be a non-empty string or Buffer`);
}

/** Applies defaults and rejects invalid options with `InvalidArgumentError`. */
export function resolveWsOptions(options: WsTransportOptions): ResolvedWsOptions {
  const limits: WsTransportLimits = { ...defaultWsTransportLimits, ...options.limits };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new InvalidArgumentError(`limits.${name} must be a positive integer, got ${value}`);
    }
  }
  if (limits.maxBackoffMs < limits.initialBackoffMs) {
    throw new InvalidArgumentError('limits.maxBackoffMs must be >= limits.initialBackoffMs');
  }
  if (typeof options.id !== 'string' || options.id.length === 0) {
    throw new InvalidArgumentError('id must be a non-empty string');
  }
  if (options.id.length > limits.maxPeerIdLength) {
    throw new InvalidArgumentError(`id is longer than ${limits.maxPeerIdLength} characters`);
  }
  if (options.id.startsWith(CLIENT_PEER_PREFIX)) {
    throw new InvalidArgumentError(`id may not start with '${CLIENT_PEER_PREFIX}'`);
  }
  const secret = secretBytes(options.secret, 'secret');
  const role = options.role ?? 'node';
  if (role !== 'node' && role !== 'client') {
    throw new InvalidArgumentError(`role must be 'node' or 'client'`);
  }
  const clientSecret =
    options.clientSecret === undefined
      ? undefined
      : secretBytes(options.clientSecret, 'clientSecret');
  if (clientSecret?.equals(secret)) {
    throw new InvalidArgumentError('clientSecret must differ from the cluster secret');
  }
  const tls = options.tls;
  if (tls && (tls.key === undefined) !== (tls.cert === undefined)) {
    throw new InvalidArgumentError('tls.key and tls.cert must be given together');
  }
  const batchFlush = options.batchFlush ?? 'immediate';
  if (batchFlush !== 'immediate' && batchFlush !== 'microtask') {
    throw new InvalidArgumentError(`batchFlush must be 'immediate' or 'microtask'`);
  }
  return {
    id: options.id,
    secret,
    role,
    clientSecret,
    tls,
    limits,
    batchFlush,
    random: options.random ?? systemRandom,
    logger: options.logger ?? silentLogger,
    onProtocolError: options.onProtocolError,
  };
}
