import { CacheNode } from '../../src/cluster/cache-node.js';
import type { CacheNodeOptions } from '../../src/cluster/cache-node-options.js';
import type { ClusterView } from '../../src/cluster/view-source.js';
import { SimNetwork, type SimNetworkOptions } from '../../src/transport/sim-network.js';
import type { NodeId } from '../../src/transport/transport.js';
import { SeededRandom } from '../../src/util/random.js';
import { SimScheduler } from '../../src/util/sim-scheduler.js';
import { replicaDivergence } from './cluster-sim.js';
import { ManualViewSource } from './manual-view-source.js';

/** Options of a {@link SimCluster}. */
export interface SimClusterOptions {
  readonly seed: number;
  /** Options every node gets (transport, viewSource, scheduler and random are set here). */
  readonly node?: Partial<CacheNodeOptions>;
  readonly network?: Partial<Omit<SimNetworkOptions, 'scheduler' | 'random'>>;
}

/** Decides whether a one-way message a node sends is lost on the way (for fault tests). */
export type MessageFilter = (from: NodeId, to: NodeId, message: unknown) => boolean;

/** The address a simulated node is dialed at. */
export function simAddress(id: NodeId): string {
  return `sim://${id}`;
}

/**
 * Cache nodes over a seeded `SimNetwork`, with views driven by the test through one
 * `ManualViewSource` per node: `commit` plays the coordinator, deciding who learns
 * each view and when.
 */
export class SimCluster {
  readonly scheduler: SimScheduler;
  readonly net: SimNetwork;
  readonly nodes = new Map<NodeId, CacheNode>();
  readonly views = new Map<NodeId, ManualViewSource>();
  private readonly options: SimClusterOptions;
  private readonly random: SeededRandom;
  epoch = 0;
  members: NodeId[] = [];
  /** When set, one-way messages (`send`) it returns true for are lost. */
  loses: MessageFilter | undefined;

  constructor(options: SimClusterOptions) {
    this.options = options;
    this.scheduler = new SimScheduler();
    this.random = new SeededRandom(options.seed);
    this.net = new SimNetwork({
      scheduler: this.scheduler,
      random: new SeededRandom(options.seed ^ 0x5eed),
      ...options.network,
    });
  }

  /** Starts (or restarts after a crash) node `id`; it knows the latest view if it is a member. */
  start(id: NodeId, overrides: Partial<CacheNodeOptions> = {}): CacheNode {
    const status = this.net.status(id);
    const transport = status === 'crashed' ? this.net.restart(id) : this.net.createTransport(id);
    const send = transport.send.bind(transport);
    transport.send = (peer, channel, message) =>
      this.loses?.(id, peer, message) === true ? true : send(peer, channel, message);
    const viewSource = new ManualViewSource();
    const node = new CacheNode({
      ...this.options.node,
      ...overrides,
      transport,
      viewSource,
      scheduler: transport.scheduler,
      random: new SeededRandom(this.random.nextUint32()),
    });
    this.nodes.set(id, node);
    this.views.set(id, viewSource);
    return node;
  }

  /** Kills node `id` (its process, timers and connections). */
  crash(id: NodeId): void {
    this.net.crash(id);
    this.nodes.delete(id);
    this.views.delete(id);
  }

  node(id: NodeId): CacheNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`node ${id} is not running`);
    return node;
  }

  /** The view a commit of `members` produces. */
  viewOf(epoch: number, members: readonly NodeId[]): ClusterView {
    return { epoch, members: members.map((id) => ({ id, address: simAddress(id) })) };
  }

  /**
   * Commits a new view with `members` and delivers it at once to `deliverTo` (default:
   * every running node). Others learn it only when `deliver` is called for them.
   */
  commit(members: readonly NodeId[], deliverTo?: readonly NodeId[]): ClusterView {
    this.epoch++;
    this.members = [...members];
    const view = this.viewOf(this.epoch, members);
    for (const id of deliverTo ?? [...this.views.keys()]) this.views.get(id)?.publish(view);
    return view;
  }

  /** Delivers the latest committed view to `id`. */
  deliver(id: NodeId): void {
    this.views.get(id)?.publish(this.viewOf(this.epoch, this.members));
  }

  /** Sets the lease answer of node `id`. */
  setQuorum(id: NodeId, quorum: boolean): void {
    const view = this.views.get(id);
    if (view !== undefined) view.quorum = quorum;
  }

  /** Runs the simulation until `promise` settles (or `maxMs` of simulated time passes). */
  async run<T>(promise: Promise<T>, maxMs = 120_000): Promise<T> {
    let settled = false;
    const tracked = promise.finally(() => {
      settled = true;
    });
    tracked.catch(() => {});
    await this.scheduler.runUntilConditionAsync(() => settled, this.scheduler.now() + maxMs);
    return tracked;
  }

  /** Runs until every running member applies the latest view and has nothing left to sync. */
  async settle(maxMs = 120_000): Promise<void> {
    await this.scheduler.runUntilConditionAsync(
      () => this.isSettled(),
      this.scheduler.now() + maxMs,
    );
  }

  isSettled(): boolean {
    for (const id of this.members) {
      const node = this.nodes.get(id);
      if (node === undefined) continue;
      if (node.view()?.epoch !== this.epoch || !node.isSettled()) return false;
    }
    return true;
  }

  /**
   * Every partition's backups hold exactly what its primary holds (keys, values and
   * versions). Returns a description of the first difference, or undefined.
   */
  divergence(): string | undefined {
    return replicaDivergence(this.nodes, this.members);
  }

  async stopAll(): Promise<void> {
    for (const node of this.nodes.values()) await node.stop();
  }
}
