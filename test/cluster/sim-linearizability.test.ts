import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type NemesisKind, oracleHost, runClusterSim } from '../support/cluster-sim.js';
import { checkLinearizability } from '../support/linearizability.js';

const RUNS = Number(process.env.SHOAL_SIM_RUNS ?? 300);
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

describe('cluster simulation (oracle coordinator)', () => {
  it(`stays linearizable, loses no acknowledged write and converges (${RUNS} runs)`, async () => {
    let runs = 0;
    let ops = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.array(fc.constantFrom(...FAULTS), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 2, max: 4 }),
        async (seed, faults, keys) => {
          const result = await runClusterSim({
            seed,
            faults,
            keys,
            durationMs: 3_000,
            host: oracleHost(),
          });
          runs++;
          ops += result.completedOps;
          const verdict = checkLinearizability(result.history);
          const context = `seed ${seed}, faults ${faults.join(',')}\n${result.log.join('\n')}`;
          expect(verdict.ok, `${verdict.ok ? '' : verdict.reason}\n${context}`).toBe(true);
          expect(result.divergence, context).toBeUndefined();
        },
      ),
      {
        numRuns: RUNS,
        seed:
          process.env.SHOAL_SIM_SEED === undefined ? undefined : Number(process.env.SHOAL_SIM_SEED),
      },
    );
    console.log(`cluster simulation: ${runs} runs, ${ops} completed operations`);
  }, 600_000);
});
