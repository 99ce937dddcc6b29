/**
 * The caller's side of `getOrLoad`, shared by member nodes and `ShoalClient`: ask the
 * key's primary for the value or the load lease (see `load-coordinator.ts`), and when
 * granted the lease, run the loader (bounded by `loadTimeoutMs`) and report its
 * outcome to the primary, which caches it and hands it to every waiter.
 */
import { partitionOf } from '../ring/partitioner.js';
import { RequestTimeoutError } from '../transport/errors.js';
import type { NodeId } from '../transport/transport.js';
import { InvalidArgumentError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import type { Scheduler } from '../util/scheduler.js';
import type { GetOrLoadOptions, Loader } from './cache-api.js';
import { checkKey } from './key-ops.js';
import type { LoadCoordinator } from './load-coordinator.js';
import { STALE_ENVELOPE_BYTES } from './load-entry.js';
import { LoaderError, LoadTimeoutError } from './load-errors.js';
import {
  type AcquireAnswer,
  decodeAcquireReply,
  encodeAcquire,
  encodeLoaded,
  encodeLoadFail,
  type LoadResult,
} from './load-messages.js';
import { type ResolvedLoadOptions, resolveLoadOptions } from './load-options.js';
import { isErrorReply } from './messages.js';
import { encodeValue, readValue, type StoredValue } from './value-codec.js';

/** Where a key's load is coordinated in the caller's current view. */
export interface LoadTarget {
  readonly epoch: number;
  /** The key's primary. */
  readonly primary: NodeId;
  /** This process's coordinator when this process is the primary. */
  readonly local: LoadCoordinator | undefined;
}

/** What `getOrLoad` needs from the node or client it runs on. */
export interface LoadRoute {
  /** This endpoint's id (the lease holder's identity at the primary). */
  readonly self: NodeId;
  readonly scheduler: Scheduler;
  readonly logger: Logger;
  readonly maxValueBytes: number;
  readonly requestTimeoutMs: number;
  readonly operationTimeoutMs: number;
  /** A lease token unique to this process and call. */
  newToken(): string;
  /** The key's primary in the current view (waiting for a first view if needed). */
  locate(partition: number): Promise<LoadTarget>;
  /** Sends a request to `peer` on the cache channel. */
  request(peer: NodeId, message: unknown, timeoutMs: number): Promise<unknown>;
  /**
   * After a failed attempt in view `epoch`: whether to try again (having waited for a
   * newer view or backed off), under the endpoint's usual retry rules.
   */
  mayRetry(error: unknown, attempt: number, epoch: number, deadline: number): Promise<boolean>;
}

/** Most keys whose `getOrLoad` calls are shared inside one process at once. */
export const MAX_SHARED_LOAD_CALLS = 10_000;

/**
 * `getOrLoad` for one node or client. Concurrent calls for one key inside this process
 * share one call (one request to the primary, one loader run if this process gets the
 * lease): the first call's options and loader apply to all of them, exactly as the
 * lease holder's do for callers in other processes. At most
 * {@link MAX_SHARED_LOAD_CALLS} keys are shared at once; calls beyond run on their own.
 */
export class LoadCaller {
  private readonly route: LoadRoute;
  private readonly shared = new Map<string, Promise<unknown>>();

  constructor(route: LoadRoute) {
    this.route = route;
  }

  /** See `ShoalCache.getOrLoad`. */
  async getOrLoad<V>(
    key: string,
    loader: Loader<V>,
    options: GetOrLoadOptions | undefined,
  ): Promise<V | undefined> {
    checkKey(key);
    if (typeof loader !== 'function') throw new InvalidArgumentError('loader must be a function');
    const resolved = resolveLoadOptions(options);
    const joined = this.shared.get(key);
    if (joined !== undefined) return joined as Promise<V | undefined>;
    const call = getOrLoadVia(this.route, key, loader, resolved);
    if (this.shared.size < MAX_SHARED_LOAD_CALLS) {
      this.shared.set(key, call);
      const forget = (): void => {
        if (this.shared.get(key) === call) this.shared.delete(key);
      };
      call.then(forget, forget);
    }
    return call;
  }
}

/** One call of `getOrLoad` over `route`, its arguments already validated. */
async function getOrLoadVia<V>(
  route: LoadRoute,
  key: string,
  loader: Loader<V>,
  resolved: ResolvedLoadOptions,
): Promise<V | undefined> {
  const token = route.newToken();
  const { answer, target } = await acquire(route, key, token, resolved.loadTimeoutMs);
  switch (answer.kind) {
    case 'value':
      return answer.stored === undefined ? undefined : (readValue(answer.stored) as V);
    case 'stale':
      if (answer.lease) {
        // The refresh runs in the background; its outcome reaches the cache, not this caller.
        runLease(route, target, key, token, loader, resolved).catch((error: unknown) => {
          route.logger.debug('a stale-while-revalidate refresh failed', {
            key,
            reason: error instanceof Error ? error.message : String(error),
          });
        });
      }
      return readValue(answer.stored) as V;
    case 'lease':
      return (await runLease(route, target, key, token, loader, resolved)) as V | undefined;
  }
}

/** Asks the primary, retrying after refusals that a newer view explains. */
async function acquire(
  route: LoadRoute,
  key: string,
  token: string,
  loadTimeoutMs: number,
): Promise<{ answer: AcquireAnswer; target: LoadTarget }> {
  const partition = partitionOf(key);
  const deadline = route.scheduler.now() + route.operationTimeoutMs;
  for (let attempt = 0; ; attempt++) {
    const target = await route.locate(partition);
    try {
      if (target.local !== undefined) {
        const answer = await target.local.acquire(route.self, key, partition, token, loadTimeoutMs);
        return { answer, target };
      }
      let reply: unknown;
      try {
        reply = await route.request(
          target.primary,
          encodeAcquire(target.epoch, key, token, loadTimeoutMs),
          // A waiter's reply comes when the load lands: up to loadTimeoutMs.
          loadTimeoutMs + route.requestTimeoutMs,
        );
      } catch (error) {
        if (error instanceof RequestTimeoutError) throw new LoadTimeoutError(key, loadTimeoutMs);
        throw error;
      }
      const context = { peer: target.primary, partition, operation: 'getOrLoad', key };
      return { answer: decodeAcquireReply(reply, context), target };
    } catch (error) {
      if (!(await route.mayRetry(error, attempt, target.epoch, deadline))) throw error;
    }
  }
}

/**
 * Runs the loader as the lease holder and reports its outcome to the primary. Resolves
 * the loaded value (read back as every other caller reads it: objects deeply frozen).
 * A result the primary no longer takes (the lease timed out there, or the partition
 * moved) is still returned to this caller, uncached.
 */
async function runLease(
  route: LoadRoute,
  target: LoadTarget,
  key: string,
  token: string,
  loader: Loader<unknown>,
  options: ResolvedLoadOptions,
): Promise<unknown> {
  let encoded: StoredValue | undefined;
  try {
    const loaded = await withTimeout(route.scheduler, key, loader, options.loadTimeoutMs);
    if (loaded !== undefined) {
      const limit =
        options.staleWhileRevalidateMs === undefined
          ? route.maxValueBytes
          : route.maxValueBytes - STALE_ENVELOPE_BYTES;
      encoded = encodeValue(loaded, limit);
    }
  } catch (thrown) {
    const error = thrown instanceof LoadTimeoutError ? thrown : LoaderError.from(key, thrown);
    reportFailure(route, target, key, token, error, options.loadTimeoutMs);
    throw error;
  }
  const result: LoadResult = {
    value: encoded?.bytes ?? null,
    ttlMs: options.ttlMs,
    negativeTtlMs: options.negativeTtlMs,
    staleWhileRevalidateMs: options.staleWhileRevalidateMs,
  };
  try {
    if (target.local !== undefined) {
      await target.local.complete(route.self, key, token, result);
    } else {
      const reply = await route.request(
        target.primary,
        encodeLoaded(target.epoch, key, token, result),
        route.operationTimeoutMs,
      );
      if (isErrorReply(reply)) {
        // Refused for a reason other than a lost lease (the primary's limits are
        // stricter than this caller's): the waiters would otherwise wait for the timeout.
        if (reply.c !== 'ERR_LOAD_LEASE_LOST') {
          const refusal = new LoaderError(key, reply.m, reply.c, 'ShoalError');
          reportFailure(route, target, key, token, refusal, options.loadTimeoutMs);
        }
        throw new Error(`${reply.c}: ${reply.m}`);
      }
    }
  } catch (error) {
    route.logger.debug('a loaded value was not cached', {
      key,
      reason: error instanceof Error ? error.message : String(error),
    });
  }
  return encoded === undefined ? undefined : readValue(encoded);
}

/** Tells the primary that the load failed, so its waiters fail now rather than at the timeout. */
function reportFailure(
  route: LoadRoute,
  target: LoadTarget,
  key: string,
  token: string,
  error: LoaderError | LoadTimeoutError,
  loadTimeoutMs: number,
): void {
  if (target.local !== undefined) {
    target.local.fail(route.self, key, token, error);
    return;
  }
  const failure =
    error instanceof LoadTimeoutError
      ? ({ kind: 'timeout', loadTimeoutMs } as const)
      : ({
          kind: 'error',
          message: error.message,
          code: error.loaderCode,
          name: error.loaderName,
        } as const);
  route
    .request(
      target.primary,
      encodeLoadFail(target.epoch, key, token, failure),
      route.requestTimeoutMs,
    )
    .catch(() => {
      // The primary's own lease timeout covers a lost report.
    });
}

/** Runs the loader; rejects with `LoadTimeoutError` if it has not settled in time. */
function withTimeout(
  scheduler: Scheduler,
  key: string,
  loader: Loader<unknown>,
  loadTimeoutMs: number,
): Promise<unknown> {
  return new Promise<unknown>((resolve, reject) => {
    const timer = scheduler.setTimeout(
      () => reject(new LoadTimeoutError(key, loadTimeoutMs)),
      loadTimeoutMs,
    );
    const done = (settle: () => void): void => {
      scheduler.clearTimeout(timer);
      settle();
    };
    try {
      Promise.resolve(loader(key)).then(
        (value) => done(() => resolve(value)),
        (error: unknown) => done(() => reject(error)),
      );
    } catch (error) {
      done(() => reject(error));
    }
  });
}
