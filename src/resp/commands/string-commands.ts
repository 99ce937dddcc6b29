import { INT64_MIN, parseInt64 } from '../../util/int64.js';
import type { RespTtlChange } from '../backend.js';
import { notAnIntegerError, RespCommandError } from '../errors.js';
import type { ClientSession } from '../session.js';
import { isWord, ownedCopy, syntaxError, wrongArityError } from './arguments.js';
import type { CommandHandlers } from './command-handler.js';
import { expiryOptionTtlMs, type TimeUnit } from './expire-time.js';

const NX = 1;
const XX = 2;
const GET = 4;
const KEEPTTL = 8;
const PERSIST = 16;
const EX = 32;
const PX = 64;
const EXAT = 128;
const PXAT = 256;

/** The options of SET (after key and value) or GETEX (after the key). */
interface ExtendedOptions {
  readonly flags: number;
  readonly expire: Buffer | undefined;
  readonly unit: TimeUnit;
}

/**
 * Redis's `parseExtendedStringArgumentsOrReply`, rule for rule: an option is accepted
 * only when it does not conflict with one seen before (so `EX 1 EX 2` is fine, the
 * last wins, but `EX 1 PX 2` is a syntax error), and anything else is a syntax error.
 */
function parseExtendedOptions(args: readonly Buffer[], forSet: boolean): ExtendedOptions {
  let flags = 0;
  let expire: Buffer | undefined;
  let unit: TimeUnit = 'seconds';
  for (let j = forSet ? 3 : 2; j < args.length; j++) {
    const option = args[j]!;
    const next = j === args.length - 1 ? undefined : args[j + 1];
    if (forSet && isWord(option, 'nx') && !(flags & XX)) {
      flags |= NX;
    } else if (forSet && isWord(option, 'xx') && !(flags & NX)) {
      flags |= XX;
    } else if (forSet && isWord(option, 'get')) {
      flags |= GET;
    } else if (
      forSet &&
      isWord(option, 'keepttl') &&
      !(flags & (PERSIST | EX | EXAT | PX | PXAT))
    ) {
      flags |= KEEPTTL;
    } else if (
      !forSet &&
      isWord(option, 'persist') &&
      !(flags & (EX | EXAT | PX | PXAT | KEEPTTL))
    ) {
      flags |= PERSIST;
    } else if (
      next !== undefined &&
      isWord(option, 'ex') &&
      !(flags & (KEEPTTL | PERSIST | EXAT | PX | PXAT))
    ) {
      flags |= EX;
      expire = next;
      j++;
    } else if (
      next !== undefined &&
      isWord(option, 'px') &&
      !(flags & (KEEPTTL | PERSIST | EX | EXAT | PXAT))
    ) {
      flags |= PX;
      unit = 'milliseconds';
      expire = next;
      j++;
    } else if (
      next !== undefined &&
      isWord(option, 'exat') &&
      !(flags & (KEEPTTL | PERSIST | EX | PX | PXAT))
    ) {
      flags |= EXAT;
      expire = next;
      j++;
    } else if (
      next !== undefined &&
      isWord(option, 'pxat') &&
      !(flags & (KEEPTTL | PERSIST | EX | EXAT | PX))
    ) {
      flags |= PXAT;
      unit = 'milliseconds';
      expire = next;
      j++;
    } else {
      throw syntaxError();
    }
  }
  return { flags, expire, unit };
}

/** Counts a value read for INFO's keyspace_hits / keyspace_misses. */
function countRead(session: ClientSession, value: Buffer | undefined): void {
  if (value === undefined) session.server.stats.keyspaceMisses++;
  else session.server.stats.keyspaceHits++;
}

/** Shared by SET, SETEX, PSETEX and SETNX: Redis's `setGenericCommand`. */
function setGeneric(
  session: ClientSession,
  key: string,
  value: Buffer,
  options: ExtendedOptions,
  fullName: string,
): Promise<{ applied: boolean; old?: Buffer | undefined }> {
  const { flags, expire, unit } = options;
  const ttlMs =
    expire === undefined
      ? undefined
      : expiryOptionTtlMs(
          expire,
          unit,
          (flags & (EXAT | PXAT)) !== 0,
          fullName,
          session.server.wallClock.now(),
        );
  const condition = flags & NX ? 'nx' : flags & XX ? 'xx' : undefined;
  return session.server.backend.set(key, ownedCopy(value), {
    ttlMs,
    keepTtl: (flags & KEEPTTL) !== 0,
    condition,
    returnOld: (flags & GET) !== 0,
  });
}

async function incrementBy(session: ClientSession, key: string, delta: bigint): Promise<void> {
  session.writer.integer(await session.server.backend.incrBy(key, delta));
}

function deltaArgument(arg: Buffer): bigint {
  const delta = parseInt64(arg);
  if (delta === undefined) throw notAnIntegerError();
  return delta;
}

/** GET, SET and the rest of Redis's string commands that shoal serves. */
export const STRING_COMMANDS: CommandHandlers = {
  async get(session, _args, keys) {
    const value = await session.server.backend.get(keys[0]!);
    countRead(session, value);
    session.writer.bulk(value);
  },

  async set(session, args, keys) {
    const options = parseExtendedOptions(args, true);
    const result = await setGeneric(session, keys[0]!, args[2]!, options, 'set');
    if (options.flags & GET) {
      countRead(session, result.old);
      session.writer.bulk(result.old);
    } else if (result.applied) {
      session.writer.ok();
    } else {
      session.writer.nullBulk();
    }
  },

  async setex(session, args, keys) {
    const options = { flags: EX, expire: args[2]!, unit: 'seconds' as const };
    await setGeneric(session, keys[0]!, args[3]!, options, 'setex');
    session.writer.ok();
  },

  async psetex(session, args, keys) {
    const options = { flags: PX, expire: args[2]!, unit: 'milliseconds' as const };
    await setGeneric(session, keys[0]!, args[3]!, options, 'psetex');
    session.writer.ok();
  },

  async setnx(session, args, keys) {
    const options = { flags: NX, expire: undefined, unit: 'seconds' as const };
    const result = await setGeneric(session, keys[0]!, args[2]!, options, 'setnx');
    session.writer.integer(result.applied ? 1 : 0);
  },

  async getset(session, args, keys) {
    const result = await session.server.backend.set(keys[0]!, ownedCopy(args[2]!), {
      returnOld: true,
    });
    countRead(session, result.old);
    session.writer.bulk(result.old);
  },

  async getdel(session, _args, keys) {
    const value = await session.server.backend.getDel(keys[0]!);
    countRead(session, value);
    session.writer.bulk(value);
  },

  async getex(session, args, keys) {
    const { flags, expire, unit } = parseExtendedOptions(args, false);
    const backend = session.server.backend;
    const key = keys[0]!;
    let change: RespTtlChange | undefined;
    if (expire !== undefined) {
      try {
        const absolute = (flags & (EXAT | PXAT)) !== 0;
        const ttlMs = expiryOptionTtlMs(
          expire,
          unit,
          absolute,
          'getex',
          session.server.wallClock.now(),
        );
        change = { ttlMs };
      } catch (error) {
        // Redis looks the key up before it validates the time: a missing key is null.
        const value = await backend.get(key);
        countRead(session, value);
        if (value === undefined) {
          session.writer.nullBulk();
          return;
        }
        throw error;
      }
    } else if (flags & PERSIST) {
      change = 'persist';
    }
    const value = change === undefined ? await backend.get(key) : await backend.getEx(key, change);
    countRead(session, value);
    session.writer.bulk(value);
  },

  incr(session, _args, keys) {
    return incrementBy(session, keys[0]!, 1n);
  },

  decr(session, _args, keys) {
    return incrementBy(session, keys[0]!, -1n);
  },

  incrby(session, args, keys) {
    return incrementBy(session, keys[0]!, deltaArgument(args[2]!));
  },

  decrby(session, args, keys) {
    const delta = deltaArgument(args[2]!);
    if (delta === INT64_MIN) throw new RespCommandError('ERR decrement would overflow');
    return incrementBy(session, keys[0]!, -delta);
  },

  async append(session, args, keys) {
    const length = await session.server.backend.append(keys[0]!, ownedCopy(args[2]!));
    session.writer.integer(length);
  },

  async strlen(session, _args, keys) {
    session.writer.integer(await session.server.backend.strlen(keys[0]!));
  },

  async mget(session, _args, keys) {
    const values = await session.server.backend.mget(keys);
    const writer = session.writer;
    writer.arrayHeader(values.length);
    for (const value of values) {
      countRead(session, value);
      writer.bulk(value);
    }
  },

  async mset(session, args, keys) {
    if (args.length % 2 === 0) throw wrongArityError('mset');
    const entries: [string, Buffer][] = [];
    for (let i = 0; i < keys.length; i++) entries.push([keys[i]!, ownedCopy(args[2 + i * 2]!)]);
    await session.server.backend.mset(entries);
    session.writer.ok();
  },
};
