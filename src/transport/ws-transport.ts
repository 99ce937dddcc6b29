import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { invariant } from '../util/assert.js';
import { InvalidArgumentError, ShoalError } from '../util/errors.js';
import {
  type AuthenticationError,
  BackpressureError,
  PeerUnavailableError,
  type ProtocolError,
  TooManyPendingRequestsError,
  TransportClosedError,
} from './errors.js';
import type {
  Channel,
  ChannelHandlers,
  Message,
  NodeId,
  PeerListener,
  RequestOptions,
  Transport,
} from './transport.js';
import { peerUrl } from './ws-address.js';
import { WireCodec } from './ws-codec.js';
import { type ConnectionOwner, WsConnection } from './ws-connection.js';
import {
  type ResolvedWsOptions,
  resolveWsOptions,
  type WsListenOptions,
  type WsTransportOptions,
} from './ws-options.js';
import { WsPeer } from './ws-peer.js';
import { CloseCode } from './ws-protocol.js';
import { newWsTransportStats, type WsTransportStats } from './ws-stats.js';

/** Serves plain HTTP requests on the transport's port (e.g. `/metrics`, `/healthz`). */
export type HttpHandler = (request: IncomingMessage, response: ServerResponse) => void;

/** setTimeout fires at once for delays above 2^31-1 ms, so longer timeouts are refused. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

const notFound: HttpHandler = (_request, response) => {
  response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
};

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The tie-break of duplicate connections: both ends compute the same answer. */
function smallerId(a: NodeId, b: NodeId): NodeId {
  if (a < b) return a;
  return b;
}

/** The part of an `ip:port` (or a dialed URL) that identifies a remote host for logging. */
function logKeyOf(connection: WsConnection): string {
  if (connection.role === 'dialer') return connection.remoteAddress;
  const address = connection.remoteAddress;
  const colon = address.lastIndexOf(':');
  const host = colon > 0 ? address.slice(0, colon) : address;
  return `${host}|${connection.peerId ?? '?'}`;
}

/**
 * `Transport` over WebSockets (`ws`) with msgpackr frames.
 *
 * - A node listens (`WsTransport.listen`) and dials the peers it is told about
 *   (`addPeer`), reconnecting with jittered exponential backoff. A client
 *   (`WsTransport.client`) only dials. Either side of an authenticated connection
 *   can send and request over it, so a node answers and pushes to clients over the
 *   connection the client opened.
 * - Every connection starts with a mutual HMAC challenge-response (see
 *   `ws-handshake.ts`): nodes prove the cluster secret, client-role dialers the
 *   client credential (`clientSecret`); nothing else is accepted before it succeeds.
 *   A client-role peer is filed as `client:<id>` and may send only what each channel
 *   admits from clients (`admitFromClient`); the rest is refused with `ERR_FORBIDDEN`.
 * - Envelopes produced in the same tick to the same peer travel as one batch frame.
 * - One connection per peer pair: when both ends dial each other, the connection
 *   dialed by the smaller id is kept and the other drains and closes without
 *   failing anything in flight.
 */
export class WsTransport implements Transport {
  readonly localId: NodeId;

  private readonly opts: ResolvedWsOptions;
  private readonly counters: WsTransportStats = newWsTransportStats();
  private readonly peers = new Map<NodeId, WsPeer>();
  private readonly channels = new Map<Channel, ChannelHandlers>();
  private readonly listeners = new Set<PeerListener>();
  /** Every connection whose socket is not closed yet, in any state. */
  private readonly connections = new Set<WsConnection>();
  private readonly authFailuresLogged = new Set<string>();
  private readonly owner: ConnectionOwner;
  private readonly server: HttpServer | HttpsServer | undefined;
  private readonly wss: WebSocketServer | undefined;
  private httpHandler: HttpHandler = notFound;
  private inboundConnections = 0;
  private closed = false;
  private closing: Promise<void> | undefined;

  private constructor(options: ResolvedWsOptions, listening: boolean) {
    this.opts = options;
    this.localId = options.id;
    const codec = new WireCodec();
    this.owner = {
      options,
      codec,
      stats: this.counters,
      channelHandlers: (channel) => this.channels.get(channel),
      connectionAuthenticated: (connection) => this.onAuthenticated(connection),
      connectionClosed: (connection) => this.onConnectionClosed(connection),
      socketClosed: (connection) => this.onSocketClosed(connection),
      protocolError: (connection, error) => this.onProtocolError(connection, error),
      authenticationFailed: (connection, error) => this.onAuthenticationFailed(connection, error),
    };
    if (!listening) return;
    const tls = options.tls;
    this.server =
      tls?.key !== undefined
        ? createHttpsServer({ key: tls.key, cert: tls.cert })
        : createHttpServer();
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.limits.maxFrameBytes,
      perMessageDeflate: false,
      clientTracking: false,
    });
    this.wss.on('error', (error) => {
      options.logger.error('websocket server error', { error: describe(error) });
    });
    this.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.onUpgrade(request, socket, head),
    );
    this.server.on('request', (request: IncomingMessage, response: ServerResponse) =>
      this.onHttpRequest(request, response),
    );
  }

  /** Starts a node that accepts connections on `host:port` (default 127.0.0.1, ephemeral port). */
  static async listen(options: WsListenOptions): Promise<WsTransport> {
    const host = options.host ?? '127.0.0.1';
    const port = options.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65_535) {
      throw new InvalidArgumentError(`port must be an integer in [0, 65535], got ${port}`);
    }
    const resolved = resolveWsOptions(options);
    if (resolved.role !== 'node') {
      throw new InvalidArgumentError('a client-role endpoint cannot listen');
    }
    const transport = new WsTransport(resolved, true);
    const server = transport.server;
    invariant(server !== undefined, 'a listening transport has a server');
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => {
        server.off('listening', onListening);
        reject(error);
      };
      const onListening = (): void => {
        server.off('error', onError);
        resolve();
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen(port, host);
    });
    server.on('error', (error) => {
      transport.opts.logger.error('http server error', { error: describe(error) });
    });
    transport.opts.logger.info('transport listening', {
      id: transport.localId,
      address: transport.address,
    });
    return transport;
  }

  /** A dial-only endpoint (a client): it accepts no connections. */
  static client(options: WsTransportOptions): WsTransport {
    return new WsTransport(resolveWsOptions(options), false);
  }

  /** The HTTP(S) server under the WebSocket endpoint; undefined for clients. */
  get httpServer(): HttpServer | HttpsServer | undefined {
    return this.server;
  }

  /** The bound port. Throws for clients, which do not listen. */
  get port(): number {
    const address = this.server?.address();
    if (address === null || address === undefined || typeof address === 'string') {
      throw new ShoalError('ERR_NOT_LISTENING', `${this.localId} is not listening`);
    }
    return address.port;
  }

  /** `host:port` as bound (IPv6 hosts in brackets). Throws for clients. */
  get address(): string {
    const address = this.server?.address();
    if (address === null || address === undefined || typeof address === 'string') {
      throw new ShoalError('ERR_NOT_LISTENING', `${this.localId} is not listening`);
    }
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `${host}:${address.port}`;
  }

  /** `ws://host:port` or `wss://host:port`, ready for a peer's `addPeer`. Throws for clients. */
  get url(): string {
    return `${this.opts.tls?.key !== undefined ? 'wss' : 'ws'}://${this.address}`;
  }

  /**
   * Serves every non-WebSocket HTTP request on the transport's port. The default
   * answers 404. A handler that throws gets a 500 for that request only.
   */
  setHttpHandler(handler: HttpHandler): void {
    this.httpHandler = handler;
  }

  addPeer(peer: NodeId, address: string): void {
    if (this.closed) throw new TransportClosedError();
    this.checkPeerId(peer);
    const url = peerUrl(address, this.opts.tls !== undefined);
    const state = this.peerState(peer);
    if (state.url === url) return;
    state.url = url;
    // A dial in progress targets the old address; an established connection stays.
    if (state.dialing) state.dialing.close(CloseCode.Normal, 'peer address changed');
    clearTimeout(state.retryTimer);
    state.retryTimer = undefined;
    state.backoff.reset();
    this.dial(state);
  }

  removePeer(peer: NodeId): void {
    const state = this.peers.get(peer);
    if (!state) return;
    state.url = undefined;
    clearTimeout(state.retryTimer);
    state.retryTimer = undefined;
    for (const connection of state.connections()) {
      connection.close(CloseCode.PeerRemoved, 'peer removed');
    }
    this.forgetIfIdle(state);
  }

  /** Registers the handlers of a channel, replacing any registered before. */
  handle(channel: Channel, handlers: ChannelHandlers): void {
    this.checkChannel(channel);
    this.channels.set(channel, handlers);
  }

  watchPeers(listener: PeerListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  send(peer: NodeId, channel: Channel, message: Message): boolean {
    this.checkChannel(channel);
    if (this.closed) return false;
    const connection = this.peers.get(peer)?.active;
    if (!connection?.isOpen) {
      this.counters.droppedNotConnected++;
      return false;
    }
    if (!connection.hasRoom) {
      this.counters.droppedBackpressure++;
      return false;
    }
    connection.sendMessage(channel, message);
    return true;
  }

  request(
    peer: NodeId,
    channel: Channel,
    message: Message,
    options: RequestOptions,
  ): Promise<Message> {
    if (this.closed) return Promise.reject(new TransportClosedError());
    const timeoutMs = options?.timeoutMs;
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0) || timeoutMs > MAX_TIMEOUT_MS) {
      return Promise.reject(
        new InvalidArgumentError(`timeoutMs must be in (0, ${MAX_TIMEOUT_MS}], got ${timeoutMs}`),
      );
    }
    try {
      this.checkChannel(channel);
    } catch (error) {
      return Promise.reject(error);
    }
    const state = this.peers.get(peer);
    const connection = state?.active;
    if (!state || !connection?.isOpen) {
      return Promise.reject(new PeerUnavailableError(peer, false, 'not connected'));
    }
    const limit = this.opts.limits.maxPendingRequests;
    if (state.pendingRequests >= limit) {
      return Promise.reject(new TooManyPendingRequestsError(peer, limit));
    }
    if (!connection.hasRoom) {
      return Promise.reject(new BackpressureError(peer, this.opts.limits.maxBufferedBytes));
    }
    return connection.request(channel, message, timeoutMs, state);
  }

  isConnected(peer: NodeId): boolean {
    return this.peers.get(peer)?.active?.isOpen === true;
  }

  /** Ids of the peers with an authenticated connection right now. */
  connectedPeers(): NodeId[] {
    const ids: NodeId[] = [];
    for (const [id, state] of this.peers) if (state.active?.isOpen) ids.push(id);
    return ids;
  }

  /** Authenticated, open connections to `peer` (2 only while a duplicate drains). */
  connectionCount(peer: NodeId): number {
    const state = this.peers.get(peer);
    if (!state) return 0;
    let count = state.active?.isOpen ? 1 : 0;
    for (const connection of state.retiring) if (connection.isOpen) count++;
    return count;
  }

  /** Bytes queued in the socket to `peer` and not yet written to the kernel. */
  bufferedBytes(peer: NodeId): number {
    return this.peers.get(peer)?.active?.bufferedBytes ?? 0;
  }

  /** A snapshot of the counters. */
  stats(): WsTransportStats {
    return { ...this.counters };
  }

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.closed = true;
    for (const state of this.peers.values()) {
      clearTimeout(state.retryTimer);
      state.retryTimer = undefined;
    }
    const connections = [...this.connections];
    const socketsClosed = connections.map((connection) => connection.whenSocketClosed());
    for (const connection of connections) {
      connection.close(CloseCode.GoingAway, 'transport closing');
    }
    const server = this.server;
    if (server) {
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await serverClosed;
    }
    await Promise.all(socketsClosed);
    this.wss?.close();
  }

  private checkPeerId(peer: NodeId): void {
    if (
      typeof peer !== 'string' ||
      peer.length === 0 ||
      peer.length > this.opts.limits.maxPeerIdLength
    ) {
      throw new InvalidArgumentError(
        `peer id must be a string of 1..${this.opts.limits.maxPeerIdLength} characters`,
      );
    }
    if (peer === this.localId)
      throw new InvalidArgumentError('a transport cannot peer with itself');
  }

  private checkChannel(channel: Channel): void {
    if (
      typeof channel !== 'string' ||
      channel.length === 0 ||
      channel.length > this.opts.limits.maxChannelLength
    ) {
      throw new InvalidArgumentError(
        `channel must be a string of 1..${this.opts.limits.maxChannelLength} characters`,
      );
    }
  }

  private peerState(peer: NodeId): WsPeer {
    let state = this.peers.get(peer);
    if (!state) {
      state = new WsPeer(peer, this.opts.limits, this.opts.random);
      this.peers.set(peer, state);
    }
    return state;
  }

  /** Drops the record of a peer that has no address and no connection left. */
  private forgetIfIdle(state: WsPeer): void {
    if (state.url !== undefined || state.hasConnections) return;
    invariant(state.pendingRequests === 0, 'an idle peer has no pending requests');
    if (this.peers.get(state.id) === state) this.peers.delete(state.id);
  }

  /** Dials now if the peer has an address and no connection or dial under way. */
  private dial(state: WsPeer): void {
    const url = state.url;
    if (this.closed || url === undefined || state.active || state.dialing || state.retryTimer) {
      return;
    }
    this.counters.dials++;
    const ws = new WebSocket(url, {
      maxPayload: this.opts.limits.maxFrameBytes,
      perMessageDeflate: false,
      handshakeTimeout: this.opts.limits.handshakeTimeoutMs,
      followRedirects: false,
      ...(this.opts.tls?.ca !== undefined ? { ca: this.opts.tls.ca } : {}),
    });
    const connection = new WsConnection(ws, 'dialer', this.owner, state.id, url);
    this.connections.add(connection);
    state.dialing = connection;
  }

  private scheduleRedial(state: WsPeer): void {
    if (
      this.closed ||
      state.url === undefined ||
      state.active ||
      state.dialing ||
      state.retryTimer
    ) {
      return;
    }
    state.retryTimer = setTimeout(() => {
      state.retryTimer = undefined;
      this.dial(state);
    }, state.backoff.nextDelayMs());
  }

  private onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', (error) => {
      this.opts.logger.debug('socket error during upgrade', { error: describe(error) });
    });
    const wss = this.wss;
    if (
      this.closed ||
      wss === undefined ||
      this.inboundConnections >= this.opts.limits.maxConnections
    ) {
      this.counters.connectionsRejected++;
      // Destroy once the answer is flushed: a hostile client cannot hold the socket half-open.
      socket.end(
        'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
        () => socket.destroy(),
      );
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      const remote = `${request.socket.remoteAddress ?? '?'}:${request.socket.remotePort ?? '?'}`;
      if (this.closed) {
        ws.terminate();
        return;
      }
      this.inboundConnections++;
      this.counters.connectionsAccepted++;
      const connection = new WsConnection(ws, 'acceptor', this.owner, undefined, remote);
      this.connections.add(connection);
    });
  }

  private onHttpRequest(request: IncomingMessage, response: ServerResponse): void {
    try {
      this.httpHandler(request, response);
    } catch (error) {
      this.opts.logger.error('http handler threw', { url: request.url, error: describe(error) });
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' });
      response.end();
    }
  }

  private onAuthenticated(connection: WsConnection): void {
    const peerId = connection.peerId;
    invariant(peerId !== undefined, 'an authenticated connection knows its peer');
    if (this.closed) {
      connection.close(CloseCode.GoingAway, 'transport closing');
      return;
    }
    const state = this.peerState(peerId);
    if (state.dialing === connection) {
      state.dialing = undefined;
      state.backoff.reset();
    }
    this.opts.logger.debug('connection authenticated', {
      peer: peerId,
      role: connection.role,
      remoteAddress: connection.remoteAddress,
    });
    const current = state.active;
    if (!current) {
      state.active = connection;
      clearTimeout(state.retryTimer);
      state.retryTimer = undefined;
      this.emitPeer('up', peerId);
      return;
    }
    if (current.dialerId === connection.dialerId) {
      // The same side dialed again: it must have given up on the old connection.
      state.active = connection;
      current.close(CloseCode.Replaced, 'replaced by a newer connection');
      return;
    }
    const preferredDialer = smallerId(this.localId, peerId);
    const loser = connection.dialerId === preferredDialer ? current : connection;
    state.active = loser === current ? connection : current;
    state.retiring.add(loser);
    loser.retire();
  }

  private onConnectionClosed(connection: WsConnection): void {
    const peerId = connection.peerId;
    const state = peerId === undefined ? undefined : this.peers.get(peerId);
    if (!state) return;
    const wasActive = state.active === connection;
    const belonged = wasActive || state.dialing === connection || state.retiring.has(connection);
    if (!belonged) return;
    if (state.dialing === connection) state.dialing = undefined;
    state.retiring.delete(connection);
    if (wasActive) {
      state.active = undefined;
      this.emitPeer('down', state.id);
    }
    if (state.active) return;
    this.scheduleRedial(state);
    this.forgetIfIdle(state);
  }

  private onSocketClosed(connection: WsConnection): void {
    this.connections.delete(connection);
    if (connection.role === 'acceptor') this.inboundConnections--;
    invariant(this.inboundConnections >= 0, 'inbound connection count went negative');
  }

  private onProtocolError(connection: WsConnection, error: ProtocolError): void {
    const context = {
      ...(connection.peerId !== undefined ? { peer: connection.peerId } : {}),
      remoteAddress: connection.remoteAddress,
    };
    this.opts.logger.warn('closing a connection that broke the protocol', {
      ...context,
      error: error.message,
    });
    try {
      this.opts.onProtocolError?.(error, context);
    } catch (hookError) {
      this.opts.logger.error('onProtocolError hook threw', { error: describe(hookError) });
    }
  }

  private onAuthenticationFailed(connection: WsConnection, error: AuthenticationError): void {
    this.counters.authFailures++;
    const key = logKeyOf(connection);
    const fields = {
      peer: connection.peerId,
      remoteAddress: connection.remoteAddress,
      role: connection.role,
      error: error.message,
    };
    if (this.authFailuresLogged.has(key)) {
      this.opts.logger.debug('authentication failed again', fields);
      return;
    }
    if (this.authFailuresLogged.size >= this.opts.limits.maxAuthFailureLogEntries) {
      this.authFailuresLogged.clear();
    }
    this.authFailuresLogged.add(key);
    this.opts.logger.warn('authentication failed; closing the connection', fields);
  }

  private emitPeer(kind: 'up' | 'down', peer: NodeId): void {
    for (const listener of [...this.listeners]) {
      try {
        if (kind === 'up') listener.onPeerUp?.(peer);
        else listener.onPeerDown?.(peer);
      } catch (error) {
        this.opts.logger.error('peer listener threw', {
          peer,
          event: kind,
          error: describe(error),
        });
      }
    }
  }
}
