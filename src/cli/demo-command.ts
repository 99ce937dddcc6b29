import type { Command } from './command.js';
import { type FlagSpec, integerFlag } from './flags.js';
import { CliUsageError } from './usage-error.js';

/** Nodes the demo runs (all voters). */
export const DEMO_NODE_COUNT = 3;
const DEFAULT_KEYS = 200;
const MAX_KEYS = 100_000;
/** Default budget of each phase (start, failover); generous for a busy laptop. */
const DEFAULT_PHASE_TIMEOUT_MS = 20_000;
const MAX_PHASE_TIMEOUT_MS = 600_000;

const demoFlags = {
  keys: 'string',
  timeout: 'string',
  help: 'boolean',
} as const satisfies FlagSpec;

/** `shoal demo`. */
export const demoCommand: Command = {
  name: 'demo',
  summary: 'run a local 3-node cluster, crash a node, and show that nothing acknowledged is lost',
  usage: `usage: shoal demo [--keys N] [--timeout MS]

Starts ${DEMO_NODE_COUNT} nodes as child processes on free loopback ports (${DEMO_NODE_COUNT} voters,
replication factor 2, a throwaway secret), writes keys through a client and reads
them back, kills with SIGKILL the node that is primary of some of them, keeps
writing while the cluster fails over, then checks that every acknowledged key is
still readable with its value. The nodes are stopped at the end, on failure and on
Ctrl-C.

  --keys N       keys written before the crash (default ${DEFAULT_KEYS})
  --timeout MS   budget for the nodes to start, and for the failover (default ${DEFAULT_PHASE_TIMEOUT_MS})

Exit codes: 0 nothing acknowledged was lost, 1 a key was lost or a step failed, 2 bad
command line.`,
  flags: demoFlags,
  async run(args, context) {
    if (args.positionals.length > 0) {
      throw new CliUsageError(`demo takes no arguments, got "${args.positionals[0]}"`);
    }
    const keyCount = integerFlag(args.values, 'keys', 1, MAX_KEYS) ?? DEFAULT_KEYS;
    const phaseTimeoutMs =
      integerFlag(args.values, 'timeout', 1_000, MAX_PHASE_TIMEOUT_MS) ?? DEFAULT_PHASE_TIMEOUT_MS;
    const { Demo } = await import('./demo-run.js');
    return new Demo(context, keyCount, phaseTimeoutMs).run();
  },
};
