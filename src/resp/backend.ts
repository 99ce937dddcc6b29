/**
 * The contract between the RESP front end and the cache it serves.
 *
 * Every data method is one atomic operation on one key, or a batch of independent
 * per-key operations (no atomicity across keys is promised or needed: in cluster
 * mode the front end only sends multi-key commands whose keys share one slot, and
 * Redis Cluster clients already assume nothing more).
 *
 * Conventions for every method:
 * - Keys are shoal key strings: RESP key bytes mapped by `respKeyToString`
 *   (key-encoding.ts): UTF-8 keys are their plain string.
 * - Values are `Buffer`s. A value passed in is owned by the backend (the front end
 *   copied it off the socket, into an exact-size buffer). A value returned is only
 *   read by the front end, but large ones are handed to the socket without a copy,
 *   so the backend must never modify a returned buffer in place afterwards (replace
 *   it instead, as APPEND and INCR naturally do).
 * - TTLs are remaining milliseconds, never absolute times: the front end converts
 *   Redis's absolute forms (EXAT, PXAT, EXPIREAT) with its own wall clock, the only
 *   place wall time enters. A key "has no TTL" when it never expires.
 * - A key that has expired behaves exactly like a missing key, everywhere.
 * - Errors a Redis client must see with a fixed text are thrown as
 *   `RespCommandError` (see errors.ts); any other `ShoalError` reaches the client as
 *   `-ERR <message>`, and anything else as `-ERR internal error` (logged). Redis
 *   Cluster clients retry on `TRYAGAIN ...` and `CLUSTERDOWN ...`, so a transient
 *   cluster condition (no quorum, a partition mid-handoff) is best thrown as
 *   `new RespCommandError('CLUSTERDOWN <why>')` or `'TRYAGAIN <why>'`.
 * - Calls are made one at a time per client connection, in the client's order; calls
 *   from different connections may overlap.
 */
export interface RespBackend {
  /** The value of `key`, or `undefined` when missing. Does not change the TTL. */
  get(key: string): Promise<Buffer | undefined>;

  /**
   * The values of `keys`, in order, `undefined` for each missing key. Each key is
   * read independently (no cross-key snapshot). Duplicate keys are allowed.
   */
  mget(keys: readonly string[]): Promise<(Buffer | undefined)[]>;

  /**
   * Atomically writes `value` under `key`, subject to `options`:
   * 1. Reads the current entry (`old`, undefined when missing).
   * 2. If `condition` is `'nx'` and the key exists, or `'xx'` and it does not,
   *    changes nothing: `{ applied: false }`.
   * 3. Otherwise stores `value` with TTL: `ttlMs` when given (a `ttlMs <= 0` stores
   *    and immediately expires the entry, i.e. the key ends up missing: Redis's SET
   *    with an EXAT/PXAT in the past); else the old entry's TTL when `keepTtl` (none
   *    if there was no old entry); else no TTL. `{ applied: true }`.
   *
   * `old` is included in the result (applied or not) only when `returnOld` is set.
   * `ttlMs` and `keepTtl` are never both set.
   */
  set(key: string, value: Buffer, options?: RespSetOptions): Promise<RespSetResult>;

  /**
   * Writes each `[key, value]` pair in order, each like `set` without options (no
   * TTL). Not atomic across keys. A key repeated later in `entries` wins.
   */
  mset(entries: readonly (readonly [string, Buffer])[]): Promise<void>;

  /** Atomically reads and removes `key`; `undefined` when it was missing. */
  getDel(key: string): Promise<Buffer | undefined>;

  /**
   * Atomically reads `key` and, if it exists, changes its TTL: `{ ttlMs }` sets the
   * remaining time (`ttlMs <= 0` removes the key after reading it); `'persist'`
   * removes the TTL. Returns the value read, `undefined` when missing (then nothing
   * changes).
   */
  getEx(key: string, change: RespTtlChange): Promise<Buffer | undefined>;

  /**
   * Removes each key in order; returns how many removals found a live key, so a
   * key listed twice counts once.
   */
  delete(keys: readonly string[]): Promise<number>;

  /** How many of `keys` exist, counting a key once per occurrence in `keys`. */
  exists(keys: readonly string[]): Promise<number>;

  /**
   * Atomically sets the remaining TTL of an existing key, Redis's EXPIRE family:
   * 1. Missing key: returns false.
   * 2. Every flag set in `conditions` must hold for the current TTL (remaining ms,
   *    or none): `nx` requires no TTL; `xx` requires a TTL; `gt` requires a TTL and
   *    `ttlMs` greater than it (no TTL counts as infinite, so `gt` fails); `lt`
   *    requires no TTL or `ttlMs` less than it. If one fails: returns false, nothing
   *    changes. (The front end never combines `nx` with the others, nor `gt` with `lt`.)
   * 3. `ttlMs <= 0` removes the key; otherwise the TTL becomes `ttlMs`. Returns true.
   */
  expire(key: string, ttlMs: number, conditions?: RespExpireConditions): Promise<boolean>;

  /** Removes the TTL of `key`; true only if the key exists and had a TTL. */
  persist(key: string): Promise<boolean>;

  /**
   * The remaining time to live of `key` in whole milliseconds, rounded up: -2 when
   * the key is missing, -1 when it has no TTL, otherwise >= 0.
   */
  pttl(key: string): Promise<number>;

  /**
   * Atomically adds `delta` to the integer stored at `key` and returns the result.
   * A missing key counts as 0 and is created with no TTL; an existing key keeps its
   * TTL. The stored value is the decimal text of the result (`-12`).
   *
   * @throws RespCommandError `notAnIntegerError()` when the stored bytes are not a
   *   decimal signed 64-bit integer by Redis's rules (`parseInt64` in integer.ts).
   * @throws RespCommandError `incrementOverflowError()` when the result leaves the
   *   signed 64-bit range; nothing changes.
   */
  incrBy(key: string, delta: bigint): Promise<bigint>;

  /**
   * Atomically appends `suffix` to the value at `key` (creating it, with no TTL, when
   * missing; keeping the TTL otherwise) and returns the new length in bytes.
   */
  append(key: string, suffix: Buffer): Promise<number>;

  /** The length in bytes of the value at `key`; 0 when missing. */
  strlen(key: string): Promise<number>;

  /**
   * Counts live keys: `'owned'` counts the keys in the slots this node serves as
   * primary (so the sum over a cluster's nodes is the total, as with Redis Cluster);
   * `'all'` counts every key in the cache.
   */
  keyCount(scope: RespKeyScope): Promise<RespKeyCount>;

  /** Removes every key in the whole cache (every node). */
  flushAll(): Promise<void>;

  /**
   * Who serves `slot` (0..16383) right now: `'self'` or another node. During a
   * handoff this stays the node that still serves the slot (the source) until the
   * target has the data and takes over. Synchronous and cheap: it runs per command.
   */
  slotOwner(slot: number): RespNodeAddress | 'self';

  /**
   * The handoff `slot` is in as seen from this node, or `undefined`: `'out'` while
   * this node serves the slot and moves it to `to`; `'in'` while this node is
   * receiving it from `from`. Synchronous and cheap (consulted per keyed command).
   */
  slotHandoff(slot: number): RespSlotHandoff | undefined;

  /** The cluster layout for CLUSTER SLOTS / SHARDS / NODES / INFO. */
  topology(): RespTopology;

  /** Node-level figures for INFO (memory, evictions, expirations). */
  stats(): Promise<RespBackendStats>;
}

/** Options of {@link RespBackend.set}. */
export interface RespSetOptions {
  /** Remaining lifetime in ms; `<= 0` means the entry is written already expired. */
  readonly ttlMs?: number;
  /** Keep the existing entry's TTL (Redis's KEEPTTL). */
  readonly keepTtl?: boolean;
  /** Only write when the key is missing (`'nx'`) or present (`'xx'`). */
  readonly condition?: 'nx' | 'xx';
  /** Include the value before the operation in the result. */
  readonly returnOld?: boolean;
}

/** Result of {@link RespBackend.set}. */
export interface RespSetResult {
  /** Whether the value was written (false only when `condition` failed). */
  readonly applied: boolean;
  /** With `returnOld`: the value before the operation, `undefined` when missing. */
  readonly old?: Buffer | undefined;
}

/** A TTL change for {@link RespBackend.getEx}. */
export type RespTtlChange = { readonly ttlMs: number } | 'persist';

/** Redis 7's EXPIRE flags (see {@link RespBackend.expire}). */
export interface RespExpireConditions {
  readonly nx?: boolean;
  readonly xx?: boolean;
  readonly gt?: boolean;
  readonly lt?: boolean;
}

/** Which keys {@link RespBackend.keyCount} counts. */
export type RespKeyScope = 'owned' | 'all';

/** Result of {@link RespBackend.keyCount}. */
export interface RespKeyCount {
  /** Live keys. */
  readonly keys: number;
  /** Live keys that have a TTL. */
  readonly keysWithTtl: number;
}

/** Where a Redis client reaches a node: its RESP address and its Redis-visible id. */
export interface RespNodeAddress {
  /**
   * The node id Redis clients see (CLUSTER MYID/NODES/SLOTS). Redis tools expect 40
   * lowercase hex characters; derive it from the shoal node id (e.g. its SHA-1).
   */
  readonly id: string;
  /** Host or IP clients connect to (the announced address, not necessarily the bind address). */
  readonly host: string;
  /** The node's RESP port. */
  readonly port: number;
}

/** A node as CLUSTER NODES / SHARDS describe it. */
export interface RespClusterNode extends RespNodeAddress {
  /** The node's cluster-internal port (shoal's transport port), shown as `@cport`. */
  readonly busPort: number;
  /** `online`, or `failed` once the cluster has given up on it, or `loading` while it syncs. */
  readonly health: 'online' | 'failed' | 'loading';
}

/** One primary with its replicas and the slots it serves. */
export interface RespShard {
  /** Inclusive `[first, last]` slot ranges, ascending, non-overlapping. */
  readonly slotRanges: readonly (readonly [number, number])[];
  readonly primary: RespClusterNode;
  readonly replicas: readonly RespClusterNode[];
}

/** A snapshot of the cluster layout. */
export interface RespTopology {
  /** This node's Redis-visible id; the same id appears in `shards`. */
  readonly myId: string;
  /** The view epoch (Redis's configEpoch/currentEpoch). */
  readonly epoch: number;
  /** `ok` when every slot has a serving primary, else `fail`. */
  readonly state: 'ok' | 'fail';
  /** Every shard; together their ranges cover the slots that are served. */
  readonly shards: readonly RespShard[];
}

/** A slot moving between nodes (see {@link RespBackend.slotHandoff}). */
export type RespSlotHandoff =
  | { readonly direction: 'out'; readonly to: RespNodeAddress }
  | { readonly direction: 'in'; readonly from: RespNodeAddress };

/** Node-level figures for INFO. */
export interface RespBackendStats {
  /** Bytes the cache accounts for on this node (its byte bound counts these). */
  readonly usedMemoryBytes: number;
  /** The node's byte bound; 0 when unbounded. */
  readonly maxMemoryBytes: number;
  /** Entries evicted by the LRU bound since start. */
  readonly evictedKeys: number;
  /** Entries removed because their TTL ran out, since start. */
  readonly expiredKeys: number;
  /**
   * Backend-specific `name:value` lines appended to INFO sections (e.g. shoal's view
   * epoch under `cluster`); names should not clash with Redis's.
   */
  readonly extraInfo?: Readonly<
    Partial<Record<'stats' | 'replication' | 'cluster', readonly string[]>>
  >;
}
