import type { Random } from '../util/random.js';
import { ExponentialBackoff } from './backoff.js';
import type { NodeId } from './transport.js';
import type { PendingCounter, WsConnection } from './ws-connection.js';
import type { WsTransportLimits } from './ws-options.js';

/**
 * What a `WsTransport` knows about one peer: where to dial it (if anywhere), its
 * connections, and how many requests it has in flight.
 *
 * At most one connection is `active` (carries new traffic). While both ends dial
 * each other at once, the loser of the tie-break sits in `retiring` until it drains.
 */
export class WsPeer implements PendingCounter {
  pendingRequests = 0;
  /** URL to dial; undefined for peers that only ever dial us (clients). */
  url: string | undefined;
  active: WsConnection | undefined;
  /** An outbound connection still in its handshake. */
  dialing: WsConnection | undefined;
  readonly retiring = new Set<WsConnection>();
  retryTimer: NodeJS.Timeout | undefined;
  readonly backoff: ExponentialBackoff;

  constructor(
    readonly id: NodeId,
    limits: WsTransportLimits,
    random: Random,
  ) {
    this.backoff = new ExponentialBackoff(limits.initialBackoffMs, limits.maxBackoffMs, random);
  }

  /** Whether any connection (in any state) still belongs to this peer. */
  get hasConnections(): boolean {
    return this.active !== undefined || this.dialing !== undefined || this.retiring.size > 0;
  }

  /** Every connection of this peer, for shutdown. */
  connections(): WsConnection[] {
    const all = [...this.retiring];
    if (this.active) all.push(this.active);
    if (this.dialing) all.push(this.dialing);
    return all;
  }
}
