/**
 * Durable state of one coordinator node, as the driver persists it. The core never
 * touches storage: it hands the driver entries to persist through `ready()`, and the
 * driver acknowledges to the leader only after `appendEntries` resolves (fsync first).
 *
 * Two implementations: `FileStorage` (a `dataDir` on disk, checksummed) and
 * `MemoryStorage` (for simulation: survives a simulated crash, lost with the object).
 */

/** One log entry as stored. `zxid` orders entries: epoch in the high bits, counter low. */
export interface PersistedEntry {
  readonly zxid: number;
  /** The entry's payload, any msgpackr-encodable value; storage does not interpret it. */
  readonly data: unknown;
}

/** The small, frequently rewritten election state (ZAB's acceptedEpoch and currentEpoch). */
export interface PersistedMeta {
  readonly acceptedEpoch: number;
  readonly currentEpoch: number;
}

/** The applied state machine up to and including `zxid`, replacing the log before it. */
export interface PersistedSnapshot {
  readonly zxid: number;
  readonly state: unknown;
}

/** Everything recovered at startup. */
export interface PersistedState {
  readonly meta: PersistedMeta | undefined;
  readonly snapshot: PersistedSnapshot | undefined;
  /** Entries after the snapshot, in zxid order, every one checksum-verified. */
  readonly entries: readonly PersistedEntry[];
}

/** Where a coordinator node keeps what must survive a restart. */
export interface CoordStorage {
  /** Reads what was persisted. A torn or corrupt tail is truncated, never returned. */
  load(): Promise<PersistedState>;
  /** Appends entries (zxids strictly increasing past the last one); durable when it resolves. */
  appendEntries(entries: readonly PersistedEntry[]): Promise<void>;
  /** Drops every entry with `zxid > lastKeptZxid` (a new leader's log discards them); durable when it resolves. */
  truncateAfter(lastKeptZxid: number): Promise<void>;
  /** Replaces the meta atomically; durable when it resolves. */
  saveMeta(meta: PersistedMeta): Promise<void>;
  /** Writes a snapshot atomically and drops the log entries it covers; durable when it resolves. */
  saveSnapshot(snapshot: PersistedSnapshot): Promise<void>;
  /** Releases file handles. */
  close(): Promise<void>;
}
