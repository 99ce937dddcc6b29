import type { RespKeyScope } from '../backend.js';
import { COMMAND_SPECS, findCommandByFullName, type RespCommandSpec } from '../command-table.js';
import { RespCommandError } from '../errors.js';
import { buildInfoReport, requestedSections } from '../info-report.js';
import type { ReplyWriter } from '../reply-writer.js';
import type { ClientSession } from '../session.js';
import { isWord, syntaxError } from './arguments.js';
import type { CommandHandlers } from './command-handler.js';
import { writeHelp } from './connection-commands.js';

const COMMAND_HELP = [
  'COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  '(no subcommand)',
  '    Return details about all Redis commands.',
  'COUNT',
  '    Return the total number of commands in this Redis server.',
  'INFO [<command-name> ...]',
  '    Return details about multiple Redis commands.',
  '    If no command names are given, documentation details for all',
  '    commands are returned.',
  'DOCS [<command-name> ...]',
  '    Return documentation details about multiple Redis commands.',
  '    If no command names are given, documentation details for all',
  '    commands are returned.',
  'HELP',
  '    Print this help.',
];

/** The key-spec map of COMMAND INFO's 9th element, derived from the legacy key positions. */
function writeKeySpecs(writer: ReplyWriter, spec: RespCommandSpec): void {
  if (spec.firstKey === 0) {
    writer.setHeader(0);
    return;
  }
  writer.setHeader(1);
  const notes = spec.keySpecNotes;
  writer.mapHeader(notes === undefined ? 3 : 4);
  if (notes !== undefined) {
    writer.bulkString('notes');
    writer.bulkString(notes);
  }
  writer.bulkString('flags');
  writer.setHeader(spec.keySpecFlags.length);
  for (const flag of spec.keySpecFlags) writer.simple(flag);
  writer.bulkString('begin_search');
  writer.mapHeader(2);
  writer.bulkString('type');
  writer.bulkString('index');
  writer.bulkString('spec');
  writer.mapHeader(1);
  writer.bulkString('index');
  writer.integer(spec.firstKey);
  writer.bulkString('find_keys');
  writer.mapHeader(2);
  writer.bulkString('type');
  writer.bulkString('range');
  writer.bulkString('spec');
  writer.mapHeader(3);
  writer.bulkString('lastkey');
  writer.integer(spec.lastKey < 0 ? spec.lastKey : spec.lastKey - spec.firstKey);
  writer.bulkString('keystep');
  writer.integer(spec.keyStep);
  writer.bulkString('limit');
  writer.integer(0);
}

/** One COMMAND INFO entry, in Redis 7.0's 10-element shape. */
function writeCommandInfo(writer: ReplyWriter, spec: RespCommandSpec): void {
  writer.arrayHeader(10);
  writer.bulkString(spec.name);
  writer.integer(spec.arity);
  writer.setHeader(spec.flags.length);
  for (const flag of spec.flags) writer.simple(flag);
  writer.integer(spec.firstKey);
  writer.integer(spec.lastKey);
  writer.integer(spec.keyStep);
  writer.setHeader(spec.aclCategories.length);
  for (const category of spec.aclCategories) writer.simple(category);
  writer.setHeader(spec.tips.length);
  for (const tip of spec.tips) writer.bulkString(tip);
  writeKeySpecs(writer, spec);
  const subcommands = spec.subcommands ?? [];
  writer.setHeader(subcommands.length);
  for (const subcommand of subcommands) writeCommandInfo(writer, subcommand);
}

/** One COMMAND DOCS value: summary, since, group, complexity and subcommand docs. */
function writeCommandDocs(writer: ReplyWriter, spec: RespCommandSpec): void {
  const subcommands = spec.subcommands;
  writer.mapHeader(subcommands === undefined ? 4 : 5);
  writer.bulkString('summary');
  writer.bulkString(spec.summary);
  writer.bulkString('since');
  writer.bulkString(spec.since);
  writer.bulkString('group');
  writer.bulkString(spec.group);
  writer.bulkString('complexity');
  writer.bulkString(spec.complexity);
  if (subcommands !== undefined) {
    writer.bulkString('subcommands');
    writer.mapHeader(subcommands.length);
    for (const subcommand of subcommands) {
      writer.bulkString(subcommand.name);
      writeCommandDocs(writer, subcommand);
    }
  }
}

function keyScope(session: ClientSession): RespKeyScope {
  return session.server.mode === 'cluster' ? 'owned' : 'all';
}

async function flush(session: ClientSession, args: readonly Buffer[], name: string): Promise<void> {
  if (!session.server.allowFlush) {
    throw new RespCommandError(
      `ERR ${name} is disabled on this shoal node because it empties the whole cache; start the node with the allowFlush option (--resp-allow-flush) to enable it`,
    );
  }
  if (args.length > 2) throw syntaxError();
  if (args.length === 2 && !isWord(args[1]!, 'sync') && !isWord(args[1]!, 'async')) {
    throw syntaxError();
  }
  await session.server.backend.flushAll();
  session.writer.ok();
}

/** COMMAND, INFO, DBSIZE, FLUSHALL and FLUSHDB. */
export const SERVER_COMMANDS: CommandHandlers = {
  command(session) {
    session.writer.arrayHeader(COMMAND_SPECS.length);
    for (const spec of COMMAND_SPECS) writeCommandInfo(session.writer, spec);
  },

  'command|count'(session) {
    session.writer.integer(COMMAND_SPECS.length);
  },

  'command|info'(session, args) {
    const writer = session.writer;
    if (args.length === 2) {
      writer.arrayHeader(COMMAND_SPECS.length);
      for (const spec of COMMAND_SPECS) writeCommandInfo(writer, spec);
      return;
    }
    writer.arrayHeader(args.length - 2);
    for (const name of args.slice(2)) {
      const spec = findCommandByFullName(name.toString('latin1'));
      if (spec === undefined) writer.nullBulk();
      else writeCommandInfo(writer, spec);
    }
  },

  'command|docs'(session, args) {
    const writer = session.writer;
    const specs =
      args.length === 2
        ? COMMAND_SPECS
        : args
            .slice(2)
            .map((name) => findCommandByFullName(name.toString('latin1')))
            .filter((spec): spec is RespCommandSpec => spec !== undefined);
    writer.mapHeader(specs.length);
    for (const spec of specs) {
      writer.bulkString(spec.name);
      writeCommandDocs(writer, spec);
    }
  },

  'command|help'(session) {
    writeHelp(session, COMMAND_HELP);
  },

  async info(session, args) {
    const server = session.server;
    const sections = requestedSections(args.slice(1).map((arg) => arg.toString('latin1')));
    const [backendStats, keyCount] = await Promise.all([
      server.backend.stats(),
      server.backend.keyCount(keyScope(session)),
    ]);
    const report = buildInfoReport(sections, {
      server,
      backendStats,
      keyCount,
      topology: server.backend.topology(),
    });
    session.writer.verbatim(report);
  },

  async dbsize(session) {
    const count = await session.server.backend.keyCount(keyScope(session));
    session.writer.integer(count.keys);
  },

  flushall(session, args) {
    return flush(session, args, 'FLUSHALL');
  },

  flushdb(session, args) {
    return flush(session, args, 'FLUSHDB');
  },
};
