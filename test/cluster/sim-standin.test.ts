import { describe, expect, it } from 'vitest';
import { oracleHost } from '../support/cluster-sim.js';
import { ORACLE_RUNS, simProperty, simSeed } from '../support/sim-linearizability-property.js';

/** The second half of the RF 2 stand-in share (see sim-linearizability.test.ts). */
const RUNS = ORACLE_RUNS - Math.ceil(ORACLE_RUNS / 2);

describe('cluster simulation: clients, nemesis, linearizability, convergence', () => {
  it(`RF 2, writeConcern all, coordinator stand-in, part 2 (${RUNS} runs)`, async () => {
    const totals = await simProperty(RUNS, 3_000, () => oracleHost(), simSeed(1));
    console.log(
      `cluster sim (RF 2, all, stand-in, part 2): ${totals.runs} runs, ${totals.ops} completed ops, ${totals.unknown} outcome-unknown`,
    );
    expect(totals.runs).toBe(RUNS);
  }, 900_000);
});
