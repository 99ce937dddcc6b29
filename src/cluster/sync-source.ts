import { PARTITION_COUNT, partitionOf } from '../ring/partitioner.js';
import type { KeyedStoreEntry, LruStore } from '../store/lru-store.js';
import type { NodeId } from '../transport/transport.js';
import type { WireItem } from './messages.js';
import type { StoredValue } from './value-codec.js';

/** Limits of the source side of handoff. */
export interface SyncSourceOptions {
  /** Most entries in one chunk. */
  readonly maxChunkEntries: number;
  /** Most value bytes in one chunk (a single larger entry still travels alone). */
  readonly maxChunkBytes: number;
  /** Most sessions served at once; more are refused until one ends. */
  readonly maxSessions: number;
  /** A session nobody pulled from for this long is dropped. */
  readonly sessionIdleTimeoutMs: number;
  /** Called when a session ends, with the partitions it covered. */
  readonly onClose?: (partitions: readonly number[]) => void;
  /** The watermark of this node's copy of a partition, sent with the last chunk. */
  readonly watermarkOf: (partition: number) => number;
}

/** One chunk of a session; the last one carries each partition's watermark. */
export interface SyncChunk {
  readonly items: WireItem[];
  readonly done: boolean;
  /** `[partition, version]` per partition of the session, with the last chunk. */
  readonly wm?: [number, number][];
}

class SourceSession {
  readonly sid: string;
  readonly peer: NodeId;
  readonly epoch: number;
  readonly partitions: readonly number[];
  readonly mask: Uint8Array;
  iterator: Generator<KeyedStoreEntry<StoredValue>, void, undefined> | undefined;
  lastActivityMs: number;

  constructor(
    sid: string,
    peer: NodeId,
    epoch: number,
    partitions: readonly number[],
    nowMs: number,
  ) {
    this.sid = sid;
    this.peer = peer;
    this.epoch = epoch;
    this.partitions = partitions;
    this.mask = new Uint8Array(PARTITION_COUNT);
    for (const p of partitions) this.mask[p] = 1;
    this.lastActivityMs = nowMs;
  }
}

/**
 * The source side of handoff: serves sessions in which another node pulls a set of
 * partitions, one chunk per request. Pulling is the backpressure: a slow puller
 * just asks less often, and the source holds one store iterator per session, nothing
 * more. The iterator walks the store once per session and tolerates writes between
 * chunks (entries are yielded with the value they have when reached; the puller
 * catches later changes through the replication stream). TTLs travel as remaining
 * milliseconds.
 */
export class SyncSource {
  private readonly store: LruStore<StoredValue>;
  private readonly options: SyncSourceOptions;
  private readonly sessions = new Map<string, SourceSession>();
  /** How many open sessions cover each partition (so released data is kept while served). */
  private readonly coverage = new Uint16Array(PARTITION_COUNT);
  private keysSent = 0;
  private bytesSent = 0;

  constructor(store: LruStore<StoredValue>, options: SyncSourceOptions) {
    this.store = store;
    this.options = options;
  }

  /** Whether another session can be opened now. */
  hasRoom(): boolean {
    return this.sessions.size < this.options.maxSessions;
  }

  /** Opens (or replaces) session `sid` for `peer`. */
  open(
    sid: string,
    peer: NodeId,
    epoch: number,
    partitions: readonly number[],
    nowMs: number,
  ): void {
    this.close(sid);
    const session = new SourceSession(sid, peer, epoch, partitions, nowMs);
    this.sessions.set(sid, session);
    for (const p of partitions) this.coverage[p]!++;
  }

  /** The session `sid` if `peer` owns it. */
  session(sid: string, peer: NodeId): { readonly epoch: number } | undefined {
    const session = this.sessions.get(sid);
    return session !== undefined && session.peer === peer ? session : undefined;
  }

  /** Whether an open session of `peer` has id `sid` (for long replication timeouts). */
  isOpen(sid: string): boolean {
    return this.sessions.has(sid);
  }

  /** Whether some open session is reading `partition`. */
  isServing(partition: number): boolean {
    return this.coverage[partition]! > 0;
  }

  /** The next chunk of session `sid`; the session ends with the chunk marked `done`. */
  pull(sid: string, nowMs: number): SyncChunk {
    const session = this.sessions.get(sid);
    if (session === undefined) return { items: [], done: true };
    session.lastActivityMs = nowMs;
    const mask = session.mask;
    session.iterator ??= this.store.entries((key) => mask[partitionOf(key)] === 1);
    const items: WireItem[] = [];
    let bytes = 0;
    while (items.length < this.options.maxChunkEntries && bytes < this.options.maxChunkBytes) {
      const next = session.iterator.next();
      if (next.done === true) {
        const wm = session.partitions.map((p): [number, number] => [
          p,
          this.options.watermarkOf(p),
        ]);
        this.close(sid);
        this.keysSent += items.length;
        this.bytesSent += bytes;
        return { items, done: true, wm };
      }
      const entry = next.value;
      const valueBytes = entry.value.bytes;
      items.push([entry.key, valueBytes, entry.ttlRemainingMs ?? -1, entry.version]);
      bytes += valueBytes.byteLength + entry.key.length;
    }
    this.keysSent += items.length;
    this.bytesSent += bytes;
    return { items, done: false };
  }

  /** Ends session `sid` (the puller finished or gave up). */
  close(sid: string): void {
    const session = this.sessions.get(sid);
    if (session === undefined) return;
    this.sessions.delete(sid);
    for (const p of session.partitions) this.coverage[p]!--;
    session.iterator?.return();
    this.options.onClose?.(session.partitions);
  }

  /** Ends every session of `peer` covering `partition` (its stream was dropped). */
  closeFor(peer: NodeId, partition: number): void {
    for (const session of [...this.sessions.values()]) {
      if (session.peer === peer && session.mask[partition] === 1) this.close(session.sid);
    }
  }

  /** Ends every session opened for a view older than `epoch`, and idle ones. */
  prune(epoch: number, nowMs: number): void {
    for (const session of [...this.sessions.values()]) {
      if (
        session.epoch < epoch ||
        nowMs - session.lastActivityMs > this.options.sessionIdleTimeoutMs
      ) {
        this.close(session.sid);
      }
    }
  }

  /** Ends everything (the node stops). */
  closeAll(): void {
    for (const sid of [...this.sessions.keys()]) this.close(sid);
  }

  stats(): { sessions: number; keysSent: number; bytesSent: number } {
    return { sessions: this.sessions.size, keysSent: this.keysSent, bytesSent: this.bytesSent };
  }
}
