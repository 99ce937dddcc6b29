import type { NodeId } from '../transport/transport.js';
import { isZxid } from './zxid.js';

/**
 * The commands the replicated log carries, applied by `ClusterState` in commit order
 * on every node. They are plain msgpackr-encodable objects because they travel in
 * messages and are written to storage as they are.
 */

/** Longest node id, advertised address and config key accepted anywhere in the log. */
export const MAX_ID_LENGTH = 256;
export const MAX_ADDRESS_LENGTH = 1024;
export const MAX_CONFIG_KEY_LENGTH = 256;

/**
 * The first entry of a history, proposed by a leader that starts from nothing. Its
 * random id lets a node tell "a different history" from "the same history, further
 * along": two ensembles that both lost every voter's memory reuse small zxids.
 */
export interface GenesisEntry {
  readonly type: 'genesis';
  readonly historyId: number;
}

/** A member's session started: `id` is reachable at `address` until the session ends. */
export interface JoinEntry {
  readonly type: 'join';
  readonly id: NodeId;
  readonly address: string;
  readonly sessionId: number;
}

/** Why a session ended. */
export type LeaveReason = 'expired' | 'stopped';

/** A member's session ended. A leave naming an older session than the current one is a no-op. */
export interface LeaveEntry {
  readonly type: 'leave';
  readonly id: NodeId;
  readonly sessionId: number;
  readonly reason: LeaveReason;
}

/**
 * Sets a config key. With `ifVersion` it is a compare-and-set on the key's version
 * (0 means "the key must not exist"); a failed comparison commits as a no-op whose
 * result says so.
 */
export interface ConfigSetEntry {
  readonly type: 'configSet';
  readonly key: string;
  readonly value: unknown;
  readonly ifVersion?: number;
}

/** Every command the log can carry. */
export type EntryData = GenesisEntry | JoinEntry | LeaveEntry | ConfigSetEntry;

/** What a caller may propose; membership entries are the leader's own business. */
export type ProposalCommand = ConfigSetEntry;

/** One entry of the replicated log. */
export interface LogEntry {
  readonly zxid: number;
  readonly data: EntryData;
}

function isShortString(value: unknown, maxLength: number): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= maxLength;
}

function isSessionId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Whether `value` is a usable node id. */
export function isNodeId(value: unknown): value is NodeId {
  return isShortString(value, MAX_ID_LENGTH);
}

/** Whether `value` is a usable config key. */
export function isConfigKey(value: unknown): value is string {
  return isShortString(value, MAX_CONFIG_KEY_LENGTH);
}

/** Whether `value` is a usable config version (for `ifVersion`). */
export function isVersion(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Validates entry data received from a peer or read back from storage. Returns a
 * fresh, well-formed object or `undefined`.
 */
export function parseEntryData(value: unknown): EntryData | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const data = value as Record<string, unknown>;
  switch (data.type) {
    case 'genesis':
      return isSessionId(data.historyId)
        ? { type: 'genesis', historyId: data.historyId }
        : undefined;
    case 'join':
      if (!isNodeId(data.id) || !isShortString(data.address, MAX_ADDRESS_LENGTH)) return undefined;
      if (!isSessionId(data.sessionId)) return undefined;
      return { type: 'join', id: data.id, address: data.address, sessionId: data.sessionId };
    case 'leave':
      if (!isNodeId(data.id) || !isSessionId(data.sessionId)) return undefined;
      if (data.reason !== 'expired' && data.reason !== 'stopped') return undefined;
      return { type: 'leave', id: data.id, sessionId: data.sessionId, reason: data.reason };
    case 'configSet': {
      if (!isConfigKey(data.key)) return undefined;
      if (data.ifVersion !== undefined && data.ifVersion !== null && !isVersion(data.ifVersion)) {
        return undefined;
      }
      const ifVersion = typeof data.ifVersion === 'number' ? data.ifVersion : undefined;
      return ifVersion === undefined
        ? { type: 'configSet', key: data.key, value: data.value }
        : { type: 'configSet', key: data.key, value: data.value, ifVersion };
    }
    default:
      return undefined;
  }
}

/** Validates one log entry (zxid and data). */
export function parseLogEntry(value: unknown): LogEntry | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const entry = value as Record<string, unknown>;
  if (!isZxid(entry.zxid) || entry.zxid === 0) return undefined;
  const data = parseEntryData(entry.data);
  return data === undefined ? undefined : { zxid: entry.zxid, data };
}
