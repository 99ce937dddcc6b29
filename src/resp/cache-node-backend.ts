import { storedFromBytes, stringBytesOf } from '../cluster/byte-strings.js';
import type { CacheNode } from '../cluster/cache-node.js';
import type { KeyOp, OpResult } from '../cluster/key-ops.js';
import type { StoredValue } from '../cluster/value-codec.js';
import { PARTITION_COUNT } from '../ring/partitioner.js';
import { ShoalError } from '../util/errors.js';
import type {
  RespBackend,
  RespBackendStats,
  RespClusterNode,
  RespExpireConditions,
  RespKeyCount,
  RespKeyScope,
  RespNodeAddress,
  RespSetOptions,
  RespSetResult,
  RespSlotHandoff,
  RespTopology,
  RespTtlChange,
} from './backend.js';
import { incrementOverflowError, notAnIntegerError, RespCommandError } from './errors.js';
import type { RespDirectory } from './resp-directory.js';

const WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value';

/**
 * The Redis reply for a cluster failure, so Redis clients react as they do to Redis:
 * they retry `TRYAGAIN` and `CLUSTERDOWN` (after refreshing the slots), and surface
 * anything else. Outcome-unknown writes stay plain errors: a client must not resend.
 */
function respError(error: unknown): unknown {
  if (!(error instanceof ShoalError) || error instanceof RespCommandError) return error;
  switch (error.code) {
    case 'ERR_WRONG_TYPE':
      return new RespCommandError(WRONGTYPE);
    case 'ERR_NOT_AN_INTEGER':
      return notAnIntegerError();
    case 'ERR_INCREMENT_OVERFLOW':
      return incrementOverflowError();
    case 'ERR_NO_QUORUM':
    case 'ERR_NO_VIEW':
    case 'ERR_STOPPED':
      return new RespCommandError(`CLUSTERDOWN ${error.message}`);
    case 'ERR_PARTITION_SYNCING':
    case 'ERR_OVERLOADED':
    case 'ERR_NOT_PRIMARY':
    case 'ERR_STALE_VIEW':
    case 'ERR_WRITE_NOT_APPLIED':
    case 'ERR_REPLICA_NOT_SYNCED':
      return new RespCommandError(`TRYAGAIN ${error.message}`);
    default:
      return error;
  }
}

/**
 * Longest TTL shoal stores (2^53 - 1 ms, 285,000 years): Redis accepts up to 2^63 ms,
 * so a longer TTL is capped here (PTTL then reports the cap).
 */
const MAX_TTL_MS = Number.MAX_SAFE_INTEGER;

/** A contract TTL (any number of ms, <= 0 meaning gone) as the cluster takes it. */
function clusterTtl(ttlMs: number): number {
  return Math.min(Math.max(0, Math.ceil(ttlMs)), MAX_TTL_MS);
}

function rethrow(error: unknown): never {
  throw respError(error);
}

/** A stored value as RESP bytes (a view, never copied). */
function respBytes(stored: StoredValue): Buffer {
  const bytes = stringBytesOf(stored);
  if (bytes === undefined) throw new RespCommandError(WRONGTYPE);
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

function valueResult(result: OpResult): Buffer | undefined {
  return result === undefined ? undefined : respBytes(result as StoredValue);
}

/** The transport port of a member address (`ws://host:port`), for CLUSTER NODES' `@cport`. */
function busPortOf(address: string): number {
  try {
    const port = Number(new URL(address).port);
    return Number.isInteger(port) ? port : 0;
  } catch {
    return 0;
  }
}

/** Options of {@link CacheNodeBackend}. */
export interface CacheNodeBackendOptions {
  readonly node: CacheNode;
  /** Members' RESP addresses (from the replicated config). */
  readonly directory: RespDirectory;
}

/**
 * The {@link RespBackend} of a real shoal node: every operation runs through the
 * node's `CacheNode` at the key's primary, on the replicated write path (so it is
 * atomic per key, linearizable and replicated like any write), and the cluster layout
 * comes from the committed view plus each member's published RESP address.
 *
 * Values are byte strings (`cluster/byte-strings.ts`): RESP writes store `Buffer`s
 * (msgpack bin), JS strings read back as their UTF-8 bytes and numbers as their
 * decimal text; other JS values answer WRONGTYPE.
 */
export class CacheNodeBackend implements RespBackend {
  private readonly node: CacheNode;
  private readonly directory: RespDirectory;
  private cachedTopology: { signature: string; topology: RespTopology } | undefined;

  constructor(options: CacheNodeBackendOptions) {
    this.node = options.node;
    this.directory = options.directory;
  }

  get(key: string): Promise<Buffer | undefined> {
    return this.node.runOp({ kind: 'get', key, fromAnyOwner: false }).then(valueResult, rethrow);
  }

  mget(keys: readonly string[]): Promise<(Buffer | undefined)[]> {
    const ops: KeyOp[] = keys.map((key) => ({ kind: 'get', key, fromAnyOwner: false }));
    return this.node.runOps(ops).then(
      (results) =>
        results.map((result) => {
          if (result === undefined) return undefined;
          const bytes = stringBytesOf(result as StoredValue);
          // Redis's MGET answers nil for a key of another type.
          return bytes === undefined
            ? undefined
            : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
        }),
      rethrow,
    );
  }

  set(key: string, value: Buffer, options: RespSetOptions = {}): Promise<RespSetResult> {
    const returnOld = options.returnOld === true;
    const op: KeyOp = {
      kind: 'set',
      key,
      value: this.encode(value),
      ttlMs: options.ttlMs === undefined ? undefined : clusterTtl(options.ttlMs),
      nx: options.condition === 'nx',
      xx: options.condition === 'xx',
      keepTtl: options.keepTtl === true,
      returnOld,
    };
    return this.node.runOp(op).then((result) => {
      if (!returnOld) return { applied: result === true };
      // With GET the primary answers the old value, not whether the write applied;
      // the front end replies the old value in that case and never reads `applied`.
      return { applied: true, old: valueResult(result) };
    }, rethrow);
  }

  mset(entries: readonly (readonly [string, Buffer])[]): Promise<void> {
    const ops: KeyOp[] = entries.map(([key, value]) => ({
      kind: 'set',
      key,
      value: this.encode(value),
      ttlMs: undefined,
      nx: false,
      xx: false,
    }));
    return this.node.runOps(ops).then(() => undefined, rethrow);
  }

  getDel(key: string): Promise<Buffer | undefined> {
    return this.node.runOp({ kind: 'getdel', key }).then(valueResult, rethrow);
  }

  getEx(key: string, change: RespTtlChange): Promise<Buffer | undefined> {
    const ttlMs = change === 'persist' ? null : clusterTtl(change.ttlMs);
    return this.node.runOp({ kind: 'getex', key, ttlMs }).then(valueResult, rethrow);
  }

  async delete(keys: readonly string[]): Promise<number> {
    // One at a time, in order: a key listed twice is removed (and counted) once.
    let removed = 0;
    try {
      for (const key of keys) if ((await this.node.runOp({ kind: 'del', key })) === true) removed++;
    } catch (error) {
      rethrow(error);
    }
    return removed;
  }

  exists(keys: readonly string[]): Promise<number> {
    const ops: KeyOp[] = keys.map((key) => ({ kind: 'has', key, fromAnyOwner: false }));
    return this.node
      .runOps(ops)
      .then((results) => results.filter((found) => found === true).length, rethrow);
  }

  expire(key: string, ttlMs: number, conditions?: RespExpireConditions): Promise<boolean> {
    const op: KeyOp = {
      kind: 'expire',
      key,
      ttlMs: clusterTtl(ttlMs),
      ...(conditions === undefined ? {} : { onlyIf: conditions }),
    };
    return this.node.runOp(op).then((result) => result === true, rethrow);
  }

  persist(key: string): Promise<boolean> {
    // Removing the expiry only when there is one: Redis's PERSIST answers 0 otherwise.
    return this.node
      .runOp({ kind: 'expire', key, ttlMs: null, onlyIf: { xx: true } })
      .then((result) => result === true, rethrow);
  }

  pttl(key: string): Promise<number> {
    return this.node.runOp({ kind: 'ttl', key, fromAnyOwner: false }).then((result) => {
      const ms = result as number;
      return ms < 0 ? ms : Math.ceil(ms);
    }, rethrow);
  }

  incrBy(key: string, delta: bigint): Promise<bigint> {
    return this.node
      .runOp({ kind: 'incrby', key, by: delta })
      .then((result) => BigInt(result as string), rethrow);
  }

  append(key: string, suffix: Buffer): Promise<number> {
    return this.node
      .runOp({ kind: 'append', key, suffix })
      .then((result) => result as number, rethrow);
  }

  strlen(key: string): Promise<number> {
    return this.node
      .runOp({ kind: 'get', key, fromAnyOwner: false })
      .then((result) => valueResult(result)?.length ?? 0, rethrow);
  }

  async keyCount(scope: RespKeyScope): Promise<RespKeyCount> {
    if (scope === 'all') return this.node.clusterKeyCount().catch(rethrow);
    const { keys, keysWithTtl } = this.node.primaryKeys();
    return { keys: keys.length, keysWithTtl };
  }

  flushAll(): Promise<void> {
    return this.node.flushCluster().then(() => undefined, rethrow);
  }

  slotOwner(slot: number): RespNodeAddress | 'self' {
    const primary = this.node.primaryOf(slot);
    if (primary === undefined || primary === this.node.id) return 'self';
    // A primary without a RESP port cannot be redirected to: serve here, through the
    // cluster's one forwarding hop.
    return this.directory.addressOf(primary) ?? 'self';
  }

  /**
   * Always `undefined`: shoal moves whole partitions under the view's fencing. The old
   * primary stops serving when it applies the new view, and the new one holds the
   * partition's commands until its copy is complete (TRYAGAIN past the queue timeout),
   * so no key is ever served from two nodes and a Redis-style `-ASK` never arises.
   */
  slotHandoff(_slot: number): RespSlotHandoff | undefined {
    return undefined;
  }

  topology(): RespTopology {
    const view = this.node.view();
    const epoch = view?.epoch ?? 0;
    const members = view?.members ?? [];
    const addresses = members.map((member) => this.directory.addressOf(member.id));
    const signature = `${epoch}|${this.node.hasQuorum()}|${addresses
      .map((address) => (address === undefined ? '-' : `${address.host}:${address.port}`))
      .join(',')}`;
    if (this.cachedTopology?.signature === signature) return this.cachedTopology.topology;
    const nodes = new Map<string, RespClusterNode>();
    members.forEach((member, i) => {
      const address = addresses[i];
      if (address !== undefined) {
        nodes.set(member.id, { ...address, busPort: busPortOf(member.address), health: 'online' });
      }
    });
    const shards = new Map<
      string,
      { primary: RespClusterNode; replicas: RespClusterNode[]; slotRanges: [number, number][] }
    >();
    let served = 0;
    for (let slot = 0; slot < PARTITION_COUNT && view !== undefined; slot++) {
      const owners = this.node.partitionOwners(slot);
      const primary = nodes.get(owners[0] ?? '');
      if (primary === undefined) continue;
      served++;
      const replicas: RespClusterNode[] = [];
      for (let rank = 1; rank < owners.length; rank++) {
        const replica = nodes.get(owners[rank]!);
        if (replica !== undefined) replicas.push(replica);
      }
      const shardKey = [primary.id, ...replicas.map((replica) => replica.id)].join(',');
      let shard = shards.get(shardKey);
      if (shard === undefined) {
        shard = { primary, replicas, slotRanges: [] };
        shards.set(shardKey, shard);
      }
      const last = shard.slotRanges[shard.slotRanges.length - 1];
      if (last !== undefined && last[1] === slot - 1) last[1] = slot;
      else shard.slotRanges.push([slot, slot]);
    }
    const topology: RespTopology = {
      myId: this.directory.idOf(this.node.id),
      epoch,
      state: served === PARTITION_COUNT && this.node.hasQuorum() ? 'ok' : 'fail',
      shards: [...shards.values()],
    };
    this.cachedTopology = { signature, topology };
    return topology;
  }

  async stats(): Promise<RespBackendStats> {
    const stats = this.node.stats();
    const topology = this.topology();
    return {
      usedMemoryBytes: stats.bytes,
      maxMemoryBytes: this.node.maxMemoryBytes,
      evictedKeys: stats.evictions,
      expiredKeys: stats.expirations,
      extraInfo: {
        stats: [
          `shoal_forwarded_ops:${stats.forwarded}`,
          `shoal_retried_ops:${stats.retries}`,
          `shoal_keys_stored:${stats.keys}`,
        ],
        replication: [
          `shoal_write_concern:${stats.writeConcern}`,
          `shoal_primary_partitions:${stats.partitions.primaryActive + stats.partitions.primarySyncing}`,
          `shoal_backup_partitions:${stats.partitions.backupActive + stats.partitions.backupSyncing}`,
          `shoal_syncing_partitions:${stats.partitions.primarySyncing + stats.partitions.backupSyncing}`,
          `shoal_replication_streams:${stats.replication.streams}`,
          `shoal_replication_batches_sent:${stats.replication.batchesSent}`,
          `shoal_replication_batches_failed:${stats.replication.batchesFailed}`,
          `shoal_pending_writes:${stats.replication.pendingWrites}`,
          `shoal_handoff_pending_partitions:${stats.handoff.partitionsPending}`,
        ],
        cluster: [
          `cluster_state:${topology.state}`,
          `shoal_node_id:${stats.nodeId}`,
          `shoal_view_epoch:${stats.viewEpoch}`,
          `shoal_members:${stats.members}`,
          `shoal_has_quorum:${stats.hasQuorum ? 1 : 0}`,
        ],
      },
    };
  }

  private encode(value: Buffer): StoredValue {
    try {
      return storedFromBytes(value, this.node.maxValueBytes);
    } catch (error) {
      return rethrow(error);
    }
  }
}
