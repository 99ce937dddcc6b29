import type { NodeId } from '../transport/transport.js';
import type { ApplyResult } from './cluster-state.js';
import type { EntryData, LogEntry } from './entries.js';
import type { CoordMessage } from './messages.js';
import type { PersistedMeta, PersistedSnapshot } from './storage.js';

/** A message the driver must send (best effort; the protocol tolerates loss). */
export interface OutboundMessage {
  readonly to: NodeId;
  readonly message: CoordMessage;
}

/** One entry newly committed and applied, with what applying it did. */
export interface CommittedEntry {
  readonly zxid: number;
  readonly data: EntryData;
  readonly result: ApplyResult;
}

/** The role as the public API reports it. */
export type CoordRole = 'leader' | 'follower' | 'learner' | 'looking';

/**
 * What the core's durable state will be once this Ready's writes are done; the core
 * trusts it only when `advance` hands the Ready back.
 */
export interface PersistToken {
  readonly generation: number;
  /** The log's last zxid once this Ready's log writes are done; undefined without log writes. */
  readonly lastZxid: number | undefined;
  readonly meta: PersistedMeta | undefined;
  readonly snapshotZxid: number | undefined;
}

/**
 * Everything the core wants done since the last `ready()`, in the style of etcd
 * raft's Ready. The driver:
 * 1. sends `messages` (they never promise durability, so they may go at once);
 * 2. persists, in this order: `truncateAfter`, `snapshot`, `entriesToPersist`,
 *    `metaToPersist` (entries before meta: a node must never claim an epoch whose
 *    history it has not stored);
 * 3. calls `advance(ready)` when those writes are durable (at once without storage
 *    or when the Ready has no writes); Readies with writes complete in the order
 *    they were taken. Acknowledgements that promise durability are produced only
 *    then, and come out in a later Ready;
 * 4. reports `committed` (already applied to the core's state) to its listeners.
 */
export interface Ready {
  readonly messages: readonly OutboundMessage[];
  readonly truncateAfter: number | undefined;
  readonly snapshot: PersistedSnapshot | undefined;
  readonly entriesToPersist: readonly LogEntry[];
  readonly metaToPersist: PersistedMeta | undefined;
  /** Entries newly committed, in zxid order. */
  readonly committed: readonly CommittedEntry[];
  /** A snapshot from the leader replaced the whole state (listeners must re-read it). */
  readonly stateReset: boolean;
  readonly role: CoordRole;
  readonly leader: NodeId | undefined;
  /** Whether `role` or `leader` differ from the previous Ready. */
  readonly roleChanged: boolean;
  /** For `advance`; opaque to the driver. */
  readonly token: PersistToken;
}

/** Whether the driver has anything to write for this Ready. */
export function mustPersist(ready: Ready): boolean {
  return (
    ready.truncateAfter !== undefined ||
    ready.snapshot !== undefined ||
    ready.entriesToPersist.length > 0 ||
    ready.metaToPersist !== undefined
  );
}
