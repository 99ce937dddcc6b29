import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { FileStorage } from '../../src/coord/file-storage.js';
import { frameRecords } from '../../src/coord/record-file.js';
import { encodeEntry } from '../../src/coord/storage-codec.js';
import { CapturingLogger, entriesFrom, recordSpans, Scratch } from './helpers.js';

const scratch = new Scratch();
afterEach(() => scratch.cleanup());

type Entry = { zxid: number; data: unknown };

/** Entry payloads shaped like coordinator commands, with values that round-trip exactly. */
const dataArb = fc.record({
  op: fc.constantFrom('join', 'leave', 'config.set'),
  key: fc.string({ maxLength: 24, unit: 'grapheme' }),
  value: fc.oneof(
    fc.string({ maxLength: 64 }),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.string({ maxLength: 8 }), { maxLength: 5 }),
  ),
});

/** 1..maxLength entries whose zxids strictly increase from a random start. */
function entriesArb(minLength: number, maxLength: number): fc.Arbitrary<Entry[]> {
  return fc
    .tuple(
      fc.integer({ min: 0, max: 2 ** 40 }),
      fc.array(fc.tuple(fc.integer({ min: 1, max: 2 ** 20 }), dataArb), {
        minLength,
        maxLength,
      }),
    )
    .map(([start, steps]) => {
      let zxid = start;
      return steps.map(([step, data]) => {
        zxid += step;
        return { zxid, data };
      });
    });
}

async function withStorage<T>(
  dir: string,
  body: (storage: FileStorage) => Promise<T>,
  logger = new CapturingLogger(),
): Promise<T> {
  const storage = scratch.track(await FileStorage.open(dir, { logger }));
  try {
    return await body(storage);
  } finally {
    await storage.close();
  }
}

let runCounter = 0;
async function freshDir(parent: string): Promise<string> {
  runCounter += 1;
  const dir = join(parent, `run-${runCounter}`);
  await mkdir(dir);
  return dir;
}

/**
 * Cuts the log at `cut` (a byte inside the last record), then checks recovery:
 * exactly the records before it come back, the file is cut to them, one warning is
 * logged unless nothing of the last record was written, and appending works again.
 */
async function checkTornTail(
  dir: string,
  fullLog: Buffer,
  entries: readonly Entry[],
  cut: number,
): Promise<void> {
  const spans = recordSpans(fullLog);
  const last = spans.at(-1)!;
  const kept = entries.slice(0, -1);
  await writeFile(join(dir, 'log'), fullLog.subarray(0, cut));
  const logger = new CapturingLogger();
  const nextZxid = entries.at(-1)!.zxid;
  await withStorage(
    dir,
    async (s) => {
      expect((await s.load()).entries).toEqual(kept);
      expect((await stat(join(dir, 'log'))).size).toBe(last.offset);
      await s.appendEntries([{ zxid: nextZxid, data: 'rewritten after the tear' }]);
    },
    logger,
  );
  if (cut === last.offset) {
    expect(logger.warnings).toEqual([]);
  } else {
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0]?.fields).toMatchObject({
      offset: last.offset,
      droppedBytes: cut - last.offset,
      keptEntries: kept.length,
    });
  }
  const reloaded = await withStorage(dir, (s) => s.load());
  expect(reloaded.entries).toEqual([...kept, { zxid: nextZxid, data: 'rewritten after the tear' }]);
}

/** Writes `entries`, the last one in its own append, and returns the log's bytes. */
async function writeLog(dir: string, entries: readonly Entry[]): Promise<Buffer> {
  await withStorage(dir, async (s) => {
    await s.appendEntries(entries.slice(0, -1));
    await s.appendEntries(entries.slice(-1));
  });
  return readFile(join(dir, 'log'));
}

describe('FileStorage recovery from a torn tail', () => {
  it('recovers the written prefix at every cut point inside the last record', async () => {
    const dir = await scratch.dir();
    const entries = entriesFrom(1, [
      { op: 'join', key: 'node-a', value: 'ws://10.0.0.1:7400' },
      { op: 'config.set', key: 'defaultTtlMs', value: 60_000 },
      { op: 'join', key: 'node-b', value: ['x', 'y', 'z'] },
    ]);
    const fullLog = await writeLog(dir, entries);
    const last = recordSpans(fullLog).at(-1)!;
    expect(last.offset + last.bytes).toBe(fullLog.length);
    for (let cut = last.offset; cut < fullLog.length; cut++) {
      await checkTornTail(dir, fullLog, entries, cut);
    }
  });

  it('property: random entries cut at a random byte of the last record', async () => {
    const parent = await scratch.dir();
    await fc.assert(
      fc.asyncProperty(entriesArb(1, 8), fc.nat(), async (entries, where) => {
        const dir = await freshDir(parent);
        const fullLog = await writeLog(dir, entries);
        const last = recordSpans(fullLog).at(-1)!;
        const cut = last.offset + (where % last.bytes);
        await checkTornTail(dir, fullLog, entries, cut);
      }),
      { numRuns: 40 },
    );
  });

  it('truncates a zero-filled tail, as some file systems leave after a crash', async () => {
    const dir = await scratch.dir();
    const entries = entriesFrom(1, ['a', 'b']);
    const fullLog = await writeLog(dir, entries);
    await writeFile(join(dir, 'log'), Buffer.concat([fullLog, Buffer.alloc(4096)]));
    const logger = new CapturingLogger();
    expect((await withStorage(dir, (s) => s.load(), logger)).entries).toEqual(entries);
    expect(logger.warnings[0]?.fields).toMatchObject({
      offset: fullLog.length,
      reason: 'zero record length',
      droppedBytes: 4096,
    });
    expect((await stat(join(dir, 'log'))).size).toBe(fullLog.length);
  });
});

describe('FileStorage recovery from damaged records', () => {
  it('property: a flipped bit in any record truncates the log just before that record', async () => {
    const parent = await scratch.dir();
    await fc.assert(
      fc.asyncProperty(
        entriesArb(2, 8),
        fc.nat(),
        fc.nat(),
        async (entries, whichRecord, whichBit) => {
          const dir = await freshDir(parent);
          const fullLog = await writeLog(dir, entries);
          const spans = recordSpans(fullLog);
          const victim = whichRecord % spans.length;
          const span = spans[victim]!;
          const bit = whichBit % (span.bytes * 8);
          const damaged = Buffer.from(fullLog);
          const at = span.offset + (bit >> 3);
          damaged[at] = damaged[at]! ^ (1 << (bit & 7));
          await writeFile(join(dir, 'log'), damaged);

          const logger = new CapturingLogger();
          const loaded = await withStorage(dir, (s) => s.load(), logger);
          expect(loaded.entries).toEqual(entries.slice(0, victim));
          expect(logger.warnings).toHaveLength(1);
          expect(logger.warnings[0]?.fields).toMatchObject({
            offset: span.offset,
            droppedBytes: fullLog.length - span.offset,
          });
          expect((await stat(join(dir, 'log'))).size).toBe(span.offset);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('truncates at a checksum-valid record whose zxid does not increase', async () => {
    const dir = await scratch.dir();
    const entries = entriesFrom(1, ['a', 'b', 'c']);
    await withStorage(dir, (s) => s.appendEntries(entries));
    const valid = await readFile(join(dir, 'log'));
    const regressing = frameRecords([
      encodeEntry({ zxid: 2, data: 'replayed' }, 1024),
      encodeEntry({ zxid: 9, data: 'after it' }, 1024),
    ]);
    await writeFile(join(dir, 'log'), Buffer.concat([valid, regressing]));
    const logger = new CapturingLogger();
    expect((await withStorage(dir, (s) => s.load(), logger)).entries).toEqual(entries);
    expect(logger.warnings[0]?.fields).toMatchObject({
      offset: valid.length,
      reason: 'zxid 2 does not increase past 3',
    });
    expect((await stat(join(dir, 'log'))).size).toBe(valid.length);
  });

  it('truncates at a checksum-valid record that is not an entry', async () => {
    const dir = await scratch.dir();
    await withStorage(dir, (s) => s.appendEntries(entriesFrom(1, ['a'])));
    const valid = await readFile(join(dir, 'log'));
    const notAnEntry = frameRecords([Buffer.from([0xc1])]);
    await writeFile(join(dir, 'log'), Buffer.concat([valid, notAnEntry]));
    const logger = new CapturingLogger();
    expect((await withStorage(dir, (s) => s.load(), logger)).entries).toEqual(
      entriesFrom(1, ['a']),
    );
    expect(logger.warnings[0]?.fields).toMatchObject({
      reason: 'record payload is not a log entry',
    });
  });

  it('treats an absurd length past the end of file as a torn tail', async () => {
    const dir = await scratch.dir();
    await withStorage(dir, (s) => s.appendEntries(entriesFrom(1, ['a'])));
    const valid = await readFile(join(dir, 'log'));
    const header = Buffer.alloc(8);
    header.writeUInt32LE(0xffff_fff0, 0);
    await writeFile(join(dir, 'log'), Buffer.concat([valid, header, Buffer.alloc(100, 7)]));
    const logger = new CapturingLogger();
    expect((await withStorage(dir, (s) => s.load(), logger)).entries).toHaveLength(1);
    expect(logger.warnings).toHaveLength(1);
    expect((await stat(join(dir, 'log'))).size).toBe(valid.length);
  });

  it('refuses to start on a record above maxRecordBytes that fits in the file', async () => {
    const dir = await scratch.dir();
    const big = { zxid: 2, data: 'x'.repeat(500) };
    await withStorage(dir, (s) => s.appendEntries([{ zxid: 1, data: 'a' }, big]));
    const before = await readFile(join(dir, 'log'));
    await expect(FileStorage.open(dir, { maxRecordBytes: 100 })).rejects.toMatchObject({
      code: 'ERR_STORAGE_CORRUPT',
    });
    // Nothing was cut: raising the limit back recovers every entry.
    expect(await readFile(join(dir, 'log'))).toEqual(before);
    expect((await withStorage(dir, (s) => s.load())).entries).toEqual([
      { zxid: 1, data: 'a' },
      big,
    ]);
  });
});
