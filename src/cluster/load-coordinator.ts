import { partitionOf } from '../ring/partitioner.js';
import type { NodeId } from '../transport/transport.js';
import { InvalidArgumentError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import type { Scheduler, TimerHandle } from '../util/scheduler.js';
import { NotPrimaryError, OverloadedError } from './errors.js';
import type { SetOp } from './key-ops.js';
import { encodeStaleEntry, NEGATIVE_ENTRY_BYTES, staleWindowOf } from './load-entry.js';
import {
  LoadAbandonedError,
  LoaderError,
  LoadLeaseLostError,
  LoadTimeoutError,
} from './load-errors.js';
import {
  type AcquireAnswer,
  encodeAcquireAnswer,
  type LoadFailure,
  type LoadRequest,
  type LoadResult,
  loadErrorReply,
} from './load-messages.js';
import type { ErrorReply } from './messages.js';
import { fromBytes, type StoredValue } from './value-codec.js';

/** Bounds of a primary's load coordination. */
export interface LoadLimits {
  /** Most keys with a load in progress at this node; more new loads are refused. */
  readonly maxPendingLoads: number;
  /** Most callers waiting on one key's load; more are refused. */
  readonly maxWaitersPerLoad: number;
}

export const DEFAULT_LOAD_LIMITS: LoadLimits = {
  maxPendingLoads: 10_000,
  maxWaitersPerLoad: 10_000,
};

/** Applies defaults; throws `InvalidArgumentError` unless each limit is a positive integer. */
export function resolveLoadLimits(limits: Partial<LoadLimits> | undefined): LoadLimits {
  const resolved = { ...DEFAULT_LOAD_LIMITS, ...limits };
  for (const [name, value] of Object.entries(resolved)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new InvalidArgumentError(`${name} must be a positive integer, got ${String(value)}`);
    }
  }
  return resolved;
}

/** A live entry as the primary sees it. */
export interface PeekedEntry {
  readonly stored: StoredValue | undefined;
  /** Remaining ms, or -1 (`TTL_NONE`) for no expiry; meaningless for a miss. */
  readonly ttlRemainingMs: number;
}

/** What the coordinator needs from its node. */
export interface LoadHost {
  readonly nodeId: NodeId;
  readonly scheduler: Scheduler;
  readonly logger: Logger;
  /**
   * The live entry of `key`, read synchronously, if this node is the active primary of
   * `partition` and holds the lease; `'syncing'` while the partition is still being
   * handed to it.
   *
   * @throws NotPrimaryError, NoQuorumError or StoppedError otherwise.
   */
  peek(key: string, partition: number): PeekedEntry | 'syncing';
  /** Resolves when `partition` stops syncing (rejects after the node's queue timeout). */
  waitActive(partition: number): Promise<void>;
  /** Writes through the primary's ordered, replicated write path. */
  write(op: SetOp, partition: number): Promise<unknown>;
  /** The view epoch, for `NotPrimaryError`s. */
  epoch(): number;
}

/** Counters of the load coordination at one primary. */
export interface LoadStats {
  /** Keys with a load in progress. */
  readonly pending: number;
  /** Leases granted (each is one loader run somewhere). */
  readonly leases: number;
  /** Callers that waited on another caller's load. */
  readonly waits: number;
  /** Loads that ended with a result (value or `undefined`). */
  readonly completed: number;
  /** Loads whose loader threw. */
  readonly failed: number;
  /** Loads that timed out or whose holder disconnected. */
  readonly timedOut: number;
  /** Loaded results the write path could not store (handed to the waiters anyway). */
  readonly writeFailures: number;
}

interface LoadWaiter {
  readonly resolve: (stored: StoredValue | undefined) => void;
  readonly reject: (error: Error) => void;
  timer: TimerHandle | undefined;
}

interface PendingLoad {
  readonly key: string;
  readonly partition: number;
  readonly token: string;
  readonly holder: NodeId;
  readonly waiters: Set<LoadWaiter>;
  timer: TimerHandle | undefined;
  /** The holder's result arrived and is being written: no longer expires or is abandoned. */
  completing: boolean;
}

/**
 * The primary's side of `getOrLoad`: single-flight loading per key, cluster-wide.
 *
 * A loader is a function in its caller's process, so the primary cannot run it. It
 * grants the first caller that misses a **load lease** (bound to the caller's node id
 * and a token it chose); that caller runs its own loader and reports the result here,
 * where it is written through the normal replicated write path and then handed to
 * every caller that waited meanwhile (local or remote). A loader error reaches every
 * waiter as the same `LoaderError` and is not cached. A lease not completed within its
 * `loadTimeoutMs` fails every waiter with `LoadTimeoutError`; a holder whose connection
 * drops fails them with `LoadAbandonedError`; in both cases the lease is released and
 * the next call loads again. Every decision on a key is made synchronously after a
 * synchronous read of the store, so two misses can never both get a lease.
 */
export class LoadCoordinator {
  private readonly host: LoadHost;
  private readonly limits: LoadLimits;
  private readonly pending = new Map<string, PendingLoad>();
  private closedWith: Error | undefined;
  private counters = {
    leases: 0,
    waits: 0,
    completed: 0,
    failed: 0,
    timedOut: 0,
    writeFailures: 0,
  };

  constructor(host: LoadHost, limits: LoadLimits) {
    this.host = host;
    this.limits = limits;
  }

  /**
   * A caller (`from`, with its lease `token`) asks for `key`. Answers the live value, a
   * stale one (granting the refresh lease to the first caller in the stale window), or
   * the lease on a miss; a caller that misses while another holds the lease waits for
   * that load's outcome (at most `loadTimeoutMs`). Asking again with the same token
   * (a retry after a lost reply) gets the same lease back.
   */
  async acquire(
    from: NodeId,
    key: string,
    partition: number,
    token: string,
    loadTimeoutMs: number,
  ): Promise<AcquireAnswer> {
    for (;;) {
      if (this.closedWith !== undefined) throw this.closedWith;
      const entry = this.host.peek(key, partition);
      if (entry === 'syncing') {
        await this.host.waitActive(partition);
        continue;
      }
      return this.decide(from, key, partition, token, loadTimeoutMs, entry);
    }
  }

  private decide(
    from: NodeId,
    key: string,
    partition: number,
    token: string,
    loadTimeoutMs: number,
    entry: PeekedEntry,
  ): AcquireAnswer | Promise<AcquireAnswer> {
    const pending = this.pending.get(key);
    const mine =
      pending !== undefined &&
      pending.token === token &&
      pending.holder === from &&
      !pending.completing;
    const stored = entry.stored;
    if (stored !== undefined) {
      const windowMs = staleWindowOf(stored.bytes);
      if (windowMs === 0 || entry.ttlRemainingMs < 0 || entry.ttlRemainingMs > windowMs) {
        return { kind: 'value', stored };
      }
      // Stale: served at once; the first caller in the window refreshes it.
      if (pending !== undefined) return { kind: 'stale', stored, lease: mine };
      return {
        kind: 'stale',
        stored,
        lease: this.start(from, key, partition, token, loadTimeoutMs),
      };
    }
    if (mine) return { kind: 'lease' };
    if (pending === undefined) {
      if (!this.start(from, key, partition, token, loadTimeoutMs)) {
        throw new OverloadedError('the pending loads of this node', this.limits.maxPendingLoads);
      }
      return { kind: 'lease' };
    }
    return this.wait(pending, loadTimeoutMs);
  }

  /** Grants the lease of `key` to `from`; false when the pending-load table is full. */
  private start(
    from: NodeId,
    key: string,
    partition: number,
    token: string,
    loadTimeoutMs: number,
  ): boolean {
    if (this.pending.size >= this.limits.maxPendingLoads) return false;
    const load: PendingLoad = {
      key,
      partition,
      token,
      holder: from,
      waiters: new Set(),
      timer: undefined,
      completing: false,
    };
    load.timer = this.host.scheduler.setTimeout(() => {
      load.timer = undefined;
      this.counters.timedOut++;
      this.settle(load, new LoadTimeoutError(key, loadTimeoutMs));
    }, loadTimeoutMs);
    this.pending.set(key, load);
    this.counters.leases++;
    return true;
  }

  private wait(load: PendingLoad, loadTimeoutMs: number): Promise<AcquireAnswer> {
    if (load.waiters.size >= this.limits.maxWaitersPerLoad) {
      return Promise.reject(
        new OverloadedError(
          `the waiters on the load of "${load.key}"`,
          this.limits.maxWaitersPerLoad,
        ),
      );
    }
    this.counters.waits++;
    return new Promise<AcquireAnswer>((resolve, reject) => {
      const waiter: LoadWaiter = {
        resolve: (stored) => resolve({ kind: 'value', stored }),
        reject,
        timer: undefined,
      };
      waiter.timer = this.host.scheduler.setTimeout(() => {
        load.waiters.delete(waiter);
        reject(new LoadTimeoutError(load.key, loadTimeoutMs));
      }, loadTimeoutMs);
      load.waiters.add(waiter);
    });
  }

  /**
   * The lease holder's result: written through the replicated write path (a value for
   * `ttlMs` plus its stale window, `undefined` as a negative entry only with
   * `negativeTtlMs`), then handed to every waiter. A result the write path refuses is
   * still handed out (it was loaded), just not cached. Resolves what the waiters got.
   *
   * @throws LoadLeaseLostError when `from`/`token` does not hold the lease (any more).
   */
  async complete(
    from: NodeId,
    key: string,
    token: string,
    result: LoadResult,
  ): Promise<StoredValue | undefined> {
    const load = this.pending.get(key);
    if (load === undefined || load.token !== token || load.holder !== from || load.completing) {
      throw new LoadLeaseLostError(key);
    }
    load.completing = true;
    this.clearTimer(load);
    let stored: StoredValue | undefined;
    let write: SetOp | undefined;
    if (result.value === null) {
      if (result.negativeTtlMs !== undefined) {
        write = setOp(key, fromBytes(NEGATIVE_ENTRY_BYTES), result.negativeTtlMs);
      }
    } else if (result.staleWhileRevalidateMs !== undefined && result.ttlMs !== undefined) {
      const windowMs = result.staleWhileRevalidateMs;
      stored = fromBytes(encodeStaleEntry(result.value, windowMs));
      write = setOp(key, stored, result.ttlMs + windowMs);
    } else {
      stored = fromBytes(result.value);
      write = setOp(key, stored, result.ttlMs);
    }
    try {
      if (write !== undefined) await this.host.write(write, load.partition);
    } catch (error) {
      this.counters.writeFailures++;
      this.host.logger.debug('a loaded value could not be cached', {
        key,
        reason: error instanceof Error ? error.message : String(error),
      });
    }
    this.counters.completed++;
    this.settle(load, stored);
    return stored;
  }

  /**
   * The lease holder reports that its loader failed: every waiter gets `error` (the
   * very same instance for waiters in this process). Ignored unless `from`/`token`
   * holds the lease.
   */
  fail(from: NodeId, key: string, token: string, error: LoaderError | LoadTimeoutError): void {
    const load = this.pending.get(key);
    if (load === undefined || load.token !== token || load.holder !== from || load.completing) {
      return;
    }
    if (error instanceof LoaderError) this.counters.failed++;
    else this.counters.timedOut++;
    this.settle(load, error);
  }

  /** `peer`'s connection dropped: the loads it held are abandoned. */
  peerDown(peer: NodeId): void {
    for (const load of this.pending.values()) {
      if (load.holder !== peer || load.completing) continue;
      this.counters.timedOut++;
      this.settle(load, new LoadAbandonedError(load.key, peer));
    }
  }

  /**
   * After a view change: loads of partitions this node no longer leads fail their
   * waiters with `NotPrimaryError`, so they retry at the new primary.
   */
  viewChanged(isPrimary: (partition: number) => boolean): void {
    for (const load of this.pending.values()) {
      if (isPrimary(load.partition)) continue;
      this.settle(load, new NotPrimaryError(this.host.nodeId, load.partition, this.host.epoch()));
    }
  }

  /** Fails every pending load with `error`; later calls fail with it too. */
  close(error: Error): void {
    this.closedWith = error;
    for (const load of this.pending.values()) this.settle(load, error);
  }

  stats(): LoadStats {
    return { pending: this.pending.size, ...this.counters };
  }

  /**
   * Serves a load request from `from` and builds its reply; `refuse` builds the reply
   * of an error other than a `LoaderError`.
   */
  async serve(
    from: NodeId,
    request: LoadRequest,
    refuse: (error: unknown) => ErrorReply,
  ): Promise<unknown> {
    try {
      switch (request.t) {
        case 'load':
          return encodeAcquireAnswer(
            await this.acquire(
              from,
              request.key,
              partitionOf(request.key),
              request.token,
              request.loadTimeoutMs,
            ),
          );
        case 'loaded':
          await this.complete(from, request.key, request.token, request.result);
          return { ok: true };
        case 'loadFail':
          this.fail(from, request.key, request.token, failureError(request.key, request.failure));
          return { ok: true };
      }
    } catch (error) {
      return loadErrorReply(error, refuse);
    }
  }

  /** Ends `load` (if it is still the key's current one): its waiters get `outcome`. */
  private settle(load: PendingLoad, outcome: StoredValue | undefined | Error): void {
    if (this.pending.get(load.key) === load) this.pending.delete(load.key);
    this.clearTimer(load);
    const waiters = [...load.waiters];
    load.waiters.clear();
    for (const waiter of waiters) {
      if (waiter.timer !== undefined) this.host.scheduler.clearTimeout(waiter.timer);
      if (outcome instanceof Error) waiter.reject(outcome);
      else waiter.resolve(outcome);
    }
  }

  private clearTimer(load: PendingLoad): void {
    if (load.timer === undefined) return;
    this.host.scheduler.clearTimeout(load.timer);
    load.timer = undefined;
  }
}

function setOp(key: string, value: StoredValue, ttlMs: number | undefined): SetOp {
  return { kind: 'set', key, value, ttlMs, nx: false, xx: false };
}

/** The error waiters get for a failure a remote holder reported. */
export function failureError(key: string, failure: LoadFailure): LoaderError | LoadTimeoutError {
  return failure.kind === 'timeout'
    ? new LoadTimeoutError(key, failure.loadTimeoutMs)
    : new LoaderError(key, failure.message, failure.code, failure.name);
}
