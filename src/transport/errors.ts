import { ShoalError } from '../util/errors.js';

/** No reply arrived within the request's `timeoutMs`. The request may or may not have been applied. */
export class RequestTimeoutError extends ShoalError {
  constructor(peer: string, timeoutMs: number) {
    super('ERR_REQUEST_TIMEOUT', `no reply from ${peer} within ${timeoutMs} ms`);
  }
}

/**
 * There is no open connection to the peer, or it closed while a request was in
 * flight. `sent` says whether the request may have reached the peer: when false, it
 * was certainly not applied.
 */
export class PeerUnavailableError extends ShoalError {
  readonly sent: boolean;

  constructor(peer: string, sent: boolean, reason?: string) {
    super(
      'ERR_PEER_UNAVAILABLE',
      `peer ${peer} is unavailable${reason ? `: ${reason}` : ''}${sent ? ' (the request may have been delivered)' : ''}`,
    );
    this.sent = sent;
  }
}

/** The remote handler threw; `remoteCode` is the `code` it threw with. */
export class RemoteError extends ShoalError {
  readonly remoteCode: string;
  readonly data: unknown;

  constructor(peer: string, remoteCode: string, message: string, data?: unknown) {
    super('ERR_REMOTE', `${peer} answered ${remoteCode}: ${message}`);
    this.remoteCode = remoteCode;
    this.data = data;
  }
}

/** Too many requests are already waiting on this peer (`maxPendingRequests`). */
export class TooManyPendingRequestsError extends ShoalError {
  constructor(peer: string, limit: number) {
    super('ERR_TOO_MANY_PENDING', `${limit} requests already pending to ${peer}`);
  }
}

/** A frame could not be decoded or broke a limit; the connection that sent it is closed. */
export class ProtocolError extends ShoalError {
  constructor(message: string) {
    super('ERR_PROTOCOL', message);
  }
}

/** The peer failed the secret challenge, or did not answer it in time. */
export class AuthenticationError extends ShoalError {
  constructor(message: string) {
    super('ERR_AUTH', message);
  }
}

/**
 * A client-role peer sent what only nodes may send (a coordinator message, a
 * replication or handoff request, ...). It was refused before any handler saw it,
 * so it was certainly not applied; the connection stays open for what clients may do.
 */
export class ClientForbiddenError extends ShoalError {
  constructor(channel: string) {
    super('ERR_FORBIDDEN', `a client may not send this on channel '${channel}'`);
  }
}

/** The transport was closed; no further messages can be sent. */
export class TransportClosedError extends ShoalError {
  constructor() {
    super('ERR_TRANSPORT_CLOSED', 'the transport is closed');
  }
}

/**
 * The connection to the peer already holds `maxBufferedBytes` of unsent data, so the
 * message was dropped instead of queued without bound. Nothing was written: a request
 * that fails with this error was certainly not applied.
 */
export class BackpressureError extends ShoalError {
  constructor(peer: string, limitBytes: number) {
    super(
      'ERR_BACKPRESSURE',
      `more than ${limitBytes} bytes are already waiting to be written to ${peer}`,
    );
  }
}

/**
 * One message encodes to more bytes than a frame may carry (the smaller of this
 * endpoint's and the peer's `maxFrameBytes`), or cannot be encoded at all. It was not
 * sent.
 */
export class MessageTooLargeError extends ShoalError {
  constructor(peer: string, encodedBytes: number, limitBytes: number) {
    super(
      'ERR_MESSAGE_TOO_LARGE',
      `a message to ${peer} encodes to ${encodedBytes} bytes, over the ${limitBytes}-byte frame limit`,
    );
  }
}
