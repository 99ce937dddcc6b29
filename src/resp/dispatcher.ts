import { invariant } from '../util/assert.js';
import { ShoalError } from '../util/errors.js';
import { clusterRedirect } from './cluster-routing.js';
import {
  findCommand,
  findSubcommand,
  keyPositions,
  type RespCommandSpec,
} from './command-table.js';
import { argForMessage } from './commands/arguments.js';
import { CLUSTER_COMMANDS } from './commands/cluster-commands.js';
import type { CommandHandler, CommandHandlers } from './commands/command-handler.js';
import { CONNECTION_COMMANDS } from './commands/connection-commands.js';
import { KEYSPACE_COMMANDS } from './commands/keyspace-commands.js';
import { SERVER_COMMANDS } from './commands/server-commands.js';
import { STRING_COMMANDS } from './commands/string-commands.js';
import { RespCommandError } from './errors.js';
import { respKeyToString } from './key-encoding.js';
import type { ClientSession } from './session.js';

/** Every command handler by full name; the command table and this map list the same names. */
export const COMMAND_HANDLERS: CommandHandlers = {
  ...STRING_COMMANDS,
  ...KEYSPACE_COMMANDS,
  ...CONNECTION_COMMANDS,
  ...SERVER_COMMANDS,
  ...CLUSTER_COMMANDS,
};

/** Redis prints at most this many bytes of a name or of all arguments in "unknown command". */
const MAX_ECHOED_BYTES = 128;

const NOAUTH = 'NOAUTH Authentication required.';

/** Redis's "unknown command" text, byte for byte (see `argForMessage`). */
function unknownCommandText(args: readonly Buffer[]): string {
  let echoed = '';
  for (let i = 1; i < args.length && echoed.length < MAX_ECHOED_BYTES; i++) {
    echoed += `'${argForMessage(args[i]!, MAX_ECHOED_BYTES - echoed.length)}' `;
  }
  const name = argForMessage(args[0]!, MAX_ECHOED_BYTES);
  return `ERR unknown command '${name}', with args beginning with: ${echoed}`;
}

/**
 * Resolves the command (and subcommand) named by `args`, as Redis's
 * `lookupCommand` + `commandCheckExistence` + `commandCheckArity` do. Returns the
 * spec, or the error text to reply.
 */
function resolveCommand(args: readonly Buffer[]): RespCommandSpec | string {
  const base = findCommand(args[0]!);
  if (base === undefined) return unknownCommandText(args);
  let spec = base;
  if (base.subcommands !== undefined && args.length > 1) {
    const sub = findSubcommand(base, args[1]!.toString('latin1'));
    if (sub === undefined) {
      const subName = argForMessage(args[1]!, MAX_ECHOED_BYTES);
      const container = args[0]!.toString('latin1').toUpperCase();
      return `ERR unknown subcommand '${subName}'. Try ${container} HELP.`;
    }
    spec = sub;
  }
  const argc = args.length;
  if ((spec.arity > 0 && argc !== spec.arity) || argc < -spec.arity) {
    return `ERR wrong number of arguments for '${spec.name}' command`;
  }
  return spec;
}

function replyError(session: ClientSession, text: string): void {
  session.server.stats.errorReplies++;
  session.writer.error(text);
}

/**
 * Turns a command's failure into Redis's error reply: `RespCommandError` verbatim,
 * other `ShoalError`s as `ERR <message>`, anything else (a bug) as `ERR internal
 * error`, logged.
 */
export function replyFailure(session: ClientSession, error: unknown): void {
  if (error instanceof RespCommandError) {
    replyError(session, error.replyText);
  } else if (error instanceof ShoalError) {
    replyError(session, `ERR ${error.message}`);
  } else {
    session.server.logger.error('RESP command failed unexpectedly', {
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      command: session.lastCommandName,
    });
    replyError(session, 'ERR internal error');
  }
}

function runHandler(
  session: ClientSession,
  handler: CommandHandler,
  args: readonly Buffer[],
  keys: readonly string[],
): undefined | Promise<void> {
  try {
    return handler(session, args, keys) ?? undefined;
  } catch (error) {
    replyFailure(session, error);
    return undefined;
  }
}

/**
 * Runs one parsed command on `session` and writes its reply, in Redis's order of
 * checks: existence, arity, authentication, cluster redirection, then the command.
 * Returns a promise when the reply depends on the backend; the caller must wait for
 * it before the next command of the same connection (Redis runs a connection's
 * commands one after another) and pass a rejection to {@link replyFailure}. (Not
 * catching here saves a promise per command on the hot path.)
 */
export function dispatchCommand(
  session: ClientSession,
  args: readonly Buffer[],
): undefined | Promise<void> {
  const server = session.server;
  server.stats.commandsProcessed++;
  session.lastCommandAtMs = server.monotonicClock.now();
  const asking = session.asking;
  session.asking = false;

  const resolved = resolveCommand(args);
  if (typeof resolved === 'string') {
    replyError(session, resolved);
    return undefined;
  }
  const spec = resolved;
  session.lastCommandName = spec.name;
  if (!session.authenticated && !spec.flags.includes('no_auth')) {
    replyError(session, NOAUTH);
    return undefined;
  }
  const handler = COMMAND_HANDLERS[spec.name];
  invariant(handler !== undefined, `RESP command ${spec.name} has no handler`);

  const positions = keyPositions(spec, args.length);
  if (positions.length === 0) return runHandler(session, handler, args, []);
  const keyArgs = positions.map((position) => args[position]!);
  const keys = keyArgs.map(respKeyToString);
  if (server.mode !== 'cluster') return runHandler(session, handler, args, keys);

  const redirect = clusterRedirect(session.server.backend, asking, keyArgs, keys);
  if (redirect === undefined) return runHandler(session, handler, args, keys);
  if (typeof redirect === 'string') {
    replyError(session, redirect);
    return undefined;
  }
  return redirect.then((late) => {
    if (late === undefined) return runHandler(session, handler, args, keys);
    replyError(session, late);
    return undefined;
  });
}
