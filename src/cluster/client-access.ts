/**
 * What a client-role connection (one that proved only the client credential, not the
 * cluster secret) may send on the cache channel: cache operations, the read-only
 * requests a client needs to route them, and `getOrLoad`'s lease requests (a client
 * can complete only a lease it holds: the primary checks the holder is the sender).
 * Replication (`repl`), probes and handoff streams, `pkeys` (count or flush a member's
 * keys), `seed` (a draining node's hand-over), one-way node messages and cluster config
 * changes need the cluster secret;
 * the transport refuses them from clients with `ERR_FORBIDDEN` before this node's
 * handlers see them.
 */
import type { Message } from '../transport/transport.js';

/** Cache-channel request types a client-role peer may send. */
export const CLIENT_REQUEST_TYPES: ReadonlySet<string> = new Set([
  'op',
  'ops',
  'view',
  'status',
  'configGet',
  'load',
  'loaded',
  'loadFail',
]);

/** `ChannelHandlers.admitFromClient` of the cache channel. */
export function admitCacheRequestFromClient(message: Message): boolean {
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return false;
  const type = (message as { t?: unknown }).t;
  return typeof type === 'string' && CLIENT_REQUEST_TYPES.has(type);
}
