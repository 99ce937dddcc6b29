import { randomBytes } from 'node:crypto';
import { CACHE_CHANNEL, type DecodedView, decodeView, isErrorReply } from '../cluster/messages.js';
import { decodeNodeStatus, type NodeStatusReport } from '../cluster/node-status.js';
import { Placement } from '../cluster/placement.js';
import type { NodeId } from '../transport/transport.js';
import { WsTransport } from '../transport/ws-transport.js';
import { ShoalError } from '../util/errors.js';
import { AuthFailureWatch, SecretRefusedError, unlessRefused } from './auth-failure-watch.js';
import type { KnownNode } from './node-address.js';

/** What one member said about itself when asked for its view. */
export interface MemberReport {
  readonly id: string;
  readonly address: string;
  /** Whether it answered within the probe's timeout. */
  readonly reachable: boolean;
  /** The epoch of the view it routes by (it may lag the newest view briefly). */
  readonly viewEpoch: number | undefined;
  /** Partitions it is the primary of in the newest view. */
  readonly primaryPartitions: number;
  /** Partitions it backs up in the newest view. */
  readonly backupPartitions: number;
  /** Its coordinator state and cache counts, from the `status` request. */
  readonly node: NodeStatusReport | undefined;
  /** Why it did not answer. */
  readonly error: string | undefined;
}

/** The cluster as seen from outside, through the views its members report. */
export interface ClusterReport {
  /** The newest view epoch any member reported. */
  readonly viewEpoch: number;
  readonly replicationFactor: number;
  readonly vnodes: number;
  /** The leader named by the answering member in the newest coordinator epoch. */
  readonly leader: string | undefined;
  /** The newest coordinator epoch any member reported. */
  readonly coordinatorEpoch: number | undefined;
  readonly members: readonly MemberReport[];
}

interface Answer {
  readonly view?: DecodedView;
  readonly node?: NodeStatusReport;
  readonly error?: string;
}

/** No seed gave a view. */
export class NoClusterViewError extends ShoalError {
  constructor(reasons: readonly string[]) {
    super('ERR_CLI_NO_VIEW', `no node gave a cluster view (${reasons.join('; ')})`);
  }
}

/** Options of {@link ClusterProbe.open}. */
export interface ClusterProbeOptions {
  /** Budget to connect to one node and hear its answer. */
  readonly timeoutMs: number;
}

/**
 * Asks members for their committed view over the cache channel's `view` request,
 * the same one `ShoalClient` routes by, and derives each member's share of the
 * partitions from the newest view. It needs no member-side support beyond what every
 * node already serves, so `shoal status` and `shoal demo` work against any node.
 */
export class ClusterProbe {
  private readonly transport: WsTransport;
  private readonly watch: AuthFailureWatch;
  private readonly timeoutMs: number;

  private constructor(transport: WsTransport, watch: AuthFailureWatch, timeoutMs: number) {
    this.transport = transport;
    this.watch = watch;
    this.timeoutMs = timeoutMs;
  }

  /**
   * Opens a dial-only endpoint; nothing connects until a node is asked. With
   * `clientRole`, `secret` is the client credential (view and status are open to it).
   */
  static open(secret: string, options: ClusterProbeOptions, clientRole = false): ClusterProbe {
    const watch = new AuthFailureWatch();
    const transport = WsTransport.client({
      id: `shoal-cli-${randomBytes(6).toString('hex')}`,
      secret,
      ...(clientRole ? { role: 'client' as const } : {}),
      logger: watch,
    });
    return new ClusterProbe(transport, watch, options.timeoutMs);
  }

  /** The newest view any of `seeds` reports (they are asked at once). */
  async view(seeds: readonly KnownNode[]): Promise<DecodedView> {
    const reasons: string[] = [];
    const answers = await Promise.all(
      seeds.map((seed) =>
        this.viewOf(seed.id, seed.url).catch((error: unknown) => {
          if (error instanceof SecretRefusedError) throw error;
          reasons.push(`${seed.id}: ${messageOf(error)}`);
          return undefined;
        }),
      ),
    );
    let newest: DecodedView | undefined;
    for (const answer of answers) {
      if (answer !== undefined && (newest === undefined || answer.view.epoch > newest.view.epoch)) {
        newest = answer;
      }
    }
    if (newest === undefined) throw new NoClusterViewError(reasons);
    return newest;
  }

  /** Asks every member of the newest view of `seeds` for its own view. */
  async report(seeds: readonly KnownNode[]): Promise<ClusterReport> {
    const first = await this.view(seeds);
    const answers = new Map<string, Answer>();
    await this.askAll(first.view.members, answers);
    // A member may already be in a newer view than the seed that answered first.
    let newest = first;
    for (const { view } of answers.values()) {
      if (view !== undefined && view.view.epoch > newest.view.epoch) newest = view;
    }
    await this.askAll(
      newest.view.members.filter((member) => !answers.has(member.id)),
      answers,
    );
    const placement = Placement.of(newest.view, newest.replicationFactor, newest.vnodes);
    let coordinator: NodeStatusReport['coord'] = null;
    for (const { node } of answers.values()) {
      const coord = node?.coord;
      if (coord != null && (coordinator === null || coord.epoch > coordinator.epoch)) {
        coordinator = coord;
      }
    }
    return {
      viewEpoch: newest.view.epoch,
      replicationFactor: newest.replicationFactor,
      vnodes: newest.vnodes,
      leader: coordinator?.leader ?? undefined,
      coordinatorEpoch: coordinator?.epoch,
      members: newest.view.members.map((member): MemberReport => {
        const answer = answers.get(member.id);
        return {
          id: member.id,
          address: member.address,
          reachable: answer?.view !== undefined,
          viewEpoch: answer?.view?.view.epoch,
          primaryPartitions: placement.table.partitionsOwnedBy(member.id, 'primary').length,
          backupPartitions: placement.table.partitionsOwnedBy(member.id, 'backup').length,
          node: answer?.node,
          error: answer?.error,
        };
      }),
    };
  }

  /** Asks one node for the view it routes by. */
  async viewOf(id: NodeId, address: string): Promise<DecodedView> {
    this.transport.addPeer(id, address);
    const deadline = Date.now() + this.timeoutMs;
    await unlessRefused(this.connected(id, deadline), this.watch);
    const reply = await unlessRefused(
      this.transport.request(
        id,
        CACHE_CHANNEL,
        { t: 'view' },
        { timeoutMs: Math.max(1, deadline - Date.now()) },
      ),
      this.watch,
    );
    if (isErrorReply(reply)) throw new ShoalError(reply.c, reply.m);
    return decodeView((reply as { view?: unknown }).view);
  }

  /** Asks one node, already asked for its view, for its coordinator state and counts. */
  async statusOf(id: NodeId): Promise<NodeStatusReport> {
    const reply = await unlessRefused(
      this.transport.request(id, CACHE_CHANNEL, { t: 'status' }, { timeoutMs: this.timeoutMs }),
      this.watch,
    );
    if (isErrorReply(reply)) throw new ShoalError(reply.c, reply.m);
    return decodeNodeStatus((reply as { status?: unknown }).status);
  }

  async close(): Promise<void> {
    await this.transport.close();
  }

  private async askAll(
    members: readonly { id: string; address: string }[],
    answers: Map<string, Answer>,
  ): Promise<void> {
    await Promise.all(
      members.map(async (member) => {
        try {
          const view = await this.viewOf(member.id, member.address);
          answers.set(member.id, { view, node: await this.statusOf(member.id) });
        } catch (error) {
          if (error instanceof SecretRefusedError) throw error;
          answers.set(member.id, { error: messageOf(error) });
        }
      }),
    );
  }

  /** Resolves once an authenticated connection to `id` is open, or fails at `deadline`. */
  private connected(id: NodeId, deadline: number): Promise<void> {
    if (this.transport.isConnected(id)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          stopWatching();
          reject(
            new ShoalError('ERR_CLI_UNREACHABLE', `no connection within ${this.timeoutMs} ms`),
          );
        },
        Math.max(0, deadline - Date.now()),
      );
      const stopWatching = this.transport.watchPeers({
        onPeerUp: (peer) => {
          if (peer !== id) return;
          clearTimeout(timer);
          stopWatching();
          resolve();
        },
      });
    });
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
