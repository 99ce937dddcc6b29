import { PARTITION_COUNT } from '../ring/partitioner.js';
import type { NodeId } from '../transport/transport.js';
import type { Scheduler, TimerHandle } from '../util/scheduler.js';
import { encodePartitions } from './messages.js';
import type { Placement } from './placement.js';

/** What a {@link StreamKeeper} needs from its node. */
export interface StreamKeeperHost {
  readonly nodeId: NodeId;
  placement(): Placement | undefined;
  isActivePrimary(partition: number): boolean;
  streamOf(partition: number, backup: NodeId): string | undefined;
  /** Whether a handoff session is still copying `partition` from this node. */
  isServing(partition: number): boolean;
  isConnected(peer: NodeId): boolean;
  send(peer: NodeId, message: unknown): void;
}

/** A partition's standing with its keeper. */
const SETTLED = 0;
/** Some backup is not in the stream: it is asked to resync. */
const MISSING = 1;
/** Every backup is in, but a copy is still running: the release waits for it. */
const COPYING = 2;
/** Stale entries tolerated in the unsettled list before it is compacted. */
const COMPACT_SLACK = 64;
/** Longest pause between two repetitions of the releases (they back off up to this). */
export const MAX_RELEASE_REPEAT_MS = 30_000;

/**
 * Keeps the backups of this node's primary partitions in their replication streams:
 * a backup missing from a stream is asked to resync (`needsync`, repeated every
 * `hintIntervalMs` while it is missing and connected, and at once when it reconnects), and once every backup of a partition is in
 * the stream and no copy of it is in progress, the other members are told they may
 * drop their old copies (`release`). A release is one-way and may be lost (with its
 * connection, or on a lossy link), so the released partitions are sent again to a
 * peer when it reconnects, and to every member at backing-off intervals (from the hint
 * interval up to {@link MAX_RELEASE_REPEAT_MS}, reset by each view change). Receivers
 * act only on copies they still hold, so a repeat costs them a bitmap check.
 *
 * Work is driven by marks: only partitions whose state changed are re-examined, so a
 * view change costs one pass over the partitions it moved and the steady state costs
 * nothing. Per-partition state lives in typed arrays (a view change can touch all
 * 16384 partitions).
 */
export class StreamKeeper {
  private readonly host: StreamKeeperHost;
  private readonly scheduler: Scheduler;
  private readonly hintIntervalMs: number;
  private readonly dirtyFlag = new Uint8Array(PARTITION_COUNT);
  private dirty: number[] = [];
  private readonly standing = new Uint8Array(PARTITION_COUNT);
  /** Partitions whose standing is not SETTLED (may hold settled ones until the next tick). */
  private unsettled: number[] = [];
  private readonly listed = new Uint8Array(PARTITION_COUNT);
  private unsettledCount = 0;
  private readonly releasedEpoch = new Float64Array(PARTITION_COUNT).fill(-1);
  private readonly urgentAtMs = new Float64Array(PARTITION_COUNT).fill(Number.NEGATIVE_INFINITY);
  private readonly hintedAtMs = new Map<NodeId, number>();
  private releaseRepeatAtMs = 0;
  private releaseRepeatDelayMs: number;
  /** Per backup, partitions it was found missing from (may hold stale entries). */
  private readonly missingByBackup = new Map<NodeId, number[]>();
  private timer: TimerHandle | undefined;
  private closed = false;

  constructor(host: StreamKeeperHost, scheduler: Scheduler, hintIntervalMs: number) {
    this.host = host;
    this.scheduler = scheduler;
    this.hintIntervalMs = hintIntervalMs;
    this.releaseRepeatDelayMs = hintIntervalMs;
  }

  /** Re-examine `partition` soon (its primary or stream state changed). */
  mark(partition: number): void {
    if (this.dirtyFlag[partition] === 0) {
      this.dirtyFlag[partition] = 1;
      this.dirty.push(partition);
    }
    this.schedule();
  }

  /**
   * A new view: the partitions whose owners or whose state here changed are examined
   * afresh; the verdicts on the others still hold.
   */
  viewChanged(changed: readonly number[]): void {
    this.releaseRepeatDelayMs = this.hintIntervalMs;
    this.releaseRepeatAtMs = this.scheduler.now() + this.hintIntervalMs;
    for (const p of changed) {
      // Only this node's primary partitions, and those it still tracks, concern it.
      if (this.standing[p] === SETTLED && !this.host.isActivePrimary(p)) continue;
      if (this.dirtyFlag[p] === 0) {
        this.dirtyFlag[p] = 1;
        this.dirty.push(p);
      }
    }
    this.schedule();
  }

  /** Whether nothing is left to do: every backup in, every release sent. */
  isIdle(): boolean {
    return this.dirty.length === 0 && this.unsettledCount === 0;
  }

  /**
   * Periodic work: once per hint interval, each connected backup still missing from
   * some streams is asked again (a request may be lost). Disconnected backups cost
   * nothing here; they are asked when they reconnect.
   */
  tick(): void {
    if (this.dirty.length > 0) this.process();
    const placement = this.host.placement();
    if (placement === undefined) return;
    const now = this.scheduler.now();
    for (const [backup, listed] of this.missingByBackup) {
      const last = this.hintedAtMs.get(backup);
      if (last !== undefined && now - last < this.hintIntervalMs) continue;
      if (!this.host.isConnected(backup)) continue;
      const still = [...new Set(listed)].filter(
        (p) =>
          this.standing[p] === MISSING &&
          placement.rankOf(backup, p) > 0 &&
          this.host.streamOf(p, backup) === undefined,
      );
      if (still.length === 0) {
        this.missingByBackup.delete(backup);
        continue;
      }
      this.missingByBackup.set(backup, still);
      this.hint(placement, backup, still, now);
    }
    if (now >= this.releaseRepeatAtMs) {
      this.releaseRepeatAtMs = now + this.releaseRepeatDelayMs;
      this.releaseRepeatDelayMs = Math.min(2 * this.releaseRepeatDelayMs, MAX_RELEASE_REPEAT_MS);
      this.repeatReleases(placement, undefined);
    }
    if (this.unsettled.length > 2 * this.unsettledCount + COMPACT_SLACK) {
      this.unsettled = this.unsettled.filter((p) => {
        if (this.standing[p] !== SETTLED) return true;
        this.listed[p] = 0;
        return false;
      });
    }
  }

  /**
   * Writes to `partition` are waiting for backups that are not in its stream: ask them
   * at once to copy this partition ahead of others (at most once per hint interval).
   */
  urgent(partition: number): void {
    this.mark(partition);
    const placement = this.host.placement();
    if (placement === undefined || !this.host.isActivePrimary(partition)) return;
    const now = this.scheduler.now();
    if (now - this.urgentAtMs[partition]! < this.hintIntervalMs) return;
    this.urgentAtMs[partition] = now;
    const owners = placement.ownersOf(partition);
    for (let rank = 1; rank < owners.length; rank++) {
      const backup = owners[rank]!;
      if (this.host.streamOf(partition, backup) !== undefined) continue;
      if (!this.host.isConnected(backup)) continue;
      this.host.send(backup, {
        t: 'needsync',
        e: placement.epoch,
        ps: encodePartitions([partition]),
        u: true,
      });
    }
  }

  /**
   * A peer came back: ask it again at the next tick for what it misses, and repeat the
   * releases it may have lost with the connection.
   */
  peerUp(peer: NodeId): void {
    this.hintedAtMs.delete(peer);
    const placement = this.host.placement();
    if (placement !== undefined && !this.closed) this.repeatReleases(placement, peer);
  }

  /**
   * Sends the releases again (to `peer`, or to every other member): every partition
   * this node is the active primary of whose backups are all in the stream, and whose
   * release was sent.
   */
  private repeatReleases(placement: Placement, peer: NodeId | undefined): void {
    const released: number[] = [];
    for (let p = 0; p < PARTITION_COUNT; p++) {
      if (
        this.releasedEpoch[p]! >= 0 &&
        this.standing[p] === SETTLED &&
        this.dirtyFlag[p] === 0 &&
        this.host.isActivePrimary(p)
      ) {
        released.push(p);
      }
    }
    if (released.length === 0) return;
    const message = { t: 'release', e: placement.epoch, ps: encodePartitions(released) };
    if (peer !== undefined) {
      if (placement.isMember(peer)) this.host.send(peer, message);
      return;
    }
    for (const member of placement.members) {
      if (member.id !== this.host.nodeId) this.host.send(member.id, message);
    }
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) this.scheduler.clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.timer !== undefined || this.closed) return;
    this.timer = this.scheduler.setTimeout(() => {
      this.timer = undefined;
      this.process();
    }, 0);
  }

  private setStanding(partition: number, standing: number): void {
    const before = this.standing[partition]!;
    if (before === standing) return;
    this.standing[partition] = standing;
    if (before === SETTLED) {
      this.unsettledCount++;
      if (this.listed[partition] === 0) {
        this.listed[partition] = 1;
        this.unsettled.push(partition);
      }
    } else if (standing === SETTLED) {
      this.unsettledCount--;
    }
  }

  /** Examines the marked partitions; backups that newly miss a stream are asked at once. */
  private process(): void {
    const placement = this.host.placement();
    if (placement === undefined || this.closed) return;
    const list = this.dirty;
    this.dirty = [];
    const now = this.scheduler.now();
    const fresh = new Map<NodeId, number[]>();
    const released: number[] = [];
    for (const p of list) {
      this.dirtyFlag[p] = 0;
      if (!this.host.isActivePrimary(p)) {
        this.setStanding(p, SETTLED);
        continue;
      }
      const owners = placement.ownersOf(p);
      let missing = false;
      for (let rank = 1; rank < owners.length; rank++) {
        const backup = owners[rank]!;
        if (this.host.streamOf(p, backup) !== undefined) continue;
        missing = true;
        // Marks are state changes (a view, a dropped stream), so each one is worth a
        // request; the list may get duplicates, which the periodic pass removes.
        let listed = this.missingByBackup.get(backup);
        if (listed === undefined) {
          listed = [];
          this.missingByBackup.set(backup, listed);
        }
        listed.push(p);
        if (!this.host.isConnected(backup)) continue;
        let partitions = fresh.get(backup);
        if (partitions === undefined) {
          partitions = [];
          fresh.set(backup, partitions);
        }
        partitions.push(p);
      }
      if (missing) {
        this.setStanding(p, MISSING);
        continue;
      }
      if (this.releasedEpoch[p] === placement.epoch) {
        this.setStanding(p, SETTLED);
        continue;
      }
      if (this.host.isServing(p)) {
        // The node marks the partition again when the copy's session ends.
        this.setStanding(p, COPYING);
        continue;
      }
      this.setStanding(p, SETTLED);
      this.releasedEpoch[p] = placement.epoch;
      released.push(p);
    }
    for (const [backup, partitions] of fresh) this.hint(placement, backup, partitions, now);
    if (released.length > 0) {
      const message = { t: 'release', e: placement.epoch, ps: encodePartitions(released) };
      for (const member of placement.members) {
        if (member.id !== this.host.nodeId) this.host.send(member.id, message);
      }
    }
  }

  private hint(placement: Placement, backup: NodeId, partitions: number[], now: number): void {
    this.hintedAtMs.set(backup, now);
    this.host.send(backup, { t: 'needsync', e: placement.epoch, ps: encodePartitions(partitions) });
  }
}
