import { pack, unpack } from 'msgpackr';
import { InvalidArgumentError } from '../util/errors.js';
import type { Random } from '../util/random.js';
import type { TimerHandle } from '../util/scheduler.js';
import { type SimScheduler, SimulationLimitError } from '../util/sim-scheduler.js';
import { MessageTooLargeError } from './errors.js';
import { SimNodeScheduler } from './sim-node-scheduler.js';
import {
  fnv1a,
  type SimFrameKind,
  type SimTraceKind,
  type SimTraceMode,
  type SimTraceRecord,
  SimTraceRecorder,
} from './sim-trace.js';
import {
  type SimTransmitResult,
  SimTransport,
  type SimTransportHost,
  type SimTransportInbox,
} from './sim-transport.js';
import type { Channel, NodeId } from './transport.js';

/** How one directed link (`from -> to`) treats the frames put on it. */
export interface SimLinkConfig {
  /** Shortest one-way delay, integer ms >= 0. */
  minDelayMs: number;
  /** Longest one-way delay, integer ms >= `minDelayMs`; each frame draws uniformly within. */
  maxDelayMs: number;
  /**
   * Probability in [0, 1] that a frame is silently discarded while the connection
   * stays up: a lossy or grey link (`1` is a one-way black hole the ends do not notice).
   */
  dropProbability: number;
}

/** A range of integer milliseconds, drawn uniformly. */
export interface SimDelayRange {
  minMs: number;
  maxMs: number;
}

/** Options for {@link SimNetwork}. */
export interface SimNetworkOptions {
  /** Drives every delivery and every endpoint's timers. */
  scheduler: SimScheduler;
  /** The only source of randomness (delays, drops, connect delays). */
  random: Random;
  /** Links without their own configuration. Default 1..5 ms, no drops. */
  defaultLink?: Partial<SimLinkConfig>;
  /** From the first `addPeer` (or the peer appearing) to the connection being up. Default 1..5 ms. */
  connectDelayMs?: SimDelayRange;
  /**
   * From the moment a dropped connection could come back (heal, restart, a peer
   * dropping it) to it being up again: the dialer's backoff plus handshake.
   * Default 100..200 ms (`WsTransport` starts backing off at 100 ms).
   */
  reconnectDelayMs?: SimDelayRange;
  /**
   * Pass every body through msgpackr `pack`/`unpack`, as the real wire does: the
   * receiver gets a copy (no aliasing), class instances arrive as plain objects,
   * functions vanish, and what cannot be encoded throws at the sender. Default true;
   * false hands over the sender's object itself (faster, trace sizes are -1).
   */
  encode?: boolean;
  /** Default `'off'`. See {@link SimTraceMode}. */
  trace?: SimTraceMode;
  /** Records kept in `'records'` mode before `SimulationLimitError`. Default 1,000,000. */
  maxTraceRecords?: number;
  /** Requests one endpoint may have waiting on one peer. Default 10,000. */
  maxPendingRequests?: number;
  /**
   * Bytes in flight on one directed link beyond which `send` returns false and
   * `request` rejects with `BackpressureError`, as `WsTransport` does past its
   * `maxBufferedBytes`. Frames count their encoded size, or
   * {@link UNENCODED_FRAME_BYTES} each when encoding is off. Default 8 MiB.
   */
  maxInFlightBytesPerLink?: number;
  /**
   * Largest encoded body; a larger one throws `MessageTooLargeError` at the sender
   * (a reply becomes an `ERR_MESSAGE_TOO_LARGE` error reply). Default 4 MiB, as
   * `WsTransport`'s `maxFrameBytes`.
   */
  maxFrameBytes?: number;
  /** Distinct node and client ids the network may know. Default 10,000. */
  maxNodes?: number;
}

/** Counters since the network was created. */
export interface SimNetworkStats {
  /** Frames put on a link (including those then dropped or lost). */
  sent: number;
  /** Frames handed to their receiver. */
  delivered: number;
  /** Frames discarded by a link's `dropProbability`. */
  dropped: number;
  /** Frames in flight (or held by a paused node) when their connection went down. */
  lost: number;
  /** `send`/`request` calls that found no open connection, or a full link (backpressure). */
  refused: number;
  /** Encoded bytes of the frames sent (0 when encoding is off). */
  bytesSent: number;
  connectionsOpened: number;
  connectionsClosed: number;
}

/** The life of a connection between two endpoints. */
export type SimConnectionState = 'down' | 'connecting' | 'up';

/** Where an id stands: never started, running, transport closed (process alive), or crashed. */
export type SimNodeStatus = 'absent' | 'open' | 'closed' | 'crashed';

const DEFAULT_LINK: SimLinkConfig = { minDelayMs: 1, maxDelayMs: 5, dropProbability: 0 };
const DEFAULT_CONNECT_DELAY: SimDelayRange = { minMs: 1, maxMs: 5 };
const DEFAULT_RECONNECT_DELAY: SimDelayRange = { minMs: 100, maxMs: 200 };
const DEFAULT_MAX_TRACE_RECORDS = 1_000_000;
const DEFAULT_MAX_PENDING_REQUESTS = 10_000;
const DEFAULT_MAX_IN_FLIGHT_BYTES_PER_LINK = 8 * 1024 * 1024;
const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;
/** What a frame counts against `maxInFlightBytesPerLink` when encoding is off. */
export const UNENCODED_FRAME_BYTES = 64;
const DEFAULT_MAX_NODES = 10_000;

/** One direction between two ids. Exists independently of connections, so cuts can precede nodes. */
class SimLink {
  readonly from: NodeId;
  readonly to: NodeId;
  /** Own configuration; `undefined` follows the network default. */
  config: SimLinkConfig | undefined;
  cut = false;
  /** When the last frame on this link is due: no later frame may arrive before it. */
  lastDeliveryMs = 0;
  /**
   * Bytes sent on the current connection and not yet handed to the receiver, held
   * frames of a paused receiver included: like unread data in TCP buffers, they push
   * back on the sender.
   */
  inFlightBytes = 0;

  constructor(from: NodeId, to: NodeId) {
    this.from = from;
    this.to = to;
  }
}

/** Everything the network knows about one id, across its incarnations. */
class SimNode {
  readonly id: NodeId;
  status: SimNodeStatus = 'absent';
  transport: SimTransport | undefined;
  inbox: SimTransportInbox | undefined;
  scheduler: SimNodeScheduler;
  paused = false;
  isolated = false;
  /** Frames that reached this node while it was paused, in arrival order. */
  heldInbound: SimFrame[] = [];
  /** Frames this node sent while paused, put on their links when it resumes. */
  heldOutbound: SimFrame[] = [];
  flushScheduled = false;
  readonly connections = new Map<NodeId, SimConnection>();

  constructor(id: NodeId, scheduler: SimNodeScheduler) {
    this.id = id;
    this.scheduler = scheduler;
  }
}

/** The one connection between two endpoints (`a.id < b.id`), carrying both directions. */
class SimConnection {
  readonly a: SimNode;
  readonly b: SimNode;
  readonly linkAB: SimLink;
  readonly linkBA: SimLink;
  state: SimConnectionState = 'down';
  /** Bumped when the connection goes down: frames sent on an older generation are lost. */
  generation = 0;
  dialedByA = false;
  dialedByB = false;
  upEvent: TimerHandle | undefined;

  constructor(a: SimNode, b: SimNode, linkAB: SimLink, linkBA: SimLink) {
    this.a = a;
    this.b = b;
    this.linkAB = linkAB;
    this.linkBA = linkBA;
  }
}

class SimFrame {
  readonly from: SimNode;
  readonly to: SimNode;
  readonly conn: SimConnection;
  readonly link: SimLink;
  readonly kind: SimFrameKind;
  readonly channel: Channel;
  readonly requestId: number;
  /** Encoded bytes, or the body itself when encoding is off. */
  readonly payload: unknown;
  readonly bytes: number;
  readonly payloadDigest: number;
  readonly generation: number;
  /** Counted in its link's `inFlightBytes` (from launch until handed over or lost). */
  inFlight = false;

  constructor(
    from: SimNode,
    to: SimNode,
    conn: SimConnection,
    link: SimLink,
    kind: SimFrameKind,
    channel: Channel,
    requestId: number,
    payload: unknown,
    bytes: number,
    payloadDigest: number,
  ) {
    this.from = from;
    this.to = to;
    this.conn = conn;
    this.link = link;
    this.kind = kind;
    this.channel = channel;
    this.requestId = requestId;
    this.payload = payload;
    this.bytes = bytes;
    this.payloadDigest = payloadDigest;
    this.generation = conn.generation;
  }
}

function checkLinkConfig(config: SimLinkConfig): SimLinkConfig {
  const { minDelayMs, maxDelayMs, dropProbability } = config;
  if (!Number.isSafeInteger(minDelayMs) || minDelayMs < 0) {
    throw new InvalidArgumentError(`minDelayMs must be an integer >= 0, got ${minDelayMs}`);
  }
  if (!Number.isSafeInteger(maxDelayMs) || maxDelayMs < minDelayMs) {
    throw new InvalidArgumentError(
      `maxDelayMs must be an integer >= minDelayMs (${minDelayMs}), got ${maxDelayMs}`,
    );
  }
  if (!(dropProbability >= 0 && dropProbability <= 1)) {
    throw new InvalidArgumentError(`dropProbability must be in [0, 1], got ${dropProbability}`);
  }
  return { minDelayMs, maxDelayMs, dropProbability };
}

function checkRange(range: SimDelayRange, name: string): SimDelayRange {
  if (
    !Number.isSafeInteger(range.minMs) ||
    !Number.isSafeInteger(range.maxMs) ||
    range.minMs < 0 ||
    range.maxMs < range.minMs
  ) {
    throw new InvalidArgumentError(`${name} must be integers with 0 <= minMs <= maxMs`);
  }
  return { minMs: range.minMs, maxMs: range.maxMs };
}

function checkLimit(value: number | undefined, fallback: number, name: string): number {
  const limit = value ?? fallback;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new InvalidArgumentError(`${name} must be a positive integer, got ${limit}`);
  }
  return limit;
}

/**
 * An in-process network of `SimTransport` endpoints, deterministic for a given
 * scheduler script and seed: the same calls in the same order produce the same
 * deliveries at the same simulated times, byte for byte (compare `traceDigest()`).
 *
 * The model, chosen to match what `WsTransport` over TCP can and cannot do:
 * - **Connections.** Two endpoints have one connection, up while at least one of them
 *   dials the other (`addPeer`), both are running, and no cut separates them. It
 *   comes up `connectDelayMs` after the first dial, `reconnectDelayMs` after whatever
 *   kept it down ends. Both ends hear `onPeerUp`/`onPeerDown`.
 * - **Order.** A frame on `from -> to` arrives at
 *   `max(now + delay, arrival of the previous frame on that link)`, and the scheduler
 *   breaks ties by insertion, so a later frame never overtakes an earlier one, across
 *   all channels and frame kinds, as on one TCP stream.
 * - **Cuts.** `cut(from, to)` blocks one direction. A TCP connection needs both, so
 *   any cut takes the connection down at once: frames in flight either way are lost,
 *   pending requests fail with `PeerUnavailableError`, and new ones fail fast the same
 *   way, never by timeout. A link that silently loses frames while the connection
 *   looks healthy is `configureLink(from, to, { dropProbability: 1 })`.
 * - **Crash** kills the process: its transport goes dark, its pending requests and
 *   those of its peers fail, in-flight frames to and from it are lost, its timers
 *   (`SimTransport.scheduler`) never fire again, and what it dialed is forgotten.
 *   `restart` gives a fresh transport and scheduler; peers that dialed it reconnect.
 * - **Pause** (SIGSTOP): connections stay up; frames to the node and its due timers are
 *   held, frames it sends are held, all released in order on `resume`. Peer up/down
 *   listeners are not held.
 *
 * All randomness comes from `options.random`, drawn in a fixed order (per sent frame:
 * drop, then delay; per connection attempt: its delay).
 *
 * Driving a run deterministically, with async drivers:
 * ```ts
 * const scheduler = new SimScheduler();
 * const net = new SimNetwork({ scheduler, random: new SeededRandom(seed), trace: 'digest' });
 * const t = net.createTransport('n1');
 * // The driver takes the transport, ITS scheduler, and a seeded Random: no global
 * // timers, Date.now, performance.now, Math.random or real I/O in simulated code.
 * const driver = startDriver({ transport: t, scheduler: t.scheduler, random: new SeededRandom(seed + 1) });
 * await scheduler.runUntilConditionAsync(() => driver.isLeader(), scheduler.now() + 5_000);
 * net.crash('n1');
 * const again = startDriver({ transport: net.restart('n1'), ... });
 * await scheduler.runForAsync(1_000);
 * ```
 * The `...Async` run methods let promise continuations settle after each event (see
 * `SettleMode`), so `await transport.request(...)` resumes at the simulated time the
 * reply arrived. From the test itself, `await scheduler.settle()` after starting async
 * work and before looking at its effects. Same seed and same script give the same
 * `traceDigest()`.
 */
export class SimNetwork {
  /** The scheduler every delivery and endpoint timer runs on. */
  readonly scheduler: SimScheduler;
  private readonly random: Random;
  private defaultLink: SimLinkConfig;
  private readonly connectDelay: SimDelayRange;
  private readonly reconnectDelay: SimDelayRange;
  private readonly encode: boolean;
  private readonly recorder: SimTraceRecorder;
  private readonly maxPendingRequests: number;
  private readonly maxInFlightBytesPerLink: number;
  private readonly maxFrameBytes: number;
  private readonly maxNodes: number;
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly links = new Map<NodeId, Map<NodeId, SimLink>>();
  private readonly cutLinks = new Set<SimLink>();
  private readonly counters: SimNetworkStats = {
    sent: 0,
    delivered: 0,
    dropped: 0,
    lost: 0,
    refused: 0,
    bytesSent: 0,
    connectionsOpened: 0,
    connectionsClosed: 0,
  };
  private readonly host: SimTransportHost;

  constructor(options: SimNetworkOptions) {
    this.scheduler = options.scheduler;
    this.random = options.random;
    this.defaultLink = checkLinkConfig({ ...DEFAULT_LINK, ...options.defaultLink });
    this.connectDelay = checkRange(
      options.connectDelayMs ?? DEFAULT_CONNECT_DELAY,
      'connectDelayMs',
    );
    this.reconnectDelay = checkRange(
      options.reconnectDelayMs ?? DEFAULT_RECONNECT_DELAY,
      'reconnectDelayMs',
    );
    this.encode = options.encode ?? true;
    this.recorder = new SimTraceRecorder(
      options.trace ?? 'off',
      checkLimit(options.maxTraceRecords, DEFAULT_MAX_TRACE_RECORDS, 'maxTraceRecords'),
    );
    this.maxPendingRequests = checkLimit(
      options.maxPendingRequests,
      DEFAULT_MAX_PENDING_REQUESTS,
      'maxPendingRequests',
    );
    this.maxInFlightBytesPerLink = checkLimit(
      options.maxInFlightBytesPerLink,
      DEFAULT_MAX_IN_FLIGHT_BYTES_PER_LINK,
      'maxInFlightBytesPerLink',
    );
    this.maxFrameBytes = checkLimit(
      options.maxFrameBytes,
      DEFAULT_MAX_FRAME_BYTES,
      'maxFrameBytes',
    );
    this.maxNodes = checkLimit(options.maxNodes, DEFAULT_MAX_NODES, 'maxNodes');
    this.host = {
      attach: (id, inbox) => {
        this.nodeOf(id).inbox = inbox;
      },
      transmit: (from, to, kind, channel, requestId, body) =>
        this.transmit(from, to, kind, channel, requestId, body),
      isUp: (from, to) => this.nodes.get(from)?.connections.get(to)?.state === 'up',
      dial: (from, to) => this.setDialed(from, to, true),
      undial: (from, to) => this.setDialed(from, to, false),
      detach: (from) => this.detach(from),
    };
  }

  // ---- endpoints ----------------------------------------------------------------

  /**
   * Starts an endpoint (a node or a client) with id `id` and returns its transport.
   * An id whose transport was closed may start again (same process, same
   * scheduler); a crashed one must `restart`.
   */
  createTransport(id: NodeId): SimTransport {
    if (typeof id !== 'string' || id.length === 0) {
      throw new InvalidArgumentError('node id must be a non-empty string');
    }
    const node = this.nodeOf(id);
    if (node.status === 'open') throw new InvalidArgumentError(`${id} is already running`);
    if (node.status === 'crashed') {
      throw new InvalidArgumentError(`${id} crashed; call restart(${id}) to start it again`);
    }
    return this.start(node);
  }

  /**
   * Starts a crashed node again, as a new process: a fresh transport (handlers must be
   * registered again) and a fresh scheduler. Peers that dial it reconnect after
   * `reconnectDelayMs`.
   */
  restart(id: NodeId): SimTransport {
    const node = this.existing(id);
    if (node.status !== 'crashed') {
      throw new InvalidArgumentError(`${id} is ${node.status}; only a crashed node restarts`);
    }
    node.scheduler = new SimNodeScheduler(this.scheduler);
    return this.start(node);
  }

  /** Kills the process behind `id` (see the class description). */
  crash(id: NodeId): void {
    const node = this.existing(id);
    if (node.status === 'crashed' || node.status === 'absent') {
      throw new InvalidArgumentError(`${id} is ${node.status}; only a started node crashes`);
    }
    node.status = 'crashed';
    node.paused = false;
    node.inbox?.crash();
    node.scheduler.kill();
    this.loseHeld(node);
    node.transport = undefined;
    node.inbox = undefined;
    for (const conn of node.connections.values()) {
      if (conn.a === node) conn.dialedByA = false;
      else conn.dialedByB = false;
      this.reevaluate(conn, this.reconnectDelay, `${id} crashed`);
    }
  }

  /** Stops the process behind `id` (SIGSTOP); see the class description. */
  pause(id: NodeId): void {
    const node = this.existing(id);
    if (node.status === 'crashed' || node.status === 'absent') {
      throw new InvalidArgumentError(`${id} is ${node.status}; only a started node pauses`);
    }
    node.paused = true;
    node.scheduler.pause();
  }

  /** Continues a paused process: held timers, then held frames, in order. */
  resume(id: NodeId): void {
    const node = this.existing(id);
    if (!node.paused) return;
    node.paused = false;
    node.scheduler.resume();
    const outbound = node.heldOutbound;
    node.heldOutbound = [];
    for (const frame of outbound) this.launch(frame);
    this.scheduleFlush(node);
  }

  /** The running transport of `id`, if any. */
  transport(id: NodeId): SimTransport | undefined {
    return this.nodes.get(id)?.transport;
  }

  /**
   * The current process scheduler of `id` (the same as its transport's), also for
   * drivers that start before their transport.
   */
  schedulerOf(id: NodeId): SimNodeScheduler {
    if (typeof id !== 'string' || id.length === 0) {
      throw new InvalidArgumentError('node id must be a non-empty string');
    }
    return this.nodeOf(id).scheduler;
  }

  /** Where `id` stands. */
  status(id: NodeId): SimNodeStatus {
    return this.nodes.get(id)?.status ?? 'absent';
  }

  /** Whether `id` is paused. */
  isPaused(id: NodeId): boolean {
    return this.nodes.get(id)?.paused ?? false;
  }

  /** Every id the network has seen, in first-seen order. */
  nodeIds(): NodeId[] {
    return [...this.nodes.keys()];
  }

  /** The state of the connection between `a` and `b`. */
  connectionState(a: NodeId, b: NodeId): SimConnectionState {
    return this.nodes.get(a)?.connections.get(b)?.state ?? 'down';
  }

  // ---- faults ---------------------------------------------------------------------

  /** Changes the configuration of links that have none of their own. */
  setDefaultLink(config: Partial<SimLinkConfig>): void {
    this.defaultLink = checkLinkConfig({ ...this.defaultLink, ...config });
  }

  /** Gives the link `from -> to` its own configuration (merged over its current one). */
  configureLink(from: NodeId, to: NodeId, config: Partial<SimLinkConfig>): void {
    const link = this.linkOf(from, to);
    link.config = checkLinkConfig({ ...(link.config ?? this.defaultLink), ...config });
  }

  /** Returns every link to the default configuration. Cuts are unaffected. */
  resetLinkConfigs(): void {
    for (const byTarget of this.links.values()) {
      for (const link of byTarget.values()) link.config = undefined;
    }
  }

  /** Blocks the direction `from -> to`; the connection between them goes down. */
  cut(from: NodeId, to: NodeId): void {
    this.setCut(this.linkOf(from, to), true);
    this.reevaluatePair(from, to, `link ${from} -> ${to} cut`);
  }

  /** Unblocks `from -> to`; the connection comes back if nothing else blocks it. */
  healLink(from: NodeId, to: NodeId): void {
    this.setCut(this.linkOf(from, to), false);
    this.reevaluatePair(from, to, 'healed');
  }

  /** Cuts both directions between every member of `groupA` and every member of `groupB`. */
  partition(groupA: readonly NodeId[], groupB: readonly NodeId[]): void {
    for (const a of groupA) {
      for (const b of groupB) {
        if (a === b) continue;
        this.setCut(this.linkOf(a, b), true);
        this.setCut(this.linkOf(b, a), true);
      }
    }
    for (const a of groupA) {
      for (const b of groupB) {
        if (a !== b) this.reevaluatePair(a, b, `partition between ${a} and ${b}`);
      }
    }
  }

  /** Cuts `id` off from every other endpoint, including ones that start later. */
  isolate(id: NodeId): void {
    const node = this.nodeOf(id);
    node.isolated = true;
    for (const conn of node.connections.values()) {
      this.reevaluate(conn, this.reconnectDelay, `${id} isolated`);
    }
  }

  /** Removes every cut and isolation (link configurations stay). */
  heal(): void {
    const pairs: Array<[NodeId, NodeId]> = [];
    for (const link of this.cutLinks) {
      link.cut = false;
      pairs.push([link.from, link.to]);
    }
    this.cutLinks.clear();
    const isolated: SimNode[] = [];
    for (const node of this.nodes.values()) {
      if (node.isolated) {
        node.isolated = false;
        isolated.push(node);
      }
    }
    for (const [from, to] of pairs) this.reevaluatePair(from, to, 'healed');
    for (const node of isolated) {
      for (const conn of node.connections.values()) {
        this.reevaluate(conn, this.reconnectDelay, 'healed');
      }
    }
  }

  // ---- observation ----------------------------------------------------------------

  /** A copy of the counters. */
  stats(): SimNetworkStats {
    return { ...this.counters };
  }

  /** Recorded events (trace mode `'records'` only). */
  trace(): readonly SimTraceRecord[] {
    return this.recorder.list();
  }

  /** `<events>:<hash>` over every event so far (trace modes `'digest'` and `'records'`). */
  traceDigest(): string {
    return this.recorder.digest();
  }

  // ---- internals --------------------------------------------------------------------

  private start(node: SimNode): SimTransport {
    node.status = 'open';
    const transport = new SimTransport(node.id, node.scheduler, this.host, {
      maxPendingRequests: this.maxPendingRequests,
      maxInFlightBytesPerLink: this.maxInFlightBytesPerLink,
    });
    node.transport = transport;
    for (const conn of node.connections.values()) {
      this.reevaluate(conn, this.reconnectDelay, 'restarted');
    }
    return transport;
  }

  private nodeOf(id: NodeId): SimNode {
    let node = this.nodes.get(id);
    if (node === undefined) {
      if (this.nodes.size >= this.maxNodes) {
        throw new SimulationLimitError('maxNodes', this.maxNodes, `cannot add ${id}`);
      }
      node = new SimNode(id, new SimNodeScheduler(this.scheduler));
      this.nodes.set(id, node);
    }
    return node;
  }

  private existing(id: NodeId): SimNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new InvalidArgumentError(`unknown node ${id}`);
    return node;
  }

  private linkOf(from: NodeId, to: NodeId): SimLink {
    if (from === to) throw new InvalidArgumentError(`a link needs two ends, got ${from} twice`);
    let byTarget = this.links.get(from);
    if (byTarget === undefined) {
      byTarget = new Map();
      this.links.set(from, byTarget);
    }
    let link = byTarget.get(to);
    if (link === undefined) {
      link = new SimLink(from, to);
      byTarget.set(to, link);
    }
    return link;
  }

  private setCut(link: SimLink, cut: boolean): void {
    link.cut = cut;
    if (cut) this.cutLinks.add(link);
    else this.cutLinks.delete(link);
  }

  private connectionOf(x: SimNode, y: SimNode): SimConnection {
    let conn = x.connections.get(y.id);
    if (conn === undefined) {
      const [a, b] = x.id < y.id ? [x, y] : [y, x];
      conn = new SimConnection(a, b, this.linkOf(a.id, b.id), this.linkOf(b.id, a.id));
      a.connections.set(b.id, conn);
      b.connections.set(a.id, conn);
    }
    return conn;
  }

  private setDialed(from: NodeId, to: NodeId, dialed: boolean): void {
    const x = this.nodeOf(from);
    const conn = dialed ? this.connectionOf(x, this.nodeOf(to)) : x.connections.get(to);
    if (conn === undefined) return;
    if (conn.a === x) conn.dialedByA = dialed;
    else conn.dialedByB = dialed;
    if (dialed) {
      this.reevaluate(conn, this.connectDelay, '');
      return;
    }
    // The side that forgets its peer closes the socket even if the peer dials it; the
    // peer then redials.
    if (conn.state === 'up') this.takeDown(conn, `${from} removed ${to}`);
    this.reevaluate(conn, this.reconnectDelay, `${from} removed ${to}`);
  }

  private detach(id: NodeId): void {
    const node = this.existing(id);
    node.status = 'closed';
    this.loseHeld(node);
    // The closing transport still hears each connection go down, as WsTransport does.
    for (const conn of node.connections.values()) {
      if (conn.a === node) conn.dialedByA = false;
      else conn.dialedByB = false;
      this.reevaluate(conn, this.reconnectDelay, `${id} closed its transport`);
    }
    node.transport = undefined;
    node.inbox = undefined;
  }

  private reevaluatePair(x: NodeId, y: NodeId, reason: string): void {
    const conn = this.nodes.get(x)?.connections.get(y);
    if (conn !== undefined) this.reevaluate(conn, this.reconnectDelay, reason);
  }

  /** Brings a connection's state in line with what its ends and links allow. */
  private reevaluate(conn: SimConnection, delay: SimDelayRange, reason: string): void {
    const wanted =
      (conn.dialedByA || conn.dialedByB) &&
      conn.a.status === 'open' &&
      conn.b.status === 'open' &&
      !conn.linkAB.cut &&
      !conn.linkBA.cut &&
      !conn.a.isolated &&
      !conn.b.isolated;
    if (wanted) {
      if (conn.state === 'down') {
        conn.state = 'connecting';
        conn.upEvent = this.scheduler.callAfter(this.draw(delay), this.onConnectionUp, conn);
      }
      return;
    }
    if (conn.state === 'connecting') {
      if (conn.upEvent !== undefined) this.scheduler.clearTimeout(conn.upEvent);
      conn.upEvent = undefined;
      conn.state = 'down';
    } else if (conn.state === 'up') {
      this.takeDown(conn, reason);
    }
  }

  private readonly onConnectionUp = (conn: SimConnection): void => {
    conn.upEvent = undefined;
    conn.state = 'up';
    this.counters.connectionsOpened++;
    this.record('up', conn.a.id, conn.b.id, 'connection', '', 0, 0);
    const a = conn.a.inbox;
    const b = conn.b.inbox;
    try {
      a?.peerUp(conn.b.id);
    } finally {
      b?.peerUp(conn.a.id);
    }
  };

  private takeDown(conn: SimConnection, reason: string): void {
    conn.state = 'down';
    conn.generation++;
    const now = this.scheduler.now();
    for (const link of [conn.linkAB, conn.linkBA]) {
      // A new connection starts with empty buffers; frames of this one are lost.
      link.lastDeliveryMs = now;
      link.inFlightBytes = 0;
    }
    this.counters.connectionsClosed++;
    this.record('down', conn.a.id, conn.b.id, 'connection', '', 0, 0);
    const a = conn.a.inbox;
    const b = conn.b.inbox;
    try {
      a?.peerDown(conn.b.id, reason);
    } finally {
      b?.peerDown(conn.a.id, reason);
    }
  }

  private draw(range: SimDelayRange): number {
    return range.maxMs > range.minMs
      ? range.minMs + this.random.int(range.maxMs - range.minMs + 1)
      : range.minMs;
  }

  private transmit(
    fromId: NodeId,
    toId: NodeId,
    kind: SimFrameKind,
    channel: Channel,
    requestId: number,
    body: unknown,
  ): SimTransmitResult {
    const from = this.nodes.get(fromId);
    const conn = from?.connections.get(toId);
    if (from === undefined || conn === undefined || conn.state !== 'up') {
      this.counters.refused++;
      this.record('refused', fromId, toId, kind, channel, 0, 0);
      return 'not-connected';
    }
    const forward = conn.a === from;
    const link = forward ? conn.linkAB : conn.linkBA;
    let payload: unknown = body;
    let bytes = -1;
    let digest = 0;
    if (this.encode) {
      let encoded: Uint8Array;
      try {
        encoded = pack(body);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new InvalidArgumentError(`a ${kind} on ${channel} cannot be encoded: ${reason}`);
      }
      if (encoded.length > this.maxFrameBytes) {
        throw new MessageTooLargeError(toId, encoded.length, this.maxFrameBytes);
      }
      payload = encoded;
      bytes = encoded.length;
      if (this.recorder.enabled) digest = fnv1a(encoded);
    }
    const weight = bytes >= 0 ? bytes : UNENCODED_FRAME_BYTES;
    if (link.inFlightBytes > 0 && link.inFlightBytes + weight > this.maxInFlightBytesPerLink) {
      this.counters.refused++;
      this.record('refused', fromId, toId, kind, channel, bytes, digest);
      return 'backpressure';
    }
    const frame = new SimFrame(
      from,
      forward ? conn.b : conn.a,
      conn,
      link,
      kind,
      channel,
      requestId,
      payload,
      bytes,
      digest,
    );
    if (from.paused) from.heldOutbound.push(frame);
    else this.launch(frame);
    return 'sent';
  }

  /** Puts a frame on its link: drop or schedule its arrival. */
  private launch(frame: SimFrame): void {
    const conn = frame.conn;
    if (frame.generation !== conn.generation) {
      this.lose(frame);
      return;
    }
    const counters = this.counters;
    counters.sent++;
    if (frame.bytes > 0) counters.bytesSent += frame.bytes;
    const link = frame.link;
    const config = link.config ?? this.defaultLink;
    if (config.dropProbability > 0 && this.random.next() < config.dropProbability) {
      counters.dropped++;
      this.recordFrame('drop', frame);
      return;
    }
    const delay =
      config.maxDelayMs > config.minDelayMs
        ? config.minDelayMs + this.random.int(config.maxDelayMs - config.minDelayMs + 1)
        : config.minDelayMs;
    const arrival = Math.max(this.scheduler.now() + delay, link.lastDeliveryMs);
    link.lastDeliveryMs = arrival;
    link.inFlightBytes += frameWeight(frame);
    frame.inFlight = true;
    this.scheduler.callAt(arrival, this.onArrival, frame);
  }

  private readonly onArrival = (frame: SimFrame): void => {
    if (frame.generation !== frame.conn.generation) {
      this.lose(frame);
      return;
    }
    const to = frame.to;
    // Behind held frames, a frame waits its turn even after resume, to keep link order.
    if (to.paused || to.heldInbound.length > 0) {
      to.heldInbound.push(frame);
      return;
    }
    this.handOver(frame);
  };

  private scheduleFlush(node: SimNode): void {
    if (node.flushScheduled || node.heldInbound.length === 0) return;
    node.flushScheduled = true;
    this.scheduler.callAfter(0, this.onFlush, node);
  }

  /** Releases one held frame per event, so async receivers settle between them. */
  private readonly onFlush = (node: SimNode): void => {
    node.flushScheduled = false;
    if (node.paused) return;
    const frame = node.heldInbound.shift();
    if (frame === undefined) return;
    if (frame.generation !== frame.conn.generation) this.lose(frame);
    else this.handOver(frame);
    this.scheduleFlush(node);
  };

  private handOver(frame: SimFrame): void {
    this.release(frame);
    this.counters.delivered++;
    this.recordFrame('deliver', frame);
    const body = this.encode ? unpack(frame.payload as Uint8Array) : frame.payload;
    frame.to.inbox?.deliver(frame.from.id, frame.kind, frame.channel, frame.requestId, body);
  }

  private lose(frame: SimFrame): void {
    this.release(frame);
    this.counters.lost++;
    this.recordFrame('lost', frame);
  }

  /** Takes a frame off its link's backlog, unless the connection it was sent on is gone. */
  private release(frame: SimFrame): void {
    if (frame.inFlight && frame.generation === frame.conn.generation) {
      frame.link.inFlightBytes -= frameWeight(frame);
    }
    frame.inFlight = false;
  }

  private loseHeld(node: SimNode): void {
    for (const frame of node.heldInbound) this.lose(frame);
    for (const frame of node.heldOutbound) this.lose(frame);
    node.heldInbound = [];
    node.heldOutbound = [];
  }

  private recordFrame(kind: SimTraceKind, frame: SimFrame): void {
    if (!this.recorder.enabled) return;
    this.record(
      kind,
      frame.from.id,
      frame.to.id,
      frame.kind,
      frame.channel,
      frame.bytes,
      frame.payloadDigest,
    );
  }

  private record(
    kind: SimTraceKind,
    from: NodeId,
    to: NodeId,
    frame: SimFrameKind | 'connection',
    channel: Channel,
    bytes: number,
    payloadDigest: number,
  ): void {
    if (this.recorder.enabled) {
      this.recorder.record(
        this.scheduler.now(),
        kind,
        from,
        to,
        frame,
        channel,
        bytes,
        payloadDigest,
      );
    }
  }
}

function frameWeight(frame: SimFrame): number {
  return frame.bytes >= 0 ? frame.bytes : UNENCODED_FRAME_BYTES;
}
