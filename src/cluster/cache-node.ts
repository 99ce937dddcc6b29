import type { CoordRole } from '../coord/ready.js';
import { PARTITION_COUNT, partitionOf } from '../ring/partitioner.js';
import { LruStore, type RemovalReason } from '../store/lru-store.js';
import { PeerUnavailableError } from '../transport/errors.js';
import type { NodeId, Transport } from '../transport/transport.js';
import { ShoalError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import type { Scheduler, TimerHandle } from '../util/scheduler.js';
import { BackupStreams } from './backup-streams.js';
import {
  type GetOrLoadOptions,
  type Loader,
  type MsetOptions,
  type ReadOptions,
  type SetOptions,
  type ShoalCache,
  TTL_MISSING,
  type WriteConcern,
} from './cache-api.js';
import {
  type CacheNodeOptions,
  type ResolvedCacheNodeOptions,
  resolveCacheNodeOptions,
} from './cache-node-options.js';
import { admitCacheRequestFromClient } from './client-access.js';
import { checkConfigWrite } from './cluster-settings.js';
import { DEFAULT_DRAIN_TIMEOUT_MS, type DrainResult, drainPartitions } from './drain.js';
import {
  ConfigUnavailableError,
  NoQuorumError,
  NotPrimaryError,
  NoViewError,
  OverloadedError,
  PartitionSyncingError,
  ReplicaNotSyncedError,
  StaleViewError,
  StoppedError,
  ValueTooLargeError,
} from './errors.js';
import { applyReplicated, Handoff, type HandoffStats } from './handoff.js';
import {
  checkExpireTtl,
  checkIncrement,
  checkKey,
  isIdempotent,
  isRead,
  type KeyOp,
  mgetOps,
  mgetValues,
  msetOps,
  type OpResult,
  type ReadOp,
  type SetOp,
  type WriteOp,
  type WriteResult,
} from './key-ops.js';
import { LiveSettings, type LiveSettingValues } from './live-settings.js';
import { LoadCaller } from './load-caller.js';
import {
  LoadCoordinator,
  type LoadStats,
  type PeekedEntry,
  resolveLoadLimits,
} from './load-coordinator.js';
import { staleWindowOf } from './load-entry.js';
import type { LoadRequest } from './load-messages.js';
import {
  CACHE_CHANNEL,
  type CacheMessage,
  type CacheRequest,
  decodeMessage,
  decodeRequest,
  type ErrorReply,
  encodeOp,
  encodePartitions,
  encodeVersions,
  encodeView,
  errorReply,
  isErrorReply,
  MAX_OPS_PER_BATCH,
  type OpReply,
  type WireItem,
} from './messages.js';
import { nodeStatusReport } from './node-status.js';
import {
  MODE_BACKUP_ACTIVE,
  MODE_BACKUP_SYNCING,
  MODE_NONE,
  MODE_PRIMARY_ACTIVE,
  MODE_PRIMARY_SYNCING,
  PartitionStates,
} from './partition-states.js';
import { Placement } from './placement.js';
import { isRetryableCode } from './remote-errors.js';
import {
  awaitsView,
  checkSetOptions,
  decodeOpReply,
  encodeResult,
  isAnyRead,
  isRetryableFailure,
  lostReply,
  readFromAny,
} from './remote-ops.js';
import { StreamKeeper } from './stream-keeper.js';
import { SyncSource } from './sync-source.js';
import { encodeValue, readValue, type StoredValue } from './value-codec.js';
import type { ClusterView, ViewSource } from './view-source.js';
import { type ReplicaAnswer, type ReplicationTarget, WritePipeline } from './write-pipeline.js';

/** The config key that overrides the replication factor cluster-wide. */
export const REPLICATION_FACTOR_CONFIG_KEY = 'replicationFactor';

/** Resync requests to a missing backup repeat every this many maintenance periods. */
const HINT_INTERVAL_FACTOR = 4;
/** Most callers waiting for a view at once; more fail fast. */
const MAX_VIEW_WAITERS = 100_000;
/** The backups of a partition that has none. */
const NO_BACKUPS: readonly NodeId[] = Object.freeze([]);
/** Most removals queued for backups before they are flushed at once. */
const MAX_PENDING_DROPS = 10_000;

/** Counters and gauges of one node (see `CacheNode.stats`). */
export interface CacheNodeStats {
  readonly nodeId: NodeId;
  /** Epoch of the view this node applies, or -1 before the first one. */
  readonly viewEpoch: number;
  readonly members: number;
  /** This node's coordinator role (`unknown` under a simulated view source). */
  readonly role: CoordRole | 'unknown';
  readonly hasQuorum: boolean;
  readonly writeConcern: WriteConcern;
  readonly keys: number;
  readonly bytes: number;
  readonly hits: number;
  readonly misses: number;
  readonly sets: number;
  readonly deletes: number;
  readonly incrs: number;
  readonly evictions: number;
  readonly expirations: number;
  /** Operations this node sent on to a primary. */
  readonly forwarded: number;
  /** Retries after a refusal that proved non-application (redirects, fencing). */
  readonly retries: number;
  readonly partitions: {
    readonly primaryActive: number;
    readonly primarySyncing: number;
    readonly backupActive: number;
    readonly backupSyncing: number;
  };
  readonly replication: {
    /** Batches sent to backups. */
    readonly batchesSent: number;
    /** Batches a backup refused or did not answer. */
    readonly batchesFailed: number;
    /** Backups currently in the streams of this node's primary partitions. */
    readonly streams: number;
    /** Writes queued or in flight. */
    readonly pendingWrites: number;
    /**
     * Replication lag of this node's primary partitions: batches sent that not every
     * backup has answered yet (at most one per partition)...
     */
    readonly batchesInFlight: number;
    /** ...and how long ago the oldest of them was sent, in ms (0 when none). */
    readonly oldestBatchAgeMs: number;
  };
  /** The live settings in effect: the cluster config's, else this node's options. */
  readonly settings: LiveSettingValues;
  readonly handoff: HandoffStats & {
    readonly sourceSessions: number;
    readonly keysSent: number;
    readonly bytesSent: number;
  };
  /** `getOrLoad` coordination for the keys this node is the primary of. */
  readonly loads: LoadStats;
}

interface ViewWaiter {
  readonly epoch: number;
  readonly resolve: () => void;
  timer: TimerHandle | undefined;
}

interface ActivationWaiter {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  timer: TimerHandle | undefined;
}

/**
 * A member node of the cache cluster: an LRU+TTL store for the partitions it owns,
 * plus the routing, replication and handoff that make the members behave as one
 * cache.
 *
 * - Placement comes only from the committed view (`ViewSource`). An operation on a
 *   partition this node is the active primary of is served here (a read of an
 *   embedded caller's own key is a Map lookup: no encode, no decode, no network);
 *   anything else goes to the key's primary in one hop. A node that is not the
 *   primary answers `NotPrimaryError` with its view epoch, and the caller retries
 *   once its view has caught up (bounded).
 * - Writes are ordered, replicated and acknowledged by the primary's
 *   {@link WritePipeline}; backups apply only newer versions and refuse batches from
 *   another view (fencing).
 * - Reads and writes at a primary need the coordinator lease (`hasQuorum()`), so a
 *   node cut off from the quorum refuses with `NoQuorumError`; `readFrom: 'any'`
 *   reads are served by any in-sync owner without it.
 * - On a view change, partitions move by {@link Handoff}; removals the primary's
 *   store makes on its own (eviction, expiry) are sent to the backups.
 */
export class CacheNode implements ShoalCache {
  readonly id: NodeId;
  private readonly options: ResolvedCacheNodeOptions;
  private readonly transport: Transport;
  private readonly viewSource: ViewSource;
  private readonly scheduler: Scheduler;
  private readonly logger: Logger;
  private readonly store: LruStore<StoredValue>;
  /** The cluster settings this node applies live (see `live-settings.ts`). */
  private readonly live: LiveSettings;
  private readonly states = new PartitionStates();
  private readonly streams = new BackupStreams();
  private readonly backupSid: (string | undefined)[] = new Array(PARTITION_COUNT);
  private readonly pipeline: WritePipeline;
  private readonly handoff: Handoff;
  private readonly syncSource: SyncSource;
  private readonly loads: LoadCoordinator;
  private loadCaller: LoadCaller | undefined;
  private loadTokens = 0;
  private placement: Placement | undefined;
  private stopped = false;
  /** Leaving: writes to partitions with no other owner are refused (see `drain`). */
  private draining = false;
  private readonly unsubscribers: (() => void)[] = [];
  private readonly maintenanceTimer: TimerHandle;
  private viewWaiters: ViewWaiter[] = [];
  private readonly activationWaiters = new Map<number, Set<ActivationWaiter>>();
  private readonly keeper: StreamKeeper;
  private readonly releaseMask = new Uint8Array(PARTITION_COUNT);
  /**
   * Partitions this node stopped owning and whose old copy it has not dropped yet: a
   * (repeated) `release` acts only on these, so repeats cost no store scan.
   */
  private readonly strayMask = new Uint8Array(PARTITION_COUNT);
  private releaseTimer: TimerHandle | undefined;
  private pendingDrops = new Map<NodeId, [string, number][]>();
  private pendingDropCount = 0;
  private dropTimer: TimerHandle | undefined;
  private counters = {
    sets: 0,
    deletes: 0,
    incrs: 0,
    forwarded: 0,
    retries: 0,
    batchesSent: 0,
    batchesFailed: 0,
  };

  constructor(options: CacheNodeOptions) {
    this.options = resolveCacheNodeOptions(options);
    this.transport = this.options.transport;
    this.id = this.transport.localId;
    this.viewSource = this.options.viewSource;
    this.scheduler = this.options.scheduler;
    this.logger = this.options.logger;
    const live = new LiveSettings(
      this.options,
      this.viewSource.config,
      this.options.random,
      this.logger,
      (maxBytes) => this.store.resize({ maxEntries: this.options.maxEntries, maxBytes }),
    );
    this.live = live;
    this.store = new LruStore<StoredValue>({
      clock: this.scheduler,
      maxEntries: this.options.maxEntries,
      maxBytes: live.maxMemoryBytes,
      onRemove: (key, _value, reason) => this.onStoreRemove(key, reason),
    });
    this.pipeline = new WritePipeline(
      {
        nodeId: this.id,
        epoch: () => this.placement?.epoch ?? -1,
        isActivePrimary: (p) => this.states.mode[p] === MODE_PRIMARY_ACTIVE,
        backupsOf: (p) => {
          // Asked once per batch: no copy when there are no backups (RF 1).
          const owners = this.placement?.ownersOf(p);
          return owners === undefined || owners.length < 2 ? NO_BACKUPS : owners.slice(1);
        },
        streamOf: (p, backup) => this.streams.get(p, backup),
        replicate: (target, p, epoch, items) => this.replicate(target, p, epoch, items),
        backupDiverged: (p, backup) => this.backupDiverged(p, backup),
        backupsMissing: (p) => this.keeper.urgent(p),
      },
      this.store,
      this.states,
      this.scheduler,
      {
        get writeConcern() {
          return live.writeConcern;
        },
        maxBatchWrites: this.options.maxBatchWrites,
        maxQueuedWritesPerPartition: this.options.maxQueuedPerPartition,
        queueTimeoutMs: this.options.queueTimeoutMs,
        get maxValueBytes() {
          return live.maxValueBytes;
        },
      },
    );
    this.keeper = new StreamKeeper(
      {
        nodeId: this.id,
        placement: () => this.placement,
        isActivePrimary: (p) => this.states.mode[p] === MODE_PRIMARY_ACTIVE,
        streamOf: (p, backup) => this.streams.get(p, backup),
        isServing: (p) => this.syncSource.isServing(p),
        isConnected: (peer) => this.transport.isConnected(peer),
        send: (peer, message) => {
          this.transport.send(peer, CACHE_CHANNEL, message);
        },
      },
      this.scheduler,
      this.options.maintenanceIntervalMs * HINT_INTERVAL_FACTOR,
    );
    this.syncSource = new SyncSource(this.store, {
      maxChunkEntries: this.options.syncChunkEntries,
      maxChunkBytes: this.options.syncChunkBytes,
      maxSessions: this.options.syncMaxSourceSessions,
      sessionIdleTimeoutMs: this.options.syncSessionIdleTimeoutMs,
      watermarkOf: (p) => this.states.watermark(p),
      onClose: (partitions) => {
        for (const p of partitions)
          if (this.states.mode[p] === MODE_PRIMARY_ACTIVE) this.keeper.mark(p);
      },
    });
    this.handoff = new Handoff(
      {
        nodeId: this.id,
        placement: () => this.placement,
        request: (peer, message, timeoutMs) =>
          this.transport.request(peer, CACHE_CHANNEL, message, { timeoutMs }),
        send: (peer, message) => {
          this.transport.send(peer, CACHE_CHANNEL, message);
        },
        primarySynced: (partitions, source) => this.primarySynced(partitions, source),
        backupSynced: (partitions, sid) => this.backupSynced(partitions, sid),
      },
      this.store,
      this.states,
      this.scheduler,
      this.logger,
      {
        maxPartitionsPerSession: this.options.syncPartitionsPerSession,
        maxConcurrentSessions: this.options.syncConcurrentSessions,
        requestTimeoutMs: this.options.syncRequestTimeoutMs,
        retryDelayMs: this.options.syncRetryDelayMs,
        maxBufferedItemsPerSession: this.options.syncMaxBufferedItems,
        get byWatermark() {
          return live.handoffByWatermark;
        },
      },
      Math.floor(this.options.random.next() * 2 ** 32),
    );
    this.loads = new LoadCoordinator(
      {
        nodeId: this.id,
        scheduler: this.scheduler,
        logger: this.logger,
        peek: (key, p) => this.peekForLoad(key, p),
        waitActive: (p) => this.waitActive(p),
        write: (op, p) => this.serveAsPrimary(op, p),
        epoch: () => this.placement?.epoch ?? -1,
      },
      resolveLoadLimits(this.options.loadLimits),
    );
    this.transport.handle(CACHE_CHANNEL, {
      onRequest: (from, message) => this.onRequest(from, message),
      onMessage: (from, message) => this.onMessage(from, message),
      admitFromClient: admitCacheRequestFromClient,
    });
    this.unsubscribers.push(
      this.transport.watchPeers({
        onPeerDown: (peer) => this.onPeerDown(peer),
        onPeerUp: (peer) => {
          this.keeper.peerUp(peer);
          this.handoff.nudge();
        },
      }),
      this.viewSource.onView((view) => this.applyView(view)),
    );
    this.maintenanceTimer = this.scheduler.setInterval(
      () => this.maintain(),
      this.options.maintenanceIntervalMs,
    );
    const view = this.viewSource.view();
    if (view !== undefined) this.applyView(view);
  }

  // ---- the cache API ----------------------------------------------------------------

  async get<V = unknown>(key: string, options?: ReadOptions): Promise<V | undefined> {
    checkKey(key);
    const fromAnyOwner = readFromAny(options);
    const p = partitionOf(key);
    const mode = this.states.mode[p];
    // The embedded fast path: a key this node serves is a store lookup, no codec.
    if (
      !this.stopped &&
      (mode === MODE_PRIMARY_ACTIVE
        ? fromAnyOwner || this.viewSource.hasQuorum()
        : fromAnyOwner && mode === MODE_BACKUP_ACTIVE)
    ) {
      const stored = this.store.get(key);
      return stored === undefined ? undefined : (readValue(stored) as V);
    }
    const result = (await this.execute({ kind: 'get', key, fromAnyOwner }, p)) as
      | StoredValue
      | undefined;
    return result === undefined ? undefined : (readValue(result) as V);
  }

  async has(key: string, options?: ReadOptions): Promise<boolean> {
    checkKey(key);
    return (await this.execute({
      kind: 'has',
      key,
      fromAnyOwner: readFromAny(options),
    })) as boolean;
  }

  async ttl(key: string, options?: ReadOptions): Promise<number> {
    checkKey(key);
    return (await this.execute({ kind: 'ttl', key, fromAnyOwner: readFromAny(options) })) as number;
  }

  async set(key: string, value: unknown, options: SetOptions = {}): Promise<boolean> {
    checkKey(key);
    const { ttlMs, nx, xx } = checkSetOptions(options);
    const stored = encodeValue(value, this.live.maxValueBytes);
    const result = await this.execute({ kind: 'set', key, value: stored, ttlMs, nx, xx });
    if (result === true) this.counters.sets++;
    return result as boolean;
  }

  async delete(key: string): Promise<boolean> {
    checkKey(key);
    const result = (await this.execute({ kind: 'del', key })) as boolean;
    if (result) this.counters.deletes++;
    return result;
  }

  async expire(key: string, ttlMs: number | null): Promise<boolean> {
    checkKey(key);
    checkExpireTtl(ttlMs);
    return (await this.execute({ kind: 'expire', key, ttlMs })) as boolean;
  }

  async incr(key: string, by = 1): Promise<number> {
    checkKey(key);
    checkIncrement(by);
    const result = (await this.execute({ kind: 'incr', key, by })) as number;
    this.counters.incrs++;
    return result;
  }

  async mget<V = unknown>(
    keys: readonly string[],
    options?: ReadOptions,
  ): Promise<(V | undefined)[]> {
    return mgetValues<V>(await this.executeBatch(mgetOps(keys, readFromAny(options))));
  }

  async mset(
    entries: Iterable<readonly [string, unknown]>,
    options: MsetOptions = {},
  ): Promise<void> {
    const ops = msetOps(entries, options.ttlMs, this.live.maxValueBytes);
    await this.executeBatch(ops);
    this.counters.sets += ops.length;
  }

  /**
   * See {@link ShoalCache.getOrLoad}. Keys this node is the primary of are coordinated
   * here (`stats().loads`); others at their primary.
   */
  getOrLoad<V = unknown>(
    key: string,
    loader: Loader<V>,
    options?: GetOrLoadOptions,
  ): Promise<V | undefined> {
    return this.loadCallerOnce().getOrLoad(key, loader, options);
  }

  /**
   * Stops serving: queued and later operations fail with `StoppedError`, handoff and
   * timers stop. The transport is not closed (its owner closes it).
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.live.close();
    for (const unsubscribe of this.unsubscribers) unsubscribe();
    this.scheduler.clearTimeout(this.maintenanceTimer);
    this.keeper.close();
    for (const timer of [this.releaseTimer, this.dropTimer]) {
      if (timer !== undefined) this.scheduler.clearTimeout(timer);
    }
    const stopped = new StoppedError();
    this.pipeline.close(stopped);
    this.loads.close(stopped);
    this.handoff.close();
    this.syncSource.closeAll();
    for (const waiter of this.viewWaiters) {
      if (waiter.timer !== undefined) this.scheduler.clearTimeout(waiter.timer);
      waiter.resolve();
    }
    this.viewWaiters = [];
    for (const waiters of this.activationWaiters.values()) {
      for (const waiter of waiters) {
        if (waiter.timer !== undefined) this.scheduler.clearTimeout(waiter.timer);
        waiter.reject(stopped);
      }
    }
    this.activationWaiters.clear();
  }

  /**
   * Before leaving the cluster: stops ordering writes on the partitions this node is
   * the only owner of (replication factor 1; they are refused as not applied and their
   * callers retry in the next view) and hands those partitions to the members that own
   * them once it has left (`drain.ts`). Partitions with backups need nothing: a backup
   * takes over. Reads go on; call `stop()` after the leave. Does nothing without other
   * members or without the lease (the cluster cannot take them).
   */
  async drain(timeoutMs = DEFAULT_DRAIN_TIMEOUT_MS): Promise<DrainResult> {
    const placement = this.placement;
    if (
      this.stopped ||
      this.draining ||
      placement === undefined ||
      placement.members.length < 2 ||
      !this.viewSource.hasQuorum()
    ) {
      return { partitions: 0, keys: 0, failedTargets: [] };
    }
    this.draining = true;
    const result = await drainPartitions(
      {
        nodeId: this.id,
        placement: () => this.placement,
        replicationFactor: () => this.replicationFactor(),
        vnodes: this.options.vnodes,
        needsHandover: (p) =>
          this.states.mode[p] === MODE_PRIMARY_ACTIVE && this.placement?.ownersOf(p).length === 1,
        request: (peer, message, requestTimeoutMs) =>
          this.transport.request(peer, CACHE_CHANNEL, message, { timeoutMs: requestTimeoutMs }),
        now: () => this.scheduler.now(),
      },
      this.store,
      {
        maxChunkEntries: this.options.syncChunkEntries,
        maxChunkBytes: this.options.syncChunkBytes,
        deadlineMs: this.scheduler.now() + timeoutMs,
      },
    );
    if (result.partitions > 0 || result.failedTargets.length > 0) {
      this.logger.info('handed over partitions before leaving', { ...result });
    }
    return result;
  }

  /** Counters, gauges and handoff progress. */
  stats(): CacheNodeStats {
    const storeStats = this.store.stats();
    const source = this.syncSource.stats();
    return {
      nodeId: this.id,
      viewEpoch: this.placement?.epoch ?? -1,
      members: this.placement?.members.length ?? 0,
      role: this.viewSource.status?.().role ?? 'unknown',
      hasQuorum: this.viewSource.hasQuorum(),
      writeConcern: this.live.writeConcern,
      keys: this.store.size,
      bytes: this.store.bytes,
      hits: storeStats.hits,
      misses: storeStats.misses,
      sets: this.counters.sets,
      deletes: this.counters.deletes,
      incrs: this.counters.incrs,
      evictions: storeStats.evictions,
      expirations: storeStats.expirations,
      forwarded: this.counters.forwarded,
      retries: this.counters.retries,
      partitions: this.states.countModes(),
      replication: {
        batchesSent: this.counters.batchesSent,
        batchesFailed: this.counters.batchesFailed,
        streams: this.streams.count(),
        pendingWrites: this.pipeline.pendingWrites(),
        ...this.pipeline.replicationLag(),
      },
      settings: this.live.current(),
      handoff: {
        ...this.handoff.stats(),
        sourceSessions: source.sessions,
        keysSent: source.keysSent,
        bytesSent: source.bytesSent,
      },
      loads: this.loads.stats(),
    };
  }

  /** The view this node applies, or `undefined` before the first one. */
  view(): ClusterView | undefined {
    const placement = this.placement;
    return placement === undefined
      ? undefined
      : { epoch: placement.epoch, members: placement.members };
  }

  /** This node's role for the partition of `key` (for tests, tools and the CLI). */
  roleOf(key: string): 'primary' | 'backup' | 'none' {
    checkKey(key);
    return this.partitionRole(partitionOf(key));
  }

  /** Owners of `partition` in this node's view, primary first (for tests and tools). */
  partitionOwners(partition: number): readonly NodeId[] {
    return this.placement?.ownersOf(partition) ?? [];
  }

  /** This node's role for `partition` in its current view. */
  partitionRole(partition: number): 'primary' | 'backup' | 'none' {
    const mode = this.states.mode[partition];
    if (mode === MODE_PRIMARY_ACTIVE || mode === MODE_PRIMARY_SYNCING) return 'primary';
    if (mode === MODE_BACKUP_ACTIVE || mode === MODE_BACKUP_SYNCING) return 'backup';
    return 'none';
  }

  /**
   * Whether every partition this node owns is in sync: nothing left to pull, every
   * backup of its primary partitions in the replication stream, no write in flight.
   */
  isSettled(): boolean {
    return (
      this.placement !== undefined &&
      this.handoff.pendingCount() === 0 &&
      this.keeper.isIdle() &&
      this.pipeline.pendingWrites() === 0
    );
  }

  /**
   * The live entries of `partition` (or of every partition) in this node's store, as
   * `[key, encoded value, version]`, for convergence checks in tests and tools.
   */
  partitionContents(partition?: number): [string, Uint8Array, number][] {
    const contents: [string, Uint8Array, number][] = [];
    const filter =
      partition === undefined ? undefined : (key: string) => partitionOf(key) === partition;
    for (const entry of this.store.entries(filter)) {
      contents.push([entry.key, entry.value.bytes, entry.version]);
    }
    return contents;
  }

  // ---- for protocol front ends (RESP) ----------------------------------------------

  /**
   * Runs one operation (`key-ops.ts`, values already encoded) exactly as the cache API
   * does: at the key's primary, replicated, retried only when provably not applied.
   */
  runOp(op: KeyOp): Promise<OpResult> {
    checkKey(op.key);
    return this.execute(op);
  }

  /** Runs independent operations, batched per primary (as `mget`/`mset` do). */
  runOps(ops: readonly KeyOp[]): Promise<OpResult[]> {
    for (const op of ops) checkKey(op.key);
    return this.executeBatch(ops);
  }

  /** Largest encoded value this node accepts. */
  get maxValueBytes(): number {
    return this.options.maxValueBytes;
  }

  /** The store's byte bound. */
  get maxMemoryBytes(): number {
    return this.options.maxMemoryBytes;
  }

  /** Whether this node holds the read/write lease (a coordinator quorum). */
  hasQuorum(): boolean {
    return this.viewSource.hasQuorum();
  }

  /** The primary of `partition` in this node's view; `undefined` before the first view. */
  primaryOf(partition: number): NodeId | undefined {
    return this.placement?.primaryOf(partition);
  }

  /** Whether this node is the new primary of `partition` and still pulling it. */
  isPartitionSyncing(partition: number): boolean {
    return this.states.mode[partition] === MODE_PRIMARY_SYNCING;
  }

  /**
   * The live keys of the partitions this node is primary of (so the sum over the
   * members is the cache's key count), and how many of them have a TTL. Walks the
   * store: O(entries).
   */
  primaryKeys(): { keys: string[]; keysWithTtl: number } {
    const keys: string[] = [];
    let keysWithTtl = 0;
    const placement = this.placement;
    if (placement === undefined) return { keys, keysWithTtl };
    const filter = (key: string): boolean => placement.primaryOf(partitionOf(key)) === this.id;
    for (const entry of this.store.entries(filter)) {
      keys.push(entry.key);
      if (entry.ttlRemainingMs !== undefined) keysWithTtl++;
    }
    return { keys, keysWithTtl };
  }

  /**
   * Counts (and with `flush`, deletes through the replicated write path) the live keys
   * of the partitions this node is primary of.
   */
  private async primaryKeyCount(flush: boolean): Promise<{ keys: number; keysWithTtl: number }> {
    const { keys, keysWithTtl } = this.primaryKeys();
    if (flush) {
      for (let i = 0; i < keys.length; i += MAX_OPS_PER_BATCH) {
        const ops: KeyOp[] = keys
          .slice(i, i + MAX_OPS_PER_BATCH)
          .map((key) => ({ kind: 'del', key }));
        await this.executeBatch(ops);
      }
    }
    return { keys: keys.length, keysWithTtl };
  }

  /** Asks every member of the view for {@link primaryKeyCount} and sums the answers. */
  private async everyMemberPrimaryKeys(
    flush: boolean,
  ): Promise<{ keys: number; keysWithTtl: number }> {
    const placement = this.placement ?? (await this.awaitFirstView());
    const counts = await Promise.all(
      placement.members.map(async (member) => {
        if (member.id === this.id) return this.primaryKeyCount(flush);
        const reply = (await this.transport.request(
          member.id,
          CACHE_CHANNEL,
          { t: 'pkeys', flush },
          { timeoutMs: this.options.operationTimeoutMs },
        )) as { keys?: unknown; keysWithTtl?: unknown } | undefined;
        if (isErrorReply(reply)) throw new ShoalError(reply.c, `${member.id}: ${reply.m}`);
        const keys = reply?.keys;
        const keysWithTtl = reply?.keysWithTtl;
        if (typeof keys !== 'number' || typeof keysWithTtl !== 'number') {
          throw new ShoalError('ERR_BAD_REPLY', `${member.id} answered a malformed key count`);
        }
        return { keys, keysWithTtl };
      }),
    );
    let keys = 0;
    let keysWithTtl = 0;
    for (const count of counts) {
      keys += count.keys;
      keysWithTtl += count.keysWithTtl;
    }
    return { keys, keysWithTtl };
  }

  /** The cache's live keys over every member (each counts its primary partitions). */
  clusterKeyCount(): Promise<{ keys: number; keysWithTtl: number }> {
    return this.everyMemberPrimaryKeys(false);
  }

  /**
   * Deletes every key of the cache: each member deletes its primary partitions' keys
   * through the replicated write path. Not atomic: writes racing it may survive.
   */
  async flushCluster(): Promise<void> {
    await this.everyMemberPrimaryKeys(true);
  }

  // ---- routing ------------------------------------------------------------------------

  private execute(op: KeyOp, partition = partitionOf(op.key)): Promise<OpResult> {
    // The common case, served without the retry loop's promise hops: this node is the
    // active primary with the lease. A refusal that proves non-application goes the
    // routed way, which retries it.
    if (
      !this.stopped &&
      this.states.mode[partition] === MODE_PRIMARY_ACTIVE &&
      this.viewSource.hasQuorum()
    ) {
      if (isRead(op)) return Promise.resolve(this.readLocal(op));
      return this.writeAsActivePrimary(op, partition).catch((error: unknown) => {
        const code = error instanceof ShoalError ? error.code : '';
        if (isRetryableCode(code)) return this.executeRouted(op, partition);
        throw error;
      });
    }
    return this.executeRouted(op, partition);
  }

  private async executeRouted(op: KeyOp, partition: number): Promise<OpResult> {
    const deadline = this.scheduler.now() + this.options.operationTimeoutMs;
    // Waits for a view around an unreachable primary are bounded by the deadline only.
    let attempt = 0;
    for (;;) {
      if (this.stopped) throw new StoppedError();
      const placement = this.placement ?? (await this.awaitFirstView());
      try {
        return await this.route(op, partition, placement);
      } catch (error) {
        const waiting = awaitsView(error, op);
        if (!(await this.mayRetry(error, op, attempt, placement.epoch, deadline, waiting)))
          throw error;
        if (!waiting) attempt++;
        this.counters.retries++;
      }
    }
  }

  /** Serves `op` here when this node may, else sends it to the key's primary. */
  private route(op: KeyOp, partition: number, placement: Placement): Promise<OpResult> {
    if (isAnyRead(op)) {
      const mode = this.states.mode[partition];
      if (mode === MODE_PRIMARY_ACTIVE || mode === MODE_BACKUP_ACTIVE) {
        return Promise.resolve(this.readLocal(op));
      }
    } else if (!this.viewSource.hasQuorum()) {
      return Promise.reject(new NoQuorumError(this.id));
    }
    const primary = placement.primaryOf(partition);
    if (primary === this.id) return this.serveAsPrimary(op, partition);
    return this.forward(primary, partition, placement.epoch, op);
  }

  /**
   * Decides whether a failed attempt may be retried, and waits before it: for a newer
   * view when the refusal suggests one, else a short backoff. Only errors that prove
   * the operation was not applied are retried, plus reads (which change nothing).
   */
  private async mayRetry(
    error: unknown,
    op: KeyOp,
    attempt: number,
    epoch: number,
    deadline: number,
    waiting: boolean,
  ): Promise<boolean> {
    if (this.stopped || (!waiting && attempt >= this.options.maxRetries)) return false;
    const remaining = deadline - this.scheduler.now();
    if (remaining <= 0) return false;
    if (!isRetryableFailure(error, op)) return false;
    if (error instanceof ShoalError && error.code === 'ERR_NO_QUORUM') {
      // This node is cut off itself: no newer view will come. Otherwise the remote
      // primary lost its lease, to a newer view or only for a moment.
      if (!this.viewSource.hasQuorum()) return false;
      await this.waitForEpoch(epoch + 1, Math.min(this.options.viewWaitMs, remaining));
      if ((this.placement?.epoch ?? -1) <= epoch) {
        await this.sleep(Math.min(this.options.retryBackoffMs * (attempt + 1), remaining));
      }
      return true;
    }
    const hinted =
      error instanceof NotPrimaryError || error instanceof StaleViewError
        ? error.viewEpoch
        : epoch + 1;
    const target = Math.max(hinted, epoch + 1);
    if (hinted > epoch) {
      await this.waitForEpoch(target, Math.min(this.options.viewWaitMs, remaining));
    }
    if ((this.placement?.epoch ?? -1) <= epoch) {
      await this.sleep(Math.min(this.options.retryBackoffMs * (attempt + 1), remaining));
    }
    return true;
  }

  private async forward(
    primary: NodeId,
    partition: number,
    epoch: number,
    op: KeyOp,
  ): Promise<OpResult> {
    this.counters.forwarded++;
    let reply: unknown;
    try {
      reply = await this.transport.request(
        primary,
        CACHE_CHANNEL,
        { t: 'op', e: epoch, op: encodeOp(op) },
        { timeoutMs: this.options.requestTimeoutMs },
      );
    } catch (error) {
      throw lostReply(error, op);
    }
    return decodeOpReply(reply, op, primary, partition);
  }

  /** Runs mget/mset: local keys here, the rest in one request per primary. */
  private async executeBatch(ops: readonly KeyOp[]): Promise<OpResult[]> {
    if (this.stopped) throw new StoppedError();
    const placement = this.placement ?? (await this.awaitFirstView());
    const results: OpResult[] = new Array(ops.length);
    const byPrimary = new Map<NodeId, number[]>();
    const individually: number[] = [];
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      const p = partitionOf(op.key);
      const primary = placement.primaryOf(p);
      if (primary === this.id || (isAnyRead(op) && this.states.mode[p] !== MODE_NONE)) {
        individually.push(i);
        continue;
      }
      let list = byPrimary.get(primary);
      if (list === undefined) {
        list = [];
        byPrimary.set(primary, list);
      }
      list.push(i);
    }
    let firstError: unknown;
    const runOne = async (i: number): Promise<void> => {
      try {
        results[i] = await this.execute(ops[i]!);
      } catch (error) {
        firstError ??= error;
      }
    };
    const runGroup = async (primary: NodeId, indexes: number[]): Promise<void> => {
      if (!(isIdempotent(ops[indexes[0]!]!) || this.viewSource.hasQuorum())) {
        firstError ??= new NoQuorumError(this.id);
        return;
      }
      this.counters.forwarded += indexes.length;
      let reply: unknown;
      try {
        reply = await this.transport.request(
          primary,
          CACHE_CHANNEL,
          { t: 'ops', e: placement.epoch, ops: indexes.map((i) => encodeOp(ops[i]!)) },
          { timeoutMs: this.options.requestTimeoutMs },
        );
      } catch (error) {
        if (
          isIdempotent(ops[indexes[0]!]!) ||
          (error instanceof PeerUnavailableError && !error.sent)
        ) {
          await Promise.all(indexes.map(runOne));
        } else {
          firstError ??= lostReply(error, ops[indexes[0]!]!);
        }
        return;
      }
      const replies = (reply as { rs?: unknown } | undefined)?.rs;
      if (isErrorReply(reply) || !Array.isArray(replies) || replies.length !== indexes.length) {
        await Promise.all(indexes.map(runOne));
        return;
      }
      const retry: number[] = [];
      for (let j = 0; j < indexes.length; j++) {
        const i = indexes[j]!;
        const op = ops[i]!;
        try {
          results[i] = decodeOpReply(replies[j], op, primary, partitionOf(op.key));
        } catch (error) {
          const code = error instanceof ShoalError ? error.code : '';
          if (isRetryableCode(code) || isIdempotent(op)) retry.push(i);
          else firstError ??= error;
        }
      }
      await Promise.all(retry.map(runOne));
    };
    await Promise.all([
      ...individually.map(runOne),
      ...[...byPrimary].map(([primary, indexes]) => runGroup(primary, indexes)),
    ]);
    if (firstError !== undefined) throw firstError;
    return results;
  }

  // ---- serving as primary ----------------------------------------------------------

  private async serveAsPrimary(op: KeyOp, partition: number): Promise<OpResult> {
    for (;;) {
      if (this.stopped) throw new StoppedError();
      const mode = this.states.mode[partition];
      if (mode === MODE_PRIMARY_ACTIVE) {
        if (!this.viewSource.hasQuorum()) throw new NoQuorumError(this.id);
        if (isRead(op)) return this.readLocal(op);
        return this.writeAsActivePrimary(op, partition);
      }
      if (mode !== MODE_PRIMARY_SYNCING) {
        throw new NotPrimaryError(this.id, partition, this.placement?.epoch ?? -1);
      }
      await this.waitActive(partition);
    }
  }

  /** A write on an active primary with quorum: the checks made where writes are ordered. */
  private writeAsActivePrimary(op: WriteOp, partition: number): Promise<WriteResult> {
    if (this.draining && this.placement?.ownersOf(partition).length === 1) {
      return Promise.reject(new StoppedError());
    }
    if (op.kind !== 'set') return this.pipeline.submit(partition, op);
    // Where the write is ordered, the live settings apply: the size limit, and
    // the default TTL and jitter for every writer (embedded, forwarded, client).
    if (op.value.bytes.length > this.live.maxValueBytes) {
      return Promise.reject(new ValueTooLargeError(op.value.bytes.length, this.live.maxValueBytes));
    }
    return this.pipeline.submit(partition, { ...op, ttlMs: this.ttlAtPrimary(op) });
  }

  /** The live entry of `key` for the load coordinator (see `LoadHost.peek`). */
  private peekForLoad(key: string, partition: number): PeekedEntry | 'syncing' {
    if (this.stopped) throw new StoppedError();
    const mode = this.states.mode[partition];
    if (mode === MODE_PRIMARY_SYNCING) return 'syncing';
    if (mode !== MODE_PRIMARY_ACTIVE) {
      throw new NotPrimaryError(this.id, partition, this.placement?.epoch ?? -1);
    }
    if (!this.viewSource.hasQuorum()) throw new NoQuorumError(this.id);
    const stored = this.store.get(key);
    return { stored, ttlRemainingMs: stored === undefined ? TTL_MISSING : this.store.ttl(key) };
  }

  /** How `getOrLoad` reaches a key's primary from this node (built once). */
  private loadCallerOnce(): LoadCaller {
    if (this.loadCaller !== undefined) return this.loadCaller;
    const nonce = Math.floor(this.options.random.next() * 2 ** 32).toString(36);
    this.loadCaller = new LoadCaller({
      self: this.id,
      scheduler: this.scheduler,
      logger: this.logger,
      maxValueBytes: this.options.maxValueBytes,
      requestTimeoutMs: this.options.requestTimeoutMs,
      operationTimeoutMs: this.options.operationTimeoutMs,
      newToken: () => `${this.id}:${nonce}:${++this.loadTokens}`,
      locate: async (partition) => {
        if (this.stopped) throw new StoppedError();
        const placement = this.placement ?? (await this.awaitFirstView());
        const primary = placement.primaryOf(partition);
        const local = primary === this.id ? this.loads : undefined;
        return { epoch: placement.epoch, primary, local };
      },
      request: (peer, message, timeoutMs) => {
        this.counters.forwarded++;
        return this.transport.request(peer, CACHE_CHANNEL, message, { timeoutMs });
      },
      mayRetry: (error, attempt, epoch, deadline) => {
        const op: KeyOp = { kind: 'get', key: '', fromAnyOwner: false };
        return this.mayRetry(error, op, attempt, epoch, deadline, awaitsView(error, op));
      },
    });
    return this.loadCaller;
  }

  /**
   * The TTL a `set` is ordered with: the caller's or else the default TTL, jittered. A
   * stale-while-revalidate entry (`getOrLoad`) keeps its window whole and only its
   * fresh part is spread, so jitter cannot make it stale at birth.
   */
  private ttlAtPrimary(op: SetOp): number | undefined {
    const windowMs = staleWindowOf(op.value.bytes);
    if (windowMs === 0 || op.ttlMs === undefined || op.ttlMs <= windowMs) {
      return this.live.ttlForSet(op.ttlMs);
    }
    return this.live.ttlForSet(op.ttlMs - windowMs)! + windowMs;
  }

  private readLocal(op: ReadOp): OpResult {
    switch (op.kind) {
      case 'get':
        return this.store.get(op.key);
      case 'has':
        return this.store.has(op.key);
      case 'ttl':
        return this.store.ttl(op.key);
    }
  }

  /** Waits until `partition` leaves the syncing state (or the view changes). */
  private waitActive(partition: number): Promise<void> {
    let waiters = this.activationWaiters.get(partition);
    if (waiters === undefined) {
      waiters = new Set();
      this.activationWaiters.set(partition, waiters);
    }
    if (waiters.size >= this.options.maxQueuedPerPartition) {
      return Promise.reject(
        new OverloadedError(
          `the handoff queue of partition ${partition}`,
          this.options.maxQueuedPerPartition,
        ),
      );
    }
    const set = waiters;
    return new Promise<void>((resolve, reject) => {
      const waiter: ActivationWaiter = { resolve, reject, timer: undefined };
      waiter.timer = this.scheduler.setTimeout(() => {
        set.delete(waiter);
        reject(new PartitionSyncingError(partition));
      }, this.options.queueTimeoutMs);
      set.add(waiter);
    });
  }

  private wakeActivationWaiters(partition: number): void {
    const waiters = this.activationWaiters.get(partition);
    if (waiters === undefined) return;
    this.activationWaiters.delete(partition);
    for (const waiter of waiters) {
      if (waiter.timer !== undefined) this.scheduler.clearTimeout(waiter.timer);
      waiter.resolve();
    }
  }

  // ---- views --------------------------------------------------------------------------

  private replicationFactor(): number {
    const configured = this.viewSource.config.get(REPLICATION_FACTOR_CONFIG_KEY);
    if (typeof configured === 'number' && Number.isInteger(configured) && configured >= 1) {
      return configured;
    }
    return this.options.replicationFactor;
  }

  /**
   * Moves every partition to its state in the new view. A copy stays complete only
   * when this node owned the partition in the immediately preceding view (with a gap,
   * writes of the missed views may have bypassed it). A new primary with a complete
   * copy (a promoted backup, or a continuing primary) is active at once; any other
   * gained partition is pulled. A backup keeps its stream only if its primary did not
   * change. Writes in flight under the old view are abandoned.
   */
  private applyView(view: ClusterView): void {
    if (this.stopped) return;
    const previous = this.placement;
    if (previous !== undefined && view.epoch <= previous.epoch) return;
    // The coordinator's genesis view has no members yet: nothing can be placed.
    if (view.members.length === 0) return;
    let next: Placement;
    try {
      next = Placement.of(view, this.replicationFactor(), this.options.vnodes);
    } catch (error) {
      this.logger.error('cannot place partitions for a committed view', {
        epoch: view.epoch,
        reason: error instanceof Error ? error.message : String(error),
      });
      return;
    }
    const contiguous = previous !== undefined && view.epoch === previous.epoch + 1;
    this.placement = next;
    for (const member of view.members) {
      if (member.id !== this.id) this.transport.addPeer(member.id, member.address);
    }
    if (previous !== undefined) {
      for (const member of previous.members) {
        if (member.id !== this.id && !next.isMember(member.id))
          this.transport.removePeer(member.id);
      }
    }
    const { mode, complete } = this.states;
    const primarySync: number[] = [];
    const backupSync: number[] = [];
    const changed: number[] = [];
    for (let p = 0; p < PARTITION_COUNT; p++) {
      const oldMode = mode[p]!;
      if (
        previous === undefined ||
        !sameOwners(previous.ownersOf(p), next.ownersOf(p)) ||
        oldMode === MODE_PRIMARY_SYNCING ||
        oldMode === MODE_BACKUP_SYNCING ||
        !contiguous
      ) {
        changed.push(p);
      }
      const keepsComplete = contiguous && oldMode !== MODE_NONE && complete[p] === 1;
      complete[p] = keepsComplete ? 1 : 0;
      const rank = next.rankOf(this.id, p);
      if (rank >= 0) this.strayMask[p] = 0;
      if (rank === 0) {
        this.backupSid[p] = undefined;
        // Below writeConcern all, a backup may lack acknowledged writes without knowing:
        // a new primary compares watermarks with the other members first.
        const mayActivate =
          keepsComplete && (oldMode === MODE_PRIMARY_ACTIVE || !this.live.handoffByWatermark);
        if (mayActivate) {
          if (oldMode === MODE_PRIMARY_ACTIVE) this.streams.retain(p, next.ownersOf(p));
          else this.streams.clear(p);
          mode[p] = MODE_PRIMARY_ACTIVE;
          this.states.becamePrimary(p);
        } else {
          this.streams.clear(p);
          mode[p] = MODE_PRIMARY_SYNCING;
          primarySync.push(p);
        }
        continue;
      }
      this.streams.clear(p);
      if (rank > 0) {
        const sameStream =
          contiguous &&
          oldMode === MODE_BACKUP_ACTIVE &&
          previous.primaryOf(p) === next.primaryOf(p);
        if (sameStream) {
          mode[p] = MODE_BACKUP_ACTIVE;
        } else {
          mode[p] = MODE_BACKUP_SYNCING;
          this.backupSid[p] = undefined;
          backupSync.push(p);
        }
      } else {
        if (oldMode !== MODE_NONE) this.strayMask[p] = 1;
        mode[p] = MODE_NONE;
        this.backupSid[p] = undefined;
      }
    }
    this.syncSource.prune(next.epoch, this.scheduler.now());
    this.handoff.reset(primarySync, backupSync);
    this.pipeline.onViewChange();
    for (const partition of [...this.activationWaiters.keys()])
      this.wakeActivationWaiters(partition);
    this.resolveViewWaiters();
    this.loads.viewChanged((p) => mode[p] === MODE_PRIMARY_ACTIVE);
    this.keeper.viewChanged(changed);
    this.logger.debug('view applied', {
      epoch: next.epoch,
      members: next.members.length,
      contiguous,
      primarySync: primarySync.length,
      backupSync: backupSync.length,
    });
  }

  private awaitFirstView(): Promise<Placement> {
    return this.waitForEpoch(0, this.options.viewWaitMs).then(() => {
      if (this.stopped) throw new StoppedError();
      if (this.placement === undefined) throw new NoViewError(this.id, this.options.viewWaitMs);
      return this.placement;
    });
  }

  /** Resolves once this node applies a view with epoch >= `epoch`, or after `timeoutMs`. */
  private waitForEpoch(epoch: number, timeoutMs: number): Promise<void> {
    if (this.placement !== undefined && this.placement.epoch >= epoch) return Promise.resolve();
    if (this.stopped || timeoutMs <= 0 || this.viewWaiters.length >= MAX_VIEW_WAITERS) {
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const waiter: ViewWaiter = { epoch, resolve, timer: undefined };
      waiter.timer = this.scheduler.setTimeout(() => {
        this.viewWaiters = this.viewWaiters.filter((other) => other !== waiter);
        resolve();
      }, timeoutMs);
      this.viewWaiters.push(waiter);
    });
  }

  private resolveViewWaiters(): void {
    const epoch = this.placement?.epoch ?? -1;
    const keep: ViewWaiter[] = [];
    for (const waiter of this.viewWaiters) {
      if (waiter.epoch <= epoch) {
        if (waiter.timer !== undefined) this.scheduler.clearTimeout(waiter.timer);
        waiter.resolve();
      } else {
        keep.push(waiter);
      }
    }
    this.viewWaiters = keep;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.scheduler.setTimeout(resolve, Math.max(0, ms)));
  }

  // ---- replication (primary side) ----------------------------------------------------

  private async replicate(
    target: ReplicationTarget,
    partition: number,
    epoch: number,
    items: WireItem[],
  ): Promise<ReplicaAnswer> {
    this.counters.batchesSent++;
    const timeoutMs = this.syncSource.isOpen(target.sid)
      ? this.options.syncAckTimeoutMs
      : this.options.replicationTimeoutMs;
    let reply: unknown;
    try {
      reply = await this.transport.request(
        target.id,
        CACHE_CHANNEL,
        { t: 'repl', e: epoch, p: partition, sid: target.sid, items },
        { timeoutMs },
      );
    } catch (error) {
      this.counters.batchesFailed++;
      return error instanceof PeerUnavailableError && !error.sent ? 'refused' : 'unknown';
    }
    if (isErrorReply(reply)) {
      this.counters.batchesFailed++;
      return reply.c === 'ERR_STALE_VIEW' || reply.c === 'ERR_REPLICA_NOT_SYNCED'
        ? 'refused'
        : 'unknown';
    }
    return 'ack';
  }

  private backupDiverged(partition: number, backup: NodeId): void {
    if (this.streams.drop(partition, backup)) {
      this.syncSource.closeFor(backup, partition);
    }
    this.keeper.mark(partition);
  }

  private primarySynced(partitions: readonly number[], source: NodeId | undefined): void {
    const placement = this.placement;
    if (placement === undefined) return;
    const adoptSid = `adopt:${this.id}:${placement.epoch}`;
    const adopted: number[] = [];
    for (const p of partitions) {
      if (this.states.mode[p] !== MODE_PRIMARY_SYNCING) continue;
      this.states.mode[p] = MODE_PRIMARY_ACTIVE;
      this.states.complete[p] = 1;
      this.states.becamePrimary(p);
      if (source !== undefined && placement.rankOf(source, p) > 0) {
        // The source's copy is exactly what this node now holds: it joins the stream
        // without copying the partition back.
        this.streams.set(p, source, adoptSid);
        adopted.push(p);
      }
      this.keeper.mark(p);
      this.wakeActivationWaiters(p);
    }
    if (source !== undefined && adopted.length > 0) {
      this.transport.send(source, CACHE_CHANNEL, {
        t: 'adopt',
        e: placement.epoch,
        ps: encodePartitions(adopted),
        sid: adoptSid,
      });
    }
  }

  private backupSynced(partitions: readonly number[], sid: string): void {
    for (const p of partitions) {
      if (this.states.mode[p] !== MODE_BACKUP_SYNCING) continue;
      this.states.mode[p] = MODE_BACKUP_ACTIVE;
      this.states.complete[p] = 1;
      this.backupSid[p] = sid;
    }
  }

  // ---- incoming messages -------------------------------------------------------------

  /** A config read for a client; `v` is absent when the key was never set (version 0). */
  private onConfigGet(key: string): unknown {
    const config = this.viewSource.config;
    if (config.version === undefined) return errorReply(new ConfigUnavailableError());
    const version = config.version(key);
    return version === 0 ? { ok: true, ver: 0 } : { ok: true, v: config.get(key), ver: version };
  }

  /** A config write for a client, through the coordinator (which validates key and size). */
  private async onConfigSet(
    key: string,
    value: unknown,
    ifVersion: number | undefined,
  ): Promise<unknown> {
    const config = this.viewSource.config;
    if (config.set === undefined) return errorReply(new ConfigUnavailableError());
    try {
      checkConfigWrite(key, value);
      const { version } = await config.set(
        key,
        value,
        ifVersion === undefined ? {} : { ifVersion },
      );
      return { ok: true, ver: version };
    } catch (error) {
      return errorReply(error);
    }
  }

  private onRequest(from: NodeId, message: unknown): unknown {
    if (this.stopped) return errorReply(new StoppedError());
    let request: CacheRequest;
    try {
      request = decodeRequest(message, this.live.wireValueBytes);
    } catch (error) {
      return errorReply(error);
    }
    switch (request.t) {
      case 'op': {
        // Reads of an active primary's partition are answered synchronously: no
        // promise hops on the hot path of clients.
        const op = request.op;
        const placement = this.placement;
        if (placement !== undefined && request.e <= placement.epoch) {
          const partition = partitionOf(op.key);
          const mode = this.states.mode[partition];
          if (isRead(op)) {
            if (
              mode === MODE_PRIMARY_ACTIVE
                ? op.fromAnyOwner || this.viewSource.hasQuorum()
                : op.fromAnyOwner && mode === MODE_BACKUP_ACTIVE
            ) {
              return { ok: true, r: encodeResult(this.readLocal(op)) } satisfies OpReply;
            }
          } else if (
            mode === MODE_PRIMARY_ACTIVE &&
            placement.primaryOf(partition) === this.id &&
            this.viewSource.hasQuorum()
          ) {
            // The checks of serveRemote/serveAsPrimary, done here so a write on an
            // active primary skips their two async layers.
            return this.writeAsActivePrimary(op, partition).then(
              (result) => ({ ok: true, r: encodeResult(result) }) satisfies OpReply,
              (error: unknown) => this.refusal(error, request.e),
            );
          }
        }
        return this.serveRemote(request.e, request.op).then(
          (result) => ({ ok: true, r: encodeResult(result) }) satisfies OpReply,
          (error: unknown) => this.refusal(error, request.e),
        );
      }
      case 'ops':
        return Promise.all(
          request.ops.map((op) =>
            this.serveRemote(request.e, op).then(
              (result) => ({ ok: true, r: encodeResult(result) }) satisfies OpReply,
              (error: unknown) => this.refusal(error, request.e),
            ),
          ),
        ).then((rs) => ({ ok: true, rs }));
      case 'view': {
        const placement = this.placement;
        if (placement === undefined) return errorReply(new NoViewError(this.id, 0));
        return {
          ok: true,
          view: encodeView(placement),
        };
      }
      case 'status':
        return { ok: true, status: nodeStatusReport(this.stats(), this.viewSource.status?.()) };
      case 'pkeys':
        return this.primaryKeyCount(request.flush).then(
          (count) => ({ ok: true, ...count }),
          (error: unknown) => errorReply(error),
        );
      case 'configGet':
        return this.onConfigGet(request.key);
      case 'configSet':
        return this.onConfigSet(request.key, request.value, request.ifVersion);
      case 'seed':
        return this.onSeed(from, request.e, request.clear, request.items);
      case 'repl':
        return this.onReplicate(from, request.e, request.p, request.sid, request.items);
      case 'probe':
        return this.onProbe(request.e, request.ps, request.watermarks);
      case 'sopen':
        return this.onSyncOpen(from, request.e, request.sid, request.ps, request.backup);
      case 'load':
      case 'loaded':
      case 'loadFail':
        return this.serveLoad(from, request);
      case 'spull': {
        const session = this.syncSource.session(request.sid, from);
        if (session === undefined || session.epoch !== this.placement?.epoch) {
          this.syncSource.close(request.sid);
          return errorReply(new StaleViewError(session?.epoch ?? 0, this.placement?.epoch ?? -1));
        }
        return { ok: true, ...this.syncSource.pull(request.sid, this.scheduler.now()) };
      }
    }
  }

  /**
   * A leaving primary hands over partitions it alone holds (`drain.ts`): kept here as
   * a non-owner's copy, replacing whatever this node held of them, until the leave's
   * view makes this node their primary.
   */
  private async onSeed(
    from: NodeId,
    epoch: number,
    clear: readonly number[],
    items: WireItem[],
  ): Promise<unknown> {
    const placement = await this.placementAt(epoch);
    if (!(placement instanceof Placement)) return placement;
    const refused = (p: number) =>
      placement.primaryOf(p) !== from || this.states.mode[p] !== MODE_NONE;
    for (const p of clear) if (refused(p)) return errorReply(new ReplicaNotSyncedError(this.id, p));
    for (const [key] of items) {
      const p = partitionOf(key);
      if (refused(p)) return errorReply(new ReplicaNotSyncedError(this.id, p));
    }
    if (clear.length > 0) {
      const mask = new Uint8Array(PARTITION_COUNT);
      for (const p of clear) {
        mask[p] = 1;
        // The handed-over copy replaces any stray one: a repeated release must not drop it.
        this.strayMask[p] = 0;
        this.releaseMask[p] = 0;
      }
      const stale: string[] = [];
      for (const entry of this.store.entries((key) => mask[partitionOf(key)] === 1))
        stale.push(entry.key);
      for (const key of stale) this.store.delete(key);
    }
    for (const item of items) applyReplicated(this.store, this.states, item);
    return { ok: true };
  }

  private refusal(error: unknown, requestEpoch: number): ErrorReply {
    const placement = this.placement;
    const epoch = placement?.epoch ?? -1;
    const view =
      placement !== undefined && requestEpoch < epoch && error instanceof NotPrimaryError
        ? encodeView(placement)
        : undefined;
    return errorReply(error, epoch, view);
  }

  private async serveLoad(from: NodeId, request: LoadRequest): Promise<unknown> {
    if ((this.placement?.epoch ?? -1) < request.e)
      await this.waitForEpoch(request.e, this.options.viewWaitMs);
    return this.loads.serve(from, request, (error) => this.refusal(error, request.e));
  }

  /**
   * The placement of view `epoch` for a node-to-node message stamped with it: waits
   * (bounded) for this node's view to catch up, and answers the error reply the sender
   * needs when this node is stopped or in another view (fencing).
   */
  private async placementAt(epoch: number): Promise<Placement | ErrorReply> {
    if ((this.placement?.epoch ?? -1) < epoch)
      await this.waitForEpoch(epoch, this.options.viewWaitMs);
    const placement = this.placement;
    if (this.stopped) return errorReply(new StoppedError());
    if (placement === undefined || placement.epoch !== epoch) {
      return errorReply(new StaleViewError(epoch, placement?.epoch ?? -1), placement?.epoch);
    }
    return placement;
  }

  private async serveRemote(epoch: number, op: KeyOp): Promise<OpResult> {
    if ((this.placement?.epoch ?? -1) < epoch)
      await this.waitForEpoch(epoch, this.options.viewWaitMs);
    const placement = this.placement;
    if (placement === undefined) throw new NoViewError(this.id, this.options.viewWaitMs);
    const p = partitionOf(op.key);
    if (isAnyRead(op)) {
      const mode = this.states.mode[p];
      if (mode === MODE_PRIMARY_ACTIVE || mode === MODE_BACKUP_ACTIVE) return this.readLocal(op);
    }
    if (placement.primaryOf(p) !== this.id) throw new NotPrimaryError(this.id, p, placement.epoch);
    return this.serveAsPrimary(op, p);
  }

  private async onReplicate(
    from: NodeId,
    epoch: number,
    partition: number,
    sid: string,
    items: WireItem[],
  ): Promise<unknown> {
    const placement = await this.placementAt(epoch);
    if (!(placement instanceof Placement)) return placement;
    if (placement.primaryOf(partition) !== from || placement.rankOf(this.id, partition) <= 0) {
      return errorReply(new ReplicaNotSyncedError(this.id, partition));
    }
    const mode = this.states.mode[partition];
    if (mode === MODE_BACKUP_ACTIVE && this.backupSid[partition] === sid) {
      for (const item of items) applyReplicated(this.store, this.states, item);
      return { ok: true };
    }
    if (mode === MODE_BACKUP_SYNCING && this.handoff.isCopying(partition, sid)) {
      try {
        await this.handoff.buffer(partition, sid, items);
        return { ok: true };
      } catch (error) {
        return errorReply(error);
      }
    }
    return errorReply(new ReplicaNotSyncedError(this.id, partition));
  }

  private async onProbe(
    epoch: number,
    partitions: readonly number[],
    watermarks: boolean,
  ): Promise<unknown> {
    if ((this.placement?.epoch ?? -1) < epoch)
      await this.waitForEpoch(epoch, this.options.viewWaitMs);
    const current = this.placement?.epoch ?? -1;
    if (current !== epoch) return errorReply(new StaleViewError(epoch, current), current);
    return {
      ok: true,
      complete: encodePartitions(partitions.filter((p) => this.states.complete[p] === 1)),
      ...(watermarks
        ? { wm: encodeVersions(partitions.map((p) => this.states.watermark(p))) }
        : {}),
    };
  }

  private async onSyncOpen(
    from: NodeId,
    epoch: number,
    sid: string,
    partitions: readonly number[],
    backup: boolean,
  ): Promise<unknown> {
    const placement = await this.placementAt(epoch);
    if (!(placement instanceof Placement)) return placement;
    if (!this.syncSource.hasRoom()) {
      return errorReply(
        new OverloadedError('the handoff source sessions', this.options.syncMaxSourceSessions),
      );
    }
    let accepted = [...partitions];
    if (backup) {
      accepted = accepted.filter(
        (p) => this.states.mode[p] === MODE_PRIMARY_ACTIVE && placement.rankOf(from, p) > 0,
      );
      // From now on every new batch of these partitions goes to the puller too; the
      // batches already in flight must land here before the copy starts.
      for (const p of accepted) this.streams.set(p, from, sid);
      await this.pipeline.whenIdle(accepted);
      if (this.placement !== placement) {
        return errorReply(new StaleViewError(epoch, this.placement?.epoch ?? -1));
      }
      accepted = accepted.filter((p) => this.streams.get(p, from) === sid);
    }
    this.syncSource.open(sid, from, epoch, accepted, this.scheduler.now());
    if (backup) {
      for (const p of accepted) {
        this.pipeline.kick(p);
        this.keeper.mark(p);
      }
    }
    return { ok: true, ps: encodePartitions(accepted) };
  }

  private onMessage(from: NodeId, message: unknown): void {
    if (this.stopped) return;
    const decoded: CacheMessage | undefined = decodeMessage(message);
    const placement = this.placement;
    if (decoded === undefined || placement === undefined) return;
    switch (decoded.t) {
      case 'sclose':
        if (this.syncSource.session(decoded.sid, from) !== undefined)
          this.syncSource.close(decoded.sid);
        return;
      case 'needsync': {
        if (decoded.e !== placement.epoch) return;
        const resync: number[] = [];
        for (const p of decoded.ps) {
          if (placement.primaryOf(p) !== from || placement.rankOf(this.id, p) <= 0) continue;
          if (this.states.mode[p] === MODE_BACKUP_ACTIVE) {
            this.states.mode[p] = MODE_BACKUP_SYNCING;
            this.backupSid[p] = undefined;
            resync.push(p);
          }
        }
        if (resync.length > 0) this.handoff.resyncBackup(resync);
        this.handoff.nudge(from);
        // Writes are waiting for these: copy them now, ahead of the rest.
        if (decoded.urgent) this.handoff.expedite(decoded.ps);
        return;
      }
      case 'adopt': {
        if (decoded.e !== placement.epoch) return;
        for (const p of decoded.ps) {
          if (placement.primaryOf(p) !== from || placement.rankOf(this.id, p) <= 0) continue;
          if (this.states.mode[p] !== MODE_BACKUP_SYNCING || !this.handoff.isWaitingAsBackup(p))
            continue;
          this.states.mode[p] = MODE_BACKUP_ACTIVE;
          this.states.complete[p] = 1;
          this.backupSid[p] = decoded.sid;
          this.handoff.adopted(p);
        }
        return;
      }
      case 'release': {
        if (decoded.e !== placement.epoch) return;
        let released = false;
        for (const p of decoded.ps) {
          if (this.states.mode[p] !== MODE_NONE || placement.primaryOf(p) !== from) continue;
          if (this.strayMask[p] === 0) continue;
          this.releaseMask[p] = 1;
          released = true;
        }
        if (released && this.releaseTimer === undefined) {
          this.releaseTimer = this.scheduler.setTimeout(() => {
            this.releaseTimer = undefined;
            this.dropReleased();
          }, this.options.maintenanceIntervalMs);
        }
        return;
      }
      case 'drop': {
        if (decoded.e !== placement.epoch) return;
        for (const [key, version] of decoded.items) {
          const p = partitionOf(key);
          if (placement.primaryOf(p) !== from || placement.rankOf(this.id, p) <= 0) continue;
          const entry = this.store.getEntry(key);
          if (entry !== undefined && entry.version <= version) this.store.delete(key);
        }
        return;
      }
    }
  }

  /** Deletes the copies of partitions whose new owners are all in sync. */
  private dropReleased(): void {
    const mask = this.releaseMask;
    for (let p = 0; p < PARTITION_COUNT; p++) {
      if (mask[p] === 1 && (this.states.mode[p] !== MODE_NONE || this.syncSource.isServing(p))) {
        mask[p] = 0;
      }
    }
    const stale: string[] = [];
    for (const entry of this.store.entries((key) => mask[partitionOf(key)] === 1))
      stale.push(entry.key);
    for (const key of stale) this.store.delete(key);
    for (let p = 0; p < PARTITION_COUNT; p++) {
      if (mask[p] === 1) {
        mask[p] = 0;
        this.strayMask[p] = 0;
        this.states.complete[p] = 0;
      }
    }
  }

  private onPeerDown(peer: NodeId): void {
    if (this.stopped) return;
    this.loads.peerDown(peer);
    for (const p of this.streams.dropPeer(peer)) this.keeper.mark(p);
  }

  // ---- housekeeping ------------------------------------------------------------------

  private maintain(): void {
    if (this.stopped) return;
    const placement = this.placement;
    if (placement !== undefined) this.syncSource.prune(placement.epoch, this.scheduler.now());
    if (this.options.sweepSamples > 0) this.store.sweepExpired(this.options.sweepSamples);
    this.keeper.tick();
  }

  /**
   * The store dropped an entry on its own (eviction or expiry). On a primary, the
   * backups drop it too, stamped with the highest version applied here, so a newer
   * write already on its way to them survives.
   */
  private onStoreRemove(key: string, _reason: RemovalReason): void {
    const p = partitionOf(key);
    if (this.states.mode[p] !== MODE_PRIMARY_ACTIVE || this.placement === undefined) return;
    const owners = this.placement.ownersOf(p);
    const version = this.states.appliedVersion[p]!;
    for (let rank = 1; rank < owners.length; rank++) {
      const backup = owners[rank]!;
      if (this.streams.get(p, backup) === undefined) continue;
      let list = this.pendingDrops.get(backup);
      if (list === undefined) {
        list = [];
        this.pendingDrops.set(backup, list);
      }
      list.push([key, version]);
      this.pendingDropCount++;
    }
    if (this.pendingDropCount >= MAX_PENDING_DROPS) {
      this.scheduler.setTimeout(() => this.flushDrops(), 0);
    } else if (this.dropTimer === undefined && this.pendingDropCount > 0) {
      this.dropTimer = this.scheduler.setTimeout(() => {
        this.dropTimer = undefined;
        this.flushDrops();
      }, 0);
    }
  }

  private flushDrops(): void {
    const placement = this.placement;
    const drops = this.pendingDrops;
    this.pendingDrops = new Map();
    this.pendingDropCount = 0;
    if (placement === undefined || this.stopped) return;
    for (const [backup, items] of drops) {
      this.transport.send(backup, CACHE_CHANNEL, { t: 'drop', e: placement.epoch, items });
    }
  }
}

function sameOwners(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
