import { ShoalClient } from '../../src/api/shoal-client.js';
import type { ShoalCache } from '../../src/cluster/cache-api.js';
import { CacheNode } from '../../src/cluster/cache-node.js';
import type { CacheNodeOptions } from '../../src/cluster/cache-node-options.js';
import type { ViewSource } from '../../src/cluster/view-source.js';
import { Coordinator } from '../../src/coord/coordinator.js';
import { MemoryStorage } from '../../src/coord/memory-storage.js';
import { PARTITION_COUNT, partitionOf } from '../../src/ring/partitioner.js';
import { PeerUnavailableError } from '../../src/transport/errors.js';
import { SimNetwork } from '../../src/transport/sim-network.js';
import type { NodeId } from '../../src/transport/transport.js';
import { ShoalError } from '../../src/util/errors.js';
import { SeededRandom } from '../../src/util/random.js';
import { SimScheduler } from '../../src/util/sim-scheduler.js';
import type { KvOperation } from './linearizability.js';
import { SimViewOracle } from './sim-view-oracle.js';

/** One fault the nemesis may inject (its target and timing are drawn from the run's seed). */
export type NemesisKind =
  | 'crash'
  | 'crash-restart'
  | 'isolate'
  | 'cut-from-coordinator'
  | 'cut-from-peers'
  | 'join'
  | 'leave'
  | 'lossy-links';

/** A node factory: how the simulation gets its view source (oracle or real coordinator). */
export interface SimHost {
  readonly net: SimNetwork;
  readonly scheduler: SimScheduler;
  /** Starts (or restarts) node `id` and returns it once created. */
  startNode(id: NodeId): Promise<CacheNode>;
  /** Forgets node `id` before it leaves (graceful). */
  leave(id: NodeId): void;
  /** Whether node `id` may leave without taking the coordinator's quorum with it. */
  mayLeave(id: NodeId): boolean;
  /** Current members of the committed view. */
  members(): readonly NodeId[];
  /** Whether membership has stopped changing and every reachable node knows the latest view. */
  isStable(): boolean;
  /** The endpoints that make up the coordinator, for cutting a node off from it. */
  coordinatorEndpoints(): NodeId[];
  stop(): Promise<void>;
}

/** Options of one simulated run. */
export interface ClusterSimOptions {
  readonly seed: number;
  readonly faults: readonly NemesisKind[];
  readonly keys: number;
  /** Simulated milliseconds during which clients issue operations. */
  readonly durationMs: number;
  /** Builds the host (view source wiring) for this run. */
  readonly host: (net: SimNetwork, scheduler: SimScheduler, random: SeededRandom) => SimHost;
}

/** What a run produced, for the checks. */
export interface ClusterSimResult {
  readonly history: KvOperation[];
  /** Describes the first replica that differs from its primary after healing, if any. */
  readonly divergence: string | undefined;
  readonly log: string[];
  readonly completedOps: number;
  readonly unknownOps: number;
}

/** Node options for simulations: short timeouts, so faults resolve in simulated seconds. */
export const SIM_NODE_OPTIONS: Partial<CacheNodeOptions> = {
  requestTimeoutMs: 600,
  operationTimeoutMs: 2_500,
  replicationTimeoutMs: 400,
  syncAckTimeoutMs: 3_000,
  viewWaitMs: 400,
  queueTimeoutMs: 1_500,
  syncRequestTimeoutMs: 800,
  syncRetryDelayMs: 50,
  syncPartitionsPerSession: 16_384,
  maintenanceIntervalMs: 50,
  vnodes: 16,
};

const INITIAL_NODES = ['n1', 'n2', 'n3'];
const SPARE_NODES = ['n4', 'n5'];
const CLIENT_IDS = ['c1', 'c2'];

/** Errors that prove an operation was not applied: it is left out of the history. */
function provesNotApplied(error: unknown): boolean {
  if (error instanceof PeerUnavailableError) return !error.sent;
  if (!(error instanceof ShoalError)) return false;
  return [
    'ERR_NOT_PRIMARY',
    'ERR_STALE_VIEW',
    'ERR_WRITE_NOT_APPLIED',
    'ERR_REPLICA_NOT_SYNCED',
    'ERR_STOPPED',
    'ERR_NO_VIEW',
    'ERR_PARTITION_SYNCING',
    'ERR_NO_QUORUM',
    'ERR_OVERLOADED',
    'ERR_TOO_MANY_PENDING',
    'ERR_TRANSPORT_CLOSED',
  ].includes(error.code);
}

/**
 * One simulated run: a cluster of 3 nodes (up to 5 with joins) over a seeded
 * `SimNetwork`, two `ShoalClient`s and one embedded caller issuing concurrent
 * set/get/delete/incr on a few keys, and a nemesis injecting one fault at a time
 * (crash, crash and restart, isolation, a cut from the coordinator only, a cut from
 * the other nodes only, a lossy link, a join, a graceful leave), each healed before
 * the next, so the cluster stays within what replication factor 2 tolerates. After
 * the clients stop, everything heals, the cluster settles and a final read of every
 * key joins the history.
 */
export async function runClusterSim(options: ClusterSimOptions): Promise<ClusterSimResult> {
  const random = new SeededRandom(options.seed);
  const scheduler = new SimScheduler();
  const net = new SimNetwork({
    scheduler,
    random: new SeededRandom(options.seed ^ 0x9e3779b9),
    defaultLink: { minDelayMs: 1, maxDelayMs: 8, dropProbability: 0 },
    reconnectDelayMs: { minMs: 20, maxMs: 80 },
  });
  const host = options.host(net, scheduler, random);
  const log: string[] = [];
  const note = (line: string): void => {
    log.push(`${scheduler.now()}ms ${line}`);
  };
  const history: KvOperation[] = [];
  const keys = Array.from({ length: options.keys }, (_, i) => `k${i}`);
  let completedOps = 0;
  let unknownOps = 0;
  const pending = new Set<{ op: Omit<KvOperation, 'returnMs'> }>();

  // ---- boot ------------------------------------------------------------------------
  const running = new Map<NodeId, CacheNode>();
  const start = async (id: NodeId): Promise<CacheNode> => {
    const node = await host.startNode(id);
    running.set(id, node);
    return node;
  };
  for (const id of INITIAL_NODES) await start(id);
  await runUntil(
    scheduler,
    () => host.isStable() && host.members().length === 3 && settled(),
    30_000,
  );

  function liveNodes(): CacheNode[] {
    return nodes().filter((node): node is CacheNode => node !== undefined);
  }
  function nodes(): (CacheNode | undefined)[] {
    return [...INITIAL_NODES, ...SPARE_NODES].map((id) => running.get(id));
  }
  function settled(): boolean {
    if (!host.isStable()) return false;
    for (const id of host.members()) {
      const node = running.get(id);
      if (node !== undefined && !node.isSettled()) return false;
    }
    return true;
  }

  // ---- clients ---------------------------------------------------------------------
  const clients: ShoalCache[] = [];
  for (const id of CLIENT_IDS) {
    const transport = net.createTransport(id);
    const seeds = INITIAL_NODES.map((node) => ({ id: node, address: `sim://${node}` }));
    const connecting = ShoalClient.over(transport, seeds, {
      scheduler: transport.scheduler,
      requestTimeoutMs: 600,
      operationTimeoutMs: 2_500,
    });
    clients.push(await settle(scheduler, connecting));
  }
  const endMs = scheduler.now() + options.durationMs;
  let writeCounter = 0;

  async function issue(clientId: string, cache: ShoalCache): Promise<void> {
    const key = keys[random.int(keys.length)]!;
    const roll = random.int(10);
    const callMs = scheduler.now();
    let op: Omit<KvOperation, 'returnMs' | 'output'> & { output?: unknown };
    let run: () => Promise<unknown>;
    if (roll < 4) {
      op = { clientId, key, callMs, op: 'get' };
      run = () => cache.get(key);
    } else if (roll < 7) {
      const value = ++writeCounter;
      op = { clientId, key, callMs, op: 'set', input: value };
      run = () => cache.set(key, value);
    } else if (roll < 8) {
      op = { clientId, key, callMs, op: 'delete' };
      run = () => cache.delete(key);
    } else {
      const by = 1 + random.int(3);
      op = { clientId, key, callMs, op: 'incr', input: by };
      run = () => cache.incr(key, by);
    }
    const entry = { op: op as Omit<KvOperation, 'returnMs'> };
    pending.add(entry);
    try {
      const output = await run();
      pending.delete(entry);
      completedOps++;
      if (op.op === 'set')
        history.push({ ...(op as KvOperation), returnMs: scheduler.now() } as KvOperation);
      else history.push({ ...op, output, returnMs: scheduler.now() } as KvOperation);
    } catch (error) {
      pending.delete(entry);
      if (op.op === 'incr' && error instanceof ShoalError && error.code === 'ERR_NOT_AN_INTEGER') {
        completedOps++;
        history.push({ ...op, output: 'not-a-number', returnMs: scheduler.now() } as KvOperation);
        return;
      }
      if (provesNotApplied(error) || op.op === 'get') return;
      unknownOps++;
      history.push({ ...op, output: undefined, returnMs: Number.POSITIVE_INFINITY } as KvOperation);
    }
  }

  const loops: Promise<void>[] = [];
  clients.forEach((client, index) => {
    loops.push(
      (async () => {
        while (scheduler.now() < endMs) {
          await issue(CLIENT_IDS[index]!, client);
          await sleepSim(scheduler, random.int(20));
        }
      })(),
    );
  });
  // The embedded caller uses whichever node is up, as an application embedding shoal would.
  loops.push(
    (async () => {
      while (scheduler.now() < endMs) {
        const live = liveNodes();
        const node = live[random.int(live.length)];
        // A node that crashes mid-call never answers: its call stays pending (unknown).
        if (node !== undefined)
          await Promise.race([issue('embedded', node), sleepSim(scheduler, 5_000)]);
        await sleepSim(scheduler, random.int(20));
      }
    })(),
  );

  // ---- nemesis -------------------------------------------------------------------------
  const nemesis = (async () => {
    for (const fault of options.faults) {
      await sleepSim(scheduler, 100 + random.int(400));
      if (scheduler.now() >= endMs - 200) break;
      // One fault at a time, and only on a settled cluster: beyond that, RF 2 may lose
      // data legitimately and the run would test nothing.
      try {
        await runUntil(scheduler, settled, 10_000, true);
      } catch {
        note(`skip ${fault}: cluster not settled`);
        continue;
      }
      const members = host.members().filter((id) => running.has(id));
      const target = members[random.int(members.length)]!;
      const holdMs = 200 + random.int(1_500);
      switch (fault) {
        case 'crash':
        case 'crash-restart': {
          note(`crash ${target}`);
          net.crash(target);
          running.delete(target);
          await sleepSim(scheduler, fault === 'crash' ? holdMs + 1_500 : holdMs);
          note(`restart ${target}`);
          await start(target);
          break;
        }
        case 'isolate':
          note(`isolate ${target}`);
          net.isolate(target);
          await sleepSim(scheduler, holdMs);
          note('heal');
          net.heal();
          break;
        case 'cut-from-coordinator':
          note(`cut ${target} from the coordinator`);
          net.partition([target], host.coordinatorEndpoints());
          await sleepSim(scheduler, holdMs);
          note('heal');
          net.heal();
          break;
        case 'cut-from-peers': {
          const others = [...INITIAL_NODES, ...SPARE_NODES, ...CLIENT_IDS].filter(
            (id) => id !== target,
          );
          note(`cut ${target} from the other nodes and clients`);
          net.partition([target], others);
          await sleepSim(scheduler, holdMs);
          note('heal');
          net.heal();
          break;
        }
        case 'lossy-links': {
          const other = members.find((id) => id !== target) ?? target;
          note(`drop 20% of ${target} -> ${other}`);
          net.configureLink(target, other, { dropProbability: 0.2 });
          await sleepSim(scheduler, holdMs);
          note('links clean');
          net.resetLinkConfigs();
          break;
        }
        case 'join': {
          const spare = SPARE_NODES.find((id) => !running.has(id) && net.status(id) !== 'crashed');
          if (spare === undefined) break;
          note(`join ${spare}`);
          await start(spare);
          break;
        }
        case 'leave': {
          if (members.length <= 2) break;
          // A voter that left never comes back: two of three leaving would end the quorum.
          const leaver = host.mayLeave(target) ? target : members.find((id) => host.mayLeave(id));
          if (leaver === undefined) {
            note(`skip leave: every member is needed for the coordinator's quorum`);
            break;
          }
          note(`leave ${leaver}`);
          host.leave(leaver);
          await runUntil(scheduler, () => !host.members().includes(leaver), 5_000, true).catch(
            () => {},
          );
          await running.get(leaver)?.stop();
          running.delete(leaver);
          await net.transport(leaver)?.close();
          break;
        }
      }
    }
  })();

  await settle(scheduler, Promise.all([...loops, nemesis]), options.durationMs + 120_000);

  // ---- heal and check ---------------------------------------------------------------
  note('final heal');
  net.heal();
  net.resetLinkConfigs();
  await runUntil(scheduler, settled, 60_000);
  for (const key of keys) {
    const callMs = scheduler.now();
    const value = await settle(scheduler, clients[0]!.get(key), 30_000);
    history.push({
      clientId: 'final',
      key,
      callMs,
      op: 'get',
      output: value as number | undefined,
      returnMs: scheduler.now(),
    } as KvOperation);
  }
  for (const entry of pending) {
    if (entry.op.op === 'get') continue;
    unknownOps++;
    history.push({ ...entry.op, returnMs: Number.POSITIVE_INFINITY } as KvOperation);
  }
  const divergence = replicaDivergence(running, host.members());
  const teardown = (async () => {
    for (const client of clients) await client.stop();
    for (const node of running.values()) await node.stop();
    await host.stop();
  })();
  await settle(scheduler, teardown, 30_000);
  return { history, divergence, log, completedOps, unknownOps };
}

/** Every backup holds exactly its primary's entries (keys, values, versions). */
export function replicaDivergence(
  running: ReadonlyMap<NodeId, CacheNode>,
  members: readonly NodeId[],
): string | undefined {
  const live = members
    .map((id) => running.get(id))
    .filter((node): node is CacheNode => node !== undefined);
  const byNode = new Map<CacheNode, Map<number, string>>();
  for (const node of live) {
    const lists = new Map<number, string[]>();
    for (const [key, bytes, version] of node.partitionContents()) {
      const p = partitionOf(key);
      let list = lists.get(p);
      if (list === undefined) {
        list = [];
        lists.set(p, list);
      }
      list.push(`${key}=${Buffer.from(bytes).toString('hex')}@${version}`);
    }
    const described = new Map<number, string>();
    for (const [p, list] of lists) described.set(p, JSON.stringify(list.sort()));
    byNode.set(node, described);
  }
  const describe = (node: CacheNode, p: number): string => byNode.get(node)?.get(p) ?? '[]';
  for (let p = 0; p < PARTITION_COUNT; p++) {
    let primary: CacheNode | undefined;
    const backups: CacheNode[] = [];
    for (const node of live) {
      const role = node.partitionRole(p);
      if (role === 'primary') primary = node;
      else if (role === 'backup') backups.push(node);
    }
    if (primary === undefined || backups.length === 0) continue;
    const expected = describe(primary, p);
    for (const backup of backups) {
      const actual = describe(backup, p);
      if (actual !== expected) {
        return `partition ${p}: primary ${primary.id} holds ${expected}, backup ${backup.id} holds ${actual}`;
      }
    }
  }
  return undefined;
}

function sleepSim(scheduler: SimScheduler, ms: number): Promise<void> {
  return new Promise((resolve) => scheduler.setTimeout(resolve, ms));
}

/**
 * Awaits `promise` while the simulation runs. Must be called from the test's top
 * level (never from inside simulated code).
 */
async function settle<T>(scheduler: SimScheduler, promise: Promise<T>, maxMs = 30_000): Promise<T> {
  let done = false;
  const tracked = promise.finally(() => {
    done = true;
  });
  tracked.catch(() => {});
  await scheduler.runUntilConditionAsync(() => done, scheduler.now() + maxMs);
  return tracked;
}

/**
 * Waits for `condition`: from the test's top level it runs the simulation; from inside
 * simulated code (`inside`) it polls on simulated time.
 */
async function runUntil(
  scheduler: SimScheduler,
  condition: () => boolean,
  maxMs: number,
  inside = false,
): Promise<void> {
  if (!inside) {
    await scheduler.runUntilConditionAsync(condition, scheduler.now() + maxMs);
    return;
  }
  const deadline = scheduler.now() + maxMs;
  while (!condition()) {
    if (scheduler.now() >= deadline) throw new Error('condition not reached in time');
    await sleepSim(scheduler, 25);
  }
}

/** Hosts nodes whose views come from a {@link SimViewOracle}. */
export function oracleHost(
  nodeOptions: Partial<CacheNodeOptions> = SIM_NODE_OPTIONS,
): ClusterSimOptions['host'] {
  return (net, scheduler, random) => {
    const oracle = new SimViewOracle(net, scheduler, new SeededRandom(random.nextUint32()), {
      tickMs: 50,
      leaseMs: 300,
      sessionTimeoutMs: 1_000,
      maxDeliveryDelayMs: 40,
    });
    const nodes = new Map<NodeId, CacheNode>();
    return {
      net,
      scheduler,
      async startNode(id: NodeId): Promise<CacheNode> {
        const transport = net.status(id) === 'crashed' ? net.restart(id) : net.createTransport(id);
        const viewSource: ViewSource = oracle.register(id, `sim://${id}`);
        const node = new CacheNode({
          ...nodeOptions,
          transport,
          viewSource,
          scheduler: transport.scheduler,
          random: new SeededRandom(random.nextUint32()),
        });
        nodes.set(id, node);
        return node;
      },
      leave(id: NodeId): void {
        oracle.leave(id);
      },
      mayLeave: () => true,
      members: () => oracle.memberIds(),
      coordinatorEndpoints: () => [SimViewOracle.ID],
      isStable: () => oracle.isStable(),
      async stop(): Promise<void> {
        oracle.stop();
      },
    };
  };
}

/** The voters of {@link coordinatorHost}: the initial nodes; spares join as learners. */
const SIM_VOTERS = INITIAL_NODES;

/**
 * Hosts nodes whose views come from real `Coordinator`s (ZAB) running on the same
 * simulated transports: voters n1-n3 with `MemoryStorage` that survives their
 * crashes, spares as learners. Sessions expire after 1 s so faults resolve within a
 * short run.
 */
export function coordinatorHost(
  nodeOptions: Partial<CacheNodeOptions> = SIM_NODE_OPTIONS,
): ClusterSimOptions['host'] {
  return (net, scheduler, random) => {
    const storages = new Map<NodeId, MemoryStorage>();
    const coordinators = new Map<NodeId, Coordinator>();
    const left = new Set<NodeId>();
    const live = (): Coordinator[] =>
      [...coordinators.entries()]
        .filter(([id]) => net.status(id) === 'open' && !left.has(id))
        .map(([, coordinator]) => coordinator);
    return {
      net,
      scheduler,
      async startNode(id: NodeId): Promise<CacheNode> {
        const transport = net.status(id) === 'crashed' ? net.restart(id) : net.createTransport(id);
        let storage = storages.get(id);
        if (storage === undefined) {
          storage = new MemoryStorage();
          storages.set(id, storage);
        }
        left.delete(id);
        const coordinator = await Coordinator.start({
          id,
          voters: SIM_VOTERS.map((voter) => ({ id: voter, address: `sim://${voter}` })),
          advertisedAddress: `sim://${id}`,
          transport,
          scheduler: transport.scheduler,
          random: new SeededRandom(random.nextUint32()),
          storage,
          sessionTimeoutTicks: 20,
        });
        coordinators.set(id, coordinator);
        return new CacheNode({
          ...nodeOptions,
          transport,
          viewSource: coordinator,
          scheduler: transport.scheduler,
          random: new SeededRandom(random.nextUint32()),
        });
      },
      leave(id: NodeId): void {
        left.add(id);
        void coordinators.get(id)?.stop();
      },
      mayLeave(id: NodeId): boolean {
        if (!SIM_VOTERS.includes(id)) return true;
        const staying = SIM_VOTERS.filter((voter) => voter !== id && !left.has(voter));
        return staying.length > SIM_VOTERS.length / 2;
      },
      members(): readonly NodeId[] {
        let best: readonly NodeId[] = [];
        let epoch = -1;
        for (const coordinator of live()) {
          const view = coordinator.view();
          if (view.epoch > epoch) {
            epoch = view.epoch;
            best = view.members.map((member) => member.id);
          }
        }
        return best;
      },
      isStable(): boolean {
        const running = live();
        if (running.length === 0) return false;
        const epoch = Math.max(...running.map((coordinator) => coordinator.view().epoch));
        for (const coordinator of running) {
          const view = coordinator.view();
          if (view.epoch !== epoch || !coordinator.hasQuorum()) return false;
          if (!view.members.some((member) => member.id === coordinator.id)) return false;
        }
        return true;
      },
      coordinatorEndpoints: () => [...SIM_VOTERS],
      async stop(): Promise<void> {
        for (const coordinator of live()) await coordinator.stop();
      },
    };
  };
}
