import { invariant } from '../util/assert.js';
import type { LogEntry } from './entries.js';

/**
 * The in-memory tail of a node's log: every entry with a zxid above `baseZxid`, in
 * zxid order. Entries at or below the base are covered by the applied state (they
 * were committed and compacted away, or arrived inside a snapshot).
 *
 * Entries are kept in an array with a moving start offset, so compaction at the front
 * costs amortised O(1) per entry instead of shifting the array each time.
 */
export class ReplicatedLog {
  private items: LogEntry[] = [];
  private start = 0;
  private base: number;

  constructor(baseZxid = 0) {
    this.base = baseZxid;
  }

  /** Every entry at or below this zxid is covered by the state, not held here. */
  get baseZxid(): number {
    return this.base;
  }

  /** Number of entries held. */
  get length(): number {
    return this.items.length - this.start;
  }

  /** The last zxid of the log (the base when no entry is held). */
  lastZxid(): number {
    return this.length === 0 ? this.base : this.items[this.items.length - 1]!.zxid;
  }

  /** Appends an entry past the last one. */
  append(entry: LogEntry): void {
    invariant(entry.zxid > this.lastZxid(), `append ${entry.zxid} after ${this.lastZxid()}`);
    this.items.push(entry);
  }

  /** Index (into `items`) of the first entry with zxid > `zxid`. */
  private firstAbove(zxid: number): number {
    let low = this.start;
    let high = this.items.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.items[middle]!.zxid <= zxid) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /**
   * Whether this log knows `zxid` as a position of its history: the base itself, or a
   * held entry. (Log matching: two logs that both hold a zxid agree up to it.)
   */
  contains(zxid: number): boolean {
    if (zxid === this.base) return true;
    if (zxid < this.base) return false;
    const index = this.firstAbove(zxid) - 1;
    return index >= this.start && this.items[index]!.zxid === zxid;
  }

  /** The held entry with `zxid`, if any. */
  get(zxid: number): LogEntry | undefined {
    const index = this.firstAbove(zxid) - 1;
    if (index < this.start) return undefined;
    const entry = this.items[index]!;
    return entry.zxid === zxid ? entry : undefined;
  }

  /**
   * The greatest position of this log at or below `zxid`: a held entry's zxid or the
   * base. `undefined` when `zxid` is below the base.
   */
  floor(zxid: number): number | undefined {
    if (zxid < this.base) return undefined;
    const index = this.firstAbove(zxid) - 1;
    return index >= this.start ? this.items[index]!.zxid : this.base;
  }

  /** Entries with `from < zxid <= to`, at most `limit` of them. `from` must not be below the base. */
  slice(from: number, to: number, limit = Number.POSITIVE_INFINITY): LogEntry[] {
    invariant(from >= this.base, `slice from ${from} below base ${this.base}`);
    const out: LogEntry[] = [];
    for (let i = this.firstAbove(from); i < this.items.length && out.length < limit; i++) {
      const entry = this.items[i]!;
      if (entry.zxid > to) break;
      out.push(entry);
    }
    return out;
  }

  /** Number of entries with zxid in `(from, to]`. */
  countBetween(from: number, to: number): number {
    return Math.max(0, this.firstAbove(to) - this.firstAbove(Math.max(from, this.base)));
  }

  /** Drops every entry above `zxid` (never below the base). */
  truncateAfter(zxid: number): void {
    invariant(zxid >= this.base, `truncate to ${zxid} below base ${this.base}`);
    this.items.length = this.firstAbove(zxid);
  }

  /** Forgets entries at or below `zxid` (which the state already covers); `zxid` becomes the base. */
  compactTo(zxid: number): void {
    if (zxid <= this.base) return;
    invariant(zxid <= this.lastZxid(), `compact to ${zxid} past the end ${this.lastZxid()}`);
    this.start = this.firstAbove(zxid);
    this.base = zxid;
    // Reclaim the dead prefix once it dominates, so the array does not grow forever.
    if (this.start > 1024 && this.start * 2 > this.items.length) {
      this.items = this.items.slice(this.start);
      this.start = 0;
    }
  }

  /** Empties the log and restarts it at `baseZxid` (after installing a snapshot). */
  reset(baseZxid: number): void {
    this.items = [];
    this.start = 0;
    this.base = baseZxid;
  }
}
