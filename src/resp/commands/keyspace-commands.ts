import type { RespExpireConditions } from '../backend.js';
import { RespCommandError } from '../errors.js';
import type { ClientSession } from '../session.js';
import { argForMessage, isWord } from './arguments.js';
import type { CommandHandler, CommandHandlers } from './command-handler.js';
import { expireCommandTtlMs, type TimeUnit } from './expire-time.js';

/** Longest option echoed in "Unsupported option" (Redis prints the whole C string). */
const MAX_ECHOED_OPTION_BYTES = 128;

/**
 * Redis's `parseExtendedExpireArgumentsOrReply`: NX | XX | GT | LT after the time,
 * validated before the time itself is parsed.
 */
function parseExpireConditions(args: readonly Buffer[]): RespExpireConditions | undefined {
  let nx = false;
  let xx = false;
  let gt = false;
  let lt = false;
  for (let j = 3; j < args.length; j++) {
    const option = args[j]!;
    if (isWord(option, 'nx')) nx = true;
    else if (isWord(option, 'xx')) xx = true;
    else if (isWord(option, 'gt')) gt = true;
    else if (isWord(option, 'lt')) lt = true;
    else {
      throw new RespCommandError(
        `ERR Unsupported option ${argForMessage(option, MAX_ECHOED_OPTION_BYTES)}`,
      );
    }
  }
  if (nx && (xx || gt || lt)) {
    throw new RespCommandError(
      'ERR NX and XX, GT or LT options at the same time are not compatible',
    );
  }
  if (gt && lt) {
    throw new RespCommandError('ERR GT and LT options at the same time are not compatible');
  }
  return nx || xx || gt || lt ? { nx, xx, gt, lt } : undefined;
}

function expireHandler(unit: TimeUnit, absolute: boolean, fullName: string): CommandHandler {
  return async (session, args, keys) => {
    const conditions = parseExpireConditions(args);
    const ttlMs = expireCommandTtlMs(
      args[2]!,
      unit,
      absolute,
      fullName,
      session.server.wallClock.now(),
    );
    const changed = await session.server.backend.expire(keys[0]!, ttlMs, conditions);
    session.writer.integer(changed ? 1 : 0);
  };
}

async function deleteKeys(session: ClientSession, keys: readonly string[]): Promise<void> {
  session.writer.integer(await session.server.backend.delete(keys));
}

/** DEL, EXISTS, the EXPIRE family, TTL, PERSIST, TYPE. */
export const KEYSPACE_COMMANDS: CommandHandlers = {
  del(session, _args, keys) {
    return deleteKeys(session, keys);
  },

  unlink(session, _args, keys) {
    return deleteKeys(session, keys);
  },

  async exists(session, _args, keys) {
    session.writer.integer(await session.server.backend.exists(keys));
  },

  expire: expireHandler('seconds', false, 'expire'),
  pexpire: expireHandler('milliseconds', false, 'pexpire'),
  expireat: expireHandler('seconds', true, 'expireat'),
  pexpireat: expireHandler('milliseconds', true, 'pexpireat'),

  async ttl(session, _args, keys) {
    const ms = await session.server.backend.pttl(keys[0]!);
    // Redis rounds the remaining time to the nearest second: (ms + 500) / 1000.
    session.writer.integer(ms < 0 ? ms : Math.floor((ms + 500) / 1000));
  },

  async pttl(session, _args, keys) {
    session.writer.integer(await session.server.backend.pttl(keys[0]!));
  },

  async persist(session, _args, keys) {
    session.writer.integer((await session.server.backend.persist(keys[0]!)) ? 1 : 0);
  },

  async type(session, _args, keys) {
    const exists = (await session.server.backend.exists(keys)) > 0;
    session.writer.simple(exists ? 'string' : 'none');
  },
};
