import fc from 'fast-check';
import { expect } from 'vitest';
import { type ClusterSimOptions, type NemesisKind, runClusterSim } from './cluster-sim.js';
import { checkLinearizability } from './linearizability.js';

/**
 * The cluster simulation property, shared by the `test/cluster/sim-*.test.ts` files.
 * The runs are split over several files (same total, each file its own seed) so the
 * test runner can spread them over cores: one file was the long pole of the suite.
 *
 * Runs in all: `SHOAL_SIM_RUNS` (default 300), split between three setups: RF 2 with
 * writeConcern all and a coordinator stand-in (60%, in two files), RF 3 with
 * writeConcern quorum (20%), and RF 2 with real ZAB coordinators (20%).
 */
export const SIM_RUNS = Number(process.env.SHOAL_SIM_RUNS ?? 300);
export const QUORUM_RUNS = Math.round(SIM_RUNS * 0.2);
export const COORDINATOR_RUNS = Math.round(SIM_RUNS * 0.2);
export const ORACLE_RUNS = SIM_RUNS - QUORUM_RUNS - COORDINATOR_RUNS;

/**
 * The default suite replays fixed seeds (one per file) so CI is reproducible;
 * `SHOAL_SIM_SEED=<n>` replays seed n in every file (fast-check prints the seed of a
 * failure: set it and run the failing file) and `SHOAL_SIM_SEED=random` explores.
 */
const DEFAULT_SEED = 20261122;

/** The fast-check seed of the file numbered `part`, or undefined to explore. */
export function simSeed(part: number): number | undefined {
  const configured = process.env.SHOAL_SIM_SEED;
  if (configured === 'random') return undefined;
  return configured === undefined ? DEFAULT_SEED + part : Number(configured);
}

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

/**
 * Runs `runs` seeded simulations of `durationMs` each and checks every history for
 * linearizability (which includes that no acknowledged write was lost: the final
 * reads of every key are in it) and every replica for convergence after healing.
 */
export async function simProperty(
  runs: number,
  durationMs: number,
  host: () => ClusterSimOptions['host'],
  seed: number | undefined,
): Promise<{ runs: number; ops: number; unknown: number }> {
  const totals = { runs: 0, ops: 0, unknown: 0 };
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 2 ** 31 - 1 }),
      fc.array(fc.constantFrom(...FAULTS), { minLength: 1, maxLength: 3 }),
      fc.integer({ min: 2, max: 4 }),
      async (runSeed, faults, keys) => {
        const result = await runClusterSim({
          seed: runSeed,
          faults,
          keys,
          durationMs,
          host: host(),
        });
        totals.runs++;
        totals.ops += result.completedOps;
        totals.unknown += result.unknownOps;
        const verdict = checkLinearizability(result.history, {
          maxStatesPerKey: MAX_STATES_PER_KEY,
        });
        const context = `seed ${runSeed}, faults ${faults.join(',')}, keys ${keys}\n${result.log.join('\n')}`;
        expect(verdict.ok, `${verdict.ok ? '' : verdict.reason}\n${context}`).toBe(true);
        expect(result.divergence, context).toBeUndefined();
      },
    ),
    { numRuns: runs, ...(seed === undefined ? {} : { seed }) },
  );
  return totals;
}
