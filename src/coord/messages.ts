import type { NodeId } from '../transport/transport.js';
import { type ClusterSnapshot, ClusterState } from './cluster-state.js';
import { isNodeId, type LogEntry, MAX_ADDRESS_LENGTH, parseLogEntry } from './entries.js';
import { isZxid, MAX_EPOCH } from './zxid.js';

/**
 * The coordinator's wire protocol (channel `coord`). Names follow ZooKeeper's ZAB
 * implementation where one exists: FOLLOWERINFO, LEADERINFO (NEWEPOCH), ACKEPOCH,
 * the sync (DIFF / TRUNC / SNAP, followed by NEWLEADER), UPTODATE, PROPOSAL, ACK,
 * COMMIT, INFORM (to learners), PING. Absent values are `null`, never `undefined`,
 * so every message survives msgpackr unchanged.
 */

/**
 * Most entries one message may carry. A diff is bounded by the retained log plus the
 * leader's uncommitted proposals (`maxPendingProposals`); bigger catch-ups go as a
 * snapshot.
 */
export const MAX_ENTRIES_PER_MESSAGE = 100_000;

/** Where a voter stands, as announced in election notifications. */
export type VoterState = 'looking' | 'following' | 'leading';

/**
 * Election notification (fast leader election). `leader`, `epoch`, `zxid` are the
 * vote: the candidate and its (currentEpoch, last zxid). A voter that is not looking
 * announces the leader it follows or is, and that leader's epoch.
 */
export interface VoteMessage {
  readonly t: 'vote';
  readonly round: number;
  readonly state: VoterState;
  readonly leader: NodeId;
  readonly epoch: number;
  readonly zxid: number;
}

/** A learner asks a voter who leads. */
export interface FindLeaderMessage {
  readonly t: 'findLeader';
}

/** A voter that follows or leads an established leader answers `findLeader`. */
export interface LeaderIsMessage {
  readonly t: 'leaderIs';
  readonly leader: NodeId;
  readonly epoch: number;
}

/** A follower or learner connects to the leader, describing its log and promises. */
export interface FollowerInfoMessage {
  readonly t: 'followerInfo';
  readonly learner: boolean;
  /** A voter restarted without storage: its promises were forgotten, so it must not count yet. */
  readonly amnesiac: boolean;
  readonly acceptedEpoch: number;
  readonly currentEpoch: number;
  readonly lastZxid: number;
  readonly committedZxid: number;
  readonly historyId: number;
}

/** The leader proposes its new epoch (ZAB's NEWEPOCH). */
export interface LeaderInfoMessage {
  readonly t: 'leaderInfo';
  readonly epoch: number;
}

/**
 * A follower accepted the epoch (durably). `counts` is false when it had already
 * accepted this epoch number from someone else, so it cannot promise it again.
 */
export interface AckEpochMessage {
  readonly t: 'ackEpoch';
  readonly epoch: number;
  readonly counts: boolean;
  readonly currentEpoch: number;
  readonly lastZxid: number;
}

/** A follower refuses a leader whose epoch is older than one it has accepted. */
export interface RejectMessage {
  readonly t: 'reject';
  readonly epoch: number;
}

/** How a sync brings a follower's log to the leader's. */
export type SyncMode = 'diff' | 'trunc' | 'snap';

/**
 * Brings a follower (or learner) to the leader's log, then stands for NEWLEADER:
 * the follower answers with `ackNewLeader` once what it received is durable.
 * `trunc` drops the follower's entries above `truncateTo` first; `snap` replaces its
 * whole state with `snapshot`; then `entries` are appended.
 */
export interface SyncMessage {
  readonly t: 'sync';
  readonly epoch: number;
  readonly mode: SyncMode;
  readonly truncateTo: number;
  readonly snapshot: ClusterSnapshot | null;
  readonly entries: readonly LogEntry[];
  readonly committedZxid: number;
}

/** The follower's log and `currentEpoch` now durably match the leader's (ZAB's ACK of NEWLEADER). */
export interface AckNewLeaderMessage {
  readonly t: 'ackNewLeader';
  readonly epoch: number;
  readonly zxid: number;
}

/** The leader is established; the follower may serve and ack proposals. */
export interface UpToDateMessage {
  readonly t: 'upToDate';
  readonly epoch: number;
  readonly committedZxid: number;
}

/** New proposals; `prevZxid` is the zxid right before the first, so a gap is detected. */
export interface ProposeMessage {
  readonly t: 'propose';
  readonly epoch: number;
  readonly prevZxid: number;
  readonly entries: readonly LogEntry[];
}

/** The follower durably holds the leader's log up to `zxid` (cumulative). */
export interface AckMessage {
  readonly t: 'ack';
  readonly epoch: number;
  readonly zxid: number;
}

/** Everything up to `zxid` is committed (cumulative). */
export interface CommitMessage {
  readonly t: 'commit';
  readonly epoch: number;
  readonly zxid: number;
}

/** Committed entries for a learner; `prevZxid` detects a gap. */
export interface InformMessage {
  readonly t: 'inform';
  readonly epoch: number;
  readonly prevZxid: number;
  readonly entries: readonly LogEntry[];
}

/**
 * The leader's heartbeat. `sentZxid` is the last zxid already sent to this peer, so a
 * peer that holds less lost a message and resyncs. `voting` tells a restarted
 * memoryless voter that it counts again.
 */
export interface PingMessage {
  readonly t: 'ping';
  readonly epoch: number;
  readonly seq: number;
  readonly committedZxid: number;
  readonly sentZxid: number;
  readonly voting: boolean;
}

/**
 * A member's heartbeat answer; also its session keep-alive. It repeats the member's
 * ack (acks may be lost) and, when the member is not in the view with this session,
 * asks to join at `joinAddress`.
 */
export interface PongMessage {
  readonly t: 'pong';
  readonly epoch: number;
  readonly seq: number;
  readonly ackedZxid: number;
  readonly sessionId: number;
  readonly joinAddress: string | null;
}

/** A member asks the leader to end its session now (clean shutdown). */
export interface LeaveMessage {
  readonly t: 'leave';
  readonly epoch: number;
  readonly sessionId: number;
}

/** The sender is shutting down: stop following it and drop its vote. */
export interface LeavingMessage {
  readonly t: 'leaving';
}

/** Every coordinator message. */
export type CoordMessage =
  | VoteMessage
  | FindLeaderMessage
  | LeaderIsMessage
  | FollowerInfoMessage
  | LeaderInfoMessage
  | AckEpochMessage
  | RejectMessage
  | SyncMessage
  | AckNewLeaderMessage
  | UpToDateMessage
  | ProposeMessage
  | AckMessage
  | CommitMessage
  | InformMessage
  | PingMessage
  | PongMessage
  | LeaveMessage
  | LeavingMessage;

function isEpoch(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_EPOCH;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function parseEntries(value: unknown): LogEntry[] | undefined {
  if (!Array.isArray(value) || value.length > MAX_ENTRIES_PER_MESSAGE) return undefined;
  const out: LogEntry[] = [];
  let previous = 0;
  for (const item of value) {
    const entry = parseLogEntry(item);
    if (entry === undefined || entry.zxid <= previous) return undefined;
    previous = entry.zxid;
    out.push(entry);
  }
  return out;
}

function parseSnapshot(value: unknown): ClusterSnapshot | null | undefined {
  if (value === null || value === undefined) return null;
  try {
    return ClusterState.fromSnapshot(value).toSnapshot();
  } catch {
    return undefined;
  }
}

/**
 * Validates a message received from `transport`. Returns a well-formed message or
 * `undefined` (the caller drops it): a peer may be buggy or hostile.
 */
export function parseCoordMessage(raw: unknown): CoordMessage | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const m = raw as Record<string, unknown>;
  switch (m.t) {
    case 'vote':
      if (!isCount(m.round) || !isNodeId(m.leader) || !isEpoch(m.epoch) || !isZxid(m.zxid)) {
        return undefined;
      }
      if (m.state !== 'looking' && m.state !== 'following' && m.state !== 'leading') {
        return undefined;
      }
      return {
        t: 'vote',
        round: m.round,
        state: m.state,
        leader: m.leader,
        epoch: m.epoch,
        zxid: m.zxid,
      };
    case 'findLeader':
      return { t: 'findLeader' };
    case 'leaving':
      return { t: 'leaving' };
    case 'leaderIs':
      return isNodeId(m.leader) && isEpoch(m.epoch)
        ? { t: 'leaderIs', leader: m.leader, epoch: m.epoch }
        : undefined;
    case 'followerInfo':
      if (typeof m.learner !== 'boolean' || typeof m.amnesiac !== 'boolean') return undefined;
      if (!isEpoch(m.acceptedEpoch) || !isEpoch(m.currentEpoch)) return undefined;
      if (!isZxid(m.lastZxid) || !isZxid(m.committedZxid) || !isCount(m.historyId))
        return undefined;
      return {
        t: 'followerInfo',
        learner: m.learner,
        amnesiac: m.amnesiac,
        acceptedEpoch: m.acceptedEpoch,
        currentEpoch: m.currentEpoch,
        lastZxid: m.lastZxid,
        committedZxid: m.committedZxid,
        historyId: m.historyId,
      };
    case 'leaderInfo':
      return isEpoch(m.epoch) ? { t: 'leaderInfo', epoch: m.epoch } : undefined;
    case 'ackEpoch':
      if (!isEpoch(m.epoch) || typeof m.counts !== 'boolean' || !isEpoch(m.currentEpoch)) {
        return undefined;
      }
      return isZxid(m.lastZxid)
        ? {
            t: 'ackEpoch',
            epoch: m.epoch,
            counts: m.counts,
            currentEpoch: m.currentEpoch,
            lastZxid: m.lastZxid,
          }
        : undefined;
    case 'reject':
      return isEpoch(m.epoch) ? { t: 'reject', epoch: m.epoch } : undefined;
    case 'sync': {
      if (!isEpoch(m.epoch) || !isZxid(m.truncateTo) || !isZxid(m.committedZxid)) return undefined;
      if (m.mode !== 'diff' && m.mode !== 'trunc' && m.mode !== 'snap') return undefined;
      const entries = parseEntries(m.entries);
      const snapshot = parseSnapshot(m.snapshot);
      if (entries === undefined || snapshot === undefined) return undefined;
      if ((m.mode === 'snap') !== (snapshot !== null)) return undefined;
      return {
        t: 'sync',
        epoch: m.epoch,
        mode: m.mode,
        truncateTo: m.truncateTo,
        snapshot,
        entries,
        committedZxid: m.committedZxid,
      };
    }
    case 'ackNewLeader':
    case 'ack':
    case 'commit':
      return isEpoch(m.epoch) && isZxid(m.zxid)
        ? { t: m.t, epoch: m.epoch, zxid: m.zxid }
        : undefined;
    case 'upToDate':
      return isEpoch(m.epoch) && isZxid(m.committedZxid)
        ? { t: 'upToDate', epoch: m.epoch, committedZxid: m.committedZxid }
        : undefined;
    case 'propose':
    case 'inform': {
      if (!isEpoch(m.epoch) || !isZxid(m.prevZxid)) return undefined;
      const entries = parseEntries(m.entries);
      if (entries === undefined || (entries.length > 0 && entries[0]!.zxid <= m.prevZxid)) {
        return undefined;
      }
      return { t: m.t, epoch: m.epoch, prevZxid: m.prevZxid, entries };
    }
    case 'ping':
      if (!isEpoch(m.epoch) || !isCount(m.seq) || !isZxid(m.committedZxid)) return undefined;
      if (!isZxid(m.sentZxid) || typeof m.voting !== 'boolean') return undefined;
      return {
        t: 'ping',
        epoch: m.epoch,
        seq: m.seq,
        committedZxid: m.committedZxid,
        sentZxid: m.sentZxid,
        voting: m.voting,
      };
    case 'pong': {
      if (!isEpoch(m.epoch) || !isCount(m.seq) || !isZxid(m.ackedZxid) || !isCount(m.sessionId)) {
        return undefined;
      }
      const joinAddress = m.joinAddress;
      if (
        joinAddress !== null &&
        (typeof joinAddress !== 'string' ||
          joinAddress.length === 0 ||
          joinAddress.length > MAX_ADDRESS_LENGTH)
      ) {
        return undefined;
      }
      return {
        t: 'pong',
        epoch: m.epoch,
        seq: m.seq,
        ackedZxid: m.ackedZxid,
        sessionId: m.sessionId,
        joinAddress,
      };
    }
    case 'leave':
      return isEpoch(m.epoch) && isCount(m.sessionId)
        ? { t: 'leave', epoch: m.epoch, sessionId: m.sessionId }
        : undefined;
    default:
      return undefined;
  }
}
