import { ClusterState } from '../../../src/coord/cluster-state.js';
import { CoordinatorCore } from '../../../src/coord/core.js';
import type { CoordMessage } from '../../../src/coord/messages.js';
import { mustPersist, type Ready } from '../../../src/coord/ready.js';
import type { CoordTiming } from '../../../src/coord/timing.js';
import { formatZxid } from '../../../src/coord/zxid.js';
import { SeededRandom } from '../../../src/util/random.js';
import { DurableModel } from './durable-model.js';
import { EventQueue } from './event-queue.js';
import { HistoryChecker, InvariantBroken, TraceTail } from './invariants.js';

/** Time units per tick: messages and writes complete at sub-tick resolution. */
const UNITS_PER_TICK = 10;

/** One randomized run of a cluster of cores. */
export interface CoreSimConfig {
  readonly seed: number;
  readonly voters: number;
  readonly learners: number;
  /** Whether nodes have durable storage (else voters restart amnesiac). */
  readonly storage: boolean;
  /** Ticks of faults before the network is healed and liveness is checked. */
  readonly chaosTicks: number;
  /** Ticks allowed, once healed, to elect a leader and commit a proposal everywhere. */
  readonly livenessTicks: number;
}

export interface CoreSimResult {
  readonly committed: number;
  readonly leaders: number;
  readonly crashes: number;
  readonly livenessTicks: number;
}

type Event =
  | { kind: 'tick' }
  | { kind: 'deliver'; from: string; to: string; message: CoordMessage; incarnation: number }
  | { kind: 'write'; node: string; incarnation: number }
  | { kind: 'fault' }
  | { kind: 'propose' };

interface SimNode {
  readonly id: string;
  readonly voter: boolean;
  core: CoordinatorCore | undefined;
  /** Bumped on every crash, so in-flight events of an earlier life are dropped. */
  incarnation: number;
  readonly disk: DurableModel | undefined;
  /** Readies handed out but not yet durable, oldest first. */
  writes: Ready[];
  lastWriteAt: number;
}

export class SimFailure extends Error {}

/**
 * Runs a cluster of `CoordinatorCore`s on a simulated network, entirely in one
 * synchronous loop: seeded delays, drops, partitions (symmetric and one-way), crashes
 * with and without a restart, writes that complete late (and are lost by a crash), and
 * random proposals. Every safety invariant is checked after every event; liveness is
 * checked once the faults stop.
 */
export class CoreSim {
  private readonly random: SeededRandom;
  private readonly nodes = new Map<string, SimNode>();
  private readonly voterIds: string[];
  private readonly queue = new EventQueue<Event>();
  private readonly checker = new HistoryChecker();
  readonly trace = new TraceTail();
  private now = 0;
  /** Cut directed links, `from>to`. */
  private readonly cut = new Set<string>();
  /** Per directed link, the time of the last scheduled delivery (FIFO like TCP). */
  private readonly linkClock = new Map<string, number>();
  private dropProbability = 0;
  private chaos = true;
  private crashes = 0;
  private readonly timing: Partial<CoordTiming>;
  private proposals = 0;

  constructor(private readonly config: CoreSimConfig) {
    this.random = new SeededRandom(config.seed);
    this.voterIds = Array.from({ length: config.voters }, (_, i) => `v${i + 1}`);
    const heartbeatTicks = 1 + this.random.int(2);
    this.timing = {
      heartbeatTicks,
      electionTimeoutTicks: 4 + heartbeatTicks + this.random.int(4),
      sessionTimeoutTicks: 30 + this.random.int(30),
    };
    const ids = [
      ...this.voterIds,
      ...Array.from({ length: config.learners }, (_, i) => `l${i + 1}`),
    ];
    for (const id of ids) {
      this.nodes.set(id, {
        id,
        voter: this.voterIds.includes(id),
        core: undefined,
        incarnation: 0,
        disk: config.storage ? new DurableModel() : undefined,
        writes: [],
        lastWriteAt: 0,
      });
    }
  }

  run(): CoreSimResult {
    try {
      for (const node of this.nodes.values()) this.start(node);
      this.queue.push(UNITS_PER_TICK, { kind: 'tick' });
      this.queue.push(this.random.int(5 * UNITS_PER_TICK), { kind: 'fault' });
      this.queue.push(this.random.int(3 * UNITS_PER_TICK), { kind: 'propose' });
      this.runUntil(this.config.chaosTicks * UNITS_PER_TICK);
      this.chaos = false;
      this.healEverything();
      const livenessTicks = this.checkLiveness();
      return {
        committed: this.checker.length,
        leaders: this.checker.maxLeaderEpoch(),
        crashes: this.crashes,
        livenessTicks,
      };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new SimFailure(
        `coordinator simulation failed (seed ${this.config.seed}, ${JSON.stringify(this.config)}):\n` +
          `${reason}\n--- status ---\n${this.describe()}\n--- last events ---\n${this.trace.text()}`,
      );
    }
  }

  private runUntil(until: number, stop?: () => boolean): boolean {
    for (;;) {
      const time = this.queue.peekTime();
      if (time === undefined || time > until) return false;
      const event = this.queue.pop()!;
      this.now = event.time;
      this.handle(event.item);
      if (stop?.()) return true;
    }
  }

  private handle(event: Event): void {
    switch (event.kind) {
      case 'tick':
        for (const node of this.nodes.values()) {
          if (node.core === undefined) continue;
          node.core.tick();
          this.flush(node);
        }
        this.queue.push(this.now + UNITS_PER_TICK, { kind: 'tick' });
        break;
      case 'deliver': {
        const node = this.nodes.get(event.to)!;
        if (node.core === undefined || node.incarnation !== event.incarnation) return;
        if (this.cut.has(`${event.from}>${event.to}`)) return;
        this.trace.add(
          stampAt(this.now, () => `${event.from}->${event.to} ${brief(event.message)}`),
        );
        node.core.step(event.from, event.message);
        this.flush(node);
        break;
      }
      case 'write': {
        const node = this.nodes.get(event.node)!;
        if (node.core === undefined || node.incarnation !== event.incarnation) return;
        const ready = node.writes.shift();
        if (ready === undefined) return;
        node.disk?.write(ready);
        node.core.advance(ready);
        this.flush(node);
        break;
      }
      case 'fault':
        if (!this.chaos) return;
        this.injectFault();
        this.queue.push(this.now + 1 + this.random.int(8 * UNITS_PER_TICK), { kind: 'fault' });
        break;
      case 'propose':
        this.proposeSomewhere();
        if (this.chaos) {
          this.queue.push(this.now + 1 + this.random.int(4 * UNITS_PER_TICK), { kind: 'propose' });
        }
        break;
    }
  }

  private start(node: SimNode): void {
    const core = new CoordinatorCore({
      id: node.id,
      voters: this.voterIds,
      advertisedAddress: `sim://${node.id}`,
      random: new SeededRandom(this.random.int(2 ** 31)),
      durable: this.config.storage,
      recovered: node.disk?.state(),
      timing: this.timing,
      limits: { snapshotEveryEntries: 7, retainedLogEntries: 5, maxSyncDiffEntries: 8 },
    });
    node.core = core;
    node.writes = [];
    this.checker.restartedAt(node.id, core.clusterState.appliedZxid, core.clusterState);
    this.trace.add(stampAt(this.now, () => `start ${node.id} ${JSON.stringify(core.status())}`));
    this.flush(node);
    for (const other of this.nodes.values()) {
      if (other !== node && other.core !== undefined) {
        other.core.peerUp(node.id);
        this.flush(other);
      }
    }
  }

  /** Drains a node's Ready: messages onto the network, writes onto its disk queue. */
  private flush(node: SimNode): void {
    const core = node.core;
    if (core === undefined) return;
    while (core.hasReady()) {
      const ready = core.ready();
      if (ready.stateReset) {
        const snapshot = ready.snapshot;
        if (snapshot === undefined)
          throw new InvariantBroken(`${node.id} reset its state without a snapshot`);
        this.checker.snapshotInstalled(
          node.id,
          snapshot.zxid,
          ClusterState.fromSnapshot(snapshot.state),
        );
      }
      if (ready.committed.length > 0) {
        this.checker.committed(node.id, ready.committed);
        const committed = ready.committed;
        this.trace.add(
          stampAt(
            this.now,
            () =>
              `${node.id} committed ${committed.map((e) => `${formatZxid(e.zxid)}:${e.data.type}`).join(',')}`,
          ),
        );
      }
      if (ready.roleChanged) {
        this.trace.add(
          stampAt(this.now, () => `${node.id} is ${ready.role} (leader ${ready.leader})`),
        );
      }
      for (const out of ready.messages) this.transmit(node.id, out.to, out.message);
      if (mustPersist(ready)) {
        node.writes.push(ready);
        // Writes complete in order, each a little after the previous one.
        const at = Math.max(this.now, node.lastWriteAt) + this.random.int(4);
        node.lastWriteAt = at;
        this.queue.push(at, { kind: 'write', node: node.id, incarnation: node.incarnation });
      } else {
        core.advance(ready);
      }
      if (core.isEstablishedLeader()) this.checker.leader(core.epoch(), node.id);
    }
  }

  private transmit(from: string, to: string, message: CoordMessage): void {
    const target = this.nodes.get(to);
    if (target === undefined || target.core === undefined) return;
    if (this.cut.has(`${from}>${to}`)) return;
    if (this.chaos && this.random.next() < this.dropProbability) return;
    const key = `${from}>${to}`;
    const at = Math.max(
      this.now + 1 + this.random.int(2 * UNITS_PER_TICK),
      this.linkClock.get(key) ?? 0,
    );
    this.linkClock.set(key, at);
    this.queue.push(at, { kind: 'deliver', from, to, message, incarnation: target.incarnation });
  }

  // ------------------------------------------------------------------ faults

  private injectFault(): void {
    const ids = [...this.nodes.keys()];
    const pick = (): string => ids[this.random.int(ids.length)]!;
    const roll = this.random.int(100);
    if (roll < 20) {
      const a = pick();
      const b = pick();
      if (a !== b) {
        this.cut.add(`${a}>${b}`);
        if (this.random.next() < 0.7) this.cut.add(`${b}>${a}`);
        this.trace.add(stampAt(this.now, () => `FAULT cut ${a} / ${b}`));
      }
    } else if (roll < 32) {
      const side = ids.filter(() => this.random.next() < 0.5);
      for (const a of side)
        for (const b of ids)
          if (!side.includes(b)) {
            this.cut.add(`${a}>${b}`);
            this.cut.add(`${b}>${a}`);
          }
      this.trace.add(stampAt(this.now, () => `FAULT partition [${side.join(',')}]`));
    } else if (roll < 50) {
      this.cut.clear();
      this.trace.add(stampAt(this.now, () => `FAULT heal`));
    } else if (roll < 58) {
      this.dropProbability = this.random.next() < 0.5 ? 0 : this.random.next() * 0.3;
      this.trace.add(stampAt(this.now, () => `FAULT drop ${this.dropProbability.toFixed(2)}`));
    } else if (roll < 80) {
      const node = this.nodes.get(pick())!;
      if (node.core !== undefined) this.crash(node, this.random.next() < 0.5);
    } else {
      const down = [...this.nodes.values()].filter((n) => n.core === undefined);
      const node = down[this.random.int(Math.max(1, down.length))];
      if (node !== undefined) this.start(node);
    }
  }

  /**
   * Crashes a node; `noticed` tells the others (a closed connection) as kill -9 does;
   * otherwise it vanishes silently, like a hung process. Without storage, a voter
   * crash that would take the last copy of a committed entry (or the memory of the
   * newest established epoch) out of every running voter is skipped: that is outside
   * the guarantee the core gives without storage.
   */
  private crash(node: SimNode, noticed: boolean): void {
    if (!this.config.storage && node.voter && !this.survivesWithout(node)) {
      this.trace.add(
        stampAt(this.now, () => `(skipped crash of ${node.id}: it holds the last copy)`),
      );
      return;
    }
    node.core = undefined;
    node.incarnation += 1;
    node.writes = [];
    this.crashes += 1;
    this.trace.add(stampAt(this.now, () => `FAULT crash ${node.id}${noticed ? ' (noticed)' : ''}`));
    if (noticed) {
      for (const other of this.nodes.values()) {
        if (other.core === undefined) continue;
        other.core.peerDown(node.id);
        this.flush(other);
      }
    }
  }

  private survivesWithout(node: SimNode): boolean {
    const others = [...this.nodes.values()].filter(
      (n) => n !== node && n.voter && n.core !== undefined,
    );
    const last = this.checker.lastZxid();
    const held = last === 0 || others.some((n) => n.core!.holds(last));
    const epoch = this.checker.maxLeaderEpoch();
    const remembered = epoch === 0 || others.some((n) => n.core!.promisedEpoch >= epoch);
    return held && remembered;
  }

  private proposeSomewhere(): void {
    for (const node of this.nodes.values()) {
      const core = node.core;
      if (core === undefined || core.publicRole() !== 'leader') continue;
      const key = `k${this.random.int(4)}`;
      const useCas = this.random.next() < 0.3;
      try {
        core.propose(
          useCas
            ? {
                type: 'configSet',
                key,
                value: this.proposals,
                ifVersion: core.clusterState.configVersion(key),
              }
            : { type: 'configSet', key, value: this.proposals },
        );
        this.proposals += 1;
      } catch (error) {
        if (!(error instanceof Error) || !('code' in error) || error.code !== 'ERR_COORD_BUSY')
          throw error;
      }
      this.flush(node);
    }
  }

  // ------------------------------------------------------------------ liveness

  private healEverything(): void {
    this.cut.clear();
    this.dropProbability = 0;
    for (const node of this.nodes.values()) if (node.core === undefined) this.start(node);
    this.trace.add(stampAt(this.now, () => `HEAL everything; checking liveness`));
  }

  /**
   * Once every node runs on a clean network: within the bound, one leader is
   * followed by everyone, and a fresh proposal commits on every node.
   */
  private checkLiveness(): number {
    const start = this.now;
    const deadline = start + this.config.livenessTicks * UNITS_PER_TICK;
    const agreed = (): string | undefined => {
      const cores = [...this.nodes.values()].map((n) => n.core!);
      const leader = cores[0]!.leaderId();
      if (leader === undefined) return undefined;
      return cores.every((c) => c.leaderId() === leader && c.hasQuorum()) ? leader : undefined;
    };
    if (!this.runUntil(deadline, () => agreed() !== undefined)) {
      throw new InvariantBroken(
        `no agreed leader within ${this.config.livenessTicks} ticks of healing`,
      );
    }
    const leader = this.nodes.get(agreed()!)!.core!;
    const zxid = leader.propose({ type: 'configSet', key: 'liveness', value: this.config.seed });
    this.flush(this.nodes.get(leader.id)!);
    const everywhere = (): boolean =>
      [...this.nodes.values()].every((n) => n.core!.lastCommittedZxid >= zxid);
    if (!this.runUntil(deadline, everywhere)) {
      throw new InvariantBroken(
        `proposal ${formatZxid(zxid)} not committed everywhere within ${this.config.livenessTicks} ticks`,
      );
    }
    // Every node now holds the same state, and it is G's.
    for (const node of this.nodes.values()) {
      const core = node.core!;
      this.checker.checkState(node.id, core.clusterState.appliedZxid, core.clusterState);
    }
    return Math.ceil((this.now - start) / UNITS_PER_TICK);
  }

  private describe(): string {
    return [...this.nodes.values()]
      .map((n) => (n.core === undefined ? `${n.id}: down` : JSON.stringify(n.core.status())))
      .join('\n');
  }
}

function stampAt(now: number, line: () => string): () => string {
  return () => `[${(now / UNITS_PER_TICK).toFixed(1)}] ${line()}`;
}

function brief(message: CoordMessage): string {
  switch (message.t) {
    case 'vote':
      return `vote r${message.round} ${message.state} ${message.leader} e${message.epoch} ${formatZxid(message.zxid)}`;
    case 'propose':
    case 'inform':
      return `${message.t} e${message.epoch} prev ${formatZxid(message.prevZxid)} +${message.entries.length}`;
    case 'sync':
      return `sync e${message.epoch} ${message.mode} trunc ${formatZxid(message.truncateTo)} +${message.entries.length} commit ${formatZxid(message.committedZxid)}`;
    case 'ping':
      return `ping e${message.epoch} #${message.seq} c ${formatZxid(message.committedZxid)} s ${formatZxid(message.sentZxid)}${message.voting ? '' : ' nv'}`;
    case 'pong':
      return `pong #${message.seq} ack ${formatZxid(message.ackedZxid)}${message.joinAddress ? ' join' : ''}`;
    case 'ack':
    case 'commit':
    case 'ackNewLeader':
      return `${message.t} e${message.epoch} ${formatZxid(message.zxid)}`;
    case 'followerInfo':
      return `followerInfo acc ${message.acceptedEpoch} cur ${message.currentEpoch} last ${formatZxid(message.lastZxid)}${message.amnesiac ? ' amnesiac' : ''}`;
    default:
      return JSON.stringify(message);
  }
}
