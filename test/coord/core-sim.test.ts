import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CoreSim } from './support/core-sim.js';

/**
 * Deterministic simulation of the core: clusters of 1, 3 and 5 voters plus learners
 * under random delays, drops, partitions, heals, crashes and restarts, with and
 * without storage. Every safety invariant is checked after every event (see
 * `HistoryChecker`), liveness once the faults stop. A failure prints the fast-check
 * seed and the simulation's own seed, configuration, node status and trace tail.
 *
 * `SHOAL_SIM_RUNS` raises the number of runs (default 1000).
 */
const runs = Number(process.env.SHOAL_SIM_RUNS ?? 1000);

const scenario = fc.record({
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  voters: fc.constantFrom(1, 3, 3, 5),
  learners: fc.integer({ min: 0, max: 2 }),
  storage: fc.boolean(),
});

describe('coordinator core simulation', () => {
  it(`keeps agreement, integrity, primary order, one leader per epoch, and liveness (${runs} runs)`, () => {
    let committed = 0;
    let worstLiveness = 0;
    fc.assert(
      fc.property(scenario, (s) => {
        const result = new CoreSim({ ...s, chaosTicks: 150, livenessTicks: 150 }).run();
        committed += result.committed;
        worstLiveness = Math.max(worstLiveness, result.livenessTicks);
      }),
      { numRuns: runs },
    );
    // The runs did real work: entries were committed and leaders changed.
    expect(committed).toBeGreaterThan(runs * 5);
    expect(worstLiveness).toBeLessThanOrEqual(150);
  });

  it('replays exactly from its seed', () => {
    const config = {
      seed: 4242,
      voters: 5,
      learners: 2,
      storage: true,
      chaosTicks: 150,
      livenessTicks: 150,
    };
    expect(new CoreSim(config).run()).toEqual(new CoreSim(config).run());
  });
});
