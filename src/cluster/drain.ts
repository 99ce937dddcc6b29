import { PARTITION_COUNT, partitionOf } from '../ring/partitioner.js';
import type { LruStore } from '../store/lru-store.js';
import type { NodeId } from '../transport/transport.js';
import { encodePartitions, isErrorReply, type WireItem } from './messages.js';
import { Placement } from './placement.js';
import type { StoredValue } from './value-codec.js';

/** What {@link drainPartitions} needs from the leaving node. */
export interface DrainHost {
  readonly nodeId: NodeId;
  /** The view the node applies now. */
  placement(): Placement | undefined;
  replicationFactor(): number;
  readonly vnodes: number | undefined;
  /** Partitions to hand over: this node is their only owner and active primary. */
  needsHandover(partition: number): boolean;
  request(peer: NodeId, message: unknown, timeoutMs: number): Promise<unknown>;
  now(): number;
}

/** Chunking and time limits of a drain. */
export interface DrainOptions {
  readonly maxChunkEntries: number;
  readonly maxChunkBytes: number;
  /** Scheduler time after which no further chunk is sent. */
  readonly deadlineMs: number;
}

/** What a drain handed over. */
export interface DrainResult {
  readonly partitions: number;
  readonly keys: number;
  /** Targets that refused or did not answer a chunk (their partitions start empty). */
  readonly failedTargets: readonly NodeId[];
}

/** How long a drain may take before the node leaves anyway. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 5_000;

/**
 * Hands a leaving node's partitions that no other node holds (replication factor 1)
 * to the members that will own them once it has left, before the leave is committed.
 * The caller has stopped ordering writes on those partitions (they are refused as not
 * applied, and retried by their callers once the next view is in); with a single
 * owner a write is applied the moment it is ordered, so nothing is in flight and the
 * copy sent is exactly the state the partition ends with. The receivers hold it as non-owners: it becomes theirs
 * when the leave's view makes them primary with no complete copy anywhere, the case
 * where a primary activates with what it holds.
 *
 * The next owners are computed from the current view minus this node; a membership
 * change racing the leave can send a copy to a node that does not end up owning the
 * partition, which then is no worse than not draining.
 */
export async function drainPartitions(
  host: DrainHost,
  store: LruStore<StoredValue>,
  options: DrainOptions,
): Promise<DrainResult> {
  const placement = host.placement();
  const others = placement?.members.filter((member) => member.id !== host.nodeId) ?? [];
  const handover: number[] = [];
  for (let p = 0; p < PARTITION_COUNT; p++) if (host.needsHandover(p)) handover.push(p);
  if (placement === undefined || others.length === 0 || handover.length === 0) {
    return { partitions: 0, keys: 0, failedTargets: [] };
  }
  const next = Placement.of(
    { epoch: placement.epoch + 1, members: others },
    host.replicationFactor(),
    host.vnodes,
  );
  const byTarget = new Map<NodeId, number[]>();
  for (const p of handover) {
    const target = next.primaryOf(p);
    let list = byTarget.get(target);
    if (list === undefined) {
      list = [];
      byTarget.set(target, list);
    }
    list.push(p);
  }
  let partitions = 0;
  let keys = 0;
  const failedTargets: NodeId[] = [];
  await Promise.all(
    [...byTarget].map(async ([target, list]) => {
      const sent = await sendTo(host, store, options, placement.epoch, target, list);
      if (sent === undefined) {
        failedTargets.push(target);
        return;
      }
      partitions += list.length;
      keys += sent;
    }),
  );
  return { partitions, keys, failedTargets };
}

/** Sends `partitions` to `target` in chunks; resolves the keys sent, or undefined on failure. */
async function sendTo(
  host: DrainHost,
  store: LruStore<StoredValue>,
  options: DrainOptions,
  epoch: number,
  target: NodeId,
  partitions: readonly number[],
): Promise<number | undefined> {
  const mask = new Uint8Array(PARTITION_COUNT);
  for (const p of partitions) mask[p] = 1;
  let items: WireItem[] = [];
  let bytes = 0;
  let first = true;
  let keys = 0;
  const flush = async (): Promise<boolean> => {
    const remainingMs = options.deadlineMs - host.now();
    if (remainingMs <= 0) return false;
    const message = { t: 'seed', e: epoch, ps: encodePartitions(first ? partitions : []), items };
    first = false;
    keys += items.length;
    items = [];
    bytes = 0;
    try {
      return !isErrorReply(await host.request(target, message, remainingMs));
    } catch {
      return false;
    }
  };
  // Writes to these partitions are refused now, so the walk sees their final state.
  for (const entry of store.entries((key) => mask[partitionOf(key)] === 1)) {
    items.push([entry.key, entry.value.bytes, entry.ttlRemainingMs ?? -1, entry.version]);
    bytes += entry.value.bytes.byteLength + entry.key.length;
    if (items.length >= options.maxChunkEntries || bytes >= options.maxChunkBytes) {
      if (!(await flush())) return undefined;
    }
  }
  if ((items.length > 0 || first) && !(await flush())) return undefined;
  return keys;
}
