import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FileStorage } from '../../src/coord/file-storage.js';
import type { LogFields, Logger } from '../../src/util/logger.js';

/** A logger that keeps warnings so tests can assert that recovery did not stay silent. */
export class CapturingLogger implements Logger {
  readonly warnings: { message: string; fields: LogFields | undefined }[] = [];

  debug(): void {}
  info(): void {}
  error(): void {}
  warn(message: string, fields?: LogFields): void {
    this.warnings.push({ message, fields });
  }
}

/** Temp directories and open storages of one test file, cleaned up in `afterEach`. */
export class Scratch {
  private readonly dirs: string[] = [];
  private readonly storages: FileStorage[] = [];

  async dir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'shoal-coord-storage-'));
    this.dirs.push(dir);
    return dir;
  }

  /** Registers a storage so it is closed even when the test fails. */
  track(storage: FileStorage): FileStorage {
    this.storages.push(storage);
    return storage;
  }

  async cleanup(): Promise<void> {
    for (const storage of this.storages.splice(0)) await storage.close();
    for (const dir of this.dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  }
}

/** Start offset and total size of every framed record in a log file's bytes. */
export function recordSpans(log: Buffer): { offset: number; bytes: number }[] {
  const spans: { offset: number; bytes: number }[] = [];
  let offset = 8;
  while (offset + 8 <= log.length) {
    const bytes = 8 + log.readUInt32LE(offset);
    if (offset + bytes > log.length) break;
    spans.push({ offset, bytes });
    offset += bytes;
  }
  return spans;
}

/** Entries with strictly increasing zxids, epoch in the high bits as the coordinator does. */
export function entriesFrom(
  firstZxid: number,
  data: readonly unknown[],
): { zxid: number; data: unknown }[] {
  return data.map((value, index) => ({ zxid: firstZxid + index, data: value }));
}
