import { PARTITION_COUNT, partitionOf } from '../ring/partitioner.js';
import type { LruStore } from '../store/lru-store.js';
import type { NodeId } from '../transport/transport.js';
import type { Logger } from '../util/logger.js';
import type { Scheduler, TimerHandle } from '../util/scheduler.js';
import { ReplicaNotSyncedError, StaleViewError } from './errors.js';
import { entrySize } from './key-ops.js';
import {
  decodePartitions,
  decodeVersions,
  encodePartitions,
  isErrorReply,
  type WireItem,
} from './messages.js';
import type { PartitionStates } from './partition-states.js';
import type { Placement } from './placement.js';
import { fromBytes, type StoredValue } from './value-codec.js';

/**
 * A backup whose primary refused partitions (not active yet) asks again after this many
 * retry delays, unless the primary asks for it first.
 */
const PRIMARY_WAIT_FACTOR = 10;
/** Sessions started out of plan for partitions with waiting writes, at most, at once. */
const URGENT_SESSIONS = 8;

/** Limits and timing of the pulling side of handoff. */
export interface HandoffOptions {
  /** Most partitions one session covers (writes to them wait until it completes). */
  readonly maxPartitionsPerSession: number;
  /** Most sessions this node pulls at once. */
  readonly maxConcurrentSessions: number;
  /** Timeout of one probe, session open or chunk request. */
  readonly requestTimeoutMs: number;
  /** Delay before retrying partitions whose sync failed or could not start. */
  readonly retryDelayMs: number;
  /** Most replication items a syncing backup buffers per session; more restart the sync. */
  readonly maxBufferedItemsPerSession: number;
  /**
   * Choose a new primary's source by watermark (the copy that received the most of the
   * stream, this node's own included) instead of by completeness: for write concerns
   * below `all`, where a backup may have missed acknowledged writes without knowing.
   */
  readonly byWatermark: boolean;
}

/** What handoff needs from its node. */
export interface HandoffHost {
  readonly nodeId: NodeId;
  placement(): Placement | undefined;
  request(peer: NodeId, message: unknown, timeoutMs: number): Promise<unknown>;
  send(peer: NodeId, message: unknown): void;
  /**
   * Primary partitions now hold a complete copy: pulled from `source`, or, without
   * one, this node's own copy was the best there is.
   */
  primarySynced(partitions: readonly number[], source: NodeId | undefined): void;
  /** Backup partitions are now in their primary's stream under `sid`. */
  backupSynced(partitions: readonly number[], sid: string): void;
}

/** Handoff progress, as `stats()` reports it. */
export interface HandoffStats {
  /** Partitions this node still has to pull (as primary or backup). */
  partitionsPending: number;
  /** Partitions pulled to completion since start. */
  partitionsSynced: number;
  /** Gained primary partitions no member held a complete copy of (activated as they were). */
  partitionsWithoutSource: number;
  /** Sessions pulling now. */
  sessionsActive: number;
  /** Sessions that failed and were retried. */
  sessionsFailed: number;
  keysReceived: number;
  bytesReceived: number;
}

interface BufferedBatch {
  readonly items: WireItem[];
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

class PullSession {
  readonly sid: string;
  readonly source: NodeId;
  readonly epoch: number;
  readonly backup: boolean;
  partitions: number[];
  readonly seen = new Set<string>();
  readonly buffered: BufferedBatch[] = [];
  bufferedItems = 0;
  cancelled = false;
  readonly urgent: boolean;

  constructor(
    sid: string,
    source: NodeId,
    epoch: number,
    backup: boolean,
    partitions: number[],
    urgent: boolean,
  ) {
    this.urgent = urgent;
    this.sid = sid;
    this.source = source;
    this.epoch = epoch;
    this.backup = backup;
    this.partitions = partitions;
  }
}

/**
 * The pulling side of handoff. After a view change a node may have to copy
 * partitions: as their new primary when its copy is not complete, or as a backup
 * whose copy is not in its primary's stream. This class plans and runs those copies:
 *
 * - Primary partitions: it first probes every other member of the view ("which of
 *   these partitions do you hold completely?"). A member answers only once it is in
 *   the same view, so by the time every member has answered, the previous primary
 *   has stopped serving the partition: that is what makes it safe to activate here.
 *   It then pulls each partition from a member with a complete copy (preferring one
 *   that stays a backup, which can then skip its own resync). If no member holds a
 *   complete copy, the partition is activated with what this node has, and counted.
 * - Backup partitions: it pulls from the partition's primary once that is active.
 *   The primary puts this node in the partition's stream when the session opens; live
 *   writes that arrive meanwhile are buffered and acknowledged only when the copy is
 *   complete, so writeConcern `all` keeps meaning "every owner has it".
 *
 * A copy replaces what the node held: entries come in with their versions, the
 * buffered writes are applied on top by version, and whatever the node held in the
 * partition that the source did not send is deleted at the end. So replicas converge
 * to their primary without tombstones. Sessions are pulled one chunk at a time.
 */
export class Handoff {
  private readonly host: HandoffHost;
  private readonly store: LruStore<StoredValue>;
  private readonly states: PartitionStates;
  private readonly scheduler: Scheduler;
  private readonly logger: Logger;
  private readonly options: HandoffOptions;
  private readonly sidPrefix: string;
  private sidCounter = 0;
  private readonly primaryPending = new Set<number>();
  private readonly backupPending = new Set<number>();
  private readonly sessionOf: (PullSession | undefined)[] = new Array(PARTITION_COUNT);
  private readonly sessions = new Set<PullSession>();
  /** Primaries that refused some partitions (not active yet): asked again only after this. */
  private readonly primaryNotBeforeMs = new Map<NodeId, number>();
  private probing = false;
  private urgentSessions = 0;
  private planTimer: TimerHandle | undefined;
  private planAtMs = Number.POSITIVE_INFINITY;
  private closed = false;
  private partitionsSynced = 0;
  private partitionsWithoutSource = 0;
  private sessionsFailed = 0;
  private keysReceived = 0;
  private bytesReceived = 0;

  constructor(
    host: HandoffHost,
    store: LruStore<StoredValue>,
    states: PartitionStates,
    scheduler: Scheduler,
    logger: Logger,
    options: HandoffOptions,
    incarnation: number,
  ) {
    this.host = host;
    this.store = store;
    this.states = states;
    this.scheduler = scheduler;
    this.logger = logger;
    this.options = options;
    this.sidPrefix = `${host.nodeId}:${incarnation.toString(36)}:`;
  }

  /**
   * A new view: every session (for the old view) is abandoned, and the partitions to
   * pull are replaced by these.
   */
  reset(primaryPartitions: readonly number[], backupPartitions: readonly number[]): void {
    for (const session of [...this.sessions]) {
      this.endSession(
        session,
        new StaleViewError(session.epoch, this.host.placement()?.epoch ?? 0),
      );
    }
    this.primaryPending.clear();
    this.backupPending.clear();
    this.primaryNotBeforeMs.clear();
    for (const p of primaryPartitions) this.primaryPending.add(p);
    for (const p of backupPartitions) this.backupPending.add(p);
    this.schedule(0);
  }

  /** Adds backup partitions to pull in the current view (their stream was dropped). */
  resyncBackup(partitions: readonly number[]): void {
    let added = false;
    for (const p of partitions) {
      const session = this.sessionOf[p];
      if (session !== undefined) {
        // The primary dropped us while we were copying: this copy cannot complete.
        this.endSession(session, new ReplicaNotSyncedError(this.host.nodeId, p));
      }
      if (!this.backupPending.has(p)) {
        this.backupPending.add(p);
        added = true;
      }
    }
    if (added) this.schedule(0);
  }

  /** Whether `partition` is waiting to be pulled as a backup with no session yet. */
  isWaitingAsBackup(partition: number): boolean {
    return this.backupPending.has(partition) && this.sessionOf[partition] === undefined;
  }

  /** Takes a backup partition out of the plan (it was adopted into the stream). */
  adopted(partition: number): void {
    this.backupPending.delete(partition);
  }

  /**
   * Asks for a planning round soon (a primary became active, a peer came back). With
   * `primary`, that primary's partitions are asked for again at once: it just said it
   * wants this node in its stream.
   */
  nudge(primary?: NodeId): void {
    if (primary !== undefined) this.primaryNotBeforeMs.delete(primary);
    if (this.primaryPending.size + this.backupPending.size > 0) this.schedule(0);
  }

  /**
   * Writes wait for these backup partitions: pull the ones not yet being copied in a
   * session of their own right away, beside the planned ones (at most
   * `URGENT_SESSIONS` such sessions at once).
   */
  expedite(partitions: readonly number[]): void {
    const placement = this.host.placement();
    if (placement === undefined || this.closed || this.urgentSessions >= URGENT_SESSIONS) return;
    const byPrimary = new Map<NodeId, number[]>();
    for (const p of partitions) {
      if (!this.backupPending.has(p) || this.sessionOf[p] !== undefined) continue;
      const primary = placement.primaryOf(p);
      let list = byPrimary.get(primary);
      if (list === undefined) {
        list = [];
        byPrimary.set(primary, list);
      }
      list.push(p);
    }
    for (const [primary, list] of byPrimary) {
      if (this.urgentSessions >= URGENT_SESSIONS) return;
      this.startSession(placement.epoch, primary, true, list, true);
    }
  }

  /** Sessions started by planning (urgent ones do not count against the limit). */
  private plannedSessions(): number {
    return this.sessions.size - this.urgentSessions;
  }

  /** Partitions still to pull, as primary or backup. */
  pendingCount(): number {
    return this.primaryPending.size + this.backupPending.size;
  }

  /**
   * A live replication batch for a backup partition that is being copied: buffered,
   * and acknowledged once the copy completes. Rejects when the batch belongs to
   * another stream.
   */
  buffer(partition: number, sid: string, items: WireItem[]): Promise<void> {
    const session = this.sessionOf[partition];
    if (session === undefined || !session.backup || session.sid !== sid) {
      return Promise.reject(new ReplicaNotSyncedError(this.host.nodeId, partition));
    }
    if (session.bufferedItems + items.length > this.options.maxBufferedItemsPerSession) {
      const error = new ReplicaNotSyncedError(this.host.nodeId, partition);
      this.endSession(session, error);
      this.scheduleRetry();
      return Promise.reject(error);
    }
    session.bufferedItems += items.length;
    return new Promise<void>((resolve, reject) => {
      session.buffered.push({ items, resolve, reject });
    });
  }

  /** Whether the session with `sid` is copying `partition` as a backup. */
  isCopying(partition: number, sid: string): boolean {
    const session = this.sessionOf[partition];
    return session?.backup === true && session.sid === sid;
  }

  close(): void {
    this.closed = true;
    if (this.planTimer !== undefined) this.scheduler.clearTimeout(this.planTimer);
    for (const session of [...this.sessions]) {
      this.endSession(session, new StaleViewError(session.epoch, session.epoch));
    }
    this.primaryPending.clear();
    this.backupPending.clear();
  }

  stats(): HandoffStats {
    return {
      partitionsPending: this.primaryPending.size + this.backupPending.size,
      partitionsSynced: this.partitionsSynced,
      partitionsWithoutSource: this.partitionsWithoutSource,
      sessionsActive: this.sessions.size,
      sessionsFailed: this.sessionsFailed,
      keysReceived: this.keysReceived,
      bytesReceived: this.bytesReceived,
    };
  }

  // ---- planning -------------------------------------------------------------------

  private schedule(delayMs: number): void {
    if (this.closed) return;
    const at = this.scheduler.now() + delayMs;
    if (this.planTimer !== undefined) {
      if (at >= this.planAtMs) return;
      this.scheduler.clearTimeout(this.planTimer);
    }
    this.planAtMs = at;
    this.planTimer = this.scheduler.setTimeout(() => {
      this.planTimer = undefined;
      this.planAtMs = Number.POSITIVE_INFINITY;
      this.plan();
    }, delayMs);
  }

  private scheduleRetry(): void {
    this.schedule(this.options.retryDelayMs);
  }

  private plan(): void {
    const placement = this.host.placement();
    if (this.closed || placement === undefined) return;
    this.planBackups(placement);
    if (!this.probing) {
      const unassigned = [...this.primaryPending].filter((p) => this.sessionOf[p] === undefined);
      if (unassigned.length > 0) void this.probeAndPull(placement, unassigned);
    }
  }

  private planBackups(placement: Placement): void {
    const now = this.scheduler.now();
    const byPrimary = new Map<NodeId, number[]>();
    let wakeAtMs = Number.POSITIVE_INFINITY;
    for (const p of this.backupPending) {
      if (this.sessionOf[p] !== undefined) continue;
      const primary = placement.primaryOf(p);
      const notBefore = this.primaryNotBeforeMs.get(primary);
      if (notBefore !== undefined && notBefore > now) {
        wakeAtMs = Math.min(wakeAtMs, notBefore);
        continue;
      }
      let list = byPrimary.get(primary);
      if (list === undefined) {
        list = [];
        byPrimary.set(primary, list);
      }
      list.push(p);
    }
    for (const [primary, partitions] of byPrimary) {
      for (let i = 0; i < partitions.length; i += this.options.maxPartitionsPerSession) {
        if (this.plannedSessions() >= this.options.maxConcurrentSessions) return;
        const chunk = partitions.slice(i, i + this.options.maxPartitionsPerSession);
        this.startSession(placement.epoch, primary, true, chunk);
      }
    }
    if (wakeAtMs !== Number.POSITIVE_INFINITY) this.schedule(wakeAtMs - now);
  }

  private async probeAndPull(placement: Placement, partitions: number[]): Promise<void> {
    this.probing = true;
    const epoch = placement.epoch;
    const others = placement.members.filter((member) => member.id !== this.host.nodeId);
    const complete = new Map<NodeId, Set<number>>();
    const watermarks = new Map<NodeId, Float64Array>();
    let allAnswered = true;
    try {
      await Promise.all(
        others.map(async (member) => {
          try {
            const reply = await this.host.request(
              member.id,
              {
                t: 'probe',
                e: epoch,
                ps: encodePartitions(partitions),
                ...(this.options.byWatermark ? { w: true } : {}),
              },
              this.options.requestTimeoutMs,
            );
            const list = decodePartitions((reply as { complete?: unknown } | undefined)?.complete);
            if (isErrorReply(reply) || list === undefined) {
              allAnswered = false;
              return;
            }
            complete.set(member.id, new Set(list));
            if (this.options.byWatermark) {
              const wm = decodeVersions((reply as { wm?: unknown }).wm, partitions.length);
              if (wm === undefined) allAnswered = false;
              else watermarks.set(member.id, wm);
            }
          } catch {
            allAnswered = false;
          }
        }),
      );
    } finally {
      this.probing = false;
    }
    const current = this.host.placement();
    if (this.closed || current === undefined) return;
    if (current.epoch !== epoch) {
      // A newer view arrived mid-probe; its plan was deferred while this probe ran.
      this.nudge();
      return;
    }
    if (!allAnswered) {
      // Every member must answer: the silent one may be the previous primary, still
      // serving. Its session will expire (a new view) or it will answer next time.
      this.scheduleRetry();
      return;
    }
    const bySource = new Map<NodeId, number[]>();
    const withoutSource: number[] = [];
    const ownIsBest: number[] = [];
    for (let i = 0; i < partitions.length; i++) {
      const p = partitions[i]!;
      if (!this.primaryPending.has(p) || this.sessionOf[p] !== undefined) continue;
      let source: NodeId | undefined;
      if (this.options.byWatermark) {
        source = highestWatermark(watermarks, i, this.states.maxVersion[p]!);
        if (source === undefined) {
          ownIsBest.push(p);
          continue;
        }
      } else {
        source = chooseSource(current, p, complete);
      }
      if (source === undefined) {
        withoutSource.push(p);
        continue;
      }
      let list = bySource.get(source);
      if (list === undefined) {
        list = [];
        bySource.set(source, list);
      }
      list.push(p);
    }
    if (ownIsBest.length > 0) {
      for (const p of ownIsBest) this.primaryPending.delete(p);
      this.partitionsSynced += ownIsBest.length;
      this.host.primarySynced(ownIsBest, undefined);
    }
    if (withoutSource.length > 0) {
      for (const p of withoutSource) this.primaryPending.delete(p);
      this.partitionsWithoutSource += withoutSource.length;
      this.partitionsSynced += withoutSource.length;
      if (others.length > 0) {
        this.logger.warn('activating partitions no member holds a complete copy of', {
          partitions: withoutSource.length,
          epoch,
        });
      }
      this.host.primarySynced(withoutSource, undefined);
    }
    let deferred = false;
    for (const [source, list] of bySource) {
      for (let i = 0; i < list.length; i += this.options.maxPartitionsPerSession) {
        if (this.plannedSessions() >= this.options.maxConcurrentSessions) {
          deferred = true;
          break;
        }
        this.startSession(
          epoch,
          source,
          false,
          list.slice(i, i + this.options.maxPartitionsPerSession),
        );
      }
    }
    if (deferred) this.scheduleRetry();
  }

  // ---- sessions -------------------------------------------------------------------

  private startSession(
    epoch: number,
    source: NodeId,
    backup: boolean,
    partitions: number[],
    urgent = false,
  ): void {
    const sid = `${this.sidPrefix}${(this.sidCounter++).toString(36)}`;
    const session = new PullSession(sid, source, epoch, backup, partitions, urgent);
    if (urgent) this.urgentSessions++;
    this.sessions.add(session);
    for (const p of partitions) this.sessionOf[p] = session;
    void this.run(session);
  }

  private async run(session: PullSession): Promise<void> {
    try {
      const opened = await this.host.request(
        session.source,
        {
          t: 'sopen',
          e: session.epoch,
          sid: session.sid,
          ps: encodePartitions(session.partitions),
          backup: session.backup,
        },
        this.options.requestTimeoutMs,
      );
      if (session.cancelled) return;
      const accepted = decodePartitions((opened as { ps?: unknown } | undefined)?.ps);
      if (isErrorReply(opened) || accepted === undefined) {
        throw new Error(isErrorReply(opened) ? opened.c : 'malformed sopen reply');
      }
      const acceptedSet = new Set(accepted);
      const refused = session.partitions.filter((p) => !acceptedSet.has(p));
      if (refused.length > 0) {
        for (const p of refused) this.sessionOf[p] = undefined;
        session.partitions = session.partitions.filter((p) => acceptedSet.has(p));
        if (session.backup) {
          // The primary is not active for these yet; it asks for them (needsync) once it is.
          this.primaryNotBeforeMs.set(
            session.source,
            this.scheduler.now() + this.options.retryDelayMs * PRIMARY_WAIT_FACTOR,
          );
        }
        this.scheduleRetry();
      }
      if (session.partitions.length === 0) {
        this.finishEmpty(session);
        return;
      }
      const mask = new Uint8Array(PARTITION_COUNT);
      for (const p of session.partitions) mask[p] = 1;
      for (;;) {
        const reply = await this.host.request(
          session.source,
          { t: 'spull', sid: session.sid },
          this.options.requestTimeoutMs,
        );
        if (session.cancelled) return;
        const chunk = reply as { items?: unknown; done?: unknown; wm?: unknown } | undefined;
        if (isErrorReply(reply) || chunk === undefined || !Array.isArray(chunk.items)) {
          throw new Error(isErrorReply(reply) ? reply.c : 'malformed chunk');
        }
        this.applyChunk(session, mask, chunk.items as WireItem[]);
        if (chunk.done === true) {
          this.applyWatermarks(mask, chunk.wm);
          break;
        }
      }
      this.complete(session, mask);
    } catch (error) {
      if (session.cancelled) return;
      this.sessionsFailed++;
      this.logger.debug('handoff session failed; retrying', {
        source: session.source,
        partitions: session.partitions.length,
        reason: error instanceof Error ? error.message : String(error),
      });
      this.endSession(
        session,
        new ReplicaNotSyncedError(this.host.nodeId, session.partitions[0] ?? 0),
      );
      this.scheduleRetry();
    }
  }

  private applyChunk(session: PullSession, mask: Uint8Array, items: readonly WireItem[]): void {
    for (const item of items) {
      if (!Array.isArray(item) || item.length !== 4) continue;
      const [key, bytes, ttl, version] = item;
      if (typeof key !== 'string' || !(bytes instanceof Uint8Array)) continue;
      if (typeof version !== 'number' || typeof ttl !== 'number') continue;
      const p = partitionOf(key);
      if (mask[p] !== 1) continue;
      const value = fromBytes(bytes);
      try {
        this.store.set(key, value, {
          size: entrySize(key, value),
          ttlMs: ttl > 0 ? ttl : undefined,
          version,
        });
      } catch (error) {
        this.logger.warn('handoff entry not stored', {
          reason: error instanceof Error ? error.message : String(error),
        });
        continue;
      }
      session.seen.add(key);
      this.states.noteVersion(p, version);
      this.keysReceived++;
      this.bytesReceived += bytes.byteLength;
    }
  }

  /** The source's watermarks: the copy now holds the stream up to them. */
  private applyWatermarks(mask: Uint8Array, wm: unknown): void {
    if (!Array.isArray(wm)) return;
    for (const entry of wm) {
      if (!Array.isArray(entry) || entry.length !== 2) continue;
      const [p, version] = entry as [unknown, unknown];
      if (typeof p !== 'number' || typeof version !== 'number' || mask[p] !== 1) continue;
      if (Number.isFinite(version)) this.states.noteVersion(p, version);
    }
  }

  private complete(session: PullSession, mask: Uint8Array): void {
    if (session.backup) {
      for (const batch of session.buffered) {
        for (const item of batch.items) {
          applyReplicated(this.store, this.states, item);
          session.seen.add(item[0]);
        }
      }
    }
    const stale: string[] = [];
    for (const entry of this.store.entries((key) => mask[partitionOf(key)] === 1)) {
      if (!session.seen.has(entry.key)) stale.push(entry.key);
    }
    for (const key of stale) this.store.delete(key);
    const partitions = session.partitions;
    this.detach(session);
    for (const p of partitions) {
      if (session.backup) this.backupPending.delete(p);
      else this.primaryPending.delete(p);
    }
    this.partitionsSynced += partitions.length;
    if (session.backup) this.host.backupSynced(partitions, session.sid);
    else this.host.primarySynced(partitions, session.source);
    for (const batch of session.buffered) batch.resolve();
    this.nudge();
  }

  private finishEmpty(session: PullSession): void {
    this.detach(session);
    this.host.send(session.source, { t: 'sclose', sid: session.sid });
  }

  private endSession(session: PullSession, error: Error): void {
    if (session.cancelled) return;
    session.cancelled = true;
    this.detach(session);
    for (const batch of session.buffered) batch.reject(error);
    this.host.send(session.source, { t: 'sclose', sid: session.sid });
  }

  private detach(session: PullSession): void {
    if (!this.sessions.delete(session)) return;
    if (session.urgent) this.urgentSessions--;
    for (const p of session.partitions) {
      if (this.sessionOf[p] === session) this.sessionOf[p] = undefined;
    }
  }
}

/**
 * Applies one replicated item by version: a newer value replaces an older one; a
 * removal (null bytes) deletes only an entry older than itself.
 */
export function applyReplicated(
  store: LruStore<StoredValue>,
  states: PartitionStates,
  item: WireItem,
): void {
  const [key, bytes, ttl, version] = item;
  const p = partitionOf(key);
  if (bytes === null) {
    const entry = store.getEntry(key);
    if (entry !== undefined && entry.version < version) store.delete(key);
  } else {
    const value = fromBytes(bytes);
    store.setIfNewer(key, value, {
      size: entrySize(key, value),
      ttlMs: ttl > 0 ? ttl : undefined,
      version,
    });
  }
  states.noteVersion(p, version);
}

/**
 * The member whose copy of the `index`-th probed partition has the highest watermark,
 * or `undefined` when none beats this node's own (`own`). Ties go to this node, then
 * to the lowest id.
 */
function highestWatermark(
  watermarks: ReadonlyMap<NodeId, Float64Array>,
  index: number,
  own: number,
): NodeId | undefined {
  let best: NodeId | undefined;
  let bestMark = own;
  for (const [id, marks] of watermarks) {
    const mark = marks[index]!;
    if (mark <= bestMark) {
      if (mark === bestMark && best !== undefined && id < best) best = id;
      continue;
    }
    best = id;
    bestMark = mark;
  }
  return best;
}

/** A member holding `p` completely, preferring one that stays an owner of `p`. */
function chooseSource(
  placement: Placement,
  partition: number,
  complete: ReadonlyMap<NodeId, ReadonlySet<number>>,
): NodeId | undefined {
  let best: NodeId | undefined;
  let bestIsOwner = false;
  for (const [id, partitions] of complete) {
    if (!partitions.has(partition)) continue;
    const isOwner = placement.rankOf(id, partition) > 0;
    if (best === undefined || (isOwner && !bestIsOwner) || (isOwner === bestIsOwner && id < best)) {
      best = id;
      bestIsOwner = isOwner;
    }
  }
  return best;
}
