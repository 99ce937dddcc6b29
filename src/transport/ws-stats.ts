/**
 * Counters of one `WsTransport`, for metrics and tests. They only grow; a scraper
 * computes rates from differences.
 */
export interface WsTransportStats {
  /** Batch frames written (after the handshake). */
  framesSent: number;
  /** Batch frames received and accepted. */
  framesReceived: number;
  /** Envelopes written (messages, requests, replies). */
  envelopesSent: number;
  /** Envelopes received in accepted frames. */
  envelopesReceived: number;
  /** `send` calls that returned false because no connection was open. */
  droppedNotConnected: number;
  /** `send` calls and replies dropped because `maxBufferedBytes` was exceeded. */
  droppedBackpressure: number;
  /** One-way messages dropped because no handler is registered for their channel. */
  droppedUnknownChannel: number;
  /** Replies that matched no pending request (late, after a timeout, or bogus). */
  droppedUnmatchedReplies: number;
  /** Messages or replies that could not be encoded or exceeded the frame limit. */
  droppedUnsendable: number;
  /** Connections closed for breaking the wire protocol. */
  protocolErrors: number;
  /** Handshakes that failed the secret check (either direction) or timed out. */
  authFailures: number;
  /** Messages and requests from client-role peers refused because only nodes may send them. */
  refusedFromClients: number;
  /** Inbound sockets accepted for a handshake. */
  connectionsAccepted: number;
  /** Inbound upgrade requests refused because `maxConnections` was reached. */
  connectionsRejected: number;
  /** Outbound connection attempts. */
  dials: number;
  /** Duplicate connections (both peers dialed each other) retired. */
  duplicatesRetired: number;
}

/** A zeroed set of counters. */
export function newWsTransportStats(): WsTransportStats {
  return {
    framesSent: 0,
    framesReceived: 0,
    envelopesSent: 0,
    envelopesReceived: 0,
    droppedNotConnected: 0,
    droppedBackpressure: 0,
    droppedUnknownChannel: 0,
    droppedUnmatchedReplies: 0,
    droppedUnsendable: 0,
    protocolErrors: 0,
    authFailures: 0,
    refusedFromClients: 0,
    connectionsAccepted: 0,
    connectionsRejected: 0,
    dials: 0,
    duplicatesRetired: 0,
  };
}
