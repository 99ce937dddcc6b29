import { CLIENT_FLAGS, CLIENT_FLAGS_HELP, resolveClientTarget } from './client-target.js';
import type { ClusterReport } from './cluster-probe.js';
import type { Command } from './command.js';
import { EXIT_FAILURE, EXIT_OK } from './exit-codes.js';
import type { FlagSpec } from './flags.js';
import { CliUsageError } from './usage-error.js';

const statusFlags = { ...CLIENT_FLAGS, json: 'boolean' } as const satisfies FlagSpec;

/** `shoal status`. */
export const statusCommand: Command = {
  name: 'status',
  summary: 'show the members of the cluster and their share of the partitions',
  usage: `usage: shoal status [--json] [connection flags]

Asks the seeds for the committed view, then every member for the view it routes
by and its status, and prints the coordinator leader and epoch, then one line per
member: its address, the view epoch it is in, its coordinator role, how many of
the 16384 partitions it is primary and backup of, the keys and bytes it holds,
the partitions it still has to pull (handoff), and whether it answered.

  --json               print the report as one JSON object

${CLIENT_FLAGS_HELP}

Exit codes: 0 every member answered, 1 some member did not (the report is still
printed, and one line on stderr names them) or no node could be reached, 2 bad
command line.`,
  flags: statusFlags,
  async run(args, context) {
    if (args.positionals.length > 0) {
      throw new CliUsageError(`status takes no arguments, got "${args.positionals[0]}"`);
    }
    const target = await resolveClientTarget(args.values, context.env);
    const { discoverNodes } = await import('./node-discovery.js');
    const { ClusterProbe } = await import('./cluster-probe.js');
    const seeds = await discoverNodes(target.seeds, target.timeoutMs);
    const probe = ClusterProbe.open(
      target.secret,
      { timeoutMs: target.timeoutMs },
      target.clientRole === true,
    );
    let report: ClusterReport;
    try {
      report = await probe.report(seeds);
    } finally {
      await probe.close();
    }
    if (args.values.json === true) context.out(JSON.stringify(report));
    else for (const line of renderReport(report)) context.out(line);
    const silent = report.members.filter((member) => !member.reachable);
    if (silent.length === 0) return EXIT_OK;
    context.err(
      `shoal: ${silent.length} of ${report.members.length} members did not answer (${silent.map((member) => member.id).join(', ')})`,
    );
    return EXIT_FAILURE;
  },
};

/** The human form of a report: a summary line, then a table with one row per member. */
export function renderReport(report: ClusterReport): string[] {
  const reachable = report.members.filter((member) => member.reachable).length;
  const rows = report.members.map((member) => [
    member.id,
    member.address,
    member.viewEpoch === undefined ? '-' : String(member.viewEpoch),
    member.node?.coord?.role ?? '-',
    String(member.primaryPartitions),
    String(member.backupPartitions),
    member.node === undefined ? '-' : String(member.node.keys),
    member.node === undefined ? '-' : String(member.node.bytes),
    member.node === undefined ? '-' : String(member.node.handoff.partitionsPending),
    member.reachable ? 'up' : `unreachable (${member.error ?? 'no answer'})`,
  ]);
  const coordinator =
    report.coordinatorEpoch === undefined
      ? 'coordinator unknown'
      : `leader ${report.leader ?? 'none'} · coordinator epoch ${report.coordinatorEpoch}`;
  return [
    `${coordinator} · view epoch ${report.viewEpoch} · replication factor ${report.replicationFactor} · ${report.members.length} member${report.members.length === 1 ? '' : 's'}, ${reachable} reachable`,
    '',
    ...table(
      ['NODE', 'ADDRESS', 'VIEW', 'ROLE', 'PRIMARY', 'BACKUP', 'KEYS', 'BYTES', 'HANDOFF', 'STATE'],
      rows,
    ),
  ];
}

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]?.length ?? 0)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) =>
        column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0),
      )
      .join('  ');
  return [line(header), ...rows.map(line)];
}
