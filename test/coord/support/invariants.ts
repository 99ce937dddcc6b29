import { ClusterState } from '../../../src/coord/cluster-state.js';
import type { EntryData } from '../../../src/coord/entries.js';
import type { CommittedEntry } from '../../../src/coord/ready.js';
import { formatZxid } from '../../../src/coord/zxid.js';

/** A safety property broke; the message says which and where. */
export class InvariantBroken extends Error {}

/**
 * The global view the simulations check every node against:
 * - the committed history `G`, append-only: every node's committed stream must walk
 *   along it (agreement: any two nodes' committed logs are prefixes of one another;
 *   integrity: nothing committed is ever replaced or dropped, also across restarts);
 * - zxids strictly increase along `G` and along every stream (primary order);
 * - at most one established leader per epoch.
 */
export class HistoryChecker {
  private readonly zxids: number[] = [];
  private readonly payloads: string[] = [];
  private readonly indexOf = new Map<number, number>();
  private readonly leaders = new Map<number, string>();
  /** Position in G of each node's last committed entry (-1: nothing yet). */
  private readonly positions = new Map<string, number>();
  private readonly dataAt: EntryData[] = [];

  get length(): number {
    return this.zxids.length;
  }

  lastZxid(): number {
    return this.zxids.at(-1) ?? 0;
  }

  maxLeaderEpoch(): number {
    let max = 0;
    for (const epoch of this.leaders.keys()) max = Math.max(max, epoch);
    return max;
  }

  /** A node leads an established epoch. */
  leader(epoch: number, id: string): void {
    const known = this.leaders.get(epoch);
    if (known !== undefined && known !== id) {
      throw new InvariantBroken(`two leaders in epoch ${epoch}: ${known} and ${id}`);
    }
    this.leaders.set(epoch, id);
  }

  /** A node (re)started from a state whose last applied zxid is `zxid` (0: empty). */
  restartedAt(node: string, zxid: number, state: ClusterState): void {
    this.positions.set(node, this.positionOf(node, zxid));
    this.checkState(node, zxid, state);
  }

  /** A node replaced its state with a snapshot at `zxid`. */
  snapshotInstalled(node: string, zxid: number, state: ClusterState): void {
    const position = this.positionOf(node, zxid);
    const previous = this.positions.get(node) ?? -1;
    if (position < previous) {
      throw new InvariantBroken(
        `${node} installed a snapshot at ${formatZxid(zxid)} behind what it had committed`,
      );
    }
    this.positions.set(node, position);
    this.checkState(node, zxid, state);
  }

  /** A node committed entries (in the order given). */
  committed(node: string, entries: readonly CommittedEntry[]): void {
    let position = this.positions.get(node) ?? -1;
    for (const entry of entries) {
      const next = position + 1;
      const payload = JSON.stringify(entry.data);
      if (next < this.zxids.length) {
        if (this.zxids[next] !== entry.zxid || this.payloads[next] !== payload) {
          throw new InvariantBroken(
            `${node} committed ${formatZxid(entry.zxid)} ${payload} at position ${next}, ` +
              `where ${formatZxid(this.zxids[next]!)} ${this.payloads[next]} was committed`,
          );
        }
      } else {
        const last = this.zxids.at(-1);
        if (last !== undefined && entry.zxid <= last) {
          throw new InvariantBroken(
            `${node} committed ${formatZxid(entry.zxid)} after ${formatZxid(last)}: zxid order broken`,
          );
        }
        this.zxids.push(entry.zxid);
        this.payloads.push(payload);
        this.dataAt.push(entry.data);
        this.indexOf.set(entry.zxid, next);
      }
      position = next;
    }
    this.positions.set(node, position);
  }

  /** Whether G holds a config set of `key` to `value`. */
  containsConfigSet(key: string, value: unknown): boolean {
    return this.dataAt.some((d) => d.type === 'configSet' && d.key === key && d.value === value);
  }

  /** How far `node` has committed along G (-1: nothing). */
  position(node: string): number {
    return this.positions.get(node) ?? -1;
  }

  private positionOf(node: string, zxid: number): number {
    if (zxid === 0) return -1;
    const index = this.indexOf.get(zxid);
    if (index === undefined) {
      throw new InvariantBroken(
        `${node} holds state at ${formatZxid(zxid)}, which was never committed`,
      );
    }
    return index;
  }

  /** The state a node holds at `zxid` must be exactly G applied up to there. */
  checkState(node: string, zxid: number, state: ClusterState): void {
    const reference = this.referenceAt(zxid);
    const got = JSON.stringify(state.toSnapshot());
    const want = JSON.stringify(reference.toSnapshot());
    if (got !== want) {
      throw new InvariantBroken(`${node}'s state at ${formatZxid(zxid)} differs:\n${got}\n${want}`);
    }
  }

  /** G applied up to and including `zxid`. */
  referenceAt(zxid: number): ClusterState {
    const state = new ClusterState();
    const end = zxid === 0 ? -1 : (this.indexOf.get(zxid) ?? -1);
    for (let i = 0; i <= end; i++) state.apply({ zxid: this.zxids[i]!, data: this.dataAt[i]! });
    return state;
  }
}

/**
 * Keeps the last `capacity` events of a run for failure reports. Lines are built
 * lazily (only when a run fails), since formatting every event would dominate the
 * cost of a simulation.
 */
export class TraceTail {
  private readonly items: Array<() => string> = [];
  private next = 0;

  constructor(private readonly capacity = 150) {}

  add(line: () => string): void {
    if (this.items.length < this.capacity) this.items.push(line);
    else this.items[this.next] = line;
    this.next = (this.next + 1) % this.capacity;
  }

  text(): string {
    const ordered =
      this.items.length < this.capacity
        ? this.items
        : [...this.items.slice(this.next), ...this.items.slice(0, this.next)];
    return ordered.map((line) => line()).join('\n');
  }
}
