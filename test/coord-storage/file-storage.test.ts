import { spawnSync } from 'node:child_process';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileStorage } from '../../src/coord/file-storage.js';
import { CapturingLogger, entriesFrom, Scratch } from './helpers.js';

const scratch = new Scratch();
afterEach(() => scratch.cleanup());

async function openTracked(
  dir: string,
  options: Parameters<typeof FileStorage.open>[1] = {},
): Promise<FileStorage> {
  return scratch.track(await FileStorage.open(dir, options));
}

/** Opens, runs `body`, closes: one process lifetime. */
async function lifetime<T>(
  dir: string,
  body: (storage: FileStorage) => Promise<T>,
  options: Parameters<typeof FileStorage.open>[1] = {},
): Promise<T> {
  const storage = await openTracked(dir, options);
  try {
    return await body(storage);
  } finally {
    await storage.close();
  }
}

const EPOCH = 2 ** 32;

describe('FileStorage round trips', () => {
  it('starts empty in a new directory, creating it', async () => {
    const dir = join(await scratch.dir(), 'nested', 'data');
    const state = await lifetime(dir, (s) => s.load());
    expect(state).toEqual({ meta: undefined, snapshot: undefined, entries: [] });
    expect((await readdir(dir)).sort()).toEqual(['log']);
  });

  it('keeps entries, meta and snapshot across close and reopen', async () => {
    const dir = await scratch.dir();
    const entries = entriesFrom(EPOCH + 1, [
      { op: 'join', node: 'a' },
      { op: 'config', key: 'ttl', value: 5000 },
      null,
      [1, 'two', { three: true }],
    ]);
    await lifetime(dir, async (s) => {
      await s.appendEntries(entries.slice(0, 1));
      await s.appendEntries(entries.slice(1));
      await s.saveMeta({ acceptedEpoch: 2, currentEpoch: 1 });
      await s.saveMeta({ acceptedEpoch: 3, currentEpoch: 3 });
    });
    const state = await lifetime(dir, (s) => s.load());
    expect(state).toEqual({
      meta: { acceptedEpoch: 3, currentEpoch: 3 },
      snapshot: undefined,
      entries,
    });
  });

  it('round-trips zxids up to the largest safe integer', async () => {
    const dir = await scratch.dir();
    const entries = [
      { zxid: 0, data: 'zero' },
      { zxid: 0x1f_ffff * EPOCH + 7, data: 'high epoch' },
      { zxid: Number.MAX_SAFE_INTEGER, data: 'max' },
    ];
    await lifetime(dir, (s) => s.appendEntries(entries));
    expect((await lifetime(dir, (s) => s.load())).entries).toEqual(entries);
  });

  it('persists what was passed at call time, not later mutations', async () => {
    const dir = await scratch.dir();
    const data = { members: ['a'] };
    await lifetime(dir, async (s) => {
      const pending = s.appendEntries([{ zxid: 1, data }]);
      data.members.push('mutated');
      await pending;
    });
    expect((await lifetime(dir, (s) => s.load())).entries).toEqual([
      { zxid: 1, data: { members: ['a'] } },
    ]);
  });

  it('load after writes reads the current state back from disk', async () => {
    const dir = await scratch.dir();
    const storage = await openTracked(dir);
    expect((await storage.load()).entries).toEqual([]);
    await storage.appendEntries(entriesFrom(1, ['a', 'b', 'c']));
    await storage.truncateAfter(2);
    await storage.saveMeta({ acceptedEpoch: 1, currentEpoch: 1 });
    expect(await storage.load()).toEqual({
      meta: { acceptedEpoch: 1, currentEpoch: 1 },
      snapshot: undefined,
      entries: entriesFrom(1, ['a', 'b']),
    });
  });
});

describe('FileStorage.truncateAfter', () => {
  it('drops entries above the zxid, durably, and appends continue after it', async () => {
    const dir = await scratch.dir();
    await lifetime(dir, async (s) => {
      await s.appendEntries(entriesFrom(10, ['a', 'b', 'c', 'd', 'e']));
      await s.truncateAfter(12);
    });
    expect((await lifetime(dir, (s) => s.load())).entries).toEqual(
      entriesFrom(10, ['a', 'b', 'c']),
    );
    await lifetime(dir, (s) => s.appendEntries([{ zxid: 13, data: 'new d' }]));
    expect((await lifetime(dir, (s) => s.load())).entries).toEqual([
      ...entriesFrom(10, ['a', 'b', 'c']),
      { zxid: 13, data: 'new d' },
    ]);
  });

  it('cuts at a zxid that falls between entries, and is a no-op past the end', async () => {
    const dir = await scratch.dir();
    const s = await openTracked(dir);
    await s.appendEntries([
      { zxid: 10, data: 1 },
      { zxid: 20, data: 2 },
      { zxid: 30, data: 3 },
    ]);
    await s.truncateAfter(99);
    expect((await s.load()).entries.map((e) => e.zxid)).toEqual([10, 20, 30]);
    await s.truncateAfter(25);
    expect((await s.load()).entries.map((e) => e.zxid)).toEqual([10, 20]);
    await s.truncateAfter(0);
    expect((await s.load()).entries).toEqual([]);
    await s.appendEntries([{ zxid: 5, data: 'restart' }]);
    expect((await s.load()).entries).toEqual([{ zxid: 5, data: 'restart' }]);
  });

  it('shrinks the log file to the kept records', async () => {
    const dir = await scratch.dir();
    const s = await openTracked(dir);
    await s.appendEntries(entriesFrom(1, ['a']));
    const oneRecordBytes = (await stat(join(dir, 'log'))).size;
    await s.appendEntries(entriesFrom(2, ['b', 'c', 'd']));
    await s.truncateAfter(1);
    expect((await stat(join(dir, 'log'))).size).toBe(oneRecordBytes);
  });
});

describe('FileStorage snapshots', () => {
  it('saves a snapshot and compacts the log to the entries after it', async () => {
    const dir = await scratch.dir();
    const state = { members: ['a', 'b'], config: { ttl: 1 } };
    await lifetime(dir, async (s) => {
      await s.appendEntries(entriesFrom(1, ['a', 'b', 'c', 'd', 'e']));
      await s.saveSnapshot({ zxid: 3, state });
    });
    const emptyLogBytes = 8;
    const logBytes = (await stat(join(dir, 'log'))).size;
    const loaded = await lifetime(dir, (s) => s.load());
    expect(loaded.snapshot).toEqual({ zxid: 3, state });
    expect(loaded.entries).toEqual(entriesFrom(4, ['d', 'e']));
    // Only two records remain in the file itself, not just in what load returns.
    await lifetime(dir, (s) => s.truncateAfter(3));
    expect((await stat(join(dir, 'log'))).size).toBe(emptyLogBytes);
    expect(logBytes).toBeGreaterThan(emptyLogBytes);
  });

  it('accepts a snapshot beyond the last entry, then appends must pass it', async () => {
    const dir = await scratch.dir();
    const s = await openTracked(dir);
    await s.appendEntries(entriesFrom(1, ['a', 'b']));
    await s.saveSnapshot({ zxid: 100, state: 'synced from leader' });
    await expect(s.appendEntries([{ zxid: 100, data: 'x' }])).rejects.toMatchObject({
      code: 'ERR_STORAGE_ORDER',
    });
    await s.appendEntries([{ zxid: 101, data: 'y' }]);
    expect(await s.load()).toEqual({
      meta: undefined,
      snapshot: { zxid: 100, state: 'synced from leader' },
      entries: [{ zxid: 101, data: 'y' }],
    });
  });

  it('replaces an older snapshot and allows one at the same zxid', async () => {
    const dir = await scratch.dir();
    await lifetime(dir, async (s) => {
      await s.saveSnapshot({ zxid: 5, state: 'first' });
      await s.saveSnapshot({ zxid: 9, state: 'second' });
      await s.saveSnapshot({ zxid: 9, state: 'second, again' });
    });
    expect((await lifetime(dir, (s) => s.load())).snapshot).toEqual({
      zxid: 9,
      state: 'second, again',
    });
  });

  it('compacts at startup when a crash hit between saving a snapshot and compacting', async () => {
    const dir = await scratch.dir();
    await lifetime(dir, (s) => s.appendEntries(entriesFrom(1, ['a', 'b', 'c', 'd', 'e'])));
    const uncompacted = await readFile(join(dir, 'log'));
    await lifetime(dir, (s) => s.saveSnapshot({ zxid: 3, state: 's' }));
    const compactedBytes = (await stat(join(dir, 'log'))).size;
    await writeFile(join(dir, 'log'), uncompacted);

    const logger = new CapturingLogger();
    const loaded = await lifetime(dir, (s) => s.load(), { logger });
    expect(loaded.snapshot).toEqual({ zxid: 3, state: 's' });
    expect(loaded.entries).toEqual(entriesFrom(4, ['d', 'e']));
    expect((await stat(join(dir, 'log'))).size).toBe(compactedBytes);
    expect(logger.warnings).toEqual([]);
  });
});

describe('FileStorage ordering and argument errors', () => {
  it('rejects zxids that do not strictly increase, writing nothing', async () => {
    const dir = await scratch.dir();
    const s = await openTracked(dir);
    await s.appendEntries(entriesFrom(1, ['a', 'b']));
    await expect(s.appendEntries([{ zxid: 2, data: 'dup' }])).rejects.toMatchObject({
      code: 'ERR_STORAGE_ORDER',
    });
    await expect(
      s.appendEntries([
        { zxid: 5, data: 'ok' },
        { zxid: 4, data: 'backwards' },
      ]),
    ).rejects.toMatchObject({ code: 'ERR_STORAGE_ORDER' });
    await s.appendEntries([{ zxid: 3, data: 'c' }]);
    expect((await s.load()).entries).toEqual(entriesFrom(1, ['a', 'b', 'c']));
  });

  it('refuses to truncate below the snapshot or move a snapshot backwards', async () => {
    const dir = await scratch.dir();
    const s = await openTracked(dir);
    await s.appendEntries(entriesFrom(1, ['a', 'b', 'c', 'd']));
    await s.saveSnapshot({ zxid: 3, state: 's3' });
    await expect(s.truncateAfter(2)).rejects.toMatchObject({ code: 'ERR_STORAGE_ORDER' });
    await expect(s.saveSnapshot({ zxid: 2, state: 's2' })).rejects.toMatchObject({
      code: 'ERR_STORAGE_ORDER',
    });
    await s.truncateAfter(3);
    expect(await s.load()).toEqual({
      meta: undefined,
      snapshot: { zxid: 3, state: 's3' },
      entries: [],
    });
  });

  it('rejects malformed zxids and meta with ERR_INVALID_ARGUMENT', async () => {
    const s = await openTracked(await scratch.dir());
    for (const zxid of [-1, 1.5, Number.NaN, 2 ** 53, '3']) {
      await expect(s.appendEntries([{ zxid: zxid as number, data: 1 }])).rejects.toMatchObject({
        code: 'ERR_INVALID_ARGUMENT',
      });
    }
    await expect(s.saveMeta({ acceptedEpoch: -1, currentEpoch: 0 })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
    });
    await expect(s.saveSnapshot({ zxid: -5, state: 1 })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
    });
    await expect(s.truncateAfter(Number.NaN)).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
    });
    expect(await s.load()).toEqual({ meta: undefined, snapshot: undefined, entries: [] });
  });

  it('enforces maxRecordBytes, maxSnapshotBytes and maxLogFileBytes', async () => {
    const dir = await scratch.dir();
    const s = await openTracked(dir, {
      maxRecordBytes: 100,
      maxSnapshotBytes: 100,
      maxLogFileBytes: 200,
    });
    await expect(s.appendEntries([{ zxid: 1, data: 'x'.repeat(200) }])).rejects.toMatchObject({
      code: 'ERR_STORAGE_RECORD_TOO_LARGE',
    });
    await expect(s.saveSnapshot({ zxid: 1, state: 'x'.repeat(200) })).rejects.toMatchObject({
      code: 'ERR_STORAGE_RECORD_TOO_LARGE',
    });
    const entry = (zxid: number) => ({ zxid, data: 'y'.repeat(50) });
    await s.appendEntries([entry(1), entry(2)]);
    await expect(s.appendEntries([entry(3), entry(4)])).rejects.toMatchObject({
      code: 'ERR_STORAGE_LOG_FULL',
    });
    expect((await s.load()).entries.map((e) => e.zxid)).toEqual([1, 2]);
    // A snapshot compacts the log, which makes room again.
    await s.saveSnapshot({ zxid: 2, state: 'small' });
    await s.appendEntries([entry(3), entry(4)]);
    expect((await s.load()).entries.map((e) => e.zxid)).toEqual([3, 4]);
  });

  it('rejects limits that are not positive integers', async () => {
    const dir = await scratch.dir();
    await expect(FileStorage.open(dir, { maxRecordBytes: 0 })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
    });
    await expect(FileStorage.open(dir, { maxQueuedOperations: 1.5 })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
    });
  });
});

describe('FileStorage serialization and lifecycle', () => {
  it('runs concurrent calls one at a time in call order', async () => {
    const dir = await scratch.dir();
    const s = await openTracked(dir);
    const calls: Promise<unknown>[] = [];
    for (let zxid = 1; zxid <= 60; zxid++) {
      calls.push(s.appendEntries([{ zxid, data: `entry ${zxid}` }]));
      if (zxid % 20 === 0) calls.push(s.saveMeta({ acceptedEpoch: zxid, currentEpoch: zxid }));
    }
    calls.push(s.truncateAfter(50));
    calls.push(s.appendEntries([{ zxid: 51, data: 'after truncate' }]));
    const outcomes = await Promise.allSettled(calls);
    expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([]);
    await s.close();
    const loaded = await lifetime(dir, (r) => r.load());
    expect(loaded.meta).toEqual({ acceptedEpoch: 60, currentEpoch: 60 });
    expect(loaded.entries.map((e) => e.zxid)).toEqual(Array.from({ length: 51 }, (_, i) => i + 1));
    expect(loaded.entries.at(-1)).toEqual({ zxid: 51, data: 'after truncate' });
  });

  it('rejects calls beyond maxQueuedOperations with ERR_STORAGE_BUSY', async () => {
    const s = await openTracked(await scratch.dir(), { maxQueuedOperations: 2 });
    const first = s.appendEntries([{ zxid: 1, data: 1 }]);
    const second = s.appendEntries([{ zxid: 2, data: 2 }]);
    await expect(s.appendEntries([{ zxid: 3, data: 3 }])).rejects.toMatchObject({
      code: 'ERR_STORAGE_BUSY',
    });
    await Promise.all([first, second]);
    await s.appendEntries([{ zxid: 3, data: 3 }]);
    expect((await s.load()).entries.map((e) => e.zxid)).toEqual([1, 2, 3]);
  });

  it('finishes queued calls before closing, then rejects with ERR_STORAGE_CLOSED', async () => {
    const dir = await scratch.dir();
    const s = await openTracked(dir);
    const append = s.appendEntries([{ zxid: 1, data: 'queued before close' }]);
    const closed = s.close();
    await expect(s.appendEntries([{ zxid: 2, data: 'late' }])).rejects.toMatchObject({
      code: 'ERR_STORAGE_CLOSED',
    });
    await append;
    await closed;
    await s.close();
    await expect(s.load()).rejects.toMatchObject({ code: 'ERR_STORAGE_CLOSED' });
    expect((await lifetime(dir, (r) => r.load())).entries).toEqual([
      { zxid: 1, data: 'queued before close' },
    ]);
  });

  it('fails every later call after a disk operation fails, until reopened', async () => {
    const dir = await scratch.dir();
    const s = await openTracked(dir);
    await s.appendEntries([{ zxid: 1, data: 'a' }]);
    await rm(dir, { recursive: true, force: true });
    await expect(s.saveMeta({ acceptedEpoch: 1, currentEpoch: 1 })).rejects.toMatchObject({
      code: 'ERR_STORAGE_FAILED',
    });
    // The log's descriptor still works, but after a failure nothing is trusted.
    await expect(s.appendEntries([{ zxid: 2, data: 'b' }])).rejects.toMatchObject({
      code: 'ERR_STORAGE_FAILED',
    });
    await s.close();
  });

  it('removes leftover temporary files at open', async () => {
    const dir = await scratch.dir();
    await lifetime(dir, (s) => s.saveMeta({ acceptedEpoch: 4, currentEpoch: 4 }));
    await writeFile(join(dir, 'meta.tmp'), 'half written');
    await writeFile(join(dir, 'snapshot.tmp'), 'half written');
    await writeFile(join(dir, 'log.tmp'), 'half written');
    const loaded = await lifetime(dir, (s) => s.load());
    expect(loaded.meta).toEqual({ acceptedEpoch: 4, currentEpoch: 4 });
    expect((await readdir(dir)).sort()).toEqual(['log', 'meta']);
  });
});

describe('FileStorage corrupt meta and snapshot', () => {
  async function flipByte(path: string, index: number): Promise<void> {
    const bytes = await readFile(path);
    bytes[index] = bytes[index]! ^ 0x01;
    await writeFile(path, bytes);
  }

  it('refuses to start on a meta file with a flipped bit, anywhere in it', async () => {
    const dir = await scratch.dir();
    await lifetime(dir, (s) => s.saveMeta({ acceptedEpoch: 7, currentEpoch: 6 }));
    const original = await readFile(join(dir, 'meta'));
    for (let index = 0; index < original.length; index++) {
      await writeFile(join(dir, 'meta'), original);
      await flipByte(join(dir, 'meta'), index);
      await expect(FileStorage.open(dir)).rejects.toMatchObject({ code: 'ERR_STORAGE_CORRUPT' });
    }
    // Refusing released the lock: the restored file opens.
    await writeFile(join(dir, 'meta'), original);
    expect((await lifetime(dir, (s) => s.load())).meta).toEqual({
      acceptedEpoch: 7,
      currentEpoch: 6,
    });
  });

  it('refuses to start on a truncated, empty, or oversized meta file', async () => {
    const dir = await scratch.dir();
    await lifetime(dir, (s) => s.saveMeta({ acceptedEpoch: 1, currentEpoch: 1 }));
    const original = await readFile(join(dir, 'meta'));
    for (const content of [
      original.subarray(0, original.length - 1),
      Buffer.alloc(0),
      Buffer.alloc(70_000),
    ]) {
      await writeFile(join(dir, 'meta'), content);
      await expect(FileStorage.open(dir)).rejects.toMatchObject({ code: 'ERR_STORAGE_CORRUPT' });
    }
  });

  it('refuses to start on a corrupt snapshot, naming the file', async () => {
    const dir = await scratch.dir();
    await lifetime(dir, (s) => s.saveSnapshot({ zxid: 9, state: { members: ['a', 'b'] } }));
    const path = join(dir, 'snapshot');
    await flipByte(path, (await stat(path)).size - 2);
    const error = await FileStorage.open(dir).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_STORAGE_CORRUPT', path });
    expect(String((error as Error).message)).toContain('checksum mismatch');
  });

  it('refuses to start on a log with a foreign header', async () => {
    const dir = await scratch.dir();
    await lifetime(dir, (s) => s.appendEntries(entriesFrom(1, ['a'])));
    await flipByte(join(dir, 'log'), 0);
    await expect(FileStorage.open(dir)).rejects.toMatchObject({ code: 'ERR_STORAGE_CORRUPT' });
    await writeFile(join(dir, 'log'), 'SHO');
    await expect(FileStorage.open(dir)).rejects.toMatchObject({ code: 'ERR_STORAGE_CORRUPT' });
  });
});

describe('FileStorage lock', () => {
  it('refuses a second open of the same directory while the first is open', async () => {
    const dir = await scratch.dir();
    const first = await openTracked(dir);
    await expect(FileStorage.open(dir)).rejects.toMatchObject({ code: 'ERR_STORAGE_LOCKED' });
    await expect(FileStorage.open(join(dir, '.'))).rejects.toMatchObject({
      code: 'ERR_STORAGE_LOCKED',
    });
    await first.close();
    await lifetime(dir, (s) => s.appendEntries([{ zxid: 1, data: 'reopened' }]));
  });

  it('writes pid and host into LOCK and removes it on close', async () => {
    const dir = await scratch.dir();
    const s = await openTracked(dir);
    expect(await readFile(join(dir, 'LOCK'), 'utf8')).toBe(`${process.pid} ${hostname()}\n`);
    await s.close();
    expect(await readdir(dir)).not.toContain('LOCK');
  });

  it('refuses a directory locked by another live process', async () => {
    const dir = await scratch.dir();
    await writeFile(join(dir, 'LOCK'), `${process.ppid} ${hostname()}\n`);
    const error = await FileStorage.open(dir).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_STORAGE_LOCKED' });
    expect(String((error as Error).message)).toContain(String(process.ppid));
  });

  it('refuses a lock from another host or in an unknown format', async () => {
    const dir = await scratch.dir();
    for (const content of [`1 not-${hostname()}\n`, 'garbage\n', '']) {
      await writeFile(join(dir, 'LOCK'), content);
      await expect(FileStorage.open(dir)).rejects.toMatchObject({ code: 'ERR_STORAGE_LOCKED' });
    }
  });

  it('takes over a lock left by a dead process, with a warning', async () => {
    const dir = await scratch.dir();
    const dead = spawnSync(process.execPath, ['-e', '']);
    expect(dead.status).toBe(0);
    await writeFile(join(dir, 'LOCK'), `${dead.pid} ${hostname()}\n`);
    const logger = new CapturingLogger();
    const s = await openTracked(dir, { logger });
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0]?.fields).toMatchObject({ holder: `${dead.pid} ${hostname()}` });
    expect(await readFile(join(dir, 'LOCK'), 'utf8')).toBe(`${process.pid} ${hostname()}\n`);
    await s.close();
  });

  it('takes over a lock naming its own pid when this process does not hold it', async () => {
    const dir = await scratch.dir();
    await writeFile(join(dir, 'LOCK'), `${process.pid} ${hostname()}\n`);
    const logger = new CapturingLogger();
    await lifetime(dir, async () => {}, { logger });
    expect(logger.warnings.map((w) => w.message)).toEqual([
      'taking over the lock of a data directory whose holder is gone',
    ]);
  });
});
