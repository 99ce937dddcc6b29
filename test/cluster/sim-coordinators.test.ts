import { describe, expect, it } from 'vitest';
import { coordinatorHost } from '../support/cluster-sim.js';
import { COORDINATOR_RUNS, simProperty, simSeed } from '../support/sim-linearizability-property.js';

describe('cluster simulation: clients, nemesis, linearizability, convergence', () => {
  it(`RF 2, writeConcern all, real ZAB coordinators (${COORDINATOR_RUNS} runs)`, async () => {
    const totals = await simProperty(COORDINATOR_RUNS, 4_000, () => coordinatorHost(), simSeed(3));
    console.log(
      `cluster sim (RF 2, all, coordinators): ${totals.runs} runs, ${totals.ops} completed ops, ${totals.unknown} outcome-unknown`,
    );
    expect(totals.runs).toBe(COORDINATOR_RUNS);
  }, 900_000);
});
