import type { FlagSpec, ParsedFlags } from './flags.js';

/** What a command needs from the process it runs in (injected, so it can be replaced). */
export interface CommandContext {
  /** How a user calls this CLI again (`shoal`, or `node bin/shoal.js` in a checkout). */
  readonly invocation: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Writes one line to standard output. */
  out(line: string): void;
  /** Writes one line to standard error. */
  err(line: string): void;
}

/** One `shoal` subcommand. */
export interface Command {
  readonly name: string;
  /** One line for `shoal help`. */
  readonly summary: string;
  /** The full text of `shoal <name> --help`. */
  readonly usage: string;
  readonly flags: FlagSpec;
  /**
   * Runs the command; resolves its exit code (see `exit-codes.ts`). Commands import
   * the cluster code inside `run`, after their flags are checked: it is most of the
   * CLI's start-up time, and a mistyped command line is answered without it.
   */
  run(args: ParsedFlags, context: CommandContext): Promise<number>;
}
