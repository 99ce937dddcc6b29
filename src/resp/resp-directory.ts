import { createHash } from 'node:crypto';
import type { ClusterConfigReader } from '../cluster/view-source.js';
import type { RespNodeAddress } from './backend.js';

/**
 * Where each member's RESP port is, so any node can answer CLUSTER SLOTS and -MOVED
 * for the others. Each node publishes `host:port` under its own config key
 * (`resp.address.<node id>`) in the coordinator's replicated config when its RESP
 * server starts; every member reads it from its committed config. Membership still
 * comes only from the view: a key of a node that left is simply never consulted, and
 * a node that restarts on another port overwrites its key.
 */

/** Prefix of the per-node config keys. */
export const RESP_ADDRESS_KEY_PREFIX = 'resp.address.';

/** The config key holding `nodeId`'s RESP address. */
export function respAddressKey(nodeId: string): string {
  return `${RESP_ADDRESS_KEY_PREFIX}${nodeId}`;
}

/** Longest `host:port` accepted from the config. */
const MAX_ADDRESS_LENGTH = 1024;

/**
 * The Redis-visible id of a shoal node: 40 lowercase hex characters, as Redis tools
 * expect, derived from the shoal id (its SHA-1) so every member computes the same.
 */
export function redisNodeId(nodeId: string): string {
  return createHash('sha1').update(nodeId).digest('hex');
}

/** Reads members' published RESP addresses; caches the derived ids. */
export class RespDirectory {
  private readonly config: ClusterConfigReader;
  private readonly ids = new Map<string, string>();

  constructor(config: ClusterConfigReader) {
    this.config = config;
  }

  /** The Redis-visible id of `nodeId` (cached). */
  idOf(nodeId: string): string {
    let id = this.ids.get(nodeId);
    if (id === undefined) {
      id = redisNodeId(nodeId);
      // The map only grows with distinct members seen; bound it anyway.
      if (this.ids.size >= MAX_CACHED_IDS) this.ids.clear();
      this.ids.set(nodeId, id);
    }
    return id;
  }

  /** Where Redis clients reach `nodeId`, or `undefined` when it publishes no RESP port. */
  addressOf(nodeId: string): RespNodeAddress | undefined {
    const published = this.config.get(respAddressKey(nodeId));
    if (typeof published !== 'string' || published.length > MAX_ADDRESS_LENGTH) return undefined;
    const colon = published.lastIndexOf(':');
    if (colon <= 0) return undefined;
    const port = Number(published.slice(colon + 1));
    if (!Number.isInteger(port) || port <= 0 || port > 65535) return undefined;
    return { id: this.idOf(nodeId), host: published.slice(0, colon), port };
  }
}

/** Most node ids whose Redis id is cached. */
const MAX_CACHED_IDS = 65_536;
