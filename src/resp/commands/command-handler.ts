import type { ClientSession } from '../session.js';

/**
 * Runs one command whose name, arity, authentication and routing the dispatcher
 * has already checked, and writes its reply to `session.writer`.
 *
 * `args` are the raw arguments (`args[0]` is the command name), views into the
 * connection's input: a handler copies any it keeps beyond the call. `keys` are the
 * key arguments (per the command table's key positions) already mapped to shoal key
 * strings. A handler reports Redis errors by throwing `RespCommandError`.
 */
export type CommandHandler = (
  session: ClientSession,
  args: readonly Buffer[],
  keys: readonly string[],
) => void | Promise<void>;

/** Handlers by full command name (`get`, `client|setname`). */
export type CommandHandlers = Readonly<Record<string, CommandHandler>>;
