import type { NodeId } from '../transport/transport.js';
import { invariant } from '../util/assert.js';
import { InvalidArgumentError } from '../util/errors.js';
import type { Random } from '../util/random.js';
import { ClusterState, MAX_MEMBERS } from './cluster-state.js';
import { LeaderElection, type Vote } from './election.js';
import {
  type EntryData,
  isNodeId,
  type LogEntry,
  MAX_ADDRESS_LENGTH,
  type ProposalCommand,
  parseEntryData,
  parseLogEntry,
} from './entries.js';
import { CoordBusyError, NotLeaderError } from './errors.js';
import {
  type AckEpochMessage,
  type CoordMessage,
  type FollowerInfoMessage,
  type InformMessage,
  type LeaderInfoMessage,
  type PingMessage,
  type PongMessage,
  type ProposeMessage,
  parseCoordMessage,
  type SyncMessage,
  type VoteMessage,
} from './messages.js';
import type { CommittedEntry, CoordRole, OutboundMessage, PersistToken, Ready } from './ready.js';
import { ReplicatedLog } from './replicated-log.js';
import type { PersistedMeta, PersistedSnapshot, PersistedState } from './storage.js';
import { type CoordTiming, resolveTiming } from './timing.js';
import { MAX_VOTERS, VoterSet } from './voter-set.js';
import { epochOf, formatZxid, MAX_COUNTER, MAX_EPOCH, makeZxid } from './zxid.js';

/** Named bounds of the core. */
export interface CoreLimits {
  /** Committed entries between two snapshots handed to storage (only with storage). */
  readonly snapshotEveryEntries: number;
  /** Committed entries kept in memory past the state, so lagging peers get a diff, not a snapshot. */
  readonly retainedLogEntries: number;
  /** A catch-up longer than this goes as a snapshot. */
  readonly maxSyncDiffEntries: number;
  /** Most entries in one proposal or inform message. */
  readonly maxBatchEntries: number;
  /** Most uncommitted proposals a leader holds before refusing new ones. */
  readonly maxPendingProposals: number;
}

/** Defaults: membership and config logs are small and slow-moving. */
export const DEFAULT_CORE_LIMITS: CoreLimits = {
  snapshotEveryEntries: 1000,
  retainedLogEntries: 1000,
  maxSyncDiffEntries: 1000,
  maxBatchEntries: 500,
  maxPendingProposals: 10_000,
};

/** How the core starts. */
export interface CoreOptions {
  readonly id: NodeId;
  /** The static voter set; every other node is a learner. */
  readonly voters: readonly NodeId[];
  /** What others should dial to reach this node; carried in its join entry. */
  readonly advertisedAddress: string;
  /** Election jitter, session ids and history ids come from here. */
  readonly random: Random;
  readonly timing?: Partial<CoordTiming>;
  readonly limits?: Partial<CoreLimits>;
  /**
   * Whether what this node persists survives a restart. A voter without durable
   * storage starts *amnesiac*: it has forgotten its promises, so it must not count
   * toward any quorum until it has been resynced (see `docs` in the class comment).
   */
  readonly durable: boolean;
  /** What storage recovered (only with durable storage). */
  readonly recovered?: PersistedState;
}

type InternalRole = 'looking' | 'leading' | 'following' | 'observing';

type FollowPhase = 'connect' | 'epoch' | 'synced' | 'broadcast';

/** A follower's or learner's view of its leader. */
interface FollowState {
  readonly leader: NodeId;
  phase: FollowPhase;
  /** The leader's epoch, once its LEADERINFO (or, for a learner, its sync) arrived. */
  epoch: number;
  lastHeardTick: number;
  phaseStartTick: number;
  nextInfoTick: number;
  ackEpochPending: boolean;
  ackEpochCounts: boolean;
  newLeaderAckPending: boolean;
  syncedZxid: number;
  lastAckSent: number;
}

type PeerPhase = 'info' | 'epochSent' | 'epochAcked' | 'synced' | 'broadcast';

/** The leader's view of one follower or learner. */
interface LeaderPeer {
  readonly id: NodeId;
  readonly learner: boolean;
  info: FollowerInfoMessage;
  phase: PeerPhase;
  epochAckCounts: boolean;
  /** (currentEpoch, lastZxid) as reported in ACKEPOCH; what the sync is computed from. */
  reportedEpoch: number;
  reportedZxid: number;
  newLeaderAcked: boolean;
  ackedZxid: number;
  sentZxid: number;
  commitSent: number;
  /** Whether its acks count: false for a restarted memoryless voter until confirmed. */
  counted: boolean;
  syncedAtSeq: number;
  pongSeq: number;
  lastHeardTick: number;
}

type LeadPhase = 'discovery' | 'epoch' | 'sync' | 'broadcast';

interface LeadState {
  phase: LeadPhase;
  epoch: number;
  readonly startTick: number;
  /** Our (currentEpoch, lastZxid) when elected: no follower of a quorum may be ahead. */
  readonly electedEpoch: number;
  readonly electedZxid: number;
  historyLast: number;
  counter: number;
  readonly peers: Map<NodeId, LeaderPeer>;
  pingSeq: number;
  nextPingTick: number;
  establishedTick: number;
  /** Session clocks: the last tick each member was heard. */
  readonly lastHeard: Map<NodeId, number>;
  /** Membership proposals in flight, keyed `join:id:session` / `leave:id:session`. */
  readonly pendingMembership: Map<string, number>;
  streamsDirty: boolean;
}

/** A snapshot of the core for status pages and tests. */
export interface CoreStatus {
  readonly id: NodeId;
  readonly role: CoordRole;
  readonly phase: string;
  readonly leader: NodeId | undefined;
  readonly epoch: number;
  readonly acceptedEpoch: number;
  readonly currentEpoch: number;
  readonly lastZxid: number;
  readonly committedZxid: number;
  readonly viewEpoch: number;
  readonly amnesiac: boolean;
  readonly sessionId: number;
  readonly voter: boolean;
}

/** Most followers and learners one leader tracks (a full view plus the voters). */
const MAX_LEADER_PEERS = MAX_MEMBERS + MAX_VOTERS;

/** Most FOLLOWERINFOs kept while looking (one per sender). */
const MAX_EARLY_INFOS = 1024;

/** Ticks a voter waits for better votes once a quorum (but not everyone) agrees. */
const FINALIZE_WAIT_TICKS = 1;

/** Session ids and history ids are 31-bit so they stay small positive integers on the wire. */
const ID_SPACE = 2 ** 31;

/**
 * The coordinator as a pure state machine: ZooKeeper's atomic broadcast (ZAB) with
 * fast leader election, discovery, synchronisation and broadcast, plus ephemeral
 * membership sessions. It reads no clock, opens no socket, touches no disk and draws
 * randomness only from the injected `Random`; the driver feeds it messages
 * (`step`), time (`tick`) and persistence results (`advance`), and executes what
 * `ready()` hands out.
 *
 * Amnesia. A voter without durable storage forgets, on restart, the entries it acked
 * and the epochs it promised. Counting it as if it still held them could let a quorum
 * that lost a committed entry elect a leader without it. So such a voter restarts
 * *amnesiac*: it follows and replicates, but its epoch promises and acks do not count
 * until (a) it has been synced by a leader that then hears a quorum of non-amnesiac
 * voters again (a heartbeat round trip started after its sync, which proves that
 * leader's epoch is still the newest), or (b) it takes part in an epoch established by
 * every voter at once (how an ensemble without storage bootstraps). A new epoch needs
 * a quorum of non-amnesiac voters, or every voter.
 * Guarantee without storage: agreement and integrity hold as long as every committed
 * entry, and the newest established epoch, stay in the memory of at least one running
 * voter. With durable storage on every voter, they hold across any crashes.
 */
export class CoordinatorCore {
  readonly id: NodeId;
  readonly voters: VoterSet;
  readonly isVoter: boolean;
  private readonly timing: CoordTiming;
  private readonly limits: CoreLimits;
  private readonly random: Random;
  private readonly address: string;
  private readonly durable: boolean;

  private tickNow = 0;
  private role: InternalRole = 'looking';
  /** Set by `retire()`: the node ignores every input. */
  private retired = false;
  /** Voters that said they are leaving; their (stale) votes are ignored until they speak again. */
  private readonly departed = new Set<NodeId>();
  /**
   * Members whose connection closed, with the tick it did, until they send anything
   * again. Only members are recorded, and non-members are pruned, so it stays bounded.
   */
  private readonly downSinceTick = new Map<NodeId, number>();
  private acceptedEpoch = 0;
  private currentEpoch = 0;
  /** Who we accepted `acceptedEpoch` from, while we remember (not persisted). */
  private acceptedEpochLeader: NodeId | undefined;
  private amnesiac: boolean;
  private readonly log: ReplicatedLog;
  private state: ClusterState;
  private committedZxid: number;
  private sessionIdValue: number;

  private readonly election: LeaderElection;
  private nextVoteTick = 0;
  /** FOLLOWERINFOs that reached us while still looking (their senders decided first). */
  private readonly earlyInfos = new Map<NodeId, FollowerInfoMessage>();
  private finalizeAtTick: number | undefined;
  private nextFindTick = 0;
  private follow: FollowState | undefined;
  private lead: LeadState | undefined;

  // Persistence bookkeeping: what is handed out but not yet durable, and what is.
  private pendingTruncate: number | undefined;
  private pendingSnapshot: PersistedSnapshot | undefined;
  private pendingEntries: LogEntry[] = [];
  private metaDirty = false;
  /** Bumped by every truncation or snapshot install: older writes no longer describe the log. */
  private generation = 0;
  private persistedLastZxid: number;
  private persistedMeta: PersistedMeta;
  private persistedSnapshotZxid: number;
  private committedSinceSnapshot = 0;

  // Output not yet handed out.
  private outbox: OutboundMessage[] = [];
  private committedOut: CommittedEntry[] = [];
  private stateReset = false;
  private reportedRole: CoordRole | undefined;
  private reportedLeader: NodeId | undefined;

  constructor(options: CoreOptions) {
    if (!isNodeId(options.id))
      throw new InvalidArgumentError(`invalid node id ${String(options.id)}`);
    if (
      typeof options.advertisedAddress !== 'string' ||
      options.advertisedAddress.length === 0 ||
      options.advertisedAddress.length > MAX_ADDRESS_LENGTH
    ) {
      throw new InvalidArgumentError('advertisedAddress must be a non-empty string');
    }
    this.id = options.id;
    this.voters = new VoterSet(options.voters);
    this.isVoter = this.voters.has(options.id);
    this.timing = resolveTiming(options.timing);
    this.limits = resolveLimits(options.limits);
    this.random = options.random;
    this.address = options.advertisedAddress;
    this.durable = options.durable;
    this.election = new LeaderElection(this.id, this.voters);
    this.sessionIdValue = this.newId();

    const recovered = options.durable ? options.recovered : undefined;
    if (recovered?.snapshot !== undefined) {
      this.state = ClusterState.fromSnapshot(recovered.snapshot.state);
      invariant(
        this.state.appliedZxid === recovered.snapshot.zxid,
        'snapshot zxid must match its state',
      );
    } else {
      this.state = new ClusterState();
    }
    this.log = new ReplicatedLog(this.state.appliedZxid);
    for (const raw of recovered?.entries ?? []) {
      const entry = parseLogEntry(raw);
      if (entry === undefined)
        throw new InvalidArgumentError('storage returned a malformed log entry');
      if (entry.zxid > this.log.lastZxid()) this.log.append(entry);
    }
    this.committedZxid = this.state.appliedZxid;
    this.acceptedEpoch = recovered?.meta?.acceptedEpoch ?? 0;
    this.currentEpoch = recovered?.meta?.currentEpoch ?? 0;
    this.persistedLastZxid = this.log.lastZxid();
    this.persistedMeta = { acceptedEpoch: this.acceptedEpoch, currentEpoch: this.currentEpoch };
    this.persistedSnapshotZxid = this.state.appliedZxid;
    this.amnesiac = this.isVoter && !options.durable;
    if (this.isVoter) this.startLooking();
    else this.startFinding();
  }

  // ---------------------------------------------------------------- public inputs

  /** Delivers a message from `from`; malformed messages are dropped. */
  step(from: NodeId, raw: unknown): void {
    if (from === this.id || this.retired) return;
    const message = parseCoordMessage(raw);
    if (message === undefined) return;
    if (message.t === 'leaving') {
      this.onLeaving(from);
      return;
    }
    this.departed.delete(from);
    this.downSinceTick.delete(from);
    // Session clocks only for members and connected peers, so the map stays bounded.
    if (
      this.lead !== undefined &&
      (this.lead.peers.has(from) || this.state.member(from) !== undefined)
    ) {
      this.lead.lastHeard.set(from, this.tickNow);
    }
    this.dispatch(from, message);
  }

  /** One logical tick of time. */
  tick(): void {
    if (this.retired) return;
    this.tickNow += 1;
    switch (this.role) {
      case 'looking':
        this.tickLooking();
        break;
      case 'leading':
        this.tickLeading();
        break;
      case 'following':
      case 'observing':
        this.tickFollowing();
        break;
    }
  }

  /**
   * The transport lost its connection to `peer`: a dead leader is noticed at once, and
   * a member that sends nothing more is removed after the disconnect grace rather than
   * the whole session timeout (a dead process closes its connections; a paused one
   * does not). Recorded in every role, so a leader elected after the loss counts
   * from its own establishment.
   */
  peerDown(peer: NodeId): void {
    if (this.retired) return;
    if (this.state.member(peer) !== undefined && !this.downSinceTick.has(peer)) {
      this.downSinceTick.set(peer, this.tickNow);
    }
    if (this.follow !== undefined && this.follow.leader === peer) this.loseLeader();
  }

  /**
   * The transport connected to `peer`: a looking node tells it at once instead of
   * waiting, and a closed connection no longer counts against the peer (it is alive, or
   * a restarted process that joins with a new session).
   */
  peerUp(peer: NodeId): void {
    this.downSinceTick.delete(peer);
    if (this.role === 'looking' && this.voters.has(peer)) this.sendVote(peer, 'looking');
    if (this.role === 'observing' && this.follow === undefined && this.voters.has(peer)) {
      this.send(peer, { t: 'findLeader' });
    }
  }

  /**
   * Proposes a config change. Only an established leader accepts; anyone else throws
   * `NotLeaderError` naming the leader it knows, so the caller can forward. Returns
   * the zxid the entry will commit at (if it commits).
   */
  propose(command: ProposalCommand): number {
    const data = parseEntryData(command);
    if (data === undefined || data.type !== 'configSet') {
      throw new InvalidArgumentError('a proposal must be a well-formed configSet command');
    }
    const lead = this.lead;
    if (lead === undefined || lead.phase !== 'broadcast') throw new NotLeaderError(this.leaderId());
    if (this.uncommittedCount() >= this.limits.maxPendingProposals) {
      throw new CoordBusyError(this.limits.maxPendingProposals);
    }
    const zxid = this.appendProposal(data);
    if (zxid === undefined) throw new NotLeaderError(undefined);
    return zxid;
  }

  /**
   * Asks for this node's session to end (clean shutdown). Returns false when no
   * established leader is known to ask.
   */
  requestLeave(): boolean {
    const member = this.state.member(this.id);
    if (member === undefined || member.sessionId !== this.sessionIdValue) return true;
    if (this.lead?.phase === 'broadcast') {
      this.proposeMembership({
        type: 'leave',
        id: this.id,
        sessionId: this.sessionIdValue,
        reason: 'stopped',
      });
      return true;
    }
    if (this.follow?.phase === 'broadcast') {
      this.send(this.follow.leader, {
        t: 'leave',
        epoch: this.follow.epoch,
        sessionId: this.sessionIdValue,
      });
      return true;
    }
    return false;
  }

  /**
   * Takes this node out of the protocol before a clean shutdown: every voter and
   * every peer it leads is told, so followers elect a successor at once (without
   * waiting for pings to stop) and nobody keeps voting for it. The core is inert
   * afterwards.
   */
  retire(): void {
    if (this.retired) return;
    const targets = new Set<NodeId>(this.voters.ids);
    for (const peer of this.lead?.peers.keys() ?? []) targets.add(peer);
    targets.delete(this.id);
    for (const to of targets) this.send(to, { t: 'leaving' });
    this.retired = true;
    this.role = 'looking';
    this.lead = undefined;
    this.follow = undefined;
  }

  /** Whether `ready()` has anything to hand out. */
  hasReady(): boolean {
    return (
      this.outbox.length > 0 ||
      this.pendingEntries.length > 0 ||
      this.pendingTruncate !== undefined ||
      this.pendingSnapshot !== undefined ||
      this.metaDirty ||
      this.committedOut.length > 0 ||
      this.stateReset ||
      this.lead?.streamsDirty === true ||
      this.publicRole() !== this.reportedRole ||
      this.leaderId() !== this.reportedLeader
    );
  }

  /** Hands out everything accumulated since the last call; see `Ready`. */
  ready(): Ready {
    this.flushLeaderStreams();
    const role = this.publicRole();
    const leader = this.leaderId();
    const meta: PersistedMeta | undefined = this.metaDirty
      ? { acceptedEpoch: this.acceptedEpoch, currentEpoch: this.currentEpoch }
      : undefined;
    const writesLog =
      this.pendingEntries.length > 0 ||
      this.pendingTruncate !== undefined ||
      this.pendingSnapshot !== undefined;
    // A token vouches only for what its own Ready writes: a Ready without log writes
    // may be advanced before an earlier one's writes are done.
    const token: PersistToken = {
      generation: this.generation,
      lastZxid: writesLog ? this.log.lastZxid() : undefined,
      meta,
      snapshotZxid: this.pendingSnapshot?.zxid,
    };
    const ready: Ready = {
      messages: this.outbox,
      truncateAfter: this.pendingTruncate,
      snapshot: this.pendingSnapshot,
      entriesToPersist: this.pendingEntries,
      metaToPersist: meta,
      committed: this.committedOut,
      stateReset: this.stateReset,
      role,
      leader,
      roleChanged: role !== this.reportedRole || leader !== this.reportedLeader,
      token,
    };
    this.outbox = [];
    this.pendingTruncate = undefined;
    this.pendingSnapshot = undefined;
    this.pendingEntries = [];
    this.metaDirty = false;
    this.committedOut = [];
    this.stateReset = false;
    this.reportedRole = role;
    this.reportedLeader = leader;
    return ready;
  }

  /**
   * Reports that everything `ready` asked to persist is durable. Readies with writes
   * must be advanced in the order they were handed out (writes complete in order);
   * a Ready without writes may be advanced at once. Without storage, advance every
   * Ready right away.
   */
  advance(ready: Ready): void {
    const token = ready.token;
    if (token.lastZxid !== undefined && token.generation === this.generation) {
      this.persistedLastZxid = Math.max(this.persistedLastZxid, token.lastZxid);
    }
    if (token.meta !== undefined) this.persistedMeta = token.meta;
    if (token.snapshotZxid !== undefined) {
      this.persistedSnapshotZxid = Math.max(this.persistedSnapshotZxid, token.snapshotZxid);
    }
    this.afterDurable();
  }

  // ---------------------------------------------------------------- queries

  /** The role as the public API names it. */
  publicRole(): CoordRole {
    if (!this.isVoter) return 'learner';
    if (this.role === 'leading') return this.lead?.phase === 'broadcast' ? 'leader' : 'looking';
    if (this.role === 'following')
      return this.follow?.phase === 'broadcast' ? 'follower' : 'looking';
    return 'looking';
  }

  /** The established leader this node knows (itself when it leads). */
  leaderId(): NodeId | undefined {
    if (this.lead?.phase === 'broadcast') return this.id;
    if (this.follow?.phase === 'broadcast') return this.follow.leader;
    return undefined;
  }

  /** The epoch of the established leader this node leads or follows (else its currentEpoch). */
  epoch(): number {
    if (this.lead?.phase === 'broadcast') return this.lead.epoch;
    if (this.follow?.phase === 'broadcast') return this.follow.epoch;
    return this.currentEpoch;
  }

  /**
   * Whether this node is in contact with a quorum: a leader that heard a quorum
   * within an election timeout (it steps down otherwise), or a follower or learner
   * that heard its established leader within one.
   */
  hasQuorum(): boolean {
    if (this.lead !== undefined) return this.lead.phase === 'broadcast';
    const follow = this.follow;
    return (
      follow !== undefined &&
      follow.phase === 'broadcast' &&
      this.tickNow - follow.lastHeardTick <= this.timing.electionTimeoutTicks
    );
  }

  /** The committed state (read-only use). */
  get clusterState(): ClusterState {
    return this.state;
  }

  get lastZxid(): number {
    return this.log.lastZxid();
  }

  get lastCommittedZxid(): number {
    return this.committedZxid;
  }

  /** This node's current membership session id. */
  get sessionId(): number {
    return this.sessionIdValue;
  }

  /**
   * Whether this node holds the committed entry `zxid`, in its log or folded into its
   * state (for simulation checks; meaningful for committed zxids only).
   */
  holds(zxid: number): boolean {
    if (zxid <= this.log.baseZxid) return true;
    return this.log.get(zxid) !== undefined;
  }

  /** The acceptedEpoch this node remembers. */
  get promisedEpoch(): number {
    return this.acceptedEpoch;
  }

  /** Whether this node leads an established epoch (for simulation checks). */
  isEstablishedLeader(): boolean {
    return this.lead?.phase === 'broadcast';
  }

  /** Whether this voter currently must not count toward quorums. */
  isAmnesiac(): boolean {
    return this.amnesiac;
  }

  status(): CoreStatus {
    return {
      id: this.id,
      role: this.publicRole(),
      phase:
        this.role === 'leading'
          ? `leading:${this.lead?.phase}`
          : this.follow !== undefined
            ? `${this.role}:${this.follow.phase}`
            : this.role,
      leader: this.leaderId(),
      epoch: this.epoch(),
      acceptedEpoch: this.acceptedEpoch,
      currentEpoch: this.currentEpoch,
      lastZxid: this.log.lastZxid(),
      committedZxid: this.committedZxid,
      viewEpoch: this.state.viewEpoch,
      amnesiac: this.amnesiac,
      sessionId: this.sessionIdValue,
      voter: this.isVoter,
    };
  }

  // ---------------------------------------------------------------- dispatch

  private dispatch(from: NodeId, m: CoordMessage): void {
    switch (m.t) {
      case 'vote':
        this.onVote(from, m);
        break;
      case 'findLeader':
        this.onFindLeader(from);
        break;
      case 'leaderIs':
        if (this.role === 'observing' && this.follow === undefined && this.voters.has(m.leader)) {
          this.becomeFollower(m.leader);
        }
        break;
      case 'followerInfo':
        this.onFollowerInfo(from, m);
        break;
      case 'leaderInfo':
        this.onLeaderInfo(from, m);
        break;
      case 'ackEpoch':
        this.onAckEpoch(from, m);
        break;
      case 'reject':
        if (this.lead !== undefined && m.epoch >= Math.max(this.lead.epoch, this.acceptedEpoch)) {
          this.startLooking();
        }
        break;
      case 'sync':
        this.onSync(from, m);
        break;
      case 'ackNewLeader':
        this.onAckNewLeader(from, m.epoch, m.zxid);
        break;
      case 'upToDate':
        this.onUpToDate(from, m.epoch, m.committedZxid);
        break;
      case 'propose':
        this.onPropose(from, m);
        break;
      case 'ack':
        this.onAck(from, m.epoch, m.zxid);
        break;
      case 'commit':
        if (this.fromLeader(from, m.epoch) && this.isSynced()) {
          this.commitTo(Math.min(m.zxid, this.log.lastZxid()));
        }
        break;
      case 'inform':
        this.onInform(from, m);
        break;
      case 'ping':
        this.onPing(from, m);
        break;
      case 'pong':
        this.onPong(from, m);
        break;
      case 'leave':
        this.onLeaveRequest(from, m.epoch, m.sessionId);
        break;
    }
  }

  // ---------------------------------------------------------------- election

  private ownVote(): Vote {
    return { leader: this.id, epoch: this.currentEpoch, zxid: this.log.lastZxid() };
  }

  private startLooking(): void {
    if (!this.isVoter) {
      this.startFinding();
      return;
    }
    this.role = 'looking';
    this.follow = undefined;
    this.lead = undefined;
    this.earlyInfos.clear();
    this.election.start(this.ownVote());
    this.finalizeAtTick = undefined;
    this.broadcastVote();
    this.nextVoteTick = this.tickNow + this.retryTicks();
    this.checkDecided();
  }

  private retryTicks(): number {
    const high = this.timing.electionTimeoutTicks;
    const low = Math.max(1, Math.ceil(high / 2));
    return low + this.random.int(high - low + 1);
  }

  private broadcastVote(): void {
    for (const voter of this.voters.ids) if (voter !== this.id) this.sendVote(voter, 'looking');
  }

  private sendVote(to: NodeId, state: 'looking'): void {
    if (this.role !== 'looking') {
      this.sendStatusVote(to);
      return;
    }
    const vote = this.election.vote;
    this.send(to, {
      t: 'vote',
      round: this.election.round,
      state,
      leader: vote.leader,
      epoch: vote.epoch,
      zxid: vote.zxid,
    });
  }

  /** Tells a looking voter which leader we follow or are. */
  private sendStatusVote(to: NodeId): void {
    if (this.lead !== undefined) {
      this.send(to, {
        t: 'vote',
        round: this.election.round,
        state: 'leading',
        leader: this.id,
        epoch: this.lead.epoch,
        zxid: this.log.lastZxid(),
      });
    } else if (this.follow !== undefined && this.isVoter) {
      this.send(to, {
        t: 'vote',
        round: this.election.round,
        state: 'following',
        leader: this.follow.leader,
        epoch: this.follow.epoch,
        zxid: this.log.lastZxid(),
      });
    }
  }

  private onVote(from: NodeId, m: VoteMessage): void {
    if (!this.isVoter || !this.voters.has(from)) return;
    if (this.role !== 'looking') {
      if (
        this.follow?.leader === from &&
        this.follow.phase === 'connect' &&
        m.state === 'following'
      ) {
        // The voter we meant to follow follows someone else: go after that one.
        this.loseLeader();
        this.onVote(from, m);
        return;
      }
      if (m.state === 'looking') {
        // Our leader is looking again: it gave up, so stop waiting for it. Links are
        // FIFO, so once it has answered as leader a looking vote is newer than that;
        // before, only a newer round proves it is not a vote from before it led.
        const follow = this.follow;
        if (
          follow?.leader === from &&
          (follow.phase !== 'connect' || m.round > this.election.round)
        ) {
          this.loseLeader();
          this.onVote(from, m);
          return;
        }
        this.sendStatusVote(from);
      }
      return;
    }
    if (this.departed.has(m.leader)) return;
    if (m.state === 'looking') {
      const result = this.election.receive(
        from,
        m.round,
        { leader: m.leader, epoch: m.epoch, zxid: m.zxid },
        this.ownVote(),
      );
      if (result.senderBehind) this.sendVote(from, 'looking');
      if (result.changed) this.broadcastVote();
      this.checkDecided();
    } else if (m.state === 'leading') {
      if (m.leader === from) this.becomeFollower(from);
    } else if (this.voters.has(m.leader) && m.leader !== this.id) {
      // A follower names its leader; ask that leader directly, it answers "leading".
      this.sendVote(m.leader, 'looking');
    }
  }

  /**
   * Acts on the election once a quorum agrees with our vote. Unless every voter
   * agrees, it waits one tick first (ZooKeeper's finalize wait): a better vote still
   * in flight would otherwise send us after a candidate that is about to follow
   * someone else.
   */
  private onLeaving(from: NodeId): void {
    if (this.voters.has(from)) this.departed.add(from);
    this.lead?.peers.delete(from);
    if (this.follow?.leader === from) {
      this.loseLeader();
    } else if (this.role === 'looking' && this.election.forget(from, this.ownVote())) {
      this.broadcastVote();
    }
  }

  private checkDecided(finalizing = false): void {
    const leader = this.election.decided();
    if (leader === undefined) {
      this.finalizeAtTick = undefined;
      return;
    }
    if (!finalizing && !this.election.unanimous()) {
      this.finalizeAtTick ??= this.tickNow + FINALIZE_WAIT_TICKS;
      return;
    }
    this.finalizeAtTick = undefined;
    if (leader === this.id) this.becomeLeader();
    else this.becomeFollower(leader);
  }

  private tickLooking(): void {
    if (this.finalizeAtTick !== undefined && this.tickNow >= this.finalizeAtTick) {
      this.checkDecided(true);
      if (this.role !== 'looking') return;
    }
    if (this.tickNow >= this.nextVoteTick) {
      this.broadcastVote();
      this.nextVoteTick = this.tickNow + this.retryTicks();
    }
  }

  private onFindLeader(from: NodeId): void {
    const leader = this.leaderId();
    if (leader !== undefined && this.isVoter) {
      this.send(from, { t: 'leaderIs', leader, epoch: this.epoch() });
    }
  }

  private startFinding(): void {
    this.role = 'observing';
    this.follow = undefined;
    this.lead = undefined;
    for (const voter of this.voters.ids) this.send(voter, { t: 'findLeader' });
    this.nextFindTick = this.tickNow + this.retryTicks();
  }

  // ---------------------------------------------------------------- follower / learner

  private becomeFollower(leader: NodeId): void {
    this.role = this.isVoter ? 'following' : 'observing';
    this.lead = undefined;
    this.follow = {
      leader,
      phase: 'connect',
      epoch: 0,
      lastHeardTick: this.tickNow,
      phaseStartTick: this.tickNow,
      nextInfoTick: this.tickNow + this.infoResendTicks(),
      ackEpochPending: false,
      ackEpochCounts: false,
      newLeaderAckPending: false,
      syncedZxid: 0,
      lastAckSent: 0,
    };
    this.sendFollowerInfo();
  }

  private infoResendTicks(): number {
    return Math.max(2, Math.floor(this.timing.electionTimeoutTicks / 2));
  }

  private sendFollowerInfo(): void {
    const follow = this.follow;
    if (follow === undefined) return;
    this.send(follow.leader, {
      t: 'followerInfo',
      learner: !this.isVoter,
      amnesiac: this.amnesiac,
      acceptedEpoch: this.acceptedEpoch,
      currentEpoch: this.currentEpoch,
      lastZxid: this.log.lastZxid(),
      committedZxid: this.committedZxid,
      historyId: this.historyId(),
    });
  }

  /** The leader is gone or unreachable: look for another. */
  private loseLeader(): void {
    if (this.isVoter) this.startLooking();
    else this.startFinding();
  }

  /** Restarts the handshake with the same leader (after a gap in its stream). */
  private resync(): void {
    const follow = this.follow;
    if (follow === undefined) return;
    follow.phase = 'connect';
    follow.phaseStartTick = this.tickNow;
    follow.ackEpochPending = false;
    follow.newLeaderAckPending = false;
    follow.nextInfoTick = this.tickNow + this.infoResendTicks();
    this.sendFollowerInfo();
  }

  /** Whether a message claiming `epoch` comes from the leader we follow. */
  private fromLeader(from: NodeId, epoch: number): boolean {
    const follow = this.follow;
    if (follow === undefined || follow.leader !== from) return false;
    if (follow.phase !== 'connect' && epoch !== follow.epoch) return false;
    follow.lastHeardTick = this.tickNow;
    return true;
  }

  private isSynced(): boolean {
    return this.follow?.phase === 'synced' || this.follow?.phase === 'broadcast';
  }

  private onLeaderInfo(from: NodeId, m: LeaderInfoMessage): void {
    const follow = this.follow;
    if (!this.isVoter || this.role !== 'following' || follow === undefined) return;
    if (follow.leader !== from) return;
    follow.lastHeardTick = this.tickNow;
    if (m.epoch < this.acceptedEpoch) {
      this.send(from, { t: 'reject', epoch: this.acceptedEpoch });
      this.startLooking();
      return;
    }
    let counts: boolean;
    if (m.epoch > this.acceptedEpoch) {
      this.acceptedEpoch = m.epoch;
      this.acceptedEpochLeader = from;
      this.metaDirty = true;
      counts = true;
    } else {
      counts = this.acceptedEpochLeader === from;
    }
    follow.epoch = m.epoch;
    follow.phase = 'epoch';
    follow.phaseStartTick = this.tickNow;
    follow.ackEpochPending = true;
    follow.ackEpochCounts = counts;
    follow.newLeaderAckPending = false;
    this.maybeSendAckEpoch();
  }

  private maybeSendAckEpoch(): void {
    const follow = this.follow;
    if (follow === undefined || !follow.ackEpochPending) return;
    if (this.persistedMeta.acceptedEpoch < follow.epoch) return;
    follow.ackEpochPending = false;
    this.send(follow.leader, {
      t: 'ackEpoch',
      epoch: follow.epoch,
      counts: follow.ackEpochCounts,
      currentEpoch: this.currentEpoch,
      lastZxid: this.log.lastZxid(),
    });
  }

  private onSync(from: NodeId, m: SyncMessage): void {
    const follow = this.follow;
    if (follow === undefined || follow.leader !== from) return;
    if (this.isVoter) {
      if (follow.phase !== 'epoch' || m.epoch !== follow.epoch || follow.ackEpochPending) return;
    } else if (follow.phase !== 'connect') {
      return;
    }
    follow.lastHeardTick = this.tickNow;
    if (!this.applySync(m)) {
      this.loseLeader();
      return;
    }
    follow.epoch = m.epoch;
    follow.phaseStartTick = this.tickNow;
    if (this.isVoter) {
      if (this.currentEpoch < m.epoch) {
        this.currentEpoch = m.epoch;
        this.metaDirty = true;
      }
      follow.phase = 'synced';
      follow.syncedZxid = this.log.lastZxid();
      follow.newLeaderAckPending = true;
      this.commitTo(Math.min(m.committedZxid, this.log.lastZxid()));
      this.maybeSendNewLeaderAck();
    } else {
      follow.phase = 'broadcast';
      this.commitTo(Math.min(m.committedZxid, this.log.lastZxid()));
    }
  }

  /** Applies a DIFF / TRUNC / SNAP. False when it cannot be applied (we resync elsewhere). */
  private applySync(m: SyncMessage): boolean {
    if (m.mode === 'snap') {
      const snapshot = m.snapshot;
      if (snapshot === null) return false;
      // Storage cannot move its snapshot backwards; only a history reset asks that.
      if (this.durable && snapshot.appliedZxid < this.persistedSnapshotZxid) return false;
      this.state = ClusterState.fromSnapshot(snapshot);
      const base = this.state.appliedZxid;
      this.log.reset(base);
      this.committedZxid = base;
      this.committedSinceSnapshot = 0;
      this.generation += 1;
      this.persistedLastZxid = 0;
      this.pendingEntries = [];
      this.pendingTruncate = base;
      this.pendingSnapshot = { zxid: base, state: this.state.toSnapshot() };
      this.stateReset = true;
      this.committedOut = [];
    } else if (m.mode === 'trunc') {
      if (m.truncateTo < this.committedZxid || m.truncateTo < this.log.baseZxid) return false;
      if (m.truncateTo < this.log.lastZxid()) {
        this.log.truncateAfter(m.truncateTo);
        this.pendingEntries = this.pendingEntries.filter((e) => e.zxid <= m.truncateTo);
        this.pendingTruncate = Math.min(this.pendingTruncate ?? m.truncateTo, m.truncateTo);
        this.generation += 1;
        this.persistedLastZxid = Math.min(this.persistedLastZxid, m.truncateTo);
      }
    }
    const first = m.entries[0];
    if (first !== undefined && first.zxid <= this.log.lastZxid()) return false;
    for (const entry of m.entries) this.appendEntry(entry);
    return true;
  }

  private maybeSendNewLeaderAck(): void {
    const follow = this.follow;
    if (follow === undefined || !follow.newLeaderAckPending) return;
    if (this.persistedMeta.currentEpoch < follow.epoch) return;
    if (this.persistedLastZxid < follow.syncedZxid) return;
    follow.newLeaderAckPending = false;
    this.send(follow.leader, { t: 'ackNewLeader', epoch: follow.epoch, zxid: follow.syncedZxid });
  }

  private onUpToDate(from: NodeId, epoch: number, committedZxid: number): void {
    const follow = this.follow;
    if (!this.fromLeader(from, epoch) || follow === undefined || follow.phase !== 'synced') return;
    follow.phase = 'broadcast';
    follow.phaseStartTick = this.tickNow;
    this.commitTo(Math.min(committedZxid, this.log.lastZxid()));
    this.maybeSendAck();
  }

  private onPropose(from: NodeId, m: ProposeMessage): void {
    if (!this.fromLeader(from, m.epoch) || !this.isSynced() || !this.isVoter) return;
    if (m.prevZxid !== this.log.lastZxid()) {
      this.resync();
      return;
    }
    for (const entry of m.entries) {
      if (epochOf(entry.zxid) !== m.epoch) {
        this.resync();
        return;
      }
      this.appendEntry(entry);
    }
  }

  private maybeSendAck(): void {
    const follow = this.follow;
    if (follow === undefined || follow.phase !== 'broadcast' || !this.isVoter) return;
    const durable = Math.min(this.persistedLastZxid, this.log.lastZxid());
    if (durable > follow.lastAckSent) {
      follow.lastAckSent = durable;
      this.send(follow.leader, { t: 'ack', epoch: follow.epoch, zxid: durable });
    }
  }

  private onInform(from: NodeId, m: InformMessage): void {
    if (this.isVoter || !this.fromLeader(from, m.epoch) || this.follow?.phase !== 'broadcast') {
      return;
    }
    if (m.prevZxid !== this.log.lastZxid()) {
      this.resync();
      return;
    }
    for (const entry of m.entries) this.appendEntry(entry);
    this.commitTo(this.log.lastZxid());
  }

  private onPing(from: NodeId, m: PingMessage): void {
    const follow = this.follow;
    if (!this.fromLeader(from, m.epoch) || follow === undefined) return;
    if (!this.isSynced()) return;
    if (this.log.lastZxid() < m.sentZxid) {
      this.resync();
      return;
    }
    this.commitTo(Math.min(m.committedZxid, this.log.lastZxid()));
    if (m.voting && this.amnesiac && follow.phase === 'broadcast') this.amnesiac = false;
    const member = this.state.member(this.id);
    const needsJoin =
      follow.phase === 'broadcast' &&
      (member === undefined ||
        member.sessionId !== this.sessionIdValue ||
        member.address !== this.address);
    const acked =
      follow.phase === 'broadcast' && this.isVoter
        ? Math.min(this.persistedLastZxid, this.log.lastZxid())
        : 0;
    this.send(from, {
      t: 'pong',
      epoch: m.epoch,
      seq: m.seq,
      ackedZxid: acked,
      sessionId: this.sessionIdValue,
      joinAddress: needsJoin ? this.address : null,
    });
  }

  private tickFollowing(): void {
    const follow = this.follow;
    if (follow === undefined) {
      // A learner looking for its leader.
      if (this.tickNow >= this.nextFindTick) {
        for (const voter of this.voters.ids) this.send(voter, { t: 'findLeader' });
        this.nextFindTick = this.tickNow + this.retryTicks();
      }
      return;
    }
    // In broadcast the leader pings every heartbeat; during the handshake it may wait
    // for a quorum or for disk, so only the sync limit applies.
    const expired =
      follow.phase === 'broadcast'
        ? this.tickNow - follow.lastHeardTick > this.timing.electionTimeoutTicks
        : this.tickNow - follow.phaseStartTick > this.timing.syncLimitTicks;
    if (expired) {
      this.loseLeader();
      return;
    }
    if (follow.phase === 'connect' && this.tickNow >= follow.nextInfoTick) {
      follow.nextInfoTick = this.tickNow + this.infoResendTicks();
      this.sendFollowerInfo();
    }
  }

  // ---------------------------------------------------------------- leader

  private becomeLeader(): void {
    this.role = 'leading';
    this.follow = undefined;
    this.lead = {
      phase: 'discovery',
      epoch: 0,
      startTick: this.tickNow,
      electedEpoch: this.currentEpoch,
      electedZxid: this.log.lastZxid(),
      historyLast: 0,
      counter: 0,
      peers: new Map(),
      pingSeq: 0,
      nextPingTick: this.tickNow,
      establishedTick: this.tickNow,
      lastHeard: new Map(),
      pendingMembership: new Map(),
      streamsDirty: false,
    };
    const early = [...this.earlyInfos];
    this.earlyInfos.clear();
    for (const [from, info] of early) this.onFollowerInfo(from, info);
    this.checkDiscovery();
  }

  /** Whether `participants` may establish an epoch: a quorum of non-amnesiac voters, or every voter. */
  private isEstablishing(participants: readonly NodeId[], nonAmnesiac: readonly NodeId[]): boolean {
    return this.voters.isQuorum(nonAmnesiac) || this.voters.isAll(participants);
  }

  private voterPeers(lead: LeadState): LeaderPeer[] {
    const out: LeaderPeer[] = [];
    for (const peer of lead.peers.values()) if (!peer.learner) out.push(peer);
    return out;
  }

  private onFollowerInfo(from: NodeId, m: FollowerInfoMessage): void {
    const lead = this.lead;
    if (lead === undefined) {
      if (this.role === 'looking') {
        // It decided before we did: keep its request for when we lead.
        if (this.earlyInfos.size < MAX_EARLY_INFOS || this.earlyInfos.has(from)) {
          this.earlyInfos.set(from, m);
        }
      } else if (this.voters.has(from) && this.follow !== undefined) {
        // Not leading: tell a voter whom we follow, so it does not wait on us.
        this.sendStatusVote(from);
      }
      return;
    }
    const learner = !this.voters.has(from);
    const previous = lead.peers.get(from);
    if (previous === undefined && lead.peers.size >= MAX_LEADER_PEERS) return;
    if (!learner && previous !== undefined && previous.phase === 'epochSent') {
      // A resend that crossed our LEADERINFO: answer again, nothing else changed.
      previous.info = m;
      previous.lastHeardTick = this.tickNow;
      this.send(from, { t: 'leaderInfo', epoch: lead.epoch });
      return;
    }
    const peer: LeaderPeer = {
      id: from,
      learner,
      info: m,
      phase: 'info',
      epochAckCounts: false,
      reportedEpoch: m.currentEpoch,
      reportedZxid: m.lastZxid,
      newLeaderAcked: false,
      ackedZxid: 0,
      sentZxid: 0,
      commitSent: 0,
      counted: false,
      syncedAtSeq: 0,
      pongSeq: 0,
      lastHeardTick: this.tickNow,
    };
    lead.peers.set(from, peer);
    if (learner) {
      if (lead.phase === 'broadcast') this.sendLearnerSync(peer);
      return;
    }
    if (lead.phase === 'discovery') {
      this.checkDiscovery();
    } else {
      peer.phase = 'epochSent';
      this.send(from, { t: 'leaderInfo', epoch: lead.epoch });
    }
  }

  private checkDiscovery(): void {
    const lead = this.lead;
    if (lead === undefined || lead.phase !== 'discovery') return;
    const peers = this.voterPeers(lead);
    const participants = [this.id, ...peers.map((p) => p.id)];
    const nonAmnesiac = peers.filter((p) => !p.info.amnesiac).map((p) => p.id);
    if (!this.amnesiac) nonAmnesiac.push(this.id);
    if (!this.isEstablishing(participants, nonAmnesiac)) return;
    let epoch = this.acceptedEpoch;
    for (const peer of peers) epoch = Math.max(epoch, peer.info.acceptedEpoch);
    epoch += 1;
    if (epoch > MAX_EPOCH) {
      // Epoch space exhausted (about two million elections): this ensemble cannot go on.
      this.startLooking();
      return;
    }
    lead.epoch = epoch;
    lead.phase = 'epoch';
    this.acceptedEpoch = epoch;
    this.acceptedEpochLeader = this.id;
    this.metaDirty = true;
    for (const peer of peers) {
      peer.phase = 'epochSent';
      this.send(peer.id, { t: 'leaderInfo', epoch });
    }
  }

  private onAckEpoch(from: NodeId, m: AckEpochMessage): void {
    const lead = this.lead;
    const peer = lead?.peers.get(from);
    if (lead === undefined || peer === undefined || peer.learner) return;
    if (peer.phase !== 'epochSent' || m.epoch !== lead.epoch) return;
    peer.phase = 'epochAcked';
    peer.epochAckCounts = m.counts;
    peer.reportedEpoch = m.currentEpoch;
    peer.reportedZxid = m.lastZxid;
    if (lead.phase === 'epoch') {
      const ahead =
        m.currentEpoch > lead.electedEpoch ||
        (m.currentEpoch === lead.electedEpoch && m.lastZxid > lead.electedZxid);
      if (ahead) {
        // ZAB: the leader must hold the longest history of its quorum. Step aside so
        // the election can pick the node that does.
        this.startLooking();
        return;
      }
      this.checkEpochQuorum();
    } else {
      this.sendSync(peer);
    }
  }

  private checkEpochQuorum(): void {
    const lead = this.lead;
    if (lead === undefined || lead.phase !== 'epoch') return;
    const acked = this.voterPeers(lead).filter((p) => p.phase === 'epochAcked' && p.epochAckCounts);
    const participants = acked.map((p) => p.id);
    const nonAmnesiac = acked.filter((p) => !p.info.amnesiac).map((p) => p.id);
    if (this.persistedMeta.acceptedEpoch >= lead.epoch) {
      participants.push(this.id);
      if (!this.amnesiac) nonAmnesiac.push(this.id);
    }
    if (!this.isEstablishing(participants, nonAmnesiac)) return;
    lead.phase = 'sync';
    this.currentEpoch = lead.epoch;
    this.metaDirty = true;
    lead.historyLast = this.log.lastZxid();
    for (const peer of this.voterPeers(lead)) if (peer.phase === 'epochAcked') this.sendSync(peer);
    this.checkNewLeaderQuorum();
  }

  /** Builds the catch-up from a peer's reported log to ours, up to `upTo`. */
  private buildSync(
    peer: LeaderPeer,
    upTo: number,
  ): Pick<SyncMessage, 'mode' | 'truncateTo' | 'snapshot' | 'entries'> {
    const fz = peer.reportedZxid;
    const sameHistory = fz === 0 || peer.info.historyId === this.historyId();
    if (sameHistory) {
      let start: number | undefined;
      let mode: 'diff' | 'trunc' = 'diff';
      if (fz <= upTo && this.log.contains(fz)) {
        start = fz;
      } else {
        const floor = this.log.floor(Math.min(fz, upTo));
        if (floor !== undefined && floor >= peer.info.committedZxid) {
          start = floor;
          mode = 'trunc';
        }
      }
      // A long diff goes as a snapshot, unless our snapshot (taken at our commit point)
      // is older than what the peer already applied: its state must never go back.
      const snapshotIsOlder = this.committedZxid < peer.info.committedZxid;
      if (
        start !== undefined &&
        (snapshotIsOlder || this.log.countBetween(start, upTo) <= this.limits.maxSyncDiffEntries)
      ) {
        return {
          mode,
          truncateTo: mode === 'trunc' ? start : 0,
          snapshot: null,
          entries: this.log.slice(start, upTo),
        };
      }
    }
    return {
      mode: 'snap',
      truncateTo: 0,
      snapshot: this.state.toSnapshot(),
      entries: this.log.slice(this.committedZxid, upTo),
    };
  }

  private sendSync(peer: LeaderPeer): void {
    const lead = this.lead;
    if (lead === undefined) return;
    const upTo = this.log.lastZxid();
    const sync = this.buildSync(peer, upTo);
    this.send(peer.id, {
      t: 'sync',
      epoch: lead.epoch,
      committedZxid: this.committedZxid,
      ...sync,
    });
    peer.phase = 'synced';
    peer.newLeaderAcked = false;
    peer.sentZxid = upTo;
    peer.commitSent = this.committedZxid;
  }

  private sendLearnerSync(peer: LeaderPeer): void {
    const lead = this.lead;
    if (lead === undefined) return;
    const sync = this.buildSync(peer, this.committedZxid);
    this.send(peer.id, {
      t: 'sync',
      epoch: lead.epoch,
      committedZxid: this.committedZxid,
      ...sync,
    });
    peer.phase = 'broadcast';
    peer.sentZxid = this.committedZxid;
    peer.commitSent = this.committedZxid;
  }

  private onAckNewLeader(from: NodeId, epoch: number, zxid: number): void {
    const lead = this.lead;
    const peer = lead?.peers.get(from);
    if (lead === undefined || peer === undefined || peer.learner) return;
    if (peer.phase !== 'synced' || epoch !== lead.epoch || peer.newLeaderAcked) return;
    peer.newLeaderAcked = true;
    peer.ackedZxid = Math.max(peer.ackedZxid, zxid);
    peer.lastHeardTick = this.tickNow;
    if (lead.phase === 'sync') {
      this.checkNewLeaderQuorum();
    } else if (lead.phase === 'broadcast') {
      this.admit(peer, false);
    }
  }

  private checkNewLeaderQuorum(): void {
    const lead = this.lead;
    if (lead === undefined || lead.phase !== 'sync') return;
    const acked = this.voterPeers(lead).filter((p) => p.phase === 'synced' && p.newLeaderAcked);
    const participants = acked.map((p) => p.id);
    const nonAmnesiac = acked.filter((p) => !p.info.amnesiac).map((p) => p.id);
    if (
      this.persistedMeta.currentEpoch >= lead.epoch &&
      this.persistedLastZxid >= lead.historyLast
    ) {
      participants.push(this.id);
      if (!this.amnesiac) nonAmnesiac.push(this.id);
    }
    if (!this.isEstablishing(participants, nonAmnesiac)) return;
    this.establish(this.voters.isAll(participants));
  }

  /** NEWLEADER was acked by a quorum: the epoch is established and its history committed. */
  private establish(everyVoter: boolean): void {
    const lead = this.lead;
    if (lead === undefined) return;
    lead.phase = 'broadcast';
    lead.establishedTick = this.tickNow;
    this.amnesiac = false;
    this.commitTo(lead.historyLast);
    for (const peer of lead.peers.values()) {
      if (peer.learner) {
        this.sendLearnerSync(peer);
      } else if (peer.phase === 'synced' && peer.newLeaderAcked) {
        this.admit(peer, everyVoter);
      }
    }
    // A new leader knows nothing of when members were last heard: fresh clocks for all.
    for (const member of this.state.memberList()) lead.lastHeard.set(member.id, this.tickNow);
    if (this.log.lastZxid() === 0) {
      this.appendProposal({ type: 'genesis', historyId: this.newId() });
    }
    this.maintainSessions();
    this.maybeCommit();
  }

  /** A synced follower enters broadcast. */
  private admit(peer: LeaderPeer, everyVoter: boolean): void {
    const lead = this.lead;
    if (lead === undefined) return;
    peer.phase = 'broadcast';
    peer.counted = !peer.info.amnesiac || everyVoter;
    peer.syncedAtSeq = lead.pingSeq;
    this.send(peer.id, { t: 'upToDate', epoch: lead.epoch, committedZxid: this.committedZxid });
    peer.commitSent = this.committedZxid;
    this.maybeCommit();
  }

  private appendProposal(data: EntryData): number | undefined {
    const lead = this.lead;
    if (lead === undefined || lead.phase !== 'broadcast') return undefined;
    if (lead.counter >= MAX_COUNTER) {
      // The counter would roll over into the next epoch's zxids: force a new epoch.
      this.startLooking();
      return undefined;
    }
    lead.counter += 1;
    const entry: LogEntry = { zxid: makeZxid(lead.epoch, lead.counter), data };
    this.appendEntry(entry);
    lead.streamsDirty = true;
    return entry.zxid;
  }

  private appendEntry(entry: LogEntry): void {
    this.log.append(entry);
    this.pendingEntries.push(entry);
  }

  /** Sends each peer what it has not been sent yet: proposals, commits, informs. */
  private flushLeaderStreams(): void {
    const lead = this.lead;
    if (lead === undefined || !lead.streamsDirty) return;
    lead.streamsDirty = false;
    const last = this.log.lastZxid();
    for (const peer of lead.peers.values()) {
      if (peer.learner) {
        if (peer.phase === 'broadcast') this.streamEntries(peer, this.committedZxid, 'inform');
        continue;
      }
      if (peer.phase !== 'synced' && peer.phase !== 'broadcast') continue;
      this.streamEntries(peer, last, 'propose');
      if (peer.commitSent < this.committedZxid) {
        peer.commitSent = this.committedZxid;
        this.send(peer.id, { t: 'commit', epoch: lead.epoch, zxid: this.committedZxid });
      }
    }
  }

  private streamEntries(peer: LeaderPeer, upTo: number, kind: 'propose' | 'inform'): void {
    const lead = this.lead;
    if (lead === undefined || peer.sentZxid >= upTo) return;
    if (peer.sentZxid < this.log.baseZxid) {
      // What it misses was compacted away: start it over with a snapshot.
      if (peer.learner) this.sendLearnerSync(peer);
      else this.resetPeer(peer);
      return;
    }
    while (peer.sentZxid < upTo) {
      const entries = this.log.slice(peer.sentZxid, upTo, this.limits.maxBatchEntries);
      const lastEntry = entries[entries.length - 1];
      if (lastEntry === undefined) break;
      this.send(peer.id, { t: kind, epoch: lead.epoch, prevZxid: peer.sentZxid, entries });
      peer.sentZxid = lastEntry.zxid;
    }
  }

  /** Forgets a follower's handshake; it will resync when it notices the gap. */
  private resetPeer(peer: LeaderPeer): void {
    const lead = this.lead;
    if (lead === undefined) return;
    peer.phase = 'epochSent';
    peer.counted = false;
    this.send(peer.id, { t: 'leaderInfo', epoch: lead.epoch });
  }

  private onAck(from: NodeId, epoch: number, zxid: number): void {
    const lead = this.lead;
    const peer = lead?.peers.get(from);
    if (lead === undefined || peer === undefined || peer.learner || epoch !== lead.epoch) return;
    if (peer.phase !== 'broadcast') return;
    peer.lastHeardTick = this.tickNow;
    if (zxid > peer.ackedZxid) {
      peer.ackedZxid = Math.min(zxid, peer.sentZxid);
      this.maybeCommit();
    }
  }

  /** Commits what a quorum of counted voters has durably acked. */
  private maybeCommit(): void {
    const lead = this.lead;
    if (lead === undefined || lead.phase !== 'broadcast') return;
    const acks = new Map<NodeId, number>();
    acks.set(this.id, Math.min(this.persistedLastZxid, this.log.lastZxid()));
    for (const peer of lead.peers.values()) {
      if (!peer.learner && peer.counted && peer.phase === 'broadcast') {
        acks.set(peer.id, peer.ackedZxid);
      }
    }
    const reached = this.voters.quorumMin(acks);
    if (reached > this.committedZxid) this.commitTo(reached);
  }

  private onPong(from: NodeId, m: PongMessage): void {
    const lead = this.lead;
    const peer = lead?.peers.get(from);
    if (lead === undefined || peer === undefined || m.epoch !== lead.epoch) return;
    peer.lastHeardTick = this.tickNow;
    peer.pongSeq = Math.max(peer.pongSeq, m.seq);
    if (lead.phase !== 'broadcast' || peer.phase !== 'broadcast') return;
    if (!peer.learner && m.ackedZxid > peer.ackedZxid) {
      peer.ackedZxid = Math.min(m.ackedZxid, peer.sentZxid);
    }
    if (!peer.counted && !peer.learner) this.maybeConfirm();
    this.maybeCommit();
    if (m.joinAddress !== null) {
      const member = this.state.member(from);
      if (
        member === undefined ||
        member.sessionId !== m.sessionId ||
        member.address !== m.joinAddress
      ) {
        this.proposeMembership({
          type: 'join',
          id: from,
          address: m.joinAddress,
          sessionId: m.sessionId,
        });
      }
    }
  }

  /**
   * Counts restarted memoryless voters again once a quorum of counted voters answered
   * a heartbeat sent after their sync: at that moment our epoch was still the newest
   * any quorum promised, so what they were synced to holds every committed entry.
   */
  private maybeConfirm(): void {
    const lead = this.lead;
    if (lead === undefined) return;
    for (const peer of lead.peers.values()) {
      if (peer.learner || peer.counted || peer.phase !== 'broadcast') continue;
      const confirmed = [this.id];
      for (const other of lead.peers.values()) {
        if (!other.learner && other.counted && other.phase === 'broadcast') {
          if (other.pongSeq > peer.syncedAtSeq) confirmed.push(other.id);
        }
      }
      if (this.voters.isQuorum(confirmed)) peer.counted = true;
    }
  }

  private onLeaveRequest(from: NodeId, epoch: number, sessionId: number): void {
    const lead = this.lead;
    if (lead === undefined || lead.phase !== 'broadcast' || epoch !== lead.epoch) return;
    const member = this.state.member(from);
    if (member !== undefined && member.sessionId === sessionId) {
      this.proposeMembership({ type: 'leave', id: from, sessionId, reason: 'stopped' });
    }
  }

  /** Proposes a join or leave unless the same one is already in flight. */
  private proposeMembership(data: EntryData): void {
    const lead = this.lead;
    if (lead === undefined || (data.type !== 'join' && data.type !== 'leave')) return;
    const key = `${data.type}:${data.id}:${data.sessionId}`;
    if (lead.pendingMembership.has(key)) return;
    if (this.uncommittedCount() >= this.limits.maxPendingProposals) return;
    const zxid = this.appendProposal(data);
    if (zxid !== undefined) lead.pendingMembership.set(key, zxid);
  }

  private maintainSessions(): void {
    const lead = this.lead;
    if (lead === undefined || lead.phase !== 'broadcast') return;
    const self = this.state.member(this.id);
    if (
      self === undefined ||
      self.sessionId !== this.sessionIdValue ||
      self.address !== this.address
    ) {
      this.proposeMembership({
        type: 'join',
        id: this.id,
        address: this.address,
        sessionId: this.sessionIdValue,
      });
    }
    for (const id of lead.lastHeard.keys()) {
      if (!lead.peers.has(id) && this.state.member(id) === undefined) lead.lastHeard.delete(id);
    }
    for (const id of this.downSinceTick.keys()) {
      if (this.state.member(id) === undefined) this.downSinceTick.delete(id);
    }
    for (const member of this.state.memberList()) {
      if (member.id === this.id) continue;
      const heard = lead.lastHeard.get(member.id) ?? lead.establishedTick;
      const downSince = this.downSinceTick.get(member.id);
      // A closed connection counts from this leader's establishment at the earliest: an
      // old leader may have held its lease until then.
      const disconnected =
        downSince !== undefined &&
        this.tickNow - Math.max(downSince, lead.establishedTick) > this.timing.disconnectGraceTicks;
      if (disconnected || this.tickNow - heard > this.timing.sessionTimeoutTicks) {
        this.proposeMembership({
          type: 'leave',
          id: member.id,
          sessionId: member.sessionId,
          reason: 'expired',
        });
      }
    }
  }

  private tickLeading(): void {
    const lead = this.lead;
    if (lead === undefined) return;
    if (lead.phase !== 'broadcast') {
      if (this.tickNow - lead.startTick > this.timing.syncLimitTicks) this.startLooking();
      return;
    }
    const heard = [this.id];
    for (const peer of lead.peers.values()) {
      if (peer.learner || !peer.counted || peer.phase !== 'broadcast') continue;
      if (this.tickNow - peer.lastHeardTick <= this.timing.electionTimeoutTicks)
        heard.push(peer.id);
    }
    if (!this.voters.isQuorum(heard)) {
      // Cut off from a quorum: stop claiming leadership (we could not commit anyway).
      this.startLooking();
      return;
    }
    for (const [id, peer] of lead.peers) {
      // A peer silent for a whole session timeout is gone; forget its handshake.
      if (this.tickNow - peer.lastHeardTick > this.timing.sessionTimeoutTicks)
        lead.peers.delete(id);
    }
    if (this.tickNow >= lead.nextPingTick) {
      lead.nextPingTick = this.tickNow + this.timing.heartbeatTicks;
      lead.pingSeq += 1;
      for (const peer of lead.peers.values()) {
        if (peer.phase !== 'synced' && peer.phase !== 'broadcast') continue;
        this.send(peer.id, {
          t: 'ping',
          epoch: lead.epoch,
          seq: lead.pingSeq,
          committedZxid: this.committedZxid,
          sentZxid: peer.sentZxid,
          voting: peer.counted,
        });
      }
    }
    this.maintainSessions();
  }

  // ---------------------------------------------------------------- commit & apply

  private commitTo(requested: number): void {
    if (requested <= this.committedZxid) return;
    invariant(requested <= this.log.lastZxid(), `commit ${formatZxid(requested)} past the log end`);
    // An honest leader names an entry's zxid; a malformed sync or ping may name a point
    // between two held entries, and then only the entries up to it are committed.
    const zxid = this.log.floor(requested) ?? this.committedZxid;
    if (zxid <= this.committedZxid) return;
    const entries = this.log.slice(this.committedZxid, zxid);
    for (const entry of entries) {
      const result = this.state.apply(entry);
      this.committedZxid = entry.zxid;
      this.committedOut.push({ zxid: entry.zxid, data: entry.data, result });
      this.committedSinceSnapshot += 1;
      const data = entry.data;
      if (data.type === 'join' || data.type === 'leave') {
        this.lead?.pendingMembership.delete(`${data.type}:${data.id}:${data.sessionId}`);
        if (data.type === 'join' && this.lead !== undefined) {
          this.lead.lastHeard.set(
            data.id,
            Math.max(this.lead.lastHeard.get(data.id) ?? 0, this.tickNow),
          );
        }
        if (
          data.type === 'leave' &&
          data.id === this.id &&
          data.sessionId === this.sessionIdValue &&
          data.reason === 'expired'
        ) {
          // We were expired while cut off: come back with a new session.
          this.sessionIdValue = this.newId();
        }
      }
    }
    invariant(this.committedZxid === zxid, `commit stopped at ${formatZxid(this.committedZxid)}`);
    if (this.lead !== undefined) this.lead.streamsDirty = true;
    this.maybeSnapshot();
    this.compact();
  }

  private maybeSnapshot(): void {
    if (!this.durable || this.pendingSnapshot !== undefined) return;
    if (this.committedSinceSnapshot < this.limits.snapshotEveryEntries) return;
    // Storage can only snapshot past what its log durably holds.
    if (this.committedZxid > this.persistedLastZxid) return;
    if (this.committedZxid <= this.persistedSnapshotZxid) return;
    this.pendingSnapshot = { zxid: this.committedZxid, state: this.state.toSnapshot() };
    this.committedSinceSnapshot = 0;
  }

  private compact(): void {
    const keep = this.limits.retainedLogEntries;
    const committedHeld = this.log.countBetween(this.log.baseZxid, this.committedZxid);
    // Compact in chunks (hysteresis) so the cost is amortised.
    if (committedHeld <= keep + Math.max(1, Math.floor(keep / 2))) return;
    const newBase = this.log
      .slice(this.log.baseZxid, this.committedZxid, committedHeld - keep)
      .at(-1);
    if (newBase !== undefined) this.log.compactTo(newBase.zxid);
  }

  // ---------------------------------------------------------------- durability

  private afterDurable(): void {
    if (this.follow !== undefined) {
      this.maybeSendAckEpoch();
      this.maybeSendNewLeaderAck();
      this.maybeSendAck();
    }
    if (this.lead !== undefined) {
      this.checkEpochQuorum();
      this.checkNewLeaderQuorum();
      this.maybeCommit();
    }
    this.maybeSnapshot();
  }

  // ---------------------------------------------------------------- helpers

  private send(to: NodeId, message: CoordMessage): void {
    this.outbox.push({ to, message });
  }

  private uncommittedCount(): number {
    return this.log.countBetween(this.committedZxid, this.log.lastZxid());
  }

  /** The id of the history our log belongs to (0 while empty). */
  private historyId(): number {
    if (this.state.historyId !== 0) return this.state.historyId;
    const first = this.log.slice(this.log.baseZxid, this.log.lastZxid(), 1)[0];
    return first?.data.type === 'genesis' ? first.data.historyId : 0;
  }

  private newId(): number {
    return 1 + this.random.int(ID_SPACE - 1);
  }
}

function resolveLimits(options: Partial<CoreLimits> = {}): CoreLimits {
  const limits = { ...DEFAULT_CORE_LIMITS, ...options };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new InvalidArgumentError(`${name} must be a positive integer, got ${value}`);
    }
  }
  return limits;
}
