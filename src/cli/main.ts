import { readFileSync } from 'node:fs';
import { basename, relative } from 'node:path';
import { InvalidArgumentError, ShoalError } from '../util/errors.js';
import type { Command, CommandContext } from './command.js';
import { configCommand } from './config-command.js';
import { demoCommand } from './demo-command.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './exit-codes.js';
import { parseFlags } from './flags.js';
import { delCommand, getCommand, setCommand, ttlCommand } from './key-commands.js';
import { startCommand } from './start-command.js';
import { statusCommand } from './status-command.js';
import { CliUsageError } from './usage-error.js';

/** Every command, in the order `shoal help` lists them. */
const COMMANDS: readonly Command[] = [
  startCommand,
  getCommand,
  setCommand,
  delCommand,
  ttlCommand,
  statusCommand,
  configCommand,
  demoCommand,
];

/**
 * The `shoal` command line. Returns the process exit code instead of exiting, so
 * it can run in-process too. Every failure becomes one `shoal: ...` line on stderr:
 * exit 2 for a wrong command line, 1 for anything that went wrong at run time.
 */
export async function main(
  argv: readonly string[],
  context: CommandContext = processContext(),
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    const topic = name === 'help' ? rest[0] : undefined;
    const command = COMMANDS.find((candidate) => candidate.name === topic);
    if (topic !== undefined && command === undefined) {
      context.err(`shoal: no command "${topic}" (try "shoal help")`);
      return EXIT_USAGE;
    }
    context.out(command === undefined ? overview() : command.usage);
    return EXIT_OK;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    context.out(packageVersion());
    return EXIT_OK;
  }
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (command === undefined) {
    context.err(`shoal: unknown command "${name}" (try "shoal help")`);
    return EXIT_USAGE;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    context.out(command.usage);
    return EXIT_OK;
  }
  try {
    return await command.run(parseFlags(rest, command.flags), context);
  } catch (error) {
    const usage = error instanceof CliUsageError || error instanceof InvalidArgumentError;
    const hint = usage ? ` (see "shoal ${command.name} --help")` : '';
    context.err(`shoal: ${oneLine(describe(error))}${hint}`);
    return usage ? EXIT_USAGE : EXIT_FAILURE;
  }
}

/** What `shoal help` prints. */
function overview(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  return `usage: shoal <command> [options]

A distributed in-memory cache for Node.js.

Commands:
${COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`).join('\n')}

  shoal <command> --help   options of one command
  shoal --version          print the version

Exit codes: 0 done, 1 runtime failure, 2 bad command line, 3 key not found.`;
}

/** The message of an error, with the code of library errors a user may search for. */
function describe(error: unknown): string {
  if (error instanceof CliUsageError) return error.message;
  if (error instanceof ShoalError && !error.code.startsWith('ERR_CLI')) {
    return `${error.message} [${error.code}]`;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Multi-line messages would break "one line per failure". */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}

function packageVersion(): string {
  const path = new URL('../../package.json', import.meta.url);
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as { version?: unknown };
  return typeof parsed.version === 'string' ? parsed.version : 'unknown';
}

/** The real process: stdout/stderr, the environment, and how this CLI was called. */
function processContext(): CommandContext {
  return {
    invocation: invocationOf(process.argv[1]),
    env: process.env,
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  };
}

/**
 * How to call this CLI again in printed commands: `shoal` when run through an
 * installed bin link, else `node <script>` relative to the working directory (a
 * checkout, where `npm start` runs `node bin/shoal.js`).
 */
function invocationOf(script: string | undefined): string {
  if (script === undefined || basename(script) === 'shoal') return 'shoal';
  const path = relative(process.cwd(), script);
  return `node ${path.startsWith('..') || path === '' ? script : path}`;
}
