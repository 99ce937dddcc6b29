import type { Transport } from '../transport/transport.js';
import { InvalidArgumentError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { silentLogger } from '../util/logger.js';
import type { Random } from '../util/random.js';
import { systemRandom } from '../util/random.js';
import { realScheduler, type Scheduler } from '../util/scheduler.js';
import type { WriteConcern } from './cache-api.js';
import type { LoadLimits } from './load-coordinator.js';
import { DEFAULT_REPLICATION_FACTOR } from './placement.js';
import type { ViewSource } from './view-source.js';

/** Options of a `CacheNode`. Every limit has a default sized for a LAN cluster. */
export interface CacheNodeOptions {
  /** Messaging to the other members and from clients (channel `cache`). */
  readonly transport: Transport;
  /** Committed views, the lease, and config (the coordinator). */
  readonly viewSource: ViewSource;
  /** Timers and time; default the real event loop. */
  readonly scheduler?: Scheduler;
  readonly logger?: Logger;
  /** Randomness for session ids; default `systemRandom`. */
  readonly random?: Random;
  /** Most entries held. Default 4,000,000. */
  readonly maxEntries?: number;
  /** Most bytes held (encoded values plus keys). Default 256 MiB. */
  readonly maxMemoryBytes?: number;
  /** Largest encoded value accepted. Default 1 MiB. */
  readonly maxValueBytes?: number;
  /**
   * Owners per partition when the cluster config has no `replicationFactor`. Every
   * member must use the same value. Default 2.
   */
  readonly replicationFactor?: number;
  /** Virtual nodes per member on the ring; every member must use the same value. */
  readonly vnodes?: number;
  /** Default `all`: a write is acknowledged once every owner holds it. */
  readonly writeConcern?: WriteConcern;
  /** TTL of a `set` that gives none, in ms; 0 (the default) means no expiry. */
  readonly defaultTtlMs?: number;
  /**
   * Fraction in [0, 1] (default 0): each `set`'s TTL is drawn uniformly from
   * `[ttl * (1 - ttlJitter), ttl]` at the key's primary, so keys written together do
   * not expire together. The cluster config's `defaultTtlMs`, `ttlJitter`,
   * `maxValueBytes`, `maxMemory` and `writeConcern` override the options of that name.
   */
  readonly ttlJitter?: number;
  /** Timeout of one forwarded operation. Default 5000 ms. */
  readonly requestTimeoutMs?: number;
  /** Overall budget of one operation, retries included. Default 10000 ms. */
  readonly operationTimeoutMs?: number;
  /** Timeout of one replication batch to an in-sync backup. Default 3000 ms. */
  readonly replicationTimeoutMs?: number;
  /** Timeout of a replication batch to a backup still copying the partition. Default 30000 ms. */
  readonly syncAckTimeoutMs?: number;
  /** How long a request from a newer view waits for this node's view to catch up. Default 2000 ms. */
  readonly viewWaitMs?: number;
  /** Retries after redirects and refusals that prove non-application. Default 8. */
  readonly maxRetries?: number;
  /** Pause before a retry that no newer view explains. Default 20 ms (grows per attempt). */
  readonly retryBackoffMs?: number;
  /** How long an operation waits for its partition to finish handoff. Default 5000 ms. */
  readonly queueTimeoutMs?: number;
  /** Most operations waiting per partition. Default 10,000. */
  readonly maxQueuedPerPartition?: number;
  /** Most writes per replication batch. Default 256. */
  readonly maxBatchWrites?: number;
  /** Handoff chunk size in entries. Default 4000. */
  readonly syncChunkEntries?: number;
  /** Handoff chunk size in bytes. Default 1 MiB. */
  readonly syncChunkBytes?: number;
  /**
   * Most partitions per handoff session. Each session walks the source's store once,
   * and writes to its partitions wait until it completes. Default 1024 (1/16 of the
   * partitions: a node joining a loaded cluster costs its sources about 16 walks).
   */
  readonly syncPartitionsPerSession?: number;
  /** Most handoff sessions pulled at once. Default 4. */
  readonly syncConcurrentSessions?: number;
  /** Most handoff sessions served at once. Default 64. */
  readonly syncMaxSourceSessions?: number;
  /** Timeout of one probe, session open or chunk. Default 10000 ms. */
  readonly syncRequestTimeoutMs?: number;
  /** Delay before retrying a failed handoff. Default 100 ms. */
  readonly syncRetryDelayMs?: number;
  /** A served session idle this long is dropped. Default 60000 ms. */
  readonly syncSessionIdleTimeoutMs?: number;
  /** Replication items a syncing backup buffers per session. Default 200,000. */
  readonly syncMaxBufferedItems?: number;
  /** Period of housekeeping (resync requests, releases, expiry sweep). Default 100 ms. */
  readonly maintenanceIntervalMs?: number;
  /** Slots examined per housekeeping round for expired entries. Default 256. */
  readonly sweepSamples?: number;
  /** Bounds of `getOrLoad` coordination (pending loads, waiters per key); see `LoadLimits`. */
  readonly loadLimits?: Partial<LoadLimits>;
}

/** Options after defaults. */
export interface ResolvedCacheNodeOptions {
  readonly transport: Transport;
  readonly viewSource: ViewSource;
  readonly scheduler: Scheduler;
  readonly logger: Logger;
  readonly random: Random;
  readonly maxEntries: number;
  readonly maxMemoryBytes: number;
  readonly maxValueBytes: number;
  readonly replicationFactor: number;
  readonly vnodes: number | undefined;
  readonly writeConcern: WriteConcern;
  readonly defaultTtlMs: number;
  readonly ttlJitter: number;
  readonly requestTimeoutMs: number;
  readonly operationTimeoutMs: number;
  readonly replicationTimeoutMs: number;
  readonly syncAckTimeoutMs: number;
  readonly viewWaitMs: number;
  readonly maxRetries: number;
  readonly retryBackoffMs: number;
  readonly queueTimeoutMs: number;
  readonly maxQueuedPerPartition: number;
  readonly maxBatchWrites: number;
  readonly syncChunkEntries: number;
  readonly syncChunkBytes: number;
  readonly syncPartitionsPerSession: number;
  readonly syncConcurrentSessions: number;
  readonly syncMaxSourceSessions: number;
  readonly syncRequestTimeoutMs: number;
  readonly syncRetryDelayMs: number;
  readonly syncSessionIdleTimeoutMs: number;
  readonly syncMaxBufferedItems: number;
  readonly maintenanceIntervalMs: number;
  readonly sweepSamples: number;
  /** Validated by the load coordinator. */
  readonly loadLimits: Partial<LoadLimits> | undefined;
}

const MIB = 1024 * 1024;

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  const resolved = value ?? fallback;
  if (!Number.isSafeInteger(resolved) || resolved < 1) {
    throw new InvalidArgumentError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return resolved;
}

function nonNegativeInteger(name: string, value: number | undefined, fallback: number): number {
  const resolved = value ?? fallback;
  if (!Number.isSafeInteger(resolved) || resolved < 0) {
    throw new InvalidArgumentError(`${name} must be a non-negative integer, got ${String(value)}`);
  }
  return resolved;
}

/** Applies defaults and rejects invalid options with `InvalidArgumentError`. */
export function resolveCacheNodeOptions(options: CacheNodeOptions): ResolvedCacheNodeOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('CacheNode options must be an object');
  }
  if (typeof options.transport?.request !== 'function') {
    throw new InvalidArgumentError('CacheNode needs a transport');
  }
  if (typeof options.viewSource?.view !== 'function') {
    throw new InvalidArgumentError('CacheNode needs a viewSource');
  }
  const writeConcern = options.writeConcern ?? 'all';
  if (writeConcern !== 'one' && writeConcern !== 'quorum' && writeConcern !== 'all') {
    throw new InvalidArgumentError(
      `writeConcern must be one, quorum or all, got ${String(writeConcern)}`,
    );
  }
  const maxMemoryBytes = positiveInteger('maxMemoryBytes', options.maxMemoryBytes, 256 * MIB);
  const maxValueBytes = positiveInteger('maxValueBytes', options.maxValueBytes, MIB);
  if (maxValueBytes > maxMemoryBytes) {
    throw new InvalidArgumentError('maxValueBytes cannot exceed maxMemoryBytes');
  }
  const ttlJitter = options.ttlJitter ?? 0;
  if (typeof ttlJitter !== 'number' || !(ttlJitter >= 0 && ttlJitter <= 1)) {
    throw new InvalidArgumentError(`ttlJitter must be a fraction from 0 to 1, got ${ttlJitter}`);
  }
  return {
    transport: options.transport,
    viewSource: options.viewSource,
    scheduler: options.scheduler ?? realScheduler,
    logger: options.logger ?? silentLogger,
    random: options.random ?? systemRandom,
    maxEntries: positiveInteger('maxEntries', options.maxEntries, 4_000_000),
    maxMemoryBytes,
    maxValueBytes,
    replicationFactor: positiveInteger(
      'replicationFactor',
      options.replicationFactor,
      DEFAULT_REPLICATION_FACTOR,
    ),
    vnodes: options.vnodes === undefined ? undefined : positiveInteger('vnodes', options.vnodes, 1),
    writeConcern,
    defaultTtlMs: nonNegativeInteger('defaultTtlMs', options.defaultTtlMs, 0),
    ttlJitter,
    requestTimeoutMs: positiveInteger('requestTimeoutMs', options.requestTimeoutMs, 5_000),
    operationTimeoutMs: positiveInteger('operationTimeoutMs', options.operationTimeoutMs, 10_000),
    replicationTimeoutMs: positiveInteger(
      'replicationTimeoutMs',
      options.replicationTimeoutMs,
      3_000,
    ),
    syncAckTimeoutMs: positiveInteger('syncAckTimeoutMs', options.syncAckTimeoutMs, 30_000),
    viewWaitMs: positiveInteger('viewWaitMs', options.viewWaitMs, 2_000),
    maxRetries: nonNegativeInteger('maxRetries', options.maxRetries, 8),
    retryBackoffMs: positiveInteger('retryBackoffMs', options.retryBackoffMs, 20),
    queueTimeoutMs: positiveInteger('queueTimeoutMs', options.queueTimeoutMs, 5_000),
    maxQueuedPerPartition: positiveInteger(
      'maxQueuedPerPartition',
      options.maxQueuedPerPartition,
      10_000,
    ),
    maxBatchWrites: positiveInteger('maxBatchWrites', options.maxBatchWrites, 256),
    syncChunkEntries: positiveInteger('syncChunkEntries', options.syncChunkEntries, 4_000),
    syncChunkBytes: positiveInteger('syncChunkBytes', options.syncChunkBytes, MIB),
    syncPartitionsPerSession: positiveInteger(
      'syncPartitionsPerSession',
      options.syncPartitionsPerSession,
      1_024,
    ),
    syncConcurrentSessions: positiveInteger(
      'syncConcurrentSessions',
      options.syncConcurrentSessions,
      4,
    ),
    syncMaxSourceSessions: positiveInteger(
      'syncMaxSourceSessions',
      options.syncMaxSourceSessions,
      64,
    ),
    syncRequestTimeoutMs: positiveInteger(
      'syncRequestTimeoutMs',
      options.syncRequestTimeoutMs,
      10_000,
    ),
    syncRetryDelayMs: positiveInteger('syncRetryDelayMs', options.syncRetryDelayMs, 100),
    syncSessionIdleTimeoutMs: positiveInteger(
      'syncSessionIdleTimeoutMs',
      options.syncSessionIdleTimeoutMs,
      60_000,
    ),
    syncMaxBufferedItems: positiveInteger(
      'syncMaxBufferedItems',
      options.syncMaxBufferedItems,
      200_000,
    ),
    maintenanceIntervalMs: positiveInteger(
      'maintenanceIntervalMs',
      options.maintenanceIntervalMs,
      100,
    ),
    sweepSamples: nonNegativeInteger('sweepSamples', options.sweepSamples, 256),
    loadLimits: options.loadLimits,
  };
}
