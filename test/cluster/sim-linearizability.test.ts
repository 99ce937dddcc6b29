import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type ClusterSimOptions,
  coordinatorHost,
  type NemesisKind,
  oracleHost,
  runClusterSim,
  SIM_NODE_OPTIONS,
} from '../support/cluster-sim.js';
import { checkLinearizability } from '../support/linearizability.js';

/**
 * Runs in all (`SHOAL_SIM_RUNS` raises it), split between three setups: RF 2 with
 * writeConcern all and a coordinator stand-in, RF 3 with writeConcern quorum, and RF 2
 * with real ZAB coordinators on the same simulated network.
 */
const RUNS = Number(process.env.SHOAL_SIM_RUNS ?? 300);
const QUORUM_RUNS = Math.round(RUNS * 0.2);
const COORDINATOR_RUNS = Math.round(RUNS * 0.2);
const ORACLE_RUNS = RUNS - QUORUM_RUNS - COORDINATOR_RUNS;
/**
 * The default suite replays one fixed seed so CI is reproducible; `SHOAL_SIM_SEED=<n>`
 * replays another and `SHOAL_SIM_SEED=random` explores. Bugs random exploration found,
 * each fixed and kept as a focused test:
 * - seed 1794416071, path "156" of the RF 2 stand-in property: a node asked to `leave`
 *   kept its lease until it applied the view without itself, so after its backup was
 *   promoted (and took 16) it still served its old copy (15) to a node on the old view.
 *   A leaving node now holds no lease from the moment it asks (`Coordinator.stop`, and
 *   the stand-in's `leave`): `test/cluster/leave.test.ts`.
 * - seed -148044409, path "129:0" of the real-coordinator property (`leave, join,
 *   leave`): the harness let two of the three voters leave, which ends the ZAB quorum
 *   for good, so the cluster never settled. The nemesis now only removes a member
 *   whose leave keeps a voter quorum (`SimHost.mayLeave`).
 */
const DEFAULT_SEED = 20261122;
const SEED =
  process.env.SHOAL_SIM_SEED === 'random'
    ? undefined
    : Number(process.env.SHOAL_SIM_SEED ?? DEFAULT_SEED);
/** Histories with many unknown outcomes need a deep search; beyond this the test fails. */
const MAX_STATES_PER_KEY = 2_000_000;

const FAULTS: NemesisKind[] = [
  'crash',
  'crash-restart',
  'isolate',
  'cut-from-coordinator',
  'cut-from-peers',
  'join',
  'leave',
  'lossy-links',
];

async function property(
  runs: number,
  durationMs: number,
  host: () => ClusterSimOptions['host'],
): Promise<{ runs: number; ops: number; unknown: number }> {
  const totals = { runs: 0, ops: 0, unknown: 0 };
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 2 ** 31 - 1 }),
      fc.array(fc.constantFrom(...FAULTS), { minLength: 1, maxLength: 3 }),
      fc.integer({ min: 2, max: 4 }),
      async (seed, faults, keys) => {
        const result = await runClusterSim({ seed, faults, keys, durationMs, host: host() });
        totals.runs++;
        totals.ops += result.completedOps;
        totals.unknown += result.unknownOps;
        const verdict = checkLinearizability(result.history, {
          maxStatesPerKey: MAX_STATES_PER_KEY,
        });
        const context = `seed ${seed}, faults ${faults.join(',')}, keys ${keys}\n${result.log.join('\n')}`;
        // Linearizable (which also means no acknowledged write was lost: the final
        // reads of every key are in the history) ...
        expect(verdict.ok, `${verdict.ok ? '' : verdict.reason}\n${context}`).toBe(true);
        // ... and after healing every backup holds exactly what its primary holds.
        expect(result.divergence, context).toBeUndefined();
      },
    ),
    { numRuns: runs, ...(SEED === undefined ? {} : { seed: SEED }) },
  );
  return totals;
}

describe('cluster simulation: clients, nemesis, linearizability, convergence', () => {
  it(`RF 2, writeConcern all, coordinator stand-in (${ORACLE_RUNS} runs)`, async () => {
    const totals = await property(ORACLE_RUNS, 3_000, () => oracleHost());
    console.log(
      `cluster sim (RF 2, all, stand-in): ${totals.runs} runs, ${totals.ops} completed ops, ${totals.unknown} outcome-unknown`,
    );
    expect(totals.runs).toBe(ORACLE_RUNS);
  }, 900_000);

  it(`RF 3, writeConcern quorum, coordinator stand-in (${QUORUM_RUNS} runs)`, async () => {
    const totals = await property(QUORUM_RUNS, 3_000, () =>
      oracleHost({ ...SIM_NODE_OPTIONS, replicationFactor: 3, writeConcern: 'quorum' }),
    );
    console.log(
      `cluster sim (RF 3, quorum, stand-in): ${totals.runs} runs, ${totals.ops} completed ops, ${totals.unknown} outcome-unknown`,
    );
    expect(totals.runs).toBe(QUORUM_RUNS);
  }, 900_000);

  it(`RF 2, writeConcern all, real ZAB coordinators (${COORDINATOR_RUNS} runs)`, async () => {
    const totals = await property(COORDINATOR_RUNS, 4_000, () => coordinatorHost());
    console.log(
      `cluster sim (RF 2, all, coordinators): ${totals.runs} runs, ${totals.ops} completed ops, ${totals.unknown} outcome-unknown`,
    );
    expect(totals.runs).toBe(COORDINATOR_RUNS);
  }, 900_000);
});
