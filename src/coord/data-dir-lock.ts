import { link, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../util/logger.js';
import { StorageLockedError } from './storage-errors.js';

/** The lock file's name inside a data directory. */
export const LOCK_FILE = 'LOCK';

/** Lock, stale-lock removal, lock again: more rounds only happen when processes race. */
const MAX_LOCK_ATTEMPTS = 3;

/** Data directories this process holds, by real path: a second open in-process is refused too. */
const heldByThisProcess = new Set<string>();
let temporaryCounter = 0;

function errorCode(error: unknown): unknown {
  return typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
}

/**
 * Whether a lock file's content names a holder that can no longer hold it. Only a
 * holder on this host can be checked; anything unreadable or remote counts as live,
 * so the doubt always falls on the side of refusing to start.
 */
function isStale(holder: string): boolean {
  const match = /^(\d+) (.+)$/.exec(holder);
  if (match === null || match[2] !== hostname()) return false;
  const pid = Number(match[1]);
  // Our own pid, yet not held by this process: a previous incarnation that reused the
  // pid (common in containers, where the node is often pid 1 on every start).
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return errorCode(error) === 'ESRCH';
  }
}

/**
 * Exclusive ownership of a data directory, so two nodes never interleave writes to
 * one log. The lock file holds `"<pid> <hostname>\n"`. It is written to a temporary
 * name first and then hard-linked into place, which either fails (someone holds it)
 * or publishes a complete file, so a reader never sees a half-written lock.
 *
 * A lock left by a dead process on this host is taken over with a warning. Two
 * processes taking over the same stale lock at the same instant could both win;
 * without OS file locks in Node that window cannot be closed, and it needs an
 * operator starting two nodes on one directory after a crash.
 */
export class DataDirLock {
  /** The data directory's real path. */
  readonly dataDir: string;
  private readonly content: string;
  private released = false;

  private constructor(dataDir: string, content: string) {
    this.dataDir = dataDir;
    this.content = content;
  }

  /** Takes the lock of an existing directory, or throws `StorageLockedError`. */
  static async acquire(dataDir: string, logger: Logger): Promise<DataDirLock> {
    const dir = await realpath(dataDir);
    if (heldByThisProcess.has(dir)) {
      throw new StorageLockedError(dir, `this process (pid ${process.pid})`);
    }
    heldByThisProcess.add(dir);
    try {
      return await DataDirLock.acquireFile(dir, logger);
    } catch (error) {
      heldByThisProcess.delete(dir);
      throw error;
    }
  }

  private static async acquireFile(dir: string, logger: Logger): Promise<DataDirLock> {
    const lockPath = join(dir, LOCK_FILE);
    const content = `${process.pid} ${hostname()}\n`;
    temporaryCounter += 1;
    const temporary = join(dir, `${LOCK_FILE}.${process.pid}.${temporaryCounter}.tmp`);
    await writeFile(temporary, content, { flag: 'wx' });
    try {
      for (let attempt = 0; attempt < MAX_LOCK_ATTEMPTS; attempt++) {
        try {
          await link(temporary, lockPath);
          return new DataDirLock(dir, content);
        } catch (error) {
          if (errorCode(error) !== 'EEXIST') throw error;
        }
        let holder: string;
        try {
          holder = (await readFile(lockPath, 'utf8')).trim();
        } catch (error) {
          if (errorCode(error) === 'ENOENT') continue;
          throw error;
        }
        if (!isStale(holder)) throw new StorageLockedError(dir, `"${holder}"`);
        logger.warn('taking over the lock of a data directory whose holder is gone', {
          path: lockPath,
          holder,
        });
        await rm(lockPath, { force: true });
      }
      throw new StorageLockedError(dir, 'another process racing for the same lock');
    } finally {
      await rm(temporary, { force: true });
    }
  }

  /** Removes the lock file if it is still ours. Idempotent. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    try {
      const lockPath = join(this.dataDir, LOCK_FILE);
      const current = await readFile(lockPath, 'utf8').catch((error: unknown) => {
        if (errorCode(error) === 'ENOENT') return undefined;
        throw error;
      });
      if (current === this.content) await rm(lockPath, { force: true });
    } finally {
      heldByThisProcess.delete(this.dataDir);
    }
  }
}
