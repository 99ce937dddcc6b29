import { createHash, timingSafeEqual } from 'node:crypto';
import { parseInt64 } from '../../util/int64.js';
import { notAnIntegerError, RespCommandError } from '../errors.js';
import { type ClientSession, REDIS_COMPAT_VERSION } from '../session.js';
import { argForMessage, isWord, wrongArityError } from './arguments.js';
import type { CommandHandlers } from './command-handler.js';

/** Longest argument echoed in an error (Redis prints the whole C string; this bounds it). */
const MAX_ECHOED_BYTES = 128;
const DEFAULT_USER: Buffer = Buffer.from('default');
const WRONGPASS = 'WRONGPASS invalid username-password pair or user is disabled.';
const BAD_CLIENT_NAME = 'ERR Client names cannot contain spaces, newlines or special characters.';
const INT32_MAX = 2n ** 31n - 1n;
const INT32_MIN = -(2n ** 31n);

const CLIENT_HELP = [
  'CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'GETNAME',
  '    Return the name of the current connection.',
  'ID',
  '    Return the ID of the current connection.',
  'INFO',
  '    Return information about the current client connection.',
  'SETINFO <option> <value>',
  '    Set client meta attr. Options are:',
  '    * LIB-NAME: the client lib name.',
  '    * LIB-VER: the client lib version.',
  'SETNAME <connection-name>',
  '    Assign the name <connection-name> to the current connection.',
  'HELP',
  '    Print this help.',
];

/** Writes a HELP reply: one simple string per line, as Redis's `addReplyHelp`. */
export function writeHelp(session: ClientSession, lines: readonly string[]): void {
  session.writer.arrayHeader(lines.length);
  for (const line of lines) session.writer.simple(line);
}

function sha256(bytes: Uint8Array | string): Buffer {
  return createHash('sha256').update(bytes).digest();
}

/**
 * Whether `username`/`password` log in. The only user is `default`; with no password
 * configured it accepts any password (Redis's `nopass`). Passwords are compared as
 * SHA-256 digests with `timingSafeEqual`, so the time taken reveals neither the
 * password nor its length.
 */
function credentialsValid(session: ClientSession, username: Buffer, password: Buffer): boolean {
  if (!username.equals(DEFAULT_USER)) return false;
  const accepted = session.server.passwords;
  if (accepted.length === 0) return true;
  const presented = sha256(password);
  let valid = false;
  // Every candidate is compared, so the time taken does not tell which one matched.
  for (const expected of accepted) valid = timingSafeEqual(presented, sha256(expected)) || valid;
  return valid;
}

/** Redis's `validateClientName`: printable ASCII without spaces, or empty. */
function isValidClientAttribute(value: Buffer): boolean {
  for (let i = 0; i < value.length; i++) {
    const byte = value[i]!;
    if (byte < 0x21 || byte > 0x7e) return false;
  }
  return true;
}

function clientInfoLine(session: ClientSession): string {
  const now = session.server.monotonicClock.now();
  const seconds = (ms: number): number => Math.max(0, Math.floor(ms / 1000));
  const fields = [
    `id=${session.id}`,
    `addr=${session.remoteAddress}`,
    `laddr=${session.localAddress}`,
    `name=${session.name}`,
    `age=${seconds(now - session.createdAtMs)}`,
    `idle=${seconds(now - session.lastCommandAtMs)}`,
    `flags=${session.readOnly ? 'r' : 'N'}`,
    'db=0',
    'sub=0',
    'psub=0',
    'ssub=0',
    'multi=-1',
    `omem=${session.writer.bufferedBytes}`,
    `cmd=${session.lastCommandName}`,
    'user=default',
    'redir=-1',
    `resp=${session.writer.version}`,
    `lib-name=${session.libName}`,
    `lib-ver=${session.libVersion}`,
  ];
  return `${fields.join(' ')}\n`;
}

/** PING, ECHO, HELLO, AUTH, SELECT, CLIENT and QUIT. */
export const CONNECTION_COMMANDS: CommandHandlers = {
  ping(session, args) {
    if (args.length > 2) throw wrongArityError('ping');
    if (args.length === 2) session.writer.bulk(args[1]!);
    else session.writer.simple('PONG');
  },

  echo(session, args) {
    session.writer.bulk(args[1]!);
  },

  quit(session) {
    session.closeAfterReply = true;
    session.writer.ok();
  },

  select(session, args) {
    const index = parseInt64(args[1]!);
    if (index === undefined) throw notAnIntegerError();
    if (index > INT32_MAX || index < INT32_MIN) {
      throw new RespCommandError(
        `ERR value is out of range, value must between ${INT32_MIN} and ${INT32_MAX}`,
      );
    }
    if (index !== 0n) throw new RespCommandError('ERR DB index is out of range');
    session.writer.ok();
  },

  auth(session, args) {
    if (args.length > 3) throw new RespCommandError('ERR syntax error');
    let username: Buffer = DEFAULT_USER;
    let password = args[1]!;
    if (args.length === 2) {
      if (session.server.passwords.length === 0) {
        throw new RespCommandError(
          'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
        );
      }
    } else {
      username = args[1]!;
      password = args[2]!;
    }
    if (!credentialsValid(session, username, password)) throw new RespCommandError(WRONGPASS);
    session.authenticated = true;
    session.writer.ok();
  },

  hello(session, args) {
    let version: 2 | 3 | undefined;
    let next = 1;
    if (args.length >= 2) {
      const requested = parseInt64(args[1]!);
      next = 2;
      if (requested === undefined) {
        throw new RespCommandError('ERR Protocol version is not an integer or out of range');
      }
      if (requested !== 2n && requested !== 3n) {
        throw new RespCommandError('NOPROTO unsupported protocol version');
      }
      version = requested === 2n ? 2 : 3;
    }
    let username: Buffer | undefined;
    let password: Buffer | undefined;
    let clientName: Buffer | undefined;
    for (let j = next; j < args.length; j++) {
      const option = args[j]!;
      const more = args.length - 1 - j;
      if (isWord(option, 'auth') && more >= 2) {
        username = args[j + 1]!;
        password = args[j + 2]!;
        j += 2;
      } else if (isWord(option, 'setname') && more >= 1) {
        clientName = args[j + 1]!;
        if (!isValidClientAttribute(clientName)) throw new RespCommandError(BAD_CLIENT_NAME);
        j++;
      } else {
        throw new RespCommandError(
          `ERR Syntax error in HELLO option '${argForMessage(option, MAX_ECHOED_BYTES)}'`,
        );
      }
    }
    if (username !== undefined && password !== undefined) {
      if (!credentialsValid(session, username, password)) throw new RespCommandError(WRONGPASS);
      session.authenticated = true;
    }
    if (!session.authenticated) {
      throw new RespCommandError(
        'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
      );
    }
    if (clientName !== undefined) session.name = clientName.toString('latin1');
    const writer = session.writer;
    if (version !== undefined) writer.version = version;
    writer.mapHeader(7);
    writer.bulkString('server');
    writer.bulkString('redis');
    writer.bulkString('version');
    writer.bulkString(REDIS_COMPAT_VERSION);
    writer.bulkString('proto');
    writer.integer(writer.version);
    writer.bulkString('id');
    writer.integer(session.id);
    writer.bulkString('mode');
    writer.bulkString(session.server.mode === 'cluster' ? 'cluster' : 'standalone');
    writer.bulkString('role');
    writer.bulkString('master');
    writer.bulkString('modules');
    writer.arrayHeader(0);
  },

  'client|setname'(session, args) {
    const name = args[2]!;
    if (!isValidClientAttribute(name)) throw new RespCommandError(BAD_CLIENT_NAME);
    session.name = name.toString('latin1');
    session.writer.ok();
  },

  'client|getname'(session) {
    if (session.name === '') session.writer.nullBulk();
    else session.writer.bulk(Buffer.from(session.name, 'latin1'));
  },

  'client|id'(session) {
    session.writer.integer(session.id);
  },

  'client|info'(session) {
    session.writer.verbatim(clientInfoLine(session));
  },

  'client|setinfo'(session, args) {
    const attribute = args[2]!;
    const value = args[3]!;
    const isName = isWord(attribute, 'lib-name');
    if (!isName && !isWord(attribute, 'lib-ver')) {
      throw new RespCommandError(
        `ERR Unrecognized option '${argForMessage(attribute, MAX_ECHOED_BYTES)}'`,
      );
    }
    if (!isValidClientAttribute(value)) {
      throw new RespCommandError(
        `ERR ${argForMessage(attribute, MAX_ECHOED_BYTES)} cannot contain spaces, newlines or special characters.`,
      );
    }
    if (isName) session.libName = value.toString('latin1');
    else session.libVersion = value.toString('latin1');
    session.writer.ok();
  },

  'client|help'(session) {
    writeHelp(session, CLIENT_HELP);
  },
};
