import { describe, expect, it } from 'vitest';
import { NotPrimaryError, StoppedError } from '../../src/cluster/errors.js';
import type { SetOp } from '../../src/cluster/key-ops.js';
import {
  LoadCoordinator,
  type LoadHost,
  type PeekedEntry,
  resolveLoadLimits,
} from '../../src/cluster/load-coordinator.js';
import { encodeStaleEntry } from '../../src/cluster/load-entry.js';
import {
  LoadAbandonedError,
  LoaderError,
  LoadLeaseLostError,
  LoadTimeoutError,
} from '../../src/cluster/load-errors.js';
import type { AcquireAnswer, LoadResult } from '../../src/cluster/load-messages.js';
import { encodeValue, fromBytes, readValue } from '../../src/cluster/value-codec.js';
import { InvalidArgumentError } from '../../src/util/errors.js';
import { silentLogger } from '../../src/util/logger.js';
import { SimScheduler } from '../../src/util/sim-scheduler.js';

const P = 5;

/** A primary's store reduced to a map, writes applied at once. */
function setup(entries = new Map<string, PeekedEntry>()) {
  const scheduler = new SimScheduler();
  const writes: SetOp[] = [];
  const host: LoadHost = {
    nodeId: 'n1',
    scheduler,
    logger: silentLogger,
    peek: (key) => entries.get(key) ?? { stored: undefined, ttlRemainingMs: -2 },
    waitActive: () => Promise.resolve(),
    write: async (op) => {
      writes.push(op);
      entries.set(op.key, { stored: op.value, ttlRemainingMs: op.ttlMs ?? -1 });
    },
    epoch: () => 1,
  };
  const coordinator = new LoadCoordinator(host, resolveLoadLimits(undefined));
  return { coordinator, scheduler, writes, entries };
}

function result(value: unknown, extra: Partial<LoadResult> = {}): LoadResult {
  return {
    value: value === undefined ? null : encodeValue(value, 1024).bytes,
    ttlMs: undefined,
    negativeTtlMs: undefined,
    staleWhileRevalidateMs: undefined,
    ...extra,
  };
}

function answeredValue(answer: AcquireAnswer): unknown {
  return answer.kind === 'value' && answer.stored !== undefined
    ? readValue(answer.stored)
    : undefined;
}

describe('LoadCoordinator', () => {
  it('grants one lease, gives it back to a retry with the same token, and makes others wait', async () => {
    const { coordinator, writes } = setup();
    expect(await coordinator.acquire('c1', 'k', P, 't1', 1_000)).toEqual({ kind: 'lease' });
    expect(await coordinator.acquire('c1', 'k', P, 't1', 1_000)).toEqual({ kind: 'lease' });
    // The same token from another peer is not the holder.
    const impostor = coordinator.acquire('c2', 'k', P, 't1', 1_000);
    const waiter = coordinator.acquire('n2', 'k', P, 't2', 1_000);
    await expect(coordinator.complete('c2', 'k', 't1', result('forged'))).rejects.toBeInstanceOf(
      LoadLeaseLostError,
    );
    await coordinator.complete('c1', 'k', 't1', result('loaded', { ttlMs: 500 }));
    expect(answeredValue(await waiter)).toBe('loaded');
    expect(answeredValue(await impostor)).toBe('loaded');
    expect(writes).toHaveLength(1);
    expect(writes[0]!.ttlMs).toBe(500);
    expect(coordinator.stats()).toMatchObject({ pending: 0, leases: 1, waits: 2, completed: 1 });
    // A second completion of the same lease is refused.
    await expect(coordinator.complete('c1', 'k', 't1', result('again'))).rejects.toBeInstanceOf(
      LoadLeaseLostError,
    );
  });

  it('hands the very same loader error to every local waiter and ignores reports from others', async () => {
    const { coordinator } = setup();
    await coordinator.acquire('n1', 'k', P, 't1', 1_000);
    const waiters = [
      coordinator.acquire('n2', 'k', P, 't2', 1_000),
      coordinator.acquire('n3', 'k', P, 't3', 1_000),
    ];
    const error = new LoaderError('k', 'boom', 'EBOOM', 'Error');
    coordinator.fail('n2', 'k', 't1', new LoaderError('k', 'not the holder', undefined, 'Error'));
    expect(coordinator.stats().pending).toBe(1);
    coordinator.fail('n1', 'k', 't1', error);
    for (const waiter of waiters) await expect(waiter).rejects.toBe(error);
    expect(coordinator.stats()).toMatchObject({ pending: 0, failed: 1 });
  });

  it('times a lease out, failing its waiters, and frees the key for a new lease', async () => {
    const { coordinator, scheduler } = setup();
    await coordinator.acquire('c1', 'k', P, 't1', 300);
    const waiter = coordinator.acquire('n2', 'k', P, 't2', 10_000);
    waiter.catch(() => {});
    await scheduler.runForAsync(299);
    expect(coordinator.stats().pending).toBe(1);
    await scheduler.runForAsync(1);
    await expect(waiter).rejects.toBeInstanceOf(LoadTimeoutError);
    await expect(coordinator.complete('c1', 'k', 't1', result('late'))).rejects.toBeInstanceOf(
      LoadLeaseLostError,
    );
    expect(await coordinator.acquire('n2', 'k', P, 't3', 300)).toEqual({ kind: 'lease' });
  });

  it('bounds each waiter by its own loadTimeoutMs', async () => {
    const { coordinator, scheduler } = setup();
    await coordinator.acquire('c1', 'k', P, 't1', 10_000);
    const impatient = coordinator.acquire('n2', 'k', P, 't2', 100);
    const patient = coordinator.acquire('n3', 'k', P, 't3', 10_000);
    impatient.catch(() => {});
    await scheduler.runForAsync(100);
    await expect(impatient).rejects.toBeInstanceOf(LoadTimeoutError);
    await coordinator.complete('c1', 'k', 't1', result(7));
    expect(answeredValue(await patient)).toBe(7);
  });

  it('abandons the loads of a holder that disconnects, and of partitions it no longer leads', async () => {
    const { coordinator } = setup();
    await coordinator.acquire('c1', 'a', P, 't1', 1_000);
    await coordinator.acquire('c2', 'b', P + 1, 't2', 1_000);
    const onA = coordinator.acquire('n2', 'a', P, 't3', 1_000);
    const onB = coordinator.acquire('n2', 'b', P + 1, 't4', 1_000);
    coordinator.peerDown('c1');
    await expect(onA).rejects.toBeInstanceOf(LoadAbandonedError);
    coordinator.viewChanged((partition) => partition !== P + 1);
    await expect(onB).rejects.toBeInstanceOf(NotPrimaryError);
    expect(coordinator.stats().pending).toBe(0);
  });

  it('caches undefined only with negativeTtlMs, and wraps values with a stale window', async () => {
    const { coordinator, writes } = setup();
    await coordinator.acquire('c1', 'none', P, 't1', 1_000);
    expect(await coordinator.complete('c1', 'none', 't1', result(undefined))).toBe(undefined);
    expect(writes).toHaveLength(0);
    await coordinator.acquire('c1', 'neg', P, 't2', 1_000);
    await coordinator.complete('c1', 'neg', 't2', result(undefined, { negativeTtlMs: 50 }));
    expect(writes[0]).toMatchObject({ key: 'neg', ttlMs: 50 });
    expect(readValue(writes[0]!.value)).toBe(undefined);
    await coordinator.acquire('c1', 'swr', P, 't3', 1_000);
    await coordinator.complete(
      'c1',
      'swr',
      't3',
      result('v', { ttlMs: 100, staleWhileRevalidateMs: 900 }),
    );
    expect(writes[1]).toMatchObject({ key: 'swr', ttlMs: 1_000 });
    expect(readValue(writes[1]!.value)).toBe('v');
  });

  it('serves a stale entry at once and gives the refresh lease to its first caller only', async () => {
    const stale = fromBytes(encodeStaleEntry(encodeValue('old', 64).bytes, 1_000));
    const { coordinator, entries } = setup(
      new Map([['k', { stored: stale, ttlRemainingMs: 400 }]]),
    );
    const first = await coordinator.acquire('c1', 'k', P, 't1', 1_000);
    const second = await coordinator.acquire('c2', 'k', P, 't2', 1_000);
    expect(first).toMatchObject({ kind: 'stale', lease: true });
    expect(second).toMatchObject({ kind: 'stale', lease: false });
    // Still fresh (remaining TTL above the window): a plain value, no lease.
    entries.set('k', { stored: stale, ttlRemainingMs: 1_500 });
    expect((await coordinator.acquire('c3', 'k', P, 't3', 1_000)).kind).toBe('value');
  });

  it('fails everything on close and refuses later calls', async () => {
    const { coordinator } = setup();
    await coordinator.acquire('c1', 'k', P, 't1', 1_000);
    const waiter = coordinator.acquire('n2', 'k', P, 't2', 1_000);
    coordinator.close(new StoppedError());
    await expect(waiter).rejects.toBeInstanceOf(StoppedError);
    await expect(coordinator.acquire('n2', 'x', P, 't3', 1_000)).rejects.toBeInstanceOf(
      StoppedError,
    );
  });

  it('validates its limits', () => {
    expect(() => resolveLoadLimits({ maxPendingLoads: 0 })).toThrow(InvalidArgumentError);
    expect(() => resolveLoadLimits({ maxWaitersPerLoad: 1.5 })).toThrow(InvalidArgumentError);
    expect(resolveLoadLimits({ maxPendingLoads: 3 }).maxPendingLoads).toBe(3);
  });
});
