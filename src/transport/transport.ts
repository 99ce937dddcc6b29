/**
 * The messaging contract every layer above the transport codes against. Two
 * implementations exist: `WsTransport` (real sockets) and `SimTransport` (an
 * in-process, seeded, deterministic network for tests).
 *
 * A node's identity is its id, never its address: callers name peers by id, and
 * each transport resolves ids to addresses locally (see `addPeer`).
 */

/** The stable identity of a node or client, e.g. `"n1"`. */
export type NodeId = string;

/**
 * Messages are plain data that msgpackr can encode. Handlers receive `unknown`
 * because a peer may be hostile or buggy: every layer validates what it receives.
 */
export type Message = unknown;

/**
 * A named stream of messages inside one connection, so the coordinator and the
 * cache can share a transport without seeing each other's traffic
 * (for example `"coord"` and `"cache"`).
 */
export type Channel = string;

/** Options for one request. */
export interface RequestOptions {
  /** How long to wait for the reply before failing with `RequestTimeoutError`. */
  timeoutMs: number;
}

/**
 * Handles requests on one channel. The returned value (or resolved promise) is the
 * reply. A thrown `ShoalError` travels back to the requester as a `RemoteError`
 * carrying the same `code`; anything else is reported as `ERR_REMOTE_INTERNAL`.
 */
export type RequestHandler = (from: NodeId, request: Message) => Message | Promise<Message>;

/** Handles one-way messages on one channel. */
export type MessageHandler = (from: NodeId, message: Message) => void;

/** What a layer registers for its channel. */
export interface ChannelHandlers {
  onMessage?: MessageHandler;
  onRequest?: RequestHandler;
  /**
   * Which messages and requests a client-role peer (one that proved only the client
   * credential) may send on this channel. Absent: none, so a channel is closed to
   * clients unless it says otherwise. Transports without client roles ignore it.
   */
  admitFromClient?: (message: Message) => boolean;
}

/** Connection lifecycle notifications. */
export interface PeerListener {
  /** An authenticated connection to `peer` is open. */
  onPeerUp?(peer: NodeId): void;
  /** The connection to `peer` closed; in-flight requests to it have already failed. */
  onPeerDown?(peer: NodeId): void;
}

/** An authenticated, message-oriented link between shoal nodes and clients. */
export interface Transport {
  /** This endpoint's id, announced to peers during the handshake. */
  readonly localId: NodeId;

  /**
   * Registers where to dial `peer`. The transport connects (and reconnects with
   * backoff) on its own. Calling it again with a new address replaces the old one.
   */
  addPeer(peer: NodeId, address: string): void;

  /** Forgets `peer`, closing any connection to it. */
  removePeer(peer: NodeId): void;

  /** Registers the handlers for a channel. One set per channel. */
  handle(channel: Channel, handlers: ChannelHandlers): void;

  /** Subscribes to peer up/down events; returns a function that unsubscribes. */
  watchPeers(listener: PeerListener): () => void;

  /**
   * Sends a one-way message. Delivery is best effort: if there is no open
   * connection to `peer` the message is dropped (and `false` returned), exactly as a
   * lossy network would drop it; layers above retry as their protocol requires.
   */
  send(peer: NodeId, channel: Channel, message: Message): boolean;

  /**
   * Sends a request and resolves with the reply. Rejects with
   * `RequestTimeoutError` after `timeoutMs`, with `PeerUnavailableError` at once when
   * there is no connection or it drops while waiting, and with `RemoteError` when
   * the handler on the other side threw.
   */
  request(
    peer: NodeId,
    channel: Channel,
    message: Message,
    options: RequestOptions,
  ): Promise<Message>;

  /** Whether an authenticated connection to `peer` is open right now. */
  isConnected(peer: NodeId): boolean;

  /** Closes every connection and listener; pending requests fail. Idempotent. */
  close(): Promise<void>;
}
