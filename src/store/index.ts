/** The store layer: one node's LRU + TTL storage. */
export {
  EntryTooLargeError,
  InvalidKeyError,
  InvalidSizeError,
  InvalidStoreLimitError,
  InvalidTtlError,
  InvalidValueError,
  InvalidVersionError,
  ReentrantStoreCallError,
} from './errors.js';
export {
  DEFAULT_SWEEP_SAMPLES_PER_CALL,
  MAX_ENTRY_BYTES,
  MAX_STORE_ENTRIES,
  MAX_SWEEP_SAMPLES_PER_CALL,
  type StoreLimits,
} from './limits.js';
export {
  type KeyedStoreEntry,
  LruStore,
  type LruStoreOptions,
  type RemovalReason,
  type RemoveHook,
  type SetOptions,
  type StoreEntry,
  type StoreStats,
  TTL_MISSING,
  TTL_NONE,
  type VersionedSetOptions,
} from './lru-store.js';
