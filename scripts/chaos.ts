/**
 * Long nemesis runs over real node processes (see test/support/chaos-run.ts).
 * Usage: node --import tsx scripts/chaos.ts [--minutes N] [--seed S] [--nodes N]
 *        [--faults kill-restart,kill-restart-amnesiac,join-leave,pause,...]
 *        [--replication-factor R]
 * Prints one line per fault, then the summary as one JSON object on the last line.
 * Exits 1 when the run found a violation, a lost write or a divergent replica.
 */
import { parseArgs } from 'node:util';
import { FAULT_KINDS, type FaultKind } from '../test/support/chaos-nemesis.js';
import { runChaos, SHORT_RUN } from '../test/support/chaos-run.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    seed: { type: 'string' },
    nodes: { type: 'string', default: '5' },
    faults: { type: 'string', default: FAULT_KINDS.join(',') },
    'replication-factor': { type: 'string' },
  },
});

function positiveNumber(name: string, text: string | undefined): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    process.stderr.write(`chaos: --${name} must be a positive number, got ${String(text)}\n`);
    process.exit(2);
  }
  return value;
}

const minutes = positiveNumber('minutes', values.minutes);
const nodes = positiveNumber('nodes', values.nodes);
const seed =
  values.seed === undefined
    ? Math.floor(Math.random() * 2 ** 31)
    : positiveNumber('seed', values.seed);
// Five or more nodes split 2/3, which can cut off two owners at once: RF 3 keeps that
// within the guarantee (see ChaosRunOptions.replicationFactor).
const replicationFactor =
  values['replication-factor'] === undefined
    ? nodes >= 5
      ? 3
      : 2
    : positiveNumber('replication-factor', values['replication-factor']);
const faultKinds = (values.faults ?? '').split(',').filter((kind) => kind !== '');
for (const kind of faultKinds) {
  if (!(FAULT_KINDS as readonly string[]).includes(kind)) {
    process.stderr.write(`chaos: unknown fault ${kind}; known: ${FAULT_KINDS.join(', ')}\n`);
    process.exit(2);
  }
}

process.stdout.write(
  `chaos: seed ${seed}, ${nodes} nodes, RF ${replicationFactor}, ${minutes} min\n`,
);
const summary = await runChaos({
  ...SHORT_RUN,
  seed,
  nodes,
  replicationFactor,
  durationMs: Math.round(minutes * 60_000),
  maxDurationMs: Math.round(minutes * 60_000) + 60_000,
  faultKinds: faultKinds as FaultKind[],
  log: (line) => process.stdout.write(`${line}\n`),
});
if (summary.violationReport !== undefined) process.stdout.write(`${summary.violationReport}\n`);
process.stdout.write(`${JSON.stringify(summary)}\n`);
process.exitCode =
  summary.violations + summary.lostWrites + summary.divergentKeys > 0 ||
  summary.linearizability !== 'linearizable'
    ? 1
    : 0;
