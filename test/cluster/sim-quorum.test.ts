import { describe, expect, it } from 'vitest';
import { oracleHost, SIM_NODE_OPTIONS } from '../support/cluster-sim.js';
import { QUORUM_RUNS, simProperty, simSeed } from '../support/sim-linearizability-property.js';

describe('cluster simulation: clients, nemesis, linearizability, convergence', () => {
  it(`RF 3, writeConcern quorum, coordinator stand-in (${QUORUM_RUNS} runs)`, async () => {
    const totals = await simProperty(
      QUORUM_RUNS,
      3_000,
      () => oracleHost({ ...SIM_NODE_OPTIONS, replicationFactor: 3, writeConcern: 'quorum' }),
      simSeed(2),
    );
    console.log(
      `cluster sim (RF 3, quorum, stand-in): ${totals.runs} runs, ${totals.ops} completed ops, ${totals.unknown} outcome-unknown`,
    );
    expect(totals.runs).toBe(QUORUM_RUNS);
  }, 900_000);
});
