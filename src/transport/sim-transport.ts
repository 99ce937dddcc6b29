import { InvalidArgumentError, ShoalError } from '../util/errors.js';
import { checkTimerDelay, type TimerHandle } from '../util/scheduler.js';
import {
  BackpressureError,
  MessageTooLargeError,
  PeerUnavailableError,
  RemoteError,
  RequestTimeoutError,
  TooManyPendingRequestsError,
  TransportClosedError,
} from './errors.js';
import type { SimNodeScheduler } from './sim-node-scheduler.js';
import type { SimFrameKind } from './sim-trace.js';
import type {
  Channel,
  ChannelHandlers,
  Message,
  NodeId,
  PeerListener,
  RequestOptions,
  Transport,
} from './transport.js';

/**
 * The code a request gets back when the handler threw something that is not a
 * `ShoalError` (as from `WsTransport`).
 */
export const REMOTE_INTERNAL_CODE = 'ERR_REMOTE_INTERNAL';
/** The code a request gets back when the peer has no request handler on that channel (as from `WsTransport`). */
export const UNKNOWN_CHANNEL_CODE = 'ERR_UNKNOWN_CHANNEL';
/** Longest peer id and channel name accepted, as `WsTransport`'s default limits. */
export const MAX_SIM_NAME_LENGTH = 128;

/**
 * What `SimTransportHost.transmit` did: put the frame on the link, or found no open
 * connection, or found the link's backlog full (`maxInFlightBytesPerLink`).
 */
export type SimTransmitResult = 'sent' | 'not-connected' | 'backpressure';

/** The body of an `'error'` frame. */
export interface SimErrorBody {
  code: string;
  message: string;
}

/**
 * What `SimNetwork` offers a transport. Kept as an interface so the network's
 * internals stay off `SimTransport`'s public surface.
 */
export interface SimTransportHost {
  /** Connects the transport's inbox; called once, from the constructor. */
  attach(id: NodeId, inbox: SimTransportInbox): void;
  /**
   * Puts a frame on the link `from -> to`, unless the connection is down or the link
   * full. Throws, sending nothing, `InvalidArgumentError` when `body` cannot be
   * encoded and `MessageTooLargeError` when it encodes over `maxFrameBytes`.
   */
  transmit(
    from: NodeId,
    to: NodeId,
    kind: SimFrameKind,
    channel: Channel,
    requestId: number,
    body: unknown,
  ): SimTransmitResult;
  /** Whether the connection between `from` and `to` is up. */
  isUp(from: NodeId, to: NodeId): boolean;
  /** `from` dials `to` (and redials after failures) until `undial`. */
  dial(from: NodeId, to: NodeId): void;
  /** `from` stops dialing `to` and drops the connection (the peer may dial back). */
  undial(from: NodeId, to: NodeId): void;
  /** `from` closed its transport: every connection of it goes down. */
  detach(from: NodeId): void;
}

/** How `SimNetwork` talks to one transport. */
export interface SimTransportInbox {
  /** A frame arrived from `from` (its body already decoded). */
  deliver(
    from: NodeId,
    kind: SimFrameKind,
    channel: Channel,
    requestId: number,
    body: unknown,
  ): void;
  peerUp(peer: NodeId): void;
  /** The connection closed; pending requests to `peer` fail before listeners hear of it. */
  peerDown(peer: NodeId, reason: string): void;
  /** The process died: pending requests fail, and the transport goes dark for good. */
  crash(): void;
}

/** Limits of one `SimTransport`. */
export interface SimTransportLimits {
  /** Requests waiting for a reply from one peer (as `WsTransport`'s `maxPendingRequests`). */
  maxPendingRequests: number;
  /** The network's `maxInFlightBytesPerLink`, named in `BackpressureError`. */
  maxInFlightBytesPerLink: number;
}

/** Error messages sent back for unsendable replies are cut to this length. */
const MAX_ERROR_MESSAGE_CHARS = 256;

/** Correlation ids wrap here, as on the real wire. */
const MAX_REQUEST_ID = 0xffff_ffff;

class PendingRequest {
  readonly owner: SimTransport;
  readonly peer: NodeId;
  readonly id: number;
  readonly timeoutMs: number;
  readonly resolve: (reply: Message) => void;
  readonly reject: (error: Error) => void;
  timer: TimerHandle | undefined;

  constructor(
    owner: SimTransport,
    peer: NodeId,
    id: number,
    timeoutMs: number,
    resolve: (reply: Message) => void,
    reject: (error: Error) => void,
  ) {
    this.owner = owner;
    this.peer = peer;
    this.id = id;
    this.timeoutMs = timeoutMs;
    this.resolve = resolve;
    this.reject = reject;
  }
}

type TransportState = 'open' | 'closed' | 'crashed';

function toErrorBody(error: unknown): SimErrorBody {
  if (error instanceof ShoalError) return { code: error.code, message: error.message };
  const message = error instanceof Error ? error.message : String(error);
  return { code: REMOTE_INTERNAL_CODE, message };
}

function checkName(value: unknown, what: string): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_SIM_NAME_LENGTH) {
    throw new InvalidArgumentError(
      `${what} must be a string of 1..${MAX_SIM_NAME_LENGTH} characters`,
    );
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * One endpoint of a `SimNetwork`: a node or a client, one incarnation of it. Behaves
 * as `WsTransport` does, over simulated links, and with timers on
 * {@link SimTransport.scheduler}, the process's own (pausable, killable) clock.
 *
 * `addPeer` marks the connection as dialed by this side: a connection between two
 * endpoints exists while at least one of them dials the other (a server accepts what
 * clients dial, as over real sockets), both are alive, and no cut separates them. The
 * address is not used: the simulation resolves peers by id.
 *
 * Errors follow `WsTransport`: a throwing `onRequest` becomes an error reply (a
 * `ShoalError` keeps its code; anything else is `ERR_REMOTE_INTERNAL`); a request on a
 * channel without a request handler gets `ERR_UNKNOWN_CHANNEL`; a full link makes
 * `send` return false and `request` reject with `BackpressureError`; `close()` fails
 * pending requests with `PeerUnavailableError` and reports each open connection down.
 * Two deliberate differences make bugs loud in tests where `WsTransport` only logs:
 * - a throwing `onMessage`, `onPeerUp` or `onPeerDown` propagates out of the
 *   scheduler's run method;
 * - `send` throws for a message that cannot be encoded (`InvalidArgumentError`) or is
 *   over `maxFrameBytes` (`MessageTooLargeError`), where `WsTransport` drops it.
 */
export class SimTransport implements Transport {
  readonly localId: NodeId;
  /** This process's timers; drivers should schedule on it so crash and pause affect them. */
  readonly scheduler: SimNodeScheduler;
  private readonly host: SimTransportHost;
  private readonly limits: SimTransportLimits;
  private readonly handlers = new Map<Channel, ChannelHandlers>();
  private readonly listeners = new Set<PeerListener>();
  private readonly dialed = new Set<NodeId>();
  private readonly pending = new Map<NodeId, Map<number, PendingRequest>>();
  private nextRequestId = 0;
  private state: TransportState = 'open';

  constructor(
    localId: NodeId,
    scheduler: SimNodeScheduler,
    host: SimTransportHost,
    limits: SimTransportLimits,
  ) {
    this.localId = localId;
    this.scheduler = scheduler;
    this.host = host;
    this.limits = limits;
    host.attach(localId, {
      deliver: (from, kind, channel, requestId, body) =>
        this.deliver(from, kind, channel, requestId, body),
      peerUp: (peer) => this.notify(peer, true),
      peerDown: (peer, reason) => this.connectionLost(peer, reason),
      crash: () => this.crash(),
    });
  }

  /** Whether this incarnation still runs (not closed, not crashed). */
  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** The peers this side dials. */
  dialedPeers(): NodeId[] {
    return [...this.dialed];
  }

  addPeer(peer: NodeId, address: string): void {
    if (this.state !== 'open') throw new TransportClosedError();
    checkName(peer, 'peer id');
    if (peer === this.localId) {
      throw new InvalidArgumentError(`${this.localId}: a transport cannot peer with itself`);
    }
    if (typeof address !== 'string') throw new InvalidArgumentError('address must be a string');
    if (this.dialed.has(peer)) return;
    this.dialed.add(peer);
    this.host.dial(this.localId, peer);
  }

  removePeer(peer: NodeId): void {
    if (this.state !== 'open' || typeof peer !== 'string' || peer === this.localId) return;
    // Also closes a connection the peer dialed, as closing an accepted socket would.
    this.dialed.delete(peer);
    this.host.undial(this.localId, peer);
  }

  /** Registers the handlers of a channel, replacing any registered before. */
  handle(channel: Channel, handlers: ChannelHandlers): void {
    checkName(channel, 'channel');
    this.handlers.set(channel, handlers);
  }

  watchPeers(listener: PeerListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  send(peer: NodeId, channel: Channel, message: Message): boolean {
    checkName(channel, 'channel');
    if (this.state !== 'open') return false;
    return this.host.transmit(this.localId, peer, 'message', channel, 0, message) === 'sent';
  }

  request(
    peer: NodeId,
    channel: Channel,
    message: Message,
    options: RequestOptions,
  ): Promise<Message> {
    if (this.state !== 'open') return Promise.reject(new TransportClosedError());
    try {
      checkTimerDelay(options?.timeoutMs, 'timeoutMs', false);
      checkName(channel, 'channel');
    } catch (error) {
      return Promise.reject(error);
    }
    let perPeer = this.pending.get(peer);
    if (perPeer !== undefined && perPeer.size >= this.limits.maxPendingRequests) {
      return Promise.reject(new TooManyPendingRequestsError(peer, this.limits.maxPendingRequests));
    }
    const id = this.nextRequestId;
    this.nextRequestId = id === MAX_REQUEST_ID ? 0 : id + 1;
    let result: SimTransmitResult;
    try {
      result = this.host.transmit(this.localId, peer, 'request', channel, id, message);
    } catch (error) {
      return Promise.reject(error);
    }
    if (result === 'not-connected') {
      return Promise.reject(new PeerUnavailableError(peer, false, 'not connected'));
    }
    if (result === 'backpressure') {
      return Promise.reject(new BackpressureError(peer, this.limits.maxInFlightBytesPerLink));
    }
    return new Promise<Message>((resolve, reject) => {
      const request = new PendingRequest(this, peer, id, options.timeoutMs, resolve, reject);
      request.timer = this.scheduler.callAfter(options.timeoutMs, SimTransport.timeOut, request);
      if (perPeer === undefined) {
        perPeer = new Map();
        this.pending.set(peer, perPeer);
      }
      perPeer.set(id, request);
    });
  }

  isConnected(peer: NodeId): boolean {
    return this.state === 'open' && this.host.isUp(this.localId, peer);
  }

  close(): Promise<void> {
    if (this.state !== 'open') return Promise.resolve();
    this.dialed.clear();
    // Still open while the network takes the connections down, so pending requests
    // fail and listeners hear each connection go, as with WsTransport.
    this.host.detach(this.localId);
    this.state = 'closed';
    this.failAll((peer) => new PeerUnavailableError(peer, true, 'transport closed'));
    return Promise.resolve();
  }

  /** Requests waiting for a reply, over all peers. */
  pendingRequestCount(): number {
    let count = 0;
    for (const perPeer of this.pending.values()) count += perPeer.size;
    return count;
  }

  private deliver(
    from: NodeId,
    kind: SimFrameKind,
    channel: Channel,
    requestId: number,
    body: unknown,
  ): void {
    if (this.state !== 'open') return;
    switch (kind) {
      case 'message': {
        const onMessage = this.handlers.get(channel)?.onMessage;
        if (onMessage !== undefined) onMessage(from, body);
        return;
      }
      case 'request':
        this.serve(from, channel, requestId, body);
        return;
      case 'reply':
      case 'error':
        this.settle(from, requestId, kind, body);
        return;
    }
  }

  private serve(from: NodeId, channel: Channel, requestId: number, body: unknown): void {
    const onRequest = this.handlers.get(channel)?.onRequest;
    if (onRequest === undefined) {
      this.reply(from, channel, requestId, 'error', {
        code: UNKNOWN_CHANNEL_CODE,
        message: `no request handler for channel ${channel}`,
      } satisfies SimErrorBody);
      return;
    }
    let result: unknown;
    try {
      result = onRequest(from, body);
    } catch (error) {
      this.reply(from, channel, requestId, 'error', toErrorBody(error));
      return;
    }
    // A synchronous handler answers within the same event, so plain (non-async)
    // scheduler runs serve it without waiting for a microtask.
    if (!isThenable(result)) {
      this.reply(from, channel, requestId, 'reply', result);
      return;
    }
    result.then(
      (value) => this.reply(from, channel, requestId, 'reply', value),
      (error: unknown) => this.reply(from, channel, requestId, 'error', toErrorBody(error)),
    );
  }

  private reply(
    to: NodeId,
    channel: Channel,
    requestId: number,
    kind: 'reply' | 'error',
    body: unknown,
  ): void {
    // The requester's connection may be gone, or this process dead, by the time an
    // async handler finishes; the reply is then lost, as on a closed socket.
    if (this.state !== 'open') return;
    try {
      this.host.transmit(this.localId, to, kind, channel, requestId, body);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const fallback: SimErrorBody = {
        code: error instanceof MessageTooLargeError ? error.code : REMOTE_INTERNAL_CODE,
        message: `the reply cannot be sent: ${reason}`.slice(0, MAX_ERROR_MESSAGE_CHARS),
      };
      try {
        this.host.transmit(this.localId, to, 'error', channel, requestId, fallback);
      } catch {
        // Not even the error fits a frame (a tiny maxFrameBytes): the requester times out.
      }
    }
  }

  private settle(from: NodeId, requestId: number, kind: 'reply' | 'error', body: unknown): void {
    const perPeer = this.pending.get(from);
    const request = perPeer?.get(requestId);
    // Absent when the request already timed out: a late reply is ignored.
    if (perPeer === undefined || request === undefined) return;
    perPeer.delete(requestId);
    if (request.timer !== undefined) this.scheduler.clearTimeout(request.timer);
    if (kind === 'reply') {
      request.resolve(body);
      return;
    }
    const error = body as Partial<SimErrorBody> | null;
    request.reject(
      new RemoteError(
        from,
        typeof error?.code === 'string' ? error.code : REMOTE_INTERNAL_CODE,
        typeof error?.message === 'string' ? error.message : 'malformed error reply',
      ),
    );
  }

  private static timeOut(this: void, request: PendingRequest): void {
    const perPeer = request.owner.pending.get(request.peer);
    if (perPeer?.get(request.id) !== request) return;
    perPeer.delete(request.id);
    request.reject(new RequestTimeoutError(request.peer, request.timeoutMs));
  }

  private connectionLost(peer: NodeId, reason: string): void {
    const perPeer = this.pending.get(peer);
    if (perPeer !== undefined && perPeer.size > 0) {
      const failed = [...perPeer.values()];
      perPeer.clear();
      for (const request of failed) {
        if (request.timer !== undefined) this.scheduler.clearTimeout(request.timer);
        request.reject(new PeerUnavailableError(peer, true, reason));
      }
    }
    this.notify(peer, false);
  }

  private notify(peer: NodeId, up: boolean): void {
    if (this.state !== 'open') return;
    for (const listener of [...this.listeners]) {
      if (up) listener.onPeerUp?.(peer);
      else listener.onPeerDown?.(peer);
    }
  }

  private crash(): void {
    if (this.state === 'crashed') return;
    this.failAll((peer) => new PeerUnavailableError(peer, true, 'the local node crashed'));
    this.state = 'crashed';
    this.dialed.clear();
  }

  private failAll(makeError: (peer: NodeId) => Error): void {
    const failed: PendingRequest[] = [];
    for (const perPeer of this.pending.values()) {
      for (const request of perPeer.values()) failed.push(request);
      perPeer.clear();
    }
    for (const request of failed) {
      if (request.timer !== undefined) this.scheduler.clearTimeout(request.timer);
      request.reject(makeError(request.peer));
    }
  }
}
