import { InvalidArgumentError } from '../util/errors.js';

/**
 * Size bounds shared by `FileStorage` and `MemoryStorage`, so a simulation rejects
 * exactly what a real data directory would.
 */
export interface StorageLimits {
  /**
   * Largest encoded log entry (its msgpackr `{ zxid, data }` payload). Recovery also
   * uses it to tell an absurd record length from a real one.
   */
  readonly maxRecordBytes: number;
  /** Largest encoded snapshot payload. */
  readonly maxSnapshotBytes: number;
  /** Largest log, counted as on disk (file header plus framed records); a snapshot compacts it. */
  readonly maxLogFileBytes: number;
}

/** Defaults sized for membership and config: both are small, so these are generous. */
export const DEFAULT_STORAGE_LIMITS: StorageLimits = {
  maxRecordBytes: 4 * 1024 * 1024,
  maxSnapshotBytes: 256 * 1024 * 1024,
  maxLogFileBytes: 256 * 1024 * 1024,
};

/** Fills in defaults and rejects limits that are not positive safe integers. */
export function resolveStorageLimits(options: Partial<StorageLimits>): StorageLimits {
  const limits: StorageLimits = {
    maxRecordBytes: options.maxRecordBytes ?? DEFAULT_STORAGE_LIMITS.maxRecordBytes,
    maxSnapshotBytes: options.maxSnapshotBytes ?? DEFAULT_STORAGE_LIMITS.maxSnapshotBytes,
    maxLogFileBytes: options.maxLogFileBytes ?? DEFAULT_STORAGE_LIMITS.maxLogFileBytes,
  };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new InvalidArgumentError(`${name} must be a positive integer, got ${value}`);
    }
  }
  return limits;
}
