import { describe, expect, it } from 'vitest';
import { runChaos, SHORT_RUN } from '../support/chaos-run.js';

// A fresh seed per run widens coverage over time; it is printed first, and
// SHOAL_CHAOS_SEED replays its fault schedule (process timing still varies).
const seed = Number(process.env.SHOAL_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));

describe('nemesis over real node processes', () => {
  it('keeps single-key operations linearizable and loses no acknowledged write', async () => {
    process.stdout.write(`chaos seed ${seed} (rerun: SHOAL_CHAOS_SEED=${seed})\n`);
    // runChaos stops every process and proxy it started in its own finally block,
    // also when a check below or the run itself throws.
    const summary = await runChaos({
      ...SHORT_RUN,
      seed,
      log: (line) => process.stdout.write(`chaos: ${line}\n`),
    });
    process.stdout.write(`chaos summary ${JSON.stringify(summary)}\n`);

    expect(summary.violationReport).toBeUndefined();
    expect(summary.linearizability).toBe('linearizable');
    expect(summary.violations).toBe(0);
    expect(summary.lostWriteKeys).toEqual([]);
    expect(summary.lostWrites).toBe(0);
    expect(summary.unreadableKeys).toBe(0);
    expect(summary.divergentKeys).toBe(0);
    expect(summary.rssOverLimit).toEqual([]);
    // The run did test something: faults were injected, writes acknowledged, and the
    // proxies told node-to-node connections apart from clients, so partitions cut them.
    expect(summary.faults).toBeGreaterThanOrEqual(3);
    expect(summary.ackedWrites).toBeGreaterThan(0);
    const nodeLinks = Object.keys(summary.connections).filter((link) => !link.startsWith('client'));
    expect(nodeLinks.length).toBeGreaterThan(0);
  }, 150_000);
});
