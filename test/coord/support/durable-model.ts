import type { Ready } from '../../../src/coord/ready.js';
import type {
  PersistedEntry,
  PersistedMeta,
  PersistedSnapshot,
  PersistedState,
} from '../../../src/coord/storage.js';

/**
 * A synchronous model of a node's disk for core-level tests: applies a Ready's writes
 * in the documented order and hands back what a restart would load. It keeps the
 * objects it is given (the core never mutates an entry or a snapshot it handed out)
 * and hands back a structured clone, as a real disk would not share objects.
 */
export class DurableModel {
  private meta: PersistedMeta | undefined;
  private snapshot: PersistedSnapshot | undefined;
  private entries: PersistedEntry[] = [];

  write(ready: Ready): void {
    if (ready.truncateAfter !== undefined) {
      const keep = ready.truncateAfter;
      this.entries = this.entries.filter((e) => e.zxid <= keep);
    }
    if (ready.snapshot !== undefined) {
      const snapshot = ready.snapshot;
      if (this.snapshot !== undefined && snapshot.zxid < this.snapshot.zxid) {
        throw new Error('snapshot moved backwards');
      }
      this.snapshot = snapshot;
      this.entries = this.entries.filter((e) => e.zxid > snapshot.zxid);
    }
    for (const entry of ready.entriesToPersist) {
      const last = this.entries.at(-1)?.zxid ?? this.snapshot?.zxid ?? 0;
      if (entry.zxid <= last) throw new Error(`append ${entry.zxid} after ${last}`);
      this.entries.push(entry);
    }
    if (ready.metaToPersist !== undefined) this.meta = { ...ready.metaToPersist };
  }

  state(): PersistedState {
    return structuredClone({ meta: this.meta, snapshot: this.snapshot, entries: this.entries });
  }
}
