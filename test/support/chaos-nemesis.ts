/**
 * The seeded nemesis of the chaos suite: one fault at a time on a {@link ChaosCluster},
 * held for a while, then healed, then a wait until the cluster has every node back in
 * its view and settled. Partitions go through the proxies between node processes
 * (clients keep reaching every node, so a node on the minority side is asked to serve
 * and must refuse).
 */
import type { Random } from '../../src/util/random.js';
import type { ChaosCluster } from './chaos-cluster.js';

/** The faults the nemesis knows. */
export const FAULT_KINDS = [
  'kill-restart',
  'kill-restart-amnesiac',
  'join-leave',
  'pause',
  'isolate-drop',
  'isolate-close',
  'split-drop',
  'slow-links',
] as const;

/** One kind of fault; see {@link FAULT_KINDS}. */
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Timing of the nemesis. */
export interface NemesisTiming {
  /** How long a fault is held: pauses and partitions must outlast the session timeout. */
  readonly holdMs: number;
  /** How long the cluster may take to have every node back and settled after a heal. */
  readonly recoverMs: number;
}

/** What happened in one nemesis step. */
export interface FaultRecord {
  readonly kind: FaultKind;
  targets: readonly string[];
  /** When the fault was applied, in `performance.now()` ms (the history's clock). */
  readonly atMs: number;
  /** When it was healed (or the victim restarted), same clock. */
  healedAtMs?: number;
  /** Whether every node was back in the view and settled within `recoverMs`. */
  recovered: boolean;
  /** From the heal (or restart) to every node back and settled, in ms. */
  recoveryMs?: number;
  /** An error the nemesis itself met (for example a restart that timed out). */
  error?: string;
}

/** Most status polls per recovery wait. */
const MAX_RECOVERY_POLLS = 1_000;
/** Pause between two recovery polls: the poll itself, not a stand-in for sync. */
const RECOVERY_POLL_MS = 200;

/** Returns `count` distinct ids of `ids` chosen by `random`. */
function pick(random: Random, ids: readonly string[], count: number): string[] {
  const pool = [...ids];
  const chosen: string[] = [];
  while (chosen.length < count && pool.length > 0) {
    chosen.push(pool.splice(random.int(pool.length), 1)[0]!);
  }
  return chosen;
}

/** Applies one fault of `kind`, holds it, heals, and waits for recovery. */
export async function runFault(
  cluster: ChaosCluster,
  random: Random,
  kind: FaultKind,
  timing: NemesisTiming,
  hold: (ms: number) => Promise<void>,
): Promise<FaultRecord> {
  const ids = cluster.ids;
  const maxMinority = Math.max(1, Math.floor((ids.length - 1) / 2));
  const minority = pick(random, ids, maxMinority);
  let victim = minority[0]!;
  // Every node running now, learners included, is on the majority side of a cut.
  const others = cluster.runningIds().filter((id) => !minority.includes(id));
  const amnesiac = cluster.memoryOnlyVoters();
  if (kind === 'kill-restart-amnesiac' && !amnesiac.includes(victim)) {
    // Keep a majority of voters durable: the coordinator's agreement across restarts
    // rests on them (see src/coord/README.md); past that, wipe one that already is.
    if (amnesiac.length >= maxMinority) victim = amnesiac[random.int(amnesiac.length)]!;
  }
  const learners = cluster.runningLearners();
  const record: FaultRecord = {
    kind,
    targets: kind === 'split-drop' ? minority : kind === 'join-leave' ? learners : [victim],
    atMs: Math.round(performance.now()),
    recovered: false,
  };
  try {
    switch (kind) {
      case 'kill-restart':
      case 'kill-restart-amnesiac':
        await cluster.kill(victim);
        await hold(timing.holdMs);
        await cluster.restart(victim, { dataDir: kind === 'kill-restart' });
        break;
      case 'join-leave': {
        // A learner joins when none runs; otherwise the running one leaves, cleanly or
        // by SIGKILL (then its session has to expire).
        if (learners.length === 0) {
          record.targets = [`+${await cluster.join()}`];
        } else {
          const clean = random.int(2) === 0;
          record.targets = [`-${learners[0]!}${clean ? '' : ' (kill -9)'}`];
          await cluster.leave(learners[0]!, clean);
        }
        break;
      }
      case 'pause':
        cluster.pause(victim);
        await hold(timing.holdMs);
        cluster.resume(victim);
        break;
      case 'isolate-drop':
      case 'isolate-close':
        cluster.partition(
          [[victim], cluster.runningIds().filter((id) => id !== victim)],
          kind === 'isolate-drop' ? { kind: 'drop' } : { kind: 'close' },
        );
        await hold(timing.holdMs);
        cluster.heal();
        break;
      case 'split-drop':
        cluster.partition([minority, others], { kind: 'drop' });
        await hold(timing.holdMs);
        cluster.heal();
        break;
      case 'slow-links':
        for (const id of cluster.runningIds()) {
          if (id !== victim)
            cluster.setLink(victim, id, { kind: 'delay', delayMs: 20 + random.int(200) });
        }
        await hold(timing.holdMs);
        cluster.heal();
        break;
    }
    record.healedAtMs = Math.round(performance.now());
  } catch (error) {
    record.error = error instanceof Error ? error.message.slice(0, 300) : String(error);
    cluster.heal();
    for (const id of ids) {
      if (!cluster.isRunning(id)) {
        await cluster.restart(id).catch((restartError: unknown) => {
          record.error += ` / restart of ${id} failed: ${String(restartError).slice(0, 200)}`;
        });
      }
    }
  }
  const healedAt = performance.now();
  const recovery = await waitRecovered(cluster, timing.recoverMs);
  record.recovered = recovery.recovered;
  if (recovery.recovered) record.recoveryMs = Math.round(performance.now() - healedAt);
  if (!recovery.recovered) {
    record.error = `${record.error ?? ''} not recovered: ${recovery.lastStatus}`.trim();
  }
  return record;
}

/** Whether the cluster recovered, and what each node said last (for reports). */
export interface Recovery {
  readonly recovered: boolean;
  readonly lastStatus: string;
}

/**
 * Polls every running node's status until all list exactly the running nodes and are
 * settled, or the deadline.
 */
export async function waitRecovered(cluster: ChaosCluster, recoverMs: number): Promise<Recovery> {
  const deadline = Date.now() + recoverMs;
  let lastStatus = 'never polled';
  for (let poll = 0; poll < MAX_RECOVERY_POLLS && Date.now() < deadline; poll++) {
    const running = cluster.runningIds();
    const expected = [...running].sort().join(',');
    const statuses = await Promise.all(
      running.map((id) => cluster.status(id, 1_000).catch(() => undefined)),
    );
    lastStatus = statuses
      .map((status, i) =>
        status === undefined
          ? `${running[i]}: no answer`
          : `${status.id}: epoch ${status.viewEpoch} members ${status.members.join(',')} ${status.settled ? 'settled' : 'unsettled'}`,
      )
      .join('; ');
    const healthy = statuses.every(
      (status) => status?.settled === true && [...status.members].sort().join(',') === expected,
    );
    if (healthy) return { recovered: true, lastStatus };
    await new Promise((resolve) => setTimeout(resolve, RECOVERY_POLL_MS));
  }
  return { recovered: false, lastStatus };
}
