import { ShoalError } from '../util/errors.js';

/**
 * An error whose reply text goes to the Redis client verbatim, as `-<replyText>\r\n`.
 * `replyText` starts with Redis's error prefix (`ERR`, `WRONGPASS`, `NOAUTH`, ...),
 * so clients that branch on the prefix (ioredis, redis-cli) behave as with Redis.
 *
 * A {@link RespBackend} throws this for failures Redis reports with a fixed text,
 * e.g. {@link notAnIntegerError} from `incrBy`.
 */
export class RespCommandError extends ShoalError {
  /** The error line without the leading `-` and trailing CRLF. */
  readonly replyText: string;

  constructor(replyText: string) {
    super('ERR_RESP_COMMAND', replyText);
    this.replyText = replyText;
  }
}

/**
 * The client broke the wire protocol (bad length, unbalanced quotes, a limit
 * exceeded). Like Redis, the server replies with `replyText` and then closes the
 * connection, because it can no longer tell where the next command starts.
 */
export class RespProtocolError extends ShoalError {
  /** The error line without the leading `-`, e.g. `ERR Protocol error: invalid bulk length`. */
  readonly replyText: string;

  constructor(detail: string) {
    super('ERR_RESP_PROTOCOL', `Protocol error: ${detail}`);
    this.replyText = `ERR Protocol error: ${detail}`;
  }
}

/** A {@link RespServer} option is out of range or inconsistent. */
export class InvalidRespOptionError extends ShoalError {
  constructor(name: string, value: unknown, expected: string) {
    super('ERR_RESP_INVALID_OPTION', `RESP option ${name} = ${String(value)} must be ${expected}`);
  }
}

/** Redis's reply when a stored value or an argument is not a 64-bit signed integer. */
export function notAnIntegerError(): RespCommandError {
  return new RespCommandError('ERR value is not an integer or out of range');
}

/** Redis's reply when INCRBY/DECRBY would leave the signed 64-bit range. */
export function incrementOverflowError(): RespCommandError {
  return new RespCommandError('ERR increment or decrement would overflow');
}
