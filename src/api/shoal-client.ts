import { randomBytes } from 'node:crypto';
import type {
  GetOrLoadOptions,
  Loader,
  MsetOptions,
  ReadOptions,
  SetOptions,
  ShoalCache,
} from '../cluster/cache-api.js';
import { NotPrimaryError, NoViewError, StoppedError } from '../cluster/errors.js';
import {
  checkExpireTtl,
  checkIncrement,
  checkKey,
  isIdempotent,
  type KeyOp,
  mgetOps,
  mgetValues,
  msetOps,
  type OpResult,
} from '../cluster/key-ops.js';
import { LoadCaller } from '../cluster/load-caller.js';
import {
  CACHE_CHANNEL,
  type DecodedView,
  decodeView,
  encodeOp,
  isErrorReply,
} from '../cluster/messages.js';
import { decodeNodeStatus, type NodeStatusReport } from '../cluster/node-status.js';
import { Placement } from '../cluster/placement.js';
import { isRetryableCode } from '../cluster/remote-errors.js';
import {
  awaitsView,
  checkSetOptions,
  decodeOpReply,
  isRetryableFailure,
  lostReply,
  readFromAny,
  viewPollMs,
} from '../cluster/remote-ops.js';
import { encodeValue, readValue, type StoredValue } from '../cluster/value-codec.js';
import type { ClusterView, ViewMember } from '../cluster/view-source.js';
import { partitionOf } from '../ring/partitioner.js';
import { PeerUnavailableError } from '../transport/errors.js';
import type { NodeId, Transport } from '../transport/transport.js';
import type { WsTlsOptions } from '../transport/ws-options.js';
import { WsTransport } from '../transport/ws-transport.js';
import { InvalidArgumentError, ShoalError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { silentLogger } from '../util/logger.js';
import { realScheduler, type Scheduler } from '../util/scheduler.js';
import { ConfigPoller, DEFAULT_CONFIG_POLL_MS } from './config-poller.js';

/** Options of the routing core of a client, whatever its transport. */
export interface ShoalClientRoutingOptions {
  /** Largest encoded value sent (the cluster enforces its own limit too). Default 1 MiB. */
  readonly maxValueBytes?: number;
  /** Timeout of one request to a node. Default 5000 ms. */
  readonly requestTimeoutMs?: number;
  /** Overall budget of one operation, retries included. Default 10000 ms. */
  readonly operationTimeoutMs?: number;
  /** Retries after redirects and refusals that prove non-application. Default 8. */
  readonly maxRetries?: number;
  /** Pause before a retry that no newer view explains (grows per attempt). Default 20 ms. */
  readonly retryBackoffMs?: number;
  /** How long `connect` keeps trying the seeds for a first view. Default 10000 ms. */
  readonly connectTimeoutMs?: number;
  /** Timers; default the real event loop (simulations pass their scheduler). */
  readonly scheduler?: Scheduler;
  readonly logger?: Logger;
  /** How often `config.watch` reads the watched keys. Default 1000 ms. */
  readonly configPollMs?: number;
}

/** Options of {@link ShoalClient.connect}. */
export interface ShoalClientOptions extends ShoalClientRoutingOptions {
  /**
   * Where to ask for the cluster's view: `id=ws://host:port` (the node's id and
   * address), or a bare `ws://host:port` whose id is asked for over HTTP
   * (`GET /shoal/id` on the same port).
   */
  readonly seeds: readonly string[];
  /** The cluster secret; the client is then trusted as a node. Give this or `clientSecret`. */
  readonly secret?: string | Buffer;
  /**
   * The client credential the nodes were started with (`clientSecret`): the client
   * may then only run cache operations and read the view, status and config.
   */
  readonly clientSecret?: string | Buffer;
  /** This client's id on the wire; default `client-<random>`. */
  readonly id?: string;
  /** CA certificates to trust for `wss` seeds. */
  readonly tls?: WsTlsOptions;
}

/** Most seeds accepted. */
const MAX_SEEDS = 64;
const MIB = 1024 * 1024;

interface ResolvedRouting {
  maxValueBytes: number;
  requestTimeoutMs: number;
  operationTimeoutMs: number;
  maxRetries: number;
  retryBackoffMs: number;
  connectTimeoutMs: number;
  scheduler: Scheduler;
  logger: Logger;
  configPollMs: number;
}

function resolveRouting(options: ShoalClientRoutingOptions): ResolvedRouting {
  const positive = (name: string, value: number | undefined, fallback: number): number => {
    const resolved = value ?? fallback;
    if (!Number.isSafeInteger(resolved) || resolved < 1) {
      throw new InvalidArgumentError(`${name} must be a positive integer, got ${String(value)}`);
    }
    return resolved;
  };
  const maxRetries = options.maxRetries ?? 8;
  if (!Number.isSafeInteger(maxRetries) || maxRetries < 0) {
    throw new InvalidArgumentError('maxRetries must be a non-negative integer');
  }
  return {
    maxValueBytes: positive('maxValueBytes', options.maxValueBytes, MIB),
    requestTimeoutMs: positive('requestTimeoutMs', options.requestTimeoutMs, 5_000),
    operationTimeoutMs: positive('operationTimeoutMs', options.operationTimeoutMs, 10_000),
    maxRetries,
    retryBackoffMs: positive('retryBackoffMs', options.retryBackoffMs, 20),
    connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs, 10_000),
    scheduler: options.scheduler ?? realScheduler,
    logger: options.logger ?? silentLogger,
    configPollMs: positive('configPollMs', options.configPollMs, DEFAULT_CONFIG_POLL_MS),
  };
}

/**
 * A thin client of a shoal cluster: it holds no data, only the partition table of
 * the latest view it has seen, and sends each operation straight to the key's primary
 * (mget/mset: one request per primary). A node that is no longer the primary
 * redirects it with its newer view, and the client retries transparently (bounded).
 *
 * Retries happen only when the answer proves the operation was not applied, or for
 * reads. A write whose connection is lost after it was sent fails with
 * `OutcomeUnknownError`: the client never re-sends it on its own.
 */
export class ShoalClient implements ShoalCache {
  private readonly transport: Transport;
  private readonly ownsTransport: boolean;
  private readonly options: ResolvedRouting;
  private placement: Placement | undefined;
  private readonly seeds: ViewMember[];
  private refreshing: Promise<void> | undefined;
  private stopped = false;
  private anyCursor = 0;
  private readonly configPoller: ConfigPoller;
  private loadCaller: LoadCaller | undefined;
  private loadTokens = 0;

  private constructor(
    transport: Transport,
    ownsTransport: boolean,
    seeds: readonly ViewMember[],
    options: ResolvedRouting,
  ) {
    this.transport = transport;
    this.ownsTransport = ownsTransport;
    this.seeds = [...seeds];
    this.options = options;
    this.configPoller = new ConfigPoller(
      (key) => this.config.get(key),
      options.scheduler,
      options.logger,
      options.configPollMs,
    );
  }

  /** Connects to a cluster through its seeds and fetches the first view. */
  static async connect(options: ShoalClientOptions): Promise<ShoalClient> {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError('ShoalClient.connect needs options');
    }
    if ((options.secret === undefined) === (options.clientSecret === undefined)) {
      throw new InvalidArgumentError(
        'ShoalClient.connect needs exactly one of secret, clientSecret',
      );
    }
    const routing = resolveRouting(options);
    const seeds = await resolveSeeds(options.seeds, routing.connectTimeoutMs);
    const transport = WsTransport.client({
      id: options.id ?? `client-${randomBytes(6).toString('hex')}`,
      ...(options.clientSecret === undefined
        ? { secret: options.secret ?? '' }
        : { secret: options.clientSecret, role: 'client' as const }),
      ...(options.tls === undefined ? {} : { tls: options.tls }),
      logger: routing.logger,
    });
    const client = new ShoalClient(transport, true, seeds, routing);
    try {
      await client.start();
    } catch (error) {
      await transport.close();
      throw error;
    }
    return client;
  }

  /**
   * A client over a transport the caller owns (a simulation's, or a shared one), with
   * seeds given as member ids and addresses. `stop` does not close the transport.
   */
  static async over(
    transport: Transport,
    seeds: readonly ViewMember[],
    options: ShoalClientRoutingOptions = {},
  ): Promise<ShoalClient> {
    const client = new ShoalClient(transport, false, seeds, resolveRouting(options));
    await client.start();
    return client;
  }

  /** The view this client routes by. */
  view(): ClusterView | undefined {
    const placement = this.placement;
    return placement === undefined
      ? undefined
      : { epoch: placement.epoch, members: placement.members };
  }

  /**
   * Asks one member (by id, from the view or the seeds) for its coordinator state and
   * cache counts. Throws `InvalidArgumentError` for an id this client does not know.
   */
  async nodeStatus(nodeId: string): Promise<NodeStatusReport> {
    if (this.stopped) throw new StoppedError();
    const known =
      this.placement?.members.some((member) => member.id === nodeId) === true ||
      this.seeds.some((seed) => seed.id === nodeId);
    if (!known) throw new InvalidArgumentError(`no member "${nodeId}" in this client's view`);
    const reply = await this.transport.request(
      nodeId,
      CACHE_CHANNEL,
      { t: 'status' },
      { timeoutMs: this.options.requestTimeoutMs },
    );
    if (isErrorReply(reply)) throw new ShoalError(reply.c, reply.m);
    return decodeNodeStatus((reply as { status?: unknown }).status);
  }

  /**
   * The cluster-wide config, read and written through a member's coordinator.
   * `set` with `ifVersion` is a compare-and-set (0: the key must not exist); a failed
   * one rejects with code `ERR_COORD_VERSION_CONFLICT` and changes nothing.
   */
  readonly config = {
    get: (key: string): Promise<ConfigEntry> => this.configRequest({ t: 'configGet', key }),
    set: async (
      key: string,
      value: unknown,
      options: { ifVersion?: number } = {},
    ): Promise<{ version: number }> => {
      const request =
        options.ifVersion === undefined
          ? { t: 'configSet', key, value }
          : { t: 'configSet', key, value, ifVersion: options.ifVersion };
      const { version } = await this.configRequest(request);
      return { version };
    },
    /**
     * Calls `fn(value, version)` with `key`'s current value (if it was ever set), then
     * whenever it moves to a newer version; returns the unsubscribe. A client has no
     * copy of the log, so it reads the key every `configPollMs`: it may skip versions
     * committed between two reads, but never reports an older one after a newer one.
     */
    watch: (key: string, fn: (value: unknown, version: number) => void): (() => void) =>
      this.configPoller.watch(key, fn),
  };

  get<V = unknown>(key: string, options?: ReadOptions): Promise<V | undefined> {
    // Not `async`: each promise layer costs allocations and microtask hops per
    // operation, and at 50 in flight the client's CPU per operation bounds throughput.
    let op: KeyOp;
    try {
      checkKey(key);
      op = { kind: 'get', key, fromAnyOwner: readFromAny(options) };
    } catch (error) {
      return Promise.reject(error);
    }
    return this.execute(op).then(readGetResult<V>);
  }

  async has(key: string, options?: ReadOptions): Promise<boolean> {
    checkKey(key);
    return (await this.execute({
      kind: 'has',
      key,
      fromAnyOwner: readFromAny(options),
    })) as boolean;
  }

  async ttl(key: string, options?: ReadOptions): Promise<number> {
    checkKey(key);
    return (await this.execute({ kind: 'ttl', key, fromAnyOwner: readFromAny(options) })) as number;
  }

  set(key: string, value: unknown, options: SetOptions = {}): Promise<boolean> {
    let op: KeyOp;
    try {
      checkKey(key);
      const { ttlMs, nx, xx } = checkSetOptions(options);
      const stored = encodeValue(value, this.options.maxValueBytes);
      op = { kind: 'set', key, value: stored, ttlMs, nx, xx };
    } catch (error) {
      return Promise.reject(error);
    }
    return this.execute(op) as Promise<boolean>;
  }

  async delete(key: string): Promise<boolean> {
    checkKey(key);
    return (await this.execute({ kind: 'del', key })) as boolean;
  }

  async expire(key: string, ttlMs: number | null): Promise<boolean> {
    checkKey(key);
    checkExpireTtl(ttlMs);
    return (await this.execute({ kind: 'expire', key, ttlMs })) as boolean;
  }

  async incr(key: string, by = 1): Promise<number> {
    checkKey(key);
    checkIncrement(by);
    return (await this.execute({ kind: 'incr', key, by })) as number;
  }

  async mget<V = unknown>(
    keys: readonly string[],
    options?: ReadOptions,
  ): Promise<(V | undefined)[]> {
    return mgetValues<V>(await this.executeBatch(mgetOps(keys, readFromAny(options))));
  }

  async mset(
    entries: Iterable<readonly [string, unknown]>,
    options: MsetOptions = {},
  ): Promise<void> {
    const ops = msetOps(entries, options.ttlMs, this.options.maxValueBytes);
    await this.executeBatch(ops);
  }

  /** See {@link ShoalCache.getOrLoad}: the loader runs once in the whole cluster per miss. */
  getOrLoad<V = unknown>(
    key: string,
    loader: Loader<V>,
    options?: GetOrLoadOptions,
  ): Promise<V | undefined> {
    return this.loadCallerOnce().getOrLoad(key, loader, options);
  }

  /** Stops the client; closes its connections if it opened them. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.configPoller.close();
    if (this.ownsTransport) await this.transport.close();
  }

  // ---- views ------------------------------------------------------------------------

  private async start(): Promise<void> {
    if (this.seeds.length === 0) throw new InvalidArgumentError('at least one seed is needed');
    for (const seed of this.seeds) this.transport.addPeer(seed.id, seed.address);
    const deadline = this.options.scheduler.now() + this.options.connectTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      await this.refreshView();
      if (this.placement !== undefined) {
        await this.awaitConnections(deadline);
        return;
      }
      if (this.options.scheduler.now() >= deadline) {
        throw new NoViewError('client', this.options.connectTimeoutMs);
      }
      await this.sleep(Math.min(this.options.retryBackoffMs * 2 ** Math.min(attempt, 6), 1000));
    }
  }

  /**
   * Waits (until `deadline` at most) for connections to every member, so the first
   * operations do not all fall back from their batch for want of a socket.
   */
  private async awaitConnections(deadline: number): Promise<void> {
    const members = this.placement?.members ?? [];
    for (let attempt = 0; this.options.scheduler.now() < deadline; attempt++) {
      if (members.every((member) => this.transport.isConnected(member.id))) return;
      await this.sleep(Math.min(this.options.retryBackoffMs * 2 ** Math.min(attempt, 4), 200));
    }
  }

  /** Adopts `view` if it is newer than the one held. */
  private adopt({ view, replicationFactor, vnodes }: DecodedView): void {
    if (this.placement !== undefined && view.epoch <= this.placement.epoch) return;
    let next: Placement;
    try {
      next = Placement.of(view, replicationFactor, vnodes);
    } catch (error) {
      this.options.logger.warn('ignoring a view that cannot be placed', {
        reason: error instanceof Error ? error.message : String(error),
      });
      return;
    }
    const previous = this.placement;
    this.placement = next;
    for (const member of next.members) this.transport.addPeer(member.id, member.address);
    if (previous !== undefined) {
      for (const member of previous.members) {
        const isSeed = this.seeds.some((seed) => seed.id === member.id);
        if (!next.isMember(member.id) && !isSeed) this.transport.removePeer(member.id);
      }
    }
  }

  /** Asks members (then seeds) for their view until one answers; one refresh at a time. */
  private refreshView(): Promise<void> {
    this.refreshing ??= this.askForView().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async askForView(): Promise<void> {
    const candidates = new Map<NodeId, ViewMember>();
    for (const member of this.placement?.members ?? []) candidates.set(member.id, member);
    for (const seed of this.seeds) candidates.set(seed.id, seed);
    for (const candidate of candidates.values()) {
      if (this.stopped) return;
      try {
        const reply = await this.transport.request(
          candidate.id,
          CACHE_CHANNEL,
          { t: 'view' },
          { timeoutMs: this.options.requestTimeoutMs },
        );
        if (isErrorReply(reply)) continue;
        this.adopt(decodeView((reply as { view?: unknown }).view));
        return;
      } catch {
        // Try the next one.
      }
    }
  }

  /**
   * Sends a config request to the members in turn until one answers; a refusal with a
   * code (a CAS conflict, a bad key) is final.
   */
  private async configRequest(request: Record<string, unknown>): Promise<ConfigEntry> {
    if (this.stopped) throw new StoppedError();
    if (typeof request.key !== 'string')
      throw new InvalidArgumentError('config key must be a string');
    const candidates = new Map<NodeId, ViewMember>();
    for (const member of this.placement?.members ?? []) candidates.set(member.id, member);
    for (const seed of this.seeds) candidates.set(seed.id, seed);
    let lastError: unknown = new NoViewError('client', 0);
    for (const candidate of candidates.values()) {
      let reply: unknown;
      try {
        reply = await this.transport.request(candidate.id, CACHE_CHANNEL, request, {
          timeoutMs: this.options.operationTimeoutMs,
        });
      } catch (error) {
        lastError = error;
        continue;
      }
      if (isErrorReply(reply)) throw new ShoalError(reply.c, reply.m);
      return decodeConfigReply(reply);
    }
    throw lastError;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.options.scheduler.setTimeout(resolve, Math.max(0, ms)));
  }

  // ---- routing ----------------------------------------------------------------------

  /** How `getOrLoad` reaches a key's primary (built once); loads are coordinated there. */
  private loadCallerOnce(): LoadCaller {
    if (this.loadCaller !== undefined) return this.loadCaller;
    const nonce = randomBytes(4).toString('hex');
    const self = this.transport.localId;
    this.loadCaller = new LoadCaller({
      self,
      scheduler: this.options.scheduler,
      logger: this.options.logger,
      maxValueBytes: this.options.maxValueBytes,
      requestTimeoutMs: this.options.requestTimeoutMs,
      operationTimeoutMs: this.options.operationTimeoutMs,
      newToken: () => `${self}:${nonce}:${++this.loadTokens}`,
      locate: async (partition) => {
        if (this.stopped) throw new StoppedError();
        const placement = this.placement;
        if (placement === undefined) throw new NoViewError('client', 0);
        return {
          epoch: placement.epoch,
          primary: placement.primaryOf(partition),
          local: undefined,
        };
      },
      request: async (peer, message, timeoutMs) => {
        const reply = await this.transport.request(peer, CACHE_CHANNEL, message, { timeoutMs });
        this.adoptFrom(reply);
        return reply;
      },
      mayRetry: (error, attempt, epoch, deadline) => {
        const op: KeyOp = { kind: 'get', key: '', fromAnyOwner: false };
        return this.mayRetry(error, op, attempt, epoch, deadline, awaitsView(error, op));
      },
    });
    return this.loadCaller;
  }

  /**
   * The first attempt is plain promise chaining (one layer over the transport's
   * request); only a failed attempt enters the async retry loop.
   */
  private execute(op: KeyOp): Promise<OpResult> {
    const partition = partitionOf(op.key);
    const deadline = this.options.scheduler.now() + this.options.operationTimeoutMs;
    if (this.stopped) return Promise.reject(new StoppedError());
    const placement = this.placement;
    if (placement === undefined) return Promise.reject(new NoViewError('client', 0));
    const epoch = placement.epoch;
    const target = this.targetOf(op, partition, placement);
    return this.transport
      .request(
        target,
        CACHE_CHANNEL,
        { t: 'op', e: epoch, op: encodeOp(op) },
        { timeoutMs: this.options.requestTimeoutMs },
      )
      .then(
        (reply) => {
          try {
            this.adoptFrom(reply);
            return decodeOpReply(reply, op, target, partition);
          } catch (error) {
            return this.retry(op, partition, deadline, error, epoch);
          }
        },
        (error: unknown) => this.retry(op, partition, deadline, lostReply(error, op), epoch),
      );
  }

  /** After a failed first attempt: retries while {@link mayRetry} allows. */
  private async retry(
    op: KeyOp,
    partition: number,
    deadline: number,
    firstError: unknown,
    firstEpoch: number,
  ): Promise<OpResult> {
    // Waits for a view around an unreachable target are bounded by the deadline only.
    let attempt = 0;
    let waits = 0;
    let error = firstError;
    let epoch = firstEpoch;
    for (;;) {
      const waiting = awaitsView(error, op);
      const count = waiting ? waits++ : attempt++;
      if (!(await this.mayRetry(error, op, count, epoch, deadline, waiting))) throw error;
      if (this.stopped) throw new StoppedError();
      const placement = this.placement;
      if (placement === undefined) throw new NoViewError('client', 0);
      epoch = placement.epoch;
      const target = this.targetOf(op, partition, placement);
      try {
        return await this.send(target, partition, epoch, op);
      } catch (caught) {
        error = caught;
      }
    }
  }

  /** The primary, or for `readFrom: 'any'` the owners in turn. */
  private targetOf(op: KeyOp, partition: number, placement: Placement): NodeId {
    if (op.kind === 'get' || op.kind === 'has' || op.kind === 'ttl') {
      if (op.fromAnyOwner) {
        const owners = placement.ownersOf(partition);
        this.anyCursor = (this.anyCursor + 1) % owners.length;
        return owners[this.anyCursor]!;
      }
    }
    return placement.primaryOf(partition);
  }

  private async send(
    target: NodeId,
    partition: number,
    epoch: number,
    op: KeyOp,
  ): Promise<OpResult> {
    let reply: unknown;
    try {
      reply = await this.transport.request(
        target,
        CACHE_CHANNEL,
        { t: 'op', e: epoch, op: encodeOp(op) },
        { timeoutMs: this.options.requestTimeoutMs },
      );
    } catch (error) {
      throw lostReply(error, op);
    }
    this.adoptFrom(reply);
    return decodeOpReply(reply, op, target, partition);
  }

  /** A redirect may carry the responder's newer view. */
  private adoptFrom(reply: unknown): void {
    if (!isErrorReply(reply) || reply.view === undefined) return;
    try {
      this.adopt(decodeView(reply.view));
    } catch {
      // A malformed view is ignored; the client asks for one.
    }
  }

  private async mayRetry(
    error: unknown,
    op: KeyOp,
    attempt: number,
    epoch: number,
    deadline: number,
    waiting = false,
  ): Promise<boolean> {
    if (this.stopped || (!waiting && attempt >= this.options.maxRetries)) return false;
    const remaining = deadline - this.options.scheduler.now();
    if (remaining <= 0) return false;
    if (!isRetryableFailure(error, op)) return false;
    if ((this.placement?.epoch ?? -1) <= epoch) await this.refreshView();
    const advanced = (this.placement?.epoch ?? -1) > epoch;
    if (!advanced) {
      const hinted = error instanceof NotPrimaryError ? error.viewEpoch : epoch;
      if (waiting) {
        await this.sleep(Math.min(viewPollMs(this.options.retryBackoffMs, attempt), remaining));
      } else if (hinted <= epoch || attempt > 0) {
        await this.sleep(Math.min(this.options.retryBackoffMs * (attempt + 1), remaining));
      }
    }
    return true;
  }

  private async executeBatch(ops: readonly KeyOp[]): Promise<OpResult[]> {
    if (this.stopped) throw new StoppedError();
    const placement = this.placement;
    if (placement === undefined) throw new NoViewError('client', 0);
    const results: OpResult[] = new Array(ops.length);
    const byTarget = new Map<NodeId, number[]>();
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      const target = this.targetOf(op, partitionOf(op.key), placement);
      let list = byTarget.get(target);
      if (list === undefined) {
        list = [];
        byTarget.set(target, list);
      }
      list.push(i);
    }
    let firstError: unknown;
    const runOne = async (i: number): Promise<void> => {
      try {
        results[i] = await this.execute(ops[i]!);
      } catch (error) {
        firstError ??= error;
      }
    };
    const runGroup = async (target: NodeId, indexes: number[]): Promise<void> => {
      let reply: unknown;
      try {
        reply = await this.transport.request(
          target,
          CACHE_CHANNEL,
          { t: 'ops', e: placement.epoch, ops: indexes.map((i) => encodeOp(ops[i]!)) },
          { timeoutMs: this.options.requestTimeoutMs },
        );
      } catch (error) {
        const first = ops[indexes[0]!]!;
        if (isIdempotent(first) || (error instanceof PeerUnavailableError && !error.sent)) {
          await Promise.all(indexes.map(runOne));
        } else {
          firstError ??= lostReply(error, first);
        }
        return;
      }
      const replies = (reply as { rs?: unknown } | undefined)?.rs;
      if (isErrorReply(reply) || !Array.isArray(replies) || replies.length !== indexes.length) {
        await Promise.all(indexes.map(runOne));
        return;
      }
      const retry: number[] = [];
      for (let j = 0; j < indexes.length; j++) {
        const i = indexes[j]!;
        const op = ops[i]!;
        this.adoptFrom(replies[j]);
        try {
          results[i] = decodeOpReply(replies[j], op, target, partitionOf(op.key));
        } catch (error) {
          const code = error instanceof ShoalError ? error.code : '';
          if (isRetryableCode(code) || isIdempotent(op)) retry.push(i);
          else firstError ??= error;
        }
      }
      await Promise.all(retry.map(runOne));
    };
    await Promise.all([...byTarget].map(([target, indexes]) => runGroup(target, indexes)));
    if (firstError !== undefined) throw firstError;
    return results;
  }
}

/** Parses the seed list; bare URLs learn their node's id over HTTP. */
async function resolveSeeds(seeds: readonly string[], timeoutMs: number): Promise<ViewMember[]> {
  if (!Array.isArray(seeds) || seeds.length === 0 || seeds.length > MAX_SEEDS) {
    throw new InvalidArgumentError(`seeds must be a list of 1 to ${MAX_SEEDS} addresses`);
  }
  const members: ViewMember[] = [];
  for (const seed of seeds) {
    if (typeof seed !== 'string' || seed.length === 0) {
      throw new InvalidArgumentError('each seed must be a non-empty string');
    }
    const equals = seed.indexOf('=');
    if (equals > 0 && !seed.slice(0, equals).includes('/')) {
      members.push({ id: seed.slice(0, equals), address: seed.slice(equals + 1) });
      continue;
    }
    members.push({ id: await discoverId(seed, timeoutMs), address: seed });
  }
  return members;
}

/** A config key's committed value and version (0 and `undefined` when never set). */
export interface ConfigEntry {
  readonly value: unknown;
  readonly version: number;
}

function decodeConfigReply(reply: unknown): ConfigEntry {
  if (typeof reply !== 'object' || reply === null) {
    throw new InvalidArgumentError('malformed config reply');
  }
  const { ver, v } = reply as { ver?: unknown; v?: unknown };
  if (typeof ver !== 'number' || !Number.isSafeInteger(ver) || ver < 0) {
    throw new InvalidArgumentError('malformed config reply: version');
  }
  return { value: ver === 0 ? undefined : v, version: ver };
}

/** The path a node answers its id on, for clients given a bare seed URL. */
export const NODE_ID_PATH = '/shoal/id';

async function discoverId(address: string, timeoutMs: number): Promise<string> {
  let url: URL;
  try {
    url = new URL(address.includes('://') ? address : `ws://${address}`);
  } catch {
    throw new InvalidArgumentError(`seed ${address} is not a URL`);
  }
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  url.pathname = NODE_ID_PATH;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const id = (await response.text()).trim();
    if (!response.ok || id.length === 0 || id.length > 256)
      throw new Error(`HTTP ${response.status}`);
    return id;
  } catch (error) {
    throw new ShoalError(
      'ERR_SEED_UNREACHABLE',
      `cannot learn the node id of seed ${address} (${error instanceof Error ? error.message : String(error)}); give it as id=${address}`,
    );
  }
}

/** A `get` result as the caller sees it: the decoded value, or undefined on a miss. */
function readGetResult<V>(result: OpResult): V | undefined {
  return result === undefined ? undefined : (readValue(result as StoredValue) as V);
}
