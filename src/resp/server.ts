import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { type Clock, monotonicClock } from '../util/clock.js';
import { type Logger, silentLogger } from '../util/logger.js';
import type { RespBackend } from './backend.js';
import { RespConnection, type RespConnectionLimits } from './connection.js';
import { InvalidRespOptionError } from './errors.js';
import { checkParserLimits, DEFAULT_PARSER_LIMITS } from './parser.js';
import {
  type ClientSession,
  type RespMode,
  type RespServerContext,
  RespServerStats,
} from './session.js';

/** Every bound a {@link RespServer} enforces. */
export interface RespServerLimits extends RespConnectionLimits {
  /** Most connections open at once; further ones get Redis's error and are closed. */
  readonly maxClients: number;
}

/**
 * Defaults: the parser's (16 MiB bulks, 1 Mi args, 64 KiB inline lines, 64 MiB
 * buffered per connection), Redis's 10,000 clients, no idle timeout (as Redis),
 * 1 MiB of input queued behind a running command, 4 MiB of unsent replies.
 */
export const DEFAULT_SERVER_LIMITS: RespServerLimits = {
  ...DEFAULT_PARSER_LIMITS,
  maxClients: 10_000,
  idleTimeoutMs: 0,
  inputHighWaterBytes: 1024 * 1024,
  outputHighWaterBytes: 4 * 1024 * 1024,
};

/** Options of {@link RespServer}. */
export interface RespServerOptions {
  /** The cache the commands run against. */
  readonly backend: RespBackend;
  /** Address to bind; default `127.0.0.1`. */
  readonly host?: string;
  /** Port to bind; default 0 (an ephemeral port, see `port` after `listen`). */
  readonly port?: number;
  /** `cluster` (default) or `proxy`; see {@link RespMode}. */
  readonly mode?: RespMode;
  /**
   * Password AUTH / HELLO AUTH must present (any one of a list is accepted); none by
   * default.
   */
  readonly password?: string | Buffer | readonly (string | Buffer)[];
  /** Allow FLUSHALL / FLUSHDB (they empty the whole cache); default false. */
  readonly allowFlush?: boolean;
  /** Wall clock for EXPIREAT / EXAT / PXAT; default `Date.now`. */
  readonly wallClock?: Clock;
  /** Monotonic clock for ages and uptime; default `performance.now`. */
  readonly monotonicClock?: Clock;
  readonly logger?: Logger;
  readonly limits?: Partial<RespServerLimits>;
  /** Version reported as `shoal_version` in INFO; default: package.json's. */
  readonly shoalVersion?: string;
}

/** Redis's reply to a connection beyond `maxclients`. */
const MAX_CLIENTS_REPLY = '-ERR max number of clients reached\r\n';

const systemWallClock: Clock = { now: () => Date.now() };

function packageVersion(): string {
  try {
    const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && 'version' in parsed) {
      return String(parsed.version);
    }
  } catch {
    // Not found when bundled elsewhere; INFO then says so.
  }
  return 'unknown';
}

function passwordList(password: RespServerOptions['password']): readonly Buffer[] {
  if (password === undefined) return [];
  const list = typeof password === 'string' || Buffer.isBuffer(password) ? [password] : password;
  return list.map((entry) => Buffer.from(entry));
}

function checkServerLimits(limits: RespServerLimits): void {
  checkParserLimits(limits);
  const check = (name: string, value: number, minimum: number): void => {
    if (!Number.isSafeInteger(value) || value < minimum) {
      throw new InvalidRespOptionError(name, value, `an integer >= ${minimum}`);
    }
  };
  check('maxClients', limits.maxClients, 1);
  check('idleTimeoutMs', limits.idleTimeoutMs, 0);
  check('inputHighWaterBytes', limits.inputHighWaterBytes, 1);
  check('outputHighWaterBytes', limits.outputHighWaterBytes, 1);
}

/**
 * A Redis-protocol (RESP2/RESP3) server in front of a {@link RespBackend}, so
 * redis-cli, redis-benchmark, ioredis and other Redis clients work against shoal.
 */
export class RespServer {
  private readonly server: Server;
  private readonly host: string;
  private readonly requestedPort: number;
  private readonly limits: RespServerLimits;
  private readonly connections = new Set<RespConnection>();
  private readonly context: RespServerContext & { port: number };
  private nextClientId = 1;
  private closing: Promise<void> | undefined;

  constructor(options: RespServerOptions) {
    const limits = { ...DEFAULT_SERVER_LIMITS, ...options.limits };
    checkServerLimits(limits);
    const mode = options.mode ?? 'cluster';
    if (mode !== 'cluster' && mode !== 'proxy') {
      throw new InvalidRespOptionError('mode', mode, "'cluster' or 'proxy'");
    }
    this.limits = limits;
    this.host = options.host ?? '127.0.0.1';
    this.requestedPort = options.port ?? 0;
    const clock = options.monotonicClock ?? monotonicClock;
    const connections = this.connections;
    this.context = {
      backend: options.backend,
      mode,
      passwords: passwordList(options.password),
      allowFlush: options.allowFlush ?? false,
      wallClock: options.wallClock ?? systemWallClock,
      monotonicClock: clock,
      logger: options.logger ?? silentLogger,
      stats: new RespServerStats(),
      startedAtMs: clock.now(),
      port: 0,
      shoalVersion: options.shoalVersion ?? packageVersion(),
      runId: randomBytes(20).toString('hex'),
      maxClients: limits.maxClients,
      *sessions(): Iterable<ClientSession> {
        for (const connection of connections) yield connection.session;
      },
    };
    this.server = createServer((socket) => this.accept(socket));
  }

  /** The bound port (after `listen`). */
  get port(): number {
    return this.context.port;
  }

  /** Counters INFO reports, for embedding code and tests. */
  get stats(): RespServerStats {
    return this.context.stats;
  }

  /** Open connections. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Starts listening; resolves with the bound address. */
  listen(): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      this.server.once('error', onError);
      this.server.listen(this.requestedPort, this.host, () => {
        this.server.off('error', onError);
        const address = this.server.address();
        const port = typeof address === 'object' && address !== null ? address.port : 0;
        this.context.port = port;
        resolve({ host: this.host, port });
      });
    });
  }

  /** Stops accepting, closes every connection, and resolves once the listener is closed. */
  close(): Promise<void> {
    if (this.closing === undefined) {
      this.closing = new Promise((resolve) => {
        this.server.close(() => resolve());
        for (const connection of this.connections) connection.destroy();
        this.connections.clear();
      });
    }
    return this.closing;
  }

  private accept(socket: Socket): void {
    const stats = this.context.stats;
    stats.connectionsReceived++;
    if (this.closing !== undefined || this.connections.size >= this.limits.maxClients) {
      stats.connectionsRejected++;
      socket.on('error', () => {});
      socket.end(MAX_CLIENTS_REPLY);
      return;
    }
    const connection = new RespConnection(
      socket,
      this.nextClientId++,
      this.context,
      this.limits,
      (closed) => this.connections.delete(closed),
    );
    this.connections.add(connection);
  }
}
