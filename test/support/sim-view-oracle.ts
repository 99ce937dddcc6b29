import type {
  ClusterConfigReader,
  ClusterView,
  ViewSource,
} from '../../src/cluster/view-source.js';
import type { SimNetwork } from '../../src/transport/sim-network.js';
import type { NodeId } from '../../src/transport/transport.js';
import type { Random } from '../../src/util/random.js';
import type { SimScheduler } from '../../src/util/sim-scheduler.js';

/** Timing of a {@link SimViewOracle}. */
export interface SimViewOracleOptions {
  /** How often the oracle hears from reachable nodes and commits changes. */
  readonly tickMs: number;
  /** A node serves only if it heard from the oracle this recently (the lease). */
  readonly leaseMs: number;
  /** A member unheard this long is removed from the view. Must exceed `leaseMs`. */
  readonly sessionTimeoutMs: number;
  /** Views reach each node after a random delay up to this. */
  readonly maxDeliveryDelayMs: number;
}

/**
 * The `ViewSource` of one node incarnation, fed by the oracle. Its lease
 * (`hasQuorum`) holds for `leaseMs` after the oracle last heard from it while it was
 * up to date with the committed views.
 */
export class OracleViewSource implements ViewSource {
  contactMs = Number.NEGATIVE_INFINITY;
  private current: ClusterView | undefined;
  private readonly listeners = new Set<(view: ClusterView) => void>();
  readonly config: ClusterConfigReader = { get: () => undefined };

  constructor(
    private readonly scheduler: SimScheduler,
    private readonly leaseMs: number,
  ) {}

  view(): ClusterView | undefined {
    return this.current;
  }

  onView(listener: (view: ClusterView) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  hasQuorum(): boolean {
    return this.scheduler.now() - this.contactMs <= this.leaseMs;
  }

  publish(view: ClusterView): void {
    if (this.current !== undefined && view.epoch <= this.current.epoch) return;
    this.current = view;
    for (const listener of [...this.listeners]) listener(view);
  }
}

/**
 * Plays the coordinator in cluster simulations: an endpoint (`coord`) on the
 * `SimNetwork`, so partitions and crashes cut nodes off from it as they would from a
 * real quorum. Every tick it hears from the nodes it can reach (their lease), expires
 * the sessions of members unheard for `sessionTimeoutMs`, admits reachable nodes
 * that want to join, bumps the view when a member restarts (a new session), and
 * delivers the latest view to reachable nodes after a random delay, so nodes see
 * views late, and, after a partition heals, skip the ones they missed.
 * One membership change commits per tick (a removal, a restart, or the admission of
 * every node waiting to join), each with a new epoch.
 */
export class SimViewOracle {
  static readonly ID = 'coord';
  readonly views: ClusterView[] = [];
  private members: NodeId[] = [];
  private readonly addresses = new Map<NodeId, string>();
  private readonly sources = new Map<NodeId, OracleViewSource>();
  private readonly rejoining = new Set<NodeId>();
  private readonly lastHeardMs = new Map<NodeId, number>();
  private readonly leaving = new Set<NodeId>();
  private epoch = 0;
  private stopped = false;

  constructor(
    private readonly net: SimNetwork,
    private readonly scheduler: SimScheduler,
    private readonly random: Random,
    private readonly options: SimViewOracleOptions,
  ) {
    net.createTransport(SimViewOracle.ID);
    scheduler.setInterval(() => this.tick(), options.tickMs);
  }

  /** A node incarnation starts and wants to be a member; returns its view source. */
  register(id: NodeId, address: string): OracleViewSource {
    const source = new OracleViewSource(this.scheduler, this.options.leaseMs);
    this.sources.set(id, source);
    this.addresses.set(id, address);
    this.leaving.delete(id);
    this.net.transport(SimViewOracle.ID)?.addPeer(id, address);
    if (this.members.includes(id)) this.rejoining.add(id);
    return source;
  }

  /**
   * A node leaves on purpose: removed at the next tick, and not admitted again. Its
   * lease ends now, as a real coordinator's does once `stop()` begins: the new view
   * promotes its backups before the node itself could learn of it.
   */
  leave(id: NodeId): void {
    this.leaving.add(id);
    const source = this.sources.get(id);
    if (source !== undefined) source.contactMs = Number.NEGATIVE_INFINITY;
    this.sources.delete(id);
  }

  /** The latest committed view. */
  latest(): ClusterView | undefined {
    return this.views.at(-1);
  }

  memberIds(): readonly NodeId[] {
    return this.members;
  }

  /** Whether every running registered node is reachable, a member, and knows the latest view. */
  isStable(): boolean {
    for (const [id, source] of this.sources) {
      if (this.net.status(id) !== 'open') continue;
      if (!this.reachable(id)) return false;
      if (!this.members.includes(id) || this.rejoining.has(id)) return false;
      if (source.view()?.epoch !== this.epoch || !source.hasQuorum()) return false;
    }
    for (const id of this.members) {
      if (!this.sources.has(id)) return false;
    }
    return true;
  }

  stop(): void {
    this.stopped = true;
  }

  private reachable(id: NodeId): boolean {
    return (
      this.net.status(id) === 'open' && this.net.connectionState(SimViewOracle.ID, id) === 'up'
    );
  }

  private commit(members: NodeId[]): void {
    this.epoch++;
    this.members = members;
    const view: ClusterView = {
      epoch: this.epoch,
      members: members.map((id) => ({ id, address: this.addresses.get(id) ?? `sim://${id}` })),
    };
    this.views.push(view);
  }

  private tick(): void {
    if (this.stopped) return;
    const now = this.scheduler.now();
    for (const [id, source] of this.sources) {
      if (!this.reachable(id)) continue;
      this.lastHeardMs.set(id, now);
      // The lease is renewed only for a node that has applied every committed view,
      // as a follower only counts as in contact once it has synced the leader's log.
      if ((source.view()?.epoch ?? 0) >= this.epoch) source.contactMs = now;
    }
    // One membership change per tick, as a coordinator commits them one by one.
    const gone = this.members.find(
      (id) =>
        this.leaving.has(id) ||
        now - (this.lastHeardMs.get(id) ?? now) > this.options.sessionTimeoutMs,
    );
    if (gone !== undefined) {
      this.commit(this.members.filter((id) => id !== gone));
      this.leaving.delete(gone);
      this.rejoining.delete(gone);
    } else {
      const restarted = [...this.rejoining].find((id) => this.reachable(id));
      if (restarted !== undefined) {
        this.rejoining.delete(restarted);
        this.commit([...this.members]);
      } else {
        // Nodes waiting to join are admitted together, as a coordinator batches the
        // join requests it has when it commits.
        const joiners = [...this.sources.keys()].filter(
          (id) => !this.members.includes(id) && this.reachable(id),
        );
        if (joiners.length > 0) {
          for (const id of joiners) this.lastHeardMs.set(id, now);
          this.commit([...this.members, ...joiners]);
        }
      }
    }
    const latest = this.latest();
    if (latest === undefined) return;
    for (const [id, source] of this.sources) {
      if (!this.reachable(id) || (source.view()?.epoch ?? -1) >= latest.epoch) continue;
      const delay = this.random.int(this.options.maxDeliveryDelayMs + 1);
      this.scheduler.setTimeout(() => {
        if (this.sources.get(id) === source && this.reachable(id)) source.publish(latest);
      }, delay);
    }
  }
}
