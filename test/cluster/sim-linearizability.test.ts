import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type ClusterSimOptions,
  coordinatorHost,
  type NemesisKind,
  oracleHost,
  runClusterSim,
} from '../support/cluster-sim.js';
import { checkLinearizability } from '../support/linearizability.js';

/** Runs with the coordinator stand-in; `SHOAL_SIM_RUNS` raises it. */
const RUNS = Number(process.env.SHOAL_SIM_RUNS ?? 300);
/** Runs with real ZAB coordinators on the same simulated network. */
const COORDINATOR_RUNS = Math.max(20, Math.floor(RUNS / 10));
const SEED =
  process.env.SHOAL_SIM_SEED === undefined ? undefined : Number(process.env.SHOAL_SIM_SEED);
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
  it(`with a coordinator stand-in (${RUNS} runs)`, async () => {
    const totals = await property(RUNS, 3_000, () => oracleHost());
    console.log(
      `cluster sim (oracle): ${totals.runs} runs, ${totals.ops} completed ops, ${totals.unknown} outcome-unknown`,
    );
    expect(totals.runs).toBe(RUNS);
  }, 900_000);

  it(`with real ZAB coordinators (${COORDINATOR_RUNS} runs)`, async () => {
    const totals = await property(COORDINATOR_RUNS, 4_000, () => coordinatorHost());
    console.log(
      `cluster sim (coordinator): ${totals.runs} runs, ${totals.ops} completed ops, ${totals.unknown} outcome-unknown`,
    );
    expect(totals.runs).toBe(COORDINATOR_RUNS);
  }, 900_000);
});
