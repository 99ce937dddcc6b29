import { ShoalError } from '../util/errors.js';

/**
 * The command line was wrong: an unknown command or flag, a missing or malformed
 * value. The CLI prints its message on one line and exits with code 2.
 */
export class CliUsageError extends ShoalError {
  constructor(message: string) {
    super('ERR_CLI_USAGE', message);
  }
}
