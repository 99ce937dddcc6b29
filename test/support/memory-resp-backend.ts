/**
 * An in-memory {@link RespBackend} for tests: a plain Map with TTLs read from an
 * injected clock, and a hand-set cluster layout so MOVED / ASK / CROSSSLOT / CLUSTER
 * replies can be exercised without a real cluster. Several backends can share one
 * {@link MemoryKeyspace} and one {@link MemoryClusterLayout}, each seeing itself as a
 * different node, to stand in for a multi-node cluster.
 *
 * Test support, not product code: it implements the backend contract's semantics
 * (documented in src/resp/backend.ts) literally, so the RESP front end can be
 * checked against Redis through it.
 */
import { createHash } from 'node:crypto';
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
  RespShard,
  RespSlotHandoff,
  RespTopology,
  RespTtlChange,
} from '../../src/resp/backend.js';
import { incrementOverflowError, notAnIntegerError } from '../../src/resp/errors.js';
import { respKeyFromString } from '../../src/resp/key-encoding.js';
import { respKeySlot } from '../../src/resp/key-slot.js';
import { type Clock, monotonicClock } from '../../src/util/clock.js';
import { INT64_MAX, INT64_MIN, parseInt64 } from '../../src/util/int64.js';

const SLOT_COUNT = 16384;

interface Entry {
  value: Buffer;
  /** Clock time after which the entry is gone; undefined = no TTL. */
  expiresAtMs: number | undefined;
}

/** A 40-hex-character Redis-style node id derived from a readable name. */
export function memoryNodeId(name: string): string {
  return createHash('sha1').update(name).digest('hex');
}

/** The keys and values, shared by every backend view of one test "cluster". */
export class MemoryKeyspace {
  readonly entries = new Map<string, Entry>();
  expiredKeys = 0;

  constructor(readonly clock: Clock = monotonicClock) {}

  /** The live entry of `key`, removing it first if its TTL ran out. */
  live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAtMs !== undefined && this.clock.now() > entry.expiresAtMs) {
      this.entries.delete(key);
      this.expiredKeys++;
      return undefined;
    }
    return entry;
  }

  /** Stores `value` with `ttlMs` (undefined = none; <= 0 = gone at once). */
  write(key: string, value: Buffer, ttlMs: number | undefined): void {
    if (ttlMs !== undefined && ttlMs <= 0) {
      this.entries.delete(key);
      return;
    }
    const expiresAtMs = ttlMs === undefined ? undefined : this.clock.now() + ttlMs;
    this.entries.set(key, { value, expiresAtMs });
  }

  remainingMs(entry: Entry): number | undefined {
    if (entry.expiresAtMs === undefined) return undefined;
    return Math.max(0, Math.ceil(entry.expiresAtMs - this.clock.now()));
  }
}

/** Which node serves each slot, who backs it up, and which slots are moving. */
export class MemoryClusterLayout {
  epoch = 1;
  readonly nodes = new Map<string, RespClusterNode>();
  /** Owner node id per slot; '' for an unassigned slot. */
  readonly owners: string[] = new Array<string>(SLOT_COUNT).fill('');
  /** Replica node ids per primary id. */
  readonly replicas = new Map<string, string[]>();
  readonly handoffs = new Map<number, { from: string; to: string }>();

  /** Adds (or replaces) a node. */
  addNode(node: RespClusterNode): void {
    this.nodes.set(node.id, node);
  }

  /** Updates a node's RESP address (e.g. once its server listens on an ephemeral port). */
  setAddress(id: string, host: string, port: number): void {
    const node = this.require(id);
    this.nodes.set(id, { ...node, host, port });
  }

  /** Marks a node failed or online. */
  setHealth(id: string, health: RespClusterNode['health']): void {
    this.nodes.set(id, { ...this.require(id), health });
  }

  /** Assigns slots `first..last` to node `id` and bumps the epoch. */
  assign(first: number, last: number, id: string): void {
    this.require(id);
    for (let slot = first; slot <= last; slot++) this.owners[slot] = id;
    this.epoch++;
  }

  /** Starts moving `slot` from its owner to `to`. */
  startHandoff(slot: number, to: string): void {
    this.handoffs.set(slot, { from: this.owners[slot]!, to });
  }

  /** Ends the move of `slot`: the target becomes its owner. */
  finishHandoff(slot: number): void {
    const handoff = this.handoffs.get(slot);
    if (handoff === undefined) return;
    this.handoffs.delete(slot);
    this.assign(slot, slot, handoff.to);
  }

  private require(id: string): RespClusterNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`unknown node ${id}`);
    return node;
  }
}

/** Options of {@link MemoryRespBackend}. */
export interface MemoryRespBackendOptions {
  /** Clock for TTLs; default the monotonic clock. Ignored when `keyspace` is given. */
  readonly clock?: Clock;
  /** Share keys with other backends (a multi-node test cluster). */
  readonly keyspace?: MemoryKeyspace;
  /** Share a layout; default: one node owning every slot. */
  readonly layout?: MemoryClusterLayout;
  /** This backend's node id in `layout`; default the single node's. */
  readonly selfId?: string;
}

/** The {@link RespBackend} semantics over a Map (see the module comment). */
export class MemoryRespBackend implements RespBackend {
  readonly keyspace: MemoryKeyspace;
  readonly layout: MemoryClusterLayout;
  readonly selfId: string;

  constructor(options: MemoryRespBackendOptions = {}) {
    this.keyspace = options.keyspace ?? new MemoryKeyspace(options.clock);
    if (options.layout === undefined) {
      const id = memoryNodeId('memory-node');
      this.layout = new MemoryClusterLayout();
      this.layout.addNode({ id, host: '127.0.0.1', port: 0, busPort: 0, health: 'online' });
      this.layout.assign(0, SLOT_COUNT - 1, id);
      this.selfId = id;
    } else {
      this.layout = options.layout;
      this.selfId = options.selfId ?? [...options.layout.nodes.keys()][0]!;
    }
  }

  async get(key: string): Promise<Buffer | undefined> {
    return this.keyspace.live(key)?.value;
  }

  async mget(keys: readonly string[]): Promise<(Buffer | undefined)[]> {
    return keys.map((key) => this.keyspace.live(key)?.value);
  }

  async set(key: string, value: Buffer, options: RespSetOptions = {}): Promise<RespSetResult> {
    const current = this.keyspace.live(key);
    const old = options.returnOld ? { old: current?.value } : {};
    if (
      (options.condition === 'nx' && current !== undefined) ||
      (options.condition === 'xx' && current === undefined)
    ) {
      return { applied: false, ...old };
    }
    let ttlMs = options.ttlMs;
    if (ttlMs === undefined && options.keepTtl && current !== undefined) {
      ttlMs = this.keyspace.remainingMs(current);
    }
    this.keyspace.write(key, value, ttlMs);
    return { applied: true, ...old };
  }

  async mset(entries: readonly (readonly [string, Buffer])[]): Promise<void> {
    for (const [key, value] of entries) this.keyspace.write(key, value, undefined);
  }

  async getDel(key: string): Promise<Buffer | undefined> {
    const entry = this.keyspace.live(key);
    if (entry !== undefined) this.keyspace.entries.delete(key);
    return entry?.value;
  }

  async getEx(key: string, change: RespTtlChange): Promise<Buffer | undefined> {
    const entry = this.keyspace.live(key);
    if (entry === undefined) return undefined;
    if (change === 'persist') entry.expiresAtMs = undefined;
    else this.keyspace.write(key, entry.value, change.ttlMs);
    return entry.value;
  }

  async delete(keys: readonly string[]): Promise<number> {
    let removed = 0;
    for (const key of keys) {
      if (this.keyspace.live(key) !== undefined) {
        this.keyspace.entries.delete(key);
        removed++;
      }
    }
    return removed;
  }

  async exists(keys: readonly string[]): Promise<number> {
    let count = 0;
    for (const key of keys) if (this.keyspace.live(key) !== undefined) count++;
    return count;
  }

  async expire(
    key: string,
    ttlMs: number,
    conditions: RespExpireConditions = {},
  ): Promise<boolean> {
    const entry = this.keyspace.live(key);
    if (entry === undefined) return false;
    const current = this.keyspace.remainingMs(entry);
    if (conditions.nx && current !== undefined) return false;
    if (conditions.xx && current === undefined) return false;
    if (conditions.gt && (current === undefined || ttlMs <= current)) return false;
    if (conditions.lt && current !== undefined && ttlMs >= current) return false;
    this.keyspace.write(key, entry.value, ttlMs);
    return true;
  }

  async persist(key: string): Promise<boolean> {
    const entry = this.keyspace.live(key);
    if (entry === undefined || entry.expiresAtMs === undefined) return false;
    entry.expiresAtMs = undefined;
    return true;
  }

  async pttl(key: string): Promise<number> {
    const entry = this.keyspace.live(key);
    if (entry === undefined) return -2;
    return this.keyspace.remainingMs(entry) ?? -1;
  }

  async incrBy(key: string, delta: bigint): Promise<bigint> {
    const entry = this.keyspace.live(key);
    const current = entry === undefined ? 0n : parseInt64(entry.value);
    if (current === undefined) throw notAnIntegerError();
    const next = current + delta;
    if (next > INT64_MAX || next < INT64_MIN) throw incrementOverflowError();
    const value = Buffer.from(next.toString());
    if (entry === undefined) this.keyspace.write(key, value, undefined);
    else entry.value = value;
    return next;
  }

  async append(key: string, suffix: Buffer): Promise<number> {
    const entry = this.keyspace.live(key);
    if (entry === undefined) {
      this.keyspace.write(key, suffix, undefined);
      return suffix.length;
    }
    entry.value = Buffer.concat([entry.value, suffix]);
    return entry.value.length;
  }

  async strlen(key: string): Promise<number> {
    return this.keyspace.live(key)?.value.length ?? 0;
  }

  async keyCount(scope: RespKeyScope): Promise<RespKeyCount> {
    let keys = 0;
    let keysWithTtl = 0;
    for (const key of [...this.keyspace.entries.keys()]) {
      const entry = this.keyspace.live(key);
      if (entry === undefined) continue;
      if (scope === 'owned' && this.slotOwner(this.slotOf(key)) !== 'self') continue;
      keys++;
      if (entry.expiresAtMs !== undefined) keysWithTtl++;
    }
    return { keys, keysWithTtl };
  }

  async flushAll(): Promise<void> {
    this.keyspace.entries.clear();
  }

  slotOwner(slot: number): RespNodeAddress | 'self' {
    const owner = this.layout.owners[slot]!;
    if (owner === this.selfId) return 'self';
    const node = this.layout.nodes.get(owner)!;
    return { id: node.id, host: node.host, port: node.port };
  }

  slotHandoff(slot: number): RespSlotHandoff | undefined {
    const handoff = this.layout.handoffs.get(slot);
    if (handoff === undefined) return undefined;
    const address = (id: string): RespNodeAddress => {
      const node = this.layout.nodes.get(id)!;
      return { id: node.id, host: node.host, port: node.port };
    };
    if (handoff.from === this.selfId) return { direction: 'out', to: address(handoff.to) };
    if (handoff.to === this.selfId) return { direction: 'in', from: address(handoff.from) };
    return undefined;
  }

  topology(): RespTopology {
    const shards: RespShard[] = [];
    const rangesByOwner = new Map<string, [number, number][]>();
    let start = 0;
    for (let slot = 1; slot <= SLOT_COUNT; slot++) {
      const owner = this.layout.owners[start]!;
      if (slot < SLOT_COUNT && this.layout.owners[slot] === owner) continue;
      if (owner !== '') {
        const ranges = rangesByOwner.get(owner) ?? [];
        ranges.push([start, slot - 1]);
        rangesByOwner.set(owner, ranges);
      }
      start = slot;
    }
    for (const [owner, slotRanges] of rangesByOwner) {
      const replicas = (this.layout.replicas.get(owner) ?? []).map(
        (id) => this.layout.nodes.get(id)!,
      );
      shards.push({ slotRanges, primary: this.layout.nodes.get(owner)!, replicas });
    }
    const everySlotServed = this.layout.owners.every(
      (owner) => owner !== '' && this.layout.nodes.get(owner)?.health !== 'failed',
    );
    return {
      myId: this.selfId,
      epoch: this.layout.epoch,
      state: everySlotServed ? 'ok' : 'fail',
      shards,
    };
  }

  async stats(): Promise<RespBackendStats> {
    let usedMemoryBytes = 0;
    for (const [key, entry] of this.keyspace.entries) {
      usedMemoryBytes += Buffer.byteLength(key) + entry.value.length;
    }
    return {
      usedMemoryBytes,
      maxMemoryBytes: 0,
      evictedKeys: 0,
      expiredKeys: this.keyspace.expiredKeys,
    };
  }

  private slotOf(key: string): number {
    return respKeySlot(respKeyFromString(key), key);
  }
}
