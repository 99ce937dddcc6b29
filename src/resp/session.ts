import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import type { RespBackend } from './backend.js';
import type { ReplyWriter } from './reply-writer.js';

/**
 * How the front end treats keys other nodes own.
 * - `cluster`: like a Redis Cluster node: `-MOVED` for keys served elsewhere,
 *   `-ASK` during handoffs, `-CROSSSLOT` for multi-key commands over several slots.
 * - `proxy`: like a standalone Redis in front of the whole cache: every key is
 *   served here (the backend forwards to the owner), multi-key commands may span
 *   slots (applied per key), and CLUSTER commands are disabled as on a standalone
 *   Redis.
 */
export type RespMode = 'cluster' | 'proxy';

/** Counters INFO reports; owned by the server, updated by connections and commands. */
export class RespServerStats {
  connectionsReceived = 0;
  connectionsRejected = 0;
  commandsProcessed = 0;
  netInputBytes = 0;
  netOutputBytes = 0;
  keyspaceHits = 0;
  keyspaceMisses = 0;
  errorReplies = 0;
}

/** The Redis version clients are told they talk to: the command set matches Redis 7.0. */
export const REDIS_COMPAT_VERSION = '7.0.0';

/** What every command on every connection of one server shares. */
export interface RespServerContext {
  readonly backend: RespBackend;
  readonly mode: RespMode;
  /** The passwords AUTH/HELLO accept (any one of them); empty when none is required. */
  readonly passwords: readonly Buffer[];
  /** Whether FLUSHALL/FLUSHDB are allowed (off by default: they wipe the whole cache). */
  readonly allowFlush: boolean;
  /** Wall-clock milliseconds since the epoch, for EXPIREAT/EXAT/PXAT only. */
  readonly wallClock: Clock;
  /** Monotonic milliseconds, for ages, idle times and uptime. */
  readonly monotonicClock: Clock;
  readonly logger: Logger;
  readonly stats: RespServerStats;
  /** Monotonic time the server started. */
  readonly startedAtMs: number;
  /** The port the server listens on (0 before it listens). */
  readonly port: number;
  /** shoal's version, reported next to the Redis version clients expect. */
  readonly shoalVersion: string;
  /** A random 40-hex-character id of this server run (INFO run_id). */
  readonly runId: string;
  /** Most connections served at once; more are refused. */
  readonly maxClients: number;
  /** The sessions of every open connection. */
  sessions(): Iterable<ClientSession>;
}

/** Per-connection state, as Redis keeps it per client. */
export interface ClientSession {
  /** Unique, increasing per server (CLIENT ID). */
  readonly id: number;
  readonly server: RespServerContext;
  readonly writer: ReplyWriter;
  readonly remoteAddress: string;
  readonly localAddress: string;
  /** Monotonic time the connection was accepted. */
  readonly createdAtMs: number;
  /** Monotonic time the last command started. */
  lastCommandAtMs: number;
  /** Full name of the last command run (`client|info`), for CLIENT INFO. */
  lastCommandName: string;
  /** CLIENT SETNAME; empty when unset. */
  name: string;
  /** CLIENT SETINFO LIB-NAME / LIB-VER. */
  libName: string;
  libVersion: string;
  /** False until AUTH/HELLO succeeds, when a password is configured. */
  authenticated: boolean;
  /** Set by ASKING for the next command only. */
  asking: boolean;
  /** Set by READONLY, cleared by READWRITE. */
  readOnly: boolean;
  /** Set by QUIT: close once the pending replies are written. */
  closeAfterReply: boolean;
}
