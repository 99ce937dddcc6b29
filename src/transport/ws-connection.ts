import type { RawData, WebSocket } from 'ws';
import { invariant } from '../util/assert.js';
import { InvalidArgumentError, ShoalError } from '../util/errors.js';
import {
  AuthenticationError,
  BackpressureError,
  ClientForbiddenError,
  MessageTooLargeError,
  PeerUnavailableError,
  ProtocolError,
  RemoteError,
  RequestTimeoutError,
} from './errors.js';
import type { ChannelHandlers, Message, NodeId } from './transport.js';
import type { WireCodec } from './ws-codec.js';
import {
  acceptorProof,
  BadPeerIdError,
  dialerProof,
  newNonce,
  PEER_ROLE_CODE,
  type PeerRole,
  peerKey,
  proofMatches,
  readAuth,
  readAuthOk,
  readHello,
  VersionMismatchError,
} from './ws-handshake.js';
import type { ResolvedWsOptions } from './ws-options.js';
import type { Envelope, RequestEnvelope } from './ws-protocol.js';
import {
  CloseCode,
  EnvelopeType,
  MAX_CORRELATION_ID,
  PROTOCOL_VERSION,
  readBatch,
} from './ws-protocol.js';
import type { WsTransportStats } from './ws-stats.js';

/** Handshake frames are a few hundred bytes; anything bigger before auth is hostile. */
const MAX_HANDSHAKE_FRAME_BYTES = 4096;

/** Error messages sent back to a requester are cut to this many characters. */
const MAX_REMOTE_ERROR_MESSAGE_CHARS = 1024;

/** WebSocket close reasons are limited to 123 bytes by RFC 6455. */
const MAX_CLOSE_REASON_BYTES = 123;

/** `ws.send` options for every frame; one shared object avoids an allocation per frame. */
const SEND_OPTIONS = { binary: true, compress: false } as const;

/** Counts the requests one peer has in flight, across its connections. */
export interface PendingCounter {
  pendingRequests: number;
}

/** What a connection needs from the transport that owns it. */
export interface ConnectionOwner {
  readonly options: ResolvedWsOptions;
  readonly codec: WireCodec;
  readonly stats: WsTransportStats;
  /** The handlers registered for `channel`, if any. */
  channelHandlers(channel: string): ChannelHandlers | undefined;
  /** Mutual authentication succeeded; the connection can carry envelopes. */
  connectionAuthenticated(connection: WsConnection): void;
  /** The connection stopped being usable. Called exactly once per connection. */
  connectionClosed(connection: WsConnection): void;
  /** The socket is fully closed; called exactly once, after `connectionClosed`. */
  socketClosed(connection: WsConnection): void;
  /** The peer broke the protocol; the connection is already closing. */
  protocolError(connection: WsConnection, error: ProtocolError): void;
  /** The peer failed (or made this side fail) the secret check. */
  authenticationFailed(connection: WsConnection, error: AuthenticationError): void;
}

/** A request waiting for its reply. */
class PendingRequest {
  /** Whether the request left this process (went into `ws.send`). */
  written = false;
  timer: NodeJS.Timeout | undefined = undefined;

  constructor(
    readonly id: number,
    readonly counter: PendingCounter,
    readonly timeoutMs: number,
    readonly resolve: (reply: Message) => void,
    readonly reject: (error: Error) => void,
  ) {}
}

type HandshakeStep = 'await-hello' | 'await-auth' | 'await-auth-ok';

type ConnectionState = 'handshake' | 'open' | 'closing' | 'closed';

/** Which side opened the socket. */
export type ConnectionRole = 'dialer' | 'acceptor';

function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  return bytes.length <= maxBytes ? text : bytes.subarray(0, maxBytes).toString('utf8');
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * One WebSocket between this endpoint and a peer: the handshake, then batched
 * envelopes in both directions, request/reply correlation and backpressure.
 *
 * Lifecycle: `handshake` -> `open` (after mutual auth) -> `closing` -> `closed`.
 * Everything that can fail in an event handler is caught here; a misbehaving peer
 * only ever closes its own connection.
 */
export class WsConnection {
  /**
   * The peer's id: known up front when dialing, learned from `Auth` when accepting
   * (client-role peers under `CLIENT_PEER_PREFIX`, see `peerKey`).
   */
  peerId: NodeId | undefined;
  /** What the peer proved: acceptors are always nodes; a dialer says in `Auth`. */
  peerRole: PeerRole = 'node';
  /** Whether the peer asked to retire this connection (it has a better one to us). */
  peerRetired = false;

  private state: ConnectionState = 'handshake';
  private step: HandshakeStep;
  private readonly localNonce = newNonce();
  private peerNonce: Buffer | undefined;
  private frameLimitBytes: number;
  private batchLimit: number;

  private queue: Envelope[] = [];
  private queuedRequests: PendingRequest[] = [];
  private flushScheduled = false;
  private readonly pending = new Map<number, PendingRequest>();
  private nextCorrelationId = 0;
  private activeHandlers = 0;
  private retired = false;

  private handshakeTimer: NodeJS.Timeout | undefined;
  private retireTimer: NodeJS.Timeout | undefined;
  private terminateTimer: NodeJS.Timeout | undefined;
  private socketClosedPromise: Promise<void> | undefined;
  private resolveSocketClosed: (() => void) | undefined;
  private socketIsClosed = false;

  constructor(
    private readonly ws: WebSocket,
    readonly role: ConnectionRole,
    private readonly owner: ConnectionOwner,
    expectedPeerId: NodeId | undefined,
    /** `ip:port` of the remote end, or the dialed URL; for logs only. */
    readonly remoteAddress: string,
  ) {
    const { limits } = owner.options;
    this.peerId = expectedPeerId;
    this.frameLimitBytes = limits.maxFrameBytes;
    this.batchLimit = limits.maxBatchMessages;
    this.step = role === 'dialer' ? 'await-hello' : 'await-auth';
    ws.on('message', this.onMessage);
    ws.on('close', this.onClose);
    ws.on('error', this.onError);
    this.handshakeTimer = setTimeout(this.onHandshakeTimeout, limits.handshakeTimeoutMs);
    if (role === 'acceptor') {
      this.writeRaw(
        owner.codec.encode({
          t: EnvelopeType.Hello,
          v: PROTOCOL_VERSION,
          id: owner.options.id,
          n: this.localNonce,
          f: limits.maxFrameBytes,
          bm: limits.maxBatchMessages,
        }),
      );
    }
  }

  /** The id of the endpoint that dialed this connection (decides duplicates). */
  get dialerId(): NodeId | undefined {
    return this.role === 'dialer' ? this.owner.options.id : this.peerId;
  }

  /** Authenticated and not closing. */
  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** Open, not retired, and below `maxBufferedBytes`: new traffic may go here. */
  get hasRoom(): boolean {
    return (
      this.state === 'open' &&
      !this.retired &&
      this.ws.bufferedAmount <= this.owner.options.limits.maxBufferedBytes
    );
  }

  /** Bytes handed to the socket but not yet written to the kernel. */
  get bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }

  /** Queues a one-way message; the caller checked `hasRoom`. */
  sendMessage(channel: string, body: Message): void {
    invariant(this.state === 'open', 'sendMessage on a connection that is not open');
    this.enqueue({ t: EnvelopeType.Message, c: channel, b: body });
  }

  /**
   * Queues a request; the caller checked `hasRoom` and the pending limit, and
   * `counter.pendingRequests` is incremented here and decremented when it settles.
   */
  request(
    channel: string,
    body: Message,
    timeoutMs: number,
    counter: PendingCounter,
  ): Promise<Message> {
    invariant(this.state === 'open', 'request on a connection that is not open');
    const id = this.allocateCorrelationId();
    return new Promise<Message>((resolve, reject) => {
      const pending = new PendingRequest(id, counter, timeoutMs, resolve, reject);
      pending.timer = setTimeout(this.onRequestTimeout, timeoutMs, pending);
      counter.pendingRequests++;
      this.pending.set(id, pending);
      this.queuedRequests.push(pending);
      const envelope: RequestEnvelope = { t: EnvelopeType.Request, i: id, c: channel, b: body };
      this.enqueue(envelope);
    });
  }

  /**
   * Stops putting new traffic on this connection because the pair has a better one,
   * and tells the peer so. Once both sides have said so and nothing is in flight in
   * either direction, the connection closes: nothing in flight is failed.
   */
  retire(): void {
    if (this.retired || this.state !== 'open') return;
    this.retired = true;
    this.owner.stats.duplicatesRetired++;
    this.retireTimer = setTimeout(this.onRetireTimeout, this.owner.options.limits.retireTimeoutMs);
    this.enqueue({ t: EnvelopeType.Retire });
    this.finishRetireIfDrained();
  }

  /**
   * Closes the connection: pending requests fail at once with `PeerUnavailableError`
   * (`sent` telling whether each left this process), then the socket is closed with
   * `code` and `reason`, and cut if the peer does not complete the close in time.
   */
  close(code: number, reason: string): void {
    if (!this.shutDown(reason)) return;
    const ws = this.ws;
    try {
      if (ws.readyState === ws.CONNECTING) {
        ws.terminate();
      } else {
        ws.close(code, truncateUtf8(reason, MAX_CLOSE_REASON_BYTES));
        this.terminateTimer = setTimeout(
          () => ws.terminate(),
          this.owner.options.limits.closeGraceMs,
        );
      }
    } catch (error) {
      this.owner.options.logger.debug('closing a websocket failed; cutting it', {
        peer: this.peerId,
        error: describe(error),
      });
      ws.terminate();
    }
  }

  /**
   * Makes the connection unusable and fails what is in flight; returns false when
   * that already happened.
   */
  private shutDown(reason: string): boolean {
    if (this.state === 'closing' || this.state === 'closed') return false;
    this.state = 'closing';
    this.stopTimers();
    this.failAll(reason);
    this.owner.connectionClosed(this);
    return true;
  }

  /** Resolves once the underlying socket is closed. */
  whenSocketClosed(): Promise<void> {
    if (this.socketIsClosed) return Promise.resolve();
    this.socketClosedPromise ??= new Promise<void>((resolve) => {
      this.resolveSocketClosed = resolve;
    });
    return this.socketClosedPromise;
  }

  /**
   * Writes everything queued as one batch frame (or several, if it is too big).
   * Runs from setImmediate/queueMicrotask, so nothing may escape it.
   */
  flush = (): void => {
    this.flushScheduled = false;
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    const requests = this.queuedRequests;
    this.queuedRequests = [];
    if (this.state !== 'open') return;
    try {
      const toWrite = this.overBufferBound() ? batch.filter((e) => !this.shed(e)) : batch;
      if (toWrite.length === 0) return;
      let frame: Buffer | undefined;
      try {
        frame = this.owner.codec.encode(toWrite);
      } catch {
        frame = undefined;
      }
      if (frame !== undefined && frame.length <= this.frameLimitBytes) {
        this.writeFrame(frame, toWrite.length);
      } else {
        this.flushOneByOne(toWrite);
      }
      for (const request of requests) request.written = true;
    } catch (error) {
      this.owner.options.logger.error('unexpected failure writing a batch', {
        peer: this.peerId,
        error: describe(error),
      });
      for (const request of requests) request.written = true;
      this.close(CloseCode.ProtocolError, 'internal error');
    }
  };

  private enqueue(envelope: Envelope): void {
    this.queue.push(envelope);
    if (this.queue.length >= this.batchLimit) {
      this.flush();
    } else if (!this.flushScheduled) {
      this.flushScheduled = true;
      if (this.owner.options.batchFlush === 'immediate') setImmediate(this.flush);
      else queueMicrotask(this.flush);
    }
  }

  private writeRaw(frame: Buffer): void {
    this.ws.send(frame, SEND_OPTIONS);
  }

  private writeFrame(frame: Buffer, envelopes: number): void {
    this.ws.send(frame, SEND_OPTIONS);
    this.owner.stats.framesSent++;
    this.owner.stats.envelopesSent += envelopes;
  }

  /**
   * The slow path when a whole batch would not encode or not fit a frame: each
   * envelope goes alone, and one that still fails is answered locally.
   */
  private flushOneByOne(batch: Envelope[]): void {
    for (const envelope of batch) {
      if (this.overBufferBound() && this.shed(envelope)) continue;
      let frame: Buffer;
      try {
        frame = this.owner.codec.encode([envelope]);
      } catch (error) {
        this.unsendable(envelope, undefined, describe(error));
        continue;
      }
      if (frame.length > this.frameLimitBytes) {
        this.unsendable(envelope, frame.length, 'too large');
        continue;
      }
      this.writeFrame(frame, 1);
    }
  }

  /** Whether the socket already holds more unsent bytes than `maxBufferedBytes`. */
  private overBufferBound(): boolean {
    return this.ws.bufferedAmount > this.owner.options.limits.maxBufferedBytes;
  }

  /**
   * Drops an envelope that would go over the buffer bound. Everything queued in one
   * tick passed `hasRoom`/`replyRoom` before any of it was written, so a burst (many
   * large replies to a peer that does not read) would otherwise pin memory without
   * bound; checked again per frame, the socket holds at most the bound plus one frame.
   * A dropped request fails with `BackpressureError` (it was not written); replies and
   * one-way messages are dropped as a lossy network would. Returns false for what must
   * still go out (`Retire`).
   */
  private shed(envelope: Envelope): boolean {
    const { stats, options } = this.owner;
    switch (envelope.t) {
      case EnvelopeType.Request: {
        const pending = this.pending.get(envelope.i);
        if (pending) {
          this.settle(pending);
          pending.reject(
            new BackpressureError(this.peerId ?? '?', options.limits.maxBufferedBytes),
          );
        }
        stats.droppedBackpressure++;
        return true;
      }
      case EnvelopeType.Retire:
        return false;
      default:
        stats.droppedBackpressure++;
        return true;
    }
  }

  private unsendable(envelope: Envelope, encodedBytes: number | undefined, why: string): void {
    const peer = this.peerId ?? '?';
    const tooLarge =
      encodedBytes !== undefined
        ? new MessageTooLargeError(peer, encodedBytes, this.frameLimitBytes)
        : undefined;
    switch (envelope.t) {
      case EnvelopeType.Request: {
        const pending = this.pending.get(envelope.i);
        if (pending) {
          this.settle(pending);
          pending.reject(
            tooLarge ?? new InvalidArgumentError(`request to ${peer} cannot be encoded: ${why}`),
          );
        }
        return;
      }
      case EnvelopeType.Reply:
        this.owner.stats.droppedUnsendable++;
        this.enqueue({
          t: EnvelopeType.ErrorReply,
          i: envelope.i,
          e: tooLarge ? tooLarge.code : 'ERR_REMOTE_INTERNAL',
          m: tooLarge ? tooLarge.message : `reply cannot be encoded: ${why}`,
        });
        return;
      default:
        this.owner.stats.droppedUnsendable++;
        this.owner.options.logger.warn('dropped a message that cannot be sent', {
          peer,
          type: envelope.t,
          reason: why,
          encodedBytes,
        });
    }
  }

  private allocateCorrelationId(): number {
    // Ids wrap; the pending limit keeps far fewer than 2^32 in flight, so the loop
    // ends after at most maxPendingRequests steps.
    for (let attempts = 0; attempts <= this.pending.size; attempts++) {
      const id = this.nextCorrelationId;
      this.nextCorrelationId = id === MAX_CORRELATION_ID ? 0 : id + 1;
      if (!this.pending.has(id)) return id;
    }
    invariant(false, 'no free correlation id');
  }

  /** Removes a pending request from every index; the caller then resolves or rejects it. */
  private settle(pending: PendingRequest): void {
    this.pending.delete(pending.id);
    clearTimeout(pending.timer);
    pending.counter.pendingRequests--;
    invariant(pending.counter.pendingRequests >= 0, 'pending request count went negative');
  }

  private onRequestTimeout = (pending: PendingRequest): void => {
    if (this.pending.get(pending.id) !== pending) return;
    this.settle(pending);
    pending.reject(new RequestTimeoutError(this.peerId ?? '?', pending.timeoutMs));
    this.finishRetireIfDrained();
  };

  private failAll(reason: string): void {
    if (this.pending.size === 0) return;
    const peer = this.peerId ?? '?';
    const all = [...this.pending.values()];
    for (const pending of all) {
      this.settle(pending);
      pending.reject(new PeerUnavailableError(peer, pending.written, reason));
    }
  }

  private stopTimers(): void {
    clearTimeout(this.handshakeTimer);
    clearTimeout(this.retireTimer);
    this.handshakeTimer = undefined;
    this.retireTimer = undefined;
  }

  private onMessage = (data: RawData, isBinary: boolean): void => {
    if (this.state === 'closing' || this.state === 'closed') return;
    try {
      if (!isBinary) throw new ProtocolError('text frames are not part of the protocol');
      const frame = toBuffer(data);
      if (this.state === 'handshake') this.onHandshakeFrame(frame);
      else this.onBatchFrame(frame);
    } catch (error) {
      this.failWith(error);
    }
  };

  /** Maps a handshake or frame failure to the close code the peer should see. */
  private failWith(error: unknown): void {
    if (error instanceof AuthenticationError) {
      this.owner.authenticationFailed(this, error);
      this.close(CloseCode.AuthenticationFailed, 'authentication failed');
    } else if (error instanceof VersionMismatchError) {
      this.reportProtocolError(error);
      this.close(CloseCode.VersionMismatch, 'unsupported protocol version');
    } else if (error instanceof BadPeerIdError) {
      this.reportProtocolError(error);
      this.close(CloseCode.BadPeerId, error.message);
    } else if (error instanceof ProtocolError) {
      this.reportProtocolError(error);
      this.close(CloseCode.ProtocolError, `protocol error: ${error.message}`);
    } else {
      // A bug in this file, not the peer's fault; still only this connection suffers.
      this.owner.options.logger.error('unexpected failure handling a frame', {
        peer: this.peerId,
        error: describe(error),
      });
      this.close(CloseCode.ProtocolError, 'internal error');
    }
  }

  private reportProtocolError(error: ProtocolError): void {
    this.owner.stats.protocolErrors++;
    this.owner.protocolError(this, error);
  }

  private decodeOrThrow(frame: Buffer): unknown {
    try {
      return this.owner.codec.decode(frame);
    } catch (error) {
      throw new ProtocolError(`undecodable frame: ${describe(error)}`);
    }
  }

  private onHandshakeFrame(frame: Buffer): void {
    if (frame.length > MAX_HANDSHAKE_FRAME_BYTES) {
      throw new ProtocolError(`handshake frame of ${frame.length} bytes`);
    }
    const value = this.decodeOrThrow(frame);
    const { options } = this.owner;
    const { limits } = options;
    switch (this.step) {
      case 'await-hello': {
        const hello = readHello(value, limits.maxPeerIdLength);
        if (hello.id !== this.peerId) {
          throw new BadPeerIdError(`dialed ${this.peerId ?? '?'} but ${hello.id} answered`);
        }
        this.peerNonce = hello.n;
        this.adoptPeerLimits(hello.f, hello.bm);
        this.step = 'await-auth-ok';
        this.writeRaw(
          this.owner.codec.encode({
            t: EnvelopeType.Auth,
            v: PROTOCOL_VERSION,
            id: options.id,
            n: this.localNonce,
            r: PEER_ROLE_CODE[options.role],
            p: dialerProof(
              options.role,
              options.secret,
              hello.n,
              this.localNonce,
              options.id,
              hello.id,
            ),
            f: limits.maxFrameBytes,
            bm: limits.maxBatchMessages,
          }),
        );
        return;
      }
      case 'await-auth': {
        const auth = readAuth(value, limits.maxPeerIdLength);
        if (auth.id === options.id) throw new BadPeerIdError('peer claims this node own id');
        this.peerId = peerKey(auth.role, auth.id);
        const key = auth.role === 'client' ? options.clientSecret : options.secret;
        if (key === undefined) {
          throw new AuthenticationError(`${auth.id} offered a client credential; none is accepted`);
        }
        const expected = dialerProof(auth.role, key, this.localNonce, auth.n, auth.id, options.id);
        if (!proofMatches(expected, auth.p)) {
          throw new AuthenticationError(`${auth.id} failed the ${auth.role} secret challenge`);
        }
        this.peerRole = auth.role;
        this.adoptPeerLimits(auth.f, auth.bm);
        this.writeRaw(
          this.owner.codec.encode({
            t: EnvelopeType.AuthOk,
            p: acceptorProof(auth.role, key, this.localNonce, auth.n, auth.id, options.id),
          }),
        );
        this.becomeOpen();
        return;
      }
      case 'await-auth-ok': {
        const ok = readAuthOk(value);
        const peerId = this.peerId;
        const peerNonce = this.peerNonce;
        invariant(peerId !== undefined && peerNonce !== undefined, 'AuthOk before Hello');
        const expected = acceptorProof(
          options.role,
          options.secret,
          peerNonce,
          this.localNonce,
          options.id,
          peerId,
        );
        if (!proofMatches(expected, ok.p)) {
          throw new AuthenticationError(`${peerId} failed the secret challenge`);
        }
        this.becomeOpen();
        return;
      }
    }
  }

  private adoptPeerLimits(peerFrameBytes: number, peerBatchMessages: number): void {
    this.frameLimitBytes = Math.min(this.frameLimitBytes, peerFrameBytes);
    this.batchLimit = Math.min(this.batchLimit, peerBatchMessages);
  }

  private becomeOpen(): void {
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    this.state = 'open';
    this.owner.connectionAuthenticated(this);
  }

  private onBatchFrame(frame: Buffer): void {
    const { limits } = this.owner.options;
    const batch = readBatch(this.decodeOrThrow(frame), limits);
    const { stats } = this.owner;
    stats.framesReceived++;
    stats.envelopesReceived += batch.length;
    for (const envelope of batch) {
      if (this.state !== 'open') return;
      this.dispatch(envelope);
    }
    // Replies the handlers gave synchronously leave now, as one frame: waiting for the
    // scheduled flush only adds to the requester's round trip.
    if (this.queue.length > 0) this.flush();
  }

  private dispatch(envelope: Envelope): void {
    switch (envelope.t) {
      case EnvelopeType.Reply: {
        const pending = this.pending.get(envelope.i);
        if (!pending) {
          this.owner.stats.droppedUnmatchedReplies++;
          return;
        }
        this.settle(pending);
        pending.resolve(envelope.b);
        this.finishRetireIfDrained();
        return;
      }
      case EnvelopeType.ErrorReply: {
        const pending = this.pending.get(envelope.i);
        if (!pending) {
          this.owner.stats.droppedUnmatchedReplies++;
          return;
        }
        this.settle(pending);
        pending.reject(new RemoteError(this.peerId ?? '?', envelope.e, envelope.m));
        this.finishRetireIfDrained();
        return;
      }
      case EnvelopeType.Request:
        this.dispatchRequest(envelope);
        return;
      case EnvelopeType.Message: {
        const handlers = this.owner.channelHandlers(envelope.c);
        if (!this.admits(handlers, envelope.b)) {
          this.owner.stats.refusedFromClients++;
          return;
        }
        const handler = handlers?.onMessage;
        if (!handler) {
          this.owner.stats.droppedUnknownChannel++;
          return;
        }
        try {
          handler(this.peerId!, envelope.b);
        } catch (error) {
          this.owner.options.logger.error('message handler threw', {
            peer: this.peerId,
            channel: envelope.c,
            error: describe(error),
          });
        }
        return;
      }
      case EnvelopeType.Retire:
        this.peerRetired = true;
        this.finishRetireIfDrained();
        return;
    }
  }

  private dispatchRequest(envelope: RequestEnvelope): void {
    const id = envelope.i;
    const handlers = this.owner.channelHandlers(envelope.c);
    if (!this.admits(handlers, envelope.b)) {
      this.owner.stats.refusedFromClients++;
      this.replyWithError(id, new ClientForbiddenError(envelope.c));
      return;
    }
    const handler = handlers?.onRequest;
    if (!handler) {
      this.replyError(id, 'ERR_UNKNOWN_CHANNEL', `no request handler for channel ${envelope.c}`);
      return;
    }
    let result: unknown;
    try {
      result = handler(this.peerId!, envelope.b);
    } catch (error) {
      this.replyWithError(id, error);
      return;
    }
    if (!isThenable(result)) {
      this.reply(id, result);
      return;
    }
    this.activeHandlers++;
    result.then(
      (value) => {
        this.activeHandlers--;
        this.reply(id, value);
        this.finishRetireIfDrained();
      },
      (error: unknown) => {
        this.activeHandlers--;
        this.replyWithError(id, error);
        this.finishRetireIfDrained();
      },
    );
  }

  /** Nodes may send anything; a client only what the channel admits from clients. */
  private admits(handlers: ChannelHandlers | undefined, message: Message): boolean {
    if (this.peerRole === 'node') return true;
    const admit = handlers?.admitFromClient;
    if (admit === undefined) return false;
    try {
      return admit(message) === true;
    } catch {
      return false;
    }
  }

  /** Replies are dropped (the requester times out) rather than buffered without bound. */
  private replyRoom(): boolean {
    if (this.state !== 'open') return false;
    if (this.ws.bufferedAmount > this.owner.options.limits.maxBufferedBytes) {
      this.owner.stats.droppedBackpressure++;
      return false;
    }
    return true;
  }

  private reply(id: number, value: unknown): void {
    if (this.replyRoom()) this.enqueue({ t: EnvelopeType.Reply, i: id, b: value });
  }

  private replyError(id: number, code: string, message: string): void {
    if (this.replyRoom()) {
      this.enqueue({
        t: EnvelopeType.ErrorReply,
        i: id,
        e: code,
        m: message.slice(0, MAX_REMOTE_ERROR_MESSAGE_CHARS),
      });
    }
  }

  private replyWithError(id: number, error: unknown): void {
    if (error instanceof ShoalError) this.replyError(id, error.code, error.message);
    else this.replyError(id, 'ERR_REMOTE_INTERNAL', describe(error));
  }

  private finishRetireIfDrained(): void {
    if (
      this.retired &&
      this.peerRetired &&
      this.state === 'open' &&
      this.pending.size === 0 &&
      this.activeHandlers === 0
    ) {
      // Replies still queued must leave before the close frame.
      this.flush();
      this.close(CloseCode.DuplicateRetired, 'duplicate connection retired');
    }
  }

  private onRetireTimeout = (): void => {
    this.retireTimer = undefined;
    this.close(CloseCode.DuplicateRetired, 'duplicate connection did not drain in time');
  };

  private onHandshakeTimeout = (): void => {
    this.handshakeTimer = undefined;
    if (this.state !== 'handshake') return;
    this.owner.authenticationFailed(
      this,
      new AuthenticationError(
        `no completed handshake within ${this.owner.options.limits.handshakeTimeoutMs} ms`,
      ),
    );
    this.close(CloseCode.HandshakeTimeout, 'handshake timeout');
  };

  private onError = (error: Error & { code?: string }): void => {
    // `ws` reports frames it refuses (oversized, bad opcode, bad masking) with WS_ERR_*
    // codes, then closes the socket itself; other errors are network failures.
    if (typeof error.code === 'string' && error.code.startsWith('WS_ERR_')) {
      this.reportProtocolError(new ProtocolError(`${error.code}: ${error.message}`));
    } else {
      this.owner.options.logger.debug('websocket error', {
        peer: this.peerId,
        remoteAddress: this.remoteAddress,
        error: describe(error),
      });
    }
  };

  private onClose = (code: number, reason: Buffer): void => {
    if (this.state !== 'closing' && this.state !== 'closed') {
      const text = reason.length > 0 ? reason.toString('utf8') : `code ${code}`;
      if (code === CloseCode.AuthenticationFailed && this.role === 'dialer') {
        this.owner.authenticationFailed(
          this,
          new AuthenticationError(`${this.peerId ?? '?'} refused this node's secret`),
        );
      }
      this.shutDown(`connection closed by peer (${text})`);
    }
    this.state = 'closed';
    clearTimeout(this.terminateTimer);
    this.queue = [];
    this.queuedRequests = [];
    if (!this.socketIsClosed) {
      this.socketIsClosed = true;
      this.owner.socketClosed(this);
      this.resolveSocketClosed?.();
    }
  };
}
