import { InvalidArgumentError } from '../util/errors.js';

/**
 * The coordinator's timeouts, in ticks. The core only counts ticks; the driver calls
 * `tick()` every `tickMs`, so one knob scales everything.
 *
 * Defaults (LAN, `tickMs` 50):
 * - `heartbeatTicks` 1 (50 ms): the leader pings every member, members answer. A
 *   ping is tiny, and frequent pings are what make a hung (SIGSTOPped) leader visible
 *   without a closed connection.
 * - `electionTimeoutTicks` 6 (300 ms): a follower that hears nothing from its leader
 *   for this long starts an election, and a leader that hears no quorum for this long
 *   steps down. It must cover several heartbeats (so one lost ping is no reason to
 *   elect) plus event-loop hiccups; a dead connection (kill -9) is noticed at once
 *   through the transport and does not wait for it. A looking voter re-sends its vote
 *   after a random 1/2 to 1 election timeout, so votes lost to drops are repeated
 *   without every voter firing together.
 * - `syncLimitTicks` 2 x election timeout: how long a new leader may take to gather a
 *   quorum and sync it (ZooKeeper's initLimit) before giving up.
 * - `sessionTimeoutTicks` 50 (2.5 s): a member unheard this long is removed from the
 *   view. It must exceed an election plus resync by a good margin, because members
 *   cannot heartbeat while there is no leader; a new leader also restarts every
 *   session's clock, since it has no history of who was heard when.
 * - `disconnectGraceTicks` 20 (1 s, never above the session timeout): a member whose
 *   transport connection closed (its process died: the kernel closes its sockets) and
 *   that has sent nothing since is removed after this grace instead of the whole
 *   session timeout. A paused process keeps its connection open and still gets the
 *   full session timeout. Safe because a running member drops its lease when it sees
 *   the same close, and the grace exceeds two election timeouts; see
 *   `src/coord/README.md` for the bound and its assumption about stalled processes.
 */
export interface CoordTiming {
  readonly heartbeatTicks: number;
  readonly electionTimeoutTicks: number;
  readonly syncLimitTicks: number;
  readonly sessionTimeoutTicks: number;
  readonly disconnectGraceTicks: number;
}

/** Default tick length of the driver. */
export const DEFAULT_TICK_MS = 50;

/** Defaults for a LAN; see `CoordTiming`. */
export const DEFAULT_TIMING: CoordTiming = {
  heartbeatTicks: 1,
  electionTimeoutTicks: 6,
  syncLimitTicks: 12,
  sessionTimeoutTicks: 50,
  disconnectGraceTicks: 20,
};

/** Largest value any tick option accepts (about a day at 50 ms ticks). */
export const MAX_TIMEOUT_TICKS = 2_000_000;

/**
 * Fills in defaults and checks the relations the protocol depends on: a heartbeat
 * strictly shorter than the election timeout, a session timeout longer than an
 * election timeout (otherwise every leader change would expire members), and a
 * disconnect grace of more than two election timeouts (the member's lease, with room
 * for clock drift and messages in flight) and at most the session timeout. The default
 * grace is capped at the session timeout and kept above two election timeouts.
 */
export function resolveTiming(options: Partial<CoordTiming> = {}): CoordTiming {
  const electionTimeoutTicks = options.electionTimeoutTicks ?? DEFAULT_TIMING.electionTimeoutTicks;
  const sessionTimeoutTicks = options.sessionTimeoutTicks ?? DEFAULT_TIMING.sessionTimeoutTicks;
  const timing: CoordTiming = {
    heartbeatTicks: options.heartbeatTicks ?? DEFAULT_TIMING.heartbeatTicks,
    electionTimeoutTicks,
    syncLimitTicks: options.syncLimitTicks ?? 2 * electionTimeoutTicks,
    sessionTimeoutTicks,
    disconnectGraceTicks:
      options.disconnectGraceTicks ??
      Math.min(
        sessionTimeoutTicks,
        Math.max(DEFAULT_TIMING.disconnectGraceTicks, 2 * electionTimeoutTicks + 1),
      ),
  };
  for (const [name, value] of Object.entries(timing)) {
    if (!Number.isInteger(value) || value < 1 || value > MAX_TIMEOUT_TICKS) {
      throw new InvalidArgumentError(
        `${name} must be an integer in [1, ${MAX_TIMEOUT_TICKS}], got ${value}`,
      );
    }
  }
  if (timing.heartbeatTicks >= timing.electionTimeoutTicks) {
    throw new InvalidArgumentError('heartbeatTicks must be less than electionTimeoutTicks');
  }
  if (timing.sessionTimeoutTicks <= timing.electionTimeoutTicks) {
    throw new InvalidArgumentError('sessionTimeoutTicks must exceed electionTimeoutTicks');
  }
  if (timing.disconnectGraceTicks > timing.sessionTimeoutTicks) {
    throw new InvalidArgumentError('disconnectGraceTicks must not exceed sessionTimeoutTicks');
  }
  if (
    timing.disconnectGraceTicks < timing.sessionTimeoutTicks &&
    timing.disconnectGraceTicks <= 2 * timing.electionTimeoutTicks
  ) {
    throw new InvalidArgumentError(
      'disconnectGraceTicks must exceed twice electionTimeoutTicks (or equal sessionTimeoutTicks)',
    );
  }
  return timing;
}
