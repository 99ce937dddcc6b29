import { ShoalError } from '../util/errors.js';

/**
 * A persisted file failed its checks in a way that is not a torn write: a damaged
 * meta or snapshot file, a log with a foreign header, a record claiming more bytes
 * than allowed. Storage refuses to start rather than guess, because silently
 * resetting an epoch or dropping acknowledged entries could break agreement.
 */
export class StorageCorruptError extends ShoalError {
  /** The file that failed its checks. */
  readonly path: string;

  constructor(path: string, detail: string) {
    super(
      'ERR_STORAGE_CORRUPT',
      `${path}: ${detail}; refusing to start (restore the file from a backup, or remove the data directory to rejoin as an empty node)`,
    );
    this.path = path;
  }
}

/** Another live process (or another open storage in this process) holds the data directory. */
export class StorageLockedError extends ShoalError {
  readonly dataDir: string;

  constructor(dataDir: string, holder: string) {
    super(
      'ERR_STORAGE_LOCKED',
      `${dataDir} is locked by ${holder}; two nodes must never share a data directory (if no shoal process uses it, remove its LOCK file)`,
    );
    this.dataDir = dataDir;
  }
}

/**
 * The caller broke the log's ordering rules: zxids must strictly increase past the
 * last entry and the snapshot, a truncation cannot reach below the snapshot, and a
 * snapshot cannot move backwards. Nothing was written.
 */
export class StorageOrderError extends ShoalError {
  constructor(message: string) {
    super('ERR_STORAGE_ORDER', message);
  }
}

/** An entry or snapshot encodes to more bytes than its named limit. Nothing was written. */
export class StorageRecordTooLargeError extends ShoalError {
  constructor(what: string, bytes: number, limitName: string, limitBytes: number) {
    super(
      'ERR_STORAGE_RECORD_TOO_LARGE',
      `${what} encodes to ${bytes} bytes, above ${limitName} (${limitBytes})`,
    );
  }
}

/** Appending would grow the log past `maxLogFileBytes`; a snapshot compacts it. Nothing was written. */
export class StorageLogFullError extends ShoalError {
  constructor(logBytes: number, appendBytes: number, limitBytes: number) {
    super(
      'ERR_STORAGE_LOG_FULL',
      `the log holds ${logBytes} bytes and ${appendBytes} more would pass maxLogFileBytes (${limitBytes}); save a snapshot to compact it`,
    );
  }
}

/** The storage was closed; open it again to continue. */
export class StorageClosedError extends ShoalError {
  constructor(dataDir: string) {
    super('ERR_STORAGE_CLOSED', `storage for ${dataDir} is closed`);
  }
}

/**
 * An earlier disk operation failed (write, fsync, rename). After a failed fsync the
 * kernel's view of the file is unknown, so every later call fails too: the process
 * must close the storage and recover from disk by opening it again.
 */
export class StorageFailedError extends ShoalError {
  constructor(dataDir: string, operation: string, cause: unknown) {
    super(
      'ERR_STORAGE_FAILED',
      `storage for ${dataDir} failed during ${operation}: ${cause instanceof Error ? cause.message : String(cause)}; reopen it to recover from disk`,
      { cause },
    );
  }
}

/** More than `maxQueuedOperations` calls are already waiting their turn. Nothing was written. */
export class StorageBusyError extends ShoalError {
  constructor(limit: number) {
    super('ERR_STORAGE_BUSY', `${limit} storage operations are already queued`);
  }
}
