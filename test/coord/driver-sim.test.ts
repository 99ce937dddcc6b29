import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runDriverSim } from './support/driver-sim.js';

/**
 * The same properties as the core simulation, through the real `Coordinator`
 * driver over `SimNetwork` + `SimScheduler` (+ `MemoryStorage`): fewer runs, since
 * each drives real timers, promises and msgpackr-encoded frames.
 * `SHOAL_SIM_RUNS` (default 1000) scales these runs too (1 per 25).
 */
const runs = Math.max(8, Math.round(Number(process.env.SHOAL_SIM_RUNS ?? 1000) / 25));

describe('coordinator driver simulation over SimNetwork', () => {
  it(`keeps every invariant and every acknowledged write (${runs} runs)`, async () => {
    let acknowledged = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          seed: fc.integer({ min: 1, max: 2 ** 30 }),
          voters: fc.constantFrom(1, 3, 3, 5),
          learners: fc.integer({ min: 0, max: 2 }),
          storage: fc.boolean(),
        }),
        async (s) => {
          const result = await runDriverSim({ ...s, chaosMs: 6000, livenessMs: 8000 });
          acknowledged += result.acknowledgedWrites;
        },
      ),
      { numRuns: runs },
    );
    expect(acknowledged).toBeGreaterThan(runs);
  });
});
