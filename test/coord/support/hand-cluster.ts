import { CoordinatorCore, type CoreOptions } from '../../../src/coord/core.js';
import type { CoordMessage } from '../../../src/coord/messages.js';
import type { CommittedEntry, Ready } from '../../../src/coord/ready.js';
import type { PersistedState } from '../../../src/coord/storage.js';
import { SeededRandom } from '../../../src/util/random.js';
import { DurableModel } from './durable-model.js';

export interface InFlight {
  readonly from: string;
  readonly to: string;
  readonly message: CoordMessage;
}

interface HandNode {
  core: CoordinatorCore;
  readonly durable: DurableModel | undefined;
  /** Readies whose writes are held back (when `holdWrites` is on). */
  held: Ready[];
  holdWrites: boolean;
  committed: CommittedEntry[];
}

export interface HandNodeOptions {
  readonly storage?: boolean;
  readonly timing?: CoreOptions['timing'];
  readonly limits?: CoreOptions['limits'];
}

/**
 * A synchronous, hand-driven cluster of cores for unit tests: messages are queued and
 * delivered in FIFO order when the test says so, links can be cut, writes can be held
 * back to observe what waits for durability.
 */
export class HandCluster {
  readonly nodes = new Map<string, HandNode>();
  readonly voters: readonly string[];
  private queue: InFlight[] = [];
  /** Every message delivered, in order (tests clear it as they like). */
  delivered: InFlight[] = [];
  private readonly cut = new Set<string>();
  private readonly options = new Map<string, HandNodeOptions>();
  private seed = 1;

  constructor(voters: readonly string[]) {
    this.voters = voters;
  }

  add(id: string, options: HandNodeOptions = {}): CoordinatorCore {
    this.options.set(id, options);
    const durable = options.storage ? new DurableModel() : undefined;
    const core = this.makeCore(id, options, durable?.state());
    this.nodes.set(id, { core, durable, held: [], holdWrites: false, committed: [] });
    return core;
  }

  private makeCore(
    id: string,
    options: HandNodeOptions,
    recovered: PersistedState | undefined,
  ): CoordinatorCore {
    return new CoordinatorCore({
      id,
      voters: this.voters,
      advertisedAddress: `addr-${id}`,
      random: new SeededRandom(this.seed++),
      durable: options.storage === true,
      recovered,
      timing: options.timing,
      limits: options.limits,
    });
  }

  node(id: string): HandNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  core(id: string): CoordinatorCore {
    return this.node(id).core;
  }

  /** Crashes `id` (its queued messages and unwritten state are lost) and restarts it. */
  restart(id: string): CoordinatorCore {
    const node = this.node(id);
    this.queue = this.queue.filter((m) => m.from !== id && m.to !== id);
    node.held = [];
    const core = this.makeCore(id, this.options.get(id) ?? {}, node.durable?.state());
    this.nodes.set(id, { ...node, core, held: [], committed: [] });
    return core;
  }

  /** Removes `id` entirely (a crash without restart). */
  crash(id: string): void {
    this.queue = this.queue.filter((m) => m.from !== id && m.to !== id);
    this.nodes.delete(id);
  }

  /** Cuts (or heals) both directions between `a` and every node in `others`. */
  setLink(a: string, others: readonly string[], up: boolean): void {
    for (const b of others) {
      for (const key of [`${a}>${b}`, `${b}>${a}`]) {
        if (up) this.cut.delete(key);
        else this.cut.add(key);
      }
    }
  }

  isolate(a: string): void {
    this.setLink(
      a,
      [...this.nodes.keys()].filter((id) => id !== a),
      false,
    );
  }

  healAll(): void {
    this.cut.clear();
  }

  /** Collects every node's Ready: queues messages, persists (unless held) and advances. */
  flush(): void {
    for (const [id, node] of this.nodes) {
      while (node.core.hasReady()) {
        const ready = node.core.ready();
        node.committed.push(...ready.committed);
        for (const out of ready.messages) {
          if (!this.cut.has(`${id}>${out.to}`) && this.nodes.has(out.to)) {
            this.queue.push({ from: id, to: out.to, message: out.message });
          }
        }
        if (node.holdWrites) {
          node.held.push(ready);
        } else {
          node.durable?.write(ready);
          node.core.advance(ready);
        }
      }
    }
  }

  /** Completes the held writes of `id`. */
  releaseWrites(id: string): void {
    const node = this.node(id);
    node.holdWrites = false;
    for (const ready of node.held) {
      node.durable?.write(ready);
      node.core.advance(ready);
    }
    node.held = [];
  }

  /** Delivers queued messages (and everything they cause) until the network is quiet. */
  settle(maxRounds = 1000): void {
    this.flush();
    for (let round = 0; round < maxRounds && this.queue.length > 0; round++) {
      const batch = this.queue;
      this.queue = [];
      for (const m of batch) {
        if (this.cut.has(`${m.from}>${m.to}`)) continue;
        const target = this.nodes.get(m.to);
        if (target === undefined) continue;
        this.delivered.push(m);
        target.core.step(m.from, m.message);
      }
      this.flush();
    }
  }

  /** Ticks every node `count` times, settling the network after each tick. */
  tick(count = 1): void {
    for (let i = 0; i < count; i++) {
      for (const node of this.nodes.values()) node.core.tick();
      this.settle();
    }
  }

  /** Ticks until `predicate` holds; throws after `maxTicks`. */
  tickUntil(predicate: () => boolean, maxTicks = 200): number {
    this.settle();
    for (let i = 0; i <= maxTicks; i++) {
      if (predicate()) return i;
      this.tick();
    }
    throw new Error(`condition not reached within ${maxTicks} ticks: ${this.describe()}`);
  }

  leaders(): string[] {
    return [...this.nodes.entries()]
      .filter(([, node]) => node.core.publicRole() === 'leader')
      .map(([id]) => id);
  }

  describe(): string {
    return [...this.nodes.values()].map((n) => JSON.stringify(n.core.status())).join('\n');
  }
}
