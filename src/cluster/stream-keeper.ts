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
  send(peer: NodeId, message: unknown): void;
}

/**
 * Keeps the backups of this node's primary partitions in their replication streams:
 * a backup missing from a stream is asked to resync (`needsync`, repeated every
 * `hintIntervalMs` while it is missing), and once every backup of a partition is in
 * the stream and no copy of it is in progress, the other members are told they may
 * drop their old copies (`release`, once per view).
 *
 * Work is driven by marks: only partitions whose state changed are re-examined, so a
 * view change costs one pass over this node's primary partitions and the steady state
 * costs nothing.
 */
export class StreamKeeper {
  private readonly host: StreamKeeperHost;
  private readonly scheduler: Scheduler;
  private readonly hintIntervalMs: number;
  private readonly dirty = new Set<number>();
  /** Per backup, the partitions it is missing from. */
  private readonly waiting = new Map<NodeId, Set<number>>();
  /**
   * Partitions whose backups are all in, waiting for their copies to finish (the node
   * marks them again when a handoff session ends).
   */
  private readonly copying = new Set<number>();
  private readonly releasedEpoch = new Float64Array(PARTITION_COUNT).fill(-1);
  private readonly hintedAtMs = new Map<NodeId, number>();
  private timer: TimerHandle | undefined;
  private closed = false;

  constructor(host: StreamKeeperHost, scheduler: Scheduler, hintIntervalMs: number) {
    this.host = host;
    this.scheduler = scheduler;
    this.hintIntervalMs = hintIntervalMs;
  }

  /** Re-examine `partition` soon (its primary or stream state changed). */
  mark(partition: number): void {
    this.dirty.add(partition);
    this.schedule();
  }

  /** A new view: every earlier verdict is void; these partitions are examined afresh. */
  reset(primaryPartitions: Iterable<number>): void {
    this.waiting.clear();
    this.copying.clear();
    this.dirty.clear();
    for (const p of primaryPartitions) this.dirty.add(p);
    this.schedule();
  }

  /** Whether nothing is left to do: every backup in, every release sent. */
  isIdle(): boolean {
    if (this.dirty.size > 0 || this.copying.size > 0) return false;
    for (const partitions of this.waiting.values()) if (partitions.size > 0) return false;
    return true;
  }

  /** Periodic work: repeat hints to backups still missing. */
  tick(): void {
    if (this.dirty.size > 0) this.process();
    const placement = this.host.placement();
    if (placement === undefined) return;
    const now = this.scheduler.now();
    for (const [backup, partitions] of this.waiting) {
      if (partitions.size === 0) continue;
      const last = this.hintedAtMs.get(backup);
      if (last !== undefined && now - last < this.hintIntervalMs) continue;
      this.hint(placement, backup, [...partitions]);
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

  private process(): void {
    const placement = this.host.placement();
    if (placement === undefined || this.closed) return;
    const fresh = new Map<NodeId, number[]>();
    const released: number[] = [];
    for (const p of this.dirty) {
      const owners = placement.ownersOf(p);
      if (!this.host.isActivePrimary(p)) {
        for (let rank = 1; rank < owners.length; rank++) this.waiting.get(owners[rank]!)?.delete(p);
        continue;
      }
      let missing = false;
      for (let rank = 1; rank < owners.length; rank++) {
        const backup = owners[rank]!;
        let partitions = this.waiting.get(backup);
        if (this.host.streamOf(p, backup) !== undefined) {
          partitions?.delete(p);
          continue;
        }
        missing = true;
        if (partitions === undefined) {
          partitions = new Set();
          this.waiting.set(backup, partitions);
        }
        if (!partitions.has(p)) {
          partitions.add(p);
          let list = fresh.get(backup);
          if (list === undefined) {
            list = [];
            fresh.set(backup, list);
          }
          list.push(p);
        }
      }
      this.copying.delete(p);
      if (missing || this.releasedEpoch[p] === placement.epoch) continue;
      if (this.host.isServing(p)) {
        this.copying.add(p);
        continue;
      }
      this.releasedEpoch[p] = placement.epoch;
      released.push(p);
    }
    this.dirty.clear();
    for (const [backup, partitions] of fresh) this.hint(placement, backup, partitions);
    if (released.length > 0) {
      for (const member of placement.members) {
        if (member.id === this.host.nodeId) continue;
        this.host.send(member.id, {
          t: 'release',
          e: placement.epoch,
          ps: encodePartitions(released),
        });
      }
    }
  }

  private hint(placement: Placement, backup: NodeId, partitions: number[]): void {
    this.hintedAtMs.set(backup, this.scheduler.now());
    this.host.send(backup, {
      t: 'needsync',
      e: placement.epoch,
      ps: encodePartitions(partitions),
    });
  }
}
