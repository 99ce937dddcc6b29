import { InvalidArgumentError } from '../util/errors.js';
import { StorageOrderError } from './storage-errors.js';

/**
 * The ordering rules every `CoordStorage` enforces, shared so `MemoryStorage` in a
 * simulation fails exactly where `FileStorage` would. `lastZxid` is the zxid of the
 * last log entry, or of the snapshot when the log after it is empty, or `undefined`
 * when nothing was ever stored.
 */

/** Appended zxids must strictly increase, starting past `lastZxid`. */
export function checkAppendOrder(lastZxid: number | undefined, zxids: readonly number[]): void {
  let previous = lastZxid;
  for (const zxid of zxids) {
    if (previous !== undefined && zxid <= previous) {
      throw new StorageOrderError(
        `cannot append zxid ${zxid} after zxid ${previous}: zxids must strictly increase`,
      );
    }
    previous = zxid;
  }
}

/** A truncation cannot reach into what a snapshot already applied. */
export function checkTruncateOrder(lastKeptZxid: number, snapshotZxid: number | undefined): void {
  if (!Number.isSafeInteger(lastKeptZxid)) {
    throw new InvalidArgumentError(`cannot truncate after ${lastKeptZxid}: not an integer zxid`);
  }
  if (snapshotZxid !== undefined && lastKeptZxid < snapshotZxid) {
    throw new StorageOrderError(
      `cannot truncate after zxid ${lastKeptZxid}: the snapshot already covers up to zxid ${snapshotZxid}`,
    );
  }
}

/**
 * A snapshot cannot move backwards: the log after the current snapshot does not hold
 * the entries between an older zxid and it, so state would be lost.
 */
export function checkSnapshotOrder(zxid: number, snapshotZxid: number | undefined): void {
  if (snapshotZxid !== undefined && zxid < snapshotZxid) {
    throw new StorageOrderError(
      `cannot save a snapshot at zxid ${zxid} over one at zxid ${snapshotZxid}`,
    );
  }
}
