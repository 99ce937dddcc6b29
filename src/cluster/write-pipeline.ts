import type { LruStore } from '../store/lru-store.js';
import type { NodeId } from '../transport/transport.js';
import type { Scheduler, TimerHandle } from '../util/scheduler.js';
import type { WriteConcern } from './cache-api.js';
import {
  NotPrimaryError,
  OutcomeUnknownError,
  OverloadedError,
  PartitionSyncingError,
  WriteNotAppliedError,
} from './errors.js';
import {
  type CurrentEntry,
  entrySize,
  evaluateWrite,
  type Mutation,
  type WriteOp,
  type WriteResult,
} from './key-ops.js';
import type { WireItem } from './messages.js';
import type { PartitionStates } from './partition-states.js';
import type { StoredValue } from './value-codec.js';

/** A backup in the replication stream of a partition, with the stream's id. */
export interface ReplicationTarget {
  readonly id: NodeId;
  readonly sid: string;
}

/**
 * How a backup answered one batch: applied it (`ack`), certainly did not apply it
 * (`refused`), or the answer was lost (`unknown`: it may have applied it).
 */
export type ReplicaAnswer = 'ack' | 'refused' | 'unknown';

/** What the pipeline needs from the node that owns it. */
export interface WritePipelineHost {
  readonly nodeId: NodeId;
  /** The current view epoch. */
  epoch(): number;
  /** Whether this node is the active primary of `partition` right now. */
  isActivePrimary(partition: number): boolean;
  /** Backups of `partition` in the current view. */
  backupsOf(partition: number): readonly NodeId[];
  /** The stream id of `backup` for `partition`, or `undefined` when it must resync first. */
  streamOf(partition: number, backup: NodeId): string | undefined;
  /** Sends one batch to one backup. Never rejects. */
  replicate(
    target: ReplicationTarget,
    partition: number,
    epoch: number,
    items: WireItem[],
  ): Promise<ReplicaAnswer>;
  /** `backup` may now differ from this primary: take it out of the stream and resync it. */
  backupDiverged(partition: number, backup: NodeId): void;
  /** Writes are waiting because backups are not in the stream yet. */
  backupsMissing(partition: number): void;
}

/** Limits and policy of a {@link WritePipeline}. */
export interface WritePipelineOptions {
  readonly writeConcern: WriteConcern;
  /** Most writes in one replication batch. */
  readonly maxBatchWrites: number;
  /** Most writes waiting per partition; more are refused with `OverloadedError`. */
  readonly maxQueuedWritesPerPartition: number;
  /** How long a write may wait for its partition's backups before `PartitionSyncingError`. */
  readonly queueTimeoutMs: number;
  readonly maxValueBytes: number;
}

/** See {@link WritePipeline.replicationLag}. */
export interface ReplicationLag {
  readonly batchesInFlight: number;
  readonly oldestBatchAgeMs: number;
}

interface QueuedWrite {
  readonly op: WriteOp;
  readonly resolve: (result: WriteResult) => void;
  readonly reject: (error: unknown) => void;
  readonly deadlineMs: number;
}

interface AppliedMutation {
  readonly mutation: Mutation;
  readonly version: number;
}

class Batch {
  readonly epoch: number;
  readonly writes: QueuedWrite[];
  readonly results: (WriteResult | Error)[];
  readonly mutations: AppliedMutation[];
  readonly targets: ReplicationTarget[];
  readonly needed: number;
  /** When the batch went to the backups (scheduler time), for the replication lag. */
  readonly sentAtMs: number;
  acks = 0;
  failures = 0;
  pending: number;
  mayHaveApplied = false;
  /** Committed or aborted: the writers have their answers. */
  decided: boolean;

  constructor(
    epoch: number,
    writes: QueuedWrite[],
    results: (WriteResult | Error)[],
    mutations: AppliedMutation[],
    targets: ReplicationTarget[],
    needed: number,
    decided: boolean,
    sentAtMs: number,
  ) {
    this.epoch = epoch;
    this.writes = writes;
    this.results = results;
    this.mutations = mutations;
    this.targets = targets;
    this.needed = needed;
    this.sentAtMs = sentAtMs;
    this.pending = targets.length;
    this.decided = decided;
  }
}

class PartitionQueue {
  readonly waiting: QueuedWrite[] = [];
  batch: Batch | undefined;
  timer: TimerHandle | undefined;
  idleWaiters: (() => void)[] = [];
}

/** Backup acks a write needs before it is acknowledged, for `backups` backups. */
export function backupAcksNeeded(concern: WriteConcern, backups: number): number {
  switch (concern) {
    case 'all':
      return backups;
    case 'quorum':
      // A majority of all owners, the primary included.
      return Math.floor((backups + 1) / 2);
    case 'one':
      return 0;
  }
}

/**
 * The primary's write path, one ordered pipeline per partition.
 *
 * Writes to a partition are taken in arrival order, a batch at a time: each write is
 * evaluated against the store (plus the earlier writes of the same batch), gets the
 * next version, and the batch goes to every backup in the partition's replication
 * stream. Only when the write concern's acks are in is the batch applied locally and
 * acknowledged; so a read at the primary never sees a write that is not yet durable
 * on the backups (with `all`), and read-modify-write operations (`incr`, `nx`/`xx`,
 * `expire`) see every earlier write. One batch per partition is in flight at a time,
 * which orders the stream without sequence numbers. (`one` applies and acknowledges
 * first and replicates after.)
 *
 * If a batch fails (a backup refused it, timed out, or the view changed), nothing is
 * applied locally; writers learn `OutcomeUnknownError` when some backup may have
 * applied it, `WriteNotAppliedError` when none can have. Every backup that may hold
 * the failed batch is taken out of the stream and resynced from this primary, which
 * removes the unacknowledged write again.
 */
export class WritePipeline {
  private readonly host: WritePipelineHost;
  private readonly store: LruStore<StoredValue>;
  private readonly states: PartitionStates;
  private readonly scheduler: Scheduler;
  private readonly options: WritePipelineOptions;
  private readonly queues = new Map<number, PartitionQueue>();

  constructor(
    host: WritePipelineHost,
    store: LruStore<StoredValue>,
    states: PartitionStates,
    scheduler: Scheduler,
    options: WritePipelineOptions,
  ) {
    this.host = host;
    this.store = store;
    this.states = states;
    this.scheduler = scheduler;
    this.options = options;
  }

  /** Queues a write on an active primary's partition; resolves with its result. */
  submit(partition: number, op: WriteOp): Promise<WriteResult> {
    let queue = this.queues.get(partition);
    if (queue === undefined) {
      queue = new PartitionQueue();
      this.queues.set(partition, queue);
    }
    if (queue.waiting.length >= this.options.maxQueuedWritesPerPartition) {
      return Promise.reject(
        new OverloadedError(
          `the write queue of partition ${partition}`,
          this.options.maxQueuedWritesPerPartition,
        ),
      );
    }
    const target = queue;
    return new Promise((resolve, reject) => {
      target.waiting.push({
        op,
        resolve,
        reject,
        deadlineMs: this.scheduler.now() + this.options.queueTimeoutMs,
      });
      this.pump(partition, target);
    });
  }

  /** Re-examines a partition whose backups changed (a backup joined the stream). */
  kick(partition: number): void {
    const queue = this.queues.get(partition);
    if (queue !== undefined) this.pump(partition, queue);
  }

  /** Resolves once no batch of any of `partitions` is in flight. */
  whenIdle(partitions: readonly number[]): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const partition of partitions) {
      const queue = this.queues.get(partition);
      if (queue?.batch === undefined) continue;
      waits.push(new Promise<void>((resolve) => queue.idleWaiters.push(resolve)));
    }
    return waits.length === 0 ? Promise.resolve() : Promise.all(waits).then(() => undefined);
  }

  /** Writes waiting or in flight, over all partitions. */
  pendingWrites(): number {
    let count = 0;
    for (const queue of this.queues.values()) {
      count += queue.waiting.length + (queue.batch?.writes.length ?? 0);
    }
    return count;
  }

  /**
   * How far the backups trail this primary: replication batches that not every backup
   * has answered yet (at most one per partition), and the age of the oldest (0 when
   * none). With writeConcern `all` this is the replication round trip writers wait
   * for; below it, writes are acknowledged before the backups answer.
   */
  replicationLag(): ReplicationLag {
    const now = this.scheduler.now();
    let batches = 0;
    let oldest = now;
    for (const queue of this.queues.values()) {
      const batch = queue.batch;
      if (batch === undefined) continue;
      batches++;
      if (batch.sentAtMs < oldest) oldest = batch.sentAtMs;
    }
    return { batchesInFlight: batches, oldestBatchAgeMs: now - oldest };
  }

  /**
   * The view changed. Batches in flight were ordered under the old view: they are
   * abandoned (never applied here) and their backups resynced. Waiting writes stay
   * queued where this node is still the active primary and are refused elsewhere.
   */
  onViewChange(): void {
    for (const [partition, queue] of this.queues) {
      const batch = queue.batch;
      if (batch !== undefined) {
        queue.batch = undefined;
        if (!batch.decided) {
          batch.decided = true;
          this.rejectBatch(partition, batch, true, 'the view changed');
        }
        if (this.host.isActivePrimary(partition)) {
          for (const target of batch.targets) this.host.backupDiverged(partition, target.id);
        }
        this.notifyIdle(queue);
      }
      this.pump(partition, queue);
    }
  }

  /**
   * Refuses everything queued with `error` (the node is stopping). Writes already sent
   * to backups may have been applied there: they fail with `OutcomeUnknownError`.
   */
  close(error: Error): void {
    for (const [partition, queue] of this.queues) {
      if (queue.timer !== undefined) this.scheduler.clearTimeout(queue.timer);
      for (const write of queue.waiting.splice(0)) write.reject(error);
      const batch = queue.batch;
      if (batch !== undefined && !batch.decided) {
        batch.decided = true;
        this.rejectBatch(partition, batch, true, 'the node stopped');
      }
      queue.batch = undefined;
      this.notifyIdle(queue);
    }
    this.queues.clear();
  }

  private pump(partition: number, queue: PartitionQueue): void {
    while (queue.batch === undefined && queue.waiting.length > 0) {
      if (!this.host.isActivePrimary(partition)) {
        const epoch = this.host.epoch();
        for (const write of queue.waiting.splice(0)) {
          write.reject(new NotPrimaryError(this.host.nodeId, partition, epoch));
        }
        break;
      }
      const backups = this.host.backupsOf(partition);
      const targets: ReplicationTarget[] = [];
      for (const backup of backups) {
        const sid = this.host.streamOf(partition, backup);
        if (sid !== undefined) targets.push({ id: backup, sid });
      }
      const needed = backupAcksNeeded(this.options.writeConcern, backups.length);
      if (targets.length < needed) {
        this.host.backupsMissing(partition);
        this.expireOverdue(partition, queue);
        if (queue.waiting.length > 0) this.armTimer(partition, queue);
        return;
      }
      this.startBatch(partition, queue, targets, needed);
    }
    if (queue.batch === undefined && queue.waiting.length === 0) {
      if (queue.timer !== undefined) {
        this.scheduler.clearTimeout(queue.timer);
        queue.timer = undefined;
      }
      this.queues.delete(partition);
    }
  }

  private startBatch(
    partition: number,
    queue: PartitionQueue,
    targets: ReplicationTarget[],
    needed: number,
  ): void {
    const epoch = this.host.epoch();
    const writes = queue.waiting.splice(0, this.options.maxBatchWrites);
    const results: (WriteResult | Error)[] = [];
    const mutations: AppliedMutation[] = [];
    const items: WireItem[] = [];
    // Later writes of the batch see earlier ones: the overlay holds their effect.
    const overlay = writes.length > 1 ? new Map<string, CurrentEntry | null>() : undefined;
    for (const write of writes) {
      const key = write.op.key;
      let current: CurrentEntry | undefined;
      const overlaid = overlay?.get(key);
      if (overlaid !== undefined) current = overlaid ?? undefined;
      else current = this.store.getEntry(key);
      try {
        const outcome = evaluateWrite(write.op, current, this.options.maxValueBytes);
        results.push(outcome.result);
        const mutation = outcome.mutation;
        if (mutation === undefined) continue;
        const version = this.states.nextVersion(partition, epoch);
        mutations.push({ mutation, version });
        // Only backups need the wire form.
        if (targets.length > 0) {
          items.push([key, mutation.value?.bytes ?? null, mutation.ttlMs ?? -1, version]);
        }
        overlay?.set(
          key,
          mutation.value === null
            ? null
            : { value: mutation.value, ttlRemainingMs: mutation.ttlMs },
        );
      } catch (error) {
        results.push(error instanceof Error ? error : new Error(String(error)));
      }
    }
    if (mutations.length === 0) {
      settle(writes, results);
      return;
    }
    const applyFirst = needed === 0;
    if (applyFirst) {
      this.apply(partition, mutations);
      settle(writes, results);
      if (targets.length === 0) return;
    }
    const batch = new Batch(
      epoch,
      writes,
      results,
      mutations,
      targets,
      needed,
      applyFirst,
      this.scheduler.now(),
    );
    queue.batch = batch;
    for (const target of targets) {
      this.host
        .replicate(target, partition, epoch, items)
        .then((answer) => this.onAnswer(partition, queue, batch, target, answer));
    }
  }

  private onAnswer(
    partition: number,
    queue: PartitionQueue,
    batch: Batch,
    target: ReplicationTarget,
    answer: ReplicaAnswer,
  ): void {
    batch.pending--;
    const current = queue.batch === batch;
    if (answer === 'ack') {
      batch.acks++;
      batch.mayHaveApplied = true;
    } else {
      batch.failures++;
      if (answer === 'unknown') batch.mayHaveApplied = true;
      if (current && batch.epoch === this.host.epoch()) {
        this.host.backupDiverged(partition, target.id);
      }
    }
    if (!current) return;
    if (!batch.decided) {
      if (batch.acks >= batch.needed) {
        batch.decided = true;
        this.apply(partition, batch.mutations);
        settle(batch.writes, batch.results);
      } else if (batch.targets.length - batch.failures < batch.needed) {
        batch.decided = true;
        this.rejectBatch(partition, batch, batch.mayHaveApplied || batch.pending > 0, answer);
        // The backups that acked hold a write this primary will never apply.
        for (const other of batch.targets) this.host.backupDiverged(partition, other.id);
      }
    }
    if (batch.pending === 0) {
      queue.batch = undefined;
      this.notifyIdle(queue);
      this.pump(partition, queue);
    }
  }

  private rejectBatch(
    partition: number,
    batch: Batch,
    mayHaveApplied: boolean,
    reason: string,
  ): void {
    for (const write of batch.writes) {
      write.reject(
        mayHaveApplied
          ? new OutcomeUnknownError(write.op.kind, write.op.key)
          : new WriteNotAppliedError(partition, `a backup answered ${reason}`),
      );
    }
  }

  private apply(partition: number, mutations: readonly AppliedMutation[]): void {
    for (const { mutation, version } of mutations) {
      if (mutation.value === null) {
        this.store.delete(mutation.key);
      } else {
        this.store.set(mutation.key, mutation.value, {
          size: entrySize(mutation.key, mutation.value),
          ttlMs: mutation.ttlMs,
          version,
        });
      }
      this.states.noteApplied(partition, version);
    }
  }

  private expireOverdue(partition: number, queue: PartitionQueue): void {
    const now = this.scheduler.now();
    let kept = 0;
    for (const write of queue.waiting) {
      if (write.deadlineMs <= now) write.reject(new PartitionSyncingError(partition));
      else queue.waiting[kept++] = write;
    }
    queue.waiting.length = kept;
  }

  private armTimer(partition: number, queue: PartitionQueue): void {
    if (queue.timer !== undefined) return;
    const first = queue.waiting[0];
    if (first === undefined) return;
    const delay = Math.max(0, first.deadlineMs - this.scheduler.now());
    queue.timer = this.scheduler.setTimeout(() => {
      queue.timer = undefined;
      this.pump(partition, queue);
    }, delay);
  }

  private notifyIdle(queue: PartitionQueue): void {
    const waiters = queue.idleWaiters;
    queue.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

function settle(writes: readonly QueuedWrite[], results: readonly (WriteResult | Error)[]): void {
  for (let i = 0; i < writes.length; i++) {
    const result = results[i]!;
    if (result instanceof Error) writes[i]!.reject(result);
    else writes[i]!.resolve(result);
  }
}
