import { ShoalError } from '../util/errors.js';
import type { LogFields, Logger } from '../util/logger.js';
import { silentLogger } from '../util/logger.js';

/** The cluster refused this command's secret. */
export class SecretRefusedError extends ShoalError {
  constructor() {
    super(
      'ERR_CLI_SECRET_REFUSED',
      'the node refused the secret (check --secret-file or SHOAL_SECRET)',
    );
  }
}

/**
 * A `Logger` for the connections a command opens that turns the transport's
 * "authentication failed" report into a rejected promise at once. Without it a wrong
 * secret would look like an unreachable cluster and surface only after the connect
 * timeout, with a message that hides the cause.
 */
export class AuthFailureWatch implements Logger {
  /** Rejects with {@link SecretRefusedError} on the first authentication failure. */
  readonly refused: Promise<never>;
  private readonly inner: Logger;
  private reject: ((error: Error) => void) | undefined;

  constructor(inner: Logger = silentLogger) {
    this.inner = inner;
    this.refused = new Promise<never>((_, reject) => {
      this.reject = reject;
    });
    // Nobody may be racing against it when it fires; that is not an unhandled failure.
    this.refused.catch(() => {});
  }

  debug(message: string, fields?: LogFields): void {
    this.notice(message);
    this.inner.debug(message, fields);
  }

  info(message: string, fields?: LogFields): void {
    this.inner.info(message, fields);
  }

  warn(message: string, fields?: LogFields): void {
    this.notice(message);
    this.inner.warn(message, fields);
  }

  error(message: string, fields?: LogFields): void {
    this.inner.error(message, fields);
  }

  private notice(message: string): void {
    if (!message.startsWith('authentication failed')) return;
    this.reject?.(new SecretRefusedError());
    this.reject = undefined;
  }
}

/** Resolves `work`, or rejects as soon as the watch sees the secret refused. */
export function unlessRefused<T>(work: Promise<T>, watch: AuthFailureWatch): Promise<T> {
  return Promise.race([work, watch.refused]);
}
