import { pack, unpack } from 'msgpackr';
import { PeerUnavailableError, RemoteError, RequestTimeoutError } from '../transport/errors.js';
import type { Message, NodeId, Transport } from '../transport/transport.js';
import { invariant } from '../util/assert.js';
import { InvalidArgumentError, ShoalError } from '../util/errors.js';
import { type Logger, silentLogger } from '../util/logger.js';
import { type Random, systemRandom } from '../util/random.js';
import { realScheduler, type Scheduler, type TimerHandle } from '../util/scheduler.js';
import type { ApplyResult, View } from './cluster-state.js';
import { CoordinatorCore, type CoreLimits } from './core.js';
import {
  type ConfigSetEntry,
  isConfigKey,
  isNodeId,
  isVersion,
  type LogEntry,
  parseEntryData,
} from './entries.js';
import {
  ConfigFullError,
  ConfigVersionConflictError,
  CoordBusyError,
  CoordNoQuorumError,
  CoordOutcomeUnknownError,
  CoordStoppedError,
  CoordTimeoutError,
  NotLeaderError,
  ProposalDroppedError,
} from './errors.js';
import { type CommittedEntry, type CoordRole, mustPersist, type Ready } from './ready.js';
import type { CoordStorage, PersistedMeta, PersistedSnapshot } from './storage.js';
import { DEFAULT_TICK_MS, resolveTiming } from './timing.js';
import { formatZxid, isZxid } from './zxid.js';

/** The transport channel the coordinator owns. */
export const COORD_CHANNEL = 'coord';

/** Largest encoded config value; config is for settings, not data. */
export const MAX_CONFIG_VALUE_BYTES = 64 * 1024;
/** Default time a `config.set` may take to commit. */
export const DEFAULT_PROPOSAL_TIMEOUT_MS = 5000;
/** Default time `stop()` waits for this node's leave to commit. */
export const DEFAULT_LEAVE_TIMEOUT_MS = 1000;
/** Committed entries kept for `committedLog()`. */
export const DEFAULT_COMMITTED_LOG_LIMIT = 1000;
/** Readies written to storage in one batch (one fsync for all their entries). */
const MAX_WRITE_BATCH_READIES = 256;
/** Leader changes a single `config.set` follows before giving up. */
const MAX_SUBMIT_ATTEMPTS = 100;
/** Listeners of each kind (view, watch, commit) one coordinator accepts. */
const MAX_LISTENERS = 10_000;

/** Where this node dials a voter. */
export interface CoordinatorVoter {
  readonly id: NodeId;
  readonly address: string;
}

/** Options of `Coordinator.start`. */
export interface CoordinatorOptions {
  readonly id: NodeId;
  /** Every voter, with the address THIS node dials it at (its own entry's address is unused). */
  readonly voters: ReadonlyArray<CoordinatorVoter>;
  /** What others should dial to reach this node (carried in its join entry). */
  readonly advertisedAddress: string;
  /** The coordinator uses channel `coord`; the transport stays the caller's to close. */
  readonly transport: Transport;
  /** Default: the real event loop. */
  readonly scheduler?: Scheduler;
  /** Default: `systemRandom`. */
  readonly random?: Random;
  /**
   * Durable storage (`FileStorage` for a data directory). Without it a voter keeps
   * everything in memory and restarts amnesiac (see `CoordinatorCore`). `stop()`
   * closes it.
   */
  readonly storage?: CoordStorage;
  /** Length of one tick. Default 50 ms. */
  readonly tickMs?: number;
  readonly electionTimeoutTicks?: number;
  readonly heartbeatTicks?: number;
  readonly sessionTimeoutTicks?: number;
  /** Removal of a member whose connection closed; see `CoordTiming`. */
  readonly disconnectGraceTicks?: number;
  readonly syncLimitTicks?: number;
  /** Default time a `config.set` may take. Default 5 s. */
  readonly proposalTimeoutMs?: number;
  /** Time `stop()` waits for this node's leave to commit. Default 1 s. */
  readonly leaveTimeoutMs?: number;
  /** Entries kept for `committedLog()`. Default 1000. */
  readonly committedLogLimit?: number;
  readonly limits?: Partial<CoreLimits>;
  readonly logger?: Logger;
}

/** Options of one `config.set`. */
export interface ConfigSetOptions {
  /** Compare-and-set: commit only if the key is at this version (0: must not exist). */
  readonly ifVersion?: number;
  /** Default: the coordinator's `proposalTimeoutMs`. */
  readonly timeoutMs?: number;
}

/** The cluster-wide config, read from the committed state of this node. */
export interface CoordinatorConfig {
  get(key: string): unknown;
  /** 0 when unset; +1 per committed successful set. */
  version(key: string): number;
  /**
   * Sets a key through the leader (forwarded when this node is not it); resolves
   * once committed, and once this node has applied it (read-your-writes). Rejects
   * with `ConfigVersionConflictError` on a failed compare-and-set,
   * `CoordNoQuorumError` when no leader can be found in time, `CoordTimeoutError` or
   * `CoordOutcomeUnknownError` when it may or may not have committed,
   * `ProposalDroppedError` when a leader change discarded it.
   */
  set(key: string, value: unknown, options?: ConfigSetOptions): Promise<{ version: number }>;
  /** Calls `fn` after every committed successful set of `key`, in commit order. */
  watch(key: string, fn: (value: unknown, version: number) => void): () => void;
  entries(): Record<string, unknown>;
}

/** Entries newly committed on this node, in zxid order. */
export interface CommitEvent {
  /** Set when a snapshot from the leader replaced the whole state before `entries`. */
  readonly snapshot: PersistedSnapshot | undefined;
  readonly entries: readonly CommittedEntry[];
}

/** A diagnostic snapshot of the coordinator. */
export interface CoordinatorStatus {
  readonly id: NodeId;
  readonly role: CoordRole;
  readonly phase: string;
  readonly leader: NodeId | undefined;
  readonly epoch: number;
  readonly acceptedEpoch: number;
  readonly currentEpoch: number;
  /** Last zxid in this node's log (`formatZxid` prints it as epoch:counter). */
  readonly zxid: number;
  readonly lastCommittedZxid: number;
  readonly viewEpoch: number;
  readonly members: View['members'];
  readonly voters: readonly NodeId[];
  readonly hasQuorum: boolean;
  readonly amnesiac: boolean;
  readonly durable: boolean;
  readonly sessionId: number;
  readonly failed: string | undefined;
}

interface PendingCommit {
  readonly resolve: (result: ApplyResult) => void;
  readonly reject: (error: Error) => void;
  readonly timer: TimerHandle;
}

interface Waiter {
  readonly wake: () => void;
}

/** The request a follower sends its leader to propose on its behalf. */
interface ForwardSetRequest {
  readonly t: 'forwardSet';
  readonly command: ConfigSetEntry;
}

function parseForwardRequest(raw: unknown): ConfigSetEntry | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const request = raw as Record<string, unknown>;
  if (request.t !== 'forwardSet') return undefined;
  const data = parseEntryData(request.command);
  return data?.type === 'configSet' ? data : undefined;
}

function parseForwardReply(raw: unknown): { zxid: number; result: ApplyResult } | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const reply = raw as Record<string, unknown>;
  const result = reply.result as Record<string, unknown> | null;
  if (!isZxid(reply.zxid) || typeof result !== 'object' || result === null) return undefined;
  if (result.type !== 'configSet' || !isVersion(result.version)) return undefined;
  if (result.ok === true)
    return { zxid: reply.zxid, result: { type: 'configSet', ok: true, version: result.version } };
  if (result.ok === false && (result.reason === 'version' || result.reason === 'full')) {
    return {
      zxid: reply.zxid,
      result: { type: 'configSet', ok: false, version: result.version, reason: result.reason },
    };
  }
  return undefined;
}

function checkPositiveInteger(value: number | undefined, name: string): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) {
    throw new InvalidArgumentError(`${name} must be a positive integer, got ${String(value)}`);
  }
}

/**
 * The coordinator driver: runs a `CoordinatorCore` over a `Transport`, owns its
 * timers and its storage, and offers what the cache cluster needs: who leads, the
 * committed view of members (and its epoch), the cluster-wide config with
 * compare-and-set and watches, and whether this node is on the quorum side.
 *
 * It follows the core's Ready protocol: messages go out at once; writes go to
 * storage in order, batched (one append per batch), and only when they are durable
 * does the core learn so (`advance`) and produce the acks that promise durability.
 * A storage failure stops the node (it can no longer keep its promises).
 */
export class Coordinator {
  readonly id: NodeId;
  readonly config: CoordinatorConfig;
  private readonly core: CoordinatorCore;
  private readonly transport: Transport;
  private readonly scheduler: Scheduler;
  private readonly storage: CoordStorage | undefined;
  private readonly logger: Logger;
  private readonly tickMs: number;
  private readonly proposalTimeoutMs: number;
  private readonly leaveTimeoutMs: number;
  private readonly committedLogLimit: number;
  private readonly voterIds: readonly NodeId[];

  private ticker: TimerHandle | undefined;
  /** When the tick timer last ran, on the scheduler's clock. */
  private lastTickAtMs: number;
  /**
   * A gap between ticks longer than this means the process was paused (SIGSTOP, a
   * very long GC): the core counts silence in ticks, so it could not notice.
   */
  private readonly pauseSuspectMs: number;
  /** Ticks left during which the lease is withheld after a suspected pause. */
  private leaseSuspendedTicks = 0;
  private readonly leaseSuspendTicks: number;
  private unwatchPeers: (() => void) | undefined;
  private flushing = false;
  private started = false;
  private closed = false;
  private stopping: Promise<void> | undefined;
  private failure: ShoalError | undefined;

  private writeQueue: Ready[] = [];
  private writing: Promise<void> | undefined;

  private readonly pendingCommits = new Map<number, PendingCommit>();
  private waiters = new Set<Waiter>();
  private readonly viewListeners = new Set<(view: View) => void>();
  private readonly commitListeners = new Set<(event: CommitEvent) => void>();
  private readonly watchers = new Map<string, Set<(value: unknown, version: number) => void>>();
  private readonly watchedVersions = new Map<string, number>();
  private watcherCount = 0;
  private lastViewEpoch: number;
  private readonly recentCommits: CommittedEntry[] = [];
  /** The last committed zxid handed to listeners. */
  private publishedZxid: number;

  private constructor(
    options: CoordinatorOptions,
    recovered: Awaited<ReturnType<CoordStorage['load']>> | undefined,
  ) {
    this.id = options.id;
    this.transport = options.transport;
    this.scheduler = options.scheduler ?? realScheduler;
    this.storage = options.storage;
    this.logger = options.logger ?? silentLogger;
    this.tickMs = options.tickMs ?? DEFAULT_TICK_MS;
    this.proposalTimeoutMs = options.proposalTimeoutMs ?? DEFAULT_PROPOSAL_TIMEOUT_MS;
    this.leaveTimeoutMs = options.leaveTimeoutMs ?? DEFAULT_LEAVE_TIMEOUT_MS;
    this.committedLogLimit = options.committedLogLimit ?? DEFAULT_COMMITTED_LOG_LIMIT;
    this.voterIds = options.voters.map((v) => v.id);
    this.core = new CoordinatorCore({
      id: options.id,
      voters: this.voterIds,
      advertisedAddress: options.advertisedAddress,
      random: options.random ?? systemRandom,
      durable: options.storage !== undefined,
      recovered,
      timing: {
        electionTimeoutTicks: options.electionTimeoutTicks,
        heartbeatTicks: options.heartbeatTicks,
        sessionTimeoutTicks: options.sessionTimeoutTicks,
        disconnectGraceTicks: options.disconnectGraceTicks,
        syncLimitTicks: options.syncLimitTicks,
      },
      limits: options.limits,
    });
    this.lastViewEpoch = this.core.clusterState.viewEpoch;
    this.publishedZxid = this.core.lastCommittedZxid;
    const timing = resolveTiming({
      electionTimeoutTicks: options.electionTimeoutTicks,
      heartbeatTicks: options.heartbeatTicks,
      sessionTimeoutTicks: options.sessionTimeoutTicks,
      disconnectGraceTicks: options.disconnectGraceTicks,
      syncLimitTicks: options.syncLimitTicks,
    });
    // Half a session timeout: a paused node keeps its connections open, so only a whole
    // session timeout of silence removes it, and a shorter stall needs no care. (The
    // disconnect grace applies to closed connections; see src/coord/README.md for the
    // bound and its one assumption.) Not tied to the grace: an embedding application's
    // busy stretches of half a second must not cost it the lease.
    this.pauseSuspectMs = (timing.sessionTimeoutTicks * this.tickMs) / 2;
    this.leaseSuspendTicks = timing.electionTimeoutTicks;
    this.lastTickAtMs = this.scheduler.now();
    for (const [key] of Object.entries(this.core.clusterState.configEntries())) {
      this.watchedVersions.set(key, this.core.clusterState.configVersion(key));
    }
    this.config = {
      get: (key) => this.core.clusterState.configValue(key),
      version: (key) => this.core.clusterState.configVersion(key),
      set: (key, value, setOptions) => this.setConfig(key, value, setOptions ?? {}),
      watch: (key, fn) => this.watch(key, fn),
      entries: () => this.core.clusterState.configEntries(),
    };
  }

  /**
   * Starts a coordinator node: recovers from `storage` (if any), joins the transport's
   * `coord` channel and starts ticking. It resolves before a leader is known; use
   * `whenJoined()` to wait until this node is a member of the committed view.
   */
  static async start(options: CoordinatorOptions): Promise<Coordinator> {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError('options are required');
    }
    if (!isNodeId(options.id)) throw new InvalidArgumentError('id must be a non-empty string');
    if (!Array.isArray(options.voters) || options.voters.length === 0) {
      throw new InvalidArgumentError('voters must list at least one voter');
    }
    for (const voter of options.voters) {
      if (!isNodeId(voter?.id) || typeof voter.address !== 'string') {
        throw new InvalidArgumentError('every voter needs an id and an address');
      }
    }
    if (options.transport?.localId !== options.id) {
      throw new InvalidArgumentError('the transport must belong to this node (localId === id)');
    }
    checkPositiveInteger(options.tickMs, 'tickMs');
    checkPositiveInteger(options.proposalTimeoutMs, 'proposalTimeoutMs');
    checkPositiveInteger(options.leaveTimeoutMs, 'leaveTimeoutMs');
    checkPositiveInteger(options.committedLogLimit, 'committedLogLimit');
    const recovered = options.storage === undefined ? undefined : await options.storage.load();
    const coordinator = new Coordinator(options, recovered);
    coordinator.begin(options.voters);
    return coordinator;
  }

  private begin(voters: ReadonlyArray<CoordinatorVoter>): void {
    this.transport.handle(COORD_CHANNEL, {
      onMessage: (from, message) => {
        if (this.closed) return;
        this.core.step(from, message);
        this.flush();
      },
      onRequest: (from, request) => this.onRequest(from, request),
    });
    this.unwatchPeers = this.transport.watchPeers({
      onPeerUp: (peer) => {
        if (this.closed) return;
        this.core.peerUp(peer);
        this.flush();
      },
      onPeerDown: (peer) => {
        if (this.closed) return;
        this.core.peerDown(peer);
        this.flush();
      },
    });
    for (const voter of voters) {
      if (voter.id !== this.id) this.transport.addPeer(voter.id, voter.address);
    }
    this.ticker = this.scheduler.setInterval(() => {
      if (this.closed) return;
      const now = this.scheduler.now();
      if (now - this.lastTickAtMs > this.pauseSuspectMs) {
        // After a pause the core still believes its last leader contact is fresh, and a
        // primary could serve one stale read before it learns it was replaced. Withhold
        // the lease until the core has run an election timeout of ticks on fresh contact.
        this.leaseSuspendedTicks = this.leaseSuspendTicks;
        this.logger.warn('tick gap suggests the process was paused; lease withheld', {
          id: this.id,
          gapMs: Math.round(now - this.lastTickAtMs),
        });
      } else if (this.leaseSuspendedTicks > 0) {
        this.leaseSuspendedTicks--;
      }
      this.lastTickAtMs = now;
      this.core.tick();
      this.flush();
      this.wakeWaiters();
    }, this.tickMs);
    // Output starts on the next turn, so listeners registered right after `start()`
    // resolves see every commit (a single voter commits without any message).
    this.scheduler.setTimeout(() => {
      this.started = true;
      this.flush();
    }, 0);
    this.logger.info('coordinator started', {
      id: this.id,
      voter: this.core.isVoter,
      durable: this.storage !== undefined,
      lastZxid: formatZxid(this.core.lastZxid),
    });
  }

  // ------------------------------------------------------------------ queries

  role(): CoordRole {
    return this.core.publicRole();
  }

  leader(): NodeId | undefined {
    return this.core.leaderId();
  }

  /** The ZAB epoch of the leader this node follows (or is). */
  epoch(): number {
    return this.core.epoch();
  }

  /** The committed view: members and the view epoch (bumped by every membership change). */
  view(): View {
    return this.core.clusterState.view();
  }

  /**
   * Whether this node is in contact with a quorum right now: a leader that heard a
   * quorum within an election timeout, or a follower or learner that heard its
   * leader within one. The cache refuses writes while this is false.
   *
   * A node that has begun to `stop()` holds no lease: its leave may commit (and its
   * backups be promoted elsewhere) before it applies that view itself, so it must
   * stop serving from the moment it asks to leave.
   */
  hasQuorum(): boolean {
    // The gap check covers requests handled after a pause but before the overdue tick.
    return (
      !this.closed &&
      this.stopping === undefined &&
      this.leaseSuspendedTicks === 0 &&
      this.scheduler.now() - this.lastTickAtMs <= this.pauseSuspectMs &&
      this.core.hasQuorum()
    );
  }

  status(): CoordinatorStatus {
    const core = this.core.status();
    return {
      id: this.id,
      role: core.role,
      phase: core.phase,
      leader: core.leader,
      epoch: core.epoch,
      acceptedEpoch: core.acceptedEpoch,
      currentEpoch: core.currentEpoch,
      zxid: core.lastZxid,
      lastCommittedZxid: core.committedZxid,
      viewEpoch: core.viewEpoch,
      members: this.view().members,
      voters: this.voterIds,
      hasQuorum: this.hasQuorum(),
      amnesiac: core.amnesiac,
      durable: this.storage !== undefined,
      sessionId: core.sessionId,
      failed: this.failure?.message,
    };
  }

  /** The last committed entries this process applied (bounded; for tests and diagnostics). */
  committedLog(): readonly CommittedEntry[] {
    return [...this.recentCommits];
  }

  /** Calls `fn` with every committed view change, in commit order. */
  onView(fn: (view: View) => void): () => void {
    return this.addListener(this.viewListeners, fn);
  }

  /** Calls `fn` with every batch of committed entries, in commit order (tests, diagnostics). */
  onCommit(fn: (event: CommitEvent) => void): () => void {
    return this.addListener(this.commitListeners, fn);
  }

  /**
   * Resolves with the view once this node, with its current session, is a member of
   * the committed view; rejects with `CoordTimeoutError` after `timeoutMs`.
   */
  async whenJoined(timeoutMs = this.proposalTimeoutMs): Promise<View> {
    const deadline = this.scheduler.now() + timeoutMs;
    for (;;) {
      const me = this.core.clusterState.member(this.id);
      if (me !== undefined && me.sessionId === this.core.sessionId) return this.view();
      if (this.closed) throw new CoordStoppedError();
      if (this.scheduler.now() >= deadline) throw new CoordTimeoutError(timeoutMs);
      await this.nextChange(deadline);
    }
  }

  // ------------------------------------------------------------------ lifecycle

  /**
   * Leaves cleanly: proposes this node's own leave and waits (up to `leaveTimeoutMs`)
   * for it to commit, hands leadership over, then stops timers, detaches from the
   * transport (which stays open) and closes the storage. Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    if (!this.closed && this.failure === undefined) {
      const deadline = this.scheduler.now() + this.leaveTimeoutMs;
      while (!this.closed && this.scheduler.now() < deadline) {
        const me = this.core.clusterState.member(this.id);
        if (me === undefined || me.sessionId !== this.core.sessionId) break;
        this.core.requestLeave();
        this.flush();
        await this.nextChange(deadline);
      }
    }
    if (!this.closed) {
      this.core.retire();
      this.flush();
    }
    this.close(new CoordStoppedError());
    await this.writing;
    await this.storage?.close();
    this.logger.info('coordinator stopped', { id: this.id });
  }

  private close(reason: ShoalError): void {
    if (this.closed) return;
    this.closed = true;
    if (this.ticker !== undefined) this.scheduler.clearTimeout(this.ticker);
    this.unwatchPeers?.();
    this.transport.handle(COORD_CHANNEL, {});
    for (const [zxid, pending] of this.pendingCommits) {
      this.scheduler.clearTimeout(pending.timer);
      pending.reject(reason);
      this.pendingCommits.delete(zxid);
    }
    this.wakeWaiters();
  }

  /** Storage failed: this node can no longer keep its promises, so it stops taking part. */
  private fail(error: unknown): void {
    if (this.failure !== undefined) return;
    this.failure =
      error instanceof ShoalError
        ? error
        : new ShoalError('ERR_COORD_STORAGE', `coordinator storage failed: ${String(error)}`, {
            cause: error,
          });
    this.logger.error('coordinator storage failed; stopping this node', {
      id: this.id,
      error: this.failure.message,
    });
    this.close(this.failure);
  }

  // ------------------------------------------------------------------ the Ready loop

  private flush(): void {
    if (this.flushing || this.closed || !this.started) return;
    this.flushing = true;
    try {
      while (!this.closed && this.core.hasReady()) {
        const ready = this.core.ready();
        for (const out of ready.messages) this.sendMessage(out.to, out.message);
        if (this.storage !== undefined && mustPersist(ready)) {
          this.writeQueue.push(ready);
          this.writing ??= this.writeLoop();
        } else {
          this.core.advance(ready);
        }
        this.publish(ready);
      }
    } finally {
      this.flushing = false;
    }
  }

  private sendMessage(to: NodeId, message: Message): void {
    try {
      this.transport.send(to, COORD_CHANNEL, message);
    } catch (error) {
      // Best effort like a lossy link: the protocol retransmits what matters.
      this.logger.warn('coordinator message not sent', { to, error: String(error) });
    }
  }

  private async writeLoop(): Promise<void> {
    const storage = this.storage;
    invariant(storage !== undefined, 'writes need storage');
    try {
      while (this.writeQueue.length > 0 && this.failure === undefined) {
        const batch = this.writeQueue.splice(0, MAX_WRITE_BATCH_READIES);
        await writeBatch(storage, batch);
        if (this.closed) return;
        for (const ready of batch) this.core.advance(ready);
        this.flush();
      }
    } catch (error) {
      this.fail(error);
    } finally {
      this.writing = undefined;
    }
  }

  /** Hands a Ready's commits and role changes to listeners and waiting proposals. */
  private publish(ready: Ready): void {
    if (ready.stateReset && ready.snapshot !== undefined) this.publishedZxid = ready.snapshot.zxid;
    if (ready.committed.length > 0) {
      this.publishedZxid = ready.committed[ready.committed.length - 1]!.zxid;
      for (const entry of ready.committed) {
        this.recentCommits.push(entry);
        this.settleCommit(entry);
        this.notifyEntry(entry);
      }
      if (this.recentCommits.length > this.committedLogLimit) {
        this.recentCommits.splice(0, this.recentCommits.length - this.committedLogLimit);
      }
    }
    if (ready.stateReset) this.notifyReset(ready.snapshot?.zxid ?? 0);
    if (ready.committed.length > 0 || ready.stateReset) {
      const event: CommitEvent = {
        snapshot: ready.stateReset ? ready.snapshot : undefined,
        entries: ready.committed,
      };
      for (const listener of this.commitListeners) this.safely(() => listener(event));
    }
    this.settleDropped(ready.stateReset ? (ready.snapshot?.zxid ?? 0) : 0);
    if (ready.roleChanged || ready.committed.length > 0 || ready.stateReset) this.wakeWaiters();
  }

  private notifyEntry(entry: CommittedEntry): void {
    const { data, result } = entry;
    if (data.type === 'configSet' && result.type === 'configSet' && result.ok) {
      this.watchedVersions.set(data.key, result.version);
      const fns = this.watchers.get(data.key);
      if (fns !== undefined)
        for (const fn of fns) this.safely(() => fn(data.value, result.version));
    } else if ((result.type === 'join' || result.type === 'leave') && result.view !== undefined) {
      const view = result.view;
      this.lastViewEpoch = view.epoch;
      for (const fn of this.viewListeners) this.safely(() => fn(view));
    }
  }

  /** A snapshot replaced the state: report what changed, as if it had been committed. */
  private notifyReset(zxid: number): void {
    this.logger.info('coordinator state replaced by a snapshot', { zxid: formatZxid(zxid) });
    const state = this.core.clusterState;
    if (state.viewEpoch !== this.lastViewEpoch) {
      this.lastViewEpoch = state.viewEpoch;
      const view = state.view();
      for (const fn of this.viewListeners) this.safely(() => fn(view));
    }
    const keys = new Set([...this.watchedVersions.keys(), ...Object.keys(state.configEntries())]);
    for (const key of keys) {
      const version = state.configVersion(key);
      if (this.watchedVersions.get(key) === version) continue;
      this.watchedVersions.set(key, version);
      const fns = this.watchers.get(key);
      const value = state.configValue(key);
      if (fns !== undefined) for (const fn of fns) this.safely(() => fn(value, version));
    }
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.logger.error('coordinator listener threw', { error: String(error) });
    }
  }

  private addListener<T>(set: Set<T>, fn: T): () => void {
    if (typeof fn !== 'function') throw new InvalidArgumentError('listener must be a function');
    if (set.size >= MAX_LISTENERS) {
      throw new InvalidArgumentError(`at most ${MAX_LISTENERS} listeners of one kind`);
    }
    set.add(fn);
    return () => {
      set.delete(fn);
    };
  }

  private watch(key: string, fn: (value: unknown, version: number) => void): () => void {
    if (!isConfigKey(key)) throw new InvalidArgumentError('config key must be a non-empty string');
    if (typeof fn !== 'function') throw new InvalidArgumentError('listener must be a function');
    if (this.watcherCount >= MAX_LISTENERS) {
      throw new InvalidArgumentError(`at most ${MAX_LISTENERS} config watches`);
    }
    let fns = this.watchers.get(key);
    if (fns === undefined) {
      fns = new Set();
      this.watchers.set(key, fns);
    }
    fns.add(fn);
    this.watcherCount += 1;
    return () => {
      if (fns.delete(fn)) this.watcherCount -= 1;
      if (fns.size === 0) this.watchers.delete(key);
    };
  }

  // ------------------------------------------------------------------ proposals

  private settleCommit(entry: CommittedEntry): void {
    const pending = this.pendingCommits.get(entry.zxid);
    if (pending === undefined) return;
    this.pendingCommits.delete(entry.zxid);
    this.scheduler.clearTimeout(pending.timer);
    pending.resolve(entry.result);
  }

  /**
   * Proposals this node made that the commit point passed without committing were
   * discarded by a leader change; below a snapshot we cannot tell.
   */
  private settleDropped(snapshotZxid: number): void {
    if (this.pendingCommits.size === 0) return;
    // What was published, not the core's commit point: that may already be past
    // entries of a Ready still to come.
    const committed = this.publishedZxid;
    for (const [zxid, pending] of this.pendingCommits) {
      if (zxid > committed) continue;
      this.pendingCommits.delete(zxid);
      this.scheduler.clearTimeout(pending.timer);
      pending.reject(
        zxid <= snapshotZxid
          ? new CoordOutcomeUnknownError(
              `proposal ${formatZxid(zxid)} was overtaken by a snapshot; it may have committed`,
            )
          : new ProposalDroppedError(formatZxid(zxid)),
      );
    }
  }

  /** Proposes on this (leading) node and waits for the commit. */
  private proposeLocally(
    command: ConfigSetEntry,
    deadline: number,
  ): Promise<{ zxid: number; result: ApplyResult }> {
    const zxid = this.core.propose(command);
    return new Promise<{ zxid: number; result: ApplyResult }>((resolve, reject) => {
      const timeoutMs = Math.max(1, deadline - this.scheduler.now());
      const timer = this.scheduler.setTimeout(() => {
        if (this.pendingCommits.delete(zxid)) reject(new CoordTimeoutError(timeoutMs));
      }, timeoutMs);
      this.pendingCommits.set(zxid, {
        resolve: (result) => resolve({ zxid, result }),
        reject,
        timer,
      });
      this.flush();
    });
  }

  private async onRequest(from: NodeId, request: Message): Promise<Message> {
    const command = parseForwardRequest(request);
    if (command === undefined) {
      throw new InvalidArgumentError(`malformed coordinator request from ${from}`);
    }
    if (this.closed) throw this.failure ?? new CoordStoppedError();
    return this.proposeLocally(command, this.scheduler.now() + this.proposalTimeoutMs);
  }

  private async setConfig(
    key: string,
    value: unknown,
    options: ConfigSetOptions,
  ): Promise<{ version: number }> {
    if (this.closed) throw this.failure ?? new CoordStoppedError();
    if (!isConfigKey(key))
      throw new InvalidArgumentError('config key must be a non-empty string of at most 256 chars');
    const { ifVersion } = options;
    if (ifVersion !== undefined && !isVersion(ifVersion)) {
      throw new InvalidArgumentError('ifVersion must be a non-negative integer');
    }
    const timeoutMs = options.timeoutMs ?? this.proposalTimeoutMs;
    checkPositiveInteger(timeoutMs, 'timeoutMs');
    let encoded: Uint8Array;
    try {
      encoded = pack(value);
    } catch (error) {
      throw new InvalidArgumentError(`config value cannot be encoded: ${String(error)}`);
    }
    if (encoded.length > MAX_CONFIG_VALUE_BYTES) {
      throw new InvalidArgumentError(
        `config value is ${encoded.length} bytes; the limit is ${MAX_CONFIG_VALUE_BYTES}`,
      );
    }
    // A private copy: the caller mutating its object later must not change the proposal.
    const copy: unknown = unpack(encoded);
    const command: ConfigSetEntry =
      ifVersion === undefined
        ? { type: 'configSet', key, value: copy }
        : { type: 'configSet', key, value: copy, ifVersion };
    const result = await this.submit(command, this.scheduler.now() + timeoutMs, timeoutMs);
    if (result.type !== 'configSet') throw new CoordOutcomeUnknownError('unexpected result');
    if (result.ok) return { version: result.version };
    if (result.reason === 'full') throw new ConfigFullError(key);
    throw new ConfigVersionConflictError(key, ifVersion ?? 0, result.version);
  }

  /** Gets `command` committed through whichever node leads, following leader changes. */
  private async submit(
    command: ConfigSetEntry,
    deadline: number,
    timeoutMs: number,
  ): Promise<ApplyResult> {
    for (let attempt = 0; attempt < MAX_SUBMIT_ATTEMPTS; attempt++) {
      if (this.closed) throw this.failure ?? new CoordStoppedError();
      const leader = this.core.leaderId();
      if (leader === this.id) {
        try {
          return (await this.proposeLocally(command, deadline)).result;
        } catch (error) {
          if (!(error instanceof NotLeaderError)) throw error;
        }
      } else if (leader !== undefined) {
        const remaining = deadline - this.scheduler.now();
        if (remaining <= 0) break;
        let reply: unknown;
        try {
          const request: ForwardSetRequest = { t: 'forwardSet', command };
          reply = await this.whileLeaderIs(
            leader,
            this.transport.request(leader, COORD_CHANNEL, request, { timeoutMs: remaining }),
            deadline,
          );
        } catch (error) {
          if (!this.isRetryable(error)) throw this.translate(error, timeoutMs);
          await this.nextChange(deadline);
          continue;
        }
        const parsed = parseForwardReply(reply);
        if (parsed === undefined)
          throw new CoordOutcomeUnknownError(`malformed reply from leader ${leader}`);
        await this.untilApplied(parsed.zxid, deadline);
        return parsed.result;
      }
      if (this.scheduler.now() >= deadline) break;
      await this.nextChange(deadline);
    }
    throw new CoordNoQuorumError(`no leader with a quorum was reachable within ${timeoutMs} ms`);
  }

  /**
   * Waits for `request` unless this node sees another leader first: a hung leader
   * (SIGSTOP) keeps its connection open, so without this a forwarded proposal would
   * wait for the whole timeout. The proposal may still be in the old leader's log (it
   * can come back), so the outcome is unknown.
   */
  private async whileLeaderIs(
    leader: NodeId,
    request: Promise<Message>,
    deadline: number,
  ): Promise<Message> {
    let settled = false;
    const replaced = (async (): Promise<never> => {
      while (!settled && !this.closed && this.scheduler.now() < deadline) {
        const current = this.core.leaderId();
        if (current !== undefined && current !== leader) {
          throw new CoordOutcomeUnknownError(
            `leader ${leader} was replaced by ${current} while it held the proposal`,
          );
        }
        await this.nextChange(deadline);
      }
      return new Promise<never>(() => {});
    })();
    try {
      return await Promise.race([request, replaced]);
    } finally {
      settled = true;
      replaced.catch(() => {});
    }
  }

  /** Errors that prove the proposal was not made, so trying again (elsewhere) is safe. */
  private isRetryable(error: unknown): boolean {
    if (error instanceof PeerUnavailableError) return !error.sent;
    if (error instanceof RemoteError) {
      return (
        error.remoteCode === 'ERR_COORD_NOT_LEADER' ||
        error.remoteCode === 'ERR_COORD_PROPOSAL_DROPPED' ||
        error.remoteCode === 'ERR_COORD_STOPPED' ||
        error.remoteCode === 'ERR_UNKNOWN_CHANNEL'
      );
    }
    return false;
  }

  private translate(error: unknown, timeoutMs: number): Error {
    if (error instanceof RequestTimeoutError) return new CoordTimeoutError(timeoutMs);
    if (error instanceof PeerUnavailableError) {
      return new CoordOutcomeUnknownError(
        'the connection to the leader dropped while it handled the proposal',
      );
    }
    if (error instanceof RemoteError) {
      switch (error.remoteCode) {
        case 'ERR_COORD_TIMEOUT':
          return new CoordTimeoutError(timeoutMs);
        case 'ERR_COORD_BUSY':
          return new CoordBusyError();
        case 'ERR_COORD_NO_QUORUM':
          return new CoordNoQuorumError(error.message);
        default:
          return new CoordOutcomeUnknownError(error.message);
      }
    }
    return error instanceof Error ? error : new CoordOutcomeUnknownError(String(error));
  }

  /** Waits until this node applied `zxid` (read-your-writes); it is committed already. */
  private async untilApplied(zxid: number, deadline: number): Promise<void> {
    while (this.core.lastCommittedZxid < zxid && !this.closed && this.scheduler.now() < deadline) {
      await this.nextChange(deadline);
    }
  }

  /** Resolves at the next commit, role change or tick, or at `deadline`. */
  private nextChange(deadline: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const delay = Math.max(0, Math.min(this.tickMs, deadline - this.scheduler.now()));
      const waiter: Waiter = {
        wake: () => {
          this.scheduler.clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve();
        },
      };
      const timer = this.scheduler.setTimeout(() => waiter.wake(), delay);
      this.waiters.add(waiter);
    });
  }

  private wakeWaiters(): void {
    if (this.waiters.size === 0) return;
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const waiter of waiters) waiter.wake();
  }
}

/**
 * Writes a batch of Readies in their documented order, merging consecutive appends
 * into one call (one fsync). Entries always precede the meta of the same Ready, and
 * every truncation or snapshot is written after everything queued before it.
 */
async function writeBatch(storage: CoordStorage, batch: readonly Ready[]): Promise<void> {
  let entries: LogEntry[] = [];
  let meta: PersistedMeta | undefined;
  const drain = async (): Promise<void> => {
    if (entries.length > 0) await storage.appendEntries(entries);
    entries = [];
    if (meta !== undefined) await storage.saveMeta(meta);
    meta = undefined;
  };
  for (const ready of batch) {
    if (ready.truncateAfter !== undefined || ready.snapshot !== undefined) {
      await drain();
      if (ready.truncateAfter !== undefined) await storage.truncateAfter(ready.truncateAfter);
      if (ready.snapshot !== undefined) await storage.saveSnapshot(ready.snapshot);
    }
    for (const entry of ready.entriesToPersist) entries.push(entry);
    if (ready.metaToPersist !== undefined) meta = ready.metaToPersist;
  }
  await drain();
}
