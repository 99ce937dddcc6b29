import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type {
  GetOrLoadOptions,
  Loader,
  MsetOptions,
  ReadOptions,
  SetOptions,
  ShoalCache,
  WriteConcern,
} from '../cluster/cache-api.js';
import { CacheNode, type CacheNodeStats } from '../cluster/cache-node.js';
import type { CacheNodeOptions } from '../cluster/cache-node-options.js';
import { checkConfigWrite } from '../cluster/cluster-settings.js';
import type { ClusterView } from '../cluster/view-source.js';
import {
  Coordinator,
  type CoordinatorConfig,
  type CoordinatorStatus,
  type CoordinatorVoter,
} from '../coord/coordinator.js';
import { FileStorage } from '../coord/file-storage.js';
import type { RespServer } from '../resp/server.js';
import type { WsTlsOptions } from '../transport/ws-options.js';
import type { WsTransportStats } from '../transport/ws-stats.js';
import { WsTransport } from '../transport/ws-transport.js';
import { parseByteSize } from '../util/byte-size.js';
import { InvalidArgumentError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { silentLogger } from '../util/logger.js';
import { PROMETHEUS_CONTENT_TYPE, renderMetrics } from './metrics.js';
import { checkRespOptions, type ShoalRespOptions, startRespEndpoint } from './resp-endpoint.js';
import { NODE_ID_PATH } from './shoal-client.js';

/** Timing of the embedded coordinator (defaults suit a LAN; see `coord/timing.ts`). */
export interface ShoalCoordinatorTiming {
  readonly tickMs?: number;
  readonly heartbeatTicks?: number;
  readonly electionTimeoutTicks?: number;
  readonly sessionTimeoutTicks?: number;
  /** Removal of a member whose connection closed (a dead process); see `coord/timing.ts`. */
  readonly disconnectGraceTicks?: number;
}

/** Options of {@link Shoal.start} (with `respPort` and friends, see {@link ShoalRespOptions}). */
export interface ShoalOptions extends ShoalRespOptions {
  /** This node's id; default `node-<random>`. Ids, not addresses, identify nodes. */
  readonly id?: string;
  /** Interface to listen on. Default `127.0.0.1`. */
  readonly host?: string;
  /** Port to listen on; 0 (default) picks a free one. */
  readonly port?: number;
  /** The cluster secret: every node must know it; clients given it are trusted as nodes. */
  readonly secret: string | Buffer;
  /**
   * The client credential: a `ShoalClient` connecting with `clientSecret` proves it
   * instead of the cluster secret and may only run cache operations and read the
   * view, status and config. Without it, clients need the cluster secret. Must
   * differ from `secret`.
   */
  readonly clientSecret?: string | Buffer;
  /**
   * The coordinator's voters, as `id=host:port` (or `id=ws://host:port`) strings or
   * `{ id, address }`: each address is where THIS node dials that voter. Default: this
   * node alone (an ensemble of one). A node not listed joins as a learner.
   */
  readonly voters?: readonly (string | CoordinatorVoter)[];
  /** What other nodes dial to reach this one. Default the listening URL. */
  readonly advertisedAddress?: string;
  /** Owners per partition; every node of a cluster must agree. Default 2. */
  readonly replicationFactor?: number;
  /** Default `all`. */
  readonly writeConcern?: WriteConcern;
  /** Most bytes the store holds: bytes or text such as `256mb`. Default 256 MiB. */
  readonly maxMemory?: number | string;
  /** Most entries the store holds. Default 4,000,000. */
  readonly maxEntries?: number;
  /** Largest encoded value accepted. Default 1 MiB. */
  readonly maxValueBytes?: number;
  /** TTL of a `set` without one, in ms; 0 (default) means no expiry. */
  readonly defaultTtlMs?: number;
  /**
   * Fraction in [0, 1] (default 0): each `set`'s TTL is drawn uniformly from
   * `[ttl * (1 - ttlJitter), ttl]`, so keys written together do not expire together.
   */
  readonly ttlJitter?: number;
  /** Where the coordinator persists its log; without it a restart forgets it (see coord). */
  readonly dataDir?: string;
  /** TLS certificate to listen with `wss`, and CAs to trust when dialing. */
  readonly tls?: WsTlsOptions;
  /** How long to wait for this node to be in the committed view. Default 15000 ms. */
  readonly joinTimeoutMs?: number;
  readonly coordinator?: ShoalCoordinatorTiming;
  /** Advanced cache-node tuning (timeouts, handoff chunk sizes); see `CacheNodeOptions`. */
  readonly tuning?: Partial<
    Omit<
      CacheNodeOptions,
      | 'transport'
      | 'viewSource'
      | 'scheduler'
      | 'logger'
      | 'maxMemoryBytes'
      | 'maxEntries'
      | 'maxValueBytes'
      | 'replicationFactor'
      | 'writeConcern'
      | 'defaultTtlMs'
      | 'ttlJitter'
    >
  >;
  readonly logger?: Logger;
}

/** Entry point for member nodes. */
export const Shoal = {
  /**
   * Starts a member node embedded in this process: listens on WebSockets, joins the
   * coordinator ensemble, waits until it is in the committed view, and serves the
   * cache API. Keys it owns are served from its own memory.
   */
  async start(options: ShoalOptions): Promise<ShoalNode> {
    return ShoalNode.start(options);
  },
};

/** A running member node: the cache API plus status, config and stop. */
export class ShoalNode implements ShoalCache {
  readonly id: string;
  /** `ws://host:port` (or `wss://`) this node listens on. */
  readonly url: string;
  /**
   * The cluster-wide config (read, set with compare-and-set, watch), agreed through
   * the coordinator. `defaultTtlMs`, `ttlJitter`, `maxValueBytes`, `maxMemory` and
   * `writeConcern` take effect on every node in commit order; `set` refuses an invalid
   * value for them (and `replicationFactor`) with `InvalidSettingError`. Other keys are
   * the application's own.
   */
  readonly config: CoordinatorConfig;
  private readonly transport: WsTransport;
  private readonly coordinator: Coordinator;
  private readonly cache: CacheNode;
  private resp: RespServer | undefined;
  private stopping: Promise<void> | undefined;

  private constructor(transport: WsTransport, coordinator: Coordinator, cache: CacheNode) {
    this.transport = transport;
    this.coordinator = coordinator;
    this.cache = cache;
    this.id = transport.localId;
    this.url = transport.url;
    const config = coordinator.config;
    this.config = {
      ...config,
      set: async (key, value, options) => {
        checkConfigWrite(key, value);
        return config.set(key, value, options);
      },
    };
  }

  /** See {@link Shoal.start}. */
  static async start(options: ShoalOptions): Promise<ShoalNode> {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError('Shoal.start needs options');
    }
    checkRespOptions(options);
    const logger = options.logger ?? silentLogger;
    const id = options.id ?? `node-${randomBytes(4).toString('hex')}`;
    const maxMemoryBytes =
      options.maxMemory === undefined ? undefined : parseByteSize(options.maxMemory, 'maxMemory');
    const transport = await WsTransport.listen({
      id,
      secret: options.secret,
      ...(options.clientSecret === undefined ? {} : { clientSecret: options.clientSecret }),
      ...(options.host === undefined ? {} : { host: options.host }),
      ...(options.port === undefined ? {} : { port: options.port }),
      ...(options.tls === undefined ? {} : { tls: options.tls }),
      logger,
    });
    let started: ShoalNode | undefined;
    transport.setHttpHandler((request, response) => serveHttp(id, started, request, response));
    let storage: FileStorage | undefined;
    let coordinator: Coordinator | undefined;
    try {
      const advertisedAddress = options.advertisedAddress ?? transport.url;
      const voters = parseVoters(options.voters, id, advertisedAddress);
      if (options.dataDir !== undefined)
        storage = await FileStorage.open(options.dataDir, { logger });
      const timing = options.coordinator ?? {};
      coordinator = await Coordinator.start({
        id,
        voters,
        advertisedAddress,
        transport,
        logger,
        ...(storage === undefined ? {} : { storage }),
        ...definedOnly(timing),
      });
      await coordinator.whenJoined(options.joinTimeoutMs ?? 15_000);
      const cache = new CacheNode({
        ...options.tuning,
        transport,
        viewSource: coordinator,
        logger,
        ...(maxMemoryBytes === undefined ? {} : { maxMemoryBytes }),
        ...(options.maxEntries === undefined ? {} : { maxEntries: options.maxEntries }),
        ...(options.maxValueBytes === undefined ? {} : { maxValueBytes: options.maxValueBytes }),
        ...(options.replicationFactor === undefined
          ? {}
          : { replicationFactor: options.replicationFactor }),
        ...(options.writeConcern === undefined ? {} : { writeConcern: options.writeConcern }),
        ...(options.defaultTtlMs === undefined ? {} : { defaultTtlMs: options.defaultTtlMs }),
        ...(options.ttlJitter === undefined ? {} : { ttlJitter: options.ttlJitter }),
      });
      logger.info('shoal node started', { id, url: transport.url, voters: voters.length });
      const node = new ShoalNode(transport, coordinator, cache);
      if (options.respPort !== undefined) {
        try {
          node.resp = await startRespEndpoint(
            { ...options, respPort: options.respPort },
            {
              cache,
              config: coordinator.config,
              secret: options.secret,
              host: options.host,
              advertisedAddress,
              logger,
            },
          );
        } catch (error) {
          await cache.stop();
          throw error;
        }
      }
      started = node;
      return started;
    } catch (error) {
      if (coordinator !== undefined) await coordinator.stop();
      else await storage?.close();
      await transport.close();
      throw error;
    }
  }

  get<V = unknown>(key: string, options?: ReadOptions): Promise<V | undefined> {
    return this.cache.get<V>(key, options);
  }

  set(key: string, value: unknown, options?: SetOptions): Promise<boolean> {
    return this.cache.set(key, value, options);
  }

  delete(key: string): Promise<boolean> {
    return this.cache.delete(key);
  }

  has(key: string, options?: ReadOptions): Promise<boolean> {
    return this.cache.has(key, options);
  }

  ttl(key: string, options?: ReadOptions): Promise<number> {
    return this.cache.ttl(key, options);
  }

  expire(key: string, ttlMs: number | null): Promise<boolean> {
    return this.cache.expire(key, ttlMs);
  }

  incr(key: string, by?: number): Promise<number> {
    return this.cache.incr(key, by);
  }

  mget<V = unknown>(keys: readonly string[], options?: ReadOptions): Promise<(V | undefined)[]> {
    return this.cache.mget<V>(keys, options);
  }

  mset(entries: Iterable<readonly [string, unknown]>, options?: MsetOptions): Promise<void> {
    return this.cache.mset(entries, options);
  }

  /** See {@link ShoalCache.getOrLoad}: the loader runs once in the whole cluster per miss. */
  getOrLoad<V = unknown>(
    key: string,
    loader: Loader<V>,
    options?: GetOrLoadOptions,
  ): Promise<V | undefined> {
    return this.cache.getOrLoad<V>(key, loader, options);
  }

  /** Cache counters, partitions by role, replication and handoff progress. */
  stats(): CacheNodeStats {
    return this.cache.stats();
  }

  /** Connection counters: frames, auth failures, refusals, backpressure drops. */
  transportStats(): WsTransportStats {
    return this.transport.stats();
  }

  /** The coordinator's state: role, leader, epochs, members. */
  status(): CoordinatorStatus {
    return this.coordinator.status();
  }

  /** The committed view this node routes by. */
  view(): ClusterView | undefined {
    return this.cache.view();
  }

  /** This node's role for `key`'s partition. */
  roleOf(key: string): 'primary' | 'backup' | 'none' {
    return this.cache.roleOf(key);
  }

  /** The port of this node's RESP (Redis protocol) server, or `undefined` without one. */
  get respPort(): number | undefined {
    return this.resp?.port;
  }

  /** Whether every partition this node owns is in sync. */
  isSettled(): boolean {
    return this.cache.isSettled();
  }

  /**
   * Hands the partitions only this node holds (replication factor 1) to their next
   * owners, stops serving, leaves the cluster (the coordinator commits the leave, so
   * the other owners take over at once instead of after a session timeout), and closes
   * the listener. Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.resp?.close();
      await this.cache.drain();
      await this.cache.stop();
      await this.coordinator.stop();
      await this.transport.close();
    })();
    return this.stopping;
  }
}

/** Where a node answers its status as JSON (counts and states only, no keys or values). */
export const NODE_STATUS_PATH = '/shoal/status';

/** Where a node answers whether it can serve: 200 when in the view with quorum, else 503. */
export const NODE_HEALTH_PATH = '/healthz';

/** Where a node answers its counters and gauges in Prometheus text format 0.0.4. */
export const NODE_METRICS_PATH = '/metrics';

/** Why a node is healthy or not, as `/healthz` answers it. */
export interface NodeHealth {
  readonly status: 'ok' | 'unavailable';
  /** Set when unavailable: what is missing. */
  readonly reason?: 'starting' | 'not in view' | 'no quorum';
}

/** Whether `node` can serve: started, a member of the view it applies, with a quorum. */
export function nodeHealth(node: ShoalNode | undefined): NodeHealth {
  if (node === undefined) return { status: 'unavailable', reason: 'starting' };
  const view = node.view();
  if (view === undefined || !view.members.some((member) => member.id === node.id)) {
    return { status: 'unavailable', reason: 'not in view' };
  }
  if (!node.status().hasQuorum) return { status: 'unavailable', reason: 'no quorum' };
  return { status: 'ok' };
}

/** Answers the non-WebSocket requests on the node's port. */
function serveHttp(
  id: string,
  node: ShoalNode | undefined,
  request: IncomingMessage,
  response: ServerResponse,
): void {
  if (request.method === 'GET' && request.url === NODE_ID_PATH) {
    response.writeHead(200, { 'content-type': 'text/plain' });
    response.end(id);
    return;
  }
  if (request.method === 'GET' && request.url === NODE_STATUS_PATH && node !== undefined) {
    const view = node.view();
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({
        id,
        viewEpoch: view?.epoch ?? -1,
        members: view?.members.map((member) => member.id) ?? [],
        settled: node.isSettled(),
        stats: node.stats(),
      }),
    );
    return;
  }
  if (request.method === 'GET' && request.url === NODE_HEALTH_PATH) {
    const health = nodeHealth(node);
    response.writeHead(health.status === 'ok' ? 200 : 503, { 'content-type': 'application/json' });
    response.end(JSON.stringify(health));
    return;
  }
  if (request.method === 'GET' && request.url === NODE_METRICS_PATH && node !== undefined) {
    response.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE });
    response.end(renderMetrics(node.stats(), node.status()));
    return;
  }
  response.writeHead(404, { 'content-type': 'text/plain' });
  response.end('not found');
}

/** Reads `id=address` strings and objects; default: this node alone. */
function parseVoters(
  voters: ShoalOptions['voters'],
  id: string,
  advertisedAddress: string,
): CoordinatorVoter[] {
  if (voters === undefined || voters.length === 0) return [{ id, address: advertisedAddress }];
  if (!Array.isArray(voters)) throw new InvalidArgumentError('voters must be a list');
  return voters.map((voter) => {
    if (typeof voter === 'string') {
      const equals = voter.indexOf('=');
      if (equals <= 0 || equals === voter.length - 1) {
        throw new InvalidArgumentError(`voter "${voter}" must look like id=host:port`);
      }
      return { id: voter.slice(0, equals), address: voter.slice(equals + 1) };
    }
    if (typeof voter !== 'object' || voter === null || typeof voter.id !== 'string') {
      throw new InvalidArgumentError('each voter must be "id=host:port" or { id, address }');
    }
    return { id: voter.id, address: voter.address };
  });
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(value).filter(([, field]) => field !== undefined),
  ) as Partial<T>;
}
