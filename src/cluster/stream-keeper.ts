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

/**
 * Keeps the backups of this node's primary partitions in their replication streams:
 * a backup missing from a stream is asked to resync (`needsync`, repeated every
 * `hintIntervalMs` while it is missing and connected, and at once when it reconnects), and once every backup of a partition is in
 * the stream and no copy of it is in progress, the other members are told they may
 * drop their old copies (`release`, once per view).
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
  private readonly hintedAtMs = new Map<NodeId, number>();
  private lastRehintMs = Number.NEGATIVE_INFINITY;
  private timer: TimerHandle | undefined;
  private closed = false;

  constructor(host: StreamKeeperHost, scheduler: Scheduler, hintIntervalMs: number) {
    this.host = host;
    this.scheduler = scheduler;
    this.hintIntervalMs = hintIntervalMs;
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
    for (const p of changed) {
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
   * Periodic work: once per hint interval, partitions still waiting are examined again
   * and their missing backups, if connected, asked again (a request may be lost).
   */
  tick(): void {
    const now = this.scheduler.now();
    if (this.unsettled.length > 0 && now - this.lastRehintMs >= this.hintIntervalMs) {
      this.lastRehintMs = now;
      const kept: number[] = [];
      for (const p of this.unsettled) {
        if (this.standing[p] === SETTLED) {
          this.listed[p] = 0;
          continue;
        }
        kept.push(p);
        if (this.dirtyFlag[p] === 0) {
          this.dirtyFlag[p] = 1;
          this.dirty.push(p);
        }
      }
      this.unsettled = kept;
      this.process(true);
    } else if (this.dirty.length > 0) {
      this.process(false);
    }
  }

  /** A backup came back: ask it again at once for what it misses. */
  peerUp(peer: NodeId): void {
    this.hintedAtMs.delete(peer);
    this.lastRehintMs = Number.NEGATIVE_INFINITY;
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) this.scheduler.clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.timer !== undefined || this.closed) return;
    this.timer = this.scheduler.setTimeout(() => {
      this.timer = undefined;
      this.process(false);
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

  /**
   * Examines the marked partitions. Newly missing backups are asked at once; with
   * `rehint`, every backup still missing is asked again if its last request is older
   * than the hint interval.
   */
  private process(rehint: boolean): void {
    const placement = this.host.placement();
    if (placement === undefined || this.closed) return;
    const list = this.dirty;
    this.dirty = [];
    const now = this.scheduler.now();
    const hints = new Map<NodeId, number[]>();
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
        const fresh = this.standing[p] !== MISSING;
        const last = this.hintedAtMs.get(backup);
        const due = rehint && (last === undefined || now - last >= this.hintIntervalMs);
        if ((fresh || due) && this.host.isConnected(backup)) {
          let partitions = hints.get(backup);
          if (partitions === undefined) {
            partitions = [];
            hints.set(backup, partitions);
          }
          partitions.push(p);
        }
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
    for (const [backup, partitions] of hints) {
      this.hintedAtMs.set(backup, now);
      this.host.send(backup, {
        t: 'needsync',
        e: placement.epoch,
        ps: encodePartitions(partitions),
      });
    }
    if (released.length > 0) {
      const message = { t: 'release', e: placement.epoch, ps: encodePartitions(released) };
      for (const member of placement.members) {
        if (member.id !== this.host.nodeId) this.host.send(member.id, message);
      }
    }
  }
}
