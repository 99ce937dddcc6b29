import { ClusterState } from '../../../src/coord/cluster-state.js';
import { Coordinator, type CoordinatorOptions } from '../../../src/coord/coordinator.js';
import { MemoryStorage } from '../../../src/coord/memory-storage.js';
import { SimNetwork, type SimNetworkOptions } from '../../../src/transport/sim-network.js';
import { SeededRandom } from '../../../src/util/random.js';
import { SimScheduler } from '../../../src/util/sim-scheduler.js';
import { HistoryChecker } from './invariants.js';

export interface DriverClusterOptions {
  readonly seed: number;
  readonly voters: number;
  readonly learners: number;
  readonly storage: boolean;
  readonly network?: Partial<Omit<SimNetworkOptions, 'scheduler' | 'random'>>;
  readonly coordinator?: Partial<
    Pick<
      CoordinatorOptions,
      | 'tickMs'
      | 'electionTimeoutTicks'
      | 'heartbeatTicks'
      | 'sessionTimeoutTicks'
      | 'proposalTimeoutMs'
      | 'limits'
    >
  >;
}

interface DriverNode {
  readonly id: string;
  readonly voter: boolean;
  readonly storage: MemoryStorage | undefined;
  coordinator: Coordinator | undefined;
  paused: boolean;
}

/**
 * Real `Coordinator` drivers over a seeded `SimNetwork`, each with its own simulated
 * process scheduler and (optionally) a `MemoryStorage` that survives its crashes.
 * Every commit every node reports goes through a `HistoryChecker`.
 */
export class DriverCluster {
  readonly scheduler = new SimScheduler();
  readonly net: SimNetwork;
  readonly checker = new HistoryChecker();
  readonly nodes = new Map<string, DriverNode>();
  readonly voterIds: string[];
  private readonly random: SeededRandom;

  constructor(private readonly options: DriverClusterOptions) {
    this.random = new SeededRandom(options.seed);
    this.net = new SimNetwork({
      scheduler: this.scheduler,
      random: new SeededRandom(options.seed + 1),
      ...options.network,
    });
    this.voterIds = Array.from({ length: options.voters }, (_, i) => `v${i + 1}`);
    const learners = Array.from({ length: options.learners }, (_, i) => `l${i + 1}`);
    for (const id of [...this.voterIds, ...learners]) {
      this.nodes.set(id, {
        id,
        voter: this.voterIds.includes(id),
        storage: options.storage ? new MemoryStorage() : undefined,
        coordinator: undefined,
        paused: false,
      });
    }
  }

  ids(): string[] {
    return [...this.nodes.keys()];
  }

  node(id: string): DriverNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  coordinator(id: string): Coordinator {
    const coordinator = this.node(id).coordinator;
    if (coordinator === undefined) throw new Error(`${id} is down`);
    return coordinator;
  }

  running(): Coordinator[] {
    return [...this.nodes.values()].flatMap((n) =>
      n.coordinator === undefined ? [] : [n.coordinator],
    );
  }

  async startAll(): Promise<void> {
    for (const id of this.nodes.keys()) await this.start(id);
  }

  /** Starts (or restarts after a crash) one node. */
  async start(id: string): Promise<Coordinator> {
    const node = this.node(id);
    const transport =
      this.net.status(id) === 'crashed' ? this.net.restart(id) : this.net.createTransport(id);
    const recovered = await node.storage?.load();
    const state =
      recovered?.snapshot === undefined
        ? new ClusterState()
        : ClusterState.fromSnapshot(recovered.snapshot.state);
    this.checker.restartedAt(id, state.appliedZxid, state);
    const coordinator = await Coordinator.start({
      id,
      voters: this.voterIds.map((v) => ({ id: v, address: `sim://${v}` })),
      advertisedAddress: `sim://${id}`,
      transport,
      scheduler: transport.scheduler,
      random: new SeededRandom(this.random.int(2 ** 31)),
      storage: node.storage,
      ...this.options.coordinator,
    });
    coordinator.onCommit((event) => {
      if (event.snapshot !== undefined) {
        this.checker.snapshotInstalled(
          id,
          event.snapshot.zxid,
          ClusterState.fromSnapshot(event.snapshot.state),
        );
      }
      this.checker.committed(id, event.entries);
    });
    node.coordinator = coordinator;
    node.paused = false;
    return coordinator;
  }

  /** kill -9: the process vanishes; its peers see the connection close. */
  crash(id: string): void {
    const node = this.node(id);
    this.net.crash(id);
    node.coordinator = undefined;
    node.paused = false;
  }

  /** SIGSTOP / SIGCONT. */
  pause(id: string): void {
    this.net.pause(id);
    this.node(id).paused = true;
  }

  resume(id: string): void {
    this.net.resume(id);
    this.node(id).paused = false;
  }

  /** Checks one leader per epoch among running, unpaused nodes. */
  checkLeaders(): void {
    for (const node of this.nodes.values()) {
      const c = node.coordinator;
      if (c !== undefined && c.role() === 'leader') this.checker.leader(c.epoch(), node.id);
    }
  }

  /** The leader every running node agrees on (with a quorum), if any. */
  agreedLeader(): string | undefined {
    const running = this.running();
    const leader = running[0]?.leader();
    if (leader === undefined) return undefined;
    return running.every((c) => c.leader() === leader && c.hasQuorum()) ? leader : undefined;
  }

  /** Runs until `condition` holds, checking invariants after every event. */
  async runUntil(condition: () => boolean, withinMs: number): Promise<number> {
    return this.scheduler.runUntilConditionAsync(() => {
      this.checkLeaders();
      return condition();
    }, this.scheduler.now() + withinMs);
  }

  /** Runs for `ms` of simulated time, checking invariants after every event. */
  async runFor(ms: number): Promise<void> {
    const end = this.scheduler.now() + ms;
    // An event at `end`, so the run reaches it even when nothing else is scheduled then.
    this.scheduler.setTimeout(() => {}, ms);
    await this.scheduler.runUntilConditionAsync(() => {
      this.checkLeaders();
      return this.scheduler.now() >= end;
    }, end);
  }

  /** Stops every running node (resuming paused ones first) and runs until all stopped. */
  async stopAll(): Promise<void> {
    for (const node of this.nodes.values()) if (node.paused) this.resume(node.id);
    const all = Promise.all(this.running().map((c) => c.stop()));
    let done = false;
    void all.finally(() => {
      done = true;
    });
    await this.scheduler.runUntilConditionAsync(() => done, this.scheduler.now() + 10_000);
    await all;
  }
}
