import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { FileStorage } from '../../src/coord/file-storage.js';
import { MemoryStorage } from '../../src/coord/memory-storage.js';
import type { CoordStorage, PersistedState } from '../../src/coord/storage.js';
import { entriesFrom, Scratch } from './helpers.js';

const scratch = new Scratch();
afterEach(() => scratch.cleanup());

describe('MemoryStorage', () => {
  it('starts empty', async () => {
    expect(await new MemoryStorage().load()).toEqual({
      meta: undefined,
      snapshot: undefined,
      entries: [],
    });
  });

  it('survives a simulated crash: a restarted driver loads what the last one stored', async () => {
    const disk = new MemoryStorage();
    const beforeCrash: CoordStorage = disk;
    await beforeCrash.appendEntries(entriesFrom(1, ['a', 'b', 'c', 'd']));
    await beforeCrash.saveMeta({ acceptedEpoch: 2, currentEpoch: 2 });
    await beforeCrash.saveSnapshot({ zxid: 2, state: { members: ['n1'] } });
    await beforeCrash.truncateAfter(3);
    await beforeCrash.close();

    const afterRestart: CoordStorage = disk;
    expect(await afterRestart.load()).toEqual({
      meta: { acceptedEpoch: 2, currentEpoch: 2 },
      snapshot: { zxid: 2, state: { members: ['n1'] } },
      entries: entriesFrom(3, ['c']),
    });
    await afterRestart.appendEntries([{ zxid: 4, data: 'after restart' }]);
    expect((await disk.load()).entries.map((e) => e.zxid)).toEqual([3, 4]);
  });

  it('stores copies: mutating arguments or loaded values never changes what is stored', async () => {
    const disk = new MemoryStorage();
    const data = { members: ['a'], blob: Buffer.from([1, 2, 3]) };
    const state = { config: { ttl: 5 } };
    const meta = { acceptedEpoch: 1, currentEpoch: 1 };
    const appended = disk.appendEntries([{ zxid: 1, data }]);
    const snapshotted = disk.saveSnapshot({ zxid: 0, state });
    const saved = disk.saveMeta(meta);
    data.members.push('mutated');
    data.blob[0] = 99;
    state.config.ttl = 999;
    (meta as { acceptedEpoch: number }).acceptedEpoch = 42;
    await Promise.all([appended, snapshotted, saved]);

    const first = await disk.load();
    const loadedData = first.entries[0]?.data as { members: string[]; blob: Buffer };
    loadedData.members.push('mutated after load');
    loadedData.blob[1] = 77;
    (first.snapshot!.state as { config: { ttl: number } }).config.ttl = 1;

    const second = await disk.load();
    expect(second).toEqual({
      meta: { acceptedEpoch: 1, currentEpoch: 1 },
      snapshot: { zxid: 0, state: { config: { ttl: 5 } } },
      entries: [{ zxid: 1, data: { members: ['a'], blob: Buffer.from([1, 2, 3]) } }],
    });
  });

  it('applies the same ordering rules and limits as FileStorage', async () => {
    const disk = new MemoryStorage({ maxRecordBytes: 100, maxLogFileBytes: 200 });
    await disk.appendEntries(entriesFrom(1, ['a', 'b']));
    await expect(disk.appendEntries([{ zxid: 2, data: 'dup' }])).rejects.toMatchObject({
      code: 'ERR_STORAGE_ORDER',
    });
    await expect(disk.appendEntries([{ zxid: 3, data: 'x'.repeat(200) }])).rejects.toMatchObject({
      code: 'ERR_STORAGE_RECORD_TOO_LARGE',
    });
    await expect(disk.appendEntries([{ zxid: -3, data: 1 }])).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
    });
    await disk.saveSnapshot({ zxid: 2, state: 's' });
    await expect(disk.truncateAfter(1)).rejects.toMatchObject({ code: 'ERR_STORAGE_ORDER' });
    await expect(disk.saveSnapshot({ zxid: 1, state: 'old' })).rejects.toMatchObject({
      code: 'ERR_STORAGE_ORDER',
    });
    const entry = (zxid: number) => ({ zxid, data: 'y'.repeat(50) });
    await disk.appendEntries([entry(3), entry(4)]);
    await expect(disk.appendEntries([entry(5), entry(6)])).rejects.toMatchObject({
      code: 'ERR_STORAGE_LOG_FULL',
    });
    expect((await disk.load()).entries.map((e) => e.zxid)).toEqual([3, 4]);
  });
});

/** One call to make against both implementations; zxids are relative to the last stored. */
type Operation =
  | {
      readonly kind: 'append';
      readonly steps: readonly number[];
      readonly sizes: readonly number[];
    }
  | { readonly kind: 'truncate'; readonly back: number }
  | { readonly kind: 'meta'; readonly acceptedEpoch: number; readonly currentEpoch: number }
  | { readonly kind: 'snapshot'; readonly step: number }
  | { readonly kind: 'reopen' };

/** Mostly entries that fit, sometimes one above the test's maxRecordBytes. */
const entrySizeArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 30 }) },
  { weight: 1, arbitrary: fc.integer({ min: 31, max: 90 }) },
);

/** Mostly increasing zxids, sometimes a repeat or a step back that storage must refuse. */
const zxidStepArb = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 3 }) },
  { weight: 1, arbitrary: fc.integer({ min: -1, max: 0 }) },
);

const operationArb: fc.Arbitrary<Operation> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .array(fc.tuple(zxidStepArb, entrySizeArb), {
        maxLength: 4,
      })
      .map((pairs) => ({
        kind: 'append' as const,
        steps: pairs.map(([step]) => step),
        sizes: pairs.map(([, size]) => size),
      })),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('truncate' as const),
      back: fc.integer({ min: -1, max: 6 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('meta' as const),
      acceptedEpoch: fc.nat(5),
      currentEpoch: fc.nat(5),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('snapshot' as const),
      step: fc.integer({ min: -6, max: 2 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
);

function lastZxid(state: PersistedState): number {
  return state.entries.at(-1)?.zxid ?? state.snapshot?.zxid ?? 100;
}

async function outcome(call: () => Promise<unknown>): Promise<string> {
  try {
    await call();
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

async function apply(storage: CoordStorage, op: Operation, base: number): Promise<string> {
  switch (op.kind) {
    case 'append': {
      let zxid = base;
      const entries = op.steps.map((step, index) => {
        zxid += step;
        return { zxid, data: 'd'.repeat(op.sizes[index]!) };
      });
      return outcome(() => storage.appendEntries(entries));
    }
    case 'truncate':
      return outcome(() => storage.truncateAfter(base - op.back));
    case 'meta':
      return outcome(() => storage.saveMeta(op));
    case 'snapshot':
      return outcome(() => storage.saveSnapshot({ zxid: base + op.step, state: { at: base } }));
    case 'reopen':
      return 'ok';
  }
}

describe('MemoryStorage matches FileStorage', () => {
  it('property: the same calls give the same outcomes and the same loaded state', async () => {
    const parent = await scratch.dir();
    const limits = { maxRecordBytes: 64, maxLogFileBytes: 250 };
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(operationArb, { maxLength: 14 }), async (operations) => {
        run += 1;
        const dir = join(parent, `run-${run}`);
        await mkdir(dir);
        const memory = new MemoryStorage(limits);
        let file = scratch.track(await FileStorage.open(dir, limits));
        try {
          for (const op of operations) {
            const base = lastZxid(await memory.load());
            if (op.kind === 'reopen') {
              await file.close();
              file = scratch.track(await FileStorage.open(dir, limits));
            }
            const expected = await apply(memory, op, base);
            expect(await apply(file, op, base)).toBe(expected);
            expect(await file.load()).toEqual(await memory.load());
          }
        } finally {
          await file.close();
        }
      }),
      { numRuns: 25 },
    );
  });
});
